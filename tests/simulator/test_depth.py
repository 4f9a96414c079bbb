"""The depth modes (standard, none, DenseFormer, Attention Residuals) and simulator.depth."""
import numpy as np
import pytest

from simulator import ModelConfig, Transformer
from simulator.depth import (
    coefficients,
    depth_map,
    residual_mode,
    residual_stream,
    shares,
    sublayer_inputs,
    sublayer_outputs,
)

TEXT = "the cat sat on the mat"
MODES = ("standard", "none", "denseformer", "attnres", "block_attnres")


def _pair(mode: str, seed: int = 1, **kw) -> tuple[Transformer, Transformer]:
    """A standard model and a `mode` model sharing every common parameter (extras at their init)."""
    cfg = ModelConfig(n_layers=3, **kw)
    std = Transformer(cfg, seed=seed)
    other = Transformer(cfg.replace(residual=mode), seed=seed)
    params = dict(other.params)
    params.update({k: v for k, v in std.params.items() if k in params})
    return std, Transformer(other.config, params=params)


def _randomize_depth(model: Transformer, seed: int = 7, scale: float = 3.0) -> Transformer:
    rng = np.random.default_rng(seed)
    for name, shape in model.shapes.items():
        if name.endswith("depth_attn.w") or name.endswith("depth_mlp.w") or name.endswith("depth_final.w") \
                or name.endswith("dwa.alpha"):
            model.set_param(name, rng.standard_normal(shape) * scale)
    return model


def test_attnres_with_zero_queries_and_eps_0_is_the_standard_model():
    std, ar = _pair("attnres", norm_eps=0.0)
    a, b = std.run(TEXT), ar.run(TEXT)
    for layer in range(3):
        for step in ("hook_attn_out", "hook_mlp_out"):
            name = f"blocks.{layer}.{step}"
            np.testing.assert_allclose(b[name], a[name], rtol=0, atol=1e-12)
    np.testing.assert_allclose(b["logits"], a["logits"], rtol=0, atol=1e-12)
    # with the default eps the pre-norm is no longer exactly scale-free: close, not equal
    std, ar = _pair("attnres")
    assert 0 < np.abs(std.run(TEXT)["logits"] - ar.run(TEXT)["logits"]).max() < 1e-3


def test_block_attnres_with_one_sublayer_per_block_is_attnres():
    _, ar = _pair("attnres")
    _randomize_depth(ar)
    block = Transformer(ar.config.replace(residual="block_attnres", depth_blocks=6), params=ar.params)
    a, b = ar.run(TEXT), block.run(TEXT)
    assert a.names == b.names
    for name in a.names:
        np.testing.assert_array_equal(b[name], a[name])


def test_block_attnres_sources_are_embedding_finished_blocks_and_partial_sum():
    m = Transformer(ModelConfig(n_layers=3, residual="block_attnres", depth_blocks=2))
    # sublayers 1..6 in blocks {1,2,3} and {4,5,6}; the MLP of layer 2 is sublayer 6
    assert m.graph.node("blocks.2.depth_mlp.hook_mixed").attrs["groups"] == ((0,), (1, 2, 3), (4, 5))
    assert m.graph.node("depth_final.hook_mixed").attrs["groups"] == ((0,), (1, 2, 3), (4, 5, 6))
    assert m.graph.node("blocks.0.depth_attn.hook_mixed").attrs["groups"] == ((0,),)


def test_denseformer_at_identity_init_is_exactly_standard():
    std, dense = _pair("denseformer")
    a, b = std.run(TEXT), dense.run(TEXT)
    np.testing.assert_array_equal(b["logits"], a["logits"])
    np.testing.assert_array_equal(b["blocks.2.hook_mlp_out"], a["blocks.2.hook_mlp_out"])
    assert dense.shapes["blocks.2.dwa.alpha"] == (4,)
    np.testing.assert_array_equal(dense.params["blocks.1.dwa.alpha"], [0.0, 0.0, 1.0])


def test_denseformer_average_follows_alpha():
    _, dense = _pair("denseformer")
    dense.set_param("blocks.1.dwa.alpha", [0.5, -1.0, 2.0])
    t = dense.run(TEXT)
    x = [t["blocks.0.hook_resid_pre"], t["blocks.0.hook_resid_post"], t["blocks.1.hook_resid_post"]]
    np.testing.assert_allclose(t["blocks.1.dwa.hook_mixed"], 0.5 * x[0] - x[1] + 2 * x[2])
    # block 1 reads block 0's average, not block 0's output
    assert t.graph.node("blocks.1.ln1.hook_normalized").inputs == ("blocks.0.dwa.hook_mixed",)


@pytest.mark.parametrize("mode", ["attnres", "block_attnres"])
def test_depth_weights_sum_to_one_and_mix_is_bounded(mode):
    _, m = _pair(mode)
    t = _randomize_depth(m).run(TEXT)
    outs = np.stack([v for _, _, v in sublayer_outputs(t)])  # [source, pos, d_model]
    for d in ["blocks.0.depth_mlp", "blocks.1.depth_attn", "blocks.2.depth_mlp", "depth_final"]:
        w = t[d + ".hook_weights"]  # [source, pos]
        np.testing.assert_allclose(w.sum(axis=0), 1.0, atol=1e-12)
        assert (w >= 0).all() and w.std() > 0.01  # the random queries really moved the weights
        if mode == "attnres":  # a convex mix is no longer than its longest source
            h = np.linalg.norm(t[d + ".hook_mixed"], axis=-1)
            longest = np.linalg.norm(outs[: len(w)], axis=-1).max(axis=0)
            assert (h <= longest + 1e-12).all()


@pytest.mark.parametrize("mode", MODES)
def test_causal_in_every_mode(mode):
    _, m = _pair(mode)
    _randomize_depth(m, scale=1.0)
    a, b = m.run("the cat sat on the mat"), m.run("the cat sat on a dog")
    for name in a.names:
        if ".depth_" in f".{name}" and not name.endswith("hook_mixed"):  # [source, pos]
            np.testing.assert_array_equal(a[name][:, :4], b[name][:, :4], err_msg=name)
        elif a[name].ndim == 2:  # [pos, …]
            np.testing.assert_array_equal(a[name][:4], b[name][:4], err_msg=name)
    assert not np.array_equal(a["logits"][5], b["logits"][5])


def _ln(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps) * w + b


def test_none_matches_a_hand_built_stack_without_skips():
    cfg = ModelConfig(residual="none", activation="relu")
    m = Transformer(cfg, seed=3)
    P, eps, toks = m.params, cfg.norm_eps, "the big cat sat on a mat".split()
    ids = [cfg.vocab.index(t) for t in toks]
    n = len(ids)
    pos = np.arange(n)[:, None] / 10000 ** (np.arange(0, 16, 2) / 16)
    pe = np.zeros((n, 16))
    pe[:, 0::2], pe[:, 1::2] = np.sin(pos), np.cos(pos)
    x = P["embed.W_E"][ids] + pe
    for layer in range(cfg.n_layers):
        b = f"blocks.{layer}."
        h = _ln(x, P[b + "ln1.w"], P[b + "ln1.b"], eps)
        heads = []
        for hd in range(cfg.n_heads):
            q, k, v = (h @ P[b + f"attn.W_{c}"][hd] + P[b + f"attn.b_{c}"][hd] for c in "QKV")
            s = q @ k.T / np.sqrt(cfg.d_head) + np.triu(np.full((n, n), -np.inf), 1)
            e = np.exp(s - s.max(-1, keepdims=True))
            heads.append((e / e.sum(-1, keepdims=True)) @ v @ P[b + "attn.W_O"][hd])
        x = sum(heads) + P[b + "attn.b_O"]  # no "x +": nothing skips the sublayer
        h = _ln(x, P[b + "ln2.w"], P[b + "ln2.b"], eps)
        x = np.maximum(h @ P[b + "mlp.W_in"] + P[b + "mlp.b_in"], 0) @ P[b + "mlp.W_out"] + P[b + "mlp.b_out"]
    logits = _ln(x, P["ln_final.w"], P["ln_final.b"], eps) @ P["unembed.W_U"] + P["unembed.b_U"]
    np.testing.assert_allclose(m.run(toks)["logits"], logits, rtol=1e-10, atol=1e-12)


def test_attnres_names_params_and_aliases():
    m = Transformer(ModelConfig(residual="attnres"))
    assert m.shapes["blocks.1.depth_attn.w"] == (16,) and m.shapes["depth_final.w"] == (16,)
    t = m.run(TEXT)
    assert t["blocks.1.depth_attn.hook_weights"].shape == (3, 6)
    assert t["blocks.1.depth_mlp.hook_mixed"].shape == (6, 16)
    # every depth mix reads v_0 itself (the embedding sum), never an earlier mix
    for node in m.graph.nodes:
        if node.op in ("depth_logits", "depth_mix"):
            assert node.inputs[-node.attrs["groups"][-1][-1] - 1] == "blocks.0.hook_resid_pre"
            assert not any("depth_" in i for i in node.inputs if not i.endswith("hook_weights"))
    assert m.graph.node("blocks.0.hook_resid_pre").op == "add"
    # resid_post is what enters the next block, as in a standard stream
    assert m.graph.node("blocks.0.hook_resid_post").name == "blocks.1.depth_attn.hook_mixed"
    assert m.graph.node("blocks.1.hook_resid_post").name == "depth_final.hook_mixed"
    with pytest.raises(ValueError, match="pre"):
        ModelConfig(residual="attnres", norm="post")


def test_editing_a_pseudo_query_changes_only_downstream():
    m = _randomize_depth(Transformer(ModelConfig(residual="attnres")))
    t = m.run(TEXT)
    m.set_param("blocks.1.depth_attn.w", np.linspace(-2, 2, 16))
    _, changes = m.rerun(t, params=["blocks.1.depth_attn.w"])
    assert {"blocks.1.depth_attn.hook_weights", "blocks.1.hook_attn_out", "depth_final.hook_mixed",
            "logits"} <= set(changes)
    assert "blocks.0.hook_mlp_out" not in changes and "blocks.0.depth_mlp.hook_weights" not in changes


@pytest.mark.parametrize("mode", MODES)
def test_coefficients_rebuild_every_sublayer_input(mode):
    _, m = _pair(mode)
    t = _randomize_depth(m).run(TEXT)
    vs = np.stack([v for _, _, v in sublayer_outputs(t)])  # [source, pos, d_model]
    hs = [h for _, _, h in sublayer_inputs(t)]
    assert residual_mode(t) == mode
    for pos in (0, 4):
        c = coefficients(m, t, pos)
        for row, h in enumerate(hs):
            np.testing.assert_allclose(c[row] @ vs[:, pos], h[pos], atol=1e-10)
        assert np.all(np.triu(c, 1) == 0)  # lower triangular: no sublayer reads a later output


def test_depth_maps_per_mode():
    std, dense = _pair("denseformer")
    t = std.run(TEXT)
    sm = depth_map(std, t, 2)
    assert sm.values.shape == (7, 7) and sm.rows[0] == "attn 0" and sm.rows[-1] == "out"
    assert sm.cols[:3] == ["embed", "attn 0", "mlp 0"]
    np.testing.assert_array_equal(sm.values, np.tril(np.ones((7, 7))))
    none = Transformer(std.config.replace(residual="none"), params=std.params)
    np.testing.assert_array_equal(depth_map(none, none.run(TEXT), 2).values, np.eye(7))
    dense.set_param("blocks.1.dwa.alpha", [0.25, 0.5, 2.0])
    dm = depth_map(dense, dense.run(TEXT), 0)
    assert dm.values.shape == (3, 4) and dm.cols == ["embed", "block 0", "block 1", "block 2"]
    np.testing.assert_array_equal(dm.values[1], [0.25, 0.5, 2.0, 0.0])
    _, ar = _pair("attnres")
    t = _randomize_depth(ar).run(TEXT)
    am = depth_map(ar, t, 3)
    np.testing.assert_allclose(am.values.sum(axis=1), 1.0)
    np.testing.assert_array_equal(am.values[4, :5], t["blocks.2.depth_attn.hook_weights"][:, 3])


def test_shares_show_dilution_formula():
    std, ar = _pair("attnres")
    t = std.run(TEXT)
    s = shares(std, t, 1)
    outs, ins = sublayer_outputs(t), sublayer_inputs(t)
    assert [label for label, _ in s] == ["embed", "attn 0", "mlp 0", "attn 1", "mlp 1", "attn 2", "mlp 2"]
    assert s[0][1] == pytest.approx(1.0)  # the first sublayer reads the embedding alone
    for i, (_, value) in enumerate(s):
        assert value == pytest.approx(np.linalg.norm(outs[i][2][1]) / np.linalg.norm(ins[i][2][1]))
    # at zero pseudo-queries the weighted share equals the standard one: same directions
    np.testing.assert_allclose([v for _, v in shares(ar, ar.run(TEXT), 1)], [v for _, v in s], rtol=1e-4)


def test_residual_stream_points_per_mode():
    std, dense = _pair("denseformer")
    t = std.run(TEXT)
    pts = residual_stream(t, 2)
    assert [p[0] for p in pts] == ["pre 0", "mid 0", "post 0", "mid 1", "post 1", "mid 2", "post 2"]
    np.testing.assert_array_equal(pts[3][2], t["blocks.1.hook_resid_mid"][2])
    assert len(residual_stream(dense.run(TEXT), 0)) == 10  # pre, then mid, post, dwa per block
    _, ar = _pair("attnres")
    labels = [p[0] for p in residual_stream(ar.run(TEXT), 0)]
    assert labels[:3] == ["pre 0", "→mlp 0", "→attn 1"] and labels[-1] == "→out"
    with pytest.raises(IndexError, match="outside"):
        residual_stream(t, 6)


def test_encoder_decoder_uses_the_decoder_stack():
    m = Transformer(ModelConfig(arch="encoder-decoder"))
    t = m.run(("the cat", "a dog sat"))
    assert depth_map(m, t, 0).rows == ["attn 0", "cross 0", "mlp 0", "attn 1", "cross 1", "mlp 1", "out"]
    assert residual_stream(t, 2)[0][1] == "decoder.blocks.0.hook_resid_pre"
