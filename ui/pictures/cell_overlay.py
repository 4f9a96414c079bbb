"""What a heatmap paints over its cells: the numbers, the hatching of masked cells and the
outlines of changed and selected cells, in device pixels so text and pen widths stay the
same size however the cells are stretched."""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPen, QStaticText

if TYPE_CHECKING:
    from ui.pictures.heatmap import Heatmap

MOST_CHANGED = 0.6  # a change touching more than this share of the cells is one frame round the picture
_exporting = [0]  # > 0 while a picture is rendered for a file: no change outlines on paper


@contextmanager
def no_outlines():
    """Within this block heatmaps paint no change outlines (pictures saved to files, handouts)."""
    _exporting[0] += 1
    try:
        yield
    finally:
        _exporting[0] -= 1


def _edges(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and size of each cell in device pixels from its boundaries `t` (either direction)."""
    return np.minimum(t[:-1], t[1:]), np.abs(np.diff(t))


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, first col, end col) of every horizontal run of True cells in a 2-D mask."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    step = np.diff(padded, axis=1)
    rows, starts = np.nonzero(step == 1)
    _, ends = np.nonzero(step == -1)  # row-major order pairs each end with its start
    return rows, starts, ends


class CellOverlay(pg.GraphicsObject):
    """Numbers, hatching and outlines, painted in device pixels so text and pen
    widths stay the same size however the cells are stretched."""

    def __init__(self, owner: Heatmap) -> None:
        super().__init__()
        self._owner = owner
        self.font = QFont()
        self.show_numbers = False
        # Laid-out texts keyed by string: an edit changes few cells, so most are reused.
        self.static_texts: dict[str, QStaticText] = {}
        # paint() is then told the exposed part: a heatmap scrolled half out of view prints half.
        self.setFlag(self.GraphicsItemFlag.ItemUsesExtendedStyleOption)

    def boundingRect(self) -> QRectF:
        rows, cols = self._owner._values.shape
        return QRectF(-0.2, -0.2, cols + 0.4, rows + 0.4)

    def paint(self, p, option, *args) -> None:
        h = self._owner
        rows, cols = h._values.shape
        tr = p.transform()
        xs = tr.m11() * np.arange(cols + 1) + tr.dx()  # cell boundaries in device pixels
        ys = tr.m22() * np.arange(rows + 1) + tr.dy()
        x0, w = _edges(xs)
        y0, ht = _edges(ys)

        p.save()
        p.resetTransform()
        p.setRenderHint(p.RenderHint.Antialiasing, False)
        if h._has_missing:
            # One rectangle per run of masked cells: a causal mask is one run per row.
            hatch = QBrush(QColor(80, 80, 80), Qt.BrushStyle.BDiagPattern)
            for r, start, end in zip(*(a.tolist() for a in _runs(~np.isfinite(h._values)))):
                left, right = sorted((xs[start], xs[end]))
                p.fillRect(QRectF(left, y0[r], right - left, ht[r]), hatch)
        if self.show_numbers:
            self._paint_numbers(p, x0 + w / 2, y0 + ht / 2, option.exposedRect)
        p.setBrush(Qt.BrushStyle.NoBrush)
        selected = (np.array([h._selected[0]]), np.array([h._selected[1]])) if h._selected else None
        changed = None if _exporting[0] else h._changed
        # A dark rim under a bright stroke keeps outlines visible on any cell colour.
        for cells, grow, bright in ((changed, -2.5, QColor("#FFC20A")), (selected, 1.5, QColor("#FFFFFF"))):
            if cells is None or not len(cells[0]):
                continue
            r, c = cells
            if cells is changed and len(r) > MOST_CHANGED * rows * cols:
                # nearly everything moved: one frame says so without burying the colours
                left, right = sorted((xs[0], xs[-1]))
                top, bottom = sorted((ys[0], ys[-1]))
                rects = [QRectF(left - grow, top - grow, right - left + 2 * grow, bottom - top + 2 * grow)]
            else:
                rects = [QRectF(*box) for box in zip((x0[c] - grow).tolist(), (y0[r] - grow).tolist(),
                                                     (w[c] + 2 * grow).tolist(), (ht[r] + 2 * grow).tolist())]
            for pen in (QPen(QColor(0, 0, 0), 6), QPen(bright, 3)):
                p.setPen(pen)
                p.drawRects(rects)
        p.restore()

    def _paint_numbers(self, p, cx: np.ndarray, cy: np.ndarray, exposed: QRectF) -> None:
        """Print the exposed cells (`exposed` in cell units); texts are formatted when first printed."""
        h = self._owner
        cache = self.static_texts
        if len(cache) > 4096:
            cache.clear()
        rows, cols = h._values.shape
        r0, r1 = max(0, math.floor(exposed.top())), min(rows, math.ceil(exposed.bottom()))
        c0, c1 = max(0, math.floor(exposed.left())), min(cols, math.ceil(exposed.right()))
        dark = h._dark()[r0:r1, c0:c1]
        p.setFont(self.font)
        for is_dark, color in ((True, QColor(255, 255, 255)), (False, QColor(0, 0, 0))):
            p.setPen(color)
            for r, c in zip(*np.nonzero(dark == is_dark)):
                r, c = r + r0, c + c0
                text = h._text(r, c)
                st = cache.get(text)
                if st is None:
                    st = cache[text] = QStaticText(text)
                    st.prepare(font=self.font)
                size = st.size()
                p.drawStaticText(QPointF(cx[c] - size.width() / 2, cy[r] - size.height() / 2), st)
