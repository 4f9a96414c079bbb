"""Round trips for the depth views: residual stream, depth map, compare."""
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QApplication

from simulator import ModelConfig, Session, Transformer
from ui.bridge import SessionBridge
from ui.commands import SetParam
from ui.pictures.heatmap import Heatmap
from ui.views.compare_view import CompareView
from ui.views.depth_map_view import DepthMapView
from ui.views.residual_view import ResidualStreamView

TEXT = "the cat sat on the mat"


def _bridge(**cfg) -> SessionBridge:
    return SessionBridge(Session(Transformer(ModelConfig(**cfg), seed=2), TEXT))


def _shown(qtbot, view):
    """Views repaint on signals only while visible, as tabs in the main window are."""
    qtbot.addWidget(view)
    view.show()
    return view


def _edit(bridge: SessionBridge, stack: QUndoStack, name: str, new) -> None:
    stack.push(SetParam(bridge.session, name, None, bridge.model.params[name], new))


@pytest.fixture
def attnres(qtbot):
    bridge = _bridge(residual="attnres")
    return bridge, QUndoStack()


def test_residual_view_columns_follow_token_and_edits(qtbot, attnres):
    bridge, stack = attnres
    view = _shown(qtbot, ResidualStreamView(bridge))
    labels = [p[0] for p in view.points()]
    assert labels == ["pre 0", "→mlp 0", "→attn 1", "→mlp 1", "→out"]
    assert view.token.count() == 6
    view.token.setCurrentIndex(2)  # "sat"
    shown = view.heatmap.values()  # [d_model, point]
    trace = bridge.trace
    np.testing.assert_array_equal(shown[:, 3], trace["blocks.1.depth_mlp.hook_mixed"][2])
    np.testing.assert_allclose(view.norms()[-1], np.linalg.norm(trace["depth_final.hook_mixed"][2]))
    before_norms = view.norms()

    _edit(bridge, stack, "blocks.1.depth_attn.w", np.full(16, 1.5))
    after = view.heatmap.values()
    assert np.array_equal(after[:, :2], shown[:, :2])  # upstream of the edit: unchanged
    assert not np.array_equal(after[:, 2], shown[:, 2])  # the mix the edited query makes
    changed_cols = {c for _, c in view.heatmap.changed_cells()}
    assert 2 in changed_cols and 0 not in changed_cols
    assert not np.allclose(view.norms(), before_norms)
    stack.undo()
    np.testing.assert_array_equal(view.heatmap.values(), shown)
    np.testing.assert_array_equal(view.norms(), before_norms)


def test_residual_view_shares_show_standard_dilution(qtbot):
    bridge = _bridge(n_layers=4)
    view = _shown(qtbot, ResidualStreamView(bridge))
    shares = dict(view.shares())
    assert list(shares)[:3] == ["embed", "attn 0", "mlp 0"] and len(shares) == 9
    assert shares["embed"] == pytest.approx(1.0)
    # the stream grows, so late outputs hold less of it than early ones
    assert np.mean([shares["attn 3"], shares["mlp 3"]]) < np.mean([shares["attn 0"], shares["mlp 0"]])
    bars = view._bars.opts["height"]
    np.testing.assert_allclose(bars, list(shares.values()))


def test_depth_map_follows_pseudo_query_edit_and_undo(qtbot, attnres):
    bridge, stack = attnres
    view = _shown(qtbot, DepthMapView(bridge))
    before = view.depth_heatmap.values()
    assert view.map.rows == ["attn 0", "mlp 0", "attn 1", "mlp 1", "out"]
    np.testing.assert_allclose(before[3, :4], 0.25)  # zero queries: uniform over the 4 sources
    np.testing.assert_allclose(before.sum(axis=1), 1.0)

    with qtbot.waitSignal(bridge.sigTraceChanged):
        _edit(bridge, stack, "blocks.1.depth_mlp.w", np.linspace(-3, 3, 16))
    after = view.depth_heatmap.values()
    assert not np.allclose(after[3, :4], 0.25)
    np.testing.assert_allclose(after.sum(axis=1), 1.0)
    np.testing.assert_array_equal(after[:3], before[:3])  # earlier sublayers read as before
    assert {r for r, _ in view.depth_heatmap.changed_cells()} == {3}
    assert not np.array_equal(bridge.trace["logits"], Session(
        Transformer(bridge.model.config, seed=2), TEXT).trace["logits"])  # downstream steps changed
    stack.undo()
    np.testing.assert_array_equal(view.depth_heatmap.values(), before)


def test_depth_map_beside_current_layers_pattern(qtbot, attnres):
    bridge, _ = attnres
    view = _shown(qtbot, DepthMapView(bridge))
    bridge.stepper.jump("blocks.1.attn.hook_pattern")
    assert view.layer() == 1
    pattern = bridge.trace["blocks.1.attn.hook_pattern"]  # [head, q_pos, k_pos]
    np.testing.assert_array_equal(view.pattern_heatmap.values(), pattern[0])
    bridge.set_head(1)
    np.testing.assert_array_equal(view.pattern_heatmap.values(), pattern[1])
    view.token.setCurrentIndex(4)
    w = bridge.trace["blocks.1.depth_attn.hook_weights"][:, 4]
    np.testing.assert_array_equal(view.depth_heatmap.values()[2, :3], w)


def test_depth_map_standard_none_and_denseformer(qtbot):
    view = _shown(qtbot, DepthMapView(_bridge()))
    np.testing.assert_array_equal(view.depth_heatmap.values(), np.tril(np.ones((5, 5))))
    none = _shown(qtbot, DepthMapView(_bridge(residual="none")))
    np.testing.assert_array_equal(none.depth_heatmap.values(), np.eye(5))
    bridge = _bridge(residual="denseformer")
    dense = _shown(qtbot, DepthMapView(bridge))
    bridge.session.set_param("blocks.1.dwa.alpha", [-0.5, 1.0, 1.0])
    np.testing.assert_array_equal(dense.depth_heatmap.values(), [[0.0, 1.0, 0.0], [-0.5, 1.0, 1.0]])
    assert dense.map.rows == ["after block 0", "after block 1"]


def test_compare_view_modes_and_difference(qtbot):
    bridge = _bridge(norm_eps=0.0)
    view = _shown(qtbot, CompareView(bridge))
    assert (view.mode_a.currentText(), view.mode_b.currentText()) == ("standard", "attnres")
    assert view.models[0] is bridge.model and view.models[1].config.residual == "attnres"
    assert np.abs(view.diff.values()).max() < 1e-12  # zero pseudo-queries, ε = 0: the same model
    view.mode_b.setCurrentText("none")
    delta = view.diff.values()
    np.testing.assert_allclose(delta, (view.logits[1] - view.logits[0]).T)
    assert np.abs(delta).max() > 0.1
    assert f"{np.abs(delta).max():.3g}" in view.summary.text()
    # an edit of a shared weight reaches both sides
    before = view.probs_b.values()
    bridge.session.set_param("blocks.0.mlp.b_out", np.ones(16))
    assert not np.array_equal(view.probs_b.values(), before)
    np.testing.assert_array_equal(view.probs_a.values(), bridge.trace["probs"].T)


def test_compare_view_refuses_depth_modes_for_encoder_decoder(qtbot):
    bridge = SessionBridge(Session(Transformer(ModelConfig(arch="encoder-decoder")), ("the cat", "a dog")))
    view = _shown(qtbot, CompareView(bridge))
    assert view.models is None and "encoder-decoder" in view.summary.text()
    view.mode_b.setCurrentText("none")
    assert view.models is not None and np.isfinite(view.diff.values()).all()


def test_a_view_in_the_back_builds_and_repaints_only_when_shown(qtbot, attnres):
    bridge, stack = attnres
    view = ResidualStreamView(bridge)
    qtbot.addWidget(view)
    assert view.findChildren(Heatmap) == []  # nothing built while nobody looks
    _edit(bridge, stack, "blocks.0.depth_mlp.w", np.full(16, 2.0))
    view.show()
    mixed_name = "blocks.0.depth_mlp.hook_mixed"  # [pos, d_model]
    np.testing.assert_array_equal(view.heatmap.values()[:, 1], bridge.trace[mixed_name][0])
    view.hide()
    before = view.heatmap.values()
    stack.undo()
    np.testing.assert_array_equal(view.heatmap.values(), before)  # no work for an unseen picture
    view.show()
    np.testing.assert_array_equal(view.heatmap.values()[:, 1], bridge.trace[mixed_name][0])
    assert not np.array_equal(view.heatmap.values(), before)


def test_main_window_tabs_edit_and_undo(make_window):
    session = Session(Transformer(ModelConfig(residual="attnres"), seed=2), TEXT)
    w = make_window(session, size=None)
    titles = [w.tabs.tabText(i) for i in range(w.tabs.count())]
    w.tabs.setCurrentIndex(titles.index("Depth attention"))
    view = w.current_view()
    assert isinstance(view, DepthMapView) and view.isVisible()
    before = view.depth_heatmap.values()
    assert w.apply_edit("depth_final.w", np.linspace(-2, 2, 16)) is None
    assert not np.allclose(view.depth_heatmap.values()[-1], before[-1])
    np.testing.assert_array_equal(view.depth_heatmap.values()[:-1], before[:-1])
    w.undo_stack.undo()
    np.testing.assert_array_equal(view.depth_heatmap.values(), before)
    assert "Residual stream" in titles and "Compare residuals" in titles
    w.undo_stack.setClean()


def test_a_long_caption_grows_to_show_all_its_lines(qtbot):
    view = _shown(qtbot, CompareView(_bridge()))  # its summary wraps onto three lines at 950 pixels
    view.resize(950, 600)
    QApplication.processEvents()
    summary = view.summary
    needed = summary.fontMetrics().boundingRect(0, 0, summary.contentsRect().width(), 10 ** 6,
                                                int(Qt.TextFlag.TextWordWrap), summary.text()).height()
    assert needed > 2.5 * summary.fontMetrics().lineSpacing()
    assert summary.height() >= needed
