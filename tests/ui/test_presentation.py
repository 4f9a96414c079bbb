"""Presentation mode: F5 enters (full screen, large type, editors hidden), the clicker's
PageDown/PageUp step, B blanks until any key or click, Esc leaves and restores everything."""
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from simulator.lessons import LESSON_DIR
from ui.classroom.presentation import PresentationController
from ui.pictures.heatmap import Heatmap


@pytest.fixture
def window(make_window):
    return make_window(size=(1100, 750), active=True)


def focus(w):
    return QApplication.focusWidget() or w


def test_f5_enters_and_esc_leaves_restoring_the_window(window, qtbot):
    app_pt = QApplication.font().pointSizeF()
    heatmap = window.findChildren(Heatmap)[0]
    assert window.param_dock.isVisible() or window.map_dock.isVisible()
    docks_before = {d: d.isVisible() for d in (window.map_dock, window.param_dock, window.token_dock)}

    qtbot.keyClick(focus(window), Qt.Key.Key_F5)
    p = window.presentation
    assert p.presenting and window.isFullScreen() and p.action.isChecked()
    assert not window.menuBar().isVisible() and not window.statusBar().isVisible()
    assert not window.transport.isVisible() and not window.tabs.tabBar().isVisible()
    assert not any(d.isVisible() for d in docks_before)  # editors hidden
    assert window.step_view.isVisible() and window.explain_panel.isVisible()
    assert QApplication.font().pointSizeF() == pytest.approx(app_pt * p.scale)
    assert heatmap._scale == pytest.approx(p.scale)
    assert window.explain_panel.description.font().pointSizeF() > 14

    qtbot.keyClick(focus(window), Qt.Key.Key_Escape)
    assert not p.presenting and not window.isFullScreen() and not p.action.isChecked()
    assert window.menuBar().isVisible() and window.statusBar().isVisible() and window.transport.isVisible()
    assert {d: d.isVisible() for d in docks_before} == docks_before
    assert QApplication.font().pointSizeF() == pytest.approx(app_pt)
    assert heatmap._scale == pytest.approx(1.0)


def test_clicker_keys_step_forward_and_back(window, qtbot):
    stepper = window.session_bridge.stepper
    window.presentation.enter()
    qtbot.keyClick(focus(window), Qt.Key.Key_PageDown)
    qtbot.keyClick(focus(window), Qt.Key.Key_PageDown)
    assert stepper.index == 2
    assert window.explain_panel.description.text() == stepper.step.description
    qtbot.keyClick(focus(window), Qt.Key.Key_PageUp)
    assert stepper.index == 1
    qtbot.keyClick(focus(window), Qt.Key.Key_Right)  # the window's own stepping keys still work
    assert stepper.index == 2


def test_b_blanks_and_the_next_key_or_click_unblanks_without_stepping(window, qtbot):
    stepper = window.session_bridge.stepper
    p = window.presentation
    qtbot.keyClick(focus(window), Qt.Key.Key_B)
    assert not p.blanked  # only while presenting
    p.enter()
    qtbot.keyClick(focus(window), Qt.Key.Key_B)
    assert p.blanked and p.overlay.geometry() == window.rect()
    qtbot.keyClick(focus(window), Qt.Key.Key_PageDown)
    assert not p.blanked and stepper.index == 0  # the press only brought the picture back
    qtbot.keyClick(focus(window), Qt.Key.Key_Period)
    assert p.blanked
    qtbot.mouseClick(p.overlay, Qt.MouseButton.LeftButton)
    assert not p.blanked
    qtbot.keyClick(focus(window), Qt.Key.Key_B)
    qtbot.keyClick(focus(window), Qt.Key.Key_Escape)  # unblanks first, then a second Esc leaves
    assert p.presenting and not p.blanked
    qtbot.keyClick(focus(window), Qt.Key.Key_Escape)
    assert not p.presenting


def test_clicker_walks_a_lesson_revealing_answers_and_keeps_its_dock(window, qtbot):
    player = window.lesson_player
    assert player.open_file(LESSON_DIR / "01_one_attention_head.json")
    dock = player.parentWidget()
    window.presentation.enter()
    assert dock.isVisible()
    assert player.where.font().pointSizeF() > 12
    question = next(i for i, s in enumerate(player.lesson.stops) if s.question and s.answer)
    player.go(question - 1)
    qtbot.keyClick(focus(window), Qt.Key.Key_PageDown)
    assert player.index == question and not player.answer.isVisible()
    qtbot.keyClick(focus(window), Qt.Key.Key_PageDown)
    assert player.index == question and player.answer.isVisible()
    qtbot.keyClick(focus(window), Qt.Key.Key_PageDown)
    assert player.index == question + 1
    qtbot.keyClick(focus(window), Qt.Key.Key_PageUp)
    assert player.index == question
    assert window.session_bridge.stepper.name == player.lesson.stops[question].step


def test_type_grows_with_the_projected_screen():
    scale_for = PresentationController.scale_for
    assert scale_for(800) == pytest.approx(1.5) and scale_for(600) == pytest.approx(1.5)
    assert scale_for(1080) == pytest.approx(1.5 * 1080 / 800)
    assert scale_for(4000) == pytest.approx(2.5)
