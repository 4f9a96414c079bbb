"""The logit lens: what the model would predict if it stopped at each depth.

Left, a position × depth grid: each cell is the most likely next token read from the residual
stream at that point (the embedding on the left, the model's own answer on the right) and its
probability. Right, for the chosen position, the probability of a chosen token at every depth,
so a class watches the answer form as the stream rises (nostalgebraist, 2020).
"""
from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QComboBox, QWidget

from simulator import interp
from ui.bridge import SessionBridge
from ui.lazy import LazyView
from ui.pictures.caption import Caption
from ui.pictures.frame import control_row, framed, label_font, side_by_side
from ui.pictures.heatmap import Heatmap
from ui.pictures.plot_style import LINE_COLOR, fixed_plot, scale_plot, set_category_ticks, set_plot_title
from ui.pictures.slicing import shown
from ui.pictures.token_combo import TokenCombo, set_vocabulary


class LabelledHeatmap(Heatmap):
    """A heatmap whose cells print a word and a number ("j 0.93") instead of the number alone."""

    def set_cell_words(self, words: list[list[str]]) -> None:
        self._words = words
        self._texts, self._text_sizes = {}, {}

    def _text(self, r: int, c: int) -> str:
        words = getattr(self, "_words", None)
        if words is None:
            return super()._text(r, c)
        return f"{words[r][c]} {self._values[r, c]:.2f}"

    def _text_size(self, level: int, max_height: float) -> tuple[float, float]:
        if getattr(self, "_words", None) is None:
            return super()._text_size(level, max_height)
        size = self._text_sizes.get(level)
        if size is None:
            fm = QFontMetricsF(self._cell_fonts[level])
            if fm.height() > max_height:
                return math.inf, fm.height()
            rows, cols = self._values.shape
            widest = max((fm.horizontalAdvance(self._text(r, c)) for r in range(rows) for c in range(cols)),
                         default=0.0)
            size = self._text_sizes[level] = (widest, fm.height())
        return size


def lens_note(norm: str) -> str:
    """What the lens means for this kind of model (one or two sentences)."""
    if norm == "pre":
        return ("Each point is put through the final LayerNorm with its own mean and spread, then the "
                "unembedding: the last column is exactly the model's output.")
    if norm == "post":
        return ("Post-LN: every point after a sublayer is already normalised, so it goes straight to the "
                "unembedding. The unembedding was trained on the last point only, so early columns show what "
                "is readable, not what the model 'thinks'.")
    return "No norm: each point goes straight to the unembedding; the last column is the model's output."


class LensView(LazyView):
    """The lens grid and one token's probability through depth."""

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        self.points: list[str] = []
        self.probs = np.zeros((0, 0, 0))  # [point, pos, vocab]
        bridge.sigTraceChanged.connect(self.request_refresh)
        bridge.sigHighlightChanged.connect(self.request_refresh)

    def build(self) -> None:
        self.position = TokenCombo()
        self.follow = QComboBox()  # the token whose probability is followed; default: the model's answer
        self.heatmap = LabelledHeatmap()
        self.plot = fixed_plot("Probability through depth", "p", min_size=None, x_grid=False)
        self.curve = self.plot.plot([], [], pen=pg.mkPen(LINE_COLOR, width=3), symbol="o", symbolSize=10,
                                    symbolBrush=LINE_COLOR, symbolPen="k")
        self.caption = Caption()
        framed(self, control_row(("Position", self.position), ("follow token", self.follow)),
               side_by_side((self.heatmap, 3), (self.plot, 2)), self.caption)
        self.position.currentIndexChanged.connect(self._position_chosen)
        self.follow.currentIndexChanged.connect(self._token_chosen)
        self.heatmap.sigCellClicked.connect(lambda cell: self.position.setCurrentIndex(cell[0]))
        self._followed_auto = True

    def _position_chosen(self) -> None:
        self._followed_auto = True  # a new position follows its own answer until a token is picked
        self.refresh()

    def _token_chosen(self) -> None:
        self._followed_auto = False
        self.refresh()

    def apply_font_scale(self, f: float) -> None:
        label_font(f, (self, self.position, self.follow), self.caption, 2)
        self.heatmap.set_font_scale(f)
        scale_plot(self.plot, f)
        set_plot_title(self.plot, self.plot.getPlotItem().titleLabel.text, f)

    def followed(self) -> int:
        return max(self.follow.currentIndex(), 0)

    def paint(self) -> None:
        trace, model = self.bridge.trace, self.bridge.model
        vocab = [shown(t) for t in model.config.vocab]
        self.points, self.probs = interp.lens_probs(model, trace)
        tokens = [shown(t) for t in trace.token_labels("logits")]
        self.position.set_tokens(tokens)
        if not getattr(self, "_placed", False):  # start at the last token: its answer is the one asked about
            self._placed = True
            with QSignalBlocker(self.position):
                self.position.setCurrentIndex(len(tokens) - 1)
        pos = min(max(self.position.currentIndex(), 0), len(tokens) - 1)
        with QSignalBlocker(self.follow):
            set_vocabulary(self.follow, vocab)
            if self._followed_auto or self.follow.currentIndex() < 0:
                self.follow.setCurrentIndex(int(self.probs[-1, pos].argmax()))
        tok = self.followed()

        labels = [interp.point_label(n) for n in self.points]
        top = self.probs.argmax(-1)  # [point, pos]
        # positions down the side, depth left to right as in the residual view: a word and its
        # probability need a wide cell, and there are fewer depth points than words
        self.heatmap.set_cell_words([[vocab[t] for t in row] for row in top.T])
        self.heatmap.set_data(self.probs.max(-1).T, [f"{i}: {t}" for i, t in enumerate(tokens)], labels, "prob",
                              "Top next token by depth")
        self.heatmap.set_selected((pos, len(labels) - 1))

        curve = self.probs[:, pos, tok]
        self.curve.setData(np.arange(len(curve)), curve)
        set_category_ticks(self.plot, labels)
        self.plot.getPlotItem().setYRange(0, 1.05, padding=0)
        # a title is rich text, and a token may look like markup (<img>)
        set_plot_title(self.plot, html.escape(f"p(“{vocab[tok]}”) after “{tokens[pos]}”"), self._scale)
        self.caption.setText(f"{lens_note(model.config.norm)} Click a row to follow that position.")
