"""Scenarios: the model, the input and where the teacher was looking, in one file.

A scenario is an ordinary Stepformer model file (`simulator.save`) whose metadata also
holds the view (`simulator.view_state.ViewState`: the step, the granularity, the head,
the selected cell, whether changes are outlined, the temperature, the colour maps, the
open tab and lesson stop). Opening it lands a student on the same picture. Any model file
opens as a scenario too (at its first step); a scenario whose view does not fit its model
is refused with a message naming the field, and changes nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

import simulator
from simulator.io import ModelFileError, load_meta
from simulator.view_state import ViewState, ViewStateError
from ui import messages
from ui.bridge import SessionBridge

SUFFIX = ".stepformer.npz"
FILTER = f"Stepformer scenarios (*{SUFFIX});;Stepformer models (*.npz)"
VERSION = 1


def save_scenario(path: str | Path, bridge: SessionBridge) -> None:
    """Write the session's model and tokens with the current view (atomically)."""
    view = bridge.view_state().to_json()
    simulator.save(path, bridge.model, bridge.session.input, extra={"scenario": VERSION, "view": view})


def read_scenario(path: str | Path) -> tuple[simulator.Transformer, object, ViewState]:
    """The model, tokens and view of a scenario (or of a plain model file: the default view).

    Raises ModelFileError naming the problem when the file or its view cannot be used.
    """
    model, tokens = simulator.load(path)
    meta, zf = load_meta(path)
    zf.close()
    extra = meta.get("extra") or {}
    raw = extra.get("view") if isinstance(extra, dict) else None
    if raw is None:
        return model, tokens, ViewState()
    try:
        view = ViewState.from_json(raw)
        view.validate(model, tokens)
    except ViewStateError as exc:
        raise ModelFileError(f"{Path(path).name}: the saved view cannot be used: {exc}") from None
    return model, tokens, view


def open_scenario(path: str | Path, bridge: SessionBridge,
                  set_model: Callable[[simulator.Transformer, object, str], None] | None = None) -> ViewState:
    """Read a scenario and land on it: model and tokens via `set_model` (undoable in the
    window), then the view. Raises ModelFileError before changing anything."""
    model, tokens, view = read_scenario(path)
    problems = bridge.view_problems(view, model, tokens)  # the window's parts: the tab, the lesson
    if problems:
        raise ModelFileError(f"{Path(path).name}: the saved view cannot be used: {ViewStateError(problems)}")
    text = f"Open scenario {Path(path).name}"
    if set_model is None:
        bridge.session.set_model(model, tokens)
    else:
        set_model(model, tokens, text)
    bridge.apply_view_state(view)
    return view


def ask_save_scenario(parent: QWidget, bridge: SessionBridge) -> str | None:
    """Ask for a file name and save the scenario; returns the path written (None if not)."""
    path, _ = QFileDialog.getSaveFileName(parent, "Save scenario", str(Path.home() / f"lesson{SUFFIX}"), FILTER)
    if not path:
        return None
    if not path.lower().endswith(".npz"):
        path += SUFFIX
    try:
        save_scenario(path, bridge)
    except (OSError, ValueError) as exc:
        messages.refuse(parent, "Could not save the scenario", str(exc))
        return None
    return path


def ask_open_scenario(parent: QWidget, bridge: SessionBridge,
                      set_model: Callable[[simulator.Transformer, object, str], None] | None = None) -> str | None:
    """Ask for a scenario and land on it; a bad file is reported and changes nothing."""
    path, _ = QFileDialog.getOpenFileName(parent, "Open scenario", str(Path.home()), FILTER)
    if not path:
        return None
    try:
        open_scenario(path, bridge, set_model)
    except (OSError, ValueError) as exc:  # ModelFileError is a ValueError
        messages.refuse(parent, "Could not open the scenario", str(exc))
        return None
    return path
