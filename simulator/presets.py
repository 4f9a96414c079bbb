"""Trained models shipped with Stepformer (assets/presets/): one per toy task.

Each preset is a model file `<name>.npz` (written by `simulator.save`) and a JSON sidecar
`<name>.json` saying how it was made and what to look at:
`{"name", "task", "title", "command", "accuracy", "description", "look_for", …}`.
"""
from __future__ import annotations

import json
from pathlib import Path

from .io import ModelFileError, load
from .model import Transformer
from .shipped import shipped
from .tasks import TASKS

PRESET_DIR = shipped("presets")
REQUIRED = ("name", "task", "command", "accuracy", "description", "look_for")


def _read_info(path: Path) -> dict:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"The preset description {path.name} cannot be read: {exc}.") from None
    if not isinstance(info, dict) or any(k not in info for k in REQUIRED):
        raise ModelFileError(f"The preset description {path.name} must be a JSON object with "
                             f"{', '.join(REQUIRED)}.")
    return info


def list_presets(folder: Path = PRESET_DIR) -> list[dict]:
    """The descriptions of every preset that has both files, in the order of the tasks."""
    order = {name: i for i, name in enumerate(TASKS)}
    infos = []
    for path in sorted(Path(folder).glob("*.json")):
        if path.with_suffix(".npz").is_file():
            try:
                infos.append(_read_info(path))
            except ModelFileError:
                continue  # a broken sidecar hides its preset from the menu; load_preset says why
    return sorted(infos, key=lambda i: (order.get(i["task"], len(order)), i["name"]))


def load_preset(name: str, folder: Path = PRESET_DIR) -> tuple[Transformer, object, dict]:
    """(model, example tokens, description) of the preset called `name`."""
    folder = Path(folder)
    path = folder / f"{name}.npz"
    if "/" in name or "\\" in name or not path.is_file():
        known = ", ".join(i["name"] for i in list_presets(folder)) or "none"
        raise ModelFileError(f"There is no preset called {name!r} (presets: {known}).")
    info = _read_info(folder / f"{name}.json")
    model, tokens = load(path)
    return model, tokens, info


__all__ = ["PRESET_DIR", "list_presets", "load_preset"]
