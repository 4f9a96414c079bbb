"""Trained models shipped with Stepformer (assets/presets/): one per toy task.

Each preset is a model file `<name>.npz` (written by `simulator.save`) and a JSON sidecar
`<name>.json` saying how it was made and what to look at:
`{"name", "task", "title", "command", "accuracy", "description", "look_for", …}`, and
optionally `"patch_pairs"`: clean/corrupted inputs for activation patching
(`[{"clean", "corrupt", "answer", "wrong", "note"}]`, see `patch_pairs`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
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


@dataclass(frozen=True)
class PatchPair:
    """A clean and a corrupted input for activation patching, and the answers that tell them apart."""

    clean: str
    corrupt: str
    answer: str  # the clean run's next token
    wrong: str  # the corrupted run's next token
    note: str = ""
    preset: str = ""


def _pairs(info: dict, model: Transformer) -> list[PatchPair]:
    """The sidecar's optional "patch_pairs", each checked against the preset's model."""
    raw = info.get("patch_pairs", [])
    if not isinstance(raw, list):
        raise ModelFileError(f"{info['name']}: \"patch_pairs\" must be a list.")
    pairs = []
    for i, p in enumerate(raw):
        keys = ("clean", "corrupt", "answer", "wrong")
        if not (isinstance(p, dict) and all(isinstance(p.get(k), str) for k in keys)
                and isinstance(p.get("note", ""), str)):
            raise ModelFileError(f"{info['name']}: patch pair {i + 1} needs the texts {', '.join(keys)}.")
        try:
            clean, corrupt = model.tokens(p["clean"]), model.tokens(p["corrupt"])
        except ValueError as exc:
            raise ModelFileError(f"{info['name']}: patch pair {i + 1}: {exc}") from None
        if len(clean) != len(corrupt) or p["answer"] not in model.config.vocab \
                or p["wrong"] not in model.config.vocab:
            raise ModelFileError(f"{info['name']}: patch pair {i + 1} needs two inputs of the same length "
                                 "and answers from the vocabulary.")
        pairs.append(PatchPair(p["clean"], p["corrupt"], p["answer"], p["wrong"], p.get("note", ""), info["name"]))
    return pairs


@lru_cache(maxsize=16)
def _preset_pairs(name: str, folder: str) -> tuple:
    model, _, info = load_preset(name, Path(folder))
    return model.config, tuple(_pairs(info, model))


def patch_pairs(model: Transformer, folder: Path = PRESET_DIR) -> list[PatchPair]:
    """The ready-made patching pairs of every preset built like `model` (same configuration)."""
    out = []
    for info in list_presets(folder):
        if "patch_pairs" not in info:
            continue
        try:
            config, pairs = _preset_pairs(info["name"], str(folder))
        except ModelFileError:
            continue
        if config == model.config:
            out.extend(pairs)
    return out


__all__ = ["PRESET_DIR", "PatchPair", "list_presets", "load_preset", "patch_pairs"]
