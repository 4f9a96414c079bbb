"""Direct logit attribution: which component wrote the answer into the residual stream.

For a chosen position and token (or a token minus another), one bar per component: the
embedding, the positions, every head of every layer, every MLP and the biases. With the final
LayerNorm's spread held at its value for that position the read-out is linear, so the bars add
up to the logit exactly; the title shows the sum. Click a bar to have the explanation panel
write its calculation out (Elhage et al., 2021).
"""
from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import QComboBox, QWidget

from simulator import interp
from ui.bridge import SessionBridge
from ui.lazy import LazyView
from ui.pictures.caption import Caption
from ui.pictures.frame import control_row, framed, label_font
from ui.pictures.plot_style import fixed_plot, ink, on_click, scale_plot, set_category_ticks, set_plot_title
from ui.pictures.slicing import shown
from ui.pictures.token_combo import TokenCombo, set_vocabulary

POSITIVE, NEGATIVE = (50, 110, 190), (200, 70, 50)
NO_OTHER = "—"


def short_label(component: str) -> str:
    """A bar's label: "blocks.1.attn.head0" → "L1 H0", "blocks.0.mlp" → "L0 MLP", a cross head
    "L0 ×H1", a whole sublayer switched off "blocks.1.attn" → "L1 attn"."""
    name = component.removeprefix("decoder.")
    parts = name.split(".")
    if parts[0] != "blocks":
        return {"embed": "embed", "pos_embed": "pos", "biases": "biases"}.get(name, name)
    if parts[2] == "mlp":
        return f"L{parts[1]} MLP"
    if len(parts) == 3:  # a whole attention sublayer, switched off
        return f"L{parts[1]} {'cross' if parts[2] == 'cross_attn' else 'attn'}"
    return f"L{parts[1]} {'×' if parts[2] == 'cross_attn' else ''}H{parts[3].removeprefix('head')}"


class AttributionView(LazyView):
    """The bars of one logit (see the module docstring)."""

    sigCalculation = Signal(str)  # one bar's calculation, for the explanation panel

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        self.parts: dict[str, float] = {}
        self.calculation = ""
        self.selected: str | None = None  # the component whose bar was clicked (outlined)
        self._auto_token = True
        bridge.sigTraceChanged.connect(self.request_refresh)

    def build(self) -> None:
        self.position = TokenCombo()
        self.token = QComboBox()
        self.other = QComboBox()
        self.plot = fixed_plot("", "share of the logit", min_size=None, x_grid=False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.plot.addItem(self.bars)
        self.plot.getPlotItem().addLine(y=0, pen=pg.mkPen(ink(self.plot)))
        self.caption = Caption()
        framed(self, control_row(("Position", self.position), ("token", self.token), ("minus", self.other)),
               self.plot, self.caption)
        self.position.currentIndexChanged.connect(self._position_chosen)
        self.token.currentIndexChanged.connect(self._token_chosen)
        self.other.currentIndexChanged.connect(self.refresh)
        on_click(self.plot, lambda x, _y: self.show_bar(int(round(x))))

    def _position_chosen(self) -> None:
        self._auto_token = True
        self.refresh()

    def _token_chosen(self) -> None:
        self._auto_token = False
        self.refresh()

    def apply_font_scale(self, f: float) -> None:
        label_font(f, (self, self.position, self.token, self.other), self.caption, 2)
        scale_plot(self.plot, f)
        set_plot_title(self.plot, self.plot.getPlotItem().titleLabel.text, f)

    def choice(self) -> tuple[int, int, int | None]:
        """(position, token, other token or None) on screen."""
        other = self.other.currentIndex() - 1
        pos, tok = max(self.position.currentIndex(), 0), max(self.token.currentIndex(), 0)
        return pos, tok, (other if other >= 0 else None)

    def paint(self) -> None:
        trace, model = self.bridge.trace, self.bridge.model
        vocab = list(model.config.vocab)
        tokens = trace.token_labels("logits")
        self.position.set_tokens(tokens)
        if not getattr(self, "_placed", False):  # start at the last token: its answer is the one asked about
            self._placed = True
            with QSignalBlocker(self.position):
                self.position.setCurrentIndex(len(tokens) - 1)
        with QSignalBlocker(self.token), QSignalBlocker(self.other):
            shown_vocab = [shown(t) for t in vocab]
            if set_vocabulary(self.token, shown_vocab):
                set_vocabulary(self.other, [NO_OTHER] + shown_vocab)
            pos = min(max(self.position.currentIndex(), 0), len(tokens) - 1)
            if self._auto_token:
                self.token.setCurrentIndex(int(trace["logits"][pos].argmax()))
        pos, tok, other = self.choice()
        if model.config.norm == "post":
            self.parts = {}
            self.bars.setOpts(x=[], height=[])
            set_plot_title(self.plot, "Not available for post-LN", self._scale)
            self.caption.setText("Post-LN normalises the stream after every sublayer, so the answer is not a "
                                 "sum of the components' outputs and cannot be split into bars. Use the logit "
                                 "lens or patching instead.")
            return
        self.parts = interp.direct_logit_attribution(model, trace, pos, tok, other)
        names = list(self.parts)
        heights = np.array([self.parts[n] for n in names])
        brushes = [pg.mkBrush(*(POSITIVE if h >= 0 else NEGATIVE)) for h in heights]
        pens = [pg.mkPen("k", width=4 if n == self.selected else 1) for n in names]
        self.bars.setOpts(x=np.arange(len(names)), height=heights, width=0.7, brushes=brushes, pens=pens)
        set_category_ticks(self.plot, [short_label(n) for n in names])
        span = max(float(np.abs(heights).max()), 1e-9) * 1.1
        low, high = min(0.0, float(heights.min()) * 1.1), max(0.0, float(heights.max())) + 0.02 * span
        self.plot.getPlotItem().setYRange(low, high, padding=0)
        what = f"logit(“{shown(vocab[tok])}”)" + (f" − logit(“{shown(vocab[other])}”)" if other is not None else "")
        logits = trace["logits"][pos]
        value = logits[tok] - (logits[other] if other is not None else 0.0)
        # a title is rich text, and a token may look like markup (<img>)
        set_plot_title(self.plot, html.escape(f"{what} after “{shown(tokens[pos])}” = {value:.3f};  sum of the "
                                              f"bars = {heights.sum():.3f}"), self._scale)
        self.caption.setText("Each bar is one component's output read straight through the unembedding, with "
                             "the final LayerNorm's spread held at its value here, so the bars add up to the "
                             "logit. Click a bar to see its calculation.")

    def show_bar(self, i: int) -> None:
        """Write bar `i`'s calculation to the explanation panel."""
        names = list(self.parts)
        if not 0 <= i < len(names):
            return
        pos, tok, other = self.choice()
        self.selected = names[i]
        self.calculation = interp.attribution_calculation(self.bridge.model, self.bridge.trace, pos, tok,
                                                          names[i], other)
        self.sigCalculation.emit(self.calculation)
        self.refresh()
