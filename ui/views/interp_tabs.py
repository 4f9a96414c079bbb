"""The "Look inside" tab: the interpretability views side by side as tabs of their own.

Model view, logit lens, direct logit attribution, activation patching, attention rollout and
embeddings, in the order a class usually asks: which heads look where, when the answer forms,
who wrote it, and whether it matters. Each view is built the first time its tab is shown.
"""
from __future__ import annotations

from collections.abc import Callable

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
    """The six views; `toggle(component, mode)` makes a switch an undoable edit, `explain(text)`
    shows an attribution bar's calculation."""

    def __init__(self, bridge: SessionBridge, toggle: Callable[[str, str | None], str | None] | None = None,
                 explain: Callable[[str], None] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDocumentMode(True)
        self.model_view = ModelView(bridge, toggle)
        self.lens = LensView(bridge)
        self.attribution = AttributionView(bridge)
        if explain is not None:
            self.attribution.sigCalculation.connect(explain)
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
