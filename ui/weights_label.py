"""The status-bar label that says when the model's weights are random: "Random weights — untrained".

A class reading a random model's attention for meaning would find none; the label says so for
as long as the weights are the initial ones (File ▸ New, Model settings, Randomise, a lesson
stop built from a config) and goes away once the model is trained or a trained one is opened.
"""
from __future__ import annotations

from PySide6.QtWidgets import QStatusBar

from simulator.params import has_initial_weights
from ui.bridge import SessionBridge
from ui.pictures.frame import ErrorLabel

TEXT = "Random weights — untrained"


class WeightsLabel(ErrorLabel):
    def __init__(self, bridge: SessionBridge, parent=None):
        super().__init__(bold=True, caution=True, parent=parent)  # amber in either theme
        self.setText(TEXT)
        self.setWordWrap(False)  # one line in the status bar
        self.bridge = bridge
        self.setToolTip("These weights were drawn at random and never trained, so the patterns and "
                        "predictions carry no meaning yet. Open a trained model from the Presets menu, "
                        "or train this one in the Training tab.")
        self._model = None
        self._params = None
        bridge.sigTraceChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        model = self.bridge.model
        params = model.params
        if model is self._model and all(params[k] is v for k, v in self._params.items()):
            return  # new tokens only: the weights have not changed
        self._model, self._params = model, dict(params)
        random = has_initial_weights(model.config, params)
        bar = self.parentWidget()
        if random and not self.isVisible() and isinstance(bar, QStatusBar):
            bar.clearMessage()  # "Preset …: 100 % accuracy" is no longer this model's
        self.setVisible(random)
