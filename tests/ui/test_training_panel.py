"""The training panel: a short run fills the plots, stop keeps the weights, undo restores them."""
import numpy as np
import pytest
from PySide6.QtCore import Qt

from simulator.tasks import get_task

REVERSE = get_task("reverse")


@pytest.fixture
def setup(reverse_training):
    return reverse_training


def test_short_run_fills_the_plots_and_is_undoable(qtbot, setup):
    panel, bridge, stack = setup
    before = dict(bridge.model.params)
    panel.steps.setValue(20)
    with qtbot.waitSignal(panel.sigTrainingFinished, timeout=20000) as finished:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    old, new = finished.args
    assert [s for s, _ in panel.loss_points()] == [5, 10, 15, 20]
    assert all(np.isfinite(loss) for _, loss in panel.loss_points())
    assert panel.accuracy_points() and panel.progress.value() == 20
    assert all(np.array_equal(bridge.model.params[n], new[n]) for n in new)  # the weights reached
    assert not np.array_equal(bridge.model.params["unembed.W_U"], before["unembed.W_U"])
    pattern = bridge.trace["blocks.0.attn.hook_pattern"][0]
    np.testing.assert_allclose(panel.heatmaps[0][0].values(), pattern)  # drawn from the trained weights
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    stack.undo()
    assert all(np.array_equal(bridge.model.params[n], before[n]) for n in before)
    assert all(np.array_equal(old[n], before[n]) for n in before)


def test_pause_and_stop_keep_the_weights_reached(qtbot, setup):
    panel, bridge, stack = setup
    panel.steps.setValue(5000)
    untrained = panel.heatmaps[0][0].values()
    panel.start()
    qtbot.waitUntil(lambda: len(panel.loss_points()) >= 2, timeout=20000)
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert panel.pause_button.text() == "Resume"
    qtbot.wait(300)  # the worker finishes the step it is on, then waits
    paused_at = panel.loss_points()[-1][0]
    qtbot.wait(300)
    assert panel.loss_points()[-1][0] == paused_at
    assert not np.allclose(panel.heatmaps[0][0].values(), untrained)  # redrawn as the model learns
    with qtbot.waitSignal(panel.sigTrainingFinished, timeout=20000) as finished:
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    _, new = finished.args
    assert panel.progress.value() < 5000 and "Stopped" in panel.status.text()
    assert all(np.array_equal(bridge.model.params[n], new[n]) for n in new)
    assert stack.count() == 1


def test_a_task_the_model_cannot_learn_gets_its_own_model(qtbot, setup):
    panel, bridge, stack = setup
    panel.task_combo.setCurrentIndex(panel.task_combo.findData("translate"))
    assert "builds a model" in panel.task_label.text()
    panel.steps.setValue(10)
    with qtbot.waitSignal(panel.sigTrainingFinished, timeout=20000):
        panel.start()
        assert bridge.model.config.arch == "encoder-decoder"  # switched at once, as an undoable step
    assert "Finished after 10 steps" in panel.status.text()
    assert panel.site_combo.count() == 3  # cross, decoder and encoder attention
    assert len(panel.heatmaps) == 2 and len(panel.heatmaps[0]) == 2
    stack.undo()
    stack.undo()
    assert bridge.model.config.vocab == REVERSE.config.vocab
