"""The widgets a step picture is built from: a framed heatmap and an operation symbol."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QFrame, QGraphicsRectItem, QLabel, QVBoxLayout, QWidget

from ui.pictures.colormaps import HEAD_COLORS
from ui.pictures.heatmap import Heatmap
from ui.pictures.paper import paper_of
from ui.pictures.picture_items import Panel, Symbol
from ui.pictures.picture_layout import LabelFit
from ui.pictures.slicing import thin
from ui.typography import NOTE_PT

SYMBOL_PT = 40.0  # the +, ×, = between panels: read across the room
PAD = 3  # between a PanelBox's frame and its heatmap


def border_width(panel: Panel) -> int:
    """A panel's frame: thick for the current step, a head's colour line, else a thin rule."""
    return 6 if panel.current else (2 if panel.head is not None else 1)


def _head_color(h: int):
    return HEAD_COLORS[h % len(HEAD_COLORS)]


class PanelBox(QFrame):
    """One heatmap in a frame: thick and dark for the current step, a head's colour for a head.

    The frame is painted here rather than by a style sheet: re-styling a widget re-polishes
    it and all its children, which cost a few milliseconds on every step of play mode.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panel")
        self.heatmap = Heatmap()
        self.panel: Panel | None = None
        self.fit = LabelFit()  # how the token labels fit the cells (smaller, staggered, thinned)
        self._shown_labels: tuple | None = None
        self._bands: list[QGraphicsRectItem] = []
        self._style: tuple[bool, int | None] = (False, None)  # (current, head) of the panel shown
        self._width = 1  # of the frame
        lay = QVBoxLayout(self)
        lay.setContentsMargins(PAD, PAD, PAD, PAD)
        lay.addWidget(self.heatmap)

    def show_panel(self, panel: Panel, force: bool = False) -> None:
        old, self.panel = self.panel, panel
        rows, cols = thin(panel.rows, self.fit.rows_every), thin(panel.cols, self.fit.cols_every)
        if old is None or (old.thumb, old.bar) != (panel.thumb, panel.bar):
            self.heatmap.set_colorbar_visible(panel.bar and not panel.thumb)
            self.heatmap.set_axes_visible(not panel.thumb)
        self.heatmap.set_label_style(self.fit.scale, self.fit.stagger, self.fit.row_scale)
        if force or old is None or not _same_picture(old, panel) or self._shown_labels != (rows, cols):
            self._shown_labels = (rows, cols)
            self.heatmap.set_data(panel.values, rows, cols, panel.kind, panel.title, panel.changed, panel.levels)
        if old is None or (old.col_bands, old.row_bands) != (panel.col_bands, panel.row_bands):
            self._draw_bands(panel)
        style = (panel.current, panel.head)
        if style != self._style:
            self._style = style
            width = self._width = border_width(panel)
            self.setContentsMargins(width, width, width, width)  # the border is inside the box
            self.update()

    def border(self) -> tuple[int, QColor]:
        """(width in pixels, colour) of the frame: a head's colour, else the ink (current step) or a
        faint rule, of the paper it is drawn on."""
        current, head = self._style
        paper = paper_of(self)
        color = _head_color(head) if head is not None else (paper.ink if current else paper.rule)
        return self._width, QColor(color)

    def paintEvent(self, ev) -> None:
        width, color = self.border()
        with QPainter(self) as p:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(QPen(color, width))
            p.setBrush(paper_of(self).ground)
            half = width / 2
            p.drawRoundedRect(QRectF(self.rect()).adjusted(half, half, -half, -half), 6, 6)

    def _draw_bands(self, panel: Panel) -> None:
        """Outline each head's block of columns (concat) or rows (W_O) in the head's colour."""
        for item in self._bands:
            item.scene().removeItem(item)
        self._bands = []
        n_rows, n_cols = panel.values.shape
        for bands, vertical in ((panel.col_bands, True), (panel.row_bands, False)):
            for start, stop, h in bands:
                rect = QRectF(start, 0, stop - start, n_rows) if vertical else QRectF(0, start, n_cols,
                                                                                     stop - start)
                item = QGraphicsRectItem(rect, self.heatmap.image_item)
                pen = QPen(_head_color(h), 4)
                pen.setCosmetic(True)
                item.setPen(pen)
                self._bands.append(item)


def _same_picture(a: Panel, b: Panel) -> bool:
    """Whether a heatmap already shows `b` (values compared exactly; cheap next to set_data)."""
    return (a.title == b.title and a.kind == b.kind and a.rows == b.rows and a.cols == b.cols
            and a.levels == b.levels
            and a.values.shape == b.values.shape and np.array_equal(a.values, b.values, equal_nan=True)
            and (a.changed is None) == (b.changed is None)
            and (a.changed is None or np.array_equal(a.changed, b.changed)))


class SymbolLabel(QLabel):
    """A big operation symbol with a small note under it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.symbol = Symbol("")

        self._scale = 1.0

    def show_symbol(self, symbol: Symbol, scale: float) -> None:
        self.symbol, self._scale = symbol, scale
        note = symbol.note.replace("\n", "<br>")
        muted = paper_of(self).muted.name()
        self.setText(f"<div style='font-size:{SYMBOL_PT * scale:g}pt; font-weight:bold'>{symbol.text}</div>"
                     + (f"<div style='font-size:{NOTE_PT * scale:g}pt; color:{muted}'>{note}</div>"
                        if note else ""))

    def changeEvent(self, ev) -> None:
        super().changeEvent(ev)
        if ev.type() == QEvent.Type.PaletteChange and self.symbol.note:
            self.show_symbol(self.symbol, self._scale)  # the note's colour is written into its text
