"""One notification per edit: a weight edit or a token edit repaints each view exactly once."""
from __future__ import annotations

from collections import Counter

import pytest

from ui.lazy import LazyView
from ui.views.arch_map import ArchMap
from ui.views.explain_panel import ExplainPanel
from ui.views.gradient_view import GradientFlowView
from ui.views.param_editor import ParamEditor
from ui.views.step_view import StepView
from ui.views.token_strip import TokenStrip
from ui.views.training_panel import TrainingPanel
from ui.views.transport import Transport

# Each view's handler of a new trace: what it does to repaint after an edit.
REPAINTS = [(StepView, "refresh"), (ExplainPanel, "refresh"), (ArchMap, "_rebuild"), (TokenStrip, "_on_trace"),
            (Transport, "_on_trace"), (ParamEditor, "refresh"), (GradientFlowView, "_on_trace_changed"),
            (TrainingPanel, "_on_trace_changed"), (LazyView, "request_refresh")]


@pytest.fixture
def counted(make_window, monkeypatch):
    """A window whose views count their repaints, every tab made; the counter starts at zero."""

    calls: Counter = Counter()
    for cls, name in REPAINTS:
        original = getattr(cls, name)

        def counting(self, *args, _original=original, **kwargs):
            calls[(type(self).__name__, id(self))] += 1
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(cls, name, counting)  # before the window connects the views' slots
    w = make_window()
    for i in range(w.tabs.count()):  # views made lazily are made now, so each is counted
        w.tabs.setCurrentIndex(i)
    w.tabs.setCurrentIndex(0)
    calls.clear()
    return w, calls


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
