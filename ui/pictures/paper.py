"""The ground and ink of the pictures: light paper or dark, from the widget's palette.

A picture takes its colours from its own palette (`paper_of`), so the window's theme
(`ui.theme`, which sets the application palette) darkens the pictures with the frame, and
Qt's own palette propagation tells every picture when it changed. The cells' colour maps do
not change with the theme: a diverging map keeps white for zero, a bright cell on a dark
ground reads as well as on a white one, and each number's colour follows its cell's.

Exports are paper whatever the theme: `light_paper` lends a widget the light palette while
it is rendered for a file (`ui.classroom.export.paint_widget`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget


@dataclass(frozen=True)
class Paper:
    """The colours a picture draws its non-data parts with."""

    ground: QColor  # behind everything
    ink: QColor  # titles, axes, labels, symbols
    muted: QColor  # secondary text (a step's code name)
    rule: QColor  # thin frames and separators

    @property
    def dark(self) -> bool:
        return self.ground.lightness() < 128


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """`a` moved a share `t` of the way to `b`."""
    return QColor.fromRgbF(*(x + (y - x) * t for x, y in zip(a.getRgbF()[:3], b.getRgbF()[:3])))


def paper_of(widget: QWidget) -> Paper:
    """The paper of `widget`'s palette: its Base colour as ground, its Text colour as ink."""
    pal = widget.palette()
    ground, ink = pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text)
    return Paper(ground, ink, mix(ink, ground, 0.45), mix(ink, ground, 0.7))


def light_palette() -> QPalette:
    """The style's light palette with white paper: what every export is drawn with."""
    app = QApplication.instance()
    pal = app.style().standardPalette() if app is not None else QPalette()
    pal.setColor(QPalette.ColorRole.Base, QColor("white"))
    pal.setColor(QPalette.ColorRole.Text, QColor("black"))
    return pal


@contextmanager
def light_paper(widget: QWidget) -> Iterator[None]:
    """Draw `widget` (and its children) on light paper inside the block, then give back its own palette."""
    if not paper_of(widget).dark:
        yield
        return
    own = widget.palette() if widget.testAttribute(Qt.WidgetAttribute.WA_SetPalette) else None
    widget.setPalette(light_palette())
    try:
        yield
    finally:
        widget.setPalette(own if own is not None else QPalette())  # an empty palette: inherit again


class _Follower(QObject):
    def __init__(self, widget: QWidget, apply: Callable[[Paper], None]) -> None:
        super().__init__(widget)
        self._apply = apply
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply(paper_of(obj))
        return False


def follow_paper(widget: QWidget, apply: Callable[[Paper], None]) -> None:
    """Call `apply(paper)` now and whenever `widget`'s palette changes (for pictures whose colours
    are set once, like pyqtgraph's axes, rather than read at paint time)."""
    _Follower(widget, apply)
    apply(paper_of(widget))
