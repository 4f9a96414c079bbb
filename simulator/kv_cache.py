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

import math
import weakref
from types import MappingProxyType

import numpy as np

from .ops import (
    FORWARD,
    allowed_for,
    dot_scores,
    key_columns,
    mix_block,
    mix_rows,
    pattern_rows,
    rope,
    score_blocks,
    step_row_block,
)
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


# Growing steps live in buffers with room to grow; a trace holds read-only views of their leading
# part. Appending writes only the new cells into the buffer, so the earlier ones are never copied.
# A buffer remembers how many rows its newest view covers: a second append to an older trace (after
# an undo, say) would overwrite cells another trace shows, so it copies into a fresh buffer instead.
# Rows [pos, ...] get room for n_ctx positions at once. Attention grids [head, q, k] grow along two
# axes, so they get a quarter more room each time they fill (a full n_ctx × n_ctx grid per head
# would be gigabytes for a large model); their views are not contiguous, and every picture copies
# what it draws anyway.
_claimed: dict[int, int] = {}  # id(buffer) -> rows in use


def _buffer_for(old: np.ndarray, axes: tuple[int, ...], grow: tuple[int, ...], capacity: int,
                grid: bool = False) -> np.ndarray:
    """A writable buffer whose leading part is `old`, with room for `grow` more along `axes`."""
    buf = old.base
    # only our own buffers are in _claimed, and their views all start at the buffer's first cell
    if buf is not None and _claimed.get(id(buf)) == old.shape[axes[0]]:
        for a, g in zip(axes, grow):  # a plain loop: this runs for every step of every append
            if buf.shape[a] < old.shape[a] + g:
                break
        else:
            return buf
    shape = list(old.shape)
    for a, g in zip(axes, grow):
        room = old.shape[a] + max(g, old.shape[a] // 4) if grid else capacity
        shape[a] = max(min(room, capacity), old.shape[a] + g)
    buf = np.empty(shape, old.dtype)  # a float32 model keeps float32 steps
    buf[tuple(slice(0, m) for m in old.shape)] = old
    key = id(buf)
    weakref.finalize(buf, _claimed.pop, key, None)
    return buf


def _claim(buf: np.ndarray, view: np.ndarray, rows: int) -> np.ndarray:
    _claimed[id(buf)] = rows
    view.flags.writeable = False
    return view


def _grow_rows(old: np.ndarray, new_rows: np.ndarray, capacity: int) -> np.ndarray:
    n, k = len(old), len(new_rows)
    buf = _buffer_for(old, (0,), (k,), capacity)
    buf[n:n + k] = new_rows
    return _claim(buf, buf[:n + k], n + k)


def _grow_grid(old: np.ndarray, row: np.ndarray, col: np.ndarray | None, capacity: int) -> np.ndarray:
    """[head, q, k] grid `old` with new query rows `row` [head, dq, k'] and new key columns `col` [head, q, dk]."""
    h, nq, nk = old.shape
    dq, dk = row.shape[1], 0 if col is None else col.shape[2]
    axes, grow = ((1, 2), (dq, dk)) if dk else ((1,), (dq,))
    buf = _buffer_for(old, axes, grow, max(capacity, nk + dk), grid=True)
    buf[:, nq:nq + dq, :nk + dk] = row
    if col is not None:
        buf[:, :nq, nk:nk + dk] = col
    return _claim(buf, buf[:, :nq + dq, :nk + dk], nq + dq)


def _append_node(node, xs, ps, old, grew: list[tuple[int, ...]], cap: int
                 ) -> tuple[np.ndarray, tuple[int, ...], tuple[np.ndarray, ...]]:
    """The node's new value from its old one and its (partly grown) inputs, which axes grew, and the
    cells just computed (for the overflow check)."""
    op, a = node.op, node.attrs
    if op in LOOKUP_OPS:
        v = FORWARD[op](xs, ps, a)
        v.flags.writeable = False
        return v, (0,), (v[len(old):],)
    if op in ROW_OPS or op == "rope":
        n = len(old)
        # a matrix product recomputes the block of rows its full run computed the new row in (where BLAS
        # allows, a block is one row)
        b0 = n - n % step_row_block(op, ps, a) if op in ("linear", "proj_heads") else n
        part = [x[b0:] if g else x for x, g in zip(xs, grew)]
        new = (rope(part[0], start=b0) if op == "rope" else FORWARD[op](part, ps, a))[n - b0:]
        return _grow_rows(old, new, cap), (0,), (new,)
    if op == "scores":
        q, k = xs
        q_grew, k_grew = bool(grew[0]), bool(grew[1])
        if not q_grew:
            raise CacheMiss("the keys grew but the queries did not")
        nq, nk = old.shape[1], old.shape[2]
        n_keys = a.get("n_keys", 0)
        rows, tile = score_blocks(n_keys, len(k), q.shape[2], q.dtype)
        b0 = nq - nq % rows
        row = dot_scores(q[b0:], k, n_keys)[:, nq - b0:]  # the new query against every key
        # The earlier queries against the new key: masked later, but part of the picture of Q·Kᵀ,
        # computed as a full run computes them (the tile of keys holding the new one; where BLAS
        # allows, the new key alone).
        k0 = nk - nk % tile
        col = key_columns(q[:nq], k[k0:], n_keys)[:, :, nk - k0:] if k_grew else None
        return _grow_grid(old, row, col, cap), ((1, 2) if k_grew else (1,)), _pieces(row, col)
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
        return _grow_grid(old, row, col, cap), grew[0], _pieces(row, col)
    if op == "softmax" and "n_keys" in a:
        s = xs[0]
        nq, nk = old.shape[1], old.shape[2]
        k_grew = 2 in grew[0]
        if k_grew and not np.all(s[:, :nq, nk:] == -np.inf):
            raise CacheMiss("an earlier token can see the new one")
        row = pattern_rows(s[:, nq:], a["n_keys"])
        col = np.zeros((old.shape[0], nq, s.shape[2] - nk), old.dtype) if k_grew else None
        return _grow_grid(old, row, col, cap), grew[0], _pieces(row, col)
    if op == "mix":
        pattern, v = xs
        n = len(old)
        n_keys = a.get("n_keys", 0)
        b0 = n - n % mix_block(n_keys, v.shape[2], v.dtype)
        new = mix_rows(pattern[:, b0:], v, n_keys)[n - b0:]
        return _grow_rows(old, new, cap), (0,), (new,)
    raise CacheMiss(f"the {op} step is not cached")


def _pieces(row: np.ndarray, col: np.ndarray | None) -> tuple[np.ndarray, ...]:
    return (row,) if col is None else (row, col)


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
    cap = model.config.n_ctx
    with np.errstate(over="ignore", invalid="ignore"):
        for node in model.graph.nodes:
            kinds = [grew.get(i, ()) for i in node.inputs]
            if not any(kinds):
                continue  # keeps its very array: nothing it reads has a new row
            v, axes, new = _append_node(node, [values[i] for i in node.inputs], [params[p] for p in node.params],
                                        values[node.name], kinds, cap)
            for part in new:  # one sum is finite in the usual case; else the full check
                if not math.isfinite(np.add.reduce(part, axis=None)) and _overflowed(node.op, part):
                    raise NumericOverflowError(node.name)
            values[node.name] = v
            grew[node.name] = axes
    return Trace(model.graph, values, MappingProxyType(dict(params)), toks)


__all__ = ["CacheMiss", "append", "cacheable"]
