"""Round trips through the main window: keys and buttons step, edits go through the undo
stack bit for bit, bad values are refused with a message, errors leave the session alive."""
import sys

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QMessageBox

from ui.app import ErrorReporter
from ui.views.settings_dialog import SettingsDialog

PATTERN = "blocks.0.attn.hook_pattern"


@pytest.fixture
def window(make_window):
    return make_window(active=True)


def status(w) -> str:
    return w.step_label.text()


def test_keys_step_and_update_the_status_bar(window, qtbot):
    stepper = window.session_bridge.stepper
    n = len(stepper)
    assert status(window) == f"step 1 of {n} — hook_embed"
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert stepper.index == 1
    assert status(window) == f"step 2 of {n} — {stepper.names[1]}"
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert stepper.index == 3
    qtbot.keyClick(window, Qt.Key.Key_Left)
    qtbot.keyClick(window, Qt.Key.Key_PageUp)
    assert stepper.index == 1
    qtbot.keyClick(window, Qt.Key.Key_End)
    assert stepper.index == n - 1 and status(window) == f"step {n} of {n} — probs"
    qtbot.keyClick(window, Qt.Key.Key_Home)
    assert stepper.index == 0


def test_transport_buttons_step(window, qtbot):
    t, stepper = window.transport, window.session_bridge.stepper
    qtbot.mouseClick(t.widgetForAction(t.act_next), Qt.MouseButton.LeftButton)
    qtbot.mouseClick(t.widgetForAction(t.act_next), Qt.MouseButton.LeftButton)
    assert stepper.index == 2 and status(window).startswith("step 3 of")
    qtbot.mouseClick(t.widgetForAction(t.act_back), Qt.MouseButton.LeftButton)
    assert stepper.index == 1
    qtbot.mouseClick(t.widgetForAction(t.act_last), Qt.MouseButton.LeftButton)
    assert stepper.index == len(stepper) - 1


def test_digit_keys_pick_the_head(window, qtbot):
    # one numbering everywhere: key 1 shows "head 1", as the titles and lessons number heads
    bridge = window.session_bridge
    qtbot.keyClick(window, Qt.Key.Key_1)
    assert bridge.head == 1
    assert window.transport.head_combo.currentIndex() == 1
    qtbot.keyClick(window, Qt.Key.Key_0)
    assert bridge.head == 0
    qtbot.keyClick(window, Qt.Key.Key_5)  # the classroom model has 2 heads: nothing to pick
    assert bridge.head == 0


def test_space_types_into_the_sentence_field_instead_of_stepping(window, qtbot):
    edit = window.token_strip.sides[0].edit
    qtbot.mouseClick(edit, Qt.MouseButton.LeftButton)
    edit.clear()
    qtbot.keyClicks(edit, "a dog")
    assert edit.text() == "a dog"
    assert window.session_bridge.stepper.index == 0


def test_edit_w_q_cell_then_undo_and_redo_bit_for_bit(window, qtbot):
    session = window.session_bridge.session
    before_param = session.model.params["blocks.0.attn.W_Q"].copy()
    before = session.trace[PATTERN].copy()
    assert window.apply_edit("blocks.0.attn.W_Q", 3.25, (0, 1, 2)) is None
    after = session.trace[PATTERN].copy()
    assert session.model.params["blocks.0.attn.W_Q"][0, 1, 2] == 3.25
    assert not np.array_equal(after, before)
    assert window.windowTitle().startswith("untitled*")
    window.undo_stack.undo()
    assert session.model.params["blocks.0.attn.W_Q"].tobytes() == before_param.tobytes()
    assert session.trace[PATTERN].tobytes() == before.tobytes()
    assert not window.windowTitle().startswith("untitled*")
    window.undo_stack.redo()
    assert session.trace[PATTERN].tobytes() == after.tobytes()


def test_the_step_view_shows_the_edited_pattern(window):
    bridge = window.session_bridge
    bridge.stepper.jump(PATTERN)
    window.apply_edit("blocks.0.attn.W_Q", -2.5, (0, 3, 1))
    shown = window.step_view.current_heatmap().values()
    assert np.allclose(shown, bridge.trace[PATTERN][bridge.head])
    window.undo_stack.undo()
    assert np.allclose(window.step_view.current_heatmap().values(), bridge.trace[PATTERN][bridge.head])


def test_parameter_editor_requests_become_undoable_edits(window):
    session = window.session_bridge.session
    window.param_editor.sigEditRequested.emit("blocks.0.attn.W_Q", 4.0, (0, 0, 0))
    assert session.model.params["blocks.0.attn.W_Q"][0, 0, 0] == 4.0
    before = {k: v.copy() for k, v in session.model.params.items()}
    window.param_editor.sigRandomizeRequested.emit(5)
    assert not np.array_equal(session.model.params["embed.W_E"], before["embed.W_E"])
    window.param_editor.sigResetRequested.emit()  # back to the weights the model was created with
    assert session.model.params["blocks.0.attn.W_Q"][0, 0, 0] != 4.0
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert all(session.model.params[k].tobytes() == v.tobytes() for k, v in before.items())


def test_settings_dialog_ok_builds_a_new_model_and_undo_restores_it(window, monkeypatch):
    def accept_with_four_heads(dialog):
        dialog.editors["n_heads"].setValue(4)
        return QDialog.DialogCode.Accepted

    bridge = window.session_bridge
    old_model, old_tokens = bridge.model, bridge.session.tokens
    bridge.set_head(1)
    monkeypatch.setattr(SettingsDialog, "exec", accept_with_four_heads)
    assert window.open_settings()
    assert bridge.model.config.n_heads == 4 and bridge.session.tokens == old_tokens
    assert window.transport.head_combo.count() == 4
    window.undo_stack.undo()
    assert bridge.model is old_model and window.transport.head_combo.count() == 2


def test_undo_and_redo_keys_and_edit_menu(window, qtbot):
    session = window.session_bridge.session
    old = session.model.params["blocks.0.attn.W_Q"][0, 0, 0]
    window.apply_edit("blocks.0.attn.W_Q", old + 1.0, (0, 0, 0))
    edit_menu = [m for m in window._menus if m.title() == "&Edit"][0]
    assert window.act_undo in edit_menu.actions() and window.act_redo in edit_menu.actions()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert session.model.params["blocks.0.attn.W_Q"][0, 0, 0] == old
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert session.model.params["blocks.0.attn.W_Q"][0, 0, 0] == old + 1.0


def test_nudges_of_one_cell_merge_into_one_undo_step(window):
    session = window.session_bridge.session
    old = session.model.params["blocks.0.attn.W_Q"][1, 2, 3]
    for k in range(1, 4):
        window.apply_edit("blocks.0.attn.W_Q", old + 0.1 * k, (1, 2, 3))
    assert window.undo_stack.count() == 1
    window.undo_stack.undo()
    assert session.model.params["blocks.0.attn.W_Q"][1, 2, 3] == old


@pytest.mark.parametrize("value, index, words", [
    ("abc", (0, 0, 0), "needs a number"),
    (float("nan"), (0, 0, 0), "finite"),
    (1.0, (5, 0, 0), "outside"),
])
def test_bad_values_are_refused_with_a_message(window, value, index, words):
    session = window.session_bridge.session
    trace = session.trace
    error = window.apply_edit("blocks.0.attn.W_Q", value, index)
    assert words in error and words in window.statusBar().currentMessage()
    assert session.trace is trace and window.undo_stack.count() == 0


def test_an_edit_whose_forward_pass_fails_is_refused_and_changes_nothing(window, monkeypatch):
    session = window.session_bridge.session
    model, trace = session.model, session.trace
    before = model.params["blocks.0.attn.W_Q"].copy()

    def overflowing(*args, **kwargs):
        raise ValueError("blocks.0.attn.hook_q overflowed: the values are too large for float64.")

    monkeypatch.setattr(model, "rerun", overflowing)
    error = window.apply_edit("blocks.0.attn.W_Q", 7.5, (0, 0, 0))
    assert "overflowed" in error and "overflowed" in window.statusBar().currentMessage()
    assert model.params["blocks.0.attn.W_Q"].tobytes() == before.tobytes()
    assert session.trace is trace and window.undo_stack.count() == 0


def test_an_edit_runs_the_forward_pass_once_and_undo_redo_once_each(window, monkeypatch):
    model = window.session_bridge.model
    runs = []
    real = model.rerun
    monkeypatch.setattr(model, "rerun", lambda *a, **k: runs.append(1) or real(*a, **k))
    window.apply_edit("blocks.0.attn.W_Q", 1.5, (0, 0, 0))
    assert len(runs) == 1
    window.undo_stack.undo()
    window.undo_stack.redo()
    assert len(runs) == 3 and model.params["blocks.0.attn.W_Q"][0, 0, 0] == 1.5


def test_trained_weights_are_one_undo_step_computed_once(window, monkeypatch):
    session = window.session_bridge.session
    model = session.model
    before = dict(model.params)
    new = {"embed.W_E": before["embed.W_E"] + 1.0, "unembed.W_U": before["unembed.W_U"] * 2}
    runs = []
    real = model.rerun
    monkeypatch.setattr(model, "rerun", lambda *a, **k: runs.append(1) or real(*a, **k))
    assert window.edits.set_params(dict(before, **new), "Train") is None
    assert len(runs) == 1 and window.undo_stack.count() == 1
    assert np.array_equal(model.params["embed.W_E"], new["embed.W_E"])
    window.undo_stack.undo()
    assert all(model.params[k].tobytes() == v.tobytes() for k, v in before.items())
    window.undo_stack.redo()
    assert np.array_equal(model.params["unembed.W_U"], new["unembed.W_U"])
    assert "needs numbers" in window.edits.set_params({"embed.W_E": "x"}, "Bad")
    assert window.undo_stack.count() == 1


def test_the_training_panel_draws_its_patterns_only_while_its_tab_is_shown(window):
    panel, tabs = window.training_panel, window.tabs
    training = next(i for i in range(tabs.count()) if tabs.tabText(i) == "Training")
    trace = lambda: window.session_bridge.trace  # noqa: E731
    window.apply_edit("blocks.0.attn.W_Q", 2.0, (0, 0, 0))
    assert panel.heatmaps == []  # never shown: nothing drawn yet
    tabs.setCurrentIndex(training)
    np.testing.assert_array_equal(panel.heatmaps[1][1].values(), trace()["blocks.1.attn.hook_pattern"][1])
    tabs.setCurrentIndex(0)
    shown = panel.heatmaps[0][0].values()
    window.apply_edit("blocks.0.attn.W_Q", -3.0, (0, 0, 0))
    assert np.array_equal(panel.heatmaps[0][0].values(), shown)  # hidden: left as it was
    tabs.setCurrentIndex(training)
    np.testing.assert_array_equal(panel.heatmaps[0][0].values(), trace()["blocks.0.attn.hook_pattern"][0])
    assert not np.array_equal(panel.heatmaps[0][0].values(), shown)


def test_highlight_action_drives_the_bridge(window, qtbot):
    bridge = window.session_bridge
    assert window.act_highlight.isChecked() == bridge.highlight
    qtbot.keyClick(window, Qt.Key.Key_H)
    assert bridge.highlight is False
    bridge.set_highlight(True)
    assert window.act_highlight.isChecked()


def test_add_view_adds_a_tab(window):
    label = QLabel("residual stream")
    index = window.add_view("Residual", label)
    window.tabs.setCurrentIndex(index)
    assert window.tabs.tabText(index) == "Residual" and window.current_view() is label


def test_a_view_given_as_a_function_is_made_when_its_tab_is_first_shown(window):
    made = []
    index = window.add_view("Later", lambda: made.append(QLabel("later")) or made[-1])
    assert made == []
    window.tabs.setCurrentIndex(index)
    assert len(made) == 1 and window.current_view() is made[0]
    window.tabs.setCurrentIndex(0)
    window.tabs.setCurrentIndex(index)
    assert len(made) == 1


def test_menus_and_tooltips_name_the_shortcuts(window):
    rows = dict((what, keys) for keys, what in window.shortcut_rows())
    assert rows["Step"] == "Space, Right, PgDown"
    assert rows["Full screen"] == "F11" and rows["Undo"] == "Ctrl+Z"
    assert "Space" in window.transport.act_next.toolTip()


def test_an_exception_in_a_slot_leaves_the_window_working(window, qtbot):
    def broken():
        raise RuntimeError("boom")

    window.transport.act_next.triggered.connect(broken)
    with qtbot.capture_exceptions() as exceptions:
        qtbot.keyClick(window, Qt.Key.Key_Space)
    assert exceptions and "boom" in str(exceptions[0][1])
    window.transport.act_next.triggered.disconnect(broken)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.session_bridge.stepper.index == 2  # both presses stepped


def test_error_reporter_shows_a_dialog_and_keeps_the_session(window, qtbot, capsys):
    reporter = ErrorReporter(window)
    previous = sys.excepthook
    reporter.install()
    try:
        try:
            raise ValueError("something odd")
        except ValueError:
            sys.excepthook(*sys.exc_info())
    finally:
        reporter.uninstall()
    assert sys.excepthook is previous
    box = reporter.dialog
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert "something odd" in box.informativeText()
    assert "ValueError" in capsys.readouterr().err
    box.close()
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.session_bridge.stepper.index == 1


def test_the_side_dock_tab_titles_are_not_cut_at_1280x800(window):
    from PySide6.QtWidgets import QTabBar

    bars = [b for b in window.findChildren(QTabBar)
            if [b.tabText(i) for i in range(b.count())] == ["Architecture", "Parameters"]]
    assert bars
    bar = bars[0]
    for i in range(bar.count()):
        assert bar.tabRect(i).width() >= bar.fontMetrics().horizontalAdvance(bar.tabText(i)) + 8
    assert bar.tabRect(bar.count() - 1).right() <= window.map_dock.width()
    # however the window squeezes the dock (a window manager did, at 1280 pixels wide)
    needed = sum(bar.fontMetrics().horizontalAdvance(bar.tabText(i)) + 16 for i in range(bar.count()))
    assert window.map_dock.minimumWidth() >= needed


def test_the_hidden_parameter_editor_catches_up_when_its_tab_is_shown(window, monkeypatch):
    editor = window.param_editor
    window.param_dock.raise_()
    QApplication.processEvents()
    editor.select_param("blocks.0.attn.W_Q")
    window.map_dock.raise_()  # the editor's tab is behind the map now
    QApplication.processEvents()
    assert editor.visibleRegion().isEmpty()
    drawn = []
    # not monkeypatch.undo(): that would also undo the fixture's answer to the close prompt
    editor.heatmap.set_data = lambda *a, **k: drawn.append(a)
    try:
        window.apply_edit("blocks.0.attn.W_Q", 3.0, (0, 0, 0))
        window.apply_edit("blocks.0.attn.W_Q", 4.0, (0, 0, 1))
    finally:
        del editor.heatmap.set_data
    assert drawn == []  # no heatmap redrawn for a tab nobody sees
    window.param_dock.raise_()
    QApplication.processEvents()
    assert editor.current_param() == "blocks.0.attn.W_Q"
    np.testing.assert_array_equal(editor.heatmap.values()[0, :2], [3.0, 4.0])
