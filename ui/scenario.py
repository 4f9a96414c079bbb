"""Scenarios: the model, the input and where the teacher was looking, in one file.

A scenario is an ordinary Stepformer model file (`simulator.save`) whose metadata also
holds the view: the step, the granularity, the head, the selected cell, whether changes
are outlined, the temperature and the colour maps. Opening it lands a student on the
same picture. Any model file opens as a scenario too (at its first step); a scenario
whose view does not fit its model is refused with a message and changes nothing.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

import simulator
from simulator.engine import GRANULARITIES
from simulator.io import ModelFileError, load_meta
from simulator.model import MIN_TEMPERATURE
from ui import messages
from ui.bridge import SessionBridge
from ui.theme import DIVERGING_MAPS, SEQUENTIAL_MAPS, ThemeController

SUFFIX = ".stepformer.npz"
FILTER = f"Stepformer scenarios (*{SUFFIX});;Stepformer models (*.npz)"
VERSION = 1


@dataclass(frozen=True)
class View:
    """Where the teacher was: everything but the model and the tokens."""

    step: str | None = None  # None: the first step
    granularity: str = "operation"
    head: int = 0
    cell: tuple[str, tuple[int, ...]] | None = None
    highlight: bool = True
    temperature: float = 1.0
    sequential: str | None = None  # colour-map names of ui.theme; None: keep the viewer's
    diverging: str | None = None


def current_view(bridge: SessionBridge, theme: ThemeController | None = None) -> View:
    return View(bridge.stepper.name, bridge.stepper.granularity, bridge.head, bridge.cell, bridge.highlight,
                bridge.session.temperature, getattr(theme, "sequential", None), getattr(theme, "diverging", None))


def save_scenario(path: str | Path, bridge: SessionBridge, theme: ThemeController | None = None) -> None:
    """Write the session's model and tokens with the current view (atomically)."""
    view = asdict(current_view(bridge, theme))
    view["cell"] = None if bridge.cell is None else [bridge.cell[0], list(bridge.cell[1])]
    simulator.save(path, bridge.model, bridge.session.tokens, extra={"scenario": VERSION, "view": view})


def read_scenario(path: str | Path) -> tuple[simulator.Transformer, object, View]:
    """The model, tokens and view of a scenario (or of a plain model file: the default view).

    Raises ModelFileError naming the problem when the file or its view cannot be used.
    """
    model, tokens = simulator.load(path)
    meta, zf = load_meta(path)
    zf.close()
    extra = meta.get("extra") or {}
    raw = extra.get("view") if isinstance(extra, dict) else None
    if raw is None:
        return model, tokens, View()
    name = Path(path).name
    try:
        view = parse_view(raw)
        check_view(view, model, tokens)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{name}: the saved view cannot be used: {exc}") from None
    return model, tokens, view


def parse_view(raw) -> View:
    if not isinstance(raw, dict):
        raise ValueError("it is not a JSON object")
    unknown = set(raw) - set(View.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    cell = raw.get("cell")
    if cell is not None:
        if not (isinstance(cell, list) and len(cell) == 2 and isinstance(cell[0], str)
                and isinstance(cell[1], list) and all(isinstance(i, int) and not isinstance(i, bool)
                                                      for i in cell[1])):
            raise ValueError("\"cell\" must be [step name, [index, …]]")
        cell = (cell[0], tuple(cell[1]))
    head = raw.get("head", 0)
    if isinstance(head, bool) or not isinstance(head, int):
        raise ValueError("\"head\" must be a whole number")
    temperature = raw.get("temperature", 1.0)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not math.isfinite(temperature) or temperature < MIN_TEMPERATURE:
        raise ValueError(f"\"temperature\" must be a positive number of at least {MIN_TEMPERATURE:g}")
    for key in ("step", "sequential", "diverging"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ValueError(f"\"{key}\" must be text")
    if not isinstance(raw.get("highlight", True), bool):
        raise ValueError("\"highlight\" must be true or false")
    return View(raw.get("step"), raw.get("granularity", "operation"), head, cell, raw.get("highlight", True),
                float(temperature), raw.get("sequential"), raw.get("diverging"))


def check_view(view: View, model: simulator.Transformer, tokens) -> None:
    trace = model.run(tokens, temperature=view.temperature)
    if view.granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}")
    if view.step is not None and view.step not in trace:
        raise ValueError(f"this model has no step called {view.step!r}")
    if not 0 <= view.head < model.config.n_heads:
        raise ValueError(f"head {view.head} does not exist (the model has {model.config.n_heads})")
    if view.cell is not None:
        name, index = view.cell
        if name not in trace or len(index) != trace[name].ndim or any(
                not 0 <= i < n for i, n in zip(index, trace[name].shape)):
            raise ValueError(f"the selected cell {name}{list(index)} does not exist")


def apply_view(bridge: SessionBridge, view: View, theme: ThemeController | None = None) -> None:
    """Move the (already loaded) session's views to `view`."""
    session = bridge.session
    if abs(session.temperature - view.temperature) > 1e-12:
        session.set_temperature(view.temperature)
    bridge.stepper.set_granularity(view.granularity)
    if view.step is not None:
        bridge.stepper.jump(view.step)
    else:
        bridge.stepper.first()
    bridge.set_head(view.head)
    bridge.set_highlight(view.highlight)
    if theme is not None:  # the colours the teacher talked about; light or dark stays the viewer's
        if view.sequential in SEQUENTIAL_MAPS and view.sequential != theme.sequential:
            theme.set_sequential(view.sequential)
        if view.diverging in DIVERGING_MAPS and view.diverging != theme.diverging:
            theme.set_diverging(view.diverging)
    bridge.select_cell(*view.cell) if view.cell else bridge.select_cell(None)


def open_scenario(path: str | Path, bridge: SessionBridge,
                  set_model: Callable[[simulator.Transformer, object, str], None] | None = None,
                  theme: ThemeController | None = None) -> View:
    """Read a scenario and land on it: model and tokens via `set_model` (undoable in the
    window), then the view. Raises ModelFileError before changing anything."""
    model, tokens, view = read_scenario(path)
    text = f"Open scenario {Path(path).name}"
    if set_model is None:
        bridge.session.set_model(model, tokens)
    else:
        set_model(model, tokens, text)
    apply_view(bridge, view, theme)
    return view


def ask_save_scenario(parent: QWidget, bridge: SessionBridge, theme: ThemeController | None = None) -> str | None:
    """Ask for a file name and save the scenario; returns the path written (None if not)."""
    path, _ = QFileDialog.getSaveFileName(parent, "Save scenario", str(Path.home() / f"lesson{SUFFIX}"), FILTER)
    if not path:
        return None
    if not path.lower().endswith(".npz"):
        path += SUFFIX
    try:
        save_scenario(path, bridge, theme)
    except (OSError, ValueError) as exc:
        messages.refuse(parent, "Could not save the scenario", str(exc))
        return None
    return path


def ask_open_scenario(parent: QWidget, bridge: SessionBridge,
                      set_model: Callable[[simulator.Transformer, object, str], None] | None = None,
                      theme: ThemeController | None = None) -> str | None:
    """Ask for a scenario and land on it; a bad file is reported and changes nothing."""
    path, _ = QFileDialog.getOpenFileName(parent, "Open scenario", str(Path.home()), FILTER)
    if not path:
        return None
    try:
        open_scenario(path, bridge, set_model, theme)
    except (OSError, ValueError) as exc:  # ModelFileError is a ValueError
        messages.refuse(parent, "Could not open the scenario", str(exc))
        return None
    return path
