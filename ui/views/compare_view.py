"""The same input through two residual modes, side by side.

Each side is the current model rebuilt with the chosen residual mode, sharing every
parameter the two have in common (a mode's own parameters start where they reproduce
the standard stream). The view shows both sides' next-token probabilities and the
difference of their logits, and states the largest difference in words.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

from simulator import Transformer, depth
from simulator.config import RESIDUALS
from ui.bridge import SessionBridge
from ui.lazy import LazyView
from ui.pictures import colormaps
from ui.pictures.caption import Caption
from ui.pictures.frame import control_row, framed, label_font, side_by_side
from ui.pictures.heatmap import Heatmap
from ui.pictures.slicing import MAX_VOCAB, TOP_TOKENS, shown

MAP_SCALE = 0.85  # three maps share the width: slightly smaller labels keep every token on its axis


class CompareView(LazyView):
    """Two residual modes (combo boxes A and B) run on the current tokens, and B − A in logits."""

    ABOUT = ("Compare residuals: the same weights and input run with two ways of wiring depth, A and B; "
             "their next-token probabilities side by side (a row a token of the vocabulary, a column a "
             "position) and B − A in logits. Click a cell to see the two numbers and their difference.")
    sigCalculation = Signal(str)  # a clicked cell's numbers, for the explanation panel

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        self.models: tuple[Transformer, Transformer] | None = None
        self.logits: tuple[np.ndarray, np.ndarray] | None = None  # [pos, vocab] each
        self._drawn: tuple | None = None  # (token ids drawn as rows, probs A, probs B, positions, vocab, modes)
        bridge.sigTraceChanged.connect(self.request_refresh)

    def build(self) -> None:
        self.mode_a, self.mode_b = QComboBox(), QComboBox()
        for combo in (self.mode_a, self.mode_b):
            combo.addItems(RESIDUALS)
        current = self.bridge.model.config.residual
        self.mode_a.setCurrentText(current)
        self.mode_b.setCurrentText("attnres" if current != "attnres" else "standard")
        self.probs_a, self.probs_b, self.diff = Heatmap(), Heatmap(), Heatmap()
        colormaps.keep_maps(self.bridge, self.probs_a, self.probs_b, self.diff)
        self.summary = Caption()

        maps = side_by_side((self.probs_a, 8), (self.probs_b, 7), (self.diff, 8))  # B has no row labels
        framed(self, control_row(("A:", self.mode_a), ("B:", self.mode_b)), maps, self.summary)
        self.mode_a.currentTextChanged.connect(self.refresh)
        self.mode_b.currentTextChanged.connect(self.refresh)
        for heatmap in (self.probs_a, self.probs_b, self.diff):
            heatmap.sigCellClicked.connect(self.explain_cell)

    def apply_font_scale(self, f: float) -> None:
        label_font(f, (self, self.mode_a, self.mode_b), self.summary, 2)
        for h in (self.probs_a, self.probs_b, self.diff):
            h.set_font_scale(MAP_SCALE * f)

    def explain_cell(self, cell: tuple[int, int]) -> None:
        """The clicked (token, position): its probability under A and B and their logits' difference."""
        if self._drawn is None or self.logits is None:
            return
        ids, probs_a, probs_b, positions, vocab, modes = self._drawn
        row, pos = cell
        if not (0 <= row < len(ids) and 0 <= pos < len(positions)):
            return
        t = int(ids[row])
        za, zb = float(self.logits[0][pos, t]), float(self.logits[1][pos, t])
        self.sigCalculation.emit(
            f"Next token “{vocab[t]}” after “{positions[pos]}”:\n"
            f"A ({modes[0]}): p = {probs_a[pos, t]:.4f}, logit {za:.4f}\n"
            f"B ({modes[1]}): p = {probs_b[pos, t]:.4f}, logit {zb:.4f}\n"
            f"B − A = {zb:.4f} − {za:.4f} = {zb - za:.4f}")

    def paint(self) -> None:
        model, trace = self.bridge.model, self.bridge.trace
        modes = self.mode_a.currentText(), self.mode_b.currentText()
        try:
            models = tuple(depth.with_residual(model, m) for m in modes)
        except ValueError as exc:
            self.models = self.logits = self._drawn = None
            self.summary.setText(f"Cannot compare: {exc}")
            for h in (self.probs_a, self.probs_b, self.diff):
                h.set_data(np.zeros((1, 1)), [""], [""], title="")
            return
        traces = [trace if m is model else m.run(trace.tokens, temperature=trace.temperature) for m in models]
        self.models = models
        self.logits = (traces[0]["logits"], traces[1]["logits"])
        rows = [shown(t) for t in trace.token_labels("logits")]
        vocab = [shown(t) for t in model.config.vocab]
        delta = self.logits[1] - self.logits[0]  # [pos, vocab]
        # a checkpoint's 30,000 tokens: the TOP_TOKENS that A or B finds most likely anywhere, by name
        ids = slice(None)
        if len(vocab) > MAX_VOCAB:
            best = np.maximum(traces[0]["probs"].max(0), traces[1]["probs"].max(0))  # [vocab]
            ids = np.argsort(-best, kind="stable")[:TOP_TOKENS]
        some = [vocab[i] for i in np.arange(len(vocab))[ids]]
        self._drawn = (list(np.arange(len(vocab))[ids]), traces[0]["probs"], traces[1]["probs"], rows, vocab, modes)
        top = f" · top {len(some)} of {len(vocab):,} tokens" if len(some) < len(vocab) else ""
        # Transposed to [vocab, pos]: the vocabulary is longer than the input, and rows have room for it.
        self.probs_a.set_data(traces[0]["probs"][:, ids].T, some, rows, "prob", f"A: {modes[0]}{top}")
        # B sits next to A and shares its rows: blank labels leave its columns room to be read.
        self.probs_b.set_data(traces[1]["probs"][:, ids].T, [""] * len(some), rows, "prob", f"B: {modes[1]}")
        self.diff.set_data(delta[:, ids].T, some, rows, "signed", "B − A (logits)")
        i, j = np.unravel_index(np.argmax(np.abs(delta)), delta.shape)
        biggest = abs(float(delta[i, j]))
        where = f", after “{rows[i]}” for the next token “{vocab[j]}”" if biggest > 0 else ""
        norms = [f"{m.config.residual} ({m.config.norm}-norm)" for m in models]
        note = ""
        if 0 < biggest < 1e-3:
            note = (" Tiny: at their start values the depth modes compute the standard stream, exactly "
                    f"only when the norms' ε is 0 (here ε = {model.config.norm_eps:g}).")
        self.summary.setText(f"Next-token probabilities of A = {norms[0]} and B = {norms[1]}, same shared "
                             "weights, and B − A in logits. "
                             f"Largest logit difference: {biggest:.3g}{where}.{note}")
