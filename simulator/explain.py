"""One number of the trace, explained with the actual numbers that made it.

`explain(graph, values, params, name, index)` returns text such as
``scaled[h0, 2, 1] = scores[h0, 2, 1] ÷ √4 = 0.428 ÷ 2 = 0.214``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from . import patterns
from .ops import (
    GELU_C,
    INV_SQRT_2,
    POSITION_BASE,
    SQRT_2_OVER_PI,
    erf,
    frequencies,
    gelu,
    groups_sum,
    rmsnorm,
)

MAX_TERMS = 8  # a sum this long is written out in full; a longer one shows its first terms


def fmt(x: float) -> str:
    x = float(x)
    if math.isinf(x):
        return "−∞" if x < 0 else "∞"
    if x != 0 and not 1e-3 <= abs(x) < 1e5:
        text = f"{x:.3g}"
    else:
        text = f"{x:.3f}"
    return text.replace("-", "−")


def _paren(x: float) -> str:
    s = fmt(x)
    return f"({s})" if s.startswith("−") else s


def dot_terms(a: np.ndarray, b: np.ndarray) -> str:
    """'a₀×b₀ + a₁×b₁ + … ' with at most MAX_TERMS products written out."""
    terms = [f"{_paren(x)}×{_paren(y)}" for x, y in zip(a[:MAX_TERMS], b[:MAX_TERMS])]
    more = len(a) - MAX_TERMS
    return " + ".join(terms) + (f" + … ({more} more)" if more > 0 else "")


def short(name: str) -> str:
    """`blocks.0.attn.hook_pattern` -> `pattern`."""
    leaf = name.rsplit(".", 1)[-1]
    return leaf[5:] if leaf.startswith("hook_") else leaf


def label(name: str, index: tuple, head_axis: int | None = None) -> str:
    parts = [f"h{i}" if axis == head_axis else str(i) for axis, i in enumerate(index)]
    return f"{short(name)}[{', '.join(parts)}]"


def explain(node, values: dict, params: dict, index) -> str:
    """The calculation of `values[node.name][index]`, written out with its numbers."""
    out = values[node.name]
    index = tuple(int(i) for i in np.atleast_1d(index)) if not isinstance(index, tuple) else tuple(map(int, index))
    if len(index) != out.ndim or any(not 0 <= i < n for i, n in zip(index, out.shape)):
        raise IndexError(f"{node.name} has shape {list(out.shape)}; index {list(index)} is outside it.")
    head_axis = node.axes.index("head") if "head" in node.axes else None
    at = _At(node, label(node.name, index, head_axis), index, [values[i] for i in node.inputs],
             [params[p] for p in node.params], node.attrs, out, fmt(out[index]))
    return EXPLAIN[node.op](at)


@dataclass(frozen=True)
class _At:
    """One number to explain: its step, label, index, the step's inputs and weights, and its value."""

    node: object
    lhs: str  # e.g. "pattern[h0, 2, 1]"
    index: tuple[int, ...]
    xs: list
    ps: list
    a: Mapping
    out: np.ndarray
    result: str


def _embed(t: _At) -> str:
    p, j = t.index
    tok = int(t.xs[0][p])
    return f"{t.lhs} = W_E[{tok}, {j}] (token id {tok} at position {p}) = {t.result}"


def _pos_sinusoidal(t: _At) -> str:
    p, j = t.index
    d = t.a["d_model"]
    i2 = j - j % 2
    fn = "sin" if j % 2 == 0 else "cos"
    arg = p * frequencies(d)[j // 2]
    return f"{t.lhs} = {fn}({p} / {POSITION_BASE:g}^({i2}/{d})) = {fn}({fmt(arg)}) = {t.result}"


def _pos_learned(t: _At) -> str:
    return f"{t.lhs} = W_pos[{t.index[0]}, {t.index[1]}] = {t.result}"


def _add(t: _At) -> str:
    terms = [_paren(x[t.index]) for x in t.xs]
    names = " + ".join(label(n, t.index) for n in t.node.inputs)
    return f"{t.lhs} = {names} = {' + '.join(terms)} = {t.result}"


def _layernorm(t: _At) -> str:
    p, j = t.index
    row = t.xs[0][p]
    mu, var = row.mean(), row.var()
    w, b = t.ps
    return (f"{t.lhs} = (x[{p}, {j}] − mean) / √(var + ε) · w[{j}] + b[{j}] = ({fmt(row[j])} − {_paren(mu)}) "
            f"/ √({fmt(var)} + {t.a['eps']:g}) · {_paren(w[j])} + {_paren(b[j])} = {t.result}")


def _proj_heads(t: _At) -> str:
    p, h, e = t.index
    w = t.node.params[0].rsplit(".", 1)[-1]
    if len(t.ps) == 1:  # no bias
        return f"{t.lhs} = Σᵢ x[{p}, i]·{w}[h{h}, i, {e}] = {dot_terms(t.xs[0][p], t.ps[0][h, :, e])} = {t.result}"
    return (f"{t.lhs} = Σᵢ x[{p}, i]·{w}[h{h}, i, {e}] + b = {dot_terms(t.xs[0][p], t.ps[0][h, :, e])} "
            f"+ {_paren(t.ps[1][h, e])} = {t.result}")


def _rope(t: _At) -> str:
    p, h, e = t.index
    q = t.xs[0][p, h]
    i = e // 2
    theta = frequencies(q.shape[-1])[i]
    c, s = math.cos(p * theta), math.sin(p * theta)
    even, odd = q[2 * i], q[2 * i + 1]
    angle = f"with pθ = {p}×{fmt(theta)} = {fmt(p * theta)}"
    if e % 2 == 0:
        return (f"{t.lhs} = x₂ᵢ·cos(pθ) − x₂ᵢ₊₁·sin(pθ) {angle}: "
                f"{_paren(even)}×{_paren(c)} − {_paren(odd)}×{_paren(s)} = {t.result}")
    return (f"{t.lhs} = x₂ᵢ·sin(pθ) + x₂ᵢ₊₁·cos(pθ) {angle}: "
            f"{_paren(even)}×{_paren(s)} + {_paren(odd)}×{_paren(c)} = {t.result}")


def _scores(t: _At) -> str:
    h, i, j = t.index
    q, k = t.xs[0][i, h], t.xs[1][j, h]
    return f"{t.lhs} = q{_sub(i)}·k{_sub(j)} = {dot_terms(q, k)} = {t.result}"


def _scale(t: _At) -> str:
    h, i, j = t.index
    return (f"{t.lhs} = scores_raw[h{h}, {i}, {j}] ÷ √d_head = {fmt(t.xs[0][t.index])} ÷ {fmt(t.a['sqrt_d'])} "
            f"= {t.result}")


def _mask(t: _At) -> str:
    h, i, j = t.index
    n_q, n_k = t.out.shape[1], t.out.shape[2]
    reason = patterns.why(t.a, i, j, n_q, n_k)
    if patterns.allowed_for(t.a, n_q, n_k)[i, j]:
        return f"{t.lhs} = scaled[h{h}, {i}, {j}] = {t.result} ({reason})"
    return f"{t.lhs} = −∞: {reason}, so its weight will be 0"


def _softmax(t: _At) -> str:
    axis = t.a.get("axis", -1) % t.out.ndim
    line = np.moveaxis(t.xs[0], axis, -1)[tuple(i for k, i in enumerate(t.index) if k != axis)]
    me = t.index[axis]
    m = np.max(line[np.isfinite(line)]) if np.isfinite(line).any() else 0.0
    exps = np.where(np.isfinite(line), np.exp(line - m), 0.0)
    over = "the row" if axis == t.out.ndim - 1 else "the sources"
    more = len(exps) - MAX_TERMS
    shown = " + ".join(fmt(e) for e in exps[:MAX_TERMS]) + (f" + … ({more} more)" if more > 0 else "")
    return (f"{t.lhs} = exp(x − max) / Σ exp(x − max) over {over}, with max = {fmt(m)} (the largest in "
            f"{over}, subtracted so that no exp overflows): exp({fmt(line[me])} − {_paren(m)}) / Σ = "
            f"{fmt(exps[me])} / ({shown}) = {fmt(exps[me])} / {fmt(exps.sum())} = {t.result}")


def _mix(t: _At) -> str:
    i, h, e = t.index
    w, v = t.xs[0][h, i], t.xs[1][:, h, e]
    return f"{t.lhs} = Σⱼ pattern[h{h}, {i}, j]·v[j, h{h}, {e}] = {dot_terms(w, v)} = {t.result}"


def _concat(t: _At) -> str:
    p, c = t.index
    d_head = t.xs[0].shape[-1]
    return f"{t.lhs} = z[{p}, h{c // d_head}, {c % d_head}] (head {c // d_head}'s slot) = {t.result}"


def _linear(t: _At) -> str:
    p, j = t.index
    w = t.ps[0].T if t.a.get("transposed") else t.ps[0].reshape(-1, t.ps[0].shape[-1])
    wname = t.node.params[0].rsplit(".", 1)[-1] + ("ᵀ" if t.a.get("transposed") else "")
    if len(t.ps) == 1:  # no bias
        return (f"{t.lhs} = Σᵢ {short(t.node.inputs[0])}[{p}, i]·{wname}[i, {j}] = "
                f"{dot_terms(t.xs[0][p], w[:, j])} = {t.result}")
    return (f"{t.lhs} = Σᵢ {short(t.node.inputs[0])}[{p}, i]·{wname}[i, {j}] + b[{j}] = "
            f"{dot_terms(t.xs[0][p], w[:, j])} + {_paren(t.ps[1][j])} = {t.result}")


def _act(t: _At) -> str:
    x = t.xs[0][t.index]
    if t.a["fn"] == "relu":
        return f"{t.lhs} = max({fmt(x)}, 0) = {t.result}"
    if t.a["fn"] == "gelu_exact":
        e = float(erf(np.float64(x) * INV_SQRT_2))
        return (f"{t.lhs} = GELU({fmt(x)}) = ½·x·(1 + erf(x/√2)) = ½·{_paren(x)}·(1 + erf({fmt(x * INV_SQRT_2)})) "
                f"= ½·{_paren(x)}·(1 + {_paren(e)}) = {fmt(0.5 * x * (1.0 + e))}")
    inner = SQRT_2_OVER_PI * (x + GELU_C * x ** 3)  # the forward's own constants
    return (f"{t.lhs} = GELU({fmt(x)}) = ½·x·(1 + tanh(√(2/π)·(x + {GELU_C}·x³))) = "
            f"½·{_paren(x)}·(1 + tanh({fmt(SQRT_2_OVER_PI)}×({fmt(x)} + {GELU_C}×{_paren(x)}³))) = "
            f"½·{_paren(x)}·(1 + tanh({fmt(inner)})) = ½·{_paren(x)}·(1 + {_paren(math.tanh(inner))}) = "
            f"{fmt(gelu(np.float64(x)))}")


def _probs(t: _At) -> str:
    p, k = t.index
    logits, temp = t.xs
    z = logits[p] / float(temp)
    e = np.exp(z - z.max())
    return (f"{t.lhs} = exp(logit/T − max) / Σ = exp({fmt(logits[p, k])}/{fmt(temp)} − {fmt(z.max())}) / "
            f"{fmt(e.sum())} = {fmt(e[k])} / {fmt(e.sum())} = {t.result}")


def _depth_logits(t: _At) -> str:
    s, p = t.index
    src = rmsnorm(groups_sum(t.xs, t.a["groups"])[s, p], t.a["eps"])
    return f"{t.lhs} = w · RMSNorm(v{_sub(s)})[{p}] = {dot_terms(t.ps[0], src)} = {t.result}"


def _depth_mix(t: _At) -> str:
    p, j = t.index
    src = groups_sum(t.xs[1:], t.a["groups"])[:, p, j]
    return f"{t.lhs} = Σₛ α[s, {p}]·v_s[{p}, {j}] = {dot_terms(t.xs[0][:, p], src)} = {t.result}"


def _dwa(t: _At) -> str:
    p, j = t.index
    return (f"{t.lhs} = Σⱼ α_j·X_j[{p}, {j}] = "
            f"{dot_terms(t.ps[0], np.array([x[p, j] for x in t.xs]))} = {t.result}")


def _patchify(t: _At) -> str:
    i, k = t.index
    size = t.a["patch"]
    row, col = divmod(i, t.xs[0].shape[1] // size)
    y, x = row * size + k // size, col * size + k % size
    return (f"{t.lhs} = image[{y}, {x}] ÷ {t.a['pixel_max']:g} (pixel {k} of patch ({row}, {col})) = "
            f"{fmt(t.xs[0][y, x])} ÷ {t.a['pixel_max']:g} = {t.result}")


def _prepend_cls(t: _At) -> str:
    p, j = t.index
    if p == 0:
        return f"{t.lhs} = cls[{j}] (the learned [CLS] vector comes first) = {t.result}"
    return f"{t.lhs} = {label(t.node.inputs[0], (p - 1, j))} (patch {p - 1}, one place later) = {t.result}"


def _take_cls(t: _At) -> str:
    return f"{t.lhs} = {label(t.node.inputs[0], (0, t.index[1]))} (the [CLS] row) = {t.result}"


# op name -> how one number of its output is written out (every op of `ops.FORWARD` has one)
EXPLAIN = {
    "embed": _embed, "pos_sinusoidal": _pos_sinusoidal, "pos_learned": _pos_learned, "add": _add,
    "layernorm": _layernorm, "proj_heads": _proj_heads, "rope": _rope, "scores": _scores,
    "scale": _scale, "mask": _mask, "softmax": _softmax, "mix": _mix, "concat": _concat,
    "linear": _linear, "act": _act, "probs": _probs, "depth_logits": _depth_logits,
    "depth_mix": _depth_mix, "dwa": _dwa, "patchify": _patchify, "prepend_cls": _prepend_cls,
    "take_cls": _take_cls,
}


# --- linear attention (see simulator.linear_attention) ---

def _feature_map(t: _At) -> str:
    x = float(t.xs[0][t.index])
    how = f"{_paren(x)} + 1" if x > 0 else f"exp({fmt(x)})"
    return f"{t.lhs} = φ(x) = elu(x) + 1 = {how} = {t.result}"


def _seen(t: _At, p: int) -> tuple[str, slice]:
    """"j ≤ p" and the positions summed, or "all j" and every position (an encoder)."""
    return (f"j ≤ {p}", slice(0, p + 1)) if t.a["causal"] else ("all j", slice(None))


def _k_sum(t: _At) -> str:
    p, h, c = t.index
    seen, rows = _seen(t, p)
    col = t.xs[0][rows, h, c]
    terms = " + ".join(fmt(x) for x in col[:MAX_TERMS]) + (" + …" if len(col) > MAX_TERMS else "")
    return f"{t.lhs} = Σ_{{{seen}}} φ(k_j)[{c}] = {terms} = {t.result}"


def _kv_state(t: _At) -> str:
    p, h, c = t.index
    fk, v = t.xs
    r, e = divmod(c, v.shape[-1])
    seen, rows = _seen(t, p)
    return (f"{t.lhs} = S{_sub(p)}[{r}, {e}] = Σ_{{{seen}}} φ(k_j)[{r}]·v_j[{e}] = "
            f"{dot_terms(fk[rows, h, r], v[rows, h, e])} = {t.result}")


def _linear_out(t: _At) -> str:
    p, h, c = t.index
    fq, s, z = t.xs
    column = s[p, h].reshape(fq.shape[-1], -1)[:, c]
    num, den = float(fq[p, h] @ column), float(fq[p, h] @ z[p, h])
    return (f"{t.lhs} = φ(q{_sub(p)})·S{_sub(p)}[:, {c}] ÷ φ(q{_sub(p)})·z{_sub(p)} = "
            f"({dot_terms(fq[p, h], column)}) ÷ ({dot_terms(fq[p, h], z[p, h])}) = {fmt(num)} ÷ {fmt(den)} "
            f"= {t.result}")


def _linear_weights(t: _At) -> str:
    h, i, j = t.index
    fq, fk = t.xs[0][i, h], t.xs[1][:, h]
    if t.a["causal"] and j > i:
        return f"{t.lhs} (key {j} comes after query {i}) = 0 = {t.result}"
    u = fk[: i + 1] @ fq if t.a["causal"] else fk @ fq
    return (f"{t.lhs} = φ(q{_sub(i)})·φ(k{_sub(j)}) ÷ Σⱼ′ φ(q{_sub(i)})·φ(kⱼ′) = {dot_terms(fq, fk[j])} ÷ "
            f"{fmt(u.sum())} = {fmt(u[j])} ÷ {fmt(u.sum())} = {t.result}")


EXPLAIN.update({"feature_map": _feature_map, "kv_state": _kv_state, "k_sum": _k_sum, "linear_out": _linear_out,
                "linear_weights": _linear_weights})


def _sub(i: int) -> str:
    return str(i).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
