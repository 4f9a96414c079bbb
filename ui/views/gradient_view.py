"""Gradient flow: how large ∂loss/∂x is at each layer, and for each weight, for the current
model and input; and, for a deep model, how the wiring (residual connections, where the
norm sits, attention over depth) decides whether early layers still get a gradient.

The loss is next-token prediction on the current input: each position's target is the
token after it. The comparison trains nothing; it averages seeded random models.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QTabWidget, QVBoxLayout, QWidget

from simulator.budget import BudgetError
from simulator.gradient_flow import (
    compare_gradient_flow,
    gradient_flow,
    loss_targets,
    relative_to_last,
    residual_takeaway,
)
from ui.bridge import SessionBridge
from ui.jobs import BackgroundJob
from ui.lazy import Lazy
from ui.pictures import colormaps
from ui.pictures.plot_style import fixed_plot, on_click
from ui.pictures.wrap_label import WrapLabel

MODES = {  # (residual, norm) -> legend
    ("standard", "pre"): "standard residual, pre-LN",
    ("none", "pre"): "no residual",
    ("standard", "post"): "post-LN (original Transformer)",
    ("attnres", "pre"): "attention residuals",
}
WEIGHT_LEAVES = ("W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_in", "W_out", "W_U", "w", "alpha")


def short_name(name: str) -> str:
    """A parameter's name as a bar label: "blocks.1.attn.W_Q" -> "L1 attn.W_Q"."""
    for long, short in (("encoder.", "enc "), ("decoder.", "dec ")):
        name = name.replace(long, short)
    if "blocks." in name:
        head, rest = name.split("blocks.", 1)
        layer, rest = rest.split(".", 1)
        name = f"{head}L{layer} {rest}"
    return name


class GradientFlowView(QWidget):
    ABOUT = ("Gradients: how hard the loss pulls on each layer's input and on each weight for the current "
             "input (the size of ∂L/∂x), and, on the second page, how much of the gradient reaches the first "
             "layers with and without residual connections. Click a bar or a point to see its numbers.")
    sigComparisonReady = Signal(object)  # {(residual, norm): ‖∂L/∂resid_pre‖ per layer}, as measured
    sigCalculation = Signal(str)  # a clicked bar's or point's numbers, for the explanation panel

    def __init__(self, bridge: SessionBridge, parent=None):
        super().__init__(parent)
        self.bridge = bridge
        self.flow: dict | None = None  # gradient_flow of the current model and input
        self.comparison: dict | None = None
        self.relative: dict | None = None  # the comparison as drawn: each curve ÷ its last layer
        self._lazy = Lazy(self, self.refresh)
        self._job: BackgroundJob | None = None  # measuring the wirings

        self.summary = WrapLabel()
        self.which = QComboBox()
        self.which.addItem("Weight matrices", "weights")
        self.which.addItem("Every parameter", "all")
        self.which.currentIndexChanged.connect(self._draw_params)
        self.layer_plot = fixed_plot("‖∂loss/∂resid_pre‖ per layer", "gradient norm", "layer", min_size=(200, 130))
        self.param_plot = fixed_plot("‖∂loss/∂W‖ for each parameter", "", "gradient norm", min_size=(200, 130))
        self.param_plot.getPlotItem().invertY(True)

        self.depth = QSpinBox()
        self.depth.setRange(2, 24)
        self.depth.setValue(12)
        self.depth.setToolTip("Layers of the random models compared")
        self.seed = QSpinBox()
        self.seed.setRange(0, 99999)
        self.seed.setToolTip("Seed of the random models and inputs")
        self.compare_button = QPushButton("Compare wirings")
        self.compare_button.setToolTip("Average 8 seeded random models of each wiring (takes a second)")
        self.compare_button.clicked.connect(self.compare)
        self.compare_plot = fixed_plot("Gradient reaching each layer ÷ gradient at the last layer (log scale)",
                                       "share of last layer's", "layer (0 = first)", min_size=(200, 130))
        self.compare_plot.getPlotItem().setLogMode(y=True)
        on_click(self.layer_plot, lambda x, _y: self.explain_layer(round(x)))
        on_click(self.param_plot, lambda _x, y: self.explain_param(round(y)))
        on_click(self.compare_plot, lambda x, _y: self.explain_depth(round(x)))
        # A legend inside the plot would hide curves: it sits in a row of its own.
        self.legend = WrapLabel("&nbsp;&nbsp;&nbsp;".join(
            f'<span style="color:{colormaps.HEAD_COLORS[i].name()}">■</span> {text}'
            for i, text in enumerate(MODES.values())))
        self.compare_note = WrapLabel()
        self.takeaway = WrapLabel()  # what to conclude, read off the curves drawn above it

        # Two pages, so each picture gets the whole height of a crowded window.
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(QLabel("Show"))
        top.addWidget(self.which)
        current = QHBoxLayout()
        current.addWidget(self.layer_plot, 2)
        current.addWidget(self.param_plot, 3)
        this_page = QWidget()
        this_layout = QVBoxLayout(this_page)
        this_layout.addLayout(top)
        this_layout.addLayout(current, 1)
        controls = QHBoxLayout()
        for text, w in (("Depth", self.depth), ("Seed", self.seed)):
            controls.addWidget(QLabel(text))
            controls.addWidget(w)
        controls.addWidget(self.compare_button)
        controls.addWidget(self.legend, 1)
        compare_page = QWidget()
        compare_layout = QVBoxLayout(compare_page)
        compare_layout.addLayout(controls)
        compare_layout.addWidget(self.compare_note)
        compare_layout.addWidget(self.compare_plot, 1)
        compare_layout.addWidget(self.takeaway)
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(this_page, "This model and input")
        self.pages.addTab(compare_page, "Deep models: residual wirings")
        self.pages.currentChanged.connect(self._maybe_compare)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        bridge.sigTraceChanged.connect(self._on_trace_changed)
        self.refresh()
        QCoreApplication.instance().aboutToQuit.connect(self.shutdown)  # never quit with a thread running

    # --- the current model ---

    def _on_trace_changed(self) -> None:
        self._lazy.request()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._maybe_compare()

    def _maybe_compare(self) -> None:
        """Measure the wirings the first time their page is on screen."""
        if self.pages.currentIndex() == 1 and self.comparison is None and self._job is None:
            self.compare()

    def refresh(self) -> None:
        """Recompute the gradients of the current model on the current input."""
        self._lazy.stale = False
        session = self.bridge.session
        job, what = loss_targets(self.bridge.model, session.input, session.trace["probs"][-1])
        if job is not None:
            try:
                self.flow = gradient_flow(self.bridge.model, *job)
            except BudgetError as exc:  # the gradients would not fit the memory budget: say so, draw nothing
                job, what = None, str(exc)
        if job is None:
            self.flow = None
            self.summary.setText(what)
            self.layer_plot.clear()
            self.param_plot.clear()
            return
        self.summary.setText(f"Loss on {what}: "
                             f"<b>{self.flow['loss']:.3f}</b>. Larger bars: that part of the model "
                             "would change more in a training step.")
        self._draw_layers()
        self._draw_params()

    def _layer_labels(self) -> list[str]:
        out = []
        for name in self.flow["names"]:
            stack = "enc " if name.startswith("encoder.") else "dec " if name.startswith("decoder.") else ""
            out.append(stack + name.split("blocks.")[1].split(".")[0])
        return out

    def explain_layer(self, i: int) -> None:
        if self.flow is None or not 0 <= i < len(self.flow["layer_norms"]):
            return
        norm = float(self.flow["layer_norms"][i])
        name = self.flow["names"][i]
        self.sigCalculation.emit(
            f"Layer {self._layer_labels()[i]}: ‖∂L/∂{name}‖ = {norm:.4g}, the length of the gradient of the loss "
            f"L = {self.flow['loss']:.4f} with respect to the stream entering this layer (all positions). "
            "Nudging that stream by a small step ε along the gradient would change L by about ε × this length.")

    def explain_param(self, i: int) -> None:
        rows = self.param_rows()
        if not 0 <= i < len(rows):
            return
        name, norm = rows[i]
        self.sigCalculation.emit(
            f"‖∂L/∂{name}‖ = {norm:.4g}: the gradient of the loss with respect to every number of {name}, "
            "as one length. A plain gradient step with learning rate η moves these numbers by −η × the gradient, "
            "so a longer bar means this parameter would change more.")

    def explain_depth(self, i: int) -> None:
        if not self.relative:
            return
        depth = len(next(iter(self.relative.values())))
        if not 0 <= i < depth:
            return
        lines = [f"{MODES.get(mode, mode)}: {float(share[i]):.3g} × the last layer's gradient"
                 for mode, share in self.relative.items()]
        self.sigCalculation.emit(f"Layer {i} of {depth}:\n" + "\n".join(lines))

    def _draw_layers(self) -> None:
        norms = self.flow["layer_norms"]
        plot = self.layer_plot.getPlotItem()
        plot.clear()
        x = np.arange(len(norms))
        plot.addItem(pg.BarGraphItem(x=x, height=norms, width=0.6, brush=colormaps.HEAD_COLORS[0]))
        plot.getAxis("bottom").setTicks([list(zip(x, self._layer_labels()))])
        plot.setXRange(-0.6, len(norms) - 0.4, padding=0)
        plot.setYRange(0, float(norms.max()) * 1.1 or 1.0, padding=0)

    def param_rows(self) -> list[tuple[str, float]]:
        """(parameter name, gradient norm) as drawn, in forward order."""
        if self.flow is None:
            return []
        weights_only = self.which.currentData() == "weights"
        return [(n, v) for n, v in self.flow["param_norms"].items()
                if not weights_only or n.rsplit(".", 1)[-1] in WEIGHT_LEAVES and ".ln" not in n
                and not n.startswith("ln")]

    def _draw_params(self) -> None:
        rows = self.param_rows()
        plot = self.param_plot.getPlotItem()
        plot.clear()
        if not rows:
            return
        values = np.array([v for _, v in rows])
        y = np.arange(len(rows))
        layer_of = [self._layer_index(n) for n, _ in rows]
        brushes = [colormaps.HEAD_COLORS[(i + 1) % 6] if i is not None else colormaps.HEAD_COLORS[6]
                   for i in layer_of]
        plot.addItem(pg.BarGraphItem(x0=0, y=y, width=values, height=0.7, brushes=brushes, pen=None))
        plot.getAxis("left").setTicks([list(zip(y, [short_name(n) for n, _ in rows]))])
        plot.setYRange(-0.6, len(rows) - 0.4, padding=0)
        plot.setXRange(0, float(values.max()) * 1.05 or 1.0, padding=0)

    @staticmethod
    def _layer_index(name: str) -> int | None:
        if "blocks." not in name:
            return None
        return int(name.split("blocks.")[1].split(".")[0]) + (10 if name.startswith("decoder.") else 0)

    # --- the comparison of wirings ---

    def compare(self) -> None:
        """Measure the gradient at each layer for every wiring, on a worker thread."""
        if self._job is not None:
            return
        self.compare_button.setEnabled(False)
        depth, seed = self.depth.value(), self.seed.value()
        self.compare_note.setText(f"Measuring {len(MODES)} wirings of a {depth}-layer model…")
        self._job = BackgroundJob(lambda _job: compare_gradient_flow(depth, tuple(MODES), seed=seed), "gradient-flow")
        self._job.sigDone.connect(self._on_compared)
        self._job.start()

    def shutdown(self) -> None:
        if self._job is not None:
            self._job.abandon()
            self._job = None

    def _on_compared(self, result) -> None:
        self._job.wait()
        self._job = None
        self.compare_button.setEnabled(True)
        if isinstance(result, str):
            self.compare_note.setText(result)
            return
        self.comparison = result
        self.relative = relative_to_last(result)
        plot = self.compare_plot.getPlotItem()
        plot.clear()
        depth = len(next(iter(result.values())))
        plot.addItem(pg.InfiniteLine(pos=1.0, angle=0, pen=pg.mkPen("#888", width=1, style=Qt.PenStyle.DashLine)))
        for i, (mode, share) in enumerate(self.relative.items()):
            color = colormaps.HEAD_COLORS[i]
            plot.plot(np.arange(depth), share, pen=pg.mkPen(color, width=3), symbol="o", symbolSize=8,
                      symbolBrush=color, symbolPen=None)
        self.compare_note.setText(
            f"{depth}-layer random models (geometric mean of 8), each curve divided by its own last layer, so "
            "every curve ends at 1 and a curve below the dashed line means the early layers get less gradient "
            "than the last. At the first layer: "
            + ", ".join(f"{MODES[m].split(' (')[0]} {r[0]:.2g}×" for m, r in self.relative.items()) + ".")
        self.takeaway.setText(f"<b>{residual_takeaway(self.relative)}</b>")
        self.sigComparisonReady.emit(result)
