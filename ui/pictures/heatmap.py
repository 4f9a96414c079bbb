"""Heatmap: one 2-D array shown as a labelled, colour-coded matrix.

Row 0 is on top, rows and columns carry token labels, each cell prints its
number while it is large enough to read, masked (-inf) and NaN cells are grey
and hatched, and changed or selected cells get an outline. The view is fixed
(no zoom or pan) because it is a teaching display, not a data explorer.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QFont, QFontMetricsF, QWheelEvent
from PySide6.QtWidgets import QMenu

from ui.pictures import colormaps
from ui.pictures.cell_overlay import CellOverlay

# format_value and widest_text are also imported from here by the views and tests
from ui.pictures.cell_text import COMPACT_BANDS, format_compact, format_value, widest_text
from ui.pictures.paper import Paper, follow_paper
from ui.typography import CELL_PT, TICK_PT
from ui.typography import HEADING_PT as TITLE_PT

MARGIN = 4  # around the title, axes and colour bar (pyqtgraph's 9 wastes room in small panels)
SPACING = 3  # between title, cells and colour bar
LABEL_OVERHANG = 30  # pixels a column label may reach past the first or last column
# How cell numbers are printed, tried in order until the widest one fits its cell:
# (compact form, font size relative to CELL_PT × the type scale). No size is below MIN_CELL_PT
# (too small to read): a picture set in small type still prints its numbers at that minimum.
# Numbers that do not fit even at the last level are not printed.
TEXT_LEVELS = ((False, 1.0), (True, 1.0), (True, 0.85), (True, 0.75), (True, 0.65), (True, 0.6))
MIN_CELL_PT = 7.0
NUMBER_GAP = 3  # pixels a cell is wider than its number: a pixel and a half each side


def cell_number_size(values: np.ndarray) -> tuple[float, float]:
    """(width, height) in pixels a cell needs for the widest of `values` at the smallest legible
    size (compact form at MIN_CELL_PT), the margins included (see `_refresh_number_visibility`)."""
    font = QFont()
    font.setPointSizeF(MIN_CELL_PT)
    fm = QFontMetricsF(font)
    return fm.horizontalAdvance(widest_text(values, format_compact, COMPACT_BANDS)) + NUMBER_GAP, fm.height() + 2


_NO_CELLS = (np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp))
_MISSING_WORD = np.array([colormaps.MISSING_COLOR.getRgb()], dtype=np.ubyte).view(np.uint32)[0]


class Heatmap(pg.GraphicsLayoutWidget):
    """A labelled matrix of numbers with a colour bar; see the module docstring."""

    sigCellClicked = Signal(object)  # (row, col)
    sigCellDoubleClicked = Signal(object)  # (row, col)
    sigCellHovered = Signal(object)  # (row, col), or None when the pointer leaves the cells
    sigCellNudged = Signal(object, float)  # (row, col), wheel steps (+1/-1 per notch)

    # Makes the right-click menu (the app sets ui.classroom.export.heatmap_menu: save the picture or the
    # numbers); a picture knows nothing of files, so without it there is no menu.
    context_menu: Callable[[Heatmap], QMenu] | None = None

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._ink = "#000000"  # titles and axes, from the palette (see paper.follow_paper)
        self._values = np.zeros((0, 0))
        self._kind = "signed"
        # Cell texts are formatted when first printed: most updates show cells too small for numbers.
        self._texts: dict[tuple[int, int], str] = {}
        self._text_sizes: dict[int, tuple[float, float]] = {}  # text level → widest text's (width, height)
        self._level: int | None = None  # index into TEXT_LEVELS of the printed numbers; None: not printed
        self._rgba = np.zeros((1, 1, 4), dtype=np.ubyte)  # [rows, cols, RGBA] the cells' colours
        self._dark_cells: np.ndarray | None = None  # bool [rows, cols], from _rgba when first needed
        self._has_missing = False
        self._labels: tuple = ()
        self._changed: tuple[np.ndarray, np.ndarray] = _NO_CELLS  # rows, cols
        self._selected: tuple[int, int] | None = None
        self._hovered: tuple[int, int] | None = None
        self._nudge = False
        self._maps = colormaps.DEFAULT_MAPS
        self._cmap: pg.ColorMap | None = None
        self._lut = np.zeros((256, 4), dtype=np.ubyte)
        self._lut_words = np.zeros(256, dtype=np.uint32)
        self._scale = 1.0
        self._label_style = (1.0, False, 1.0)  # column label font (relative), staggered, row label font
        self._bar_visible = True

        self.ci.setContentsMargins(MARGIN, MARGIN, MARGIN, MARGIN)
        self.ci.setSpacing(SPACING)
        self._title = self.addLabel("", row=0, col=0, colspan=2)
        self._title.item.document().setDocumentMargin(1)
        self._plot = self.addPlot(row=1, col=0)
        self._plot.setMouseEnabled(x=False, y=False)
        self._plot.setMenuEnabled(False)
        self._plot.hideButtons()
        self._plot.invertY(True)
        self._plot.showAxis("top")
        self._plot.hideAxis("bottom")
        self._plot.getViewBox().setDefaultPadding(0)
        self._image = pg.ImageItem(axisOrder="row-major")
        self._plot.addItem(self._image)
        self._overlay = CellOverlay(self)
        self._overlay.setParentItem(self._image)
        self._bar = pg.ColorBarItem(values=(0, 1), colorMap=colormaps.DIVERGING, width=18,
                                    interactive=False, colorMapMenu=False)
        self.addItem(self._bar, row=1, col=1)
        # The range is already rounded to nice numbers; a "(x1e3)" suffix would only puzzle.
        # Token axes have no units either; with the prefix off, a range change skips a label re-layout.
        for plot in (self._plot, self._bar):
            for side in ("left", "top", "right", "bottom"):
                plot.getAxis(side).enableAutoSIPrefix(False)

        scene = self.scene()
        scene.sigMouseClicked.connect(self._on_click)
        scene.sigMouseMoved.connect(self._on_move)
        # Fires after any resize or range change has reached the item transforms.
        self._plot.getViewBox().sigTransformChanged.connect(self._refresh_number_visibility)
        self.set_font_scale(1.0)
        self.set_data(np.zeros((1, 1)))
        follow_paper(self, self._apply_paper)

    # --- public API ---------------------------------------------------------

    def set_data(self, values: np.ndarray, row_labels: list[str] | None = None,
                 col_labels: list[str] | None = None, kind: str = "signed",
                 title: str = "", changed: np.ndarray | None = None,
                 levels: tuple[float, float] | None = None) -> None:
        """Show `values` (1-D input becomes one row); `changed` marks cells to outline;
        `levels` is a colour range shared with other heatmaps (default: from `values`)."""
        v = np.array(values, dtype=float)
        v = v[np.newaxis, :] if v.ndim == 1 else v
        if v.ndim != 2 or v.size == 0:
            raise ValueError(f"Heatmap needs a non-empty 1-D or 2-D array, got shape {v.shape}")
        rows, cols = v.shape
        rows_l = list(row_labels) if row_labels is not None else [str(i) for i in range(rows)]
        cols_l = list(col_labels) if col_labels is not None else [str(j) for j in range(cols)]
        if len(rows_l) != rows or len(cols_l) != cols:
            raise ValueError(f"{len(rows_l)}x{len(cols_l)} labels for a {rows}x{cols} array")
        mask = None if changed is None else np.asarray(changed, dtype=bool)
        if mask is not None:
            mask = mask[np.newaxis, :] if mask.ndim == 1 else mask
            if mask.shape != v.shape:
                raise ValueError(f"changed mask shape {mask.shape} != values shape {v.shape}")
        cmap, (lo, hi) = colormaps.for_values(v, kind, self._maps)
        if levels is not None:
            lo, hi = levels

        shape_changed = v.shape != self._values.shape
        self._values, self._kind = v, kind
        if cmap is not self._cmap:
            self._cmap, self._lut = cmap, colormaps.lookup_table(cmap)
            self._lut_words = np.ascontiguousarray(self._lut).view(np.uint32).ravel()  # [256]
            self._bar.setColorMap(cmap)
        if self._bar.levels() != (lo, hi):
            self._bar.setLevels((lo, hi))
            self._fit_bar_width()
        finite = np.isfinite(v)
        self._has_missing = not finite.all()
        x = np.where(finite, v, lo) if self._has_missing else v
        idx = np.clip(np.rint((x - lo) / (hi - lo) * 255), 0, 255)
        # One 32-bit word per RGBA colour: a take and a masked fill, ten times faster than on [.., 4] bytes.
        words = np.take(self._lut_words, idx.astype(np.intp))
        if self._has_missing:
            words[~finite] = _MISSING_WORD
        rgba = words.view(np.ubyte).reshape(rows, cols, 4)
        self._rgba, self._dark_cells = rgba, None
        self._image.setImage(rgba, autoLevels=False)
        self._texts = {}
        self._text_sizes = {}

        # Re-laying out the axes is the slow part of an update, so skip it when nothing changed.
        if (rows_l, cols_l) != self._labels:
            self._labels = (rows_l, cols_l)
            self._set_ticks()
        if title != self._title.text:
            self._set_title(title)
        self._changed = _NO_CELLS if mask is None else np.nonzero(mask)
        if self._selected and not self._in_range(*self._selected):
            self._selected = None
        if shape_changed:
            self._overlay.prepareGeometryChange()
            self._plot.setRange(xRange=(0, cols), yRange=(0, rows), padding=0)
        self._refresh_number_visibility()
        self._overlay.update()

    @property
    def maps(self) -> colormaps.Maps:
        return self._maps

    def set_maps(self, maps: colormaps.Maps) -> None:
        """Colour with other maps (View ▸ Theme; see colormaps.keep_maps)."""
        if maps != self._maps:
            self._maps = maps
            if not self.closed:  # pyqtgraph empties a closed view's scene
                self.recolor()

    def recolor(self) -> None:
        """Colour the cells again with the current maps."""
        changed = np.zeros(self._values.shape, dtype=bool)
        changed[self._changed] = True
        rows, cols = self.labels()
        self.set_data(self._values, rows, cols, self._kind, self._title.text, changed)

    def set_selected(self, cell: tuple[int, int] | None) -> None:
        """Outline one cell (e.g. the one being edited); None clears it."""
        self._selected = tuple(cell) if cell is not None and self._in_range(*cell) else None
        self._overlay.update()

    def set_nudge_enabled(self, enabled: bool) -> None:
        """When on, the wheel over a cell emits sigCellNudged instead of scrolling the page."""
        self._nudge = bool(enabled)

    def set_font_scale(self, f: float) -> None:
        """Scale every font (ticks, numbers, title, colour bar), e.g. 1.5 for presenting."""
        self._scale = float(f)
        self._apply_tick_fonts()
        self._set_ticks()  # a staggered axis is two lines of the new font tall
        self._cell_fonts = []
        for _, size in TEXT_LEVELS:
            font = QFont()
            # never below the legible minimum: a picture set in small type still prints its numbers
            # at MIN_CELL_PT when its cells have room for them
            font.setPointSizeF(max(CELL_PT * self._scale * size, MIN_CELL_PT))
            self._cell_fonts.append(font)
        self._overlay.font = self._cell_fonts[self._level or 0]
        self._overlay.static_texts.clear()
        self._set_title(self._title.text)
        self._text_sizes = {}
        self._refresh_number_visibility()
        self._overlay.update()

    def set_label_style(self, scale: float = 1.0, stagger: bool = False, row_scale: float | None = None) -> None:
        """Fit many token labels: `scale` shrinks the column labels (and the row labels unless
        `row_scale` is given), relative to the font scale; `stagger` sets every other column
        label one line higher, so wide labels over narrow columns do not run into each other."""
        style = (float(scale), bool(stagger), float(scale if row_scale is None else row_scale))
        if style != self._label_style:
            self._label_style = style
            self._apply_tick_fonts()
            self._set_ticks()

    def label_style(self) -> tuple[float, bool, float]:
        """(column label scale, staggered column labels, row label scale), see `set_label_style`."""
        return self._label_style

    def set_colorbar_visible(self, visible: bool) -> None:
        """Show or hide the colour bar (a thumbnail has no room for its tick labels)."""
        if bool(visible) == self._bar_visible:
            return
        self._bar_visible = bool(visible)
        if visible:
            self.addItem(self._bar, row=1, col=1)
        else:
            self.removeItem(self._bar)

    def colorbar_visible(self) -> bool:
        return self._bar_visible

    def set_axes_visible(self, visible: bool) -> None:
        """Show or hide the token axes (labels and ticks) beside the cells."""
        for side in ("left", "top"):
            self._plot.showAxis(side, bool(visible))

    def values(self) -> np.ndarray:
        """The 2-D array on screen (1-D input is returned as one row)."""
        return self._values.copy()

    def cell_text(self, row: int, col: int) -> str:
        """The number printed in a cell, or "" while cells are too small for numbers."""
        return self._text(row, col) if self._level is not None else ""

    def title(self) -> str:
        return self._title.text

    def labels(self) -> tuple[list[str], list[str]]:
        """(row labels, column labels) on screen."""
        rows, cols = self._labels or ([], [])
        return list(rows), list(cols)

    def changed_cells(self) -> list[tuple[int, int]]:
        """Cells currently outlined as changed."""
        return [(int(r), int(c)) for r, c in zip(*self._changed)]

    @property
    def image_item(self) -> pg.ImageItem:
        """The ImageItem whose local coordinates are cell units (col, row)."""
        return self._image

    # --- internals ----------------------------------------------------------

    def _apply_paper(self, paper: Paper) -> None:
        self.setBackground(paper.ground)
        self._ink = paper.ink.name()
        self._apply_tick_fonts()
        self._set_title(self._title.text)

    def _set_title(self, title: str) -> None:
        self._title.setText(title, size=f"{TITLE_PT * self._scale:g}pt", color=self._ink, bold=True)
        # An empty title should not leave a blank band above the matrix.
        self._title.setMaximumHeight(1e6 if title else 0)

    def _text(self, r: int, c: int) -> str:
        text = self._texts.get((r, c))
        if text is None:
            compact = TEXT_LEVELS[self._level or 0][0]
            v = float(self._values[r, c])
            text = self._texts[r, c] = format_compact(v) if compact else format_value(v)
        return text

    def _apply_tick_fonts(self) -> None:
        tick, labels, row_labels = QFont(), QFont(), QFont()
        tick.setPointSizeF(TICK_PT * self._scale)
        labels.setPointSizeF(TICK_PT * self._scale * self._label_style[0])
        row_labels.setPointSizeF(TICK_PT * self._scale * self._label_style[2])
        # no tick marks on the token axes: poking into the cells, they read as minus signs
        for axis, font, mark in ((self._plot.getAxis("left"), row_labels, 0), (self._plot.getAxis("top"), labels, 0),
                                 (self._bar.axis, tick, -5)):
            axis.setStyle(tickFont=font, tickTextOffset=int(4 * self._scale), tickLength=mark)
            axis.setTextPen(self._ink)
            axis.setPen(self._ink)
        # "<unk>" over a narrow first column is wider than it: shown, not dropped
        self._plot.getAxis("top").setStyle(hideOverlappingLabels=int(LABEL_OVERHANG * self._scale))
        # the colour bar's end values ("−40", "40") are centred on its ends and so reach half a line past
        # them: shown, not dropped (a short bar in large type kept only its "0")
        reach = int(QFontMetricsF(tick).height() / 2 + 2)
        self._bar.axis.setStyle(hideOverlappingLabels=reach)
        self.ci.setContentsMargins(MARGIN, MARGIN, MARGIN, max(MARGIN, reach))  # room for the bottom one
        self._fit_bar_gap()
        self._fit_bar_width()

    def _set_ticks(self) -> None:
        rows, cols = self._labels or ([], [])
        top = self._plot.getAxis("top")
        stagger = self._label_style[1]
        # A trailing line break lifts a label one line: the axis aligns each label's bottom.
        top.setTicks([[(j + 0.5, s + "\n" if stagger and j % 2 else s) for j, s in enumerate(cols)]])
        if stagger:
            font = top.style["tickFont"]
            top.setHeight(int(2 * QFontMetricsF(font).height() + top.style["tickTextOffset"][1] + 6))
        elif top.fixedHeight is not None:
            top.setHeight(None)
        self._plot.getAxis("left").setTicks([[(i + 0.5, s) for i, s in enumerate(rows)]])
        self._fit_bar_gap()

    def _fit_bar_width(self) -> None:
        """Make the colour bar's axis as wide as its widest value label could be (pyqtgraph fixes it at
        45 pixels, and drops the labels that do not fit: in large type, all but "0")."""
        axis = self._bar.axis
        lo, hi = self._bar.levels()
        metrics = QFontMetricsF(axis.style["tickFont"] or QFont())
        widest = 0.0
        for spacing, _ in axis.tickSpacing(lo, hi, 1000) if hi > lo else ():
            for text in axis.tickStrings([lo, lo + spacing, hi - spacing, hi], 1.0, spacing):
                widest = max(widest, metrics.horizontalAdvance(text))
        width = int(math.ceil(widest)) + axis.style["tickTextOffset"][0] + max(0, axis.style["tickLength"]) + 2
        if axis.fixedWidth != width:
            axis.setWidth(width)

    def _fit_bar_gap(self) -> None:
        """Room between the cells and the colour bar for a column label centred on the last column
        (it may reach LABEL_OVERHANG past it): the label must not run into the bar's colours."""
        cols = self._labels[1] if self._labels else []
        metrics = QFontMetricsF(self._plot.getAxis("top").style["tickFont"] or QFont())
        reach = max((metrics.horizontalAdvance(s) for s in cols[-8:]), default=0.0) / 2
        gap = SPACING + int(min(reach, LABEL_OVERHANG * self._scale))
        if self.ci.layout.columnSpacing(0) != gap:
            self.ci.layout.setColumnSpacing(0, gap)

    def _dark(self) -> np.ndarray:
        """Where a cell's text should be white rather than black."""
        if self._dark_cells is None:
            self._dark_cells = colormaps.is_dark(self._rgba)
        return self._dark_cells

    def _text_size(self, level: int, max_height: float) -> tuple[float, float]:
        """(width, height) of the widest cell text printed at `level`; the text is only
        looked for once the font's height fits in `max_height`."""
        size = self._text_sizes.get(level)
        if size is None:
            fm = QFontMetricsF(self._cell_fonts[level])
            if (fm.height() > max_height or self._says_nothing()
                    or self._cell_fonts[level].pointSizeF() < MIN_CELL_PT - 1e-6):
                return math.inf, fm.height()
            compact = TEXT_LEVELS[level][0]
            widest = (widest_text(self._values, format_compact, COMPACT_BANDS) if compact
                      else widest_text(self._values))
            # Digits are near-equal in width, so the longest string is the widest.
            size = self._text_sizes[level] = (fm.horizontalAdvance(widest), fm.height())
        return size

    def _says_nothing(self) -> bool:
        """Whether every number would print as zero while the colours differ (differences of
        1e-4, say): "0.00" in every cell would contradict the colour bar, so none is printed."""
        finite = np.abs(self._values[np.isfinite(self._values)])
        return finite.size > 0 and 0 < finite.max() < 0.005

    def _in_range(self, r: int, c: int) -> bool:
        rows, cols = self._values.shape
        return 0 <= r < rows and 0 <= c < cols

    def _cell_at_scene(self, pos) -> tuple[int, int] | None:
        p = self._image.mapFromScene(pos)
        r, c = int(np.floor(p.y())), int(np.floor(p.x()))
        return (r, c) if self._in_range(r, c) else None

    def _refresh_number_visibility(self, *_) -> None:
        p0 = self._image.mapToScene(QPointF(0, 0))
        p1 = self._image.mapToScene(QPointF(1, 1))
        w, h = abs(p1.x() - p0.x()), abs(p1.y() - p0.y())
        level = None
        for i in range(len(TEXT_LEVELS)):
            tw, th = self._text_size(i, h - 2)
            if w >= tw + NUMBER_GAP and h >= th + 2:
                level = i
                break
        if level != self._level:
            if TEXT_LEVELS[level or 0] != TEXT_LEVELS[self._level or 0]:
                self._texts = {}
                self._overlay.font = self._cell_fonts[level or 0]
                self._overlay.static_texts.clear()
            self._level = level
            self._overlay.show_numbers = level is not None
            self._overlay.update()

    def _on_click(self, ev) -> None:
        # Double clicks are reported by mouseDoubleClickEvent, which does not wait for a release.
        if ev.button() != Qt.MouseButton.LeftButton or ev.double():
            return
        cell = self._cell_at_scene(ev.scenePos())
        if cell is not None:
            self.sigCellClicked.emit(cell)

    def _on_move(self, pos) -> None:
        self._set_hovered(self._cell_at_scene(pos))

    def _set_hovered(self, cell: tuple[int, int] | None) -> None:
        # Only report changes: the pointer moves many pixels within one cell.
        if cell != self._hovered:
            self._hovered = cell
            self.sigCellHovered.emit(cell)

    def leaveEvent(self, ev) -> None:
        self._set_hovered(None)
        super().leaveEvent(ev)

    def mouseDoubleClickEvent(self, ev) -> None:
        cell = self._cell_at_scene(self.mapToScene(ev.position().toPoint()))
        if ev.button() == Qt.MouseButton.LeftButton and cell is not None:
            self.sigCellDoubleClicked.emit(cell)
        super().mouseDoubleClickEvent(ev)

    def contextMenuEvent(self, ev) -> None:
        if Heatmap.context_menu is not None:
            Heatmap.context_menu(self).popup(ev.globalPos())

    def wheelEvent(self, ev: QWheelEvent) -> None:
        cell = self._cell_at_scene(self.mapToScene(ev.position().toPoint()))
        steps = ev.angleDelta().y() / 120.0
        if self._nudge and cell is not None and steps:
            self.sigCellNudged.emit(cell, steps)
            ev.accept()
        else:
            # Not zoomable on purpose; let an enclosing scroll area have the wheel.
            ev.ignore()
