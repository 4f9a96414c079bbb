"""A word-wrapped label that does not ask its layout for height-for-width.

A wrapped QLabel makes its whole layout height-for-width, and a resizable QScrollArea
then sizes the view by its preferred height (far taller than the window), so the view
scrolls when it need not. This label instead asks for the height its text needs at the
width it has now, and asks again when that width changes.
"""
from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel

MIN_WIDTH = 120


class WrapLabel(QLabel):
    def __init__(self, text: str = "", parent=None):
        super().__init__(text, parent)
        self.setWordWrap(True)

    def hasHeightForWidth(self) -> bool:
        return False

    def minimumSizeHint(self) -> QSize:
        return QSize(MIN_WIDTH, self.heightForWidth(max(self.width(), MIN_WIDTH)))

    def sizeHint(self) -> QSize:
        return self.minimumSizeHint()

    def setText(self, text: str) -> None:
        super().setText(text)
        self.updateGeometry()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()
