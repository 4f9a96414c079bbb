"""A KV cache: appending one token computes only that token's row of every step.

In a causal model a token never sees later ones, so when a token is appended the rows of the
earlier positions cannot change: their keys and values (and every other row) are reused from the
previous trace, and each step computes only the new position's row. The attention grids grow by a
row (the new query against every key) and, for self-attention, a column (the earlier queries
against the new key: masked to −∞, so it changes no earlier row; it is computed so the pictures of
the raw scores stay complete).

The result is bit-for-bit the trace a full rerun makes (tests/simulator/test_kv_cache.py checks
every step): `simulator.ops` computes each row in products of a fixed shape so that a row never
depends on how many rows follow it. Depth-mixing residual modes and attention that sees the future
are not cached (`CacheMiss`); callers then run the model again in full.
"""
from __future__ import annotations

import weakref
from types import MappingProxyType

import numpy as np

from .ops import FORWARD, ROW_BLOCK, allowed_for, dot_scores, mix_rows, pattern_rows, rope, row_block
from .trace import Trace

ROW_OPS = ("embed", "add", "layernorm", "proj_heads", "linear", "act", "concat", "probs", "dwa")
LOOKUP_OPS = ("pos_sinusoidal", "pos_learned")  # a position's row is read from a table


class CacheMiss(ValueError):
    """This model or edit cannot reuse the cached rows; run the model in full instead."""


def cacheable(model) -> str | None:
    """Why `model` cannot use the cache, or None if it can."""
    cfg = model.config
    if cfg.arch == "encoder":
        return "an encoder reads its whole input at once, so a new token changes every row"
    if cfg.attention == "full":
        return "this decoder can see the future, so a new token changes the earlier rows"
    if cfg.residual in ("attnres", "block_attnres"):
        return f"the {cfg.residual} residual mode is not cached (its depth weights are computed per run)"
    if cfg.attention == "linear":
        return ("linear attention carries its own running state S instead of keys and values, and its steps "
                "are not cached here")
    return None


def _block_start(n: int) -> int:
    return n - n % ROW_BLOCK


# Growing rows live in buffers with room for n_ctx positions; a trace holds read-only views of
# their first rows (contiguous, as the pictures need). Appending writes only the new row into the
# buffer, so the earlier rows are never copied. A buffer remembers how many rows its newest view covers: a second append
# to an older trace (after an undo, say) would overwrite rows another trace shows, so it copies
# into a fresh buffer instead.
_claimed: dict[int, int] = {}  # id(buffer) -> rows in use


def _buffer_for(old: np.ndarray, axes: tuple[int, ...], grow: tuple[int, ...], capacity: int) -> np.ndarray:
    """A writable buffer whose leading part is `old`, with room for `grow` more along `axes`."""
    buf = old.base
    n = old.shape[axes[0]]
    if (isinstance(buf, np.ndarray) and _claimed.get(id(buf)) == n and buf.ndim == old.ndim
            and old.__array_interface__["data"][0] == buf.__array_interface__["data"][0]
            and all(buf.shape[a] >= old.shape[a] + g for a, g in zip(axes, grow))):
        return buf
    shape = list(old.shape)
    for a, g in zip(axes, grow):
        shape[a] = max(capacity, old.shape[a] + g)
    buf = np.empty(shape)
    buf[tuple(slice(0, m) for m in old.shape)] = old
    key = id(buf)
    weakref.finalize(buf, _claimed.pop, key, None)
    return buf


def _view(buf: np.ndarray, shape: tuple[int, ...], rows: int) -> np.ndarray:
    _claimed[id(buf)] = rows
    out = buf[tuple(slice(0, m) for m in shape)]
    out.flags.writeable = False
    return out


def _grow_rows(old: np.ndarray, new_rows: np.ndarray, capacity: int) -> np.ndarray:
    n, k = len(old), len(new_rows)
    buf = _buffer_for(old, (0,), (k,), capacity)
    buf[n:n + k] = new_rows
    return _view(buf, (n + k, *old.shape[1:]), n + k)


def _grow_grid(old: np.ndarray, row: np.ndarray, col: np.ndarray | None) -> np.ndarray:
    """[head, q, k] grid `old` with new query rows `row` [head, dq, k'] and new key columns `col` [head, q, dk].

    A new array: a grid grows along two axes, so a prefix of a bigger buffer would not be contiguous,
    and the pictures hand arrays to Qt, which wants them contiguous.
    """
    h, nq, nk = old.shape
    dk = 0 if col is None else col.shape[2]
    out = np.empty((h, nq + row.shape[1], nk + dk))
    out[:, :nq, :nk] = old
    out[:, nq:, :] = row
    if col is not None:
        out[:, :nq, nk:] = col
    return out


def _append_node(node, xs, ps, old, grew: list[tuple[int, ...]], cap: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """The node's new value from its old one and its (partly grown) inputs, and which axes grew."""
    op, a = node.op, node.attrs
    if op in LOOKUP_OPS:
        return FORWARD[op](xs, ps, a), (0,)
    if op in ROW_OPS or op == "rope":
        n = len(old)
        # a matrix product recomputes the block of rows its full run computed the new row in
        b0 = n - n % row_block(ps[0].size) if op in ("linear", "proj_heads") else n
        part = [x[b0:] if g else x for x, g in zip(xs, grew)]
        new = rope(part[0], start=b0) if op == "rope" else FORWARD[op](part, ps, a)
        return _grow_rows(old, new[n - b0:], cap), (0,)
    if op == "scores":
        q, k = xs
        q_grew, k_grew = bool(grew[0]), bool(grew[1])
        if not q_grew:
            raise CacheMiss("the keys grew but the queries did not")
        nq, nk = old.shape[1], old.shape[2]
        b0 = _block_start(nq)
        row = dot_scores(q[b0:], k, a.get("n_keys", 0))[:, nq - b0:]
        # The earlier queries against the new key: masked later, but part of the picture of Q·Kᵀ.
        col = dot_scores(q[:nq], k, a.get("n_keys", 0))[:, :, nk:] if k_grew else None
        return _grow_grid(old, row, col), ((1, 2) if k_grew else (1,))
    if op in ("scale", "mask"):
        s = xs[0]
        nq, nk = old.shape[1], old.shape[2]
        k_grew = 2 in grew[0]
        if op == "scale":
            row = s[:, nq:] / a["sqrt_d"]
            col = s[:, :nq, nk:] / a["sqrt_d"] if k_grew else None
        else:
            ok = allowed_for(a, s.shape[1], s.shape[2])
            row = np.where(ok[nq:], s[:, nq:], -np.inf)
            col = np.where(ok[:nq, nk:], s[:, :nq, nk:], -np.inf) if k_grew else None
        return _grow_grid(old, row, col), grew[0]
    if op == "softmax" and "n_keys" in a:
        s = xs[0]
        nq, nk = old.shape[1], old.shape[2]
        k_grew = 2 in grew[0]
        if k_grew and not np.all(s[:, :nq, nk:] == -np.inf):
            raise CacheMiss("an earlier token can see the new one")
        row = pattern_rows(s[:, nq:], a["n_keys"])
        col = np.zeros((old.shape[0], nq, s.shape[2] - nk)) if k_grew else None
        return _grow_grid(old, row, col), grew[0]
    if op == "mix":
        pattern, v = xs
        n = len(old)
        b0 = _block_start(n)
        return _grow_rows(old, mix_rows(pattern[:, b0:], v, a.get("n_keys", 0))[n - b0:], cap), (0,)
    raise CacheMiss(f"the {op} step is not cached")


def _new_part(v: np.ndarray, old: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """The cells of `v` that `old` did not have: new rows, and a grid's new row and column."""
    if axes == (0,):
        return v[len(old):]
    nq, nk = old.shape[1], old.shape[2]
    return np.concatenate([v[:, nq:, :].ravel(), v[:, :nq, nk:].ravel()])


def append(model, trace: Trace, tokens) -> Trace:
    """The trace of `tokens`, which must be `trace`'s tokens plus one more (on the decoder side).

    Only the new position's row of each step is computed; everything else is `trace`'s own array.
    Raises CacheMiss when the model or the change does not allow it, TokenError for bad tokens and
    NumericOverflowError like `Transformer.run`.
    """
    from .model import (  # the model module hooks this one into rerun
        NumericOverflowError,
        _overflowed,
    )

    why = cacheable(model)
    if why:
        raise CacheMiss(f"No KV cache: {why}.")
    if trace.graph is not model.graph:
        raise CacheMiss("The trace belongs to another model.")
    if trace.ablate:
        raise CacheMiss("Components are switched off in this trace: it runs again in full.")
    toks = model.tokens(tokens)
    old_toks = trace.tokens
    if isinstance(toks, tuple):
        if toks[0] != old_toks[0]:
            raise CacheMiss("The source changed: the encoder runs again.")
        grown, before, side = toks[1], old_toks[1], "decoder.input_ids"
    else:
        grown, before, side = toks, old_toks, "input_ids"
    if len(grown) != len(before) + 1 or grown[:-1] != list(before):
        raise CacheMiss("The new tokens are not the old ones plus one.")
    values = dict(trace._values)
    values[side] = model._inputs(toks, trace.temperature)[side]
    grew: dict[str, tuple[int, ...]] = {side: (0,)}
    params = model.params
    for node in model.graph.nodes:
        kinds = [grew.get(i, ()) for i in node.inputs]
        if not any(kinds):
            continue  # keeps its very array: nothing it reads has a new row
        old = values[node.name]
        with np.errstate(over="ignore", invalid="ignore"):
            v, axes = _append_node(node, [values[i] for i in node.inputs], [params[p] for p in node.params],
                                   old, kinds, model.config.n_ctx)
            overflowed = _overflowed(node.op, _new_part(v, old, axes))
        if overflowed:
            raise NumericOverflowError(node.name)
        v.flags.writeable = False
        values[node.name] = v
        grew[node.name] = axes
    return Trace(model.graph, values, MappingProxyType(dict(params)), toks)


__all__ = ["CacheMiss", "append", "cacheable"]
