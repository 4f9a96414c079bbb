"""The price of attention: one layer's cost against the input length n, on log axes.

Left, the closed forms of `simulator.cost` for full, causal, windowed, strided, global, BigBird
and linear attention, with lines of slope n² and n to read them against. Right, the measured
time of the engine's own attention (median of several runs), taken on a worker thread so the
window stays responsive. Below, the current model's score cells, and the formulas derived.
"""
from __future__ import annotations

import math
import threading

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from simulator.cost import (
    PATTERN_KINDS,
    cell_report,
    curves,
    pattern_settings,
    time_attention,
)
from simulator.patterns import kind_for
from ui.bridge import SessionBridge
from ui.lazy import Lazy
from ui.pictures import colormaps
from ui.pictures.plot_style import TITLE_PT, decades_only, fixed_plot, ink
from ui.pictures.wrap_label import WrapLabel

LENGTHS = np.unique(np.round(np.geomspace(16, 4096, 33)).astype(int))  # n for the closed forms
TIMED = (16, 32, 64, 128, 256, 512, 1024)  # n for the measured times
REPEATS = 5
QUANTITIES = {"qk": "Q·Kᵀ multiply-adds", "pv": "pattern·V multiply-adds", "memory": "score cells held (memory)"}
COST_TITLE = "One attention layer: cost against n"
TIME_TITLE = "Measured time (this engine)"
COLORS = {name: colormaps.HEAD_COLORS[i] for i, name in enumerate(PATTERN_KINDS)}


def timed_kinds(causal: bool) -> dict[str, str]:
    """Legend name -> mask kind of the attentions timed: the model's dense form, a window, linear."""
    return {("causal" if causal else "full"): "causal" if causal else "full",
            "window": kind_for("window", causal), "linear": kind_for("linear", causal)}


def derivation(cfg, causal: bool) -> str:
    """The closed forms, derived in words with this model's numbers (plain text)."""
    h, d, w, s, g, r = cfg.n_heads, cfg.d_head, cfg.window, cfg.stride, cfg.n_global, cfg.n_random
    form = "causal forms (a decoder: no later keys)" if causal else "symmetric forms (an encoder)"
    return "\n\n".join([
        f"Where the formulas come from: {form}, h = {h} heads, d = d_head = {d}.",
        ("Each kept score cell (query i, key j) costs one dot product of two d-vectors: d multiply-adds for "
         "Q·Kᵀ, and d more when its weight multiplies v_j in pattern·V. The scores of a head are one number "
         "per kept cell. So every cost is h · K · d (or h · K numbers), where K counts the kept cells."),
        ("Full: every query meets every key, K = n·n = n². Causal: query i meets keys 0…i, so "
         "K = 1 + 2 + … + n = n(n + 1)/2, still ∝ n² (half of full)."),
        (f"Window w = {w}: a query sees at most w keys, and the first w − 1 queries fewer (1, 2, …): "
         "K = n·w − w(w − 1)/2 (symmetric: n(2w − 1) − w(w − 1)). For fixed w this grows like n."),
        (f"Strided, stride s = {s}: the window plus the keys s, 2s, 3s, … back. The key s·m back exists for "
         "the n − s·m queries from s·m on, so K adds Σₘ (n − s·m) over the multiples beyond the window: "
         "about n²/(2s), still ∝ n² but s times smaller; two such layers reach every key."),
        (f"Global, g = {g}: the window plus g global keys every later query also sees: K adds "
         "g(n − w) − g(g − 1)/2, ∝ n (symmetric: the g global rows and columns, 2gn − g², plus the window "
         "among the others)."),
        (f"BigBird, r = {r}: the global pattern plus r random keys for each query that has that many left: "
         "K adds about r·n."),
        ("Linear attention forms no grid at all. It builds S = Σ φ(k_j)·v_jᵀ, one d×d outer product per "
         "token (n·d² multiply-adds per head), and reads φ(q_i)·S (n·d² more): cost ∝ n·d², and the state "
         "holds d² numbers per head whatever n is."),
        ("This engine computes the whole n×n grid and then sets the hidden cells to −∞, as simple code "
         "does: its measured time (the right-hand plot) follows n² for every mask. Only a kernel that skips the hidden "
         "cells saves what the left plot promises."),
    ])


def _where(step: str) -> str:
    """"decoder.blocks.1.cross_attn.hook_attn_scores" -> "decoder layer 1, cross-attention"."""
    stack, _, rest = step.rpartition("blocks.")
    layer, kind = rest.split(".")[:2]
    return (f"{stack.rstrip('.')} " if stack else "") + f"layer {layer}" + (
        ", cross-attention" if kind == "cross_attn" else "")


def model_cells(trace) -> str:
    """The current model's score cells, per head, as plain text."""
    lines = []
    for row in cell_report(trace):
        if row["kind"] == "linear":
            d = math.isqrt(row["state"])
            lines.append(f"{_where(row['step'])}: no score grid; a {d}×{d} state per head")
        else:
            lines.append(f"{_where(row['step'])}: {row['n_q']}×{row['n_k']} = {row['computed']} cells per head, "
                         f"{row['kept']} kept, {100 * row['thrown']:.0f}% thrown away")
    return "\n".join(lines)


class _TimingWorker(QObject):
    sigProgress = Signal(int, int)  # done, total
    sigDone = Signal(object)  # {legend name: [(n, seconds)]}

    def __init__(self, kinds: dict[str, str], n_heads: int, d_head: int, attrs: dict):
        super().__init__()
        self.kinds, self.n_heads, self.d_head, self.attrs = kinds, n_heads, d_head, attrs
        self.stop = False

    def run(self) -> None:
        out: dict[str, list[tuple[int, float]]] = {name: [] for name in self.kinds}
        total, done = len(TIMED) * len(self.kinds), 0
        for n in TIMED:
            for name, kind in self.kinds.items():
                if self.stop:
                    return
                out[name].append((n, time_attention(kind, n, self.n_heads, self.d_head, self.attrs, REPEATS)))
                done += 1
                if not self._tell(self.sigProgress, done, total):
                    return
        self._tell(self.sigDone, out)

    def _tell(self, signal, *args) -> bool:
        """Emit, unless the view went away meanwhile (its window closed mid-measurement): then stop."""
        try:
            signal.emit(*args)
        except RuntimeError:  # the Qt half of this worker is deleted
            return False
        return True


class CostView(QWidget):
    ABOUT = ("Cost of attention: the work one attention layer needs as the input grows to n tokens, for each "
             "kind of attention, on log axes (n² is the steeper line), and the time this engine takes.")
    sigTimed = Signal(object)  # {legend name: [(n, median seconds)]}, once a measurement finishes

    def __init__(self, bridge: SessionBridge, parent=None):
        super().__init__(parent)
        self.bridge = bridge
        self.timings: dict | None = None
        self._timed_for: tuple | None = None  # (causal, heads, d_head, pattern) the timings are of
        self._thread: threading.Thread | None = None
        self._worker: _TimingWorker | None = None
        self._lazy = Lazy(self, self.refresh)  # the curves follow the model only while the tab is seen

        self.quantity = QComboBox()
        for key, text in QUANTITIES.items():
            self.quantity.addItem(text, key)
        self.quantity.currentIndexChanged.connect(self._draw_costs)
        self.cost_plot = fixed_plot(COST_TITLE, "", "sequence length n",
                                    min_size=(240, 170))
        self.time_plot = fixed_plot(TIME_TITLE, "milliseconds", "sequence length n",
                                    min_size=(240, 170))
        for plot, ticks in ((self.cost_plot, (16, 64, 256, 1024, 4096)), (self.time_plot, TIMED)):
            plot.getPlotItem().setLogMode(x=True, y=True)
            # the n a class would type, not 2·10¹ 3·10¹ … (pyqtgraph's minor log ticks)
            plot.getPlotItem().getAxis("bottom").setTicks([[(math.log10(n), str(n)) for n in ticks], []])
            decades_only(plot.getPlotItem().getAxis("left"))
            # room past the last n for its label, which pyqtgraph hides when it would overhang
            plot.getPlotItem().setXRange(math.log10(ticks[0]) - 0.1, math.log10(ticks[-1]) + 0.2, padding=0)
        self.legend = WrapLabel()
        self.progress = QProgressBar()
        self.progress.setFormat("measuring %v of %m")
        self.measure_button = QPushButton("Measure again")
        self.measure_button.setToolTip(f"Time the engine's attention at n = {', '.join(map(str, TIMED))} "
                                       f"(median of {REPEATS} runs each)")
        self.measure_button.clicked.connect(self.measure)
        self.time_note = WrapLabel()
        self.cells = WrapLabel()
        self.cells.setTextFormat(pg.QtCore.Qt.TextFormat.PlainText)
        self.formulas = WrapLabel()
        self.formulas.setTextFormat(pg.QtCore.Qt.TextFormat.PlainText)

        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.quantity)
        top.addWidget(self.legend, 1)
        plots = QHBoxLayout()
        plots.addWidget(self.cost_plot, 3)
        right = QVBoxLayout()
        right.addWidget(self.time_plot, 1)
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.measure_button)
        right.addLayout(bar)
        right.addWidget(self.time_note)
        plots.addLayout(right, 2)
        plot_page = QWidget()
        page = QVBoxLayout(plot_page)
        page.addLayout(top)
        page.addLayout(plots, 1)
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(plot_page, "Cost as n grows")
        derive_page = QWidget()
        derive = QVBoxLayout(derive_page)
        derive.addWidget(self.cells)  # here, not under the plots: height is what a projector lacks
        derive.addWidget(self.formulas)
        derive.addStretch(1)  # the text starts at the top, however tall the page
        # scrolling on its own: its long text must not make the plots' page as tall as itself
        derive_scroll = QScrollArea()
        derive_scroll.setWidget(derive_page)
        derive_scroll.setWidgetResizable(True)
        derive_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.pages.addTab(derive_scroll, "Where the formulas come from")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        bridge.sigTraceChanged.connect(self._lazy.request)
        self.refresh()
        QCoreApplication.instance().aboutToQuit.connect(self.shutdown)  # never quit with a thread running

    # --- the closed forms ---

    @property
    def causal(self) -> bool:
        return self.bridge.model.config.arch != "encoder"

    def refresh(self) -> None:
        self._lazy.stale = False
        cfg = self.bridge.model.config
        self.curves = curves(cfg, LENGTHS, self.causal)
        self.legend.setText("&nbsp;&nbsp;".join(
            f'<span style="color:{COLORS[name].name()}">■</span> {name}' for name in self.curves)
            + "&nbsp;&nbsp; <span style='color:#888'>┅</span> ∝ n², ∝ n")
        self._draw_costs()
        self.cells.setText("This model and input: " + ("\n" if cell_report(self.bridge.trace) else "")
                           + model_cells(self.bridge.trace))
        self.formulas.setText(derivation(cfg, self.causal))
        key = (self.causal, cfg.n_heads, cfg.d_head, tuple(pattern_settings(cfg).values()))
        if key != self._timed_for and self._thread is None:
            self.measure()

    def _draw_costs(self) -> None:
        key = self.quantity.currentData()
        plot = self.cost_plot.getPlotItem()
        plot.clear()
        plot.setLabel("left", QUANTITIES[key], color=ink(self.cost_plot))
        n = LENGTHS.astype(float)
        for name, costs in self.curves.items():
            plot.plot(n, costs[key], pen=pg.mkPen(COLORS[name], width=3), name=name)
        # slope guides through the full (or causal) curve's first point and the window's
        top = next(iter(self.curves.values()))[key]
        low = self.curves["window"][key]
        for ref, power, text in ((top[0] * 4, 2, "∝ n²"), (low[0] / 4, 1, "∝ n")):
            guide = ref * (n / n[0]) ** power
            plot.plot(n, guide, pen=pg.mkPen((140, 140, 140), width=2, style=pg.QtCore.Qt.PenStyle.DashLine))
            label = pg.TextItem(text, color=(90, 90, 90), anchor=(1, 1))
            label.setPos(math.log10(n[-1]), math.log10(guide[-1]))
            plot.addItem(label)

    def cost_curves(self) -> dict[str, np.ndarray]:
        """The plotted curves of the chosen quantity: {pattern name: [len(LENGTHS)]}."""
        key = self.quantity.currentData()
        return {name: costs[key] for name, costs in self.curves.items()}

    # --- the measurement ---

    def measure(self) -> None:
        """Time the engine's attention at each n on a worker thread; the plot fills in when done."""
        if self._thread is not None:
            return
        cfg = self.bridge.model.config
        self._timed_for = (self.causal, cfg.n_heads, cfg.d_head, tuple(pattern_settings(cfg).values()))
        attrs = {f: getattr(cfg, f) for f in ("window", "stride", "n_global", "n_random", "random_seed")}
        kinds = timed_kinds(self.causal)
        self.measure_button.setEnabled(False)
        self.progress.setRange(0, len(TIMED) * len(kinds))
        self.progress.setValue(0)
        self.progress.show()
        self.time_note.setText(f"Timing {', '.join(kinds)} attention with {cfg.n_heads} heads of "
                               f"d_head = {cfg.d_head}…")
        self._worker = _TimingWorker(kinds, cfg.n_heads, cfg.d_head, attrs)
        self._worker.sigProgress.connect(self._on_progress)
        self._worker.sigDone.connect(self._on_timed)
        self._thread = threading.Thread(target=self._worker.run, name="attention-timing", daemon=True)
        self._thread.start()

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setValue(done)

    def shutdown(self) -> None:
        if self._thread is not None:
            self._worker.stop = True
            self._worker.sigDone.disconnect(self._on_timed)
            self._thread.join(timeout=30)
            self._thread = self._worker = None

    def _on_timed(self, result: dict) -> None:
        if self._thread is None:  # shut down after it emitted: the result is no longer wanted
            return
        self._thread.join()  # it ends right after emitting
        self._thread = self._worker = None
        self.measure_button.setEnabled(True)
        self.progress.hide()
        self.timings = result
        plot = self.time_plot.getPlotItem()
        plot.clear()
        for name, points in result.items():
            n, t = np.array(points, dtype=float).T
            plot.plot(n, t * 1e3, pen=pg.mkPen(COLORS[name], width=3), symbol="o", symbolSize=7,
                      symbolBrush=COLORS[name], symbolPen=None)
        points = next(iter(result.values()))
        first, last = points[0], points[-1]
        growth = last[1] / first[1] if first[1] > 0 else float("inf")
        lin = result["linear"]
        self.time_note.setText(
            f"Median of {REPEATS} runs. n × {last[0] // first[0]}: the dense time × {growth:.0f}; "
            f"linear × {lin[-1][1] / lin[0][1]:.0f}. At n = {last[0]}: "
            + ", ".join(f"{name} {pts[-1][1] * 1e3:.1f} ms" for name, pts in result.items()) + ".")
        self.sigTimed.emit(result)

    def set_font_scale(self, f: float) -> None:
        """Larger plot titles in presentation mode (the rest follows the application's font)."""
        for plot, title in ((self.cost_plot, COST_TITLE), (self.time_plot, TIME_TITLE)):
            plot.getPlotItem().setTitle(title, color=ink(plot), size=f"{TITLE_PT * f:.0f}pt")


__all__ = ["CostView", "derivation", "model_cells", "timed_kinds"]
