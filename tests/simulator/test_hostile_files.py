"""Hostile model files: a generated corpus of broken files, each refused with its own clear
message, and random mutations of a good file, which load or are refused but never crash.

Every case also checks that the model already open (a Session, as in the app) is bit-identical
afterwards: opening a bad file must not touch what the student is working on.
"""
from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import ModelConfig, ModelFileError, Session, Transformer, load, save
from simulator.io import MAX_FILE_BYTES
from simulator.lessons import LessonError, load_lesson

META = "__meta__.npy"
TOKENIZER = "__tokenizer__.npy"  # a checkpoint's own tokenizer (GPT-2, BERT), as its JSON


# --- building files byte by byte ---

def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def npy_header(shape: tuple, dtype, data: bytes = b"") -> bytes:
    """A .npy header claiming `shape` and `dtype`, followed by whatever `data` is given."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape})
    return buf.getvalue() + data


def meta_npy(meta) -> bytes:
    raw = meta if isinstance(meta, bytes) else json.dumps(meta).encode("utf-8")
    return npy(np.frombuffer(raw, dtype=np.uint8))


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


class Good:
    """A valid file's members, its metadata and its parameters, to be spoiled one way at a time."""

    def __init__(self, folder: Path, config: ModelConfig | None = None, text="the cat sat"):
        self.folder = folder
        model = Transformer(config or ModelConfig(n_layers=1), seed=3)
        self.path = folder / "good.npz"
        save(self.path, model, model.tokens(text))
        with zipfile.ZipFile(self.path) as zf:
            self.members = {n: zf.read(n) for n in zf.namelist()}
        self.meta = json.loads(np.load(io.BytesIO(self.members[META])).tobytes())
        self.params = {n: np.array(v) for n, v in model.params.items()}

    def with_meta(self, change) -> dict[str, bytes]:
        meta = json.loads(json.dumps(self.meta))
        change(meta)
        return {**self.members, META: meta_npy(meta)}

    def with_config(self, **fields) -> dict[str, bytes]:
        return self.with_meta(lambda m: m["config"].update(fields))

    def with_param(self, name: str, data: bytes | None) -> dict[str, bytes]:
        members = dict(self.members)
        if data is None:
            del members[name + ".npy"]
        else:
            members[name + ".npy"] = data
        return members

    def with_weight(self, value: float, name="blocks.0.mlp.W_in") -> dict[str, bytes]:
        w = self.params[name].copy()
        w[0, 0] = value
        return self.with_param(name, npy(w))


class Evil:
    """Unpickling this would create a file: proof that loading never unpickles."""

    sentinel = ""

    def __reduce__(self):
        return (open, (Evil.sentinel, "w"))


def _pickled_param(good: Good) -> bytes:
    return npy(np.array([Evil()] * len(good.params["unembed.b_U"]), dtype=object))


# Each case: (id, how to make the file from `good`, a fragment of the expected message).
# A maker returns the members of a zip, or raw bytes, or a Path it made itself.
CASES = [
    ("empty-file", lambda g: b"", "not a valid .npz"),
    ("truncated-half", lambda g: g.path.read_bytes()[: len(g.path.read_bytes()) // 2], "not a valid .npz"),
    ("truncated-tail", lambda g: g.path.read_bytes()[:-30], "not a valid .npz"),
    ("wrong-magic-png", lambda g: b"\x89PNG\r\n\x1a\n" + bytes(200), "not a valid .npz"),
    ("plain-text", lambda g: "the cat sat on the mat\n".encode() * 20, "not a valid .npz"),
    ("no-meta", lambda g: {k: v for k, v in g.members.items() if k != META}, "has no __meta__ record"),
    ("meta-wrong-format-tag", lambda g: g.with_meta(lambda m: m.update(format="other-app")), "wrong format tag"),
    ("meta-future-version", lambda g: g.with_meta(lambda m: m.update(version=2)), "format version 2"),
    ("meta-not-json", lambda g: {**g.members, META: meta_npy(b"{config: nope")}, "not valid JSON"),
    ("meta-not-utf8", lambda g: {**g.members, META: meta_npy(b'{"format": "\xff\xfe stepformer"}')},
     "not UTF-8 text"),
    ("meta-json-array", lambda g: {**g.members, META: meta_npy([1, 2, 3])}, "wrong format tag"),
    ("meta-float-array", lambda g: {**g.members, META: npy(np.zeros(4))}, "metadata record has the wrong type"),
    ("meta-object-array", lambda g: {**g.members, META: npy(np.array([{"format": 1}], dtype=object))},
     "metadata record has the wrong type"),
    ("meta-claims-a-terabyte", lambda g: {**g.members, META: npy_header((10**12,), np.uint8, b"{}")},
     "implausibly large"),
    ("meta-nested-100000-deep", lambda g: {**g.members, META: meta_npy(b"[" * 100_000 + b"]" * 100_000)},
     "nested more than 64 levels"),
    ("meta-5000-digit-number", lambda g: {**g.members, META: meta_npy(b'{"version": ' + b"9" * 5000 + b"}")},
     "5,000 digits"),
    ("meta-unknown-field", lambda g: g.with_meta(lambda m: m.update(script="import os")), "unknown metadata fields"),
    ("meta-extra-not-object", lambda g: g.with_meta(lambda m: m.update(extra=[1, 2])), "must be a JSON object"),
    ("config-is-a-list", lambda g: g.with_meta(lambda m: m.update(config=[16, 2])), "must be a JSON object"),
    ("config-missing", lambda g: g.with_meta(lambda m: m.pop("config")), "must be a JSON object"),
    ("config-text-for-number", lambda g: g.with_config(n_layers="1"), "n_layers must be int"),
    ("config-bool-for-number", lambda g: g.with_config(d_model=True), "d_model must be int"),
    ("config-unknown-choice", lambda g: g.with_config(activation="swish"), "activation must be one of"),
    ("config-unknown-field", lambda g: g.with_config(dropout=0.1), "Unknown configuration fields: dropout"),
    ("config-nan-eps", lambda g: {**g.members, META: meta_npy(
        json.dumps(g.meta).replace('"norm_eps": 1e-05', '"norm_eps": NaN').encode())}, "holds NaN"),
    ("config-vocab-not-list", lambda g: g.with_config(vocab="the cat"), "vocab must be a list"),
    ("config-billion-layers", lambda g: g.with_config(n_layers=10**9), "at most 256"),
    ("config-enormous-width", lambda g: g.with_config(d_model=10**6, d_mlp=10**6), "far too large to load"),
    ("tokens-missing", lambda g: g.with_meta(lambda m: m.pop("tokens")), "must be a list of strings"),
    ("tokens-numbers", lambda g: g.with_meta(lambda m: m.update(tokens=[1, 2])), "Tokens must be strings"),
    ("tokens-empty", lambda g: g.with_meta(lambda m: m.update(tokens=[])), "is empty"),
    ("tokens-longer-than-n_ctx", lambda g: g.with_meta(lambda m: m.update(tokens=["the"] * 9)), "n_ctx = 8"),
    ("param-missing", lambda g: g.with_param("blocks.0.attn.W_Q", None), "lacks parameters: blocks.0.attn.W_Q"),
    ("param-extra", lambda g: {**g.members, "blocks.7.attn.W_Q.npy": npy(np.zeros((2, 16, 8)))},
     "does not use: blocks.7.attn.W_Q"),
    ("member-not-npy", lambda g: {**g.members, "notes.txt": b"hello"}, "does not use: notes.txt"),
    ("param-wrong-shape", lambda g: g.with_param("embed.W_E", npy(np.zeros((13, 15)))),
     "embed.W_E has shape [13, 15], expected [13, 16]"),
    ("param-transposed", lambda g: g.with_param("unembed.W_U", npy(np.zeros((13, 16)))), "expected [16, 13]"),
    ("param-float32", lambda g: g.with_param("embed.W_E", npy(np.zeros((13, 16), np.float32))),
     "has type float32, expected float64"),
    ("param-int64", lambda g: g.with_param("embed.W_E", npy(np.zeros((13, 16), np.int64))),
     "has type int64, expected float64"),
    ("param-complex", lambda g: g.with_param("embed.W_E", npy(np.zeros((13, 16), np.complex128))),
     "has type complex128"),
    ("param-object-pickle", lambda g: g.with_param("unembed.b_U", _pickled_param(g)), "has type object"),
    ("param-nan", lambda g: g.with_weight(np.nan), "contains NaN or infinity"),
    ("param-inf", lambda g: g.with_weight(-np.inf), "contains NaN or infinity"),
    ("param-1e300", lambda g: g.with_weight(1e300), "values beyond ±1e+06 are refused"),
    ("param-claims-1e9-by-1e9", lambda g: g.with_param("embed.W_E", npy_header((10**9, 10**9), np.float64)),
     "has shape [1000000000, 1000000000]"),
    ("param-data-truncated", lambda g: g.with_param("embed.W_E", npy_header((13, 16), np.float64, bytes(100))),
     "embed.W_E is damaged or cut short"),
    ("param-bad-header", lambda g: g.with_param("embed.W_E", b"\x93NUMPY\x01\x00\x10\x00{'descr': <f8 }   \n"),
     "embed.W_E is damaged"),
    ("param-unknown-npy-version", lambda g: g.with_param("embed.W_E", b"\x93NUMPY\x09\x00" + bytes(20)),
     "embed.W_E has an unknown .npy version (9, 0)"),
]


def _bad_crc(g: Good) -> Path:
    """A stored member with one byte flipped: the zip's checksum no longer matches."""
    data = bytearray(g.path.read_bytes())
    at = data.index(b"embed.W_E.npy") + 200
    data[at] ^= 0xFF
    path = g.folder / "bad.npz"
    path.write_bytes(bytes(data))
    return path


def _overflowing(g: Good) -> Path:
    """Weights within the bound, in a deep model without norms: the numbers overflow float64."""
    model = Transformer(ModelConfig(norm="none", n_layers=8), seed=0)
    model.replace_params({n: np.full(s, 1e6) for n, s in model.shapes.items()})
    path = g.folder / "bad.npz"
    members = {META: g.with_meta(lambda m: m.update(config=json.loads(model.config.to_json())))[META]}
    members.update({f"{n}.npy": npy(np.asarray(v)) for n, v in model.params.items()})
    return write_zip(path, members)


def _too_big(g: Good) -> Path:
    path = g.folder / "bad.npz"
    with open(path, "wb") as f:  # sparse: no disk space is used
        f.truncate(MAX_FILE_BYTES + 1)
    return path


def _many_members(g: Good) -> Path:
    """A table of contents listing 12,000 members: zipfile would build an object for each."""
    path = g.folder / "bad.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in g.members.items():
            zf.writestr(name, data)
        for i in range(12_000):
            zf.writestr(f"{'padding/' * 10}{i}.npy", b"")
    return path


def _folder(g: Good) -> Path:
    (g.folder / "bad.npz").mkdir()
    return g.folder / "bad.npz"


CASES += [
    ("tokenizer-on-a-word-model", lambda g: g.with_meta(lambda m: m.update(tokenizer={"library": "tokenizers",
                                                                                       "family": "gpt2"})),
     "only a checkpoint's model keeps its own tokenizer"),
    ("tokenizer-record-unannounced", lambda g: {**g.members, TOKENIZER: npy(np.frombuffer(b"{}", np.uint8))},
     "does not use: __tokenizer__"),
    ("zip-checksum-mismatch", _bad_crc, "embed.W_E is damaged"),
    ("overflowing-forward-pass", _overflowing, "grow beyond what float64 can hold"),
    ("file-larger-than-any-model", _too_big, "far too large for a Stepformer model"),
    ("zip-listing-12000-members", _many_members, "lists far more members than a Stepformer model has"),
    ("missing-file", lambda g: g.folder / "nowhere.npz", "does not exist"),
    ("a-folder", _folder, "is not a file"),
]


def make(good: Good, maker) -> Path:
    made = maker(good)
    if isinstance(made, Path):
        return made
    path = good.folder / "bad.npz"
    if isinstance(made, bytes):
        path.write_bytes(made)
        return path
    return write_zip(path, made)


def snapshot(session: Session) -> dict[str, bytes]:
    """Every parameter and every step of the open session, as raw bytes (bit-identity)."""
    shot = {f"param:{n}": np.asarray(v).tobytes() for n, v in session.model.params.items()}
    shot.update({f"step:{n}": np.asarray(session.trace[n]).tobytes() for n in session.trace})
    shot["tokens"] = repr(session.tokens).encode()
    return shot


def open_into(session: Session, path: Path) -> None:
    """What File ▸ Open does: load, then swap the model in (only if loading succeeded)."""
    model, tokens = load(path)
    session.set_model(model, tokens)


@pytest.fixture
def good(tmp_path) -> Good:
    return Good(tmp_path)


@pytest.fixture
def session(good) -> Session:
    model, tokens = load(good.path)
    return Session(model, tokens)


def test_the_corpus_is_large_and_the_good_file_loads(good, session):
    assert len(CASES) >= 30
    assert len({case[0] for case in CASES}) == len(CASES)
    model, tokens = load(good.path)
    assert tokens == ["the", "cat", "sat"]
    assert all(np.array_equal(model.params[n], good.params[n]) for n in good.params)


@pytest.mark.parametrize("maker, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_bad_file_is_refused_clearly_and_the_open_model_is_untouched(good, session, maker, fragment,
                                                                          tmp_path):
    Evil.sentinel = str(tmp_path / "pwned")
    path = make(good, maker)
    before = snapshot(session)
    with pytest.raises(ModelFileError) as info:
        open_into(session, path)
    assert fragment in str(info.value)
    assert snapshot(session) == before
    assert not os.path.exists(Evil.sentinel)


@pytest.mark.parametrize("shape", [(10**9, 10**9), (13, 16, 10**9)])
def test_an_enormous_claimed_array_is_refused_without_allocating(good, shape):
    path = write_zip(good.folder / "bad.npz", good.with_param("embed.W_E", npy_header(shape, np.float64)))
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="has shape"):
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # bytes: nothing near the 8e18 the header claims


def test_a_lesson_with_a_missing_step_is_refused(tmp_path):
    path = tmp_path / "lesson.json"
    path.write_text(json.dumps({"title": "Broken", "tokens": "the cat",
                                "stops": [{"step": "blocks.0.attn.hook_q", "text": "fine"}, {"text": "no step"}]}))
    with pytest.raises(LessonError, match='stop 2: "step" is missing'):
        load_lesson(path)


def test_a_lesson_in_latin_1_is_refused(tmp_path):
    path = tmp_path / "lesson.json"
    path.write_bytes('{"title": "Caf\u00e9", "stops": []}'.encode("latin-1"))
    with pytest.raises(LessonError, match="not UTF-8"):
        load_lesson(path)


# --- a checkpoint's model keeps its tokenizer: hostile tokenizer records ---

def _checkpoints():
    import importlib.util
    pytest.importorskip("safetensors", reason="the checkpoints extra (safetensors) is not installed")
    pytest.importorskip("tokenizers", reason="the checkpoints extra (tokenizers) is not installed")
    spec = importlib.util.spec_from_file_location("checkpoints", Path(__file__).with_name("checkpoints.py"))
    ck = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ck)
    return ck


@pytest.fixture(scope="module")
def gpt2_file(tmp_path_factory) -> Path:
    """A GPT-2-shaped checkpoint opened and saved as .npz (its tokenizer in __tokenizer__.npy)."""
    from simulator.pretrained import load_pretrained
    folder = tmp_path_factory.mktemp("gpt2")
    _checkpoints().write_gpt2(folder)
    model = load_pretrained(folder)
    save(folder / "good.npz", model, model.tokenize("Hello world"))
    return folder / "good.npz"


def _tokenizer_json(members: dict, change) -> dict[str, bytes]:
    """The members with the tokenizer's JSON changed by `change(tokenizer_dict)`."""
    tok = json.loads(np.load(io.BytesIO(members[TOKENIZER])).tobytes())
    change(tok)
    return {**members, TOKENIZER: meta_npy(tok)}


def _template(special_ids: dict[str, list[int]], names=("<|endoftext|>",)) -> dict:
    """A post-processor putting the special tokens `names` before every text (as BERT puts [CLS])."""
    single = [{"SpecialToken": {"id": n, "type_id": 0}} for n in names] + [{"Sequence": {"id": "A", "type_id": 0}}]
    return {"type": "TemplateProcessing", "single": single, "pair": single,
            "special_tokens": {k: {"id": k, "ids": v, "tokens": [k] * len(v)} for k, v in special_ids.items()}}


def _swap_two_tokens(tok: dict) -> None:
    vocab = tok["model"]["vocab"]
    a, b = sorted(vocab, key=vocab.get)[40:42]
    vocab[a], vocab[b] = vocab[b], vocab[a]


# Each: (id, how to change the members of a good GPT-2 file, a fragment of the expected message)
TOKENIZER_CASES = [
    ("not-json", lambda m: {**m, TOKENIZER: meta_npy(b'{"version": "1.0", "model": ')},
     "the tokenizer record is not valid JSON"),
    ("not-utf8", lambda m: {**m, TOKENIZER: meta_npy(b'{"model": "\xff\xfe"}')}, "the tokenizer record is not UTF-8"),
    ("nested-100000-deep", lambda m: {**m, TOKENIZER: meta_npy(b"[" * 100_000 + b"]" * 100_000)},
     "nested more than 64 levels"),
    ("claims-a-terabyte", lambda m: {**m, TOKENIZER: npy_header((10**12,), np.uint8, b"{}")}, "implausibly large"),
    ("float-array", lambda m: {**m, TOKENIZER: npy(np.zeros(4))}, "tokenizer record has the wrong type"),
    ("missing", lambda m: {k: v for k, v in m.items() if k != TOKENIZER}, "tokenizer record (__tokenizer__.npy) is"
                                                                         " missing"),
    ("not-a-tokenizer", lambda m: {**m, TOKENIZER: meta_npy({"version": "1.0", "model": 3})},
     "the tokenizers library cannot read the tokenizer"),
    ("id-beyond-the-vocabulary", lambda m: _tokenizer_json(m, lambda t: t["model"]["vocab"].update(Ġcat=10**6)),
     "has id 1,000,000, but the embedding has only"),
    ("added-token-beyond", lambda m: _tokenizer_json(m, lambda t: t["added_tokens"].append(
        dict(t["added_tokens"][0], id=5000, content="<|new|>"))), "token '<|new|>' has id 300, but the embedding"),
    ("two-tokens-swapped", lambda m: _tokenizer_json(m, _swap_two_tokens),
     "the tokenizer's tokens are not the model's vocabulary"),
    ("template-id-beyond", lambda m: _tokenizer_json(m, lambda t: t.update(post_processor=_template(
        {"<|endoftext|>": [10**9]}))), "gives the id 1,000,000,000 for a plain sentence"),
    # the library panics (a PanicException, which `except Exception` misses) on a special token it lacks
    ("template-panics", lambda m: _tokenizer_json(m, lambda t: t.update(post_processor=_template({}, ["[NOPE]"]))),
     "The tokenizer fails on a plain sentence"),
    ("unknown-family", lambda m: _meta_tokenizer(m, {"library": "tokenizers", "family": "llama"}),
     "family must be one of gpt2, bert"),
    ("field-not-an-object", lambda m: _meta_tokenizer(m, "yes"), "must name its library (tokenizers)"),
]


def _meta_tokenizer(members: dict, value) -> dict[str, bytes]:
    meta = json.loads(np.load(io.BytesIO(members[META])).tobytes())
    meta["tokenizer"] = value
    return {**members, META: meta_npy(meta)}


@pytest.mark.parametrize("change, fragment", [c[1:] for c in TOKENIZER_CASES], ids=[c[0] for c in TOKENIZER_CASES])
def test_a_bad_tokenizer_record_is_refused_clearly_and_the_open_model_is_untouched(gpt2_file, session, tmp_path,
                                                                                  change, fragment):
    with zipfile.ZipFile(gpt2_file) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    open_into(session, gpt2_file)  # the good file opens: the open model is the checkpoint
    before = snapshot(session)
    path = write_zip(tmp_path / "bad.npz", change(members))
    with pytest.raises(ModelFileError) as info:
        open_into(session, path)
    assert fragment in str(info.value)
    assert len(str(info.value)) < 600  # a hostile file cannot make the message quote a megabyte
    assert snapshot(session) == before


def test_a_tokenizer_record_over_the_limit_is_refused_before_it_is_read(gpt2_file, monkeypatch):
    import simulator.io
    monkeypatch.setattr(simulator.io, "MAX_SAVED_TOKENIZER", 1000)  # the test tokenizer's JSON is ~10 kB
    read = simulator.io._read_array

    def read_array(zf, member, *rest):
        assert member != TOKENIZER, "the oversized record was read"
        return read(zf, member, *rest)
    monkeypatch.setattr(simulator.io, "_read_array", read_array)
    with pytest.raises(ModelFileError, match="the tokenizer record is implausibly large"):
        load(gpt2_file)


@pytest.mark.slow
def test_random_changes_to_the_tokenizer_record_load_or_are_refused_never_crash(gpt2_file, tmp_path):
    """Bytes of the tokenizer's JSON changed at random: the file opens (same vocabulary) or is refused with a
    ModelFileError, never another exception (nor a panic of the tokenizers library)."""
    with zipfile.ZipFile(gpt2_file) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    text = np.load(io.BytesIO(members[TOKENIZER])).tobytes()
    target = tmp_path / "mutated.npz"
    outcomes = {"refused": 0, "loaded": 0}

    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        write_zip(target, {**members, TOKENIZER: meta_npy(_mutate_bytes(text, data.draw))})
        try:
            model, _ = load(target)
        except ModelFileError as exc:
            assert str(exc)
            outcomes["refused"] += 1
            return
        assert model.tokenizer.vocab == model.config.vocab
        model.tokenize("Hello world, hello class.")
        outcomes["loaded"] += 1

    check()
    assert outcomes["refused"] > 50


# --- random mutations ---

def _mutate_bytes(data: bytes, draw) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "overwrite"]))
    at = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    if kind == "truncate":
        return data[:at]
    chunk = draw(st.binary(min_size=1, max_size=16))
    return data[:at] + chunk + data[at + (len(chunk) if kind == "overwrite" else 0):]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True)
    | st.text(max_size=8), lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                   max_size=4), max_leaves=8)


def _mutate_meta(meta: dict, draw) -> dict:
    meta = json.loads(json.dumps(meta))
    where = draw(st.sampled_from(["top", "config", "tokens"]))
    value = draw(JSON_VALUES)
    if where == "top":
        key = draw(st.sampled_from(sorted(meta) + ["extra", "other", "tokenizer"]))
        meta[key] = value
    elif where == "config":
        key = draw(st.sampled_from(sorted(meta["config"]) + ["unknown"]))
        meta["config"][key] = value
    else:
        meta["tokens"] = value
    return meta


@st.composite
def mutated_files(draw, good_bytes: bytes, meta: dict, members: dict):
    if draw(st.booleans()):
        return _mutate_bytes(good_bytes, draw)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, meta_npy(_mutate_meta(meta, draw)) if name == META else data)
    return buf.getvalue()


@pytest.mark.slow
def test_random_mutations_load_or_are_refused_never_crash(tmp_path):
    good = Good(tmp_path)
    model, tokens = load(good.path)
    session = Session(model, tokens)
    before = snapshot(session)
    target = tmp_path / "mutated.npz"
    outcomes = {"refused": 0, "loaded": 0}

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(mutated_files(good.path.read_bytes(), good.meta, good.members))
    def check(data):
        target.write_bytes(data)
        try:
            open_into(session, target)
        except ModelFileError as exc:
            assert str(exc)
            assert snapshot(session) == before
            outcomes["refused"] += 1
            return
        # a harmless mutation (say, in the zip's directory padding) loaded: it must be a usable model
        assert all(np.isfinite(session.trace[n]).all() or n.endswith("hook_attn_scores") for n in session.trace)
        outcomes["loaded"] += 1
        session.set_model(model, tokens)
        assert snapshot(session) == before

    check()
    assert outcomes["refused"] > 100
