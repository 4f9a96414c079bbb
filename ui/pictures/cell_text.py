"""The numbers printed in heatmap cells: a full form, and a compact one for small cells.

Both are pure functions of a float, and `widest_text` finds the longest text of a whole
array from a few candidates, so a heatmap can decide whether its numbers fit without
formatting every cell.
"""
from __future__ import annotations

import math

import numpy as np

MINUS = "\u2212"  # typographic minus: as wide as a digit and readable from afar

# Where the width of `format_value` can step down as |v| grows ("99.99" is wider than "100.0"):
# within each band the longest text is that of the largest |v| of each sign.
BANDS = (0.0, 100.0, 1000.0, math.inf)
# The same for `format_compact`, whose forms change where rounding would carry (".99" → "1.0").
COMPACT_BANDS = (0.0, 0.995, 9.95, 999.5, math.inf)


def _special(v: float) -> str | None:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return ("" if v > 0 else MINUS) + "\u221e"
    return None


def _exponent(v: float, digits: int) -> str:
    """"2.5e3" rather than Python's "2.5e+03"."""
    mant, exp = f"{v:.{digits}e}".split("e")
    return f"{mant}e{int(exp)}"


def format_value(v: float) -> str:
    """Cell text: 2 decimals, or a compact exponent form once that would not fit."""
    special = _special(v)
    if special is not None:
        return special
    a = abs(v)
    if a < 100:
        s = f"{v:.2f}" if a >= 0.005 else "0.00"  # no "-0.00" for tiny negatives
    elif a < 1000:
        s = f"{v:.1f}"
    else:
        s = _exponent(v, 1)
    return s.replace("-", MINUS)


def format_compact(v: float) -> str:
    """At most about three digits, for cells too narrow for `format_value`:
    ".42" and "−.07" below 1 (probabilities read as ".42"), "3.1" below 10, "42" below 1000,
    then "2e3". An exact 0 is "0", so a masked-out weight reads differently from a small one."""
    special = _special(v)
    if special is not None:
        return special
    if v == 0:
        return "0"
    a = abs(v)
    if a < 0.995:
        s = f"{a:.2f}"[1:]  # "0.42" → ".42"
        return s if s == ".00" else (MINUS if v < 0 else "") + s
    if a < 9.95:
        s = f"{v:.1f}"
    elif a < 999.5:
        s = f"{v:.0f}"
    else:
        s = _exponent(v, 0)
    return s.replace("-", MINUS)


def widest_text(values: np.ndarray, fmt=format_value, bands: tuple[float, ...] = BANDS) -> str:
    """The longest `fmt` text of any value, found without formatting every value.

    `bands` are the |v| ranges within which the text of the largest |v| of each sign is the
    longest (BANDS for `format_value`, COMPACT_BANDS for `format_compact`).
    """
    v = np.asarray(values, dtype=float).ravel()
    finite = np.isfinite(v)
    texts = []
    if not finite.all():
        odd = v[~finite]
        texts = [fmt(x) for x, present in ((math.nan, np.isnan(odd).any()), (math.inf, (odd > 0).any()),
                                           (-math.inf, (odd < 0).any())) if present]
    v = v[finite]
    if v.size:
        lo, hi = float(v.min()), float(v.max())
        if max(-lo, hi) < bands[1]:  # the usual case: one band, so the extremes are the widest
            return max(texts + [fmt(lo), fmt(hi)], key=len)
    a = np.abs(v)
    for low, high in zip(bands, bands[1:]):
        band = (a >= low) & (a < high)
        for side in (band & (v >= 0), band & (v < 0)):
            if side.any():
                texts.append(fmt(float(v[side][np.argmax(a[side])])))
    return max(texts, key=len)
