"""Reading small JSON files that someone else wrote: lessons, settings, metadata.

Two things a hostile file can do to a plain ``json.loads(path.read_text())`` are ruled out here:
a path that is a FIFO, a device or a symbolic link to ``/dev/zero`` is refused before it is read
(a size check on such a file says 0, and reading it never ends), and a document built to break
the parser (100,000 nested brackets, a number with 5,000 digits, NaN or Infinity) is refused with
a sentence instead of a RecursionError or a ValueError from deep inside Python.
"""
from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

MAX_DEPTH = 64  # far more nesting than any of our documents has
MAX_DIGITS = 30  # an integer with more digits is not a seed, a size or an index


class JSONFileError(ValueError):
    """A file that cannot be read as a small JSON document; the message says why in plain words."""


def read_limited(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; anything else raises JSONFileError.

    The file is opened non-blocking and read at most `limit` + 1 bytes, so a file that grows
    while it is read, or a special file that slipped past the check, still ends the read.
    """
    path = Path(path)
    try:
        info = os.stat(path)  # follows a symbolic link: its target is what would be read
    except OSError as exc:
        raise JSONFileError(f"{path.name} cannot be read: {exc.strerror or exc}.") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not an ordinary file (a device, a pipe or a socket)"
        raise JSONFileError(f"{path.name} is {kind}, so it cannot be opened.")
    if info.st_size > limit:
        raise JSONFileError(f"{path.name} is too large ({info.st_size:,} bytes; at most {limit:,}).")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise JSONFileError(f"{path.name} cannot be read: {exc.strerror or exc}.") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for something else since the check
            raise JSONFileError(f"{path.name} is not an ordinary file, so it cannot be opened.")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, limit + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except BlockingIOError:
        raise JSONFileError(f"{path.name} is not an ordinary file, so it cannot be opened.") from None
    except OSError as exc:
        raise JSONFileError(f"{path.name} cannot be read: {exc.strerror or exc}.") from None
    finally:
        os.close(fd)
    if total > limit:
        raise JSONFileError(f"{path.name} is too large (more than {limit:,} bytes).")
    return b"".join(chunks)


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise JSONFileError(f"it holds a number with {len(text.lstrip('-')):,} digits "
                            f"(at most {MAX_DIGITS} are accepted)")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONFileError(f"it holds the number {text[:20]}, too large for a float")
    return value


def _constant(text: str):
    raise JSONFileError(f"it holds {text}, which is not a number JSON allows")


def _depth(text: str) -> int:
    """The deepest bracket nesting of `text` (brackets inside strings are skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse(data: bytes | str, what: str) -> object:
    """A JSON document decoded as plain data; raises JSONFileError("`what` is not …") otherwise."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise JSONFileError(f"{what} is not UTF-8 text.") from None
    if _depth(text) > MAX_DEPTH:
        raise JSONFileError(f"{what} is nested more than {MAX_DEPTH} levels deep, so it is not one of ours.")
    try:
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except JSONFileError as exc:
        raise JSONFileError(f"{what} cannot be used: {exc}.") from None
    except json.JSONDecodeError as exc:
        raise JSONFileError(f"{what} is not valid JSON (line {exc.lineno}: {exc.msg}).") from None
    except (ValueError, RecursionError) as exc:  # anything else the parser refuses
        raise JSONFileError(f"{what} is not valid JSON ({type(exc).__name__}).") from None


def load(path: str | os.PathLike, limit: int) -> object:
    """`parse(read_limited(path, limit))`, naming the file in every message."""
    return parse(read_limited(path, limit), Path(path).name)


__all__ = ["JSONFileError", "read_limited", "parse", "load", "MAX_DEPTH", "MAX_DIGITS"]
