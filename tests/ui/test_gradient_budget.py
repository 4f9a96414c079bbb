"""Gradients and training are sized before they start: the Backward pass, Gradients and Training
tabs refuse clearly, and change nothing, when the gradients would not fit the memory budget."""
import numpy as np
from PySide6.QtCore import Qt

from simulator import Session, Transformer, budget
from simulator.tasks import get_task
from ui.bridge import SessionBridge
from ui.views.backward_view import BackwardView
from ui.views.gradient_view import GradientFlowView

TEXT = "the cat sat on the mat"


def test_the_backward_tab_says_the_gradients_are_too_large(qtbot, monkeypatch):
    bridge = SessionBridge(Session(Transformer(seed=0), "the cat"))
    view = BackwardView(bridge)
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    qtbot.waitExposed(view)
    monkeypatch.setattr(budget, "MEMORY_BYTES", budget.estimate(bridge.model.config, 6).total)
    bridge.session.set_tokens(TEXT)
    assert "The backward pass of this model on 6 tokens" in view.title.text()
    assert view.grad_map.isHidden() and not view.next_button.isEnabled()
    assert view.walk.step is None and view.walk.loss is None
    monkeypatch.setattr(budget, "MEMORY_BYTES", 1 << 30)
    bridge.session.set_tokens("the cat sat on the dog")
    assert view.grad_map.isVisible() and view.walk.step.grad.shape[0] == 6


def test_the_gradients_tab_says_the_gradients_are_too_large(qtbot, monkeypatch):
    bridge = SessionBridge(Session(Transformer(seed=0), "the cat"))
    view = GradientFlowView(bridge)
    qtbot.addWidget(view)
    view.depth.setValue(3)
    view.show()
    monkeypatch.setattr(budget, "MEMORY_BYTES", budget.estimate(bridge.model.config, 6).total)
    bridge.session.set_tokens(TEXT)
    view.refresh()
    assert view.flow is None and view.param_rows() == []
    assert "The backward pass of this model on 6 tokens" in view.summary.text()
    view.shutdown()


def test_the_training_tab_refuses_a_run_too_large_and_changes_nothing(qtbot, monkeypatch, reverse_training):
    panel, bridge, stack = reverse_training
    task, session = get_task("reverse"), bridge.session
    before = {n: v.copy() for n, v in session.model.params.items()}
    monkeypatch.setattr(budget, "MEMORY_BYTES", budget.backward_bytes(session.model.config, task.config.n_ctx))
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert "Training this model on sequences of" in panel.status.text()
    assert not panel.running and panel.start_button.isEnabled()
    assert stack.count() == 0 and bridge.model is session.model
    assert all(np.array_equal(session.model.params[n], v) for n, v in before.items())
