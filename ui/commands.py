"""Undoable edits. Every change a user makes goes through one of these commands and
then through the Session, so every view repaints from the same new trace.

Callers validate before pushing (QUndoStack.push runs `redo` at once and cannot report
an error), so `redo` and `undo` only ever replay values known to be good.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
from PySide6.QtGui import QUndoCommand

from simulator import Session, Transformer

SET_PARAM_ID = 1001  # QUndoStack only tries to merge commands that share an id


def _describe_cell(name: str, index: tuple | None) -> str:
    return name if index is None else f"{name}[{', '.join(map(str, index))}]"


class SetParam(QUndoCommand):
    """One parameter (index None) or one of its cells set to a new value.

    Consecutive edits of the same cell merge, so a run of wheel nudges undoes in one step.
    """

    def __init__(self, session: Session, name: str, index: tuple | None, old, new):
        super().__init__(f"Edit {_describe_cell(name, index)}")
        self.session = session
        self.name = name
        self.index = None if index is None else tuple(int(i) for i in index)
        # float64 copies keep undo exact to the bit
        self.old = np.array(old, dtype=np.float64)
        self.new = np.array(new, dtype=np.float64)

    def id(self) -> int:
        return SET_PARAM_ID if self.index is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not (isinstance(other, SetParam) and other.session is self.session
                and other.name == self.name and other.index == self.index):
            return False
        self.new = other.new
        return True

    def kept(self) -> Iterable[np.ndarray]:
        """The arrays this step keeps (for the history's memory limit, ui/history.py)."""
        return (self.old, self.new)

    def forget(self) -> None:
        """Let go of what this step keeps; it is never run again (see ui/history.py)."""
        self.old = self.new = None

    def redo(self) -> None:
        self.session.set_param(self.name, self.new, self.index)

    def undo(self) -> None:
        self.session.set_param(self.name, self.old, self.index)


class SetParams(QUndoCommand):
    """Several whole parameters at once (randomise, reset, a training run): one recompute."""

    def __init__(self, session: Session, old: Mapping[str, np.ndarray], new: Mapping[str, np.ndarray],
                 text: str):
        super().__init__(text)
        self.session = session
        self.old = {k: np.array(v, dtype=np.float64) for k, v in old.items()}
        self.new = {k: np.array(v, dtype=np.float64) for k, v in new.items()}

    def kept(self) -> Iterable[np.ndarray]:
        return (*self.old.values(), *self.new.values())

    def forget(self) -> None:
        self.old, self.new = {}, {}

    def redo(self) -> None:
        self.session.set_params(self.new)

    def undo(self) -> None:
        self.session.set_params(self.old)


class SetTokens(QUndoCommand):
    """New input tokens (a list, or a (source, target) pair for an encoder-decoder)."""

    def __init__(self, session: Session, old, new, text: str = "Change tokens"):
        super().__init__(text)
        self.session = session
        self.old, self.new = old, new

    def redo(self) -> None:
        self.session.set_tokens(self.new)

    def undo(self) -> None:
        self.session.set_tokens(self.old)


class SetAblation(QUndoCommand):
    """Components switched off or back on (`{component: "zero" | "mean"}`, the whole set)."""

    def __init__(self, session: Session, old: Mapping[str, str], new: Mapping[str, str], text: str):
        super().__init__(text)
        self.session = session
        self.old, self.new = dict(old), dict(new)

    def redo(self) -> None:
        self.session.set_ablation(self.new)

    def undo(self) -> None:
        self.session.set_ablation(self.old)


class SetModel(QUndoCommand):
    """Another model with its tokens: a new configuration, File ▸ New or File ▸ Open.

    `on_change(path)` is told the file the shown model belongs to after every redo/undo,
    so the window title follows the model (None: not saved to a file yet).
    """

    def __init__(self, session: Session, new_model: Transformer, new_tokens, text: str,
                 old_path: str | None = None, new_path: str | None = None,
                 on_change: Callable[[str | None], None] | None = None):
        super().__init__(text)
        self.session = session
        self.old_model, self.old_tokens = session.model, session.input  # an image model: its image
        self.old_ablate = dict(session.ablate)  # a new model starts with every component on
        self.new_model, self.new_tokens = new_model, new_tokens
        self.old_path, self.new_path = old_path, new_path
        self.on_change = on_change

    def kept(self) -> Iterable[np.ndarray]:
        return (*self.old_model.params.values(), *self.new_model.params.values())

    def forget(self) -> None:
        self.old_model = self.new_model = None

    def redo(self) -> None:
        self.session.set_model(self.new_model, self.new_tokens)
        if self.on_change:
            self.on_change(self.new_path)

    def undo(self) -> None:
        self.session.set_model(self.old_model, self.old_tokens)
        if self.old_ablate:
            self.session.set_ablation(self.old_ablate)
        if self.on_change:
            self.on_change(self.old_path)
