"""Embeddings in two dimensions: a PCA scatter labelled by token.

Either the token embeddings (the rows of W_E, one dot per vocabulary entry) or the residual
stream at a chosen depth (one dot per position of the input). The axes are the two
directions of largest spread; the title says how much of the spread they show.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QComboBox, QWidget

from simulator import interp
from ui.bridge import SessionBridge
from ui.lazy import LazyView
from ui.pictures import colormaps
from ui.pictures.caption import Caption
from ui.pictures.frame import control_row, framed, label_font
from ui.pictures.plot_style import LINE_COLOR, fixed_plot, ink, scale_plot, set_plot_title
from ui.pictures.slicing import shown as token_text

EMBEDDINGS = "Token embeddings (W_E)"
MAX_LABELS = 40  # more labels than this overlap into a smudge
INPUT_COLOR = colormaps.HEAD_COLORS[1]  # the embeddings of the words in the input


class EmbeddingView(LazyView):
    """The scatter and a chooser of what to project."""

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        self.coords = np.zeros((0, 2))
        self.labels: list[str] = []
        self._points: list[str] = []
        self._texts: list[pg.TextItem] = []
        bridge.sigTraceChanged.connect(self.request_refresh)

    def build(self) -> None:
        self.source = QComboBox()
        self.plot = fixed_plot("", "PC 2", min_size=None, x_grid=False)
        self.plot.getPlotItem().setLabel("bottom", "PC 1", color=ink(self.plot), size=f"{round(13 * self._scale)}pt",
                                         bold=True)
        self.scatter = pg.ScatterPlotItem(size=11, brush=pg.mkBrush(LINE_COLOR), pen=pg.mkPen("k"))
        self.plot.addItem(self.scatter)
        self.caption = Caption()
        framed(self, control_row(("Show", self.source)), self.plot, self.caption)
        self.source.currentIndexChanged.connect(self.refresh)

    def apply_font_scale(self, f: float) -> None:
        font = label_font(f, (self, self.source), self.caption, 2)
        scale_plot(self.plot, f)
        set_plot_title(self.plot, self.plot.getPlotItem().titleLabel.text, f)
        self._font = QFont(font)
        for t in self._texts:
            t.setFont(self._font)

    def labelled(self, labels: list[str], words: list[str] | None) -> set[int]:
        """Which dots get a label: all of them, or past MAX_LABELS the input's words and the outermost."""
        if len(labels) <= MAX_LABELS:
            return set(range(len(labels)))
        keep = {j for j, w in enumerate(labels) if words and w in words}
        far = np.argsort(-np.linalg.norm(self.coords / np.maximum(self.coords.std(0), 1e-12), axis=1), kind="stable")
        for j in far:
            if len(keep) >= MAX_LABELS:
                break
            keep.add(int(j))
        return keep

    def paint(self) -> None:
        trace, model = self.bridge.trace, self.bridge.model
        p = "decoder." if model.config.arch == "encoder-decoder" else ""
        points = interp.lens_points(model)
        names = [EMBEDDINGS] + [f"Residual stream after {interp.point_label(n)}" for n in points]
        with QSignalBlocker(self.source):
            if [self.source.itemText(i) for i in range(self.source.count())] != names:
                keep = self.source.currentIndex()
                self.source.clear()
                self.source.addItems(names)
                self.source.setCurrentIndex(min(max(keep, 0), len(names) - 1))
        i = self.source.currentIndex()
        if i <= 0:
            x = model.params[p + "embed.W_E"]  # [vocab, d_model]
            self.labels = [token_text(t) for t in model.config.vocab]
            what = "each dot is one token's embedding (orange: the words of the input)"
        else:
            x = trace[points[i - 1]]  # [pos, d_model]
            self.labels = [f"{j}:{t}" for j, t in enumerate(trace.token_labels("logits"))]
            what = "each dot is one position's residual stream"
        self.coords, frac = interp.pca(x)
        words = [token_text(t) for t in trace.token_labels("logits")] if i <= 0 else None
        # one brush object per colour: a checkpoint has 30,000 dots
        inp, other = pg.mkBrush(INPUT_COLOR), pg.mkBrush(LINE_COLOR)
        in_input = set(words or ())
        brushes = [inp if w in in_input else other for w in self.labels]
        self.scatter.setData(self.coords[:, 0], self.coords[:, 1], brush=brushes)
        shown = self.labelled(self.labels, words)
        # a text item per label shown, not per dot
        while len(self._texts) < len(shown):
            t = pg.TextItem(color=ink(self.plot), anchor=(0, 1))
            t.setFont(getattr(self, "_font", QFont()))
            self.plot.addItem(t)
            self._texts.append(t)
        placed = sorted(shown)
        for n, t in enumerate(self._texts):
            t.setVisible(n < len(placed))
            if n < len(placed):
                j = placed[n]
                t.setText(self.labels[j])
                t.setPos(float(self.coords[j, 0]), float(self.coords[j, 1]))
        set_plot_title(self.plot, f"PCA: the two axes show {100 * frac.sum():.0f}% of the spread", self._scale)
        some = "" if len(shown) == len(self.labels) else \
            f" Labels: the input's words and the outermost dots ({len(shown)} of {len(self.labels)})."
        self.caption.setText(f"A flat picture of {x.shape[1]}-dimensional vectors: {what}.{some} Dots close "
                             "together are close along these two axes; differences along the axes the picture "
                             "leaves out are not shown.")
