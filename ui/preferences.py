"""The user's preferences (theme, colour maps, recent files) as a small JSON file.

QSettings is not used for them: PySide6 stores a Python object in its settings file as a pickle
and unpickles it while reading, so a crafted ``Stepformer.conf`` could run code at start-up. Here
the file is only ever parsed as plain data (`simulator.safe_json`), every value is checked
against what its key may hold, and anything odd falls back to the default. Nothing is read from
the old ``Stepformer.conf``. Writes are atomic (`simulator.io.atomic_write`).

The file is ``settings.json`` in the config folder (``~/.config/Stepformer/Stepformer/`` on Linux); the
environment variable ``STEPFORMER_CONFIG_DIR`` points it elsewhere (the tests use a temporary folder).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from simulator import safe_json
from simulator.io import SaveError, atomic_write

FILE_NAME = "settings.json"
MAX_BYTES = 256 * 1024
MAX_TEXT = 4096  # a path or a name longer than this is not one of ours
MAX_LIST = 50


def config_folder() -> Path:
    override = os.environ.get("STEPFORMER_CONFIG_DIR")
    if override:
        return Path(override)
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation))


def _text(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_TEXT and "\0" not in value


def plain_value(value):
    """`value` if it is a preference we store (a text, or a list of texts: entries of another kind
    are dropped), else None."""
    if _text(value):
        return value
    if isinstance(value, (list, tuple)):
        return [v for v in value if _text(v)][:MAX_LIST]
    return None


class Preferences:
    """The `value` / `setValue` part of QSettings' interface, over a plain JSON file."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else config_folder() / FILE_NAME
        self._values = self._read()

    def _read(self) -> dict:
        try:
            data = safe_json.load(self.path, MAX_BYTES)
        except safe_json.JSONFileError:  # missing, unreadable or odd: the defaults
            return {}
        if not isinstance(data, dict):
            return {}
        values = {}
        for key, value in data.items():
            checked = plain_value(value)
            if _text(key) and checked is not None:
                values[key] = checked
        return values

    def value(self, key: str, default=None):
        """The stored value, or `default` when there is none or it is not of the default's kind
        (a list where a text belongs, or the reverse)."""
        stored = self._values.get(key, default)
        if default is not None and not isinstance(stored, type(default)):
            return default
        return stored

    def setValue(self, key: str, value) -> None:  # noqa: N802 (QSettings' name, so either can be passed)
        """Remember `value` (a text or a list of texts) and write the file; a failed write is not an error
        for the user (the preference holds for this session), so it is ignored."""
        checked = plain_value(value)
        if checked is None:
            raise ValueError(f"A preference is a text or a list of texts; got {value!r:.60}.")
        self._values[key] = checked
        text = json.dumps(self._values, ensure_ascii=False, indent=1).encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, lambda f: f.write(text))
        except (OSError, SaveError):
            pass


__all__ = ["Preferences", "config_folder", "plain_value"]
