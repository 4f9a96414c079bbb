"""The explanation follows the picture: a chosen cell's calculation and the hover read-out
are cleared when the step changes, and Esc clears them."""
import pytest
from PySide6.QtCore import Qt

from ui.views.explain_panel import HINT


@pytest.fixture
def window(make_window):
    return make_window()


def _click_and_hover(window):
    view = window.step_view
    heatmap = view.current_heatmap()
    heatmap.sigCellClicked.emit((1, 0))
    heatmap.sigCellHovered.emit((1, 0))
    assert window.session_bridge.cell is not None
    assert window.explain_panel.cell.text() != HINT
    assert view._hover.text().strip()


def test_another_step_clears_the_chosen_cell_and_the_hover_read_out(window):
    bridge = window.session_bridge
    bridge.stepper.jump("blocks.0.attn.hook_q")
    _click_and_hover(window)
    bridge.stepper.next()
    assert bridge.cell is None
    assert window.explain_panel.cell.text() == HINT
    assert not window.step_view._hover.text().strip()


def test_the_same_step_redrawn_keeps_the_chosen_cell(window):
    bridge = window.session_bridge
    bridge.stepper.jump("blocks.0.attn.hook_q")
    _click_and_hover(window)
    bridge.set_head(1)  # a redraw of the same step is not a change of step
    assert bridge.cell is not None


def test_escape_clears_the_chosen_cell(window, qtbot):
    bridge = window.session_bridge
    bridge.stepper.jump("blocks.0.attn.hook_q")
    _click_and_hover(window)
    qtbot.keyClick(window.tabs, Qt.Key.Key_Escape)
    assert bridge.cell is None and window.explain_panel.cell.text() == HINT
    assert not window.step_view._hover.text().strip()


def test_the_calculation_box_shows_the_whole_calculation_at_1280x800(window, qtbot):
    bridge = window.session_bridge
    bridge.stepper.jump("blocks.0.attn.hook_pattern")
    window.step_view.current_heatmap().sigCellClicked.emit((5, 1))  # a long softmax sum
    panel = window.explain_panel
    text = panel.cell.text()
    assert text.endswith(text.rsplit(" = ", 1)[-1]) and "=" in text

    def fits() -> bool:  # the body fits the visible area: no part of the calculation behind a scroll bar
        return panel.widget().heightForWidth(panel.viewport().width()) <= panel.viewport().height() + 1

    qtbot.waitUntil(fits, timeout=5000)  # once the layout has settled, however slow the machine
    assert not panel.verticalScrollBar().isVisible()


# --- the text under the other tabs describes their picture, and their cells explain themselves ---

TABS = ["Residual stream", "Depth attention", "Compare residuals", "Training", "Gradients", "Backward pass",
        "Sampling", "KV cache", "Look inside", "Draw", "Image"]


def _show_tab(window, title: str):
    window.tabs.setCurrentIndex(window.tab_titles().index(title))
    view = window.current_view()
    if hasattr(view, "refresh"):
        view.refresh()
    return view


@pytest.mark.parametrize("title", TABS)
def test_each_tab_puts_its_own_description_under_the_picture(window, title):
    step_text = window.session_bridge.stepper.step.description
    view = _show_tab(window, title)
    panel = window.explain_panel
    assert view.ABOUT.startswith(title.split()[0]) and panel.description.text() == view.ABOUT
    assert panel.description.text() != step_text
    window.tabs.setCurrentIndex(0)  # the Step tab: the step's own description again
    assert panel.description.text() == step_text and panel.cell.text() == HINT


def test_the_sampling_tab_writes_its_draw_under_its_description(window):
    view = _show_tab(window, "Sampling")
    panel = window.explain_panel
    assert panel.description.text() == view.ABOUT
    assert panel.cell.isVisibleTo(panel) and panel.cell.text().startswith("How the next Append would pick")
    # a lesson stop moves the step after opening the tab: the draw stays
    window.session_bridge.stepper.jump("probs")
    assert panel.cell.text().startswith("How the next Append would pick")
    view.temperature.setValue(2.0)  # new settings: the tab writes the new draw
    assert "T = 2" in panel.cell.text() or "/ 2" in panel.cell.text()


def test_an_attribution_bar_writes_its_calculation_under_the_look_inside_tab(window):
    tabs = _show_tab(window, "Look inside")
    view = tabs.show_view("Attribution")
    view.show_bar(0)
    name = list(view.parts)[0]
    assert window.explain_panel.cell.isVisibleTo(window.explain_panel)
    assert name in window.explain_panel.cell.text() and window.explain_panel.description.text() == tabs.ABOUT


def test_a_residual_stream_cell_explains_its_calculation(window):
    view = _show_tab(window, "Residual stream")
    trace = window.session_bridge.trace
    col = 1  # the stream after the first attention sublayer
    label, name, vector = view.points()[col]
    view.heatmap.sigCellClicked.emit((3, col))
    text = window.explain_panel.cell.text()
    assert text.startswith(f"{label}, dimension 3") and trace.explain(name, (view.position, 3)) in text


def test_a_depth_attention_cell_names_reader_source_and_weight(window):
    window.session_bridge.stepper.jump("blocks.1.attn.hook_pattern")
    view = _show_tab(window, "Depth attention")
    m = view.map
    view.depth_heatmap.sigCellClicked.emit((1, 0))
    text = window.explain_panel.cell.text()
    assert f"{m.rows[1]} reads {m.cols[0]} with weight {float(m.values[1, 0]):.4g}" in text
    view.pattern_heatmap.sigCellClicked.emit((2, 1))
    trace = window.session_bridge.trace
    assert window.explain_panel.cell.text() == trace.explain("blocks.1.attn.hook_pattern",
                                                            (window.session_bridge.head, 2, 1))


def test_a_compare_cell_gives_both_numbers_and_their_difference(window):
    view = _show_tab(window, "Compare residuals")
    ids, probs_a, probs_b, positions, vocab, _ = view._drawn
    view.diff.sigCellClicked.emit((4, 2))
    text = window.explain_panel.cell.text()
    t = int(ids[4])
    za, zb = float(view.logits[0][2, t]), float(view.logits[1][2, t])
    assert f"“{vocab[t]}” after “{positions[2]}”" in text
    assert f"p = {probs_a[2, t]:.4f}" in text and f"B − A = {zb:.4f} − {za:.4f} = {zb - za:.4f}" in text


def test_a_backward_cell_gives_its_gradient_and_what_a_nudge_does(window):
    view = _show_tab(window, "Backward pass")
    grad, rows, cols, _, _ = view._full[view.grad_map]
    view.grad_map.sigCellClicked.emit((1, 2))
    text = window.explain_panel.cell.text()
    g = float(grad[1, 2])
    assert f"= {g:.4g}" in text and f"{g:.4g} × 0.01 = {0.01 * g:.3g}" in text


def test_a_gradient_bar_gives_its_length(window):
    view = _show_tab(window, "Gradients")
    view.explain_layer(1)
    assert f"= {float(view.flow['layer_norms'][1]):.4g}" in window.explain_panel.cell.text()
    name, norm = view.param_rows()[0]
    view.explain_param(0)
    assert window.explain_panel.cell.text().startswith(f"‖∂L/∂{name}‖ = {norm:.4g}")


def test_a_training_point_gives_its_step_loss_and_accuracy(window):
    view = _show_tab(window, "Training")
    view._loss[:] = [(10, 2.5), (20, 1.25), (30, 0.5)]
    view._acc[:] = [(20, 60.0), (30, 90.0)]
    view.explain_point(21.0)
    text = window.explain_panel.cell.text()
    assert text.startswith("Step 20: loss 1.2500") and "step 20: 60.0 %" in text
