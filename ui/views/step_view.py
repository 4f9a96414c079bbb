"""The central picture: the current step drawn as inputs → operation → output.

`step_pictures.build_picture` decides what to draw; this widget lays it out as rows of
heatmaps with big operation symbols between them, and keeps the widgets when only the
numbers change, so an edit repaints without rebuilding anything.
"""
from __future__ import annotations

import html

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPalette
from PySide6.QtWidgets import QGraphicsWidget, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ui.bridge import SessionBridge
from ui.messages import plain
from ui.pictures import colormaps
from ui.pictures import heatmap as heatmap_mod
from ui.pictures.heatmap import Heatmap, format_value
from ui.pictures.next_token import NextTokenPanel
from ui.pictures.paper import follow_paper
from ui.pictures.picture_items import Bars, Lines, Panel, Picture, Symbol, one_bar_per_scale
from ui.pictures.picture_layout import MIN_LABEL_SCALE, ROW_LABEL_SHARE, SPACING, Piece, fit_labels, fits, inside, place
from ui.pictures.picture_parts import NOTE_PT, PAD, PanelBox, SymbolLabel, border_width
from ui.pictures.plots import AttentionLines
from ui.pictures.slice_bar import SliceBar
from ui.pictures.step_pictures import build_picture, lines_focus
from ui.typography import FORMULA_PT, TITLE_PT

SMALLER = 0.87  # a title too long for one line is set this much smaller first
BAR_WIDTH = 70  # the heatmap's colour bar with its tick labels
STRIP_HEIGHT = 130  # the thumbnail strip (attention stages) at font scale 1 ...
STRIP_SHARE = 0.26  # ... and at most this share of the picture's height
# When the picture does not fit its canvas (a lesson panel beside it, large presentation type), its
# type (titles, labels, symbols) is set smaller, step by step, before anything may overlap or clip.
FIT_STEPS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
GOOD_CELL = 15.0  # cells this tall (and 1.6 times as wide) at font scale 1 have room for a number


class _Canvas(QWidget):
    """Holds the picture's widgets and places them (see picture_layout) on every resize."""

    def __init__(self, owner: StepView) -> None:
        super().__init__()
        self._owner = owner

    def resizeEvent(self, ev) -> None:
        self._owner._place()
        super().resizeEvent(ev)


class StepView(QWidget):
    """The current step as pictures; see the module docstring.

    Clicking a cell selects it (`bridge.select_cell`) with its full index into the step's
    value; pointing at a cell shows its value under the picture.
    """

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._scale = 1.0
        self._picture: Picture | None = None
        self._signature = None
        self._drawn_step: str | None = None  # the step the picture shows
        self._settle_posted = False
        self._position: int | None = None  # query position of the next-token bars
        self._focus: int | None = None  # query row singled out in the attention lines
        self._start = 0  # first column of the window a long feature axis shows (d_model 384 and up)
        self._pool: list[PanelBox] = []
        self._symbols: list[SymbolLabel] = []
        self._shown: list[QWidget] = []  # widgets of the current picture, in item order

        self._title = QLabel()  # the step's name in words, then its formula, on one line if they fit
        self._title.setWordWrap(True)
        self._title.setTextFormat(Qt.TextFormat.RichText)
        self._name = plain(QLabel())
        self._name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._hover = plain(QLabel(" "))  # token names on the axes
        self._canvas = _Canvas(self)
        self._lines = AttentionLines(self._canvas)
        self._next = NextTokenPanel(self._canvas)
        self._slice = SliceBar()  # which part of a checkpoint's long axes is drawn, and moving it
        self._before_ablation = None  # (trace, probs with every component on) for the next-token title
        colormaps.keep_maps(self.bridge, self._next.bars)
        self._lines.hide()
        self._next.hide()

        # the step's code name goes under the picture: beside the title it pushed the formula
        # onto a second line on a 1280-pixel projector
        foot = QHBoxLayout()
        foot.addWidget(self._hover, 1)
        foot.addWidget(self._name, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 2)
        lay.setSpacing(4)
        lay.addWidget(self._title)
        lay.addWidget(self._canvas, 1)
        lay.addWidget(self._slice)
        lay.addLayout(foot)
        # the picture's paper: white in the light theme, dark in the dark one (ui.pictures.paper)
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self.setAutoFillBackground(True)
        follow_paper(self, lambda paper: self._name.setStyleSheet(f"color: {paper.muted.name()}"))

        self._slice.sigStartChosen.connect(self._choose_start)
        self._next.sigPositionChosen.connect(self._choose_position)
        self._next.sigTemperatureChosen.connect(self._choose_temperature)
        bridge.sigTraceChanged.connect(self.refresh)
        bridge.sigStepChanged.connect(self._step_changed)
        bridge.sigHeadChanged.connect(self.refresh)
        bridge.sigHighlightChanged.connect(self.refresh)
        bridge.sigCellSelected.connect(self._show_selection)
        self.set_font_scale(1.0)

    # --- for the window and for tests ------------------------------------------------------

    @property
    def picture_kind(self) -> str:
        """"attention", "residual", "concat", … (see step_pictures.build_picture)."""
        return self._picture.kind if self._picture else ""

    @property
    def picture(self) -> Picture | None:
        return self._picture

    def heatmaps(self) -> dict[str, Heatmap]:
        """Title → heatmap currently shown."""
        return {w.panel.title: w.heatmap for w in self._shown if isinstance(w, PanelBox)}

    def current_heatmap(self) -> Heatmap | None:
        """The heatmap of the step itself, drawn large (the last emphasised one)."""
        boxes = [w for w in self._shown if isinstance(w, PanelBox) and w.panel.current]
        return boxes[-1].heatmap if boxes else None

    def attention_lines(self) -> AttentionLines:
        return self._lines

    def next_token(self) -> NextTokenPanel:
        return self._next

    def set_font_scale(self, f: float) -> None:
        """Scale every text, e.g. 1.4 when projecting."""
        self._scale = float(f)
        for label, pt, bold in ((self._title, FORMULA_PT, False), (self._name, NOTE_PT, False),
                                (self._hover, FORMULA_PT, False)):
            font = QFont()
            font.setPointSizeF(pt * f)
            font.setBold(bold)
            label.setFont(font)
        self._slice.set_font_scale(f)
        for w in (*self._pool, *self._symbols, self._lines, self._next):
            w.drawn_scale = f  # each widget's type scale; _place may set it smaller to fit
        for box in self._pool:
            box.heatmap.set_font_scale(f)
        self._lines.set_font_scale(f)
        self._next.set_font_scale(f)
        self._signature = None
        self.refresh()

    # --- drawing ---------------------------------------------------------------------------

    def _step_changed(self) -> None:
        if self.bridge.stepper.name != self._drawn_step:
            self._focus = None
            self.clear_hover()
        self.refresh()

    def clear_hover(self) -> None:
        """Forget the pointed-at cell's read-out (another step, or Esc)."""
        self._hover.setText(" ")

    def refresh(self) -> None:
        """Rebuild the picture from the bridge (widgets are reused when the layout is unchanged)."""
        b = self.bridge
        name = self._drawn_step = b.stepper.name
        pic = build_picture(b.trace, b.model, b.session.changes, name, b.head, b.highlight,
                            self._position, self._focus, self._start)
        one_bar_per_scale(pic)
        self._slice.set_window(list(pic.window), pic.longest, self._start)
        self._show_title(pic)
        self._name.setText(b.trace.graph.node(name).name)
        items = [it for row in pic.rows for it in row]
        signature = tuple(type(it).__name__ for it in items)
        if signature != self._signature:
            self._assign(items)
            self._signature = signature
        old = self._picture
        self._picture = pic
        self._fill(items)
        if old is None or _geometry_key(old) != _geometry_key(pic):
            self._place()
        self._show_selection(b.cell)
        self._settle_soon()

    def _settle_soon(self) -> None:
        """Settle the plots (see `_settle`) once every view has heard of this change, before Qt paints."""
        if not self._settle_posted:
            self._settle_posted = True
            QCoreApplication.postEvent(self, QEvent(_SETTLE), Qt.EventPriority.HighEventPriority.value)

    def event(self, ev) -> bool:
        if ev.type() == _SETTLE:
            self._settle_posted = False
            _settle(self, self._canvas)
            return True
        return super().event(ev)

    def _show_title(self, pic: Picture) -> None:
        """The step's name and formula on one line: the formula (then the name) a size smaller
        when that keeps them on one line, else wrapped at full size."""
        room = self.width() - 24
        sizes = [(TITLE_PT, FORMULA_PT), (TITLE_PT, SMALLER * FORMULA_PT), (SMALLER * TITLE_PT, SMALLER * FORMULA_PT),
                 (SMALLER * TITLE_PT, SMALLER ** 2 * FORMULA_PT)]
        for title_pt, formula_pt in sizes:
            title, formula = QFont(), QFont()
            title.setPointSizeF(title_pt * self._scale)
            title.setBold(True)
            formula.setPointSizeF(formula_pt * self._scale)
            width = (QFontMetricsF(title).horizontalAdvance(pic.title)
                     + QFontMetricsF(formula).horizontalAdvance("\u00a0" * 4 + pic.formula))
            if width <= room:
                gap = "&nbsp;&nbsp;&nbsp; "
                break
        else:
            # the formula on a line of its own rather than broken after "pattern ="
            (title_pt, formula_pt), gap = sizes[0], "<br>"
        self._title.setText(f"<span style='font-size:{title_pt * self._scale:g}pt; font-weight:bold'>"
                            f"{html.escape(pic.title)}</span>{gap}"
                            f"<span style='font-size:{formula_pt * self._scale:g}pt'>{html.escape(pic.formula)}</span>")

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if self._picture is not None:
            self._show_title(self._picture)

    def _assign(self, items: list) -> None:
        """Pick a widget for every item: pooled heatmap boxes, symbol labels, lines, bars."""
        for w in self._shown:
            w.hide()
        self._shown = []
        boxes, symbols = iter(self._pool), iter(self._symbols)
        for it in items:
            if isinstance(it, Panel):
                w = next(boxes, None) or self._new_box()
            elif isinstance(it, Symbol):
                w = next(symbols, None)
                if w is None:
                    w = SymbolLabel(self._canvas)
                    w.drawn_scale = self._scale
                    self._symbols.append(w)
            elif isinstance(it, Lines):
                w = self._lines
            else:
                w = self._next
            w.show()
            self._shown.append(w)

    def _new_box(self) -> PanelBox:
        box = PanelBox(self._canvas)
        colormaps.keep_maps(self.bridge, box.heatmap)
        box.heatmap.set_font_scale(self._scale)
        box.drawn_scale = self._scale
        box.heatmap.sigCellClicked.connect(lambda cell, b=box: self._cell_clicked(b, cell))
        box.heatmap.sigCellHovered.connect(lambda cell, b=box: self._cell_hovered(b, cell))
        self._pool.append(box)
        return box

    def _switched_on_probs(self):
        """The probabilities with every component on, when some are switched off (else None)  # [pos, vocab]"""
        trace = self.bridge.trace
        if not trace.ablate:
            return None
        cached = self._before_ablation
        if cached is None or cached[0] is not trace:
            whole = self.bridge.model.run(trace.tokens, temperature=trace.temperature)
            self._before_ablation = cached = (trace, whole["probs"])
        return cached[1]

    def _fill(self, items: list) -> None:
        for it, w in zip(items, self._shown):
            if isinstance(it, Panel):
                w.show_panel(it)
            elif isinstance(it, Symbol):
                w.show_symbol(it, getattr(w, "drawn_scale", self._scale))
            elif isinstance(it, Lines):
                w.set_data(it.pattern, it.q_labels, it.k_labels, it.heads, focus_query=it.focus)
            elif isinstance(it, Bars):
                self._position = it.position
                w.set_data(it.probs, it.vocab, it.positions, it.position, it.temperature, self._switched_on_probs(),
                           it.logits, classes=it.classes, what=it.what)

    def _place(self) -> None:
        """Give every widget of the picture its rectangle in the canvas."""
        pic = self._picture
        if pic is None:
            return
        width, height = self._canvas.width(), self._canvas.height()
        # the thumbnail strip gives way first: the step's own heatmaps keep their type longest
        # and the largest type whose cells still have room for numbers wins; failing that, the
        # layout with the largest cells
        # (the next-token controls keep the width their words need, unless nothing fits then)
        candidates = []
        needs = _number_sizes(pic)
        for room_for_controls in (True, False):
            for f, g in [(f, g) for f in FIT_STEPS for g in FIT_STEPS if g <= f]:
                scales = self._row_scales(pic, f, g)
                pieces, rects = self._layout(pic, width, height, scales, room_for_controls)
                if fits(pieces, rects, width, height):
                    candidates.append((_smallest_cell(pic, pieces, rects), scales, pieces, rects,
                                       _with_numbers(pic, pieces, rects, needs)))
            if candidates:
                break
        if candidates:
            # smaller type before numbers are dropped: only the layouts printing the most
            # heatmaps' numbers, then smaller type only for clearly larger cells
            most = max(c[4] for c in candidates)
            candidates = [c for c in candidates if c[4] == most]
            enough = min(GOOD_CELL * self._scale, 0.9 * max(c[0] for c in candidates))
            chosen = next(c for c in candidates if c[0] >= enough)
            if not most:
                # no numbers anywhere (64 columns, say): colours need no larger cells, so the largest
                # type whose rows still hold every token label
                chosen = next((c for c in candidates if self._rows_labelled(pic, *c[1:4])), chosen)
            _, scales, pieces, rects, _ = chosen
        else:
            # nothing fits (a long vocabulary's every column, say): the controls keep their words
            # and the heatmaps' cells shrink below the usual least, if that stays inside the view
            scales = self._row_scales(pic, FIT_STEPS[-1], FIT_STEPS[-1])
            pieces, rects = self._layout(pic, width, height, scales)
            if not inside(rects, width, height):
                pieces, rects = self._layout(pic, width, height, scales, room_for_controls=False)
        self._apply_scales(pic, scales)
        canvas = self._canvas.rect()
        for w, piece, rect in zip(self._shown, pieces, rects):
            w.setGeometry(rect.toAlignedRect().intersected(canvas))  # rounding never adds a pixel outside
            if isinstance(w, PanelBox) and w.panel is not None and not w.panel.thumb:
                self._fit_labels(w, piece, rect)

    def _rows_labelled(self, pic: Picture, scales: list[float], pieces: list[Piece], rects: list) -> bool:
        """Whether every big heatmap's rows are tall enough for all its token labels (see fit_labels)."""
        thumbs = {id(it) for i in pic.small for it in pic.rows[i]}
        items = iter(zip(pieces, rects))
        for row, scale in zip(pic.rows, scales):
            need = ROW_LABEL_SHARE * MIN_LABEL_SCALE * QFontMetricsF(self._tick_font(scale)).height()
            for it in row:
                p, r = next(items)
                if (isinstance(it, Panel) and p.grid and id(it) not in thumbs and not _indices(it.rows)
                        and (r.height() - p.height) / (p.rows * p.weight) < need):
                    return False
        return True

    def _row_scales(self, pic: Picture, f: float, g: float) -> list[float]:
        """The type scale of each row: `f` × the view's scale, `g` × for the thumbnail strip."""
        return [self._scale * (g if i in pic.small else f) for i in range(len(pic.rows))]

    def _layout(self, pic: Picture, width: float, height: float, scales: list[float],
                room_for_controls: bool = True) -> tuple[list[Piece], list]:
        """The pieces and their rectangles with each row's type at its scale."""
        widgets = iter(self._shown)
        rows = [[self._piece(it, next(widgets), width, s, room_for_controls) for it in row]
                for row, s in zip(pic.rows, scales)]
        small = {i: min(STRIP_HEIGHT * scales[i], STRIP_SHARE * height) for i in pic.small}
        main = [s for i, s in enumerate(scales) if i not in pic.small] or scales
        label_h = QFontMetricsF(self._tick_font(min(main))).height()
        return [p for row in rows for p in row], place(rows, width, height, small, label_h)

    def _apply_scales(self, pic: Picture, scales: list[float]) -> None:
        """Draw each row's widgets with their row's type scale (only where it changed)."""
        widgets = iter(self._shown)
        for row, scale in zip(pic.rows, scales):
            for it, w in zip(row, widgets):
                if getattr(w, "drawn_scale", None) == scale:
                    continue
                w.drawn_scale = scale
                if isinstance(w, PanelBox):
                    w.heatmap.set_font_scale(scale)
                elif isinstance(w, SymbolLabel):
                    w.show_symbol(it, scale)
                else:
                    w.set_font_scale(scale)

    def layout_fits(self) -> bool:
        """Whether every part of the picture lies inside the canvas and no two overlap (for tests)."""
        rects = [w.geometry() for w in self._shown]
        canvas = self._canvas.rect()
        return all(canvas.contains(r) for r in rects) and not any(
            a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])

    def _fit_labels(self, box: PanelBox, piece: Piece, rect) -> None:
        """Every token label if the cells have room at a smaller or staggered font, else every k-th."""
        panel = box.panel
        n_rows, n_cols = panel.values.shape
        fm = QFontMetricsF(self._tick_font(getattr(box, "drawn_scale", self._scale)))
        cw = max(1.0, (rect.width() - piece.width) / n_cols)
        ch = max(1.0, (rect.height() - piece.height) / n_rows)
        widest = max((fm.horizontalAdvance(s) for s in panel.cols), default=0.0) + 6
        fit = fit_labels(cw, ch, fm.height(), widest, not _indices(panel.rows), not _indices(panel.cols))
        if fit != box.fit:
            box.fit = fit
            box.show_panel(panel)

    def _tick_font(self, scale: float | None = None) -> QFont:
        tick = QFont()
        tick.setPointSizeF(heatmap_mod.TICK_PT * (scale or self._scale))
        return tick

    def _piece(self, it, w: QWidget, width: float, scale: float, room_for_controls: bool = True) -> Piece:
        if isinstance(it, Panel):
            # the heatmap's fixed parts, as pyqtgraph lays them out: margins, title, axes, colour bar
            fm = QFontMetricsF(self._tick_font(scale))
            title = QFont()
            title.setPointSizeF(heatmap_mod.TITLE_PT * scale)
            title.setBold(True)
            title_h = QFontMetricsF(title).height() + 5
            side = PAD + border_width(it)  # of the PanelBox: its padding and frame, each side
            title_w = QFontMetricsF(title).horizontalAdvance(it.title) + 2 * side + 2 * heatmap_mod.MARGIN + 12
            frame = 2 * side + 2 * heatmap_mod.MARGIN + 2
            if it.thumb:
                return Piece(frame + 6, frame + title_h, *it.values.shape, it.weight, min_width=title_w)
            left = max(fm.horizontalAdvance(s) for s in it.rows) + 8
            top = title_h + 0.8 * fm.height() + 8
            bar = BAR_WIDTH * max(1.0, scale) if it.bar else 0.0
            return Piece(frame + left + bar, frame + top, *it.values.shape, it.weight, min_width=title_w)
        if isinstance(it, Symbol):
            hint = w.sizeHint()  # at the type it is drawn with now: scaled to the one tried
            f = scale / getattr(w, "drawn_scale", self._scale)
            return Piece((hint.width() + 8) * f, hint.height() * f, breakable=True)
        share = 0.24 if isinstance(it, Lines) else 0.28
        wide = min(max(share * width, 220 * scale), 460 * scale)
        if isinstance(it, Bars) and room_for_controls:  # its buttons and slider as wide as their words
            # (buttons have a floor width, so smaller type is not assumed to narrow them)
            need = w.minimumSizeHint().width() * max(1.0, scale / getattr(w, "drawn_scale", self._scale)) + SPACING
            return Piece(max(wide, need), 0, column=True, min_width=need)
        return Piece(wide, 0, column=True)

    # --- interaction -----------------------------------------------------------------------

    def _cell_clicked(self, box: PanelBox, cell: tuple[int, int]) -> None:
        panel = box.panel
        if panel is None:
            return
        if self.picture_kind == "attention" and panel.step:
            self._focus = None if self._focus == cell[0] else cell[0]
        if self.picture_kind == "probs":
            self._position = cell[0]
        if panel.step and panel.slicer:
            self.bridge.select_cell(panel.step, panel.slicer.index(*cell))
        else:
            self._refresh_extras()

    def _cell_hovered(self, box: PanelBox, cell: tuple[int, int] | None) -> None:
        panel = box.panel
        if panel is None or cell is None:
            self._hover.setText(" ")
            return
        r, c = cell
        value = format_value(float(panel.values[r, c]))
        self._hover.setText(f"{panel.title}   [{panel.rows[r]}, {panel.cols[c]}]  =  {value}")

    def _show_selection(self, selected) -> None:
        """Outline the selected cell wherever the picture shows it."""
        for w in self._shown:
            if isinstance(w, PanelBox) and w.panel is not None:
                p = w.panel
                on = selected is not None and p.slicer is not None and p.step == selected[0]
                w.heatmap.set_selected(p.slicer.cell(selected[1]) if on else None)
        self._refresh_extras()

    def _refresh_extras(self) -> None:
        """Lines follow the focused query; bars follow the chosen position."""
        if self._picture is None:
            return
        for it in (it for row in self._picture.rows for it in row):
            focus = lines_focus(self._focus, len(it.q_labels)) if isinstance(it, Lines) else None
            if isinstance(it, Lines) and it.focus != focus:
                it.focus = focus
                self._lines.set_data(it.pattern, it.q_labels, it.k_labels, it.heads, focus_query=focus)
            elif isinstance(it, Bars) and self._position is not None and it.position != self._position:
                if any("tokens" in note for p in self._picture.panels() for note in p.window):
                    self.refresh()  # the heatmaps show the top tokens of the chosen position
                    return
                it.position = min(self._position, len(it.positions) - 1)
                self._next.set_data(it.probs, it.vocab, it.positions, it.position, it.temperature,
                                    self._switched_on_probs(), it.logits, classes=it.classes, what=it.what)

    def slice_bar(self) -> SliceBar:
        return self._slice

    def _choose_start(self, start: int) -> None:
        if start != self._start:
            self._start = start
            self.refresh()

    def _choose_position(self, pos: int) -> None:
        self._position = pos
        self._refresh_extras()

    def _choose_temperature(self, t: float) -> None:
        if abs(t - self.bridge.session.temperature) > 1e-9:
            self.bridge.session.set_temperature(t)


def _smallest_cell(pic: Picture, pieces: list[Piece], rects: list) -> float:
    """The smallest cell of the picture's big heatmaps (not the thumbnails), as its height or
    its width ÷ 1.6, whichever is less: how much room a number has."""
    thumbs = {id(it) for i in pic.small for it in pic.rows[i]}
    items = [it for row in pic.rows for it in row]
    sizes = [min((r.height() - p.height) / (p.rows * p.weight), (r.width() - p.width) / (1.6 * p.cols * p.weight))
             for it, p, r in zip(items, pieces, rects) if p.grid and id(it) not in thumbs]
    return min(sizes, default=0.0)


def _number_sizes(pic: Picture) -> dict[int, tuple[float, float]]:
    """id(panel) → the cell size its numbers need at the smallest legible type, for the big heatmaps."""
    thumbs = {id(it) for i in pic.small for it in pic.rows[i]}
    return {id(p): heatmap_mod.cell_number_size(p.values) for p in pic.panels() if id(p) not in thumbs}


def _with_numbers(pic: Picture, pieces: list[Piece], rects: list, needs: dict[int, tuple[float, float]]) -> int:
    """How many heatmaps have cells large enough for their numbers in this layout."""
    items = [it for row in pic.rows for it in row]
    count = 0
    for it, p, r in zip(items, pieces, rects):
        need = needs.get(id(it))
        if need is not None and p.grid:
            cw, ch = (r.width() - p.width) / p.cols, (r.height() - p.height) / p.rows
            count += cw >= need[0] and ch >= need[1]
    return count


def _indices(labels: list[str]) -> bool:
    """Whether an axis counts 0, 1, 2, … (d_model, d_head) rather than naming tokens."""
    return all(s.isdigit() for s in labels)


_SETTLE = QEvent.Type(QEvent.registerEventType())


def _settle(view: QWidget, canvas: QWidget) -> None:
    """Finish what pyqtgraph leaves to the next paint of each plot in `canvas`, then let it paint once.

    pyqtgraph lays a plot out and sets its view transform when it is next painted, and a scene
    hands its changes to the view one scene at a time, each time painting the window. Left so,
    every plot that changed was painted twice per step (half of play mode's time went to that).
    Here the layouts and transforms are done first, and the scenes' changes are handed over while
    the canvas does not paint; it then paints once.
    """
    view.layout().activate()  # a title of another height resizes the canvas and re-places the picture
    plots = [v for v in canvas.findChildren(pg.GraphicsView) if v.isVisible()]
    widgets = [item for plot in plots for item in plot.scene().items() if isinstance(item, QGraphicsWidget)]
    for _ in range(3):  # a plot's layout, once done, asks the layout around it to check again
        for item in widgets:
            QCoreApplication.sendPostedEvents(item, QEvent.Type.LayoutRequest)
    for plot in plots:
        plot.scene().prepareForPaint()
    canvas.setUpdatesEnabled(False)
    try:
        for plot in plots:
            QCoreApplication.sendPostedEvents(plot.scene(), QEvent.Type.MetaCall)
    finally:
        canvas.setUpdatesEnabled(True)  # asks for one paint of the whole canvas ...
        QCoreApplication.sendPostedEvents(None, QEvent.Type.UpdateLater)  # ... before anything else paints


def _geometry_key(pic: Picture) -> tuple:
    """What decides where things go: kinds, shapes and labels, not the numbers."""
    return (pic.small, tuple(tuple((type(it).__name__, it.values.shape, len(max(it.rows, key=len)), it.bar)
                                   if isinstance(it, Panel) else (type(it).__name__, getattr(it, "note", ""),
                                                                  getattr(it, "text", ""))
                                   for it in row) for row in pic.rows))
