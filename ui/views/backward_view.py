"""The backward pass, one step per operation in reverse: the rule that carries the gradient
back through the step, ∂L/∂(step) beside the step's forward value, and ∂L/∂ the first
weight the step reads.

The loss is that of the current input (`simulator.BackwardWalk`): a decoder predicts
each next token, an encoder its own input. The walk has its own cursor, so stepping
back through the gradients leaves the forward step view where it was.
"""
from __future__ import annotations

import html
import math

import numpy as np
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QStyle, QVBoxLayout, QWidget

from simulator import BackwardWalk
from simulator.gradient_flow import BackwardStep
from ui.bridge import SessionBridge
from ui.lazy import LazyView
from ui.pictures import colormaps
from ui.pictures.heatmap import Heatmap
from ui.pictures.slicing import head_slicer, labels_for, step_title, thin
from ui.pictures.wrap_label import WrapLabel

LABEL_PT = 13.0
TITLE_PT = 17.0
FORMULA_PT = 19.0
TICK_PT = 12.0  # the heatmaps' axis labels
PER_HEAD_WEIGHTS = ("W_Q", "W_K", "W_V", "W_O")  # [head, ...]: shown for the selected head


def short(name: str) -> str:
    """"blocks.0.attn.hook_pattern" -> "pattern", "blocks.0.attn.W_Q" -> "W_Q"."""
    return name.rsplit(".", 1)[-1].removeprefix("hook_")


def weight_slice(name: str, grad: np.ndarray, head: int, vocab: list[str]):
    """(2-D array, row labels, column labels, title suffix) of a weight's gradient for display."""
    leaf = short(name)
    if grad.ndim == 3 and leaf in PER_HEAD_WEIGHTS:
        head = min(head, grad.shape[0] - 1)
        g = grad[head]  # [d_model, d_head] or, for W_O, [d_head, d_model]
        return g, [str(i) for i in range(g.shape[0])], [str(j) for j in range(g.shape[1])], f" · head {head}"
    g = grad[np.newaxis, :] if grad.ndim == 1 else grad.reshape(grad.shape[0], -1)
    rows = list(vocab) if leaf == "W_E" and g.shape[0] == len(vocab) else [str(i) for i in range(g.shape[0])]
    cols = list(vocab) if leaf == "W_U" and g.shape[1] == len(vocab) else [str(j) for j in range(g.shape[1])]
    return g, rows, cols, ""


class FormulaLabel(WrapLabel):
    """A formula whose lines break between its clauses ("a = …;  b = …"), not inside one."""

    def __init__(self) -> None:
        super().__init__()
        self.setTextFormat(Qt.TextFormat.RichText)
        self._clauses: list[str] = []

    def set_formula(self, formula: str) -> None:
        self._clauses = formula.split(";  ") if formula else []
        self._pack()

    def formula(self) -> str:
        return ";  ".join(self._clauses)

    def _pack(self) -> None:
        fm, width = QFontMetricsF(self.font()), self.contentsRect().width()
        lines: list[str] = []
        for clause in self._clauses:
            joined = f"{lines[-1]};  {clause}" if lines else clause
            if lines and fm.horizontalAdvance(joined) <= width:
                lines[-1] = joined
            else:
                if lines:
                    lines[-1] += ";"
                lines.append(clause)
        text = "<br>".join(html.escape(line).replace("  ", "&nbsp; ") for line in lines)
        if text != self.text():
            self.setText(text)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._pack()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._pack()


class BackwardView(LazyView):
    """Walks `BackwardWalk` over the current session; see the module docstring."""

    ABOUT = ("Backward pass: the gradient of the loss, ∂L/∂(step), carried back through each operation in "
             "reverse order, beside the step's forward value and the gradient of the weight the step reads. "
             "Click a cell to see what its gradient says about that number.")
    sigCalculation = Signal(str)  # a clicked cell's gradient, for the explanation panel

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        # Told of edits by the bridge, like every view (the session outlives this view)
        self.walk = BackwardWalk(bridge.session, follow=False)
        self.walk.subscribe(self.request_refresh)
        bridge.sigTraceChanged.connect(self._trace_changed)
        bridge.sigHeadChanged.connect(self.request_refresh)

    def _trace_changed(self) -> None:
        if self.walk.session is not self.bridge.session:
            self.walk.set_session(self.bridge.session)
        else:
            self.walk.session_changed()

    # --- building ---

    def build(self) -> None:
        icon, sp = self.style().standardIcon, QStyle.StandardPixmap
        self.first_button = QPushButton(icon(sp.SP_MediaSkipBackward), "First")
        self.back_button = QPushButton(icon(sp.SP_MediaSeekBackward), "Back")
        self.next_button = QPushButton(icon(sp.SP_MediaSeekForward), "Next")
        self.last_button = QPushButton(icon(sp.SP_MediaSkipForward), "Last")
        for button, tip, slot in ((self.first_button, "The loss end: the last forward step", self.walk.first),
                                  (self.back_button, "One step back towards the loss", self.walk.back),
                                  (self.next_button, "One step further back through the model", self.walk.next),
                                  (self.last_button, "The input end: the first forward step", self.walk.last)):
            button.setToolTip(tip)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the window's arrow keys keep stepping forward
            button.clicked.connect(slot)
        self.position = QLabel()
        self.position.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A long step name is cut at the right rather than widening the tab past the window.
        self.position.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.loss_label = QLabel()
        self.loss_label.setToolTip("Cross-entropy of predicting each counted position's target, averaged")
        self.title = WrapLabel()
        self.formula = FormulaLabel()
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.description = WrapLabel()
        self.grad_map = Heatmap()
        self.value_map = Heatmap()
        self.weight_map = Heatmap()
        colormaps.keep_maps(self.bridge, self.grad_map, self.value_map, self.weight_map)
        for heatmap in (self.grad_map, self.value_map):
            heatmap.sigCellClicked.connect(self.explain_cell)
        self.weight_map.sigCellClicked.connect(self.explain_weight_cell)

        bar = QHBoxLayout()
        for button in (self.first_button, self.back_button, self.next_button, self.last_button):
            bar.addWidget(button)
        bar.addWidget(self.position, 1)
        bar.addSpacing(12)
        bar.addWidget(self.loss_label)
        self.maps = QHBoxLayout()
        self._full: dict[Heatmap, tuple] = {}  # what each shows: (values, rows, cols, kind, title), unthinned
        for m in (self.grad_map, self.value_map, self.weight_map):
            m.setMinimumSize(220, 200)
            m.installEventFilter(self)
            self.maps.addWidget(m, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.addLayout(bar)
        lay.addWidget(self.title)
        lay.addWidget(self.formula)
        lay.addWidget(self.description)
        lay.addLayout(self.maps, 1)

    def apply_font_scale(self, f: float) -> None:
        font = QFont()
        font.setPointSizeF(LABEL_PT * f)
        for w in (self, self.position, self.loss_label, self.description, self.first_button, self.back_button,
                  self.next_button, self.last_button):
            w.setFont(font)
        big = QFont(font)
        big.setPointSizeF(TITLE_PT * f)
        big.setBold(True)
        self.title.setFont(big)
        formula = QFont(font)
        formula.setPointSizeF(FORMULA_PT * f)
        self.formula.setFont(formula)
        for m in (self.grad_map, self.value_map, self.weight_map):
            m.set_font_scale(f)
        for w in (self.title, self.formula, self.description):
            w.updateGeometry()

    # --- painting ---

    def paint(self) -> None:
        walk, trace = self.walk, self.bridge.trace
        step = walk.step
        for b in (self.first_button, self.back_button):
            b.setEnabled(step is not None and walk.index > 0)
        for b in (self.next_button, self.last_button):
            b.setEnabled(step is not None and walk.index < len(walk) - 1)
        if step is None:
            self.position.setText("no backward pass")
            self.loss_label.setText("")
            self.title.setText(walk.message)
            self.formula.set_formula("")
            self.description.setText("")
            for m in (self.grad_map, self.value_map, self.weight_map):
                m.hide()
            return
        self.position.setText(f"backward step {walk.index + 1} of {len(walk)} — {step.name}")
        self.position.setToolTip(step.name)  # a long name may be cut at the right
        what = walk.loss_what  # e.g. "the answer tokens (positions 4–6), as in the Training tab"
        brief = what.split(" (")[0].removesuffix(" of the input")  # the bar is shared with the step counter
        self.loss_label.setText(f"loss L = <b>{walk.loss:.4f}</b> on {brief}")
        self.loss_label.setToolTip(f"Cross-entropy averaged over {what}")
        self.title.setText(f"∂L/∂{short(step.name)}: {step_title(trace, step.name)}")
        self.formula.set_formula(step.formula)
        self.description.setText(step.description)
        self._paint_maps(step)

    def explain_cell(self, cell: tuple[int, int]) -> None:
        """A cell of ∂L/∂(step) or of its forward value: the gradient, the value, and what a nudge does."""
        step = self.walk.step
        if step is None or self.grad_map not in self._full or self.value_map not in self._full:
            return
        grad, rows, cols, _, _ = self._full[self.grad_map]
        value = self._full[self.value_map][0]
        r, c = cell
        if not (0 <= r < grad.shape[0] and 0 <= c < grad.shape[1]):
            return
        g, v = float(grad[r, c]), float(value[r, c])
        where = f"{short(step.name)}[{rows[r]}, {cols[c]}]"
        self.sigCalculation.emit(
            f"{where} = {v:.4g} in the forward pass\n∂L/∂{where} = {g:.4g}\n"
            f"Raising it by 0.01 would change the loss L = {self.walk.loss:.4f} by about "
            f"{g:.4g} × 0.01 = {0.01 * g:.3g}.")

    def explain_weight_cell(self, cell: tuple[int, int]) -> None:
        step = self.walk.step
        if step is None or not step.params or self.weight_map not in self._full:
            return
        grad, rows, cols, _, title = self._full[self.weight_map]
        r, c = cell
        if not (0 <= r < grad.shape[0] and 0 <= c < grad.shape[1]):
            return
        g = float(grad[r, c])
        self.sigCalculation.emit(
            f"{title}[{rows[r]}, {cols[c]}] = {g:.4g}\nA training step with learning rate η moves this weight by "
            f"−η × {g:.4g}: {'down' if g > 0 else 'up' if g < 0 else 'not at all'}, to lower the loss.")

    def _paint_maps(self, step: BackwardStep) -> None:
        trace, head = self.bridge.trace, self.bridge.head
        vocab = list(self.bridge.model.config.vocab)
        sl = head_slicer(trace, step.name, head)
        grad = sl.take(step.grad)
        value = sl.take(np.asarray(trace[step.name]))
        rows, cols = labels_for(trace, step.name, grad.shape, vocab)
        of_head = f" · head {sl.head}" if sl.layout in ("pos_head", "head_grid") else ""
        kind = "prob" if step.op in ("softmax", "probs") else "signed"
        self._show(self.grad_map, grad, rows, cols, "signed", f"∂L/∂{short(step.name)}{of_head}")
        self._show(self.value_map, value, rows, cols, kind, f"{short(step.name)} (forward){of_head}")
        if step.params:
            name, g = next(iter(step.params.items()))
            w, w_rows, w_cols, suffix = weight_slice(name, g, head, vocab)
            self._show(self.weight_map, w, w_rows, w_cols, "signed", f"∂L/∂{short(name)}{suffix}")
        else:
            self.weight_map.hide()

    def _show(self, heatmap: Heatmap, values: np.ndarray, rows: list[str], cols: list[str], kind: str,
              title: str) -> None:
        self._full[heatmap] = (values, rows, cols, kind, title)
        self._set_data(heatmap)
        heatmap.show()

    def _set_data(self, heatmap: Heatmap) -> None:
        values, rows, cols, kind, title = self._full[heatmap]
        heatmap.set_data(values, *self._fit(rows, cols, heatmap), kind, title)

    def _fit(self, rows: list[str], cols: list[str], heatmap: Heatmap) -> tuple[list[str], list[str]]:
        """Every k-th label, so that the labels of small cells do not run into each other."""
        font = QFont()
        font.setPointSizeF(TICK_PT * self._scale)
        fm = QFontMetricsF(font)
        # the cells get the heatmap less its title, axes and colour bar
        cell_w = max(1.0, (heatmap.width() - 130 * self._scale) / len(cols))
        cell_h = max(1.0, (heatmap.height() - 90 * self._scale) / len(rows))
        widest = max(fm.horizontalAdvance(c) for c in cols) + 6
        return thin(rows, math.ceil(fm.height() / cell_h)), thin(cols, math.ceil(widest / cell_w))

    def eventFilter(self, obj, event) -> bool:
        # A heatmap's size changes when its neighbour is shown or hidden, not only with the window.
        if event.type() == QEvent.Type.Resize and obj in self._full:
            _, rows, cols, _, _ = self._full[obj]
            if self._fit(rows, cols, obj) != obj.labels():
                self._set_data(obj)
        return False
