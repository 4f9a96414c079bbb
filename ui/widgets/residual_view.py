"""The residual stream of one token, seen down the depth of the model.

A heatmap with one column per depth point (each resid_pre, resid_mid, resid_post; the
depth mixes under Attention Residuals; DenseFormer's averages), a line of the stream's
length at each point, and each sublayer's share of the stream right after it writes,
so a class sees later layers diluted as a standard stream grows.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSignalBlocker, Qt
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from simulator import depth
from ui.bridge import SessionBridge
from ui.widgets import colormaps
from ui.widgets.heatmap import Heatmap

LABEL_PT = 13.0
LINE_COLOR = colormaps.HEAD_COLORS[0]
BAR_COLOR = colormaps.HEAD_COLORS[2]


class TokenCombo(QComboBox):
    """Chooses one token position ("2: cat"); keeps the choice when the tokens change."""

    def set_tokens(self, tokens: list[str]) -> None:
        labels = [f"{i}: {t}" for i, t in enumerate(tokens)]
        if [self.itemText(i) for i in range(self.count())] == labels:
            return
        keep = self.currentIndex()
        with QSignalBlocker(self):
            self.clear()
            self.addItems(labels)
            self.setCurrentIndex(min(max(keep, 0), len(labels) - 1))


def token_row(combo: TokenCombo, text: str = "Token") -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(QLabel(text))
    row.addWidget(combo)
    row.addStretch(1)
    return row


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


def line_plot(title: str, y_label: str) -> pg.PlotWidget:
    """A fixed (no zoom) white plot with black axes, readable on a projector."""
    plot = pg.PlotWidget(background="w")
    item = plot.getPlotItem()
    item.setMouseEnabled(x=False, y=False)
    item.setMenuEnabled(False)
    item.hideButtons()
    item.setTitle(title, color="k")
    item.setLabel("left", y_label, color="k")
    item.getAxis("left").enableAutoSIPrefix(False)
    item.showGrid(y=True, alpha=0.25)
    # Draw the second level of category labels while they fill at most 70% of the axis.
    item.getAxis("bottom").setStyle(textFillLimits=[(0, 0.7)])
    return plot


def set_category_ticks(plot: pg.PlotWidget, labels: list[str]) -> None:
    """One tick per category; the odd ones form a second level, which the axis leaves out when crowded."""
    ticks = [(i, s) for i, s in enumerate(labels)]
    plot.getPlotItem().getAxis("bottom").setTicks([ticks[0::2], ticks[1::2]])
    plot.getPlotItem().setXRange(-0.5, len(labels) - 0.5, padding=0)


def style_plot(plot: pg.PlotWidget, f: float) -> None:
    font = QFont()
    font.setPointSizeF(11.0 * f)
    item = plot.getPlotItem()
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setStyle(tickFont=font)
        axis.setTextPen("k")
        axis.setPen("k")
        axis.label.setFont(font)
    item.titleLabel.item.setFont(QFont(font.family(), int(round(13 * f)), QFont.Weight.Bold))


def set_plot_title(plot: pg.PlotWidget, text: str, f: float) -> None:
    """A new title at the size `style_plot` gives (setTitle alone falls back to the default size)."""
    plot.getPlotItem().setTitle(text, color="k", size=f"{round(13 * f)}pt", bold=True)


class LazyView(QWidget):
    """A view that builds its pictures when first shown and repaints only while shown.

    A tab in the back costs nothing at start-up or on an edit; it catches up when shown.
    Subclasses create their widgets in `build` and fill them in `paint`.
    """

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._built = False
        self._stale = True
        self._scale = 1.0

    def build(self) -> None:
        raise NotImplementedError

    def paint(self) -> None:
        raise NotImplementedError

    def apply_font_scale(self, f: float) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        if not self._built:
            self._built = True
            self.build()
            self.apply_font_scale(self._scale)
        self._stale = False
        self.paint()

    def request_refresh(self, *_) -> None:
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def set_font_scale(self, f: float) -> None:
        self._scale = float(f)
        if self._built:
            self.apply_font_scale(self._scale)

    def showEvent(self, ev) -> None:
        if self._stale:
            self.refresh()
        super().showEvent(ev)


class ResidualStreamView(LazyView):
    """The chosen token's residual stream at every depth point, its length, and the shares."""

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        self._points: list[tuple[str, str, np.ndarray]] = []
        self._shares: list[tuple[str, float]] = []
        bridge.sigTraceChanged.connect(self.request_refresh)
        bridge.sigHighlightChanged.connect(self.request_refresh)

    def build(self) -> None:
        self.token = TokenCombo()
        self.heatmap = Heatmap()
        colormaps.keep_maps(self.bridge, self.heatmap)
        self.norm_plot = line_plot("Length of the stream ‖h‖", "‖h‖")
        self.share_plot = line_plot("Each output's share of the stream", "share")
        self.caption = Caption()
        self._norm_curve = self.norm_plot.plot([], [], pen=pg.mkPen(LINE_COLOR, width=3), symbol="o",
                                               symbolSize=10, symbolBrush=LINE_COLOR, symbolPen="k")
        self._bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush=BAR_COLOR, pen="k")
        self.share_plot.addItem(self._bars)

        # Side by side: a tab is wider than tall, and the heatmap needs its height for d_model rows.
        plots = QVBoxLayout()
        plots.addWidget(self.norm_plot, 1)
        plots.addWidget(self.share_plot, 1)
        body = QHBoxLayout()
        body.addWidget(self.heatmap, 3)
        body.addLayout(plots, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(token_row(self.token))
        lay.addLayout(body, 1)
        lay.addWidget(self.caption)
        self.token.currentIndexChanged.connect(self.refresh)

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
        font = QFont()
        font.setPointSizeF(LABEL_PT * f)
        for w in (self, self.token):
            w.setFont(font)
        fit_caption(self.caption, font)
        self.heatmap.set_font_scale(f)
        for plot in (self.norm_plot, self.share_plot):
            style_plot(plot, f)

    def paint(self) -> None:
        trace, model = self.bridge.trace, self.bridge.model
        prefix = depth.stack_prefix(trace)
        tokens = trace.token_labels(f"{prefix}blocks.0.hook_resid_pre")
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
        self.heatmap.set_data(values, [str(i) for i in range(values.shape[0])], labels, "signed",
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
        weight = {"denseformer": " (times the weight α it gets)", "attnres": " (times its softmax weight)",
                  "block_attnres": " (times its block's weight)"}.get(mode, "")
        self.caption.setText(
            f"Mode: {mode}. Columns: the stream of “{tokens[pos]}” at each depth (rows: its "
            f"{values.shape[0]} dimensions). Bars: ‖v_i‖{weight} ÷ ‖h‖, each output's part of the stream "
            "after it; as a standard stream grows, later outputs get smaller shares.")
