"""Which keys each query may see: the attention masks, their explanations and their formulas.

A mask kind names a pattern and its form. Decoders use the causal form (a query never sees a
later key); encoders the symmetric form, whose name ends in "-full":

- causal / full: every earlier key / every key;
- window, window-full: a band of `window` keys (Beltagy et al., 2020);
- strided, strided-full: the band plus every key a multiple of `stride` away (Child et al., 2019);
- global, global-full: the band plus `n_global` global tokens at the start, which see and are
  seen by every token (Longformer, Beltagy et al., 2020);
- bigbird, bigbird-full: the global pattern plus `n_random` random keys per query (Zaheer et
  al., 2020); query i's random keys are drawn by a generator seeded with (random_seed, i) from
  the keys the pattern does not already keep, so they are the same every run.

Linear attention (`linear`, `linear-full`) has no mask: see `simulator.linear_attention`.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

SPARSE = ("window", "strided", "global", "bigbird")  # the patterns with a band of `window` keys
MASK_FIELDS = ("window", "stride", "n_global", "n_random", "random_seed")  # the config fields a mask reads


def kind_for(attention: str, stack_causal: bool) -> str:
    """The mask kind of a self-attention: `attention` (a config value) in the stack's form."""
    if stack_causal:
        return attention
    if attention in ("causal", "full"):
        return "full"
    return attention + "-full"


def mask_attrs(cfg, kind: str) -> dict:
    """The settings a mask node keeps: its kind and the pattern's numbers from the config."""
    return {"kind": kind, **{f: getattr(cfg, f) for f in MASK_FIELDS}}


def _band(kind: str, q: np.ndarray, k: np.ndarray, window: int) -> np.ndarray:
    return np.abs(q - k) < window if kind.endswith("-full") else (k <= q) & (q - k < window)


@lru_cache(maxsize=64)
def allowed(kind: str, n_q: int, n_k: int, window: int = 1, stride: int = 2, n_global: int = 0,
            n_random: int = 0, random_seed: int = 0) -> np.ndarray:
    """Which key each query may attend to  # [q_pos, k_pos] bool, read-only"""
    q = np.arange(n_q)[:, None]
    k = np.arange(n_k)[None, :]
    base = kind.removesuffix("-full")
    causal = not kind.endswith("-full") and kind != "full"
    if base == "causal":
        ok = k <= q
    elif base == "full":
        ok = np.ones((n_q, n_k), dtype=bool)
    elif base == "window":
        ok = _band(kind, q, k, window)
    elif base == "strided":
        gap = np.abs(q - k)
        ok = _band(kind, q, k, window) | (gap % stride == 0)
        if causal:
            ok &= k <= q
    elif base in ("global", "bigbird"):
        ok = _band(kind, q, k, window) | (k < n_global)
        if not causal:
            ok |= q < n_global
        else:
            ok &= k <= q
        if base == "bigbird":
            ok = ok | random_keys(kind, n_q, n_k, window, n_global, n_random, random_seed)
    else:
        raise ValueError(f"Unknown attention mask {kind!r}.")
    ok = np.ascontiguousarray(np.broadcast_to(ok, (n_q, n_k)))
    ok.flags.writeable = False
    return ok


def allowed_for(attrs, n_q: int, n_k: int) -> np.ndarray:
    """`allowed` with the settings a mask node keeps in its attrs  # [q_pos, k_pos] bool"""
    return allowed(attrs["kind"], n_q, n_k, *(attrs.get(f, d) for f, d in zip(MASK_FIELDS, (1, 2, 0, 0, 0))))


@lru_cache(maxsize=64)
def random_keys(kind: str, n_q: int, n_k: int, window: int, n_global: int, n_random: int,
                random_seed: int) -> np.ndarray:
    """BigBird's random keys alone  # [q_pos, k_pos] bool, read-only

    Query i draws min(n_random, available) keys without replacement, from a generator seeded
    with (random_seed, i), out of the keys (in increasing order) that its window and the global
    tokens do not already give it and, in the causal form, that are not later than i.
    """
    base = allowed(kind.replace("bigbird", "global"), n_q, n_k, window, 2, n_global)
    out = np.zeros((n_q, n_k), dtype=bool)
    causal = not kind.endswith("-full")
    for i in range(n_q):
        limit = min(i + 1, n_k) if causal else n_k
        candidates = np.flatnonzero(~base[i, :limit])
        take = min(n_random, len(candidates))
        if take:
            out[i, np.random.default_rng([random_seed, i]).choice(candidates, take, replace=False)] = True
    out.flags.writeable = False
    return out


def why(attrs, i: int, j: int, n_q: int, n_k: int) -> str:
    """Why query i may or may not see key j, in words (for the explanation of one mask cell)."""
    kind = attrs["kind"]
    base, causal = kind.removesuffix("-full"), not kind.endswith("-full") and kind != "full"
    w, s, g = attrs.get("window", 1), attrs.get("stride", 2), attrs.get("n_global", 0)
    gap = abs(i - j)
    if not allowed_for(attrs, n_q, n_k)[i, j]:
        if causal and j > i:
            return f"key {j} comes after query {i}"
        if base == "strided":
            return f"key {j} is {gap} away: outside the window of {w} and not a multiple of the stride {s}"
        if base == "bigbird":
            return (f"key {j} is outside the window of {w}, not global, and not one of query {i}'s "
                    f"random keys (seed {attrs.get('random_seed', 0)})")
        if base == "global":
            return f"key {j} is outside the window of {w} and neither it nor query {i} is global"
        return f"key {j} is outside the window of query {i}"
    if base in ("causal", "full"):
        return f"query {i} may see key {j}"
    if gap < w:
        return f"key {j} is inside query {i}'s window of {w}"
    if base == "strided":
        return f"key {j} is {gap} = {gap // s}×{s} away, a multiple of the stride"
    if j < g:
        return f"key {j} is a global token: every query sees it"
    if i < g:
        return f"query {i} is a global token: it sees every key"
    return f"key {j} is one of query {i}'s random keys (seed {attrs.get('random_seed', 0)})"


def formula(kind: str, attrs) -> str:
    """The rule for the kept cells (query i, key j), written out."""
    w, s, g, r = (attrs.get(f, 0) for f in ("window", "stride", "n_global", "n_random"))
    causal = not kind.endswith("-full") and kind != "full"
    near = f"i − {w} < j ≤ i" if causal else f"|i − j| < {w}"
    later = "j ≤ i and " if causal else ""
    glob = f"j < {g}" if causal else f"i < {g} or j < {g}"
    return {
        "causal": "keep (i, j) where j ≤ i; the rest become −∞",
        "full": "keep every (i, j)",
        "window": f"keep (i, j) where {near}; the rest become −∞",
        "strided": f"keep (i, j) where {later}(|i − j| < {w} or |i − j| mod {s} = 0); the rest become −∞",
        "global": f"keep (i, j) where {near} or {glob}; the rest become −∞",
        "bigbird": f"keep (i, j) where {near} or {glob} or j ∈ R(i), query i's {r} random "
                   f"key{'s' if r != 1 else ''}; the rest become −∞",
    }[kind.removesuffix("-full")]


__all__ = [
    "MASK_FIELDS",
    "SPARSE",
    "allowed",
    "allowed_for",
    "formula",
    "kind_for",
    "mask_attrs",
    "random_keys",
    "why",
]
