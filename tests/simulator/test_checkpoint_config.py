"""The configuration fields real checkpoints need (GPT-2, BERT) and float32 computing.

The forward passes of both families are compared with numpy written from the papers in
`tests/simulator/test_pretrained.py`; here: validation, float32 against float64, the budget in bytes.
"""
import math

import numpy as np
import pytest

from simulator import ModelConfig, Transformer, budget
from simulator.ops import gelu_exact, gelu_exact_slope
from simulator.params import check_size

BERT_LIKE = dict(arch="encoder", attention="full", positional="learned", norm="post", embed_norm=True,
                 n_token_types=2, activation="gelu_exact", tied_unembed=True, head="mlm", norm_eps=1e-12)
GPT2_LIKE = dict(positional="learned", tied_unembed=True)


@pytest.mark.parametrize("kw, words", [
    (dict(dtype="float16"), "dtype must be one of float64, float32"),
    (dict(head="mlm"), "for an encoder"),
    (dict(arch="encoder", attention="full", head="none", tied_unembed=True), "no read-out"),
    (dict(n_token_types=-1), "between 0 and 16"),
    (dict(n_token_types=2, arch="encoder-decoder"), "decoder or encoder"),
    (dict(embed_norm=1), "true or false"),
    (dict(tied_unembed=True, arch="encoder-decoder"), "one vocabulary"),
    (dict(activation="erf"), "relu, gelu, gelu_exact"),
])
def test_bad_checkpoint_fields_are_explained(kw, words):
    with pytest.raises(ValueError, match=words):
        ModelConfig(**kw)


def test_new_fields_round_trip_through_json():
    cfg = ModelConfig(**BERT_LIKE, dtype="float32")
    assert ModelConfig.from_json(cfg.to_json()) == cfg


def test_exact_gelu_is_x_times_the_normal_cdf():
    x = np.linspace(-6, 6, 121)
    expected = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(gelu_exact(x), expected, rtol=1e-12, atol=1e-300)
    h = 1e-5  # and its slope against a central difference
    np.testing.assert_allclose(gelu_exact_slope(x), (gelu_exact(x + h) - gelu_exact(x - h)) / (2 * h), atol=1e-9)
    assert gelu_exact(x.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("kw", [GPT2_LIKE, BERT_LIKE, dict(), dict(positional="rope", attention="window"),
                                dict(attention="linear"), dict(residual="attnres"), dict(residual="denseformer"),
                                dict(arch="encoder-decoder", attention="causal", norm="post"),
                                dict(arch="vit", attention="full", positional="learned")])
def test_float32_model_computes_in_float32_and_agrees_with_float64(kw):
    m64 = Transformer(ModelConfig(**kw), seed=3)
    m32 = Transformer(ModelConfig(**kw, dtype="float32"), params=m64.params)
    x = ("the cat sat", "a dog ran") if kw.get("arch") == "encoder-decoder" else \
        np.arange(64.0).reshape(8, 8) % 17 if kw.get("arch") == "vit" else "the cat sat on the mat"
    t64, t32 = m64.run(x), m32.run(x)
    assert all(v.dtype == np.float32 for v in m32.params.values())
    for name in t64.names:
        assert t32[name].dtype == np.float32, name
        a, b = t32[name].astype(np.float64), t64[name]
        finite = np.isfinite(b)
        assert np.array_equal(finite, np.isfinite(a)), name
        assert np.linalg.norm(a[finite] - b[finite]) <= 1e-5 * max(np.linalg.norm(b[finite]), 1e-30), name


def test_tied_read_out_is_the_embedding_transposed():
    model = Transformer(ModelConfig(**GPT2_LIKE), seed=1)
    assert "unembed.W_U" not in model.params
    trace = model.run("the cat sat")
    x = trace["ln_final.hook_normalized"]
    np.testing.assert_allclose(trace["logits"], x @ model.params["embed.W_E"].T + model.params["unembed.b_U"],
                               rtol=1e-12, atol=1e-12)
    model.set_param("embed.W_E", 2.0 * model.params["embed.W_E"])  # an edit of W_E changes the read-out too
    assert not np.allclose(model.run("the cat sat")["logits"], trace["logits"])


def test_token_types_switch_after_the_first_sep():
    cfg = ModelConfig(vocab=("[CLS]", "[SEP]", "a", "b"), **{**BERT_LIKE, "head": "none", "tied_unembed": False})
    model = Transformer(cfg, seed=0)
    trace = model.run(["[CLS]", "a", "[SEP]", "b", "[SEP]"])
    assert trace.input("token_type_ids").tolist() == [0, 0, 0, 1, 1]
    w_type = model.params["token_type_embed.W_type"]
    np.testing.assert_array_equal(trace["hook_token_type_embed"], w_type[[0, 0, 0, 1, 1]])


def test_no_head_ends_at_the_final_hidden_states():
    cfg = ModelConfig(**{**BERT_LIKE, "head": "none", "tied_unembed": False})
    model = Transformer(cfg, seed=0)
    trace = model.run("the cat")
    assert "logits" not in trace.names and "probs" not in trace.names
    assert model.graph.output == model.graph.nodes[-1].name == "blocks.1.ln2.hook_normalized"
    with pytest.raises(ValueError, match="no read-out"):
        model.loss_and_grads("the cat", "cat sat")


def test_budget_counts_four_bytes_a_number_in_float32():
    cfg64 = ModelConfig(**GPT2_LIKE)
    cfg32 = cfg64.replace(dtype="float32")
    assert budget.weight_bytes(cfg64) == 2 * budget.weight_bytes(cfg32)
    e64, e32 = budget.estimate(cfg64, 5), budget.estimate(cfg32, 5)
    assert e64.trace == 2 * e32.trace and e64.largest == 2 * e32.largest


def test_float32_allows_a_gpt2_sized_model_that_float64_refuses():
    # GPT-2 small's shape: 124 M weights (checked from the shapes alone: nothing is allocated)
    gpt2 = ModelConfig(vocab=tuple(f"t{i}" for i in range(50257)), n_layers=12, n_heads=12, d_model=768,
                       d_mlp=3072, n_ctx=1024, positional="learned", tied_unembed=True)
    with pytest.raises(ValueError, match="compute in float32"):
        check_size(gpt2)
    check_size(gpt2.replace(dtype="float32"))
    budget.check_model(gpt2.replace(dtype="float32"))


@pytest.mark.parametrize("kw", [dict(), BERT_LIKE, dict(arch="encoder-decoder", attention="causal"),
                                dict(arch="vit", attention="full", positional="learned")])
def test_without_biases_the_linear_layers_are_products_alone(kw):
    with_b = Transformer(ModelConfig(**kw), seed=2)
    without = Transformer(ModelConfig(**kw, bias=False), seed=2)
    removed = set(with_b.params) - set(without.params)
    assert removed and all(n.rsplit(".", 1)[-1].startswith("b_") for n in removed)
    # with every bias zero, the model with biases computes exactly what the one without does
    zeroed = {n: (np.zeros_like(v) if n in removed else v) for n, v in with_b.params.items()}
    with_b.replace_params(zeroed)
    without.replace_params({n: zeroed[n] for n in without.params})
    x = np.zeros((8, 8)) if kw.get("arch") == "vit" else ("the cat sat", "a dog") if kw.get("arch") == \
        "encoder-decoder" else "the cat sat"
    t1, t2 = (with_b.run(*x) if isinstance(x, tuple) else with_b.run(x)), \
        (without.run(*x) if isinstance(x, tuple) else without.run(x))
    for name in t1.names:
        np.testing.assert_allclose(t2[name], t1[name], rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("kw, step, index, words", [
    (dict(bias=False), "blocks.0.attn.hook_q", (1, 0, 2), "+ b"),
    (dict(bias=False), "blocks.0.hook_mlp_out", (1, 3), "+ b"),
    (BERT_LIKE, "blocks.0.mlp.hook_post", (1, 3), "erf"),
    (GPT2_LIKE, "logits", (1, 3), "W_Eᵀ"),
])
def test_the_new_steps_write_out_their_calculation(kw, step, index, words):
    from simulator.explain import explain, fmt
    model = Transformer(ModelConfig(**kw), seed=0)
    trace = model.run("the cat sat")
    text = explain(model.graph.node(step), trace._values, model.params, index)
    value = float(trace[step][index])
    assert text.endswith(f"= {fmt(value)}")
    assert (words in text) != (words == "+ b")  # no bias term where there is no bias


def test_gradient_formulas_of_the_tied_read_out_and_of_bias_free_layers():
    from simulator.gradient_flow import _formula
    tied = Transformer(ModelConfig(**GPT2_LIKE), seed=0).graph
    assert "· W_E;" in _formula(tied.node("logits")) and "W_Eᵀ" not in _formula(tied.node("logits"))
    plain = Transformer(ModelConfig(bias=False), seed=0).graph
    for step in ("blocks.0.attn.hook_q", "blocks.0.hook_mlp_out"):
        assert "p1" not in _formula(plain.node(step)) and "Σ_pos" not in _formula(plain.node(step))
