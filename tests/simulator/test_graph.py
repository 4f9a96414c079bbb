"""The graph declares its facts: every step's axes match its value, its group is the one its
kind of step belongs to, and the parameters come out of the same walk with the shapes an
independent listing gives."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from simulator import ModelConfig, Transformer
from simulator.graph import ATTENTION_CHAIN, DEPTH_CHAIN, build_graph
from simulator.params import init_params, param_shapes

_spec = importlib.util.spec_from_file_location("forward_tests", Path(__file__).with_name("test_forward.py"))
_forward = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_forward)
CONFIGS, VOCAB = _forward.CONFIGS, _forward.VOCAB


def _cfg(opts, **kw) -> ModelConfig:
    base = dict(vocab=VOCAB, n_layers=2, n_heads=2, d_model=8, d_mlp=12, n_ctx=6, window=2, depth_blocks=3)
    return ModelConfig(**{**base, **kw, **opts})


def _run(model: Transformer):
    if model.config.arch == "encoder-decoder":
        return model.run(list("abcde"), list("abc"))
    return model.run(list("abcde"))


@pytest.mark.parametrize("opts", CONFIGS, ids=lambda o: "-".join(o.values()))
def test_every_step_declares_one_axis_per_dimension_of_its_value(opts):
    cfg = _cfg(opts)
    trace = _run(Transformer(cfg))
    sizes = {"d_model": cfg.d_model, "head": cfg.n_heads, "d_head": cfg.d_head, "d_mlp": cfg.d_mlp,
             "vocab": cfg.d_vocab, "head·d_head": cfg.n_heads * cfg.d_head}
    assert trace.graph.config == cfg
    for node in trace.graph.nodes:
        value = trace[node.name]
        assert len(node.axes) == np.ndim(value), node.name
        for axis, n in zip(node.axes, np.shape(value)):
            if axis in sizes:
                assert n == sizes[axis], (node.name, axis)
        assert node.role, node.name


@pytest.mark.parametrize("opts", CONFIGS, ids=lambda o: "-".join(o.values()))
def test_groups_are_the_attention_grids_and_the_depth_attention(opts):
    graph = build_graph(_cfg(opts))
    for node in graph.nodes:
        grid = node.op in ("scores", "scale", "mask") or (node.op == "softmax" and node.attrs["axis"] == -1)
        depth = node.op in ("depth_logits", "depth_mix") or (node.op == "softmax" and node.attrs["axis"] == 0)
        want = ATTENTION_CHAIN if grid else DEPTH_CHAIN if depth else None
        assert node.group == want, node.name
        if node.group == ATTENTION_CHAIN:
            assert node.axes == ("head", "q_pos", "k_pos")


def _legacy_stack_shapes(cfg: ModelConfig, prefix: str, cross: bool) -> dict[str, tuple[int, ...]]:
    """The parameter listing as it was written before the graph declared its parameters."""
    d, h, dh, dm = cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp
    shapes: dict[str, tuple[int, ...]] = {f"{prefix}embed.W_E": (cfg.d_vocab, d)}
    if cfg.positional == "learned":
        shapes[f"{prefix}pos_embed.W_pos"] = (cfg.n_ctx, d)
    depth = cfg.residual in ("attnres", "block_attnres")
    for layer in range(cfg.n_layers):
        b = f"{prefix}blocks.{layer}."
        if depth:
            shapes[b + "depth_attn.w"] = (d,)
        for ln, part in zip(("ln1", "ln2", "ln3") if cross else ("ln1", "ln2"),
                            ("attn", "cross_attn", "mlp") if cross else ("attn", "mlp")):
            if cfg.norm != "none":
                shapes[b + f"{ln}.w"] = shapes[b + f"{ln}.b"] = (d,)
            if part == "mlp":
                if depth:
                    shapes[b + "depth_mlp.w"] = (d,)
                shapes.update({b + "mlp.W_in": (d, dm), b + "mlp.b_in": (dm,), b + "mlp.W_out": (dm, d),
                               b + "mlp.b_out": (d,)})
                continue
            shapes.update({b + f"{part}.W_{m}": (h, d, dh) for m in "QKV"})
            shapes.update({b + f"{part}.b_{m}": (h, dh) for m in "QKV"})
            shapes.update({b + f"{part}.W_O": (h, dh, d), b + f"{part}.b_O": (d,)})
        if cfg.residual == "denseformer":
            shapes[b + "dwa.alpha"] = (layer + 2,)
    if depth:
        shapes[f"{prefix}depth_final.w"] = (d,)
    if cfg.norm == "pre":
        shapes[f"{prefix}ln_final.w"] = shapes[f"{prefix}ln_final.b"] = (d,)
    return shapes


def _legacy_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    if cfg.arch == "encoder-decoder":
        shapes = {**_legacy_stack_shapes(cfg, "encoder.", False), **_legacy_stack_shapes(cfg, "decoder.", True)}
        unembed = "decoder.unembed."
    else:
        shapes, unembed = _legacy_stack_shapes(cfg, "", False), "unembed."
    shapes[unembed + "W_U"] = (cfg.d_model, cfg.d_vocab)
    shapes[unembed + "b_U"] = (cfg.d_vocab,)
    return shapes


@pytest.mark.parametrize("n_layers", [1, 3])
def test_parameter_shapes_and_order_match_an_independent_listing(n_layers):
    for opts in CONFIGS:
        cfg = _cfg(opts, n_layers=n_layers, depth_blocks=min(3, 2 * n_layers))
        got = param_shapes(cfg)
        assert list(got.items()) == list(_legacy_shapes(cfg).items()), opts
        for name, spec in build_graph(cfg).params.items():
            assert len(spec.axes) == len(spec.shape), name


def test_every_parameter_a_step_reads_is_declared_and_every_declared_one_is_read():
    for opts in CONFIGS:
        graph = build_graph(_cfg(opts))
        read = {p for node in graph.nodes for p in node.params}
        assert read == set(graph.params), opts


def test_initial_values_follow_the_declared_start():
    cfg = _cfg(dict(residual="denseformer"), init_scale=2.0)
    params = init_params(cfg, seed=5)
    assert np.array_equal(params["blocks.1.dwa.alpha"], [0.0, 0.0, 1.0])
    assert np.array_equal(params["blocks.0.ln1.w"], np.ones(8)) and not params["blocks.0.ln1.b"].any()
    assert not params["blocks.0.attn.b_Q"].any()
    # N(0, init_scale²/fan_in): W_O's fan-in is head·d_head, W_in's is d_model
    big = init_params(cfg.replace(d_model=64, d_mlp=64, n_heads=2), seed=5)
    assert np.std(big["blocks.0.attn.W_O"]) == pytest.approx(2.0 / 8.0, rel=0.1)
    assert np.std(big["blocks.0.mlp.W_in"]) == pytest.approx(2.0 / 8.0, rel=0.1)
    assert np.std(big["embed.W_E"]) == pytest.approx(2.0, rel=0.2)
