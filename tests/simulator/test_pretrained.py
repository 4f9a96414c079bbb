"""Opening GPT-2 and BERT checkpoint folders: every layer against numpy written from the papers,
the tokenizers, the other file layouts, and hostile or damaged folders refused cleanly."""
import importlib.util
import json
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("safetensors", reason="the checkpoints extra (safetensors) is not installed")
pytest.importorskip("tokenizers", reason="the checkpoints extra (tokenizers) is not installed")

import simulator  # noqa: E402
from simulator import budget, pretrained  # noqa: E402
from simulator.pretrained import CheckpointError, load_pretrained  # noqa: E402

_spec = importlib.util.spec_from_file_location("checkpoints", Path(__file__).with_name("checkpoints.py"))
ck = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ck)

TEXT = "The small cat sat on the mat, and the dog ran."
TOL = {"float64": 1e-12, "float32": 1e-6}


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpt2")
    return folder, ck.write_gpt2(folder)


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bert")
    return folder, ck.write_bert(folder)


def ids_of(model, tokens):
    return [model.tokenizer.ids[t] for t in tokens]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gpt2_matches_numpy_layer_by_layer(gpt2_dir, dtype):
    folder, weights = gpt2_dir
    model = load_pretrained(folder, dtype=dtype)
    cfg = model.config
    assert (cfg.arch, cfg.norm, cfg.positional, cfg.activation, cfg.tied_unembed, cfg.dtype) == \
        ("decoder", "pre", "learned", "gelu", True, dtype)
    toks = model.tokenize(TEXT)
    assert "".join(toks).replace("Ġ", " ") == TEXT  # byte-level BPE: the pieces spell the text
    trace = model.run(TEXT)
    assert trace.tokens == toks
    ref_dtype = np.float32 if dtype == "float32" else np.float64
    hidden, final, logits = ck.gpt2_forward(weights, ids_of(model, toks), cfg.n_heads, dtype=ref_dtype)
    names = ["blocks.0.hook_resid_pre"] + [f"blocks.{i}.hook_resid_post" for i in range(cfg.n_layers)]
    for name, ref in zip(names, hidden, strict=True):
        assert trace[name].dtype == dtype
        assert ck.rel(trace[name], ref) <= TOL[dtype], name
    assert ck.rel(trace["ln_final.hook_normalized"], final) <= TOL[dtype]
    assert ck.rel(trace["logits"], logits) <= TOL[dtype]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bert_with_mlm_head_matches_numpy_layer_by_layer(bert_dir, dtype):
    folder, weights = bert_dir
    model = load_pretrained(folder, dtype=dtype)
    cfg = model.config
    assert (cfg.arch, cfg.norm, cfg.embed_norm, cfg.n_token_types, cfg.activation, cfg.head, cfg.norm_eps) == \
        ("encoder", "post", True, 2, "gelu_exact", "mlm", 1e-12)
    toks = model.tokenize(TEXT)
    assert toks[0] == "[CLS]" and toks[-1] == "[SEP]" and "cat" in toks
    trace = model.run(TEXT)
    ref_dtype = np.float32 if dtype == "float32" else np.float64
    hidden, logits = ck.bert_forward(weights, ids_of(model, toks), np.zeros(len(toks), int), cfg.n_heads,
                                     dtype=ref_dtype)
    names = ["blocks.0.hook_resid_pre"] + [f"blocks.{i}.hook_resid_post" for i in range(cfg.n_layers)]
    for name, ref in zip(names, hidden, strict=True):
        assert ck.rel(trace[name], ref) <= TOL[dtype], name
    assert ck.rel(trace["logits"], logits) <= TOL[dtype]


def test_bert_without_head_ends_at_the_hidden_states_and_reads_sentence_pairs(tmp_path):
    weights = ck.write_bert(tmp_path, mlm=False, prefix="bert.")  # BertModel saved under a prefix
    model = load_pretrained(tmp_path, dtype="float64")
    assert model.config.head == "none" and "logits" not in model.graph.index
    toks = model.tokenize(TEXT)[:-1] + ["[SEP]"] + model.tokenize("hello world")[1:]  # [CLS] A [SEP] B [SEP]
    trace = model.run(toks)
    types = trace.input("token_type_ids")
    assert types[0] == 0 and types[-1] == 1
    hidden, _ = ck.bert_forward({k.removeprefix("bert."): v for k, v in weights.items()}, ids_of(model, toks),
                                types, model.config.n_heads)
    assert ck.rel(trace[model.graph.output], hidden[-1]) <= 1e-12


def test_gpt2_from_vocab_and_merges_and_sharded_weights(tmp_path, gpt2_dir):
    src, weights = gpt2_dir
    from safetensors.numpy import save_file
    names = sorted(weights)
    half = len(names) // 2
    weight_map = {}
    for shard, part in (("model-00001-of-00002.safetensors", names[:half]),
                        ("model-00002-of-00002.safetensors", names[half:])):
        save_file({n: weights[n] for n in part}, str(tmp_path / shard))
        weight_map |= {n: shard for n in part}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (tmp_path / "config.json").write_text((src / "config.json").read_text())
    ck.gpt2_tokenizer().model.save(str(tmp_path))  # vocab.json + merges.txt, GPT-2's original files
    assert (tmp_path / "vocab.json").exists() and (tmp_path / "merges.txt").exists()
    model = load_pretrained(tmp_path, dtype="float64")
    reference = load_pretrained(src, dtype="float64")
    assert model.tokenize(TEXT) == reference.tokenize(TEXT)
    assert np.array_equal(model.run(TEXT)["logits"], reference.run(TEXT)["logits"])


def test_bert_from_vocab_txt(tmp_path, bert_dir):
    src, _ = bert_dir
    for name in ("config.json", "model.safetensors"):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    ck.bert_tokenizer().model.save(str(tmp_path))  # vocab.txt
    model = load_pretrained(tmp_path)
    assert model.tokenize(TEXT) == load_pretrained(src).tokenize(TEXT)


def test_unused_embedding_rows_get_names_and_the_model_still_runs(tmp_path):
    ck.write_gpt2(tmp_path, extra_vocab=3)
    model = load_pretrained(tmp_path)
    assert model.config.vocab[-1].startswith("<unused") and len(set(model.config.vocab)) == model.config.d_vocab
    assert model.run("the cat")["logits"].shape[1] == model.config.d_vocab


def test_exported_from_the_package_and_edits_work(gpt2_dir):
    folder, _ = gpt2_dir
    model = simulator.load_pretrained(folder)
    before = model.run(TEXT)
    assert model.copy().tokenize(TEXT) == model.tokenize(TEXT)  # the copy keeps the checkpoint's tokenizer
    model.set_param("blocks.0.attn.W_Q", np.zeros_like(model.params["blocks.0.attn.W_Q"]))
    after, changes = model.rerun(before, params=["blocks.0.attn.W_Q"])
    assert not np.array_equal(after["logits"], before["logits"])
    assert after["hook_embed"] is before["hook_embed"]  # unchanged steps keep their very array


# --- bfloat16 weights, widened exactly to float32 ---

def test_every_bfloat16_pattern_widens_to_the_float32_with_the_same_top_bits(tmp_path):
    bits = np.arange(1 << 16, dtype=np.uint16)  # all 65,536: zeros, subnormals, normals, ±inf, NaNs
    path = tmp_path / "all.safetensors"
    ck.save_safetensors({"x": ("BF16", (256, 256), bits.astype("<u2").tobytes())}, path)
    widened = pretrained._read_bfloat16(pretrained.read_header(path)["x"])
    assert widened.dtype == np.float32 and widened.shape == (256, 256)
    assert np.array_equal(widened.view(np.uint32).ravel(), ck.from_bfloat16(bits).view(np.uint32))
    assert widened.ravel()[0x3F80] == 1.0 and widened.ravel()[0xC020] == -2.5  # two values known by heart


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("keep", [(), ("wte.weight", "h.1.mlp.c_fc.bias")])  # all BF16, or mixed with F32
def test_a_bfloat16_checkpoint_gives_the_logits_of_the_same_weights_in_float32(tmp_path, gpt2_dir, dtype, keep):
    from safetensors.numpy import save_file
    src, weights = gpt2_dir
    rounded = {k: ck.from_bfloat16(ck.to_bfloat16(w)) for k, w in weights.items()}  # exactly representable
    assert any(not np.array_equal(rounded[k], weights[k]) for k in weights)  # the rounding did something
    f32 = copy_folder(src, tmp_path / "f32")
    save_file(rounded, str(f32 / "model.safetensors"))
    bf16 = copy_folder(src, tmp_path / "bf16")
    ck.save_bfloat16(weights, bf16 / "model.safetensors", keep=keep)
    stored = {t.dtype for t in pretrained.weight_files(bf16).values()}
    assert stored == ({"BF16", "F32"} if keep else {"BF16"})
    a, opened = load_pretrained(f32, dtype=dtype), pretrained.open_pretrained(bf16, dtype=dtype)
    b = opened.model
    assert opened.stored == ({"bfloat16", "float32"} if keep else {"bfloat16"})  # what the loader says it read
    assert pretrained.open_pretrained(f32).stored == {"float32"}
    if keep:  # the F32 tensors were not rounded in the mixed file
        a.set_param("embed.W_E", weights["wte.weight"])
        a.set_param("blocks.1.mlp.b_in", weights["h.1.mlp.c_fc.bias"])
    for name in a.params:
        assert b.params[name].dtype == dtype and np.array_equal(a.params[name], b.params[name]), name
    assert np.array_equal(a.run(TEXT)["logits"], b.run(TEXT)["logits"])


def test_a_bfloat16_nan_is_refused(tmp_path, gpt2_dir):
    folder = copy_folder(gpt2_dir[0], tmp_path / "ck")
    weights = dict(gpt2_dir[1])
    weights["h.0.attn.c_proj.bias"] = np.full_like(weights["h.0.attn.c_proj.bias"], np.nan)
    ck.save_bfloat16(weights, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="finite"):
        load_pretrained(folder)


# --- refused cleanly ---

def copy_folder(src: Path, dst: Path) -> Path:
    dst.mkdir(exist_ok=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def rewrite_header(path: Path, change) -> None:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    change(header)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n:])


@pytest.mark.parametrize("damage, words", [
    (lambda h: h["wte.weight"].update(shape=[10 ** 9, 10 ** 9]), "takes"),  # a huge tensor
    (lambda h: h["wte.weight"].update(data_offsets=[0, 10 ** 15]), "truncated"),
    (lambda h: h["wpe.weight"].update(dtype="F64"), "takes"),  # dtype and byte range disagree
    (lambda h: h["wpe.weight"].update(dtype="BF16"), "takes"),  # half the bytes its range holds
    (lambda h: h.pop("h.1.mlp.c_fc.bias"), "no tensor h.1.mlp.c_fc.bias"),
    (lambda h: h["ln_f.bias"].update(dtype="I32"), "stored as I32"),
    (lambda h: h["ln_f.bias"].update(shape=[2, 8]), "config.json implies"),
    (lambda h: h.update(junk=[1, 2]), "not a tensor description"),
])
def test_hostile_headers_are_refused_before_reading(tmp_path, gpt2_dir, monkeypatch, damage, words):
    folder = copy_folder(gpt2_dir[0], tmp_path / "ck")
    rewrite_header(folder / "model.safetensors", damage)
    monkeypatch.setattr(pretrained, "_read_weights", lambda *a: pytest.fail("weights read despite a bad header"))
    with pytest.raises(CheckpointError, match=words):
        load_pretrained(folder)


def test_truncated_and_tiny_files_are_refused(tmp_path, gpt2_dir):
    folder = copy_folder(gpt2_dir[0], tmp_path / "ck")
    path = folder / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    with pytest.raises(CheckpointError, match="truncated"):
        load_pretrained(folder)
    path.write_bytes(data[:5])
    with pytest.raises(CheckpointError, match="too short"):
        load_pretrained(folder)
    path.write_bytes(struct.pack("<Q", 10 ** 12) + b"{}")
    with pytest.raises(CheckpointError, match="claims"):
        load_pretrained(folder)


def _panicking_template(path: Path) -> str:
    """tokenizer.json with a post-processor naming a special token it lacks: the library panics on encoding."""
    tok = json.loads(path.read_text())
    single = [{"SpecialToken": {"id": "[NOPE]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]
    tok["post_processor"] = {"type": "TemplateProcessing", "single": single, "pair": single, "special_tokens": {}}
    return json.dumps(tok)


@pytest.mark.parametrize("text, words", [
    ("this is not JSON {", "not valid JSON"),
    ('{"version": "1.0", "model": 3}', "tokenizers library"),
    (_panicking_template, "fails on a plain sentence"),
])
def test_a_bad_tokenizer_file_is_refused(tmp_path, gpt2_dir, text, words):
    folder = copy_folder(gpt2_dir[0], tmp_path / "ck")
    (folder / "tokenizer.json").write_text(text if isinstance(text, str) else text(folder / "tokenizer.json"))
    with pytest.raises(CheckpointError, match=words):
        load_pretrained(folder)


def test_a_tokenizer_that_panics_on_some_text_is_a_token_error(gpt2_dir):
    model = load_pretrained(gpt2_dir[0])
    bad = type(model.tokenizer.hf).from_str(_panicking_template(gpt2_dir[0] / "tokenizer.json"))
    model.tokenizer.hf = bad  # as if it failed only on some text the probe did not meet
    with pytest.raises(simulator.TokenError, match="tokenizer failed on this text"):
        model.tokenize("Hello")


@pytest.mark.parametrize("change, words", [
    ({"model_type": "llama"}, "'llama' is not supported; Stepformer opens gpt2 and bert"),
    ({"n_head": 0}, "n_head must be a whole number"),
    ({"n_embd": "big"}, "n_embd must be a whole number"),
    ({"n_embd": 15}, "divisible"),
    ({"n_layer": True}, "n_layer must be a whole number"),
    ({"layer_norm_epsilon": -1}, "layer_norm_epsilon must be a number"),
    ({"activation_function": "swish"}, "activation_function must be one of"),
    ({"vocab_size": 10}, r"config.json implies \[10, 16\]"),
    ({"n_positions": 10 ** 20}, "n_positions must be a whole number"),
    ({"n_positions": 10 ** 40}, "41 digits"),
])
def test_odd_config_values_are_refused(tmp_path, gpt2_dir, change, words):
    folder = copy_folder(gpt2_dir[0], tmp_path / "ck")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | change))
    with pytest.raises(CheckpointError, match=words):
        load_pretrained(folder)


def test_missing_files_are_named(tmp_path, gpt2_dir):
    folder = copy_folder(gpt2_dir[0], tmp_path / "ck")
    (folder / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match="no tokenizer"):
        load_pretrained(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        load_pretrained(folder)
    with pytest.raises(CheckpointError, match="not a folder"):
        load_pretrained(folder / "config.json")
    with pytest.raises(CheckpointError, match="no config.json"):
        load_pretrained(tmp_path)


def test_a_shard_outside_the_folder_is_refused(tmp_path, gpt2_dir):
    folder = copy_folder(gpt2_dir[0], tmp_path / "ck")
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"wte.weight": "../x.safetensors"}}))
    with pytest.raises(CheckpointError, match="same folder"):
        load_pretrained(folder)


def test_the_memory_budget_is_applied_before_the_weights_are_read(gpt2_dir, monkeypatch):
    monkeypatch.setattr(budget, "MEMORY_BYTES", 10_000)
    monkeypatch.setattr(pretrained, "_read_weights", lambda *a: pytest.fail("weights read beyond the budget"))
    with pytest.raises(budget.BudgetError, match="weights would take"):
        load_pretrained(gpt2_dir[0])


def test_non_finite_weights_are_refused(tmp_path, gpt2_dir):
    from safetensors.numpy import save_file
    folder = copy_folder(gpt2_dir[0], tmp_path / "ck")
    weights = dict(gpt2_dir[1])
    weights["h.0.attn.c_attn.bias"] = np.full_like(weights["h.0.attn.c_attn.bias"], np.nan)
    save_file(weights, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match="finite"):
        load_pretrained(folder)


def test_without_the_extra_the_message_says_what_to_install(gpt2_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)  # `import safetensors` now raises ImportError
    with pytest.raises(CheckpointError, match=r"stepformer\[checkpoints\]"):
        load_pretrained(gpt2_dir[0])


def test_random_damage_is_always_a_checkpoint_error(tmp_path, gpt2_dir):
    """Bytes of the safetensors file overwritten or cut at random: opened, or refused with a CheckpointError,
    never another exception."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    original = (gpt2_dir[0] / "model.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", original[:8])
    folder = copy_folder(gpt2_dir[0], tmp_path / "ck")

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.integers(0, 8 + n + 64), st.integers(0, 255)), max_size=4),
           st.integers(0, len(original)))
    def check(changes, cut):
        data = bytearray(original[:max(cut, 8 + n + 64)])
        for at, value in changes:
            if at < len(data):
                data[at] = value
        (folder / "model.safetensors").write_bytes(bytes(data))
        try:
            load_pretrained(folder)
        except CheckpointError:
            pass

    check()


def test_a_pipe_in_place_of_a_file_is_refused_without_blocking(tmp_path, gpt2_dir):
    folder = copy_folder(gpt2_dir[0], tmp_path / "ck")
    (folder / "model.safetensors").unlink()
    os.mkfifo(folder / "model.safetensors")  # reading it would wait for a writer forever
    with pytest.raises(CheckpointError, match="not an ordinary file"):
        load_pretrained(folder)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_kv_cache_of_a_gpt2_checkpoint_matches_a_rerun_bit_for_bit(gpt2_dir, dtype):
    model = load_pretrained(gpt2_dir[0], dtype=dtype)
    toks = model.tokenize(TEXT)
    trace = model.run(toks[:-3])
    for n in range(len(toks) - 2, len(toks) + 1):  # three appended tokens, one at a time
        trace, _ = model.rerun(trace, tokens=toks[:n])
        full = model.run(toks[:n])
        for name in full.names:
            assert trace[name].dtype == full[name].dtype == dtype, name
            assert np.array_equal(trace[name], full[name]), name


def test_tensors_the_model_does_not_read_may_have_other_dtypes(tmp_path, gpt2_dir):
    from safetensors.numpy import save_file
    folder = copy_folder(gpt2_dir[0], tmp_path / "ck")
    extra = {"h.0.attn.bias": np.tril(np.ones((1, 1, 4, 4), bool)), "quant.zero": np.arange(3, dtype=np.int8)}
    save_file({**gpt2_dir[1], **extra}, str(folder / "model.safetensors"))  # GPT-2's old mask buffer, and more
    model = load_pretrained(folder)
    assert np.array_equal(model.run(TEXT)["logits"], load_pretrained(gpt2_dir[0]).run(TEXT)["logits"])
