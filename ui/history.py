"""A bound on what the undo history keeps in memory.

Most undo steps are small (one cell, a few tokens), but a new configuration, a preset, a lesson
stop, File ▸ New or File ▸ Open keeps a whole model, and randomise, reset or a training run keep
two copies of every weight. Left alone, a lesson clicked through or a class of presets tried in
turn would pile up models until the machine runs out of memory.

Two limits hold:
- at most `UNDO_STEPS` steps (QUndoStack's own undo limit drops the oldest beyond it);
- the arrays the steps keep, apart from the shown model's own weights, fit in `HISTORY_BYTES`.
  Past that the oldest steps are forgotten, oldest first, until the rest fit: their arrays are
  let go at once and the step is marked obsolete, so Qt removes it without running it when undo
  reaches it. Undo then simply stops where the remembered history begins.

Both are module attributes a script may change before a window is made.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QUndoCommand, QUndoStack

from simulator import Session

UNDO_STEPS = 1000
HISTORY_BYTES = 512 << 20  # 512 MiB: a handful of the largest classroom models, hundreds of small ones


def kept_arrays(command: QUndoCommand) -> Iterator[np.ndarray]:
    """Every array a step keeps for undo and redo (a command's `kept()`; none for other commands)."""
    kept = getattr(command, "kept", None)
    return iter(kept()) if kept is not None else iter(())


class HistoryLimit(QObject):
    """Keeps `stack` within `UNDO_STEPS` steps and `HISTORY_BYTES` of kept arrays."""

    def __init__(self, stack: QUndoStack, session: Callable[[], Session], parent: QObject | None = None):
        super().__init__(parent)
        self.stack = stack
        self.session = session
        stack.setUndoLimit(UNDO_STEPS)  # only possible while the stack is empty
        stack.indexChanged.connect(self._changed)
        self._trimming = False

    def kept_bytes(self) -> int:
        """Bytes of the distinct arrays the history keeps beyond the shown model's weights."""
        live = {id(a) for a in self.session().model.params.values()}
        seen: dict[int, int] = {}
        for i in range(self.stack.count()):
            command = self.stack.command(i)
            if command.isObsolete():  # forgotten: keeps nothing
                continue
            for a in kept_arrays(command):
                if id(a) not in live:
                    seen[id(a)] = a.nbytes
        return sum(seen.values())

    def _changed(self, _index: int) -> None:
        if self._trimming:
            return
        self._trimming = True
        try:
            self._forget_oldest()
            self._drop_forgotten()
        finally:
            self._trimming = False

    def _forget_oldest(self) -> None:
        """Forget the oldest steps that are already done until the history fits its budget."""
        i = 0
        while i < self.stack.index() and self.kept_bytes() > HISTORY_BYTES:
            command = self.stack.command(i)
            if not command.isObsolete():
                forget = getattr(command, "forget", None)
                if forget is not None:
                    forget()
                command.setObsolete(True)
            i += 1

    def _drop_forgotten(self) -> None:
        """Undo never lands on a forgotten step: remove those just below the current state now.

        Qt removes an obsolete step without running it, so the model does not change."""
        clean = self.stack.isClean()
        while self.stack.index() > 0 and self.stack.command(self.stack.index() - 1).isObsolete():
            self.stack.undo()
        if clean and not self.stack.isClean():
            self.stack.setClean()  # the same state as before: still the saved one
