"""Tiled attention, one block of keys at a time: FlashAttention's online softmax for one head.

The walk of `simulator.tiled` over the current model's attention (the selected layer and head):
the scores of the block just read (the only scores held), the running maximum m, the rescaling α
it caused, the running sum ℓ, the output so far and the full attention's output beside it, with
a counter of the numbers held.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from simulator.patterns import allowed_for
from simulator.tiled import State, full_attention, head_inputs, walk
from ui.bridge import SessionBridge
from ui.lazy import Lazy
from ui.pictures.heatmap import Heatmap
from ui.pictures.slicing import token_labels
from ui.pictures.wrap_label import WrapLabel


def attention_layers(trace) -> list[tuple[str, str, dict]]:
    """(title, attention prefix, the mask's settings) of every softmax attention in the trace, in order."""
    out = []
    for node in trace.graph.nodes:
        if node.role == "mask":
            prefix = node.name.rsplit(".", 1)[0] + "."
            where = (node.stack.capitalize() + " " if node.stack else "") + f"layer {node.layer}"
            what = "cross-attention" if node.sublayer == "cross_attn" else "self-attention"
            out.append((f"{where} {what}", prefix, dict(node.attrs)))
    return out


def describe(state: State, previous: State | None, labels: list[str]) -> str:
    """What the last block did, in words (plain text)."""
    if state.block == 0:
        return ("Before any key: every query's maximum m is −∞, its sum ℓ is 0 and its output is 0. "
                "Each step reads one block of keys, and only that block's scores are ever held.")
    lo, hi = state.keys
    text = f"Block {state.block} read keys {lo}…{hi - 1}. "
    if previous is not None and previous.block > 0:
        raised = np.flatnonzero(state.m > previous.m)
        if raised.size:
            i = int(raised[0])
            text += (f"Query {i} ('{labels[i]}') found a larger score: m rose from {previous.m[i]:.3f} to "
                     f"{state.m[i]:.3f}, so its earlier sum and output were multiplied by "
                     f"α = exp({previous.m[i]:.3f} − {state.m[i]:.3f}) = {state.alpha[i]:.3f}"
                     + (f" ({raised.size - 1} more queries rescaled too). " if raised.size > 1 else ". "))
        else:
            text += "No query found a larger score: nothing was rescaled (α = 1). "
    text += "ℓ and the output gained this block's exp(s − m) terms."
    if state.done:
        text += " Every key has been read: output = acc ÷ ℓ."
    return text


class TiledView(QWidget):
    ABOUT = ("Tiled attention: one head's attention computed a block of keys at a time, as FlashAttention does, "
             "keeping only a running maximum, a running sum and the output so far; it ends equal to full attention.")
    def __init__(self, bridge: SessionBridge, parent=None):
        super().__init__(parent)
        self.bridge = bridge
        self.states: list[State] = []
        self.index = 0
        self.full: np.ndarray | None = None
        self._lazy = Lazy(self, self.refresh)  # walks the model's attention only while the tab is seen

        self.layer = QComboBox()
        self.layer.currentIndexChanged.connect(self.rebuild)
        self.block = QSpinBox()
        self.block.setRange(1, 1024)
        self.block.setValue(2)
        self.block.setToolTip("Keys read per step")
        self.block.valueChanged.connect(self.rebuild)
        self.buttons = {}
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Attention"))
        controls.addWidget(self.layer)
        controls.addWidget(QLabel("Block of keys"))
        controls.addWidget(self.block)
        for key, text in (("first", "|◀ Start"), ("back", "◀ Back"), ("next", "Next block ▶"),
                          ("last", "Last ▶|")):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, k=key: self.go(k))
            controls.addWidget(button)
            self.buttons[key] = button
        controls.addStretch(1)
        self.scores = Heatmap()
        self.m = Heatmap()
        self.alpha = Heatmap()
        self.total = Heatmap()
        self.output = Heatmap()
        self.reference = Heatmap()
        for narrow in (self.m, self.alpha, self.total):  # one column each: the colours alone tell
            narrow.set_colorbar_visible(False)
        grid = QGridLayout()
        for col, (widget, stretch) in enumerate(((self.scores, 3), (self.m, 1), (self.alpha, 1), (self.total, 1),
                                                 (self.output, 3), (self.reference, 3))):
            grid.addWidget(widget, 0, col)
            grid.setColumnStretch(col, stretch)
        self.memory = WrapLabel()
        self.note = WrapLabel()
        for label in (self.memory, self.note):
            label.setTextFormat(label.textFormat().PlainText)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(grid, 1)
        layout.addWidget(self.memory)
        layout.addWidget(self.note)

        bridge.sigTraceChanged.connect(self._lazy.request)
        bridge.sigHeadChanged.connect(self._on_head_changed)
        self.refresh()

    def _on_head_changed(self, _head: int) -> None:
        # hidden, the layer list may be of an earlier model: walk again when shown
        if self._lazy.stale or not self.isVisible():
            self._lazy.stale = True
            return
        self.rebuild()

    def refresh(self) -> None:
        """Re-list the attentions of the current trace and walk the chosen one again."""
        self._lazy.stale = False
        layers = attention_layers(self.bridge.trace)
        keep = self.layer.currentText()
        blocked = self.layer.blockSignals(True)
        self.layer.clear()
        for title, prefix, attrs in layers:
            self.layer.addItem(title, (prefix, attrs))
        self.layer.setCurrentIndex(max(0, self.layer.findText(keep)))
        self.layer.blockSignals(blocked)
        self.rebuild()

    def rebuild(self, *_) -> None:
        data = self.layer.currentData()
        if data is None:
            self.states, self.full = [], None
            self.note.setText("This model has no softmax attention grid to tile (linear attention never forms "
                              "one: its state already has a fixed size).")
            self.memory.setText("")
            for button in self.buttons.values():
                button.setEnabled(False)
            return
        prefix, attrs = data
        trace = self.bridge.trace
        head = min(self.bridge.head, trace[prefix + "hook_v"].shape[1] - 1)
        q, k, v = head_inputs(trace, prefix, head)
        ok = allowed_for(attrs, len(q), len(k))
        self.block.setMaximum(max(1, len(k)))
        self.states = list(walk(q, k, v, self.block.value(), allowed=ok))
        self.full = full_attention(q, k, v, allowed=ok)
        self.kind = attrs["kind"]
        self.q_labels = token_labels(trace, prefix + "hook_q")
        self.k_labels = token_labels(trace, prefix + "hook_k")
        self.head = head
        self.index = min(self.index, len(self.states) - 1)
        self.show_state()

    def go(self, where: str) -> None:
        last = len(self.states) - 1
        self.index = {"first": 0, "back": max(0, self.index - 1), "next": min(last, self.index + 1),
                      "last": last}[where]
        self.show_state()

    def show_state(self) -> None:
        st = self.states[self.index]
        previous = self.states[self.index - 1] if self.index else None
        rows = self.q_labels
        lo, hi = st.keys
        if hi > lo:
            self.scores.set_data(st.scores, rows, self.k_labels[lo:hi], title=f"scores, keys {lo}…{hi - 1}")
        else:
            self.scores.set_data(np.full((len(rows), 1), np.nan), rows, [""], title="no scores yet")
        self.m.set_data(np.where(np.isfinite(st.m), st.m, np.nan)[:, None], rows, ["m"], title="max")
        self.alpha.set_data(st.alpha[:, None], rows, ["α"], kind="prob", title="rescale")
        self.total.set_data(st.total[:, None], rows, ["ℓ"], title="sum")
        out = np.where(st.total[:, None] > 0, st.output(), np.nan)
        self.output.set_data(out, rows, None, title="output so far")
        self.reference.set_data(self.full, rows, None, title="full attention")
        n_q, n_k = len(rows), len(self.k_labels)
        self.memory.setText(
            f"Memory besides q, k, v and the output: {st.memory} numbers now, {st.peak} at most (one block's "
            f"scores and their exponentials, 2 × {n_q} × {hi - lo} = {2 * st.scores.size}, and m and ℓ, "
            f"2 × {n_q}). Full attention holds the whole grid of scores and weights: 2 × {n_q} × {n_k} = "
            f"{2 * n_q * n_k}."
            + (f"  Largest difference from full attention: {np.max(np.abs(st.output() - self.full)):.1e}."
               if st.done else ""))
        self.note.setText(f"Step {st.block} of {len(self.states) - 1}, head {self.head}"
                          + f", {self.kind} mask. " + describe(st, previous, rows))
        self.buttons["back"].setEnabled(self.index > 0)
        self.buttons["first"].setEnabled(self.index > 0)
        self.buttons["next"].setEnabled(self.index < len(self.states) - 1)
        self.buttons["last"].setEnabled(self.index < len(self.states) - 1)

    def set_font_scale(self, f: float) -> None:
        for heatmap in (self.scores, self.m, self.alpha, self.total, self.output, self.reference):
            heatmap.set_font_scale(f)


__all__ = ["TiledView", "attention_layers", "describe"]
