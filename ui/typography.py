"""Type by role: one size for each kind of text, and one scale that presentation mode turns up.

Sizes are points at scale 1, chosen to be read from the back of a classroom:

    title    a step's name above its picture             formula  its formula beside it
    heading  a panel's title (a heatmap, the lesson)     text     explanations and lesson text
    caption  the lines under a view's pictures           tick     axis and token labels
    cell     the number printed in a heatmap cell        note     small print (names, hints)

Views take their sizes from here and scale them with `set_font_scale(f)`. A `Typography`
object holds the window's scale: presentation mode sets it and every view added to it
follows, instead of someone walking the widget tree looking for fonts to change.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFont

TITLE_PT = 19.0
FORMULA_PT = 15.0
HEADING_PT = 15.0
TEXT_PT = 14.0
CAPTION_PT = 13.0
TICK_PT = 12.0
CELL_PT = 11.0
NOTE_PT = 12.0

ROLES = {"title": TITLE_PT, "formula": FORMULA_PT, "heading": HEADING_PT, "text": TEXT_PT,
         "caption": CAPTION_PT, "tick": TICK_PT, "cell": CELL_PT, "note": NOTE_PT}


def font(role: str, scale: float = 1.0, bold: bool = False) -> QFont:
    """The font of `role` at `scale` (KeyError for a role not in ROLES)."""
    f = QFont()
    f.setPointSizeF(ROLES[role] * scale)
    f.setBold(bold)
    return f


class Typography(QObject):
    """The window's type scale; views added follow it (see the module docstring)."""

    sigScaleChanged = Signal(float)  # the new scale

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.scale = 1.0

    def add(self, view) -> None:
        """`view.set_font_scale` now (if the scale is not 1) and at every change of scale."""
        if self.scale != 1.0:
            view.set_font_scale(self.scale)
        self.sigScaleChanged.connect(view.set_font_scale)

    def set_scale(self, f: float) -> None:
        f = float(f)
        if f != self.scale:
            self.scale = f
            self.sigScaleChanged.emit(f)
