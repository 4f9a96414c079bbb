"""Turning requests from the views into undoable commands.

Each method checks the request against the model first; a bad one returns a message
for the place it was typed and changes nothing. A good one is pushed on the undo stack.
Parameter edits are applied by the Session before they are pushed: it validates, runs the
forward pass once, and changes nothing if that overflows, so no trial run is needed.
"""
from __future__ import annotations

import weakref

import numpy as np
from PySide6.QtGui import QUndoStack

from simulator import Transformer
from simulator.params import init_params
from ui.bridge import SessionBridge
from ui.commands import SetAblation, SetModel, SetParam, SetParams, SetTokens


def _message(exc: Exception) -> str:
    return str(exc.args[0]) if exc.args else str(exc)


class _AlreadyApplied:
    """For a command whose change the Session has already made: QUndoStack.push runs redo at
    once, and that first run must not compute the forward pass a second time."""

    _first_redo = True

    def redo(self) -> None:
        if self._first_redo:
            self._first_redo = False
            return
        super().redo()


class _AppliedParam(_AlreadyApplied, SetParam):
    pass


class _AppliedParams(_AlreadyApplied, SetParams):
    pass


class EditController:
    def __init__(self, bridge: SessionBridge, undo_stack: QUndoStack):
        self.bridge = bridge
        self.undo_stack = undo_stack
        # The parameters each model started with, for "reset" (after loading: the file's).
        self._baseline: weakref.WeakKeyDictionary[Transformer, dict[str, np.ndarray]] = \
            weakref.WeakKeyDictionary()
        self._remember(bridge.model)

    @property
    def session(self):
        return self.bridge.session

    def _remember(self, model: Transformer) -> None:
        if model not in self._baseline:
            self._baseline[model] = dict(model.params)

    def apply_edit(self, name: str, value, index=None) -> str | None:
        """Set a parameter or one cell of it; returns an error message instead for bad input."""
        model = self.session.model
        if index is not None:
            index = tuple(np.atleast_1d(index).tolist())
        try:
            new = model.check_param(name, value, index)
            old = model.params[name]
            if np.array_equal(old, new):
                return None
            self.session.set_params({name: new})  # a value that overflows is refused here, nothing changed
        except (KeyError, ValueError) as exc:
            return _message(exc)
        if index is None:
            self.undo_stack.push(_AppliedParam(self.session, name, None, old, new))
        else:
            self.undo_stack.push(_AppliedParam(self.session, name, index, old[index], new[index]))
        return None

    def set_tokens(self, tokens) -> str | None:
        """New input tokens, or the reason they cannot be used."""
        try:
            checked = self.session.check_tokens(tokens)
        except ValueError as exc:
            return str(exc)
        if self.session.model.config.arch == "vit":  # an image model's input is its image, not its labels
            image = self.session.model.checked_input(tokens)
            if not np.array_equal(image, self.session.input):
                self.undo_stack.push(SetTokens(self.session, self.session.input, image))
            return None
        if checked != self.session.tokens:
            self.undo_stack.push(SetTokens(self.session, self.session.tokens, checked))
        return None

    def set_ablation(self, ablate: dict[str, str], text: str = "Switch components off") -> str | None:
        """Switch components off (the whole new set) as one undoable step, or say why not."""
        old = dict(self.session.ablate)
        if dict(ablate) == old:
            return None
        try:
            self.session.model.run(self.session.tokens, ablate=ablate)  # names and modes checked first
        except (KeyError, ValueError) as exc:
            return _message(exc)
        self.undo_stack.push(SetAblation(self.session, old, ablate, text))
        return None

    def toggle_component(self, component: str, mode: str | None) -> str | None:
        """Switch one component off (`mode` "zero" or "mean") or back on (None)."""
        ablate = dict(self.session.ablate)
        if mode is None:
            ablate.pop(component, None)
            text = f"Switch {component} back on"
        else:
            ablate[component] = mode
            text = f"Switch {component} off ({mode})"
        return self.set_ablation(ablate, text)

    def randomize(self, seed: int) -> None:
        model = self.session.model
        self._push_params(init_params(model.config, int(seed)), f"Randomise weights (seed {seed})")

    def reset(self) -> None:
        """Back to the parameters the model had when it was created or opened."""
        self._push_params(self._baseline[self.session.model], "Reset weights")

    def set_params(self, params: dict[str, np.ndarray], text: str) -> str | None:
        """Several parameters at once (e.g. after training); checked first, one undo step."""
        current = self.session.model.params
        try:
            changed = {k: v for k, v in params.items() if not np.array_equal(current[k], v)}
            if not changed:
                return None
            old = self.session.set_params(changed)  # refused values and overflows change nothing
        except (KeyError, ValueError) as exc:
            return _message(exc)
        now = self.session.model.params
        self.undo_stack.push(_AppliedParams(self.session, old, {k: now[k] for k in old}, text))
        return None

    def _push_params(self, params: dict[str, np.ndarray], text: str) -> None:
        current = self.session.model.params
        changed = {k: v for k, v in params.items() if not np.array_equal(current[k], v)}
        if changed:
            self.undo_stack.push(SetParams(self.session, {k: current[k] for k in changed}, changed, text))

    def set_model(self, model: Transformer, tokens, text: str, old_path: str | None = None,
                  new_path: str | None = None, on_change=None) -> None:
        """Swap in another model; `tokens` must already be valid for it."""
        self._remember(model)
        self.undo_stack.push(SetModel(self.session, model, tokens, text, old_path, new_path, on_change))
