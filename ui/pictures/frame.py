"""The frame most views share: a row of labelled choices on top, the pictures, a caption under them."""
from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLayout, QVBoxLayout, QWidget

from ui.pictures.caption import LABEL_PT, Caption, fit_caption


def control_row(*choices: tuple[str, QWidget]) -> QHBoxLayout:
    """Each choice as "label [widget]", left-aligned."""
    row = QHBoxLayout()
    for text, widget in choices:
        row.addWidget(QLabel(text))
        row.addWidget(widget)
    row.addStretch(1)
    return row


def side_by_side(*parts: tuple[QWidget, int]) -> QHBoxLayout:
    """Pictures next to each other, each (widget, its share of the width)."""
    row = QHBoxLayout()
    for widget, stretch in parts:
        row.addWidget(widget, stretch)
    return row


def framed(view: QWidget, top: QLayout | None, body: QLayout | QWidget, caption: Caption) -> QVBoxLayout:
    """Lay `view` out as its choices (if any), the body taking the spare height, the caption."""
    lay = QVBoxLayout(view)
    lay.setContentsMargins(4, 4, 4, 4)
    if top is not None:
        lay.addLayout(top)
    if isinstance(body, QLayout):
        lay.addLayout(body, 1)
    else:
        lay.addWidget(body, 1)
    lay.addWidget(caption)
    return lay


def label_font(f: float, widgets: tuple[QWidget, ...], caption: Caption, lines: int = 3) -> QFont:
    """The labels' font at scale `f`, set on `widgets`, with room for `lines` of caption."""
    font = QFont()
    font.setPointSizeF(LABEL_PT * f)
    for w in widgets:
        w.setFont(font)
    fit_caption(caption, font, lines)
    return font
