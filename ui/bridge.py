"""The one place where the engine's plain callbacks become Qt signals.

Every view holds the same `SessionBridge`, reads `bridge.session` (model, tokens, trace,
changes) and `bridge.stepper` (the current step), and repaints on the signals. Views
never compute the model's math themselves.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from simulator import Session


class SessionBridge(QObject):
    sigTraceChanged = Signal()  # the trace was recomputed (an edit, new tokens, a new model)
    sigStepChanged = Signal()  # the cursor moved to another step or granularity
    sigHeadChanged = Signal(int)  # the head the views show
    sigCellSelected = Signal(object)  # (step name, index tuple) or None: the cell to explain
    sigHighlightChanged = Signal(bool)  # show or hide the cells the last edit changed

    def __init__(self, session: Session, parent: QObject | None = None):
        super().__init__(parent)
        self.head = 0
        self.highlight = True
        self.cell: tuple[str, tuple] | None = None
        self._cell_step = -1  # the stepper's index when the cell was chosen: another step clears it
        self.session = session
        session.subscribe(self._trace_changed)
        session.stepper.subscribe(self._step_changed)

    @property
    def trace(self):
        return self.session.trace

    @property
    def stepper(self):
        return self.session.stepper

    @property
    def model(self):
        return self.session.model

    def set_session(self, session: Session) -> None:
        """Swap in a new session (new model file, new config) and tell every view."""
        self.session = session
        session.subscribe(self._trace_changed)
        session.stepper.subscribe(self._step_changed)
        self.head = min(self.head, session.model.config.n_heads - 1)
        self.cell = None
        self.sigTraceChanged.emit()
        self.sigStepChanged.emit()

    # An edit moves the stepper (sigStepChanged) before the session reports the new trace
    # (sigTraceChanged), and views repaint on either: so the head and the selected cell are
    # made valid for the new model before each, not after.
    def _trace_changed(self) -> None:
        self._keep_valid()
        self.sigTraceChanged.emit()

    def _step_changed(self) -> None:
        self._keep_valid()
        if self.cell is not None and self.stepper.index != self._cell_step:
            self.select_cell(None)  # the explanation follows the picture
        self.sigStepChanged.emit()

    def _keep_valid(self) -> None:
        if self.head >= self.model.config.n_heads:
            self.set_head(self.head)
        if self.cell is not None:
            name, index = self.cell
            trace = self.trace
            if name not in trace or len(index) != trace[name].ndim or any(
                    not 0 <= i < n for i, n in zip(index, trace[name].shape)):
                self.select_cell(None)

    def set_head(self, head: int) -> None:
        head = max(0, min(self.model.config.n_heads - 1, int(head)))
        if head != self.head:
            self.head = head
            self.sigHeadChanged.emit(head)

    def select_cell(self, name: str | None, index: tuple | None = None) -> None:
        self.cell = None if name is None else (name, tuple(index))
        self._cell_step = self.stepper.index
        self.sigCellSelected.emit(self.cell)

    def set_highlight(self, on: bool) -> None:
        self.highlight = bool(on)
        self.sigHighlightChanged.emit(self.highlight)
