"""Picking the next token: temperature, top-k, top-p (nucleus) and a seeded draw, every stage kept.

`sample(logits, temperature, top_k, top_p, rng)` returns a `Sampling` holding each stage, so a
view can draw the distribution before and after each control and an explanation can write the
calculation out. The order is the usual one (Holtzman et al., 2020, for top-p):

    probs   = softmax(logits / T)
    top-k   keeps the k most likely tokens, then renormalises
    top-p   keeps the most likely tokens until their probability reaches p, then renormalises
    draw    a uniform number u in [0, 1) picks the token whose stretch of the line contains it,
            the tokens lined up from most to least likely

Greedy decoding is top-k = 1: one token is left and it is drawn with probability 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ops import softmax


def check_settings(temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None) -> None:
    """Raise ValueError, saying what is allowed, for a bad temperature, top-k or top-p."""
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        t = float("nan")
    if not (np.isfinite(t) and t > 0):
        raise ValueError(f"The temperature must be a number above 0; got {temperature!r}. "
                         "Use top-k = 1 for the always-most-likely (greedy) choice.")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise ValueError(f"top-k must be a whole number of at least 1 (1 is greedy); got {top_k!r}.")
    if top_p is not None:
        try:
            p = float(top_p)
        except (TypeError, ValueError):
            p = float("nan")
        if not (0 < p <= 1):
            raise ValueError(f"top-p must be above 0 and at most 1 (1 keeps every token); got {top_p!r}.")


@dataclass(frozen=True)
class Sampling:
    """Every stage of one choice of next token  # each array is [d_vocab]"""

    logits: np.ndarray
    temperature: float
    scaled: np.ndarray  # logits / T
    probs: np.ndarray  # softmax(logits / T)
    top_k: int | None
    after_k: np.ndarray  # probs with the tokens cut by top-k set to 0, renormalised
    top_p: float | None
    after_p: np.ndarray  # after_k with the tokens cut by top-p set to 0, renormalised: the final distribution
    order: np.ndarray  # token ids from most to least likely (ties: lower id first)
    draw: float  # the uniform number u in [0, 1)
    token: int  # the token drawn

    @property
    def cut_by_k(self) -> np.ndarray:
        """Tokens top-k removed (bool)."""
        return (self.probs > 0) & (self.after_k == 0) if self.top_k is not None else np.zeros(len(self.probs), bool)

    @property
    def cut_by_p(self) -> np.ndarray:
        """Tokens top-p removed among those top-k kept (bool)."""
        return (self.after_k > 0) & (self.after_p == 0)

    @property
    def kept(self) -> np.ndarray:
        return self.after_p > 0


def _keep(probs: np.ndarray, keep: np.ndarray) -> np.ndarray:
    out = np.where(keep, probs, 0.0)
    return out / out.sum()


def sample(logits, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
           rng: np.random.Generator | None = None, draw: float | None = None) -> Sampling:
    """Choose the next token from `logits` [d_vocab]; `draw` (a number in [0, 1)) replaces the random one."""
    check_settings(temperature, top_k, top_p)
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 1 or not len(logits) or not np.isfinite(logits).all():
        raise ValueError("The logits must be a non-empty row of finite numbers.")
    t = float(temperature)
    scaled = logits / t
    probs = softmax(scaled.copy())
    order = np.lexsort((np.arange(len(probs)), -probs))  # most likely first; ties by token id
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(len(order))
    after_k = probs if top_k is None else _keep(probs, rank < top_k)
    if top_p is None:
        after_p = after_k
    else:
        sorted_p = after_k[order]
        before = np.concatenate([[0.0], np.cumsum(sorted_p)[:-1]])  # probability of the tokens ahead
        keep_sorted = (before < float(top_p)) & (sorted_p > 0)
        keep_sorted[0] = True  # the most likely token always stays
        keep = np.zeros(len(probs), dtype=bool)
        keep[order] = keep_sorted
        after_p = _keep(after_k, keep)
    if draw is None:
        draw = float((rng if rng is not None else np.random.default_rng()).random())
    elif not 0 <= draw < 1:
        raise ValueError(f"The draw must be in [0, 1); got {draw!r}.")
    line = np.cumsum(after_p[order])
    i = int(np.searchsorted(line, draw, side="right"))
    kept_positions = np.flatnonzero(after_p[order] > 0)
    i = min(i, int(kept_positions[-1]))  # rounding can leave the line's end a hair below 1
    return Sampling(logits, t, scaled, probs, None if top_k is None else int(top_k), after_k,
                    None if top_p is None else float(top_p), after_p, order, float(draw), int(order[i]))


def describe(s: Sampling, vocab) -> str:
    """The calculation written out in words and numbers (for the explanation panel)."""
    def name(i: int) -> str:
        tok = vocab[i]
        return "'␣'" if tok == " " else repr(tok)

    top = list(s.order[:5])
    lines = ["1. Logits of the most likely tokens: " + ", ".join(f"{name(i)} {s.logits[i]:.3f}" for i in top) + ".",
             f"2. Divide by the temperature T = {s.temperature:g}: " + ", ".join(
                 f"{name(i)} {s.scaled[i]:.3f}" for i in top)
             + (". T < 1 stretches the gaps (sharper), T > 1 shrinks them (flatter)." if s.temperature != 1 else
                " (T = 1 changes nothing)."),
             "3. Softmax: p_i = exp(z_i) / Σ_j exp(z_j): "
             + ", ".join(f"{name(i)} {s.probs[i]:.3f}" for i in top) + "."]
    if s.top_k is None:
        lines.append("4. Top-k is off: every token stays.")
    else:
        n_cut = int(s.cut_by_k.sum())
        lines.append(f"4. Top-k = {s.top_k}: keep the {s.top_k} most likely, cut {n_cut}; the kept "
                     f"probabilities (sum {s.probs[s.after_k > 0].sum():.3f}) are divided by their sum.")
    if s.top_p is None:
        lines.append("5. Top-p is off: every remaining token stays.")
    else:
        kept = [i for i in s.order if s.after_p[i] > 0]
        lines.append(f"5. Top-p = {s.top_p:g}: going down the list, keep tokens until their probabilities "
                     f"add up to {s.top_p:g}: {len(kept)} kept, {int(s.cut_by_p.sum())} cut; divide by "
                     f"{s.after_k[kept].sum():.3f}.")
    kept = [i for i in s.order if s.after_p[i] > 0]
    lines.append("6. Final probabilities: " + ", ".join(f"{name(i)} {s.after_p[i]:.3f}" for i in kept[:6])
                 + (" …" if len(kept) > 6 else "") + ".")
    lines.append(f"7. Draw u = {s.draw:.3f}: lined up from most to least likely, the tokens cover [0, 1); "
                 f"u falls in the stretch of {name(s.token)} (p = {s.after_p[s.token]:.3f}), so it is appended.")
    return "\n".join(lines)


__all__ = ["Sampling", "check_settings", "describe", "sample"]
