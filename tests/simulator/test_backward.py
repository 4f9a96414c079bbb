"""The hand-written backward pass against finite differences, for every config option.

Each check perturbs every element of every parameter and every activation of a tiny model
(d_model 4, 2 heads, d_mlp 8, 3–4 tokens) and compares the change in the loss with the
analytic gradient. The differences use the fourth-order central stencil so that float64
round-off, not truncation, limits them.
"""
import numpy as np
import pytest

import simulator.backward
from simulator import ModelConfig, Transformer
from simulator.backward import (
    BACKWARD,
    batch_loss_and_grads,
    cross_entropy,
    forward_values,
    loss_and_grads,
    make_dropout_masks,
    prepare,
)
from simulator.gradient_flow import backward_steps, compare_gradient_flow, gradient_flow
from simulator.ops import FORWARD

VOCAB = ("a", "b", "c", "d", "e")
STEP = 1e-3
TOL = 1e-6
FLOOR = 1e-5  # gradients smaller than this are compared in absolute terms (round-off is ~1e-12)


def tiny(seed: int, n_layers: int = 2, **kw) -> Transformer:
    """A tiny model with every weight (biases, norms, α, w included) randomised away from its init."""
    cfg = ModelConfig(vocab=VOCAB, n_layers=n_layers, d_model=4, n_heads=2, d_mlp=8, n_ctx=4, **kw)
    model = Transformer(cfg, seed=seed)
    rng = np.random.default_rng(seed + 100)
    model.replace_params({n: v + 0.5 * rng.standard_normal(v.shape) for n, v in model.params.items()})
    return model


def sample(model: Transformer):
    if model.config.arch == "encoder-decoder":
        return (["a", "b", "c"], ["d", "e", "a", "b"]), ["e", "a", "b", "c"]
    return ["a", "b", "c", "a"], ["b", "c", "a", "d"]


def rel_err(fd: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.abs(fd - g) / np.maximum(np.maximum(np.abs(fd), np.abs(g)), FLOOR)


def check_fd(model, tokens, targets, mask=None, smoothing=0.0, masks=None) -> None:
    """Every parameter's and activation's gradient equals its finite-difference estimate."""
    _, grads = loss_and_grads(model, tokens, targets, mask, smoothing, dropout_masks=masks)
    inputs, target_ids, counted = prepare(model, tokens, targets, mask)
    masks = masks or {}
    base = forward_values(model, inputs, masks)
    nodes = [n for n in model.graph.nodes if n.name != "probs"]
    params = dict(model.params)

    def loss_from(start: int, values: dict) -> float:
        values = dict(values)
        for node in nodes[start:]:
            v = FORWARD[node.op]([values[i] for i in node.inputs], [params[p] for p in node.params], node.attrs)
            values[node.name] = v * masks[node.name] if node.name in masks else v
        return cross_entropy(values["logits"], target_ids, counted, smoothing)[0]

    def fd_of(array: np.ndarray, evaluate) -> np.ndarray:
        fd = np.zeros(array.shape)
        for idx in np.ndindex(array.shape):
            f = []
            for k in (2, 1, -1, -2):
                moved = array.copy()
                moved[idx] += k * STEP
                f.append(evaluate(moved))
            fd[idx] = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * STEP)
        return fd

    first = {}
    for i, node in enumerate(nodes):
        for p in node.params:
            first.setdefault(p, i)
    assert set(first) == set(model.shapes)
    for name, w in model.params.items():
        def with_param(moved, name=name):
            params[name] = moved
            return loss_from(first[name], base)
        fd = fd_of(w, with_param)
        params[name] = w
        assert grads[name].shape == w.shape
        assert rel_err(fd, grads[name]).max() <= TOL, name
    for i, node in enumerate(nodes):
        fd = fd_of(base[node.name], lambda moved, i=i, n=node.name: loss_from(i + 1, {**base, n: moved}))
        assert rel_err(fd, grads[node.name]).max() <= TOL, node.name


CONFIGS = [
    ({}, (0, 1, 2)),  # decoder, sinusoidal, pre-norm, gelu, causal, standard residual
    ({"positional": "learned"}, (0, 1)),
    ({"positional": "rope", "n_layers": 1}, (0, 1)),
    ({"positional": "none", "n_layers": 1}, (0, 1)),
    ({"norm": "post"}, (0, 1)),
    ({"norm": "none", "n_layers": 1}, (0, 1)),
    ({"activation": "relu", "n_layers": 1}, (0, 3)),
    ({"attention": "window", "window": 2, "n_layers": 1}, (0, 1)),
    ({"arch": "encoder", "attention": "full", "n_layers": 1}, (0, 1)),
    ({"arch": "encoder", "attention": "window", "window": 2, "n_layers": 1}, (0,)),
    ({"arch": "encoder-decoder", "attention": "causal", "n_layers": 1}, (0, 1)),
    ({"arch": "encoder-decoder", "attention": "window", "window": 2, "norm": "post", "n_layers": 1}, (2,)),
    ({"attention": "strided", "window": 1, "stride": 2, "n_layers": 1}, (0,)),
    ({"arch": "encoder", "attention": "strided", "window": 1, "stride": 3, "n_layers": 1}, (0,)),
    ({"attention": "global", "window": 1, "n_global": 1, "n_layers": 1}, (0,)),
    ({"arch": "encoder", "attention": "global", "window": 1, "n_global": 1, "n_layers": 1}, (0,)),
    ({"attention": "bigbird", "window": 1, "n_global": 1, "n_random": 1, "n_layers": 1}, (0,)),
    ({"arch": "encoder-decoder", "attention": "bigbird", "window": 1, "n_global": 1, "n_layers": 1}, (0,)),
    ({"attention": "linear"}, (0, 1)),
    ({"arch": "encoder", "attention": "linear", "positional": "rope", "n_layers": 1}, (0,)),
    ({"arch": "encoder-decoder", "attention": "linear", "n_layers": 1}, (0,)),
    ({"residual": "none"}, (0, 1)),
    ({"residual": "none", "norm": "post", "positional": "learned"}, (0,)),
    ({"residual": "denseformer"}, (0, 1)),
    ({"residual": "attnres"}, (0, 1)),
    ({"residual": "block_attnres", "depth_blocks": 2}, (0, 1)),
    ({"residual": "block_attnres", "depth_blocks": 3, "arch": "encoder", "attention": "full"}, (0,)),
    ({"norm_eps": 0.0}, (0,)),  # ε = 0: the spread alone divides
    ({"norm_eps": 0.0, "norm": "post", "positional": "rope", "n_layers": 1}, (1,)),
    ({"norm_eps": 0.0, "residual": "attnres", "n_layers": 1}, (2,)),
    # GPT-2's wiring, and BERT's (token types, embedding norm, post-LN, exact GELU, MLM head, tied read-out)
    ({"positional": "learned", "tied_unembed": True}, (0,)),
    ({"arch": "encoder", "attention": "full", "positional": "learned", "norm": "post", "embed_norm": True,
      "n_token_types": 2, "activation": "gelu_exact", "tied_unembed": True, "head": "mlm", "n_layers": 1}, (0, 1)),
    ({"bias": False, "n_layers": 1}, (0,)),
    ({"bias": False, "arch": "encoder-decoder", "attention": "causal", "n_layers": 1}, (0,)),
]


@pytest.mark.slow
@pytest.mark.parametrize("kw,seed", [(kw, s) for kw, seeds in CONFIGS for s in seeds],
                         ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()) or "base" if isinstance(v, dict)
                         else str(v))
def test_gradients_match_finite_differences(kw, seed):
    model = tiny(seed, **kw)
    tokens, targets = sample(model)
    if model.config.activation == "relu":  # finite differences across ReLU's kink would be wrong, not the grad
        trace = model.run(tokens)
        assert all(np.abs(trace[n.inputs[0]]).min() > 0.02 for n in model.graph.nodes if n.op == "act")
    check_fd(model, tokens, targets)


def test_label_smoothing_and_mask_match_finite_differences():
    model = tiny(4)
    check_fd(model, ["a", "b", "c", "a"], ["b", "c", "a", "d"], mask=[True, False, True, True], smoothing=0.1)


def test_loss_is_cross_entropy_of_the_traced_probabilities():
    model = tiny(5)
    tokens, targets = sample(model)
    probs = model.run(tokens)["probs"]
    ids = [VOCAB.index(t) for t in targets]
    nll = -np.log(probs[np.arange(4), ids])
    loss, grads = model.loss_and_grads(tokens, targets, mask=[True, True, False, True])
    assert loss == pytest.approx(nll[[0, 1, 3]].mean(), rel=1e-12)
    assert np.all(grads["logits"][2] == 0.0)  # the masked-out position sends no gradient
    smooth, _ = loss_and_grads(model, tokens, targets, label_smoothing=0.2)
    expected = (0.8 * nll - 0.2 / len(VOCAB) * np.log(probs).sum(-1)).mean()
    assert smooth == pytest.approx(expected, rel=1e-12)


def test_forward_values_equal_the_trace():
    model = tiny(6, residual="attnres")
    tokens, _ = sample(model)
    trace = model.run(tokens)
    values = forward_values(model, prepare(model, tokens, tokens)[0])
    for name in trace.names:
        np.testing.assert_array_equal(values[name], trace[name], err_msg=name)


def test_grads_hold_every_parameter_and_step_including_aliases():
    model = tiny(7, residual="attnres")
    tokens, targets = sample(model)
    trace = model.run(tokens)
    _, grads = model.loss_and_grads(tokens, targets)
    for name, shape in model.shapes.items():
        assert grads[name].shape == shape
    for name in trace.names:
        assert grads[name].shape == trace[name].shape
    alias = "blocks.1.hook_resid_pre"
    assert alias in grads and alias in model.graph.aliases
    assert grads[alias] is grads[model.graph.aliases[alias]]
    assert np.all(grads["probs"] == 0.0) and np.abs(grads["embed.W_E"]).max() > 0
    with pytest.raises(KeyError):
        grads["blocks.9.hook_resid_pre"]


def test_probs_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    logits, weights, temp = rng.standard_normal((3, 5)), rng.standard_normal((3, 5)), np.float64(0.7)
    out = FORWARD["probs"]([logits, temp], [], {})
    (g, none), _ = BACKWARD["probs"](weights, [logits, temp], [], {}, out)
    fd = np.zeros_like(logits)
    for idx in np.ndindex(logits.shape):
        f = []
        for k in (2, 1, -1, -2):
            moved = logits.copy()
            moved[idx] += k * STEP
            f.append((FORWARD["probs"]([moved, temp], [], {}) * weights).sum())
        fd[idx] = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * STEP)
    assert none is None and rel_err(fd, g).max() <= TOL


def test_dropout_with_fixed_masks_matches_finite_differences():
    model = tiny(8, arch="encoder-decoder", attention="causal", n_layers=1)
    tokens, targets = sample(model)
    masks = make_dropout_masks(model, prepare(model, tokens, targets)[0], 0.3, np.random.default_rng(1))
    assert {"encoder.blocks.0.hook_resid_pre", "decoder.blocks.0.hook_cross_attn_out"} <= set(masks)
    assert any((m == 0).any() for m in masks.values())
    check_fd(model, tokens, targets, masks=masks)


def test_batch_is_the_mean_of_sequences_and_rate_zero_is_no_dropout():
    model = tiny(9)
    batch = [(["a", "b", "c"], ["b", "c", "d"]), (["e", "d", "c", "b"], ["d", "c", "b", "a"])]
    singles = [loss_and_grads(model, t, y) for t, y in batch]
    loss, grads = batch_loss_and_grads(model, [t for t, _ in batch], [y for _, y in batch],
                                       dropout=0.0, rng=np.random.default_rng(0))
    assert loss == pytest.approx((singles[0][0] + singles[1][0]) / 2, rel=1e-14)
    assert set(grads) == set(model.shapes)
    for name in model.shapes:
        np.testing.assert_allclose(grads[name], (singles[0][1][name] + singles[1][1][name]) / 2, rtol=1e-13)
    dropped = [batch_loss_and_grads(model, [t for t, _ in batch], [y for _, y in batch], dropout=0.5,
                                    rng=np.random.default_rng(3)) for _ in range(2)]
    assert dropped[0][0] == dropped[1][0] != loss  # seeded: repeatable, and it does drop something


def test_bad_input_is_refused_with_a_message():
    model = tiny(0)
    with pytest.raises(ValueError, match="targets"):
        loss_and_grads(model, ["a", "b"], ["b"])
    with pytest.raises(ValueError, match="no position"):
        loss_and_grads(model, ["a", "b"], ["b", "c"], mask=[False, False])
    with pytest.raises(ValueError, match="smoothing"):
        loss_and_grads(model, ["a", "b"], ["b", "c"], label_smoothing=1.5)
    with pytest.raises(ValueError, match="dropout"):
        batch_loss_and_grads(model, [["a"]], [["b"]], dropout=1.0)


def test_backward_steps_walk_every_node_in_reverse():
    model = tiny(0, positional="rope", norm="post")
    tokens, targets = sample(model)
    steps = backward_steps(model, model.run(tokens), targets)
    _, grads = loss_and_grads(model, tokens, targets)
    assert [s.name for s in steps] == [n.name for n in reversed(model.graph.nodes)]
    for s in steps:
        assert s.formula and s.description and s.grad.shape == model.run(tokens)[s.name].shape
        np.testing.assert_array_equal(s.grad, grads[s.name])
    by_name = {s.name: s for s in steps}
    assert by_name["blocks.0.attn.hook_pattern"].formula.startswith("∂L/∂attn_scores = pattern ⊙ (∂L/∂pattern")
    assert "÷ √d_head" in by_name["blocks.0.attn.hook_scores_scaled"].formula
    assert "residual highway" in by_name["blocks.0.hook_sum_mid"].description
    assert "softmax(logits) − target" in by_name["logits"].formula
    assert set(by_name["blocks.0.attn.hook_q"].params) == {"blocks.0.attn.W_Q", "blocks.0.attn.b_Q"}
    assert simulator.backward.backward_steps is backward_steps  # also reachable from simulator.backward


def test_gradient_flow_follows_aliases_in_depth_modes():
    model = tiny(0, residual="attnres")
    tokens, targets = sample(model)
    flow = gradient_flow(model, tokens, targets)
    _, grads = loss_and_grads(model, tokens, targets)
    assert flow["resolved"][1] == "blocks.1.depth_attn.hook_mixed"
    np.testing.assert_allclose(flow["layer_norms"][1], np.linalg.norm(grads["blocks.1.depth_attn.hook_mixed"]))
    assert set(flow["param_norms"]) == set(model.shapes)


def test_gradients_fade_with_depth_without_skip_connections():
    norms = compare_gradient_flow(depth=12)
    assert all(v.shape == (12,) and np.all(v > 0) for v in norms.values())
    standard = norms[("standard", "pre")][0] / norms[("standard", "pre")][-1]
    none = norms[("none", "pre")][0] / norms[("none", "pre")][-1]
    assert none < standard / 4


# --- LayerNorm of a constant row, ε = 0 included ---

def _fd(f, x: np.ndarray) -> np.ndarray:
    fd = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        vals = []
        for k in (2, 1, -1, -2):
            moved = x.copy()
            moved[idx] += k * STEP
            vals.append(f(moved))
        fd[idx] = (-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * STEP)
    return fd


def _layernorm_case(eps: float):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 5))
    x[1] = 0.7  # a constant row
    w, b, g = rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal((3, 5))
    a = {"eps": eps}
    out = FORWARD["layernorm"]([x], [w, b], a)
    (gx,), (gw, gb) = BACKWARD["layernorm"](g, [x], [w, b], a, out)
    return x, w, b, g, a, gx, gw, gb


@pytest.mark.parametrize("eps", [0.01, 0.1])  # the finite step must be small beside √ε
def test_layernorm_of_a_constant_row_matches_finite_differences(eps):
    x, w, b, g, a, gx, gw, gb = _layernorm_case(eps)
    loss = lambda x_, w_=w, b_=b: float((FORWARD["layernorm"]([x_], [w_, b_], a) * g).sum())  # noqa: E731
    assert rel_err(_fd(loss, x), gx).max() <= TOL
    assert rel_err(_fd(lambda w_: loss(x, w_), w), gw).max() <= TOL
    assert rel_err(_fd(lambda b_: loss(x, w, b_), b), gb).max() <= TOL


def test_layernorm_with_eps_zero_differentiates_the_forwards_definition_of_a_constant_row():
    """The forward maps a constant row to b even with ε = 0 (its spread is read as 1). The
    gradient is that definition's: finite, matching finite differences in w and b everywhere, in
    x on the ordinary rows, and along the constant row's own direction (which keeps it constant)."""
    x, w, b, g, a, gx, gw, gb = _layernorm_case(0.0)
    assert np.isfinite(gx).all() and np.isfinite(gw).all()
    np.testing.assert_array_equal(FORWARD["layernorm"]([x], [w, b], a)[1], b)
    loss = lambda x_, w_=w, b_=b: float((FORWARD["layernorm"]([x_], [w_, b_], a) * g).sum())  # noqa: E731
    assert rel_err(_fd(lambda w_: loss(x, w_), w), gw).max() <= TOL
    assert rel_err(_fd(lambda b_: loss(x, w, b_), b), gb).max() <= TOL
    ordinary = [0, 2]
    fd_x = _fd(lambda rows: loss(np.vstack([rows[0], x[1], rows[1]])), x[ordinary])
    assert rel_err(fd_x, gx[ordinary]).max() <= TOL
    along = _fd(lambda c: loss(x + np.outer([0, 1, 0], np.ones(5)) * c[0]), np.zeros(1))[0]
    assert abs(along - gx[1].sum()) <= 1e-9
    np.testing.assert_allclose(gx[1], g[1] * w - (g[1] * w).mean(), rtol=1e-12)


@pytest.mark.parametrize("kw", [dict(), dict(arch="encoder", attention="full"), dict(residual="attnres")],
                         ids=["decoder", "encoder", "attnres"])
def test_a_model_whose_first_norm_sees_constant_rows_matches_finite_differences(kw):
    """Every embedding row constant and no positions: the first LayerNorm (and depth RMS) reads constant rows."""
    model = tiny(11, n_layers=1, positional="none", norm_eps=0.1, **kw)
    w_e = model.params["embed.W_E"]
    model.set_param("embed.W_E", np.repeat(w_e.mean(1, keepdims=True), w_e.shape[1], axis=1))
    tokens, targets = sample(model)
    x = model.run(tokens)["blocks.0.hook_resid_pre"]
    assert np.ptp(x, axis=-1).max() == 0.0  # the rows really are constant
    check_fd(model, tokens, targets)


@pytest.mark.parametrize("kw", [dict(positional="rope"), dict(norm="post"), dict(residual="attnres"),
                                dict(arch="encoder-decoder")], ids=["rope", "post", "attnres", "encdec"])
def test_a_zero_model_with_eps_zero_has_finite_gradients(kw):
    """init_scale 0 makes every row constant; with ε = 0 every LayerNorm meets the special case."""
    model = Transformer(ModelConfig(vocab=VOCAB, n_layers=2, d_model=4, n_heads=2, d_mlp=8, n_ctx=4, norm_eps=0.0,
                                    init_scale=0.0, **kw))
    tokens, targets = sample(model)
    loss, grads = loss_and_grads(model, tokens, targets)
    assert np.isfinite(loss)
    bad = [name for name in grads if not np.isfinite(grads[name]).all()]
    assert not bad
    b_u = [name for name in model.shapes if name.endswith("unembed.b_U")][0]
    assert np.abs(grads[b_u]).max() > 0  # the loss still reaches the read-out


# --- every op has all its rules ---

def _rules_missing() -> dict[str, list[str]]:
    """For each op of the forward table, which of its rules the other tables lack."""
    import simulator.explain
    import simulator.gradient_flow
    import simulator.ops
    tables = {"backward rule": simulator.backward.BACKWARD, "formula": simulator.gradient_flow.FORMULAS,
              "description": simulator.gradient_flow.DESCRIPTIONS, "explain case": simulator.explain.EXPLAIN}
    return {op: [what for what, table in tables.items() if op not in table]
            for op in simulator.ops.FORWARD if any(op not in table for table in tables.values())}


def test_every_forward_op_has_a_backward_rule_a_formula_a_description_and_an_explanation():
    assert _rules_missing() == {}


def test_the_rule_check_fails_for_an_op_without_rules(monkeypatch):
    import simulator.ops
    monkeypatch.setitem(simulator.ops.FORWARD, "square", lambda xs, ps, a: xs[0] ** 2)
    assert _rules_missing() == {"square": ["backward rule", "formula", "description", "explain case"]}
    monkeypatch.setitem(simulator.backward.BACKWARD, "square", lambda g, xs, ps, a, out: ([2 * xs[0] * g], []))
    assert _rules_missing() == {"square": ["formula", "description", "explain case"]}
