"""The caption under a view's pictures: what the class is looking at, in two or three lines."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QLabel, QSizePolicy

from ui.typography import CAPTION_PT

LABEL_PT = CAPTION_PT  # captions and the choices beside the pictures

class Caption(QLabel):
    """A wrapped text with a fixed height: at least `lines` lines (see `fit_caption`), more
    when its text needs them at the current width (a 1280-pixel window wraps it onto three).

    A wrapped QLabel asks for height-for-width layout, which makes a scroll area size the whole
    view by its preferred height instead of fitting it to the window; a fixed height needs neither.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lines = 3
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def hasHeightForWidth(self) -> bool:
        return False

    def setText(self, text: str) -> None:
        super().setText(text)
        self.fit()

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if ev.size().width() != ev.oldSize().width():
            self.fit()

    def fit(self) -> None:
        """As tall as `lines` lines, or as the wrapped text at the current width."""
        fm = QFontMetricsF(self.font())
        wrapped = fm.boundingRect(QRectF(0, 0, max(1, self.contentsRect().width()), 1e6),
                                  int(Qt.TextFlag.TextWordWrap), self.text()).height()
        self.setFixedHeight(int(max(fm.lineSpacing() * self.lines, wrapped) + 6))


def fit_caption(label: Caption, font: QFont, lines: int = 3) -> None:
    """Reserve room for at least `lines` lines of text in `font`."""
    label.setFont(font)
    label.lines = lines
    label.fit()
