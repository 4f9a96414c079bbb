"""The cost of attention: the closed forms equal counts taken from the engine's own operations."""
import itertools

import numpy as np
import pytest

from simulator import ModelConfig, Transformer
from simulator.cost import (
    cell_report,
    curves,
    kept_cells,
    layer_cost,
    run_attention,
    time_attention,
)
from simulator.patterns import allowed

KINDS = ("full", "causal", "window", "window-full", "strided", "strided-full", "global", "global-full",
         "bigbird", "bigbird-full")


@pytest.mark.parametrize("kind", KINDS)
def test_closed_forms_equal_the_cells_of_the_mask_arrays(kind):
    for n, w, s, g, r in itertools.product(range(1, 15), (1, 2, 3, 5), (2, 3, 4), (1, 2), (1, 3)):
        counted = int(allowed(kind, n, n, w, s, g, r, 0).sum())
        assert kept_cells(kind, n, w, s, g, r) == counted, (kind, n, w, s, g, r)


@pytest.mark.parametrize("arch, attention", [("decoder", "causal"), ("decoder", "window"), ("encoder", "full"),
                                             ("encoder", "strided"), ("decoder", "global"),
                                             ("encoder", "bigbird"), ("decoder", "bigbird")])
def test_costs_equal_counts_from_the_engines_own_steps(arch, attention):
    cfg = ModelConfig(arch=arch, attention=attention, window=2, stride=3, n_global=1, n_random=2, n_ctx=12,
                      n_heads=2, d_model=8)
    model = Transformer(cfg, seed=0)
    words = ["the", "cat", "sat", "on", "the", "mat", "and", "the", "dog", "ran", "on", "a"]
    for n in range(1, 13):
        trace = model.run(words[:n])
        masked = trace["blocks.0.attn.hook_attn_scores"]  # [head, q, k]
        q = trace["blocks.0.attn.hook_q"]
        cost = layer_cost(model.graph.node("blocks.0.attn.hook_attn_scores").attrs["kind"], n, cfg.n_heads,
                          cfg.d_head, window=2, stride=3, n_global=1, n_random=2)
        kept = int(np.isfinite(masked).sum())  # over all heads
        assert cost["memory"] == kept
        assert cost["qk"] == kept * q.shape[-1] and cost["pv"] == kept * q.shape[-1]
        assert cost["dense_qk"] == trace["blocks.0.attn.hook_scores_raw"].size * q.shape[-1]
        report = cell_report(trace)[0]
        assert report["computed"] == n * n and report["kept"] * cfg.n_heads == kept
        assert report["thrown"] == pytest.approx(1 - kept / (cfg.n_heads * n * n))


def test_linear_attention_costs_grow_with_n_and_keep_a_fixed_state():
    cfg = ModelConfig(attention="linear", n_ctx=12, n_heads=2, d_model=8)
    model = Transformer(cfg, seed=0)
    trace = model.run(["the", "cat", "sat", "on", "the", "mat", "and", "the", "dog", "ran"])
    state = trace["blocks.0.attn.hook_kv_state"]  # [pos, head, d·d]: one state per prefix
    cost = layer_cost("linear", 10, 2, 4)
    assert cost["memory"] * 10 == state.size  # one state is h·d², the engine keeps all 10 prefixes
    assert cost["qk"] == cost["pv"] == state.size  # n·h·d²: one outer product per token and head
    assert cell_report(trace)[0] == {"step": "blocks.0.attn.hook_z", "n_q": 10, "n_k": 10, "computed": 0,
                                     "kept": 0, "thrown": 0.0, "kind": "linear", "state": 16}
    lengths = [16, 64, 256, 1024, 4096]
    c = curves(cfg, lengths, causal=True)
    assert set(c) == {"causal", "window", "strided", "global", "bigbird", "linear"}
    slope = np.diff(np.log(c["causal"]["qk"])) / np.diff(np.log(lengths))
    assert np.allclose(slope[-2:], 2, atol=0.01)  # quadratic
    for name in ("window", "global", "linear"):
        slope = np.diff(np.log(c[name]["qk"])) / np.diff(np.log(lengths))
        assert np.allclose(slope[-2:], 1, atol=0.01), name  # linear in n
    assert "full" in curves(cfg, lengths, causal=False) and "causal" not in curves(cfg, lengths, causal=False)


@pytest.mark.parametrize("kind", ["causal", "window-full", "linear", "linear-full"])
def test_the_timed_attention_is_the_engines_attention(kind):
    cfg = ModelConfig(arch="decoder" if kind in ("causal", "linear") else "encoder",
                      attention={"causal": "causal", "window-full": "window"}.get(kind, "linear"), window=2)
    model = Transformer(cfg, seed=0)
    trace = model.run("the cat sat on the mat")
    a = "blocks.0.attn."
    q, k = (trace[a + ("hook_rot_" if cfg.positional == "rope" else "hook_") + x] for x in "qk")
    got = run_attention(kind, q, k, trace[a + "hook_v"],
                        {"window": 2, "stride": 2, "n_global": 1, "n_random": 1, "random_seed": 0},
                        n_keys=model.graph.node(a + "hook_z").attrs.get("n_keys", cfg.n_ctx))  # the graph's key slots
    np.testing.assert_array_equal(got["z"], trace[a + "hook_z"])
    assert time_attention(kind, 64, 2, 8, {"window": 2}, repeats=3) > 0
