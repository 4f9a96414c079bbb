"""Saving and loading a whole model (config, parameters, tokens) as one `.npz` file.

The file is an ordinary numpy zip: one `.npy` per parameter, plus `__meta__`, a UTF-8
JSON document (bytes stored as a uint8 array) holding the format version, the config
and the tokens. A checkpoint's model (GPT-2, BERT) also keeps its own tokenizer, the
tokenizers library's JSON, as `__tokenizer__` (UTF-8 bytes too), so that reopened it cuts
text exactly as before. Loading never unpickles, checks every header before reading any array,
and refuses sizes larger than the config allows, so a hostile file cannot allocate
memory or run code. Writes are atomic: a crash mid-save keeps the previous file.
"""
from __future__ import annotations

import errno
import json
import os
import re
import reprlib
import stat
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from . import safe_json
from .config import ModelConfig
from .model import Transformer
from .params import MAX_LAYERS, MAX_PARAM_ELEMENTS, MAX_PARAM_ELEMENTS_FLOAT32, param_shapes
from .pretrained import MAX_SAVED_TOKENIZER, CheckpointError, CheckpointTokenizer, SplitTokenizer, saved_tokenizer

FORMAT = "stepformer-model"
VERSION = 1
META = "__meta__"
TOKENIZER = "__tokenizer__"
MAX_META_BYTES = 1 << 20
# the largest parameters a model may have: 400 MB of float64, or 800 MB of float32 (a checkpoint's)
MAX_PARAM_BYTES = max(8 * MAX_PARAM_ELEMENTS, 4 * MAX_PARAM_ELEMENTS_FLOAT32)
# the parameters, meta, a checkpoint's tokenizer, zip overhead
MAX_FILE_BYTES = MAX_PARAM_BYTES + MAX_META_BYTES + MAX_SAVED_TOKENIZER + (1 << 20)
MAX_DIRECTORY_BYTES = 1 << 20  # a zip's table of contents: ~20,000 members, a few hundred are needed
META_KEYS = {"format", "version", "config", "tokens", "extra", "tokenizer"}


class ModelFileError(ValueError):
    """A model file that cannot be read; the message says what is wrong with it."""


class SaveError(OSError):
    """A save that failed; its message says why in plain words (the previous file is intact)."""

    def __str__(self) -> str:
        return self.strerror


_REASONS = {
    errno.ENOSPC: "the disk is full", getattr(errno, "EDQUOT", None): "the disk quota is used up",
    errno.EACCES: "you may not write in that folder", errno.EPERM: "you may not write in that folder",
    errno.EROFS: "the disk is read-only", errno.ENOENT: "the folder no longer exists",
    errno.ENOTDIR: "part of the path is a file, not a folder", errno.EISDIR: "a folder has that name",
    errno.ENAMETOOLONG: "the name is too long", errno.EIO: "the disk reported an error",
}


def _save_error(path: Path, existed: bool, reason: str, code: int | None) -> SaveError:
    after = "The previous file is unchanged." if existed else "Nothing was written."
    return SaveError(code or errno.EIO, f"{path.name} could not be saved: {reason}. {after}")


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call `write(fileobj)` on a temporary file beside `path`, fsync it, then rename it over `path`.

    On any failure the temporary file is removed, the old file at `path` is untouched, and an
    OSError from the disk becomes a SaveError whose message says why in plain words.
    """
    path = Path(path)
    folder = path.parent
    existed = path.is_file()
    if not folder.is_dir():
        what = f"{folder} is a file, not a folder" if folder.exists() else f"the folder {folder} does not exist"
        raise _save_error(path, existed, what, errno.ENOTDIR if folder.exists() else errno.ENOENT)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would have
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(exc, OSError) and not isinstance(exc, SaveError):
            reason = _REASONS.get(exc.errno) or exc.strerror or str(exc)
            raise _save_error(path, existed, reason, exc.errno) from exc
        raise
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# What `atomic_write` leaves if the process dies mid-write: mkstemp's ".NAME." + 8 characters + ".tmp"
TEMP_NAME = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")
STALE_SECONDS = 600  # a save writes without pause and ends within seconds: ten quiet minutes is a dead one


def stale_temp_files(folder: str | os.PathLike, names: re.Pattern = re.compile(r".+\.(npz|json)"),
                     min_age: float = STALE_SECONDS, now: float | None = None) -> list[Path]:
    """Temporary files that `atomic_write` left in `folder` when a save was killed midway.

    Only ordinary files named exactly like ours (".NAME.xxxxxxxx.tmp", NAME matching `names`) and
    untouched for `min_age` seconds are listed: a save in progress in another window keeps its file.
    """
    now = time.time() if now is None else now
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        match = TEMP_NAME.fullmatch(entry.name)
        if not match or not names.fullmatch(match["name"]):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and now - info.st_mtime >= min_age:
            found.append(Path(entry.path))
    return sorted(found)


def remove_stale_temp_files(folders, **kw) -> list[Path]:
    """Delete `stale_temp_files` of each folder; returns those removed."""
    removed = []
    for folder in dict.fromkeys(str(f) for f in folders):
        for path in stale_temp_files(folder, **kw):
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def _brief(exc: Exception, limit: int = 300) -> str:
    """An error's message, cut short: a hostile file can make it quote a megabyte of JSON."""
    text = str(exc)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mode_for(path: Path) -> int:
    """The permission bits of the file being replaced, or those the umask gives a new file."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _tokens_to_json(tokens):
    if isinstance(tokens, np.ndarray):  # an image model keeps its image
        return {"image": tokens.tolist()}
    if isinstance(tokens, tuple):
        return {"source": list(tokens[0]), "target": list(tokens[1])}
    return list(tokens)


def _tokens_from_json(data):
    if isinstance(data, dict) and set(data) == {"source", "target"}:
        return (data["source"], data["target"])
    if isinstance(data, dict) and set(data) == {"image"}:
        return data["image"]
    if isinstance(data, list):
        return data
    raise ModelFileError("The saved tokens must be a list of strings (or source and target lists).")


def save(path: str | os.PathLike, model: Transformer, tokens, extra: dict | None = None) -> None:
    """Write the model and its tokens to `path` atomically (`extra`: more JSON-able metadata).

    The tokens are checked against the model first (TokenError, nothing written): a file that
    `load` would refuse is never made. A checkpoint's own tokenizer is saved with the model.
    """
    tokens = model.checked_input(tokens)
    meta = {"format": FORMAT, "version": VERSION, "config": json.loads(model.config.to_json()),
            "tokens": _tokens_to_json(tokens)}
    if extra:
        meta["extra"] = extra
    arrays = {}
    if isinstance(model.tokenizer, (CheckpointTokenizer, SplitTokenizer)):
        text = model.tokenizer.to_str().encode("utf-8")
        if len(text) > MAX_SAVED_TOKENIZER:
            raise ValueError(f"The model's tokenizer takes {len(text) / 1e6:.1f} MB; a model file keeps one of at "
                             f"most {MAX_SAVED_TOKENIZER / 1e6:.0f} MB. Nothing was written.")
        meta["tokenizer"] = {"library": "tokenizers", "family": model.tokenizer.family}
        arrays[TOKENIZER] = np.frombuffer(text, dtype=np.uint8)
    arrays[META] = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
    if len(arrays[META]) > MAX_META_BYTES:
        raise ValueError(f"The model's settings and vocabulary take {len(arrays[META]) / 1e6:.1f} MB; a model file "
                         f"keeps at most {MAX_META_BYTES / 1e6:.1f} MB of them. Nothing was written.")
    # in the precision the model computes in (float64; float32 for a checkpoint): exactly the numbers it uses
    arrays.update({name: np.asarray(v, dtype=model.config.dtype) for name, v in model.params.items()})
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _read_header(zf: zipfile.ZipFile, member: str, label: str):
    # zipfile and numpy raise many kinds of error for damaged data (BadZipFile, zlib.error,
    # EOFError, NotImplementedError, RuntimeError for encryption…): each means "damaged"
    try:
        with zf.open(member) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ModelFileError(f"{label} has an unknown .npy version {version}.")
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(f"{label} is damaged ({exc}).") from None
    return shape, dtype


def _read_array(zf: zipfile.ZipFile, member: str, label: str, shape, dtype: np.dtype) -> np.ndarray:
    """Read a member whose header was checked already (so its size is known to be sane)."""
    try:
        with zf.open(member) as f:
            arr = np.lib.format.read_array(f, allow_pickle=False)
    except Exception as exc:
        raise ModelFileError(f"{label} is damaged or cut short ({exc}).") from None
    if arr.shape != tuple(shape) or arr.dtype != dtype:
        raise ModelFileError(f"{label} is damaged: its data does not match its header.")
    return arr


def _directory_size(path: Path) -> int:
    """The size of the zip's central directory, read the way zipfile finds it (0 if there is none).

    zipfile builds an object per member listed there, so a hostile file listing millions of
    members would use gigabytes before any check of ours could run.
    """
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - (1 << 16) - 22 - 76))
        tail = f.read()
    at = len(tail) - 22 if tail[-22:-18] == b"PK\x05\x06" else tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return 0
    if at >= 76 and tail[at - 20: at - 16] == b"PK\x06\x07" and tail[at - 76: at - 72] == b"PK\x06\x06":
        return int.from_bytes(tail[at - 36: at - 28], "little")  # the ZIP64 record's size, which zipfile uses
    return int.from_bytes(tail[at + 12: at + 16], "little")


def load_meta(path: str | os.PathLike) -> tuple[dict, zipfile.ZipFile]:
    """Open a model file and read its metadata; the caller closes the returned zip."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path} does not exist or is not a file.")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ModelFileError(f"{path.name} is {size / 1e6:.0f} MB: far too large for a Stepformer model "
                                 f"(at most {MAX_FILE_BYTES / 1e6:.0f} MB).")
        if _directory_size(path) > MAX_DIRECTORY_BYTES:
            raise ModelFileError(f"{path.name} lists far more members than a Stepformer model has.")
        zf = zipfile.ZipFile(path)
    except ModelFileError:
        raise
    except OSError as exc:
        raise ModelFileError(f"{path.name} cannot be read: {exc.strerror or exc}.") from None
    except Exception as exc:  # BadZipFile, ValueError, … for a file that is not a zip
        raise ModelFileError(f"{path.name} is not a Stepformer model file (not a valid .npz: {exc}).") from None
    try:
        names = zf.namelist()
        if f"{META}.npy" not in names:
            raise ModelFileError(f"{path.name} is not a Stepformer model file: it has no {META} record.")
        info = zf.getinfo(f"{META}.npy")
        if info.file_size > MAX_META_BYTES + 1024:
            raise ModelFileError(f"{path.name}: the metadata record is implausibly large.")
        shape, dtype = _read_header(zf, f"{META}.npy", f"{path.name}: the metadata record")
        if dtype != np.uint8 or len(shape) != 1:
            raise ModelFileError(f"{path.name}: the metadata record has the wrong type.")
        if shape[0] > MAX_META_BYTES:
            raise ModelFileError(f"{path.name}: the metadata record is implausibly large.")
        raw = _read_array(zf, f"{META}.npy", f"{path.name}: the metadata record", shape, dtype).tobytes()
        try:  # plain data only: no NaN, no 5,000-digit number, no nesting 100,000 deep
            meta = safe_json.parse(raw, "the metadata")
        except safe_json.JSONFileError as exc:
            raise ModelFileError(f"{path.name}: {exc}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelFileError(f"{path.name} is not a Stepformer model file (wrong format tag).")
        if meta.get("version") != VERSION:
            raise ModelFileError(f"{path.name} has format version {reprlib.repr(meta.get('version'))}; "
                                 f"this Stepformer reads version {VERSION}.")
        unknown = sorted(set(meta) - META_KEYS)
        if unknown:
            raise ModelFileError(f"{path.name}: unknown metadata fields {', '.join(map(repr, unknown))}.")
        if not isinstance(meta.get("extra", {}), dict):
            raise ModelFileError(f"{path.name}: the extra metadata must be a JSON object.")
        return meta, zf
    except BaseException:
        zf.close()
        raise


def _read_tokenizer(zf: zipfile.ZipFile, info, config: ModelConfig, name: str):
    """The checkpoint tokenizer a file keeps (`save`), checked before the model is built.

    Its record must be plain UTF-8 JSON of at most MAX_SAVED_TOKENIZER bytes, which the tokenizers
    library reads into a tokenizer giving every id the token the config's vocabulary has there.
    """
    if not (isinstance(info, dict) and set(info) == {"library", "family"} and info["library"] == "tokenizers"):
        raise ModelFileError(f"{name}: the tokenizer field must name its library (tokenizers) and its family.")
    if config.tokenization != "subword":
        raise ModelFileError(f"{name}: only a checkpoint's model keeps its own tokenizer; this one splits text "
                             f"into {config.tokenization}s.")
    member, label = f"{TOKENIZER}.npy", f"{name}: the tokenizer record"
    if member not in zf.namelist():
        raise ModelFileError(f"{name}: the tokenizer record ({member}) is missing.")
    limit = f"implausibly large (a tokenizer takes at most {MAX_SAVED_TOKENIZER / 1e6:.0f} MB)"
    if zf.getinfo(member).file_size > MAX_SAVED_TOKENIZER + 1024:
        raise ModelFileError(f"{label} is {limit}.")
    shape, dtype = _read_header(zf, member, label)
    if dtype != np.uint8 or len(shape) != 1:
        raise ModelFileError(f"{label} has the wrong type.")
    if shape[0] > MAX_SAVED_TOKENIZER:
        raise ModelFileError(f"{label} is {limit}.")
    raw = _read_array(zf, member, label, shape, dtype).tobytes()
    try:  # a sentence for text that is not JSON, or JSON built to break the parser
        safe_json.parse(raw, "the tokenizer record")
        return saved_tokenizer(raw.decode("utf-8"), config.vocab, info["family"])
    except (safe_json.JSONFileError, CheckpointError) as exc:
        raise ModelFileError(f"{name}: {_brief(exc)}") from None


def load(path: str | os.PathLike) -> tuple[Transformer, object]:
    """Read a model file written by `save`: returns (model, tokens).

    Raises ModelFileError with a clear message for a missing, corrupt, truncated,
    pickled, oversized, wrongly shaped or non-finite file, or one whose forward pass
    overflows; nothing of the caller's is touched.
    """
    meta, zf = load_meta(path)
    name = Path(path).name
    with zf:
        try:
            config = ModelConfig.from_json(json.dumps(meta.get("config")))
        except (ValueError, TypeError) as exc:
            raise ModelFileError(f"{name}: the configuration is invalid: {_brief(exc)}") from None
        if config.n_layers > MAX_LAYERS:
            raise ModelFileError(f"{name}: the configuration asks for {config.n_layers} layers; "
                                 f"Stepformer loads at most {MAX_LAYERS}.")
        shapes = param_shapes(config)
        limit = MAX_PARAM_ELEMENTS_FLOAT32 if config.dtype == "float32" else MAX_PARAM_ELEMENTS
        if sum(int(np.prod(s, dtype=np.float64)) for s in shapes.values()) > limit:
            raise ModelFileError(f"{name}: the configuration asks for a model far too large to load.")
        # a float32 model's weights are float32; files saved before that kept them widened to float64
        stored = {np.dtype(np.float64), np.dtype(config.dtype)}
        tokenizer = _read_tokenizer(zf, meta["tokenizer"], config, name) if "tokenizer" in meta else None
        kept = {f"{META}.npy"} | ({f"{TOKENIZER}.npy"} if tokenizer is not None else set())
        members = {m[:-4]: m for m in zf.namelist() if m.endswith(".npy") and m not in kept}
        others = [m for m in zf.namelist() if not m.endswith(".npy")]
        missing = sorted(set(shapes) - set(members))
        extra = sorted(set(members) - set(shapes)) + others
        if missing:
            raise ModelFileError(f"{name} lacks parameters: {', '.join(missing[:5])}"
                                 + (" …" if len(missing) > 5 else "") + ".")
        if extra:
            raise ModelFileError(f"{name} has parameters this config does not use: {', '.join(extra[:5])}.")
        params = {}
        for pname, shape in shapes.items():
            got, dtype = _read_header(zf, members[pname], f"{name}: {pname}")
            if tuple(got) != shape:
                raise ModelFileError(f"{name}: {pname} has shape {list(got)}, expected {list(shape)}.")
            if dtype not in stored:
                raise ModelFileError(f"{name}: {pname} has type {dtype}, expected {config.dtype}.")
            arr = _read_array(zf, members[pname], f"{name}: {pname}", got, dtype)
            if not np.all(np.isfinite(arr)):
                raise ModelFileError(f"{name}: {pname} contains NaN or infinity.")
            params[pname] = arr
        try:
            model = Transformer(config, params=params, tokenizer=tokenizer)
            tokens = model.checked_input(_tokens_from_json(meta.get("tokens")))
            model.run(tokens)  # weights that overflow on their own tokens make a file that cannot be shown
        except ModelFileError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(f"{name}: {_brief(exc)}") from None
    return model, tokens
