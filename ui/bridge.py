"""The one place where the engine's plain callbacks become Qt signals.

Every view holds the same `SessionBridge`, reads `bridge.session` (model, tokens, trace,
changes) and `bridge.stepper` (the current step), and repaints on the signals. Views
never compute the model's math themselves.

An edit reaches the views as one `sigTraceChanged` (the session's one notification; the
stepper may have moved with it, so a view repaints everything it shows from the bridge).
Moving the cursor alone is `sigStepChanged`. The bridge also holds the rest of the view
state (head, selected cell, highlight, colour maps) and gathers the whole `ViewState`
from the parts of the window that own a piece of it (theme, tabs, lesson player).
"""
from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QObject, Signal

from simulator import Session
from simulator.view_state import ViewState, cell_fits
from ui.pictures import colormaps


class ViewPart(Protocol):
    """Something outside the bridge that owns fields of the view state (the theme: the maps;
    the window: the tab; the lesson player: the lesson stop)."""

    def capture_view(self) -> dict:
        """{field: value} of the ViewState fields this part owns."""

    def view_problems(self, state: ViewState) -> dict[str, str]:
        """{field: why} for the part's fields of `state` that cannot be shown."""

    def apply_view(self, state: ViewState) -> None:
        """Show the part's fields of `state` (already checked); None fields keep the viewer's."""


class SessionBridge(QObject):
    sigTraceChanged = Signal()  # the trace was recomputed (an edit, new tokens, a new model); the step may have moved
    sigStepChanged = Signal()  # the cursor moved to another step or granularity
    sigHeadChanged = Signal(int)  # the head the views show
    sigCellSelected = Signal(object)  # (step name, index tuple) or None: the cell to explain
    sigHighlightChanged = Signal(bool)  # show or hide the cells the last edit changed
    sigMapsChanged = Signal(object)  # colormaps.Maps: the colours every picture uses

    def __init__(self, session: Session, parent: QObject | None = None):
        super().__init__(parent)
        self.head = 0
        self.highlight = True
        self.cell: tuple[str, tuple] | None = None
        self._cell_step = -1  # the stepper's index when the cell was chosen: another step clears it
        self.maps = colormaps.DEFAULT_MAPS
        self._parts: list[ViewPart] = []
        self.session = session
        self._follow(session)

    @property
    def trace(self):
        return self.session.trace

    @property
    def stepper(self):
        return self.session.stepper

    @property
    def model(self):
        return self.session.model

    def _follow(self, session: Session) -> None:
        session.subscribe(self._trace_changed)
        session.stepper.subscribe(self._step_changed)

    def set_session(self, session: Session) -> None:
        """Swap in a new session (new model file, new config) and tell every view."""
        self.session = session
        self._follow(session)
        self._trace_changed()

    def _trace_changed(self) -> None:
        # Made valid for the new trace quietly, before any view hears of it: each view repaints
        # once, on sigTraceChanged, and reads the head and cell from here.
        self.head = min(self.head, self.model.config.n_heads - 1)
        if not cell_fits(self.trace, self.cell):
            self.cell = None
        self.sigTraceChanged.emit()

    def _step_changed(self) -> None:
        if self.cell is not None and self.stepper.index != self._cell_step:
            self.cell = None  # the explanation follows the picture (quietly: views read it on this signal)
        self.sigStepChanged.emit()

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

    def set_maps(self, maps: colormaps.Maps) -> None:
        if maps != self.maps:
            self.maps = maps
            self.sigMapsChanged.emit(maps)

    # --- the view state ---

    def add_view_part(self, part: ViewPart) -> None:
        self._parts.append(part)

    def view_state(self) -> ViewState:
        """Where the viewer is now, gathered from the session, the bridge and its parts."""
        rest = {}
        for part in self._parts:
            rest.update(part.capture_view())
        return ViewState.capture(self.session, head=self.head, cell=self.cell, highlight=self.highlight, **rest)

    def view_problems(self, state: ViewState, model=None, tokens=None) -> dict[str, str]:
        """{field: why} for each field of `state` that cannot be shown with `model` on `tokens`
        (default: the session's) and the window's parts. One rule for scenarios, recovery and lessons."""
        model = self.model if model is None else model
        tokens = self.session.tokens if tokens is None else tokens
        problems = state.problems(model, tokens)
        for part in self._parts:
            problems.update(part.view_problems(state))
        return problems

    def apply_view_state(self, state: ViewState) -> None:
        """Go to `state` (check it first with `view_problems`)."""
        state.apply(self.session, self)

    def apply_parts(self, state: ViewState) -> None:
        for part in self._parts:
            part.apply_view(state)
