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
