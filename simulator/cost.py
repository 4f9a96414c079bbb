"""What one attention layer costs as the input grows: closed forms, counts from a trace, timings.

For n tokens, h heads of size d (= d_head), and K kept score cells per head:

    Q·Kᵀ multiply-adds     h · K · d    (a dense kernel, as this engine, computes all n² cells: h · n² · d)
    pattern·V multiply-adds h · K · d
    memory of the scores    h · K numbers

K is n² for full attention, and for the patterns (w = window, s = stride, g = n_global, r = n_random;
w′ = min(w, n)):

    causal         n(n + 1)/2
    window         n·w′ − w′(w′ − 1)/2                 symmetric: n(2w′ − 1) − w′(w′ − 1)
    strided        window + Σ_{m=m₀..m₁} (n − s·m),    m₀ = ⌈w/s⌉, m₁ = ⌊(n − 1)/s⌋ (twice that, symmetric)
    global         window + a(n − w) − a(a − 1)/2,     a = min(g, n − w)      (causal)
                   2g′n − g′² + window_sym(n − g′),   g′ = min(g, n)         (symmetric)
    bigbird        global + Σ_i min(r, keys row i has left)

Linear attention forms no grid: φ(K)ᵀV and φ(Q)·S each take h · n · d² multiply-adds, and its
state S holds h · d² numbers however long the input (h · n · d² when every prefix is kept, as
the parallel causal form does).
"""
from __future__ import annotations

import math
import statistics
import time

import numpy as np

from .ops import FORWARD
from .patterns import kind_for

PATTERN_KINDS = ("full", "causal", "window", "strided", "global", "bigbird", "linear")


def _window(n: int, w: int, causal: bool) -> int:
    w = min(w, n)
    return n * w - w * (w - 1) // 2 if causal else n * (2 * w - 1) - w * (w - 1)


def _stride_extra(n: int, w: int, s: int) -> int:
    """Cells (i, i − s·m), m ≥ 1, outside the causal band: Σ over the stride's multiples ≥ w of (n − s·m)."""
    m0, m1 = -(-w // s), (n - 1) // s
    count = m1 - m0 + 1
    return count * n - s * (m0 + m1) * count // 2 if count > 0 else 0


def _global(n: int, w: int, g: int, causal: bool) -> int:
    if causal:
        a = max(0, min(g, n - w))
        return _window(n, w, True) + a * (n - w) - a * (a - 1) // 2
    g = min(g, n)
    return 2 * g * n - g * g + _window(n - g, w, False)


def _global_rows(n: int, w: int, g: int, causal: bool) -> np.ndarray:
    """Kept cells in each row of the global pattern  # [n]"""
    i = np.arange(n)
    extra = np.clip(i - w + 1, 0, g)  # global keys outside the band
    if causal:
        return np.minimum(i + 1, w) + extra
    band = np.minimum(i, w - 1) + 1 + np.minimum(n - 1 - i, w - 1)
    return np.where(i < g, n, band + extra)


def kept_cells(kind: str, n: int, window: int = 3, stride: int = 2, n_global: int = 1, n_random: int = 1) -> int:
    """Score cells one head keeps for n queries and n keys, from the closed forms above."""
    base, causal = kind.removesuffix("-full"), not kind.endswith("-full") and kind != "full"
    if base == "full":
        return n * n
    if base == "causal":
        return n * (n + 1) // 2
    if base == "window":
        return _window(n, window, causal)
    if base == "strided":
        return _window(n, window, causal) + (1 if causal else 2) * _stride_extra(n, window, stride)
    if base == "global":
        return _global(n, window, n_global, causal)
    if base == "bigbird":
        rows = _global_rows(n, window, n_global, causal)
        left = (np.arange(n) + 1 if causal else n) - rows
        return _global(n, window, n_global, causal) + int(np.minimum(n_random, left).sum())
    raise ValueError(f"No grid of score cells for {kind!r}.")


def layer_cost(kind: str, n: int, n_heads: int, d_head: int, **pattern) -> dict[str, int]:
    """Multiply-adds and memory of one attention layer for n tokens (see the module docstring).

    Keys: "qk" (Q·Kᵀ, or φ(K)ᵀV for linear), "pv" (pattern·V, or φ(Q)·S), "memory" (score cells,
    or the state S), "dense_qk" (what a kernel that computes every cell and then masks pays).
    """
    h, d = n_heads, d_head
    if kind.startswith("linear"):
        return {"qk": h * n * d * d, "pv": h * n * d * d, "memory": h * d * d, "dense_qk": h * n * d * d}
    k = kept_cells(kind, n, **pattern)
    return {"qk": h * k * d, "pv": h * k * d, "memory": h * k, "dense_qk": h * n * n * d}


def pattern_settings(cfg) -> dict[str, int]:
    return {"window": cfg.window, "stride": cfg.stride, "n_global": cfg.n_global, "n_random": cfg.n_random}


def curves(cfg, lengths, causal: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """layer_cost of every pattern at each length, with the model's heads and pattern numbers.

    `causal` picks each pattern's causal form (a decoder) or its symmetric one (an encoder).
    Returns {pattern name: {"qk" | "pv" | "memory" | "dense_qk": [len(lengths)]}}.
    """
    out = {}
    for name in PATTERN_KINDS:
        if causal and name == "full" or not causal and name == "causal":
            continue
        kind = name if name in ("full", "causal") else kind_for(name, causal)
        costs = [layer_cost(kind, int(n), cfg.n_heads, cfg.d_head, **pattern_settings(cfg)) for n in lengths]
        out[name] = {key: np.array([c[key] for c in costs], dtype=float) for key in costs[0]}
    return out


def cell_report(trace) -> list[dict]:
    """For each attention of the current trace: score cells each head computes and keeps.

    Each entry: step (the mask step, or linear attention's output), n_q, n_k, computed, kept
    (per head, counted from the mask array itself) and thrown (the share the mask throws away).
    Linear attention computes no grid: its entry has computed = kept = 0 and `state` = d_head².
    """
    rows = []
    for node in trace.graph.nodes:
        if node.op == "mask":
            grid = trace[node.name][0]  # [q_pos, k_pos], one head: every head has the same mask
            computed, kept = grid.size, int(np.isfinite(grid).sum())
            rows.append({"step": node.name, "n_q": grid.shape[0], "n_k": grid.shape[1], "computed": computed,
                         "kept": kept, "thrown": 1 - kept / computed, "kind": node.attrs["kind"]})
        elif node.op == "linear_out":
            d = trace[node.name].shape[-1]
            n = trace[node.name].shape[0]
            rows.append({"step": node.name, "n_q": n, "n_k": n, "computed": 0, "kept": 0, "thrown": 0.0,
                         "kind": "linear", "state": d * d})
    return rows


# --- the engine's own attention, timed ---

def attention_steps(kind: str, attrs: dict, d_head: int) -> list[tuple[str, list[str], dict, str]]:
    """The forward ops of one layer's heads, as (op, inputs, attrs, output), from q, k, v to z."""
    if kind.startswith("linear"):
        causal = {"causal": kind == "linear"}
        return [("feature_map", ["q"], {}, "phi_q"), ("feature_map", ["k"], {}, "phi_k"),
                ("kv_state", ["phi_k", "v"], causal, "S"), ("k_sum", ["phi_k"], causal, "z_sum"),
                ("linear_out", ["phi_q", "S", "z_sum"], {}, "z")]
    return [("scores", ["q", "k"], {}, "scores"), ("scale", ["scores"], {"sqrt_d": math.sqrt(d_head)}, "scaled"),
            ("mask", ["scaled"], {**attrs, "kind": kind}, "masked"), ("softmax", ["masked"], {"axis": -1}, "pattern"),
            ("mix", ["pattern", "v"], {}, "z")]


def run_attention(kind: str, q: np.ndarray, k: np.ndarray, v: np.ndarray, attrs: dict) -> dict[str, np.ndarray]:
    """One layer's heads through the engine's own ops  # q, k, v [pos, head, d_head]; returns every value"""
    values = {"q": q, "k": k, "v": v}
    for op, inputs, a, out in attention_steps(kind, attrs, q.shape[-1]):
        values[out] = FORWARD[op]([values[i] for i in inputs], [], a)
    return values


def time_attention(kind: str, n: int, n_heads: int, d_head: int, attrs: dict, repeats: int = 5,
                   seed: int = 0) -> float:
    """The median wall time, in seconds, of `run_attention` on random q, k, v of n tokens."""
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((n, n_heads, d_head)) for _ in range(3))
    run_attention(kind, q, k, v, attrs)  # warm the caches (the mask of this size, numpy's kernels)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_attention(kind, q, k, v, attrs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


__all__ = ["PATTERN_KINDS", "attention_steps", "cell_report", "curves", "kept_cells", "layer_cost",
           "pattern_settings", "run_attention", "time_attention"]
