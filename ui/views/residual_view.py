"""The residual stream of one token, seen down the depth of the model.

A heatmap with one column per depth point (each resid_pre, resid_mid, resid_post; the
depth mixes under Attention Residuals; DenseFormer's averages), a line of the stream's
length at each point, and each sublayer's share of the stream right after it writes,
so a class sees later layers diluted as a standard stream grows.

A checkpoint's d_model (384, 768) is drawn a window of rows at a time (slicing.window), moved
with the slice bar under the heatmap.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from simulator import depth
from ui.bridge import SessionBridge
from ui.lazy import LazyView
from ui.pictures import colormaps
from ui.pictures import heatmap as heatmap_mod
from ui.pictures.caption import Caption
from ui.pictures.frame import framed, label_font
from ui.pictures.heatmap import Heatmap
from ui.pictures.plot_style import LINE_COLOR, fixed_plot, scale_plot, set_category_ticks
from ui.pictures.slice_bar import SliceBar
from ui.pictures.slicing import shown, thin, window, window_text
from ui.pictures.token_combo import TokenCombo, token_row

BAR_COLOR = colormaps.HEAD_COLORS[2]


class ResidualStreamView(LazyView):
    """The chosen token's residual stream at every depth point, its length, and the shares."""

    ABOUT = ("Residual stream: the chosen token's vector at every depth point, one column a point, from the "
             "embedding up through each layer. Every sublayer adds its output to this stream; the line is the "
             "stream's length, the bars each output's share of it. Click a cell to see how it was calculated.")
    sigCalculation = Signal(str)  # a clicked cell's calculation, for the explanation panel

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        self._points: list[tuple[str, str, np.ndarray]] = []
        self._shares: list[tuple[str, float]] = []
        self._rows_shown: list[int] = []  # the d_model rows on screen (a window of a wide model's)
        self._start = 0  # first row of the window a long d_model shows
        self._scale = 1.0
        bridge.sigTraceChanged.connect(self.request_refresh)
        bridge.sigHighlightChanged.connect(self.request_refresh)

    def build(self) -> None:
        self.token = TokenCombo()
        self.heatmap = Heatmap()
        colormaps.keep_maps(self.bridge, self.heatmap)
        self.norm_plot = fixed_plot("Length of the stream ‖h‖", "‖h‖", min_size=None, x_grid=False)
        self.share_plot = fixed_plot("Each output's share of the stream", "share", min_size=None, x_grid=False)
        self.caption = Caption()
        self._norm_curve = self.norm_plot.plot([], [], pen=pg.mkPen(LINE_COLOR, width=3), symbol="o",
                                               symbolSize=10, symbolBrush=LINE_COLOR, symbolPen="k")
        self._bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush=BAR_COLOR, pen="k")
        self.share_plot.addItem(self._bars)

        # Side by side: a tab is wider than tall, and the heatmap needs its height for d_model rows.
        plots = QVBoxLayout()
        plots.addWidget(self.norm_plot, 1)
        plots.addWidget(self.share_plot, 1)
        self.slice = SliceBar()
        self.slice.sigStartChosen.connect(self._choose_start)
        left = QVBoxLayout()
        left.addWidget(self.heatmap, 1)
        left.addWidget(self.slice)
        body = QHBoxLayout()
        body.addLayout(left, 3)
        body.addLayout(plots, 2)
        framed(self, token_row(self.token), body, self.caption)
        self.heatmap.sigCellClicked.connect(self.explain_cell)
        self.token.currentIndexChanged.connect(self.refresh)

    def _choose_start(self, start: int) -> None:
        self._start = start
        self.refresh()

    @property
    def position(self) -> int:
        return max(self.token.currentIndex(), 0)

    def points(self) -> list[tuple[str, str, np.ndarray]]:
        """(label, step name, vector [d_model]) of each column on screen."""
        return list(self._points)

    def norms(self) -> np.ndarray:
        """The plotted length of the stream at each depth point  # [point]"""
        return np.array([float(np.linalg.norm(v)) for _, _, v in self._points])

    def shares(self) -> list[tuple[str, float]]:
        """(sublayer, share) pairs drawn as bars."""
        return list(self._shares)

    def apply_font_scale(self, f: float) -> None:
        label_font(f, (self, self.token), self.caption)
        self._scale = f
        self.heatmap.set_font_scale(f)
        self.slice.set_font_scale(f)
        for plot in (self.norm_plot, self.share_plot):
            scale_plot(plot, f)

    def paint(self) -> None:
        trace, model = self.bridge.trace, self.bridge.model
        prefix = depth.stack_prefix(trace)
        tokens = [shown(t) for t in trace.token_labels(f"{prefix}blocks.0.hook_resid_pre")]
        self.token.set_tokens(tokens)
        pos = min(self.position, len(tokens) - 1)
        self._points = depth.residual_stream(trace, pos, prefix)
        labels = [label for label, _, _ in self._points]
        values = np.stack([v for _, _, v in self._points], axis=1)  # [d_model, point]
        changes = self.bridge.session.changes
        changed = None
        if self.bridge.highlight and changes:
            changed = np.stack([changes[trace.graph.node(name).name][pos] > 0
                                if trace.graph.node(name).name in changes else np.zeros(len(v), bool)
                                for _, name, v in self._points], axis=1)
        rows = window("d_model", values.shape[0], self._start)
        note = window_text("d_model", values.shape[0], rows).replace("columns", "rows", 1) if rows else ""
        self.slice.set_window([note] if rows else [],
                              values.shape[0] if rows else 0, self._start)
        self._rows_shown = list(rows) if rows is not None else list(range(values.shape[0]))
        if rows is not None:
            values = values[list(rows)]
            changed = None if changed is None else changed[list(rows)]
        row_labels = [str(i) for i in (rows or range(values.shape[0]))]
        self._fit_labels(row_labels, labels)
        self.heatmap.set_data(values, thin(row_labels, self._rows_every), thin(labels, self._cols_every), "signed",
                              f"Residual stream of “{tokens[pos]}” at each depth", changed)

        norms = self.norms()
        self._norm_curve.setData(np.arange(len(norms)), norms)
        set_category_ticks(self.norm_plot, labels)
        self.norm_plot.getPlotItem().setYRange(0, max(float(norms.max()), 1e-9) * 1.15, padding=0)

        self._shares = depth.shares(model, trace, pos, prefix)
        heights = np.array([s for _, s in self._shares])
        self._bars.setOpts(x=np.arange(len(heights)), height=heights, width=0.6)
        set_category_ticks(self.share_plot, [label for label, _ in self._shares])
        self.share_plot.getPlotItem().setYRange(0, max(1.0, float(heights.max())) * 1.1, padding=0)

        mode = depth.residual_mode(trace, prefix)
        self._mode_text(mode, tokens[pos], len(self._points[0][2]))

    def explain_cell(self, cell: tuple[int, int]) -> None:
        """Write the clicked number's calculation (its depth point's step, this token, this dimension)."""
        row, col = cell
        if not self._points or not 0 <= col < len(self._points) or not 0 <= row < len(self._rows_shown):
            return
        label, name, vector = self._points[col]
        d = self._rows_shown[row]
        pos = min(self.position, self.bridge.trace[name].shape[0] - 1)
        try:
            text = self.bridge.trace.explain(name, (pos, d))
        except (KeyError, IndexError, ValueError):
            text = f"{name}[{pos}, {d}] = {vector[d]:.4g}"
        self.sigCalculation.emit(f"{label}, dimension {d}:\n{text}")

    def _fit_labels(self, rows: list[str], cols: list[str]) -> None:
        """Every k-th row and column label, the column labels staggered first: the depth points'
        names ("mid 3") run into each other over a checkpoint's 13 narrow columns."""
        font = QFont()
        font.setPointSizeF(heatmap_mod.TICK_PT * self._scale)
        fm = QFontMetricsF(font)
        height = max(1.0, self.heatmap.height() - 4 * fm.height())
        width = max(1.0, self.heatmap.width() - 90 - fm.horizontalAdvance("0000"))
        self._rows_every = max(1, math.ceil(len(rows) * 1.3 * fm.height() / height))
        need = len(cols) * (max((fm.horizontalAdvance(c) for c in cols), default=0.0) + 6)
        stagger = need > width
        self._cols_every = max(1, math.ceil(need / (2 * width))) if stagger else 1
        self.heatmap.set_label_style(1.0, stagger)

    def _mode_text(self, mode: str, token: str, d_model: int) -> None:
        weight = {"denseformer": " (times the weight α it gets)", "attnres": " (times its softmax weight)",
                  "block_attnres": " (times its block's weight)"}.get(mode, "")
        self.caption.setText(
            f"Mode: {mode}. Columns: the stream of “{token}” at each depth (rows: its "
            f"{d_model} dimensions). Bars: ‖v_i‖{weight} ÷ ‖h‖, each output's part of the stream "
            "after it; as a standard stream grows, later outputs get smaller shares.")
