"""Activation patching: where in the model does the answer live?

Two inputs that differ in one place: the clean one (whose answer we know) and a corrupted one.
Run the corrupted input, but copy one activation from the clean run: a residual stream point at
one position, or one head's output. The share of the clean answer that comes back says how much
that activation carries it (Meng et al., 2022; Wang et al., 2022). Left: depth × position for
the residual stream; right: layer × head. Presets can ship ready-made pairs.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QSignalBlocker
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QLineEdit, QPushButton, QWidget

from simulator import interp
from simulator.presets import PatchPair, patch_pairs
from ui.bridge import SessionBridge
from ui.lazy import LazyView
from ui.pictures.caption import Caption
from ui.pictures.frame import framed, label_font, side_by_side
from ui.pictures.heatmap import TICK_PT, Heatmap
from ui.pictures.picture_layout import fit_labels
from ui.pictures.slicing import shown
from ui.pictures.token_combo import set_vocabulary

OWN = "Your own inputs"


class PatchingView(LazyView):
    """Clean/corrupted inputs, and the two recovery maps (see the module docstring)."""

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        self.pairs: list[PatchPair] = []
        self.resid: tuple[list[str], np.ndarray] | None = None  # (point names, recovered[point, pos])
        self.heads: tuple[list[str], np.ndarray] | None = None  # (layer names, recovered[layer, head])
        self.error = ""
        self._cols: list[str] = []  # the stream map's column labels, fitted again on a resize
        bridge.sigTraceChanged.connect(self.request_refresh)

    def build(self) -> None:
        self.pair = QComboBox()
        self.clean, self.corrupt = QLineEdit(), QLineEdit()
        self.answer, self.wrong = QComboBox(), QComboBox()
        self.run_button = QPushButton("Patch")
        self.resid_map, self.head_map = Heatmap(), Heatmap()
        self.caption = Caption()
        self.resid_map.installEventFilter(self)
        form = QGridLayout()
        form.addWidget(QLabel("Pair"), 0, 0)
        form.addWidget(self.pair, 0, 1, 1, 3)
        form.addWidget(QLabel("Clean"), 1, 0)
        form.addWidget(self.clean, 1, 1)
        form.addWidget(QLabel("answer"), 1, 2)
        form.addWidget(self.answer, 1, 3)
        form.addWidget(QLabel("Corrupted"), 2, 0)
        form.addWidget(self.corrupt, 2, 1)
        form.addWidget(QLabel("its answer"), 2, 2)
        form.addWidget(self.wrong, 2, 3)
        form.addWidget(self.run_button, 1, 4, 2, 1)
        form.setColumnStretch(1, 1)
        framed(self, form, side_by_side((self.resid_map, 3), (self.head_map, 2)), self.caption)
        self.pair.currentIndexChanged.connect(self._pair_chosen)
        self.run_button.clicked.connect(self.refresh)
        for edit in (self.clean, self.corrupt):
            edit.returnPressed.connect(self.refresh)

    def apply_font_scale(self, f: float) -> None:
        label_font(f, (self, self.pair, self.clean, self.corrupt, self.answer, self.wrong, self.run_button),
                   self.caption, 2)
        self.resid_map.set_font_scale(f)
        self.head_map.set_font_scale(f)

    def _pair_chosen(self, i: int) -> None:
        if 0 < i <= len(self.pairs):
            self.use_pair(self.pairs[i - 1])

    def use_pair(self, pair: PatchPair) -> None:
        """Fill the inputs from a ready-made pair and patch."""
        self.use_pair_texts(pair)
        self.refresh()

    def _fill_choices(self) -> None:
        model = self.bridge.model
        vocab = list(model.config.vocab)
        pairs = patch_pairs(model)
        labels = [OWN] + [f"{p.clean}  →  {p.corrupt}" for p in pairs]
        with QSignalBlocker(self.pair), QSignalBlocker(self.answer), QSignalBlocker(self.wrong):
            shown_vocab = [shown(t) for t in vocab]
            if set_vocabulary(self.answer, shown_vocab):
                set_vocabulary(self.wrong, shown_vocab)
                self.clean.clear()
                self.corrupt.clear()
            if [self.pair.itemText(i) for i in range(self.pair.count())] != labels:
                self.pair.clear()
                self.pair.addItems(labels)
                self.pairs = pairs
                if pairs:  # a preset's first pair, ready to look at
                    self.pair.setCurrentIndex(1)
                    self.use_pair_texts(pairs[0])
        if not self.clean.text():  # start from the session's input, one token changed
            toks = self.bridge.session.tokens
            join = " ".join if model.config.tokenization == "word" else "".join
            first = list(toks[0] if isinstance(toks, tuple) else toks)
            alt = list(first)
            alt[0] = next((v for v in vocab if v != first[0] and v != "<unk>"), first[0])
            if isinstance(toks, tuple):  # change the source; the target stays
                clean, corrupt = (first, list(toks[1])), (alt, list(toks[1]))
                self.clean.setText(f"{join(first)} | {join(toks[1])}")
                self.corrupt.setText(f"{join(alt)} | {join(toks[1])}")
            else:
                clean, corrupt = first, alt
                self.clean.setText(join(first))
                self.corrupt.setText(join(alt))
            self.answer.setCurrentIndex(int(model.run(clean)["logits"][-1].argmax()))
            self.wrong.setCurrentIndex(int(model.run(corrupt)["logits"][-1].argmax()))

    def use_pair_texts(self, pair: PatchPair) -> None:
        vocab = list(self.bridge.model.config.vocab)
        self.clean.setText(pair.clean)
        self.corrupt.setText(pair.corrupt)
        self.answer.setCurrentIndex(vocab.index(pair.answer))
        self.wrong.setCurrentIndex(vocab.index(pair.wrong))

    def _fit_columns(self, cols: list[str]) -> None:
        """Smaller or staggered column labels when words (and "the→mary") are wider than their cells."""
        self._cols = cols
        font = QFont()
        font.setPointSizeF(TICK_PT * self._scale)
        fm = QFontMetricsF(font)
        cell_w = self.resid_map.width() * 0.8 / max(len(cols), 1)  # the plot takes about 4/5 of the widget
        fit = fit_labels(cell_w, 40.0, fm.height(), max(fm.horizontalAdvance(c) for c in cols) + 6, token_rows=False)
        self.resid_map.set_label_style(fit.scale, fit.stagger)

    def eventFilter(self, obj, ev) -> bool:
        if obj is self.resid_map and ev.type() == QEvent.Type.Resize and self._cols:
            self._fit_columns(self._cols)  # the map's new width, not the view's: the layout sets it later
        return False

    def inputs(self, text: str):
        """The model's input from a line: an encoder-decoder takes "source | target"."""
        if self.bridge.model.config.arch != "encoder-decoder":
            return text
        if text.count("|") != 1:
            raise ValueError("An encoder-decoder takes two inputs: type them as source | target.")
        source, target = text.split("|")
        return source.strip(), target.strip()

    def paint(self) -> None:
        self._fill_choices()
        model = self.bridge.model
        answer, wrong = self.answer.currentIndex(), self.wrong.currentIndex()
        try:
            clean, corrupt = self.inputs(self.clean.text()), self.inputs(self.corrupt.text())
            sizes = [[len(side) for side in model.tokens(x)] if isinstance(x, tuple) else [len(model.tokens(x))]
                     for x in (clean, corrupt)]
            if sizes[0] != sizes[1]:
                raise ValueError("The clean and corrupted inputs must have the same number of tokens.")
            self.resid = interp.patch_sweep(model, clean, corrupt, answer, wrong, "resid")
            self.heads = interp.patch_sweep(model, clean, corrupt, answer, wrong, "heads")
        except (KeyError, ValueError) as exc:
            self.error = str(exc.args[0]) if exc.args else str(exc)
            self.caption.setText(self.error)
            return
        self.error = ""
        rows, grid = self.resid
        tokens, clean_toks = model.tokens(corrupt), model.tokens(clean)
        if isinstance(tokens, tuple):  # the decoder's stream: the target side
            tokens, clean_toks = tokens[1], clean_toks[1]
        cols = [c if c == d else f"{d}→{c}" for c, d in zip(clean_toks, tokens)]
        labels = [interp.point_label(r) for r in rows]
        self.resid_map.set_data(grid[::-1], labels[::-1], cols, "signed", "Stream patched")
        self._fit_columns(cols)
        layers, heads = self.heads
        self.head_map.set_data(heads, [f"L{r.split('.')[-2]}" + (" cross" if r.endswith("cross_attn") else "")
                                       for r in layers],
                               [f"H{h}" for h in range(heads.shape[1])], "signed", "One head patched")
        vocab = model.config.vocab
        note = ""
        i = self.pair.currentIndex()
        if 0 < i <= len(self.pairs) and self.pairs[i - 1].clean == self.clean.text() \
                and self.pairs[i - 1].corrupt == self.corrupt.text():
            note = self.pairs[i - 1].note + " "
        self.caption.setText(
            f"{note}Each cell: the corrupted run with that one activation copied from the clean run. "
            f"1 = the clean answer “{vocab[answer]}” fully back, 0 = still “{vocab[wrong]}” "
            "(measured on logit(answer) − logit(its answer) at the last position).")
