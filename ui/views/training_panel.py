"""Training panel: train the model on a toy task and watch the loss, the accuracy and the
attention patterns change as it learns.

The loop (`simulator.train.train`) runs on a worker thread and hands over snapshots of
the parameters through queued signals, so the window never freezes. The panel trains
a copy; when the run ends (finished or stopped) the weights reached are handed to the
window as one undoable change, so undo returns to the weights before training.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from simulator import Transformer
from simulator.budget import BudgetError
from simulator.tasks import TASKS, Task
from simulator.train import TrainResult, check_budget, check_fits, train
from ui.bridge import SessionBridge
from ui.jobs import BackgroundJob
from ui.lazy import Lazy
from ui.pictures import colormaps
from ui.pictures.heatmap import Heatmap
from ui.pictures.plot_style import fixed_plot, on_click
from ui.pictures.wrap_label import WrapLabel

EVERY = 5  # steps between snapshots: a few per second at the default batch size
EVAL_SIZE = 100
GRID_SCALE = 0.8  # of the type: a grid of every head shares the panel with two plots


def attention_sites(model: Transformer) -> list[tuple[str, str]]:
    """(label, pattern name with {l} for the layer) of every kind of attention the model has."""
    if model.config.arch == "encoder-decoder":
        return [("Cross-attention (decoder → encoder)", "decoder.blocks.{l}.cross_attn.hook_pattern"),
                ("Decoder self-attention", "decoder.blocks.{l}.attn.hook_pattern"),
                ("Encoder self-attention", "encoder.blocks.{l}.attn.hook_pattern")]
    return [("Self-attention", "blocks.{l}.attn.hook_pattern")]


class TrainWorker:
    """Runs `train` as a BackgroundJob's work; `pause`, `resume` and `stop` are safe to call from the GUI.

    The job reports (step, loss, accuracy or None, params) snapshots and ends with the TrainResult.
    """

    def __init__(self, model: Transformer, task: Task, steps: int, batch_size: int, lr_factor: float,
                 seed: int):
        self.model, self.task = model, task
        self.settings = dict(steps=steps, batch_size=batch_size, lr_factor=lr_factor, seed=seed)
        self._stop = False
        self._running = threading.Event()
        self._running.set()

    def run(self, job: BackgroundJob) -> TrainResult:
        steps = self.settings["steps"]
        return train(self.model, self.task, **self.settings,
                     callback=lambda step, loss, accuracy, params: job.report((step, loss, accuracy, params)),
                     should_stop=self._should_stop, every=EVERY,
                     eval_every=EVERY * max(5, steps // (EVERY * 40)), eval_size=EVAL_SIZE)

    def _should_stop(self) -> bool:
        self._running.wait()  # a paused run waits here, between two steps
        return self._stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop = True
        self._running.set()


class TrainingPanel(QWidget):
    """Task, steps, batch size, learning-rate factor and seed; start, pause, stop; live plots."""

    ABOUT = ("Training: the model learns the chosen task with Adam (learning-rate warm-up, dropout and label "
             "smoothing as set here). The curves show the loss on each training batch and the accuracy on "
             "held-out examples as the steps go by. Click a point of a curve to see its numbers.")
    sigCalculation = Signal(str)  # a clicked point's numbers, for the explanation panel

    sigTrainingFinished = Signal(object, object)  # params before, params after
    sigModelRequested = Signal(object, object)  # (model, tokens): the task needs a model of its own

    def __init__(self, bridge: SessionBridge, apply_params: Callable[[dict, dict], None] | None = None,
                 set_model: Callable[[Transformer, object], None] | None = None, parent=None):
        super().__init__(parent)
        self.bridge = bridge
        self._apply_params = apply_params
        self._set_model = set_model
        self._worker: TrainWorker | None = None
        self._job: BackgroundJob | None = None  # the run
        self._model: Transformer | None = None  # the session's model the run will write back to
        self._before: dict | None = None
        self._latest: dict | None = None
        self._view_model: Transformer | None = None  # draws the patterns of the snapshots
        self._tokens = None
        self._loss: list[tuple[int, float]] = []
        self._acc: list[tuple[int, float]] = []
        # Every head of every layer is a heatmap: on a hidden tab, redrawing them on each edit
        # or snapshot would cost more than the edit itself. They catch up when shown instead.
        self._patterns = Lazy(self, self._paint_patterns)
        self._scale = 1.0

        self.task_combo = QComboBox()
        for name, task in TASKS.items():
            self.task_combo.addItem(task.title, name)
        self.task_combo.setCurrentIndex(list(TASKS).index("reverse"))
        self.steps = self._spin(QSpinBox(), 10, 20000, 500, "Training steps (one batch each)")
        self.steps.setSingleStep(100)
        self.batch = self._spin(QSpinBox(), 1, 512, 32, "Examples per step")
        self.lr = self._spin(QDoubleSpinBox(), 0.05, 10.0, 1.0,
                             "Multiplies the learning rate d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)")
        self.lr.setSingleStep(0.25)
        self.seed = self._spin(QSpinBox(), 0, 99999, 0, "Seed of the training batches: same seed, same run")
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.stop_button = QPushButton("Stop")
        self.start_button.setToolTip("Train a copy of the model; the result is one undoable change")
        self.stop_button.setToolTip("End the run now, keeping the weights reached")
        self.start_button.clicked.connect(self.start)
        self.pause_button.toggled.connect(self.set_paused)
        self.stop_button.clicked.connect(self.stop)

        # Two short rows rather than one long one: the panel often shares the window with docks.
        settings = QHBoxLayout()
        for text, w in (("Task", self.task_combo), ("Steps", self.steps), ("Batch", self.batch),
                        ("Learning rate ×", self.lr), ("Seed", self.seed)):
            settings.addWidget(QLabel(text))
            settings.addWidget(w)
        settings.addStretch(1)
        run = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button):
            run.addWidget(b)
        self.task_label = WrapLabel()
        self.progress = QProgressBar()
        self.progress.setFormat("step %v of %m")
        self.status = WrapLabel()

        self.loss_plot = fixed_plot("Loss (answer tokens)", "cross-entropy", "step")
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen(colormaps.HEAD_COLORS[0], width=3))
        self.acc_plot = fixed_plot("Held-out token accuracy", "%", "step")
        self.acc_plot.getPlotItem().enableAutoRange(y=False)
        self.acc_plot.setYRange(0, 100, padding=0.02)
        self.acc_curve = self.acc_plot.plot([], [], pen=pg.mkPen(colormaps.HEAD_COLORS[1], width=3),
                                            symbol="o", symbolSize=7,
                                            symbolBrush=colormaps.HEAD_COLORS[1], symbolPen=None)
        on_click(self.loss_plot, lambda x, _y: self.explain_point(x))
        on_click(self.acc_plot, lambda x, _y: self.explain_point(x))
        self.site_combo = QComboBox()
        self.site_combo.currentIndexChanged.connect(self._draw_patterns)
        self.attn_grid = QGridLayout()
        self.heatmaps: list[list[Heatmap]] = []

        plots = QVBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.acc_plot)
        attn = QVBoxLayout()
        attn.addWidget(self.site_combo)
        attn.addLayout(self.attn_grid, 1)
        body = QHBoxLayout()
        body.addLayout(plots, 2)
        body.addLayout(attn, 3)
        run.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(settings)
        layout.addLayout(run)
        layout.addWidget(self.task_label)
        layout.addWidget(self.status)
        layout.addLayout(body, 1)

        self.task_combo.currentIndexChanged.connect(self._show_task)
        bridge.sigTraceChanged.connect(self._on_trace_changed)
        self._show_task()
        self._on_trace_changed()
        self._set_running(False)
        QCoreApplication.instance().aboutToQuit.connect(self.shutdown)  # never quit with a thread running

    @staticmethod
    def _spin(box, lo, hi, value, tip):
        box.setRange(lo, hi)
        box.setValue(value)
        box.setToolTip(tip)
        return box

    # --- public API ---

    @property
    def task(self) -> Task:
        return TASKS[self.task_combo.currentData()]

    @property
    def running(self) -> bool:
        return self._job is not None

    def start(self) -> None:
        """Train on the chosen task; a model that cannot learn it is replaced by the task's own."""
        if self.running:
            return
        task = self.task
        model = self.bridge.model
        try:
            check_fits(model, task)
            note = ""
        except ValueError as exc:
            model = Transformer(task.config, seed=self.seed.value())
            note = f"{exc} Training a new {task.config.n_layers}-layer model for it. "
        try:
            check_budget(model, task)
        except BudgetError as exc:  # refused before anything is allocated; nothing changes
            self.status.setText(str(exc))
            return
        if note:
            self._request_model(model, task.demo_tokens())
        self._model = model
        self._before = dict(model.params)
        self._latest = None
        self._view_model = model.copy()
        self._tokens = self.bridge.session.tokens if self.bridge.model is model else task.demo_tokens()
        self._loss, self._acc = [], []
        self.loss_curve.setData([], [])
        self.acc_curve.setData([], [])
        self.progress.setRange(0, self.steps.value())
        self.progress.setValue(0)
        self.status.setText(note + "Training…")
        self._worker = TrainWorker(model.copy(), task, self.steps.value(), self.batch.value(),
                                   self.lr.value(), self.seed.value())
        self._job = BackgroundJob(self._worker.run, "training", errors=(ValueError, FloatingPointError))
        self._job.sigProgress.connect(self._on_snapshot)
        self._job.sigDone.connect(self._on_done)
        self._set_running(True)
        self._job.start()

    def set_paused(self, paused: bool) -> None:
        if self._worker is None:
            return
        if paused:
            self._worker.pause()
            self.status.setText("Paused: Pause again to go on, Stop to keep the weights reached.")
        else:
            self._worker.resume()
        self.pause_button.setText("Resume" if paused else "Pause")

    def stop(self) -> None:
        """End the run; the weights reached are kept (one undoable change)."""
        if self._worker is not None:
            self._worker.stop()

    def shutdown(self) -> None:
        """Stop a run and wait for its thread (on quit): nothing is applied."""
        if self._worker is not None:
            self._worker.stop()
            self._job.abandon()
            self._worker = self._job = None

    def loss_points(self) -> list[tuple[int, float]]:
        """(step, loss) of every point on the loss plot."""
        return list(self._loss)

    def accuracy_points(self) -> list[tuple[int, float]]:
        return list(self._acc)

    # --- the run ---

    def _request_model(self, model: Transformer, tokens) -> None:
        if self._set_model is not None:
            self._set_model(model, tokens)
        self.sigModelRequested.emit(model, tokens)

    def explain_point(self, x: float) -> None:
        """The recorded training step nearest to `x`: its loss, and the held-out accuracy measured nearest it."""
        if not self._loss:
            return
        step, loss = min(self._loss, key=lambda p: abs(p[0] - x))
        text = f"Step {int(step)}: loss {loss:.4f} on the training batch (cross-entropy of the answer tokens)"
        if self._acc:
            at, acc = min(self._acc, key=lambda p: abs(p[0] - step))
            text += f"\nHeld-out accuracy at step {int(at)}: {acc:.1f} % of answer tokens right"
        self.sigCalculation.emit(text)

    def _on_snapshot(self, snapshot) -> None:
        step, loss, accuracy, params = snapshot
        self._latest = params
        self._loss.append((step, loss))
        steps, losses = np.array(self._loss).T
        self.loss_curve.setData(steps, losses)
        if accuracy is not None:
            self._acc.append((step, 100 * accuracy))
            self.acc_curve.setData(*np.array(self._acc).T)
        self.progress.setValue(step)
        if not self.pause_button.isChecked():
            acc = f", held-out accuracy {self._acc[-1][1]:.1f} %" if self._acc else ""
            self.status.setText(f"Step {step}: loss {loss:.3f}{acc}")
        self._view_model.replace_params(params)
        self._draw_patterns()

    def _on_done(self, result) -> None:
        self._job.wait()
        self._worker = self._job = None
        self._set_running(False)
        if isinstance(result, str):
            self.status.setText(f"Training stopped: {result}")
        elif isinstance(result, TrainResult):
            acc = f"; held-out accuracy {100 * result.accuracy:.1f} %" if result.accuracy is not None else ""
            how = "Stopped" if result.stopped else "Finished"
            self.status.setText(f"{how} after {result.steps} steps in {result.seconds:.1f} s{acc}. "
                                "Undo returns to the weights before training.")
        before, after = self._before, self._latest
        if after is None:
            return
        if self.bridge.model is not self._model:
            self.status.setText("The model was changed during training, so the trained weights were "
                                "not applied.")
            return
        if self._apply_params is not None:
            self._apply_params(before, after)
        self.sigTrainingFinished.emit(before, after)

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        for w in (self.task_combo, self.steps, self.batch, self.lr, self.seed):
            w.setEnabled(not running)
        if not running:
            self.pause_button.setChecked(False)

    # --- pictures ---

    def _show_task(self) -> None:
        task = self.task
        fits = True
        try:
            check_fits(self.bridge.model, task)
        except ValueError:
            fits = False
        self.task_label.setText(f"<b>{task.title}</b>: {task.description}"
                                + ("" if fits else " <i>(Start builds a model for this task.)</i>"))

    def _on_trace_changed(self) -> None:
        if self.running:
            tokens = self.bridge.session.tokens
            if self.bridge.model is self._model:
                self._tokens = tokens  # follow a new input typed during training
        else:
            self._show_task()
        self._fill_sites()
        self._draw_patterns()

    def _fill_sites(self) -> None:
        model = self._view_model if self.running else self.bridge.model
        labels = [label for label, _ in attention_sites(model)]
        if [self.site_combo.itemText(i) for i in range(self.site_combo.count())] != labels:
            self.site_combo.blockSignals(True)
            self.site_combo.clear()
            self.site_combo.addItems(labels)
            self.site_combo.blockSignals(False)
        self.site_combo.setVisible(len(labels) > 1)

    def set_font_scale(self, f: float) -> None:
        """Scale the patterns' type, e.g. when projecting."""
        self._scale = float(f)
        for row in self.heatmaps:
            for h in row:
                h.set_font_scale(GRID_SCALE * f)

    def _draw_patterns(self, *_) -> None:
        self._patterns.request()

    def _paint_patterns(self) -> None:
        if self.running:
            if self._latest is None:
                return
            trace = self._view_model.run(self._tokens)
            model = self._view_model
        else:
            trace, model = self.bridge.trace, self.bridge.model
        cfg = model.config
        sites = attention_sites(model)
        name = sites[max(0, self.site_combo.currentIndex())][1]
        self._grid(cfg.n_layers, cfg.n_heads)
        for layer in range(cfg.n_layers):
            step = name.format(l=layer)
            pattern = trace[step]  # [head, q_pos, k_pos]
            q_labels = trace.token_labels(step)
            k_labels = (list(trace.tokens[0]) if "cross_attn" in step else q_labels)
            for head in range(cfg.n_heads):
                self.heatmaps[layer][head].set_data(pattern[head], q_labels, k_labels, kind="prob",
                                                    title=f"layer {layer}, head {head}")

    def _grid(self, rows: int, cols: int) -> None:
        if len(self.heatmaps) == rows and all(len(r) == cols for r in self.heatmaps):
            return
        for row in self.heatmaps:
            for h in row:
                self.attn_grid.removeWidget(h)
                h.deleteLater()
        self.heatmaps = [[Heatmap() for _ in range(cols)] for _ in range(rows)]
        for r, row in enumerate(self.heatmaps):
            for c, h in enumerate(row):
                h.set_font_scale(GRID_SCALE * self._scale)
                colormaps.keep_maps(self.bridge, h)
                h.setMinimumSize(110, 110)  # the grid shares the panel's height with the plots
                self.attn_grid.addWidget(h, r, c)
