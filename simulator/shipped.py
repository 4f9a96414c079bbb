"""Where the data shipped with Stepformer lives, found the same way from a checkout or an installed wheel.

The presets and lessons are package data of `stepformer_assets` (the repository's assets/ folder,
mapped by setup.py); importlib.resources locates that package wherever it was installed.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def shipped(folder: str) -> Path:
    """The folder `folder` ("presets" or "lessons") of the shipped data, as a real directory.

    A wheel installs as plain files, so the resource path is a file-system path.
    """
    return Path(str(files("stepformer_assets") / folder))


__all__ = ["shipped"]
