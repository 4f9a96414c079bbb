"""ParamEditor round trips: the tree, the shown slice, typed values (refused or requested),
wheel nudges, randomise/reset requests, and refreshing after the model changed."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from simulator import ModelConfig, Session, Transformer
from ui.views.param_editor import ParamEditor, parse_value, tree_path


@pytest.fixture
def setup(session_view):
    session, bridge, editor = session_view(ParamEditor, size=(1100, 700))
    editor.select_param("blocks.0.attn.W_Q")
    QApplication.processEvents()
    return session, bridge, editor


def cell_pos(hm, row, col) -> QPoint:
    return hm.mapFromScene(hm.image_item.mapToScene(QPointF(col + 0.5, row + 0.5)))


def test_tree_groups_by_layer_and_component():
    assert tree_path("blocks.0.attn.W_Q") == ["layer 0", "attn", "W_Q"]
    assert tree_path("decoder.blocks.1.cross_attn.b_K") == ["decoder", "layer 1", "cross_attn", "b_K"]
    assert tree_path("embed.W_E") == ["embed", "W_E"]


def test_shows_the_selected_heads_slice_and_follows_the_head(setup):
    session, bridge, editor = setup
    w = session.model.params["blocks.0.attn.W_Q"]
    np.testing.assert_array_equal(editor.heatmap.values(), w[0])
    bridge.set_head(1)
    np.testing.assert_array_equal(editor.heatmap.values(), w[1])
    assert editor.head.value() == 1
    editor.head.setValue(0)  # the spin box drives the app's head
    assert bridge.head == 0
    editor.select_param("blocks.0.ln1.w")
    assert editor.current_param() == "blocks.0.ln1.w"
    np.testing.assert_array_equal(editor.heatmap.values(), session.model.params["blocks.0.ln1.w"][None, :])
    assert not editor.head.isVisible()


def test_clicking_a_tree_leaf_selects_that_parameter(setup, qtbot):
    session, bridge, editor = setup
    editor.tree.setCurrentItem(editor._items["embed.W_E"])
    assert editor.current_param() == "embed.W_E"
    np.testing.assert_array_equal(editor.heatmap.values(), session.model.params["embed.W_E"])


@pytest.mark.parametrize("text", ["abc", "nan", "inf", "", "1e9"])
def test_bad_typed_values_are_refused_with_a_message_and_emit_nothing(setup, qtbot, text):
    session, bridge, editor = setup
    before = session.model.params["blocks.0.attn.W_Q"].copy()
    hm = editor.heatmap
    qtbot.mouseDClick(hm.viewport(), Qt.MouseButton.LeftButton, pos=cell_pos(hm, 2, 3))
    line = editor.edit_line()
    assert line.isVisible()
    with qtbot.assertNotEmitted(editor.sigEditRequested):
        line.setText(text)
        qtbot.keyClick(line, Qt.Key.Key_Return)
    assert editor.error_text()
    assert line.isVisible()  # still open, to correct the value
    np.testing.assert_array_equal(session.model.params["blocks.0.attn.W_Q"], before)


def test_a_typed_number_is_requested_with_its_full_index(setup, qtbot):
    session, bridge, editor = setup
    bridge.set_head(1)
    hm = editor.heatmap
    qtbot.mouseDClick(hm.viewport(), Qt.MouseButton.LeftButton, pos=cell_pos(hm, 2, 3))
    line = editor.edit_line()
    line.setText("0.5")
    with qtbot.waitSignal(editor.sigEditRequested) as sig:
        qtbot.keyClick(line, Qt.Key.Key_Return)
    assert sig.args == ["blocks.0.attn.W_Q", 0.5, (1, 2, 3)]
    assert not line.isVisible() and editor.error_text() == ""


def test_the_wheel_requests_a_nudge(setup, qtbot):
    session, bridge, editor = setup
    hm = editor.heatmap
    old = session.model.params["blocks.0.attn.W_Q"][0, 4, 1]
    pos = QPointF(cell_pos(hm, 4, 1))
    ev = QWheelEvent(pos, hm.mapToGlobal(pos), QPoint(), QPoint(0, 120), Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    with qtbot.waitSignal(editor.sigEditRequested) as sig:
        QApplication.sendEvent(hm.viewport(), ev)
    name, value, index = sig.args
    assert (name, index) == ("blocks.0.attn.W_Q", (0, 4, 1))
    assert value == pytest.approx(old + 0.05)


def test_randomise_and_reset_are_requests(setup, qtbot):
    session, bridge, editor = setup
    editor.seed.setValue(7)
    with qtbot.waitSignal(editor.sigRandomizeRequested) as sig:
        qtbot.mouseClick(editor.randomize, Qt.MouseButton.LeftButton)
    assert sig.args == [7]
    with qtbot.waitSignal(editor.sigResetRequested):
        qtbot.mouseClick(editor.reset, Qt.MouseButton.LeftButton)


def test_refreshes_after_an_edit_and_after_a_new_model(setup):
    session, bridge, editor = setup
    session.set_param("blocks.0.attn.W_Q", 0.75, (0, 0, 0))
    assert editor.heatmap.values()[0, 0] == 0.75
    bridge.set_session(Session(Transformer(ModelConfig(arch="encoder-decoder")), ("the cat", "a dog")))
    assert editor.current_param() in bridge.model.params
    assert "decoder.blocks.0.cross_attn.W_Q" in editor._items
    editor.select_param("decoder.blocks.0.cross_attn.W_Q")
    np.testing.assert_array_equal(editor.heatmap.values(),
                                  bridge.model.params["decoder.blocks.0.cross_attn.W_Q"][bridge.head])


def test_parse_value():
    assert parse_value(" \u22121.5 ") == -1.5
    with pytest.raises(ValueError, match="not a number"):
        parse_value("1,5x")


def test_narrow_panel_puts_the_tree_above(setup, qtbot):
    session, bridge, editor = setup
    editor.select_param("blocks.0.mlp.W_in")  # 16 x 64: too many column labels for a side panel
    editor.resize(380, 700)
    QApplication.processEvents()
    assert editor._split.orientation() == Qt.Orientation.Vertical
    # every value is still shown (only the axis labels get sparse)
    np.testing.assert_array_equal(editor.heatmap.values(), session.model.params["blocks.0.mlp.W_in"])
    editor.resize(1300, 700)
    QApplication.processEvents()
    assert editor._split.orientation() == Qt.Orientation.Horizontal
