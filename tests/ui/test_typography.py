"""Type by role: presentation mode scales the views through one Typography, no widget walk."""
import pytest
from PySide6.QtWidgets import QMessageBox

from ui import typography
from ui.preferences import Preferences


def test_roles_have_their_sizes_and_scale():
    assert typography.font("title").pointSizeF() == typography.TITLE_PT
    assert typography.font("cell", 2.0).pointSizeF() == 2 * typography.CELL_PT
    assert typography.font("heading", bold=True).bold()
    with pytest.raises(KeyError):
        typography.font("shouting")


class View:
    def __init__(self):
        self.scales = []

    def set_font_scale(self, f):
        self.scales.append(f)


def test_views_added_follow_the_scale(qapp):
    t = typography.Typography()
    early = View()
    t.add(early)
    assert early.scales == []  # at scale 1 nothing to do
    t.set_scale(1.5)
    late = View()
    t.add(late)  # a view made while presenting starts large
    t.set_scale(1.5)  # no change: nobody is told
    t.set_scale(1.0)
    assert early.scales == [1.5, 1.0] and late.scales == [1.5, 1.0]


def test_presenting_scales_a_tab_made_later_and_keeps_each_views_own_ratio(qtbot, tmp_path, monkeypatch):
    from ui.main_window import MainWindow

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    w = MainWindow(settings=Preferences(tmp_path / "s.json"))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    try:
        w.presentation.enter()
        f = w.presentation.scale
        w.tabs.setCurrentIndex(w.tab_titles().index("Compare residuals"))  # made now, while presenting
        view = w.current_view()
        from ui.views.compare_view import MAP_SCALE
        assert view.probs_a._scale == pytest.approx(MAP_SCALE * f)  # its maps keep their smaller type
        w.tabs.setCurrentIndex(w.tab_titles().index("Training"))
        training = w.current_view()
        assert all(h._scale == pytest.approx(0.8 * f) for row in training.heatmaps for h in row)
        w.presentation.leave()
        assert view.probs_a._scale == pytest.approx(MAP_SCALE)
        assert all(h._scale == pytest.approx(0.8) for row in training.heatmaps for h in row)
    finally:
        w.presentation.leave()
        w.undo_stack.setClean()
