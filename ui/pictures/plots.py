"""Two small pictures of a forward pass: the top-k next-token probabilities as
horizontal bars, and attention as lines from query tokens to key tokens.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QWidget

from ui.pictures import colormaps
from ui.pictures.paper import Paper, follow_paper, paper_of
from ui.typography import TICK_PT

MIN_WEIGHT = 0.02  # lighter attention lines are invisible clutter on a projector
LEVELS = 32  # line weights are drawn in this many steps of width and shade
SMOOTH_LINES = 600  # above this many lines, antialiasing costs more than it shows


def format_prob(p: float) -> str:
    """Two decimals, but never claim a non-zero probability is exactly 0."""
    return "<0.01" if 0 < p < 0.005 else f"{p:.2f}"


X_MAX = 1.3  # probability 1 and room for its printed value


class TopKBars(pg.PlotWidget):
    """The k most likely next tokens, most likely on top, value printed at each bar end.

    Each bar keeps a line of text's height: a panel too short for k bars shows fewer (the
    most likely ones) rather than letting labels run into each other.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._ink = "#000000"  # axes and printed values, from the palette (see paper.follow_paper)
        plot = self.getPlotItem()
        plot.setMouseEnabled(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.invertY(True)
        # a fixed 0–1 axis: a longer bar is a higher probability, whatever the others are
        axis = plot.getAxis("bottom")
        axis.setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")]])
        self._bars = pg.BarGraphItem(x0=0, y=[], height=0.7, width=[],
                                     pen=pg.mkPen(60, 60, 60))
        plot.addItem(self._bars)
        self._texts: list[pg.TextItem] = []
        self._data: tuple[np.ndarray, list[str], int] = (np.zeros(0), [], 0)
        self._shown: list[tuple[str, float]] = []
        self._maps = colormaps.DEFAULT_MAPS
        self._font = QFont()
        self.set_font_scale(1.0)
        plot.getViewBox().sigResized.connect(self._draw)
        follow_paper(self, self._apply_paper)

    def _apply_paper(self, paper: Paper) -> None:
        self.setBackground(paper.ground)
        self._ink = paper.ink.name()
        self._bars.setOpts(pen=pg.mkPen(paper.muted))
        for item in self._texts:
            item.setColor(self._ink)
        self.set_font_scale(self._font.pointSizeF() / TICK_PT)

    def set_data(self, probs: np.ndarray, labels: list[str], k: int = 8) -> None:
        """Show the `k` largest entries of `probs`; `labels[i]` names token i."""
        p = np.asarray(probs, dtype=float).ravel()
        if len(labels) != p.size:
            raise ValueError(f"{len(labels)} labels for {p.size} probabilities")
        self._data = (p, list(labels), max(int(k), 0))
        self._draw()

    def set_maps(self, maps: colormaps.Maps) -> None:
        """Colour the bars with another sequential map (see colormaps.keep_maps)."""
        if maps != self._maps:
            self._maps = maps
            self._draw()

    def shown(self) -> list[tuple[str, float]]:
        """(label, probability) pairs on screen, top bar first."""
        return list(self._shown)

    def rows_that_fit(self) -> int:
        """How many bars the widget has room for, one line of text each (any number before
        it is laid out)."""
        height = self.getPlotItem().getViewBox().height()
        return max(1, int(height // (1.15 * QFontMetricsF(self._font).height()))) if height > 0 else 10 ** 6

    def set_font_scale(self, f: float) -> None:
        """Scale tick and value fonts, e.g. 1.5 for presenting."""
        self._font.setPointSizeF(TICK_PT * f)
        for side in ("left", "bottom"):
            axis = self.getPlotItem().getAxis(side)
            axis.setStyle(tickFont=self._font)
            axis.setTextPen(self._ink)
            axis.setPen(self._ink)
        for item in self._texts:
            item.setFont(self._font)
        self._draw()

    def _draw(self) -> None:
        p, labels, k = self._data
        # Stable sort keeps ties in vocabulary order, so the picture does not flicker.
        order = np.argsort(-np.nan_to_num(p, nan=-np.inf), kind="stable")[:min(k, self.rows_that_fit())]
        top = p[order]
        shown = [(labels[i], float(v)) for i, v in zip(order, top)]
        y = np.arange(top.size)
        # Stop short of viridis' yellow end, which vanishes against a white background.
        brushes = [self._maps.sequential.map(0.85 * min(max(v, 0.0), 1.0), mode="qcolor")
                   for v in top]
        self._bars.setOpts(x0=0, y=y, width=top, height=0.7, brushes=brushes)

        while len(self._texts) < top.size:
            item = pg.TextItem(color=self._ink, anchor=(0, 0.5))
            item.textItem.document().setDocumentMargin(0)  # as tall as its line, like the labels
            item.setFont(self._font)
            self.getPlotItem().addItem(item)
            self._texts.append(item)
        xmax = X_MAX
        for i, item in enumerate(self._texts):
            item.setVisible(i < top.size)
            if i < top.size:
                item.setText(format_prob(top[i]))
                item.setPos(top[i] + 0.01 * xmax, i)
        if shown != self._shown:
            self._shown = shown
            self.getPlotItem().getAxis("left").setTicks([[(i, s) for i, (s, _) in enumerate(shown)]])
        self.getPlotItem().setRange(xRange=(0, xmax), yRange=(-0.5, max(top.size, 1) - 0.5),
                                    padding=0)


class AttentionLines(QWidget):
    """Queries in a left column, keys in a right column, one line per weight of at
    least MIN_WEIGHT, its width proportional to the weight and its shade deepening with it,
    coloured by head.

    Lines are opaque, shaded towards the paper, and drawn lightest first so strong ones stay on
    top: Qt draws an opaque line many times faster than a translucent one. Lines of one head
    and one weight step share a pen and are drawn in one call.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._q_labels: list[str] = []
        self._k_labels: list[str] = []
        self._heads: list[int] = []
        self._focus: int | None = None
        self._lines = np.zeros((4, 0), dtype=int)  # rows: head, query, key, weight step; lightest first
        self._scale = 1.0
        self._widths: dict[tuple, float] = {}
        # paint() fills every pixel: Qt need not repaint the widgets underneath on each update
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def set_data(self, pattern: np.ndarray, q_labels: list[str], k_labels: list[str],
                 heads: list[int] | None = None, focus_query: int | None = None) -> None:
        """`pattern[h, q, k]` is head h's weight from query q to key k (2-D means one head)."""
        a = np.asarray(pattern, dtype=float)
        a = a[np.newaxis] if a.ndim == 2 else a
        if a.ndim != 3 or a.shape[1:] != (len(q_labels), len(k_labels)):
            raise ValueError(f"pattern shape {a.shape} does not match "
                             f"{len(q_labels)} queries x {len(k_labels)} keys")
        if focus_query is not None and not 0 <= focus_query < a.shape[1]:
            raise ValueError(f"focus_query {focus_query} outside 0..{a.shape[1] - 1}")
        self._heads = list(range(a.shape[0])) if heads is None else [int(h) for h in heads]
        self._q_labels, self._k_labels = list(q_labels), list(k_labels)
        self._focus = focus_query
        shown = np.zeros(a.shape, dtype=bool)
        queries = slice(None) if focus_query is None else slice(focus_query, focus_query + 1)
        shown[self._heads, queries] = True
        with np.errstate(invalid="ignore"):
            shown &= np.isfinite(a) & (a >= MIN_WEIGHT)
        h, q, k = np.nonzero(shown)
        level = np.round(np.minimum(a[h, q, k], 1.0) * LEVELS).astype(int)
        lines = np.stack([h, q, k, level])  # [4, line]
        self._lines = lines[:, np.lexsort((h, level))]  # one run per (weight step, head)
        self.update()

    def line_count(self) -> int:
        """Number of lines drawn."""
        return self._lines.shape[1]

    def set_font_scale(self, f: float) -> None:
        """Scale the token and legend fonts, e.g. 1.5 for presenting."""
        self._scale = float(f)
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(420, 380)

    def paintEvent(self, ev) -> None:
        with QPainter(self) as p:
            self._paint(p)

    def _paint(self, p: QPainter) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, self.line_count() <= SMOOTH_LINES)
        paper = paper_of(self)
        p.fillRect(self.rect(), paper.ground)
        if not self._q_labels:
            return
        pad = 10.0
        font, header_font = self._fonts()
        fm = QFontMetricsF(font)
        head_h = fm.height() * 1.6
        legend = self.legend_layout(header_font)
        top = pad + head_h
        bottom = min([self.height() - pad - head_h] + [box.top() - 4 for _, box, _, _ in legend])
        n_rows = max(len(self._q_labels), len(self._k_labels))
        # Long sequences shrink the font rather than let labels overlap, down to a size still
        # readable from the back of a room; below that every k-th label is left out instead.
        if n_rows * fm.height() > bottom - top:
            pt = font.pointSizeF()
            font.setPointSizeF(max(0.75 * pt, pt * (bottom - top) / (n_rows * fm.height())))
            fm = QFontMetricsF(font)
        q_w, k_w = self._widest(self._q_labels, font), self._widest(self._k_labels, font)
        x_q, x_k = pad + q_w + 8, self.width() - pad - k_w - 8
        q_step, k_step = (bottom - top) / len(self._q_labels), (bottom - top) / len(self._k_labels)

        # Thick lines must still leave gaps between neighbouring rows.
        max_w = min(10.0 * self._scale, 0.6 * (bottom - top) / n_rows)
        self._paint_lines(p, max_w, x_q, x_k, q_step, k_step, top, paper.ground)

        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        h = fm.height()
        focus = self._focus
        p.setFont(font)
        p.setPen(paper.ink if focus is None else paper.rule)
        for i in readable_rows(len(self._q_labels), q_step, h, focus):
            y = top + (i + 0.5) * q_step
            p.drawText(QRectF(pad, y - h, q_w, 2 * h), right, self._q_labels[i])
        p.setPen(paper.ink)
        for i in readable_rows(len(self._k_labels), k_step, h):
            y = top + (i + 0.5) * k_step
            p.drawText(QRectF(x_k + 8, y - h, k_w, 2 * h), left, self._k_labels[i])
        if focus is not None:
            font.setBold(True)
            p.setFont(font)
            y = top + (focus + 0.5) * q_step
            p.drawText(QRectF(pad, y - h, q_w, 2 * h), right, self._q_labels[focus])

        p.setFont(header_font)
        p.setPen(paper.muted)
        p.drawText(QRectF(pad, pad, self.width() - 2 * pad, head_h), left, "query")
        p.drawText(QRectF(pad, pad, self.width() - 2 * pad, head_h), right, "key")
        p.setPen(paper.ink)
        for swatch, box, text, h in legend:
            if swatch is not None:
                p.fillRect(swatch, colormaps.HEAD_COLORS[h % len(colormaps.HEAD_COLORS)])
            p.drawText(box, Qt.AlignmentFlag.AlignVCenter, text)

    def _widest(self, labels: list[str], font: QFont) -> float:
        """Width of the longest label (remembered: measuring 128 labels on every paint adds up)."""
        key = (tuple(labels), font.key())
        if key not in self._widths:
            if len(self._widths) > 16:
                self._widths.clear()
            fm = QFontMetricsF(font)
            self._widths[key] = max(fm.horizontalAdvance(s) for s in labels)
        return self._widths[key]

    def _paint_lines(self, p: QPainter, max_w: float, x_q: float, x_k: float, q_step: float,
                     k_step: float, top: float, ground: QColor) -> None:
        heads, queries, keys, level = self._lines
        y_q = (top + (queries + 0.5) * q_step).tolist()
        y_k = (top + (keys + 0.5) * k_step).tolist()
        new_run = np.ones(heads.size, dtype=bool)
        new_run[1:] = (np.diff(heads) != 0) | (np.diff(level) != 0)
        starts = np.flatnonzero(new_run)
        for start, end in zip(starts.tolist(), np.append(starts[1:], heads.size).tolist()):
            w = level[start] / LEVELS
            head = colormaps.HEAD_COLORS[int(heads[start]) % len(colormaps.HEAD_COLORS)]
            # The shade deepens with the weight from a floor: a projector washes out faint lines.
            pen = QPen(over_ground(head, 0.15 + 0.85 * w, ground), max(max_w * w, 0.5))
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)  # round caps would run into the labels
            p.setPen(pen)
            p.drawLines([QLineF(x_q, y_q[i], x_k, y_k[i]) for i in range(start, end)])

    def legend_layout(self, font: QFont | None = None) -> list[tuple[QRectF | None, QRectF, str, int]]:
        """(swatch, text box, text, head) per legend item, so a colour can be read as a head
        number: "■ head 0  ■ head 1" if that fits on one line, else "heads ■ 0  ■ 1 …" wrapped
        onto as many lines as the width needs, at the bottom of the widget. The "heads" label
        has no swatch (and head -1)."""
        if font is None:
            font = self._fonts()[1]
        fm = QFontMetricsF(font)
        pad, sw, gap = 10.0, fm.height() * 0.8, fm.height() * 0.9
        width = self.width() - 2 * pad
        texts = [f"head {h}" for h in self._heads]
        label = None
        if sum(sw + 4 + fm.horizontalAdvance(t) + gap for t in texts) - gap > width:
            texts, label = [str(h) for h in self._heads], "heads"
        line_h = fm.height() * 1.25
        placed, x, row = [], 0.0, 0
        if label:
            placed.append((0.0, 0, None, label, -1))
            x = fm.horizontalAdvance(label) + gap / 2
        for h, text in zip(self._heads, texts):
            w = sw + 4 + fm.horizontalAdvance(text)
            if x and x + w > width:
                x, row = 0.0, row + 1
            placed.append((x, row, sw, text, h))
            x += w + gap
        top = self.height() - pad - (row + 1) * line_h
        out = []
        for x, r, swatch, text, h in placed:
            y = top + r * line_h
            text_x = pad + x + (swatch + 4 if swatch else 0)
            out.append((QRectF(pad + x, y + (line_h - sw) / 2, sw, sw) if swatch else None,
                        QRectF(text_x, y, fm.horizontalAdvance(text) + 2, line_h), text, h))
        return out

    def _fonts(self) -> tuple[QFont, QFont]:
        """The token font and the bold header and legend font."""
        font = QFont()
        font.setPointSizeF(TICK_PT * self._scale)
        bold = QFont(font)
        bold.setBold(True)
        return font, bold


def readable_rows(n: int, step: float, text_h: float, keep: int | None = None) -> list[int]:
    """Rows whose labels are drawn: every k-th when rows are closer than a line of text, and
    none next to row `keep` (drawn on its own, in bold)."""
    k = max(1, math.ceil(0.9 * text_h / step))
    return [i for i in range(0, n, k) if keep is None or abs(i - keep) >= k]


def over_ground(color: QColor, strength: float, ground: QColor = QColor("white")) -> QColor:
    """`color` at `strength` (0..1) over `ground`, as an opaque colour."""
    r, g, b = (round(o + (c - o) * strength) for c, o in zip(color.getRgb()[:3], ground.getRgb()[:3]))
    return QColor(r, g, b)
