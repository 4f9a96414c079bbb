"""Saving and loading model files: identical bits back, clear errors for bad files, atomic writes.

(The generated corpus of hostile files lives in test_hostile_files.py.)
"""
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from simulator import ModelConfig, ModelFileError, Session, TokenError, Transformer, load, save
from simulator.io import atomic_write, load_meta


def _same_model(a: Transformer, b: Transformer) -> None:
    assert a.config == b.config
    assert list(a.params) == list(b.params)
    for name in a.params:
        assert a.params[name].tobytes() == b.params[name].tobytes(), name


@pytest.mark.parametrize("cfg, tokens", [
    (ModelConfig(), ["the", "cat", "sat"]),
    (ModelConfig(arch="encoder-decoder", positional="learned"), (["the", "cat"], ["a", "dog", "ran"])),
    (ModelConfig(vocab=("<unk>", "é", "ß", " ", "😀"), tokenization="char", arch="encoder", attention="full",
                 d_model=8, n_ctx=5), ["é", " ", "😀"]),
    (ModelConfig(residual="block_attnres", depth_blocks=3), ["the", "dog"]),
], ids=["default", "encoder-decoder", "unicode-chars", "block_attnres"])
def test_save_then_load_gives_identical_bits(tmp_path, cfg, tokens):
    model = Transformer(cfg, seed=5)
    model.set_param("embed.W_E" if cfg.arch != "encoder-decoder" else "encoder.embed.W_E", np.pi, (1, 1))
    path = tmp_path / "model.npz"
    save(path, model, tokens, extra={"note": "lesson 3 ✓"})
    loaded, got = load(path)
    _same_model(model, loaded)
    assert got == tokens
    a, b = model.run(tokens if cfg.arch != "encoder-decoder" else tuple(tokens)), loaded.run(got)
    for name in a.names:
        assert a[name].tobytes() == b[name].tobytes(), name
    meta, zf = load_meta(path)
    zf.close()
    assert meta["extra"] == {"note": "lesson 3 ✓"} and meta["config"]["d_model"] == cfg.d_model


def _good_file(tmp_path):
    model = Transformer(ModelConfig(), seed=1)
    path = tmp_path / "good.npz"
    save(path, model, ["the", "cat"])
    return model, path


def _rewrite(src, dst, change):
    """Copy a model file member by member, letting `change(name, bytes)` alter or drop members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = change(name, zin.read(name))
            if data is not None:
                zout.writestr(name, data)
    return dst


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def _bad_files(tmp_path):
    model, good = _good_file(tmp_path)
    raw = good.read_bytes()
    files = {}
    files["missing"] = (tmp_path / "nope.npz", "does not exist")
    (tmp_path / "text.npz").write_text("hello, I am not a model")
    files["not a zip"] = (tmp_path / "text.npz", "not a Stepformer model file")
    (tmp_path / "half.npz").write_bytes(raw[: len(raw) // 2])
    files["truncated"] = (tmp_path / "half.npz", "not a Stepformer model file")
    corrupt = bytearray(raw)
    start = raw.index(b"\x93NUMPY", raw.index(b"embed.W_E.npy"))  # inside the embedding's data
    corrupt[start + 200: start + 220] = b"\x00" * 20
    (tmp_path / "corrupt.npz").write_bytes(bytes(corrupt))
    files["corrupt data"] = (tmp_path / "corrupt.npz", "embed.W_E")
    files["wrong shape"] = (_rewrite(good, tmp_path / "shape.npz", lambda n, d: _npy(np.zeros((13, 15)))
                                     if n == "embed.W_E.npy" else d),
                            r"embed.W_E has shape \[13, 15\], expected \[13, 16\]")
    files["pickled array"] = (_rewrite(good, tmp_path / "pickle.npz", lambda n, d: _npy(np.array([{"x": 1}] * 13))
                                       if n == "unembed.b_U.npy" else d), "unembed.b_U has type object")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"embed.W_E": np.zeros((13, 16))}))
    files["a pickle"] = (tmp_path / "plain.pkl", "not a Stepformer model file")
    files["nan weight"] = (_rewrite(good, tmp_path / "nan.npz", lambda n, d: _npy(np.full(13, np.nan))
                                    if n == "unembed.b_U.npy" else d), "NaN or infinity")
    files["missing param"] = (_rewrite(good, tmp_path / "lack.npz", lambda n, d: None if n == "unembed.b_U.npy" else d),
                              "lacks parameters: unembed.b_U")
    files["no meta"] = (_rewrite(good, tmp_path / "nometa.npz", lambda n, d: None if n == "__meta__.npy" else d),
                        "__meta__")
    return files


def test_every_bad_file_gives_a_model_file_error_and_leaves_the_open_model_alone(tmp_path):
    current = Session(Transformer(ModelConfig(positional="rope"), seed=9), "the dog ran")
    before = {n: v.copy() for n, v in current.model.params.items()}
    trace = current.trace
    for what, (path, match) in _bad_files(tmp_path).items():
        with pytest.raises(ModelFileError, match=match):
            load(path)
            pytest.fail(f"{what} was accepted")
    assert current.trace is trace
    for name, value in before.items():
        assert current.model.params[name].tobytes() == value.tobytes()


def test_atomic_write_keeps_the_previous_file_when_writing_fails(tmp_path):
    model, path = _good_file(tmp_path)
    before = path.read_bytes()

    def broken(f):
        f.write(b"PK\x03\x04 half a file")
        raise RuntimeError("disk unplugged")

    with pytest.raises(RuntimeError, match="disk unplugged"):
        atomic_write(path, broken)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["good.npz"]  # no temporary file left behind
    loaded, tokens = load(path)
    _same_model(model, loaded)


def test_a_save_that_fails_midway_keeps_the_previous_file(tmp_path, monkeypatch):
    model, path = _good_file(tmp_path)
    before = path.read_bytes()

    def savez_then_fail(f, **arrays):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", savez_then_fail)
    with pytest.raises(OSError):
        save(path, Transformer(ModelConfig(), seed=2), ["a"])
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["good.npz"]


def test_tokens_the_model_cannot_read_are_refused_before_writing(tmp_path):
    model, path = _good_file(tmp_path)
    before = path.read_bytes()
    strict = Transformer(ModelConfig(vocab=("the", "cat"), d_model=4, n_heads=1), seed=1)
    with pytest.raises(TokenError, match="'dog'"):
        save(path, strict, ["the", "dog"])
    with pytest.raises(TokenError, match="n_ctx"):
        save(tmp_path / "new.npz", model, "the cat sat on the mat and the dog")
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["good.npz"]
    save(path, model, "the zebra")  # an unknown word in a vocabulary with <unk> is saved as <unk>
    assert load(path)[1] == ["the", "<unk>"]


def test_saving_over_a_file_replaces_it(tmp_path):
    _, path = _good_file(tmp_path)
    other = Transformer(ModelConfig(n_layers=1), seed=3)
    save(path, other, ["a", "dog"])
    loaded, tokens = load(path)
    _same_model(other, loaded)
    assert tokens == ["a", "dog"]


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _member_dtypes(path) -> set:
    with zipfile.ZipFile(path) as zf:
        return {np.load(zf.open(n)).dtype for n in zf.namelist() if n != "__meta__.npy"}


def test_a_float32_model_is_saved_in_float32_and_a_file_of_it_in_float64_still_opens(tmp_path):
    model = Transformer(ModelConfig(dtype="float32"), seed=2)
    save(tmp_path / "f32.npz", model, ["the", "cat"])
    assert _member_dtypes(tmp_path / "f32.npz") == {np.dtype(np.float32)}  # the numbers it computes with
    loaded, _ = load(tmp_path / "f32.npz")
    _same_model(model, loaded)
    widened = tmp_path / "widened.npz"  # as files were written before: every parameter as float64
    _rewrite(tmp_path / "f32.npz", widened, lambda name, data: data if name == "__meta__.npy" else
             _npy(np.load(io.BytesIO(data)).astype(np.float64)))
    assert _member_dtypes(widened) == {np.dtype(np.float64)}
    _same_model(model, load(widened)[0])
    tiny = Transformer(ModelConfig(), seed=2)
    save(tmp_path / "f64.npz", tiny, ["the", "cat"])
    assert _member_dtypes(tmp_path / "f64.npz") == {np.dtype(np.float64)}
    _rewrite(tmp_path / "f64.npz", widened, lambda name, data: data if name == "__meta__.npy" else
             _npy(np.load(io.BytesIO(data)).astype(np.float32)))
    with pytest.raises(ModelFileError, match="has type float32, expected float64"):
        load(widened)


def test_a_float32_model_may_be_four_times_as_large_as_a_float64_one(tmp_path, monkeypatch):
    import simulator.io
    model = Transformer(ModelConfig(dtype="float32"), seed=2)
    n = sum(v.size for v in model.params.values())
    save(tmp_path / "f32.npz", model, ["the", "cat"])
    save(tmp_path / "f64.npz", Transformer(ModelConfig(), seed=2), ["the", "cat"])
    monkeypatch.setattr(simulator.io, "MAX_PARAM_ELEMENTS", n - 1)  # as if this size were the float64 limit
    monkeypatch.setattr(simulator.io, "MAX_PARAM_ELEMENTS_FLOAT32", 4 * (n - 1))
    _same_model(model, load(tmp_path / "f32.npz")[0])
    with pytest.raises(ModelFileError, match="far too large to load"):
        load(tmp_path / "f64.npz")


def test_settings_too_large_for_a_file_are_refused_before_writing(tmp_path, monkeypatch):
    import simulator.io
    monkeypatch.setattr(simulator.io, "MAX_META_BYTES", 100)
    model = Transformer(ModelConfig(), seed=1)
    with pytest.raises(ValueError, match="a model file keeps at most 0.0 MB of them. Nothing was written"):
        save(tmp_path / "m.npz", model, ["the", "cat"])
    assert os.listdir(tmp_path) == []
