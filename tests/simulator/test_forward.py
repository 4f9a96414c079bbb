"""The forward pass: cases worked by hand, invariants, agreement with a naive loop-by-loop
implementation for every option, causality, and refused inputs."""
from __future__ import annotations

import importlib.util
import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from simulator import ModelConfig, TokenError, Transformer
from simulator.ops import softmax

_spec = importlib.util.spec_from_file_location("naive", Path(__file__).with_name("naive.py"))
naive = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(naive)


def with_params(cfg: ModelConfig, **values) -> Transformer:
    """A model whose named parameters are set by hand (all others 0)."""
    model = Transformer(cfg)
    params = {name: np.zeros(shape) for name, shape in model.shapes.items()}
    params.update({name.replace("__", "."): np.array(v, dtype=float) for name, v in values.items()})
    return Transformer(cfg, params=params)


# --- worked by hand ---

TINY = ModelConfig(vocab=("a", "b"), n_layers=1, n_heads=1, d_model=2, d_mlp=2, n_ctx=2, positional="none",
                   norm="none", activation="relu")


def test_one_layer_by_hand():
    m = with_params(
        TINY,
        embed__W_E=[[1, 0], [0, 1]],  # "a" -> [1, 0], "b" -> [0, 1]
        blocks__0__attn__W_Q=[np.eye(2)], blocks__0__attn__W_K=[np.eye(2)],
        blocks__0__attn__W_V=[[[2, 0], [0, 4]]], blocks__0__attn__W_O=[np.eye(2)],
        blocks__0__attn__b_O=[1, -1],
        blocks__0__mlp__W_in=[[1, -1], [0, 1]], blocks__0__mlp__b_in=[0, -2],
        blocks__0__mlp__W_out=[[0.5, 0], [0, 1]],
        unembed__W_U=np.eye(2),
    )
    t = m.run("a b")
    # x = W_E[ids]: x0 = [1, 0], x1 = [0, 1]; q = k = x (W_Q = W_K = I); v = x·W_V: v0 = [2, 0], v1 = [0, 4]
    np.testing.assert_array_equal(t["blocks.0.hook_resid_pre"], [[1, 0], [0, 1]])
    np.testing.assert_array_equal(t["blocks.0.attn.hook_v"][:, 0], [[2, 0], [0, 4]])
    # scores = q·kᵀ = [[1, 0], [0, 1]]; scaled = scores / √2 = [[0.70711, 0], [0, 0.70711]]
    np.testing.assert_allclose(t["blocks.0.attn.hook_scores_raw"][0], [[1, 0], [0, 1]])
    np.testing.assert_allclose(t["blocks.0.attn.hook_scores_scaled"][0], [[0.7071068, 0], [0, 0.7071068]], rtol=1e-7)
    # causal mask: query 0 cannot see key 1
    assert t["blocks.0.attn.hook_attn_scores"][0, 0, 1] == -np.inf
    # row 0: softmax([0.70711, −∞]) = [1, 0]
    # row 1: softmax([0, 0.70711]); e^0.70711 = 2.028115, so [1/3.028115, 2.028115/3.028115] = [0.330238, 0.669762]
    np.testing.assert_allclose(t["blocks.0.attn.hook_pattern"][0], [[1, 0], [0.3302385, 0.6697615]], rtol=1e-6)
    # z0 = v0 = [2, 0]; z1 = 0.330238·[2, 0] + 0.669762·[0, 4] = [0.660477, 2.679046]
    np.testing.assert_allclose(t["blocks.0.attn.hook_z"][:, 0], [[2, 0], [0.6604769, 2.6790462]], rtol=1e-6)
    # attn_out = z·I + b_O, b_O = [1, −1]: [[3, −1], [1.660477, 1.679046]]
    np.testing.assert_allclose(t["blocks.0.hook_attn_out"], [[3, -1], [1.6604769, 1.6790462]], rtol=1e-6)
    # resid_mid = x + attn_out: [[4, −1], [1.660477, 2.679046]]
    np.testing.assert_allclose(t["blocks.0.hook_resid_mid"], [[4, -1], [1.6604769, 2.6790462]], rtol=1e-6)
    # pre = resid_mid·W_in + b_in: row 0 = [4·1 + (−1)·0, 4·(−1) + (−1)·1] + [0, −2] = [4, −7]
    #                              row 1 = [1.660477, −1.660477 + 2.679046 − 2] = [1.660477, −0.981431]
    np.testing.assert_allclose(t["blocks.0.mlp.hook_pre"], [[4, -7], [1.6604769, -0.9814307]], rtol=1e-6)
    # ReLU: [[4, 0], [1.660477, 0]]; mlp_out = post·W_out = [[2, 0], [0.830238, 0]]
    np.testing.assert_allclose(t["blocks.0.mlp.hook_post"], [[4, 0], [1.6604769, 0]], rtol=1e-6)
    np.testing.assert_allclose(t["blocks.0.hook_mlp_out"], [[2, 0], [0.8302385, 0]], rtol=1e-6)
    # resid_post = resid_mid + mlp_out = [[6, −1], [2.490715, 2.679046]] = logits (W_U = I, no final norm)
    np.testing.assert_allclose(t["logits"], [[6, -1], [2.4907154, 2.6790462]], rtol=1e-6)
    # probs row 0 = softmax([6, −1]) = [1/(1 + e⁻⁷), e⁻⁷/(1 + e⁻⁷)] = [0.9990889, 0.00091105]
    # probs row 1: the gap is 0.188331, so [1/(1 + e^0.188331), …] = [0.453056, 0.546944]
    np.testing.assert_allclose(t["probs"], [[0.9990889, 0.00091105], [0.4530560, 0.5469440]], rtol=1e-5)


def test_layernorm_and_gelu_by_hand():
    cfg = TINY.replace(d_model=4, d_mlp=4, norm="pre", activation="gelu")
    m = with_params(cfg, embed__W_E=[[1, 2, 3, 4], [0, 0, 0, 0]], blocks__0__ln1__w=[1, 1, 1, 1],
                    blocks__0__mlp__b_in=[1, -1, 0, 2])
    t = m.run("a a")
    # [1, 2, 3, 4]: mean 2.5, biased var (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25;
    # (x − 2.5)/√(1.25 + 1e-5) = [−1.5, −0.5, 0.5, 1.5] × 0.894424 = [−1.341635, −0.447212, 0.447212, 1.341635]
    np.testing.assert_allclose(t["blocks.0.ln1.hook_normalized"][0], [-1.3416354, -0.4472118, 0.4472118, 1.3416354],
                               rtol=1e-7)
    # W_in = 0, so pre = b_in = [1, −1, 0, 2] at every position;
    # GELU(1) = ½(1 + tanh(0.797885·1.044715)) = ½(1 + tanh(0.833562)) = ½(1 + 0.682384) = 0.841192
    # GELU(−1) = −½(1 − 0.682384) = −0.158808; GELU(0) = 0;
    # GELU(2) = ½·2·(1 + tanh(0.797885·(2 + 0.35772))) = 1 + tanh(1.881188) = 1.954598
    np.testing.assert_allclose(t["blocks.0.mlp.hook_post"], [[0.8411920, -0.1588080, 0, 1.9545977]] * 2, rtol=1e-7)


def test_sinusoidal_and_rope_by_hand():
    cfg = TINY.replace(d_model=4, positional="sinusoidal")
    t = Transformer(cfg).run("a b")
    # p = 0: sin 0, cos 0, sin 0, cos 0; p = 1: sin(1), cos(1), sin(1/10000^(2/4)) = sin(0.01), cos(0.01)
    np.testing.assert_allclose(t["hook_pos_embed"], [[0, 1, 0, 1], [0.8414710, 0.5403023, 0.00999983, 0.9999500]],
                               rtol=1e-6)
    # rope, d_head 2: the pair (q0, q1) at position p turns by p·10000^0 = p radians
    m = with_params(TINY.replace(positional="rope"), embed__W_E=[[1, 0], [1, 0]], blocks__0__attn__W_Q=[np.eye(2)])
    rot = m.run("a b")["blocks.0.attn.hook_rot_q"][:, 0]
    # q = [1, 0] at both positions; at p = 1 it becomes [cos 1, sin 1] = [0.540302, 0.841471]
    np.testing.assert_allclose(rot, [[1, 0], [0.5403023, 0.8414710]], rtol=1e-6)


# --- invariants ---

def _attention_steps(trace, leaf):
    return [n for n in trace.names if n.endswith(leaf)]


@pytest.mark.parametrize("cfg", [
    ModelConfig(),
    ModelConfig(attention="window", window=2),
    ModelConfig(arch="encoder", attention="window", window=2),
    ModelConfig(arch="encoder", attention="full"),
], ids=["causal", "window", "encoder-window", "full"])
def test_pattern_rows_sum_to_one_and_masked_cells_are_exactly_zero(cfg):
    t = Transformer(cfg, seed=3).run("the cat sat on the big mat .")
    n = 8
    q, k = np.arange(n)[:, None], np.arange(n)[None, :]
    hidden = {
        "causal": k > q, "full": np.zeros((n, n), bool),
        "window": (k > q) | (q - k >= 2) if cfg.arch == "decoder" else np.abs(q - k) >= 2,
    }[cfg.attention]
    for name in _attention_steps(t, "hook_pattern"):
        pattern = t[name]
        np.testing.assert_allclose(pattern.sum(-1), 1.0, rtol=0, atol=1e-12)
        assert np.all(pattern[:, hidden] == 0.0)
        assert np.all(pattern[:, ~hidden] > 0.0)
        assert np.all(t[name.replace("hook_pattern", "hook_attn_scores")][:, hidden] == -np.inf)


def test_softmax_of_huge_scores_has_no_nan():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -np.inf], [1e4, 1e4, -np.inf]])
    p = softmax(x)
    assert np.all(np.isfinite(p))
    np.testing.assert_array_equal(p, [[1, 0, 0], [0.5, 0.5, 0], [0.5, 0.5, 0]])
    # a model with huge weights: scores reach thousands, and still no NaN anywhere
    t = Transformer(ModelConfig(norm="none", init_scale=30.0), seed=0).run("the cat sat on the mat")
    assert np.abs(t["blocks.1.attn.hook_scores_scaled"]).max() > 1e3
    for name in t.names:
        assert not np.isnan(t[name]).any(), name
    np.testing.assert_allclose(t["probs"].sum(-1), 1.0)


@pytest.mark.parametrize("cfg", [ModelConfig(), ModelConfig(norm="post"), ModelConfig(residual="denseformer"),
                                 ModelConfig(arch="encoder-decoder", n_layers=1)], ids=str)
def test_each_residual_add_is_exactly_the_sum_of_its_inputs(cfg):
    m = Transformer(cfg, seed=2)
    t = m.run(("the cat", "a dog sat") if cfg.arch == "encoder-decoder" else "the cat sat on the mat")
    adds = [s for s in t.steps if s.op == "add"]
    assert len(adds) >= 2 * cfg.n_layers
    for step in adds:
        a, b = (t[i] for i in step.inputs)
        np.testing.assert_array_equal(step.value, a + b)
    for layer in range(cfg.n_layers):
        p = "decoder." if cfg.arch == "encoder-decoder" else ""
        b = f"{p}blocks.{layer}."
        if cfg.norm == "pre" and cfg.arch != "encoder-decoder":
            np.testing.assert_array_equal(t[b + "hook_resid_mid"], t[b + "hook_resid_pre"] + t[b + "hook_attn_out"])
            np.testing.assert_array_equal(t[b + "hook_resid_post"], t[b + "hook_resid_mid"] + t[b + "hook_mlp_out"])


# --- agreement with the naive implementation, every option ---

VOCAB = ("<unk>", "a", "b", "c", "d", "e", "f")


def _configs():
    attentions = {"decoder": ("causal", "window"), "encoder": ("full", "window"),
                  "encoder-decoder": ("causal", "window")}
    for arch, pos, norm, act, res in itertools.product(attentions, ("sinusoidal", "learned", "rope", "none"),
                                                       ("pre", "post", "none"), ("relu", "gelu"),
                                                       ("standard", "none")):
        for att in attentions[arch]:
            yield dict(arch=arch, positional=pos, norm=norm, activation=act, residual=res, attention=att)
    for res, arch, pos, act in itertools.product(("denseformer", "attnres", "block_attnres"), ("decoder", "encoder"),
                                                 ("sinusoidal", "learned", "rope", "none"), ("relu", "gelu")):
        for att in attentions[arch]:
            yield dict(arch=arch, positional=pos, norm="pre", activation=act, residual=res, attention=att)
    for att, arch, pos in itertools.product(("strided", "global", "bigbird", "linear"),
                                            ("decoder", "encoder", "encoder-decoder"),
                                            ("sinusoidal", "rope")):
        yield dict(arch=arch, positional=pos, norm="pre", activation="gelu", residual="standard", attention=att)


CONFIGS = list(_configs())


def random_params(model: Transformer, seed: int) -> dict[str, np.ndarray]:
    """Every parameter random, biases, norm scales and depth weights included.

    Matrices are divided by √fan_in so that even a model without norms or residuals keeps its
    scores moderate: at scores of 1e8 a last-bit difference in a dot product moves softmax by 1e-8.
    """
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in model.shapes.items():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("W_Q", "W_K", "W_V"):
            fan_in = shape[1]  # [head, d_model, d_head]
        elif leaf == "W_O":
            fan_in = shape[0] * shape[1]  # [head, d_head, d_model]
        elif leaf in ("W_in", "W_out", "W_U"):
            fan_in = shape[0]
        else:
            fan_in = 1
        params[name] = rng.standard_normal(shape) * 0.8 * (1.5 / np.sqrt(fan_in))
    return params


def _compare(cfg: ModelConfig, seed: int) -> int:
    m = Transformer(cfg)
    m = Transformer(cfg, params=random_params(m, seed))
    rng = np.random.default_rng(1000 + seed)
    src = [VOCAB[i] for i in rng.integers(0, len(VOCAB), 5)]
    tgt = [VOCAB[i] for i in rng.integers(0, len(VOCAB), 4)]
    temperature = 0.7
    if cfg.arch == "encoder-decoder":
        trace = m.run(src, tgt, temperature=temperature)
        ref = naive.naive_run(cfg, m.params, m.tokenizer.encode(src), temperature, m.tokenizer.encode(tgt))
    else:
        trace = m.run(src, temperature=temperature)
        ref = naive.naive_run(cfg, m.params, m.tokenizer.encode(src), temperature)
    resolved = {trace.graph.aliases.get(n, n) for n in ref}
    assert set(trace.names) <= resolved, f"steps the naive model does not check: {set(trace.names) - resolved}"
    for name, want in ref.items():
        got = trace[name]
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10, err_msg=name)
    return len(ref)


@pytest.mark.parametrize("opts", CONFIGS, ids=lambda o: "-".join(o.values()))
def test_trace_matches_naive_implementation(opts):
    cfg = ModelConfig(vocab=VOCAB, n_layers=2, n_heads=2, d_model=8, d_mlp=12, n_ctx=6, window=2,
                      depth_blocks=3, **opts)
    seed = CONFIGS.index(opts)
    assert _compare(cfg, seed) > 20


@pytest.mark.parametrize("seed", [11, 12, 13])
@pytest.mark.parametrize("opts", [dict(), dict(arch="encoder-decoder", norm="post", positional="rope"),
                                  dict(arch="encoder", attention="window", positional="learned", activation="relu")],
                         ids=["default", "encdec-post-rope", "encoder-window"])
def test_naive_agreement_holds_on_several_seeds_and_shapes(opts, seed):
    cfg = ModelConfig(vocab=VOCAB, n_layers=3, n_heads=4, d_model=8, d_mlp=5, n_ctx=6, window=3, **opts)
    _compare(cfg, seed)


# --- causality ---

def _prefix(value: np.ndarray, name: str, n: int) -> np.ndarray:
    """The part of a step that only positions < n can influence in a causal model."""
    if any(name.endswith(s) for s in ("hook_scores_raw", "hook_scores_scaled", "hook_attn_scores", "hook_pattern")):
        return value[:, :n, :n]  # [head, q_pos, k_pos]
    return value[:n]


@pytest.mark.parametrize("attention", ["causal", "window"])
def test_changing_a_later_token_leaves_earlier_positions_unchanged(attention):
    m = Transformer(ModelConfig(attention=attention, window=2, positional="rope"), seed=4)
    a = m.run("the cat sat on the mat")
    b = m.run("the cat sat on a dog")
    for name in a.names:
        np.testing.assert_array_equal(_prefix(a[name], name, 4), _prefix(b[name], name, 4), err_msg=name)
    assert not np.array_equal(a["logits"][4:], b["logits"][4:])


def test_encoder_decoder_target_is_causal_and_sees_the_whole_source():
    m = Transformer(ModelConfig(arch="encoder-decoder"), seed=5)
    a = m.run("the cat sat", "a dog ran on")
    b = m.run("the cat sat", "a dog ran .")
    dec = [n for n in a.names if n.startswith("decoder.") and "cross_attn.hook_" not in n]
    for name in dec + ["logits", "probs"]:
        np.testing.assert_array_equal(_prefix(a[name], name, 3), _prefix(b[name], name, 3), err_msg=name)
    # changing the last source token moves the first target position (cross-attention has no mask)
    c = m.run("the cat ran", "a dog ran on")
    assert not np.array_equal(a["logits"][0], c["logits"][0])


def test_an_encoder_sees_later_tokens():
    m = Transformer(ModelConfig(arch="encoder", attention="full"), seed=4)
    a, b = m.run("the cat sat on the mat"), m.run("the cat sat on a dog")
    assert not np.array_equal(a["logits"][0], b["logits"][0])


# --- bad input changes nothing ---

def _snapshot(model: Transformer) -> dict[str, np.ndarray]:
    return {name: v.copy() for name, v in model.params.items()}


def _unchanged(model: Transformer, before: dict[str, np.ndarray]) -> None:
    assert set(model.params) == set(before)
    for name, v in before.items():
        np.testing.assert_array_equal(model.params[name], v, err_msg=name)


def test_unknown_tokens_are_named_in_the_error():
    m = Transformer(ModelConfig(vocab=("the", "cat", "sat")))
    with pytest.raises(TokenError, match=r"'dog'.*'mat'") as err:
        m.run("the dog sat on mat")
    assert err.value.unknown == ["dog", "on", "mat"]
    assert "on" in str(err.value)


def test_unknown_tokens_map_to_unk_when_the_vocab_has_it():
    m = Transformer(ModelConfig())
    t = m.run("the zebra sat")
    assert t.tokens == ["the", "<unk>", "sat"]
    assert t.input("input_ids").tolist() == [1, 0, 5]


@pytest.mark.parametrize("bad, match", [
    ("the cat sat on the mat and the dog", "9 tokens.*n_ctx = 8"),
    ("", "empty"),
    (["the", 3], "strings"),
])
def test_bad_inputs_are_refused_and_change_nothing(bad, match):
    m = Transformer(ModelConfig(), seed=1)
    before = _snapshot(m)
    with pytest.raises(TokenError, match=match):
        m.run(bad)
    _unchanged(m, before)


def test_bad_temperature_and_missing_target_are_refused():
    m = Transformer(ModelConfig())
    for t in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            m.run("the cat", temperature=t)
    with pytest.raises(TokenError, match="source, target"):
        Transformer(ModelConfig(arch="encoder-decoder")).run("the cat")


def test_temperature_flattens_and_sharpens_the_probabilities():
    m = Transformer(ModelConfig(), seed=1)
    logits = m.run("the cat").step("logits").value
    for temp in (0.5, 1.0, 3.0):
        probs = m.run("the cat", temperature=temp)["probs"]
        want = np.exp(logits / temp) / np.exp(logits / temp).sum(-1, keepdims=True)
        np.testing.assert_allclose(probs, want, rtol=1e-12)
    assert m.run("the cat", temperature=3.0)["probs"].max() < m.run("the cat", temperature=0.5)["probs"].max()


@pytest.mark.parametrize("call, exc, match", [
    (("blocks.9.attn.W_Q", 1.0, (0, 0, 0)), KeyError, "No parameter called"),
    (("blocks.0.attn.W_Q", np.zeros((2, 16, 7))), ValueError, r"shape \[2, 16, 8\]"),
    (("embed.W_E", np.full((13, 16), np.nan)), ValueError, "finite"),
    (("embed.W_E", np.inf, (0, 0)), ValueError, "finite"),
    (("embed.W_E", np.nan, (0, 0)), ValueError, "finite"),
    (("embed.W_E", 1.0, (13, 0)), ValueError, "outside"),
    (("embed.W_E", 1.0, (0, -1)), ValueError, "outside"),
    (("embed.W_E", 1.0, (0,)), ValueError, "outside"),
    (("embed.W_E", 1.0, (0, 1.5)), ValueError, "outside"),
    (("embed.W_E", 1.0, (0, True)), ValueError, "outside"),
    (("embed.W_E", "abc", (0, 0)), ValueError, "number"),
    (("unembed.b_U", "abc"), ValueError, "numbers"),
])
def test_set_param_refuses_bad_values_and_changes_nothing(call, exc, match):
    m = Transformer(ModelConfig(), seed=1)
    before = _snapshot(m)
    trace = m.run("the cat sat")
    with pytest.raises(exc, match=match):
        m.set_param(*call)
    _unchanged(m, before)
    np.testing.assert_array_equal(m.run("the cat sat")["probs"], trace["probs"])


def test_set_param_sets_one_cell_or_a_whole_array_and_returns_the_old_one():
    m = Transformer(ModelConfig(), seed=1)
    old_ref = m.params["embed.W_E"]
    old = m.set_param("embed.W_E", 2.5, index=(3, 4))
    assert old is old_ref and old[3, 4] != 2.5
    new = m.params["embed.W_E"]
    assert new[3, 4] == 2.5
    changed = new != old
    assert changed.sum() == 1 and changed[3, 4]
    m.set_param("unembed.b_U", np.arange(13.0))
    np.testing.assert_array_equal(m.params["unembed.b_U"], np.arange(13.0))
    with pytest.raises(ValueError):  # the stored arrays are read-only: edits go through set_param
        m.params["unembed.b_U"][0] = 1.0
    with pytest.raises(TypeError):
        m.params["unembed.b_U"] = np.zeros(13)


def test_replace_params_checks_everything_before_storing_anything():
    m = Transformer(ModelConfig(), seed=1)
    before = _snapshot(m)
    params = {name: v + 1 for name, v in m.params.items()}
    params["unembed.b_U"] = np.full(13, np.nan)  # the last one is bad
    with pytest.raises(ValueError, match="finite"):
        m.replace_params(params)
    _unchanged(m, before)
    with pytest.raises(ValueError, match="missing embed.W_E"):
        m.replace_params({k: v for k, v in before.items() if k != "embed.W_E"})
    _unchanged(m, before)


def test_seeds_are_reproducible_and_copy_is_independent():
    a, b, c = Transformer(seed=7), Transformer(seed=7), Transformer(seed=8)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert not np.array_equal(a.params["embed.W_E"], c.params["embed.W_E"])
    d = a.copy()
    d.set_param("embed.W_E", 9.0, (0, 0))
    assert a.params["embed.W_E"][0, 0] != 9.0
    a.randomize(8)
    np.testing.assert_array_equal(a.params["embed.W_E"], c.params["embed.W_E"])


def test_parameter_and_step_shapes_follow_the_config():
    cfg = ModelConfig(n_heads=4, d_model=16, d_mlp=24, positional="learned")
    m = Transformer(cfg)
    assert m.shapes["blocks.1.attn.W_Q"] == (4, 16, 4)
    assert m.shapes["blocks.1.attn.W_O"] == (4, 4, 16)
    assert m.shapes["pos_embed.W_pos"] == (8, 16)
    assert m.shapes["unembed.W_U"] == (16, 13)
    t = m.run("the cat sat on the mat")
    assert t["blocks.0.attn.hook_q"].shape == (6, 4, 4)  # [pos, head, d_head]
    assert t["blocks.0.attn.hook_pattern"].shape == (4, 6, 6)  # [head, q_pos, k_pos]
    assert t["blocks.0.attn.hook_concat"].shape == (6, 16)
    assert t["blocks.0.mlp.hook_pre"].shape == (6, 24)
    assert t["probs"].shape == (6, 13)
    assert math.isclose(t["probs"].sum(), 6.0)
