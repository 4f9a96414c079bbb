"""One notification per edit: a weight edit or a token edit repaints each view exactly once."""
from __future__ import annotations

from collections import Counter

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from ui.widgets.arch_map import ArchMap
from ui.widgets.explain_panel import ExplainPanel
from ui.widgets.gradient_view import GradientFlowView
from ui.widgets.param_editor import ParamEditor
from ui.widgets.residual_view import LazyView
from ui.widgets.step_view import StepView
from ui.widgets.token_strip import TokenStrip
from ui.widgets.training_panel import TrainingPanel
from ui.widgets.transport import Transport

# Each view's handler of a new trace: what it does to repaint after an edit.
REPAINTS = [(StepView, "refresh"), (ExplainPanel, "refresh"), (ArchMap, "_rebuild"), (TokenStrip, "_on_trace"),
            (Transport, "_on_trace"), (ParamEditor, "refresh"), (GradientFlowView, "_on_trace_changed"),
            (TrainingPanel, "_on_trace_changed"), (LazyView, "request_refresh")]


@pytest.fixture
def counted(qtbot, tmp_path, monkeypatch):
    """A window whose views count their repaints, every tab made; the counter starts at zero."""
    from ui.main_window import MainWindow

    calls: Counter = Counter()
    for cls, name in REPAINTS:
        original = getattr(cls, name)

        def counting(self, *args, _original=original, **kwargs):
            calls[(type(self).__name__, id(self))] += 1
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(cls, name, counting)  # before the window connects the views' slots
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    w = MainWindow(settings=QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    for i in range(w.tabs.count()):  # views made lazily are made now, so each is counted
        w.tabs.setCurrentIndex(i)
    w.tabs.setCurrentIndex(0)
    calls.clear()
    yield w, calls
    w.undo_stack.setClean()


def _views(calls: Counter) -> set[str]:
    return {kind for kind, _ in calls}


def test_a_weight_edit_repaints_each_view_once(counted):
    w, calls = counted
    assert w.apply_edit("unembed.W_U", 2.5, (0, 1)) is None
    assert all(n == 1 for n in calls.values()), calls
    assert {"StepView", "ExplainPanel", "ArchMap", "TokenStrip", "Transport", "ParamEditor", "GradientFlowView",
            "TrainingPanel", "BackwardView", "ResidualStreamView", "DepthMapView", "CompareView"} <= _views(calls)


def test_a_token_edit_repaints_each_view_once(counted):
    w, calls = counted
    assert w.edits.set_tokens("a big dog sat") is None
    assert all(n == 1 for n in calls.values()), calls
    assert {"StepView", "ExplainPanel", "TokenStrip", "BackwardView"} <= _views(calls)


def test_the_count_would_see_a_second_notification(counted):
    """The same counter notices a view told twice (so the tests above can fail)."""
    w, calls = counted
    w.session_bridge.sigTraceChanged.emit()
    w.session_bridge.sigTraceChanged.emit()
    assert calls and all(n == 2 for n in calls.values())
