"""The depth dimension of a trace: the residual stream's points, the sublayer outputs,
and how much each sublayer's input draws on each earlier output.

Numbering as in the Attention Residuals paper: v_0 is the embedding (plus position),
v_i the output of sublayer i (attention, MLP, attention, …; a decoder fed by an encoder
also counts its cross-attention), h_l the input of sublayer l before its norm, and
h_{n+1} the stream that is read out. Every mode writes h_l = Σ_i c_{l,i} · v_i:
c is 1 below the diagonal for a standard stream, 1 on v_{l-1} alone with no skips, a
product of α's for DenseFormer, and the softmax weights for Attention Residuals.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import DEPTH_MODES
from .model import Transformer
from .trace import Trace


@dataclass(frozen=True)
class DepthMap:
    """A lower-triangular map over depth, drawn like a sequence attention pattern."""

    values: np.ndarray  # [consumer, source]
    rows: list[str]  # consumers: the sublayers (or DenseFormer's averages) that read the stream
    cols: list[str]  # sources: v_0, v_1, … (or DenseFormer's block outputs X_0, X_1, …)
    title: str
    note: str = ""  # what the numbers mean in this mode, for the caption


def stack_prefix(trace: Trace) -> str:
    """The stack whose depth is shown: the decoder of an encoder-decoder model, else the only one."""
    return "decoder." if trace.graph.config.arch == "encoder-decoder" else ""


def n_layers(trace: Trace, prefix: str = "") -> int:
    return trace.graph.config.n_layers


def residual_mode(trace: Trace, prefix: str = "") -> str:
    """Which residual mode built this trace's graph (from the config the graph keeps)."""
    cfg = trace.graph.config
    if cfg.residual == "block_attnres" and cfg.depth_blocks == cfg.n_sublayers:
        return "attnres"  # one sublayer per block is Full Attention Residuals, and computes exactly the same
    return cfg.residual


SUBLAYER_LABELS = {"attn": "attn", "cross_attn": "cross", "mlp": "mlp"}


def _sublayers(trace: Trace, prefix: str) -> list[tuple[str, str, str]]:
    """(label, output name, input name) of sublayers 1..n, then ("out", "", read-out input)."""
    graph = trace.graph
    cross = graph.config.arch == "encoder-decoder" and prefix == "decoder."
    reads = {"attn": "hook_resid_pre", "cross_attn": "hook_resid_mid",
             "mlp": "hook_resid_mid2" if cross else "hook_resid_mid"}  # the stream each sublayer reads
    rows = [(f"{SUBLAYER_LABELS[n.sublayer]} {n.layer}", n.name, f"{prefix}blocks.{n.layer}.{reads[n.sublayer]}")
            for n in graph.nodes if n.role in ("attn_out", "mlp_out") and n.stack == prefix.rstrip(".")]
    last = f"{prefix}blocks.{graph.config.n_layers - 1}."
    readout = last + ("dwa.hook_mixed" if graph.config.residual == "denseformer" else "hook_resid_post")
    rows.append(("out", "", readout))
    return rows


def sublayer_outputs(trace: Trace, prefix: str | None = None) -> list[tuple[str, str, np.ndarray]]:
    """v_0 … v_n as (label, step name, value [pos, d_model])."""
    p = stack_prefix(trace) if prefix is None else prefix
    rows = [("embed", f"{p}blocks.0.hook_resid_pre")]
    rows += [(label, out) for label, out, _ in _sublayers(trace, p)[:-1]]
    return [(label, name, trace[name]) for label, name in rows]


def sublayer_inputs(trace: Trace, prefix: str | None = None) -> list[tuple[str, str, np.ndarray]]:
    """h_1 … h_{n+1} (the last is the read-out) as (reader's label, step name, value [pos, d_model])."""
    p = stack_prefix(trace) if prefix is None else prefix
    return [(label, name, trace[name]) for label, _, name in _sublayers(trace, p)]


def _point_label(layer: int, kind: str, node) -> str:
    """"pre 0", "mid 1", "dwa 0", or, where the stream is a mix over depth, the sublayer it feeds."""
    if node.role == "depth_mixed":
        return "→out" if node.layer is None else f"→{'mlp' if kind == 'mid' else 'attn'} {node.layer}"
    if node.role == "dwa":
        return f"dwa {node.layer}"
    return f"{kind} {layer}"


def residual_stream(trace: Trace, pos: int, prefix: str | None = None) -> list[tuple[str, str, np.ndarray]]:
    """The stream at every depth point for token `pos`: (label, step name, vector [d_model]).

    The points are each block's resid_pre, resid_mid (and resid_mid2), resid_post, and
    DenseFormer's averages; in the Attention-Residual modes those names are the depth mixes.
    A point that is the same step as an earlier one (resid_post l is resid_pre l+1) appears once.
    """
    p = stack_prefix(trace) if prefix is None else prefix
    _check_pos(trace, pos, p)
    points_at = [(layer, kind, f"{p}blocks.{layer}.{leaf}") for layer in range(n_layers(trace, p))
                 for kind, leaf in (("pre", "hook_resid_pre"), ("mid", "hook_resid_mid"),
                                    ("mid2", "hook_resid_mid2"), ("post", "hook_resid_post"),
                                    ("dwa", "dwa.hook_mixed"))]
    seen: set[str] = set()
    points = []
    for layer, kind, name in points_at:
        if name not in trace:
            continue
        node = trace.graph.node(name)
        if node.name in seen:
            continue
        seen.add(node.name)
        points.append((_point_label(layer, kind, node), name, trace[name][pos]))
    return points


def _check_pos(trace: Trace, pos: int, prefix: str) -> None:
    n = len(trace[f"{prefix}blocks.0.hook_resid_pre"])
    if not (isinstance(pos, (int, np.integer)) and 0 <= pos < n):
        raise IndexError(f"Token position {pos!r} is outside 0..{n - 1}.")


def _alphas(model: Transformer, prefix: str) -> list[np.ndarray]:
    stack = prefix.rstrip(".")
    return [model.params[n.params[0]] for n in model.graph.nodes if n.role == "dwa" and n.stack == stack]


def coefficients(model: Transformer, trace: Trace, pos: int, prefix: str | None = None) -> np.ndarray:
    """c[l-1, i]: the weight of v_i in h_l for token `pos`, so h_l = Σ_i c[l-1, i]·v_i  # [n+1, n+1]

    With post-LN the stream is renormalised after each add, so the unit weights of a
    standard stream hold only up to that rescaling.
    """
    p = stack_prefix(trace) if prefix is None else prefix
    _check_pos(trace, pos, p)
    mode = residual_mode(trace, p)
    n = len(_sublayers(trace, p)) - 1
    c = np.zeros((n + 1, n + 1))  # [consumer, source]
    if mode == "standard":
        c[np.tril_indices(n + 1)] = 1.0
    elif mode == "none":
        c[np.diag_indices(n + 1)] = 1.0
    elif mode == "denseformer":
        unit = np.eye(n + 1)
        y, xs, rows = unit[0], [unit[0]], []  # coefficient vectors of Y_{j-1}, X_0..X_j
        for j, alpha in enumerate(_alphas(model, p)):
            mid = y + unit[2 * j + 1]
            rows += [y, mid]
            xs.append(mid + unit[2 * j + 2])
            y = sum(a * x for a, x in zip(alpha, xs))
        c = np.stack(rows + [y])
    else:
        graph = trace.graph
        # the depth attentions in forward order: before each sublayer, then before the read-out
        weights = [n for n in graph.nodes if n.role == "depth_weights" and n.stack == p.rstrip(".")]
        for row, node in enumerate(weights):
            groups = graph.node(node.inputs[0]).attrs["groups"]
            for w, group in zip(trace[node.name][:, pos], groups):  # [source]
                c[row, list(group)] = w
    return c


def depth_map(model: Transformer, trace: Trace, pos: int, prefix: str | None = None) -> DepthMap:
    """The map over depth for token `pos`, rows the consumers and columns the sources.

    All ones below the diagonal for a standard stream; only the previous output with no
    skips; DenseFormer's α matrix (rows: the average after each block; columns: the
    embedding and the block outputs); the softmax weights for Attention Residuals, with a
    block's weight repeated on each output summed into that block.
    """
    p = stack_prefix(trace) if prefix is None else prefix
    mode = residual_mode(trace, p)
    if mode == "denseformer":
        alphas = _alphas(model, p)
        L = len(alphas)
        values = np.zeros((L, L + 1))
        for j, alpha in enumerate(alphas):
            values[j, : j + 2] = alpha
        return DepthMap(values, [f"after block {j}" for j in range(L)],
                        ["embed"] + [f"block {j}" for j in range(L)], "DenseFormer weights α",
                        "The weights are learned numbers, not normalised; 1 on the newest block and 0 "
                        "elsewhere is the standard stream.")
    c = coefficients(model, trace, pos, p)
    subs = _sublayers(trace, p)
    rows = [label for label, _, _ in subs]
    cols = ["embed"] + rows[:-1]
    notes = {
        "standard": ("Standard residual stream", "Every sublayer reads the plain sum of all earlier "
                     "outputs: weight 1 each, whatever the token."),
        "none": ("No residual connection", "Each sublayer reads only the output just before it."),
        "attnres": ("Attention over depth", "Softmax weights: each row is positive and sums to 1, "
                    "chosen per token by that sublayer's pseudo-query."),
        "block_attnres": ("Block attention over depth", "Softmax weights over the embedding and the "
                          "block sums; every output in a block gets its block's weight."),
    }
    title, note = notes[mode]
    if mode == "standard" and trace.graph.config.norm == "post":  # the sums are renormalised
        note += " With post-LN each sum is renormalised, so the weights hold up to that rescaling."
    return DepthMap(c, rows, cols, title, note)


def shares(model: Transformer, trace: Trace, pos: int, prefix: str | None = None) -> list[tuple[str, float]]:
    """Each output's share of the stream just after it: ‖c·v_i‖ / ‖h_{i+1}‖ for token `pos`.

    c is the weight the next sublayer gives v_i (1 in a standard stream, where the shares
    fall with depth as the sum grows: later layers are diluted). A zero stream gives 0.
    """
    p = stack_prefix(trace) if prefix is None else prefix
    c = coefficients(model, trace, pos, p)
    outs = sublayer_outputs(trace, p)
    ins = sublayer_inputs(trace, p)
    result = []
    for i, ((label, _, v), (_, _, h)) in enumerate(zip(outs, ins)):
        top = abs(c[i, i]) * float(np.linalg.norm(v[pos]))
        bottom = float(np.linalg.norm(h[pos]))
        result.append((label, top / bottom if bottom > 0 else 0.0))
    return result


def with_residual(model: Transformer, residual: str) -> Transformer:
    """The same model with another residual mode, sharing every parameter both have.

    The depth modes need pre-norm, so they get it; parameters only the new mode has take
    their seeded start values (pseudo-queries 0, DenseFormer α the identity), which make
    the new model compute what the old one does. Raises ValueError for an impossible mode.
    """
    cfg = model.config
    if residual == cfg.residual:
        return model
    new_cfg = cfg.replace(residual=residual, norm="pre" if residual in DEPTH_MODES else cfg.norm)
    fresh = Transformer(new_cfg, seed=model.seed)
    params = dict(fresh.params)
    params.update({k: v for k, v in model.params.items() if fresh.shapes.get(k) == v.shape})
    return Transformer(new_cfg, seed=model.seed, params=params)


__all__ = ["DepthMap", "with_residual", "stack_prefix", "n_layers", "residual_mode", "sublayer_outputs",
           "sublayer_inputs", "residual_stream", "coefficients", "depth_map", "shares"]
