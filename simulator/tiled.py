"""Tiled attention with the online softmax: FlashAttention's idea (Dao et al., 2022), step by step.

One head's output softmax(q·kᵀ/√d)·v is computed one block of keys at a time. Only that block's
scores exist at any moment; for each query the walk keeps a running maximum m, a running sum ℓ of
exponentials and a running, unnormalised output acc:

    s      = q·k_blockᵀ / √d                      (masked cells −∞)
    m_new  = max(m, rowmax(s))
    α      = exp(m − m_new)                       the old terms were scaled by e^−m: rescale them
    p      = exp(s − m_new)
    ℓ      = α·ℓ + rowsum(p)
    acc    = α·acc + p·v_block
    out    = acc / ℓ                              after the last block

Because exp(x − m_new) = exp(x − m)·exp(m − m_new), multiplying by α makes every earlier term as if
it had been computed with the new maximum, so the result is the full softmax attention exactly
(up to rounding). `walk` yields the state after each block; `State.memory` counts the numbers held
besides q, k, v and the output: one block's scores and weights, and m and ℓ — against the 2·n_q·n_k
scores and weights of the whole grid.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class State:
    """The walk after `block` blocks of keys (block 0: before any)."""

    block: int  # blocks done
    keys: tuple[int, int]  # [start, stop) of the key block just read ((0, 0) before any)
    scores: np.ndarray  # [q_pos, keys in the block] this block's scaled, masked scores: the only ones held
    m: np.ndarray  # [q_pos] running maximum of the scores seen (−∞ before any)
    total: np.ndarray  # [q_pos] ℓ, the running sum of exp(score − m)
    acc: np.ndarray  # [q_pos, d_v] running Σ exp(score − m)·v
    alpha: np.ndarray  # [q_pos] the rescaling exp(m_old − m_new) this block applied
    memory: int  # numbers held besides q, k, v and the output acc: the block's scores and weights, m, ℓ
    peak: int  # the largest `memory` so far
    done: bool  # every key block has been read

    def output(self) -> np.ndarray:
        """acc / ℓ: the attention output so far (final once `done`)  # [q_pos, d_v]"""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.acc / self.total[:, None]


def _allowed(n_q: int, n_k: int, causal: bool, allowed: np.ndarray | None) -> np.ndarray | None:
    """Which keys each query sees  # [q_pos, k_pos] bool, or None for all"""
    if allowed is not None:
        return np.asarray(allowed, dtype=bool)
    return np.tril(np.ones((n_q, n_k), dtype=bool)) if causal else None


def full_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool = False,
                   allowed: np.ndarray | None = None) -> np.ndarray:
    """softmax(q·kᵀ/√d, masked)·v with the whole grid at once  # q [q_pos, d], k, v [k_pos, d] -> [q_pos, d_v]

    `allowed` [q_pos, k_pos] (any mask, e.g. `patterns.allowed`) overrides `causal`.
    """
    s = q @ k.T / math.sqrt(q.shape[-1])
    ok = _allowed(len(q), len(k), causal, allowed)
    if ok is not None:
        s = np.where(ok, s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)) @ v


def walk(q: np.ndarray, k: np.ndarray, v: np.ndarray, block: int, causal: bool = False,
         allowed: np.ndarray | None = None) -> Iterator[State]:
    """The states of the tiled computation, from before the first block to after the last.

    q [q_pos, d], k [k_pos, d], v [k_pos, d_v]; `block` keys are read at a time. Causal: query i
    sees keys 0…i only; `allowed` [q_pos, k_pos] (any mask) overrides it.
    """
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"The block size must be a whole number ≥ 1; got {block!r}.")
    n_q, n_k, d_v = len(q), len(k), v.shape[-1]
    scale = math.sqrt(q.shape[-1])
    m = np.full(n_q, -np.inf)
    total = np.zeros(n_q)
    acc = np.zeros((n_q, d_v))
    kept = 2 * n_q  # m and ℓ: held from start to end (acc is the output, which full attention holds too)
    n_blocks = -(-n_k // block)
    yield State(0, (0, 0), np.zeros((n_q, 0)), m, total, acc, np.ones(n_q), kept, kept, n_blocks == 0)
    peak = kept
    ok = _allowed(n_q, n_k, causal, allowed)
    for b in range(n_blocks):
        lo, hi = b * block, min(n_k, (b + 1) * block)
        s = q @ k[lo:hi].T / scale  # [q_pos, hi − lo]
        if ok is not None:
            s = np.where(ok[:, lo:hi], s, -np.inf)
        m_new = np.maximum(m, s.max(1))
        seen = np.isfinite(m_new)  # a query with no key yet keeps m = −∞, ℓ = 0, acc = 0
        safe = np.where(seen, m_new, 0.0)
        alpha = np.where(np.isfinite(m), np.exp(np.where(seen, m - safe, 0.0)), 0.0)
        p = np.exp(s - safe[:, None])  # exp(−∞) = 0: masked keys add nothing
        total = alpha * total + p.sum(1)
        acc = alpha[:, None] * acc + p @ v[lo:hi]
        m = m_new
        memory = kept + 2 * s.size  # the block's scores and their exponentials
        peak = max(peak, memory)
        yield State(b + 1, (lo, hi), s, m, total, acc, alpha, memory, peak, b + 1 == n_blocks)


def tiled_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, block: int, causal: bool = False,
                    allowed: np.ndarray | None = None) -> np.ndarray:
    """The output of the last state of `walk`  # [q_pos, d_v]"""
    *_, last = walk(q, k, v, block, causal, allowed)
    return last.output()


def head_inputs(trace, attn: str, head: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One head's q, k, v from a trace (rotated q and k with RoPE)  # attn e.g. "blocks.0.attn." """
    names = trace.graph.index
    q = attn + ("hook_rot_q" if attn + "hook_rot_q" in names else "hook_q")
    k = attn + ("hook_rot_k" if attn + "hook_rot_k" in names else "hook_k")
    return trace[q][:, head], trace[k][:, head], trace[attn + "hook_v"][:, head]


__all__ = ["State", "full_attention", "head_inputs", "tiled_attention", "walk"]
