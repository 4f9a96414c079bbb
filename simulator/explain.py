"""One number of the trace, explained with the actual numbers that made it.

`explain(graph, values, params, name, index)` returns text such as
``scaled[h0, 2, 1] = scores[h0, 2, 1] ÷ √4 = 0.428 ÷ 2 = 0.214``.
"""
from __future__ import annotations

import math

import numpy as np

from . import patterns
from .ops import gelu, groups_sum, rmsnorm

MAX_TERMS = 4


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
    xs = [values[i] for i in node.inputs]
    ps = [params[p] for p in node.params]
    a = node.attrs
    op = node.op
    result = fmt(out[index])
    head_axis = {"proj_heads": 1, "rope": 1, "mix": 1, "scores": 0, "scale": 0, "mask": 0, "feature_map": 1,
                 "kv_state": 1, "k_sum": 1, "linear_out": 1, "linear_weights": 0}.get(op)
    if op == "softmax" and a.get("axis", -1) == -1 and out.ndim == 3:
        head_axis = 0
    lhs = label(node.name, index, head_axis)
    if op == "embed":
        p, j = index
        tok = int(xs[0][p])
        return f"{lhs} = W_E[{tok}, {j}] (token id {tok} at position {p}) = {result}"
    if op == "pos_sinusoidal":
        p, j = index
        i2 = j - j % 2
        fn = "sin" if j % 2 == 0 else "cos"
        arg = p / 10000 ** (i2 / a["d_model"])
        return f"{lhs} = {fn}({p} / 10000^({i2}/{a['d_model']})) = {fn}({fmt(arg)}) = {result}"
    if op == "pos_learned":
        return f"{lhs} = W_pos[{index[0]}, {index[1]}] = {result}"
    if op == "add":
        terms = [_paren(x[index]) for x in xs]
        names = " + ".join(label(n, index) for n in node.inputs)
        return f"{lhs} = {names} = {' + '.join(terms)} = {result}"
    if op == "layernorm":
        p, j = index
        row = xs[0][p]
        mu, var = row.mean(), row.var()
        return (f"{lhs} = (x[{p}, {j}] − mean) / √(var + ε) · w[{j}] + b[{j}] = ({fmt(row[j])} − {_paren(mu)}) "
                f"/ √({fmt(var)} + {a['eps']:g}) · {_paren(ps[0][j])} + {_paren(ps[1][j])} = {result}")
    if op == "proj_heads":
        p, h, e = index
        w = node.params[0].rsplit(".", 1)[-1]
        return (f"{lhs} = Σᵢ x[{p}, i]·{w}[h{h}, i, {e}] + b = {dot_terms(xs[0][p], ps[0][h, :, e])} "
                f"+ {_paren(ps[1][h, e])} = {result}")
    if op == "rope":
        p, h, e = index
        q = xs[0][p, h]
        i = e // 2
        theta = 10000.0 ** (-2 * i / q.shape[-1])
        c, s = math.cos(p * theta), math.sin(p * theta)
        even, odd = q[2 * i], q[2 * i + 1]
        if e % 2 == 0:
            return (f"{lhs} = x₂ᵢ·cos(pθ) − x₂ᵢ₊₁·sin(pθ) with pθ = {p}×{fmt(theta)} = {fmt(p * theta)}: "
                    f"{_paren(even)}×{_paren(c)} − {_paren(odd)}×{_paren(s)} = {result}")
        return (f"{lhs} = x₂ᵢ·sin(pθ) + x₂ᵢ₊₁·cos(pθ) with pθ = {p}×{fmt(theta)} = {fmt(p * theta)}: "
                f"{_paren(even)}×{_paren(s)} + {_paren(odd)}×{_paren(c)} = {result}")
    if op == "scores":
        h, i, j = index
        q, k = xs[0][i, h], xs[1][j, h]
        return f"{lhs} = q{_sub(i)}·k{_sub(j)} = {dot_terms(q, k)} = {result}"
    if op == "scale":
        h, i, j = index
        return f"{lhs} = scores_raw[h{h}, {i}, {j}] ÷ √d_head = {fmt(xs[0][index])} ÷ {fmt(a['sqrt_d'])} = {result}"
    if op == "mask":
        h, i, j = index
        reason = patterns.why(a, i, j, out.shape[1], out.shape[2])
        if patterns.allowed_for(a, out.shape[1], out.shape[2])[i, j]:
            return f"{lhs} = scaled[h{h}, {i}, {j}] = {result} ({reason})"
        return f"{lhs} = −∞: {reason}, so its weight will be 0"
    if op == "softmax":
        axis = a.get("axis", -1)
        line = np.moveaxis(xs[0], axis, -1)[tuple(i for k, i in enumerate(index) if k != axis % out.ndim)]
        me = index[axis % out.ndim]
        m = np.max(line[np.isfinite(line)]) if np.isfinite(line).any() else 0.0
        exps = np.where(np.isfinite(line), np.exp(line - m), 0.0)
        over = "the row" if axis == -1 else "the sources"
        shown = " + ".join(fmt(e) for e in exps[:MAX_TERMS]) + (" + …" if len(exps) > MAX_TERMS else "")
        return (f"{lhs} = exp({fmt(line[me])} − {fmt(m)}) / Σ exp over {over} = {fmt(exps[me])} / "
                f"({shown}) = {fmt(exps[me])} / {fmt(exps.sum())} = {result}")
    if op == "mix":
        i, h, e = index
        w, v = xs[0][h, i], xs[1][:, h, e]
        return f"{lhs} = Σⱼ pattern[h{h}, {i}, j]·v[j, h{h}, {e}] = {dot_terms(w, v)} = {result}"
    if op == "concat":
        p, c = index
        d_head = xs[0].shape[-1]
        return f"{lhs} = z[{p}, h{c // d_head}, {c % d_head}] (head {c // d_head}'s slot) = {result}"
    if op == "linear":
        p, j = index
        w = ps[0].reshape(-1, ps[0].shape[-1])
        wname = node.params[0].rsplit(".", 1)[-1]
        return (f"{lhs} = Σᵢ {short(node.inputs[0])}[{p}, i]·{wname}[i, {j}] + b[{j}] = "
                f"{dot_terms(xs[0][p], w[:, j])} + {_paren(ps[1][j])} = {result}")
    if op == "act":
        x = xs[0][index]
        if a["fn"] == "relu":
            return f"{lhs} = max({fmt(x)}, 0) = {result}"
        return f"{lhs} = GELU({fmt(x)}) = ½·{_paren(x)}·(1 + tanh(…)) = {fmt(gelu(np.float64(x)))}"
    if op == "probs":
        p, t = index
        z = xs[0][p] / float(xs[1])
        e = np.exp(z - z.max())
        return (f"{lhs} = exp(logit/T − max) / Σ = exp({fmt(xs[0][p, t])}/{fmt(xs[1])} − {fmt(z.max())}) / "
                f"{fmt(e.sum())} = {fmt(e[t])} / {fmt(e.sum())} = {result}")
    if op == "depth_logits":
        s, p = index
        src = rmsnorm(groups_sum(xs, a["groups"])[s, p], a["eps"])
        return f"{lhs} = w · RMSNorm(v{_sub(s)})[{p}] = {dot_terms(ps[0], src)} = {result}"
    if op == "depth_mix":
        p, j = index
        src = groups_sum(xs[1:], a["groups"])[:, p, j]
        return f"{lhs} = Σₛ α[s, {p}]·v_s[{p}, {j}] = {dot_terms(xs[0][:, p], src)} = {result}"
    if op == "dwa":
        p, j = index
        return (f"{lhs} = Σⱼ α_j·X_j[{p}, {j}] = "
                f"{dot_terms(ps[0], np.array([x[p, j] for x in xs]))} = {result}")
    if op in LINEAR_OPS:
        return _linear_attention(op, lhs, result, index, xs, a)
    return f"{lhs} = {result}"


LINEAR_OPS = ("feature_map", "kv_state", "k_sum", "linear_out", "linear_weights")


def _linear_attention(op: str, lhs: str, result: str, index: tuple, xs: list, a) -> str:
    """The steps of linear attention (see `simulator.linear_attention`), with their numbers."""
    if op == "feature_map":
        x = float(xs[0][index])
        how = f"{_paren(x)} + 1" if x > 0 else f"e^{_paren(x)}"
        return f"{lhs} = φ(x) = elu(x) + 1 = {how} = {result}"
    if op == "linear_weights":
        h, i, j = index
        fq, fk = xs[0][i, h], xs[1][:, h]
        if a["causal"] and j > i:
            return f"{lhs}: key {j} comes after query {i}, so its weight = {result}"
        u = fk[: i + 1] @ fq if a["causal"] else fk @ fq
        return (f"{lhs} = φ(q{_sub(i)})·φ(k{_sub(j)}) ÷ Σⱼ′ φ(q{_sub(i)})·φ(kⱼ′) = {dot_terms(fq, fk[j])} ÷ "
                f"{fmt(u.sum())} = {fmt(u[j])} ÷ {fmt(u.sum())} = {result}")
    p, h, c = index
    seen = f"j ≤ {p}" if a.get("causal") else "all j"
    if op == "k_sum":
        col = xs[0][: p + 1 if a["causal"] else None, h, c]
        terms = " + ".join(fmt(x) for x in col[:MAX_TERMS]) + (" + …" if len(col) > MAX_TERMS else "")
        return f"{lhs} = Σ_{{{seen}}} φ(k_j)[{c}] = {terms} = {result}"
    if op == "kv_state":
        fk, v = xs
        d_v = v.shape[-1]
        r, e = divmod(c, d_v)
        rows = slice(0, p + 1) if a["causal"] else slice(None)
        return (f"{lhs} = S{_sub(p)}[{r}, {e}] = Σ_{{{seen}}} φ(k_j)[{r}]·v_j[{e}] = "
                f"{dot_terms(fk[rows, h, r], v[rows, h, e])} = {result}")
    fq, s, z = xs  # linear_out
    d = fq.shape[-1]
    column = s[p, h].reshape(d, -1)[:, c]
    num, den = float(fq[p, h] @ column), float(fq[p, h] @ z[p, h])
    return (f"{lhs} = φ(q{_sub(p)})·S{_sub(p)}[:, {c}] ÷ φ(q{_sub(p)})·z{_sub(p)} = ({dot_terms(fq[p, h], column)}) ÷ "
            f"({dot_terms(fq[p, h], z[p, h])}) = {fmt(num)} ÷ {fmt(den)} = {result}")


def _sub(i: int) -> str:
    return str(i).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
