"""Every tab of the window shows a model with each new attention option without an error
(pytest-qt fails a test on any exception raised inside Qt's event handling)."""
import pytest
from PySide6.QtWidgets import QTabWidget

from simulator import ModelConfig, Transformer
from ui.main_window import MainWindow
from ui.views import cost_view


@pytest.mark.parametrize("attention, arch", [("linear", "decoder"), ("linear", "encoder-decoder"),
                                             ("bigbird", "encoder"), ("strided", "decoder")])
def test_every_view_shows_the_model(qtbot, monkeypatch, attention, arch):
    monkeypatch.setattr(cost_view, "TIMED", (16,))
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    model = Transformer(ModelConfig(attention=attention, arch=arch, window=2), seed=0)
    tokens = (["the", "cat", "sat"], ["a", "dog"]) if arch == "encoder-decoder" else ["the", "cat", "sat", "on"]
    window.set_model(model, model.tokens(tokens), "test")
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        qtbot.wait(1)
        for pages in window.current_view().findChildren(QTabWidget):
            for j in range(pages.count()):
                pages.setCurrentIndex(j)
                qtbot.wait(1)
    window.tabs.setCurrentIndex(0)
    stepper = window.session_bridge.stepper
    for _ in stepper.names:
        stepper.next()
    assert stepper.name == stepper.names[-1]
    for view in window.findChildren(cost_view.CostView):
        view.shutdown()
