"""The "Look inside" tab: the interpretability views side by side as tabs of their own.

Model view, logit lens, direct logit attribution, activation patching, attention rollout and
embeddings, in the order a class usually asks: which heads look where, when the answer forms,
who wrote it, and whether it matters. Each view is built the first time its tab is shown.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QWidget

from ui.bridge import SessionBridge
from ui.views.attribution_view import AttributionView
from ui.views.embedding_view import EmbeddingView
from ui.views.lens_view import LensView
from ui.views.model_view import ModelView
from ui.views.patching_view import PatchingView
from ui.views.rollout_view import RolloutView

TITLES = ("Model view", "Logit lens", "Attribution", "Patching", "Rollout", "Embeddings")


class InterpTabs(QTabWidget):
    """The six views; `toggle(component, mode)` makes a switch an undoable edit; an attribution bar's
    calculation comes out of `sigCalculation`."""

    ABOUT = ("Look inside: the tools researchers use to see what a trained model does. Which heads look where "
             "(model view), when the answer forms (logit lens), which head or MLP wrote it (attribution), whether "
             "it matters (patching), where information flows (rollout), and how the tokens sit in space "
             "(embeddings). Each sub-tab says above what its picture shows.")
    sigCalculation = Signal(str)  # an attribution bar's numbers, for the explanation panel

    def __init__(self, bridge: SessionBridge, toggle: Callable[[str, str | None], str | None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDocumentMode(True)
        self.model_view = ModelView(bridge, toggle)
        self.lens = LensView(bridge)
        self.attribution = AttributionView(bridge)
        self.attribution.sigCalculation.connect(self.sigCalculation)
        self.patching = PatchingView(bridge)
        self.rollout = RolloutView(bridge)
        self.embeddings = EmbeddingView(bridge)
        for title, view in zip(TITLES, (self.model_view, self.lens, self.attribution, self.patching, self.rollout,
                                        self.embeddings)):
            self.addTab(view, title)

    def show_view(self, title: str) -> QWidget:
        """Bring a view to the front by its tab title; returns it."""
        self.setCurrentIndex(TITLES.index(title))
        return self.currentWidget()
