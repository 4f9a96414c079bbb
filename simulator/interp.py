"""Looking inside a model: logit lens, direct logit attribution, ablation, patching, rollout, PCA.

Numpy only, and every function reads a model and its traces without changing them. Names
follow the trace: a *component* is one thing that writes into the residual stream,
`embed`, `pos_embed`, `blocks.1.attn.head0` (one head), `blocks.1.attn` (the whole
sublayer), `blocks.0.mlp`, with `encoder.`/`decoder.` in front for encoder-decoder models.

Papers: the logit lens (nostalgebraist, 2020); direct logit attribution and the residual
stream as a sum of components (Elhage et al., 2021); activation patching (Meng et al., 2022;
Wang et al., 2022); attention rollout (Abnar & Zuidema, 2020).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .graph import Graph
from .ops import ACTIVATIONS, layernorm, softmax
from .trace import Trace

ABLATIONS = ("zero", "mean")
Hook = Callable[[np.ndarray], np.ndarray]

_COMPONENT = re.compile(r"^((?:encoder|decoder)\.)?blocks\.(\d+)\.(attn|cross_attn|mlp)(?:\.head(\d+))?$")


# --- components and ablation ---

def component_node(graph: Graph, n_heads: int, component: str) -> tuple[str, int | None]:
    """The step a component's output is read from, and the head index (None for a whole sublayer).

    A head's output is `hook_z[:, head]` (its slice before W_O); a whole attention sublayer's
    is `hook_attn_out`, an MLP's `hook_mlp_out`. Raises KeyError naming what exists.
    """
    m = _COMPONENT.match(component)
    if m is None:
        raise KeyError(f"{component!r} is not a component: use names like 'blocks.0.attn.head1', "
                       "'blocks.0.attn' or 'blocks.1.mlp'.")
    prefix, layer, kind, head = m.group(1) or "", m.group(2), m.group(3), m.group(4)
    b = f"{prefix}blocks.{layer}."
    if kind == "mlp":
        if head is not None:
            raise KeyError(f"{component!r}: an MLP has no heads.")
        name = b + "hook_mlp_out"
    elif head is not None:
        name = f"{b}{kind}.hook_z"
    else:
        name = b + ("hook_cross_attn_out" if kind == "cross_attn" else "hook_attn_out")
    if name not in graph.index:
        raise KeyError(f"This model has no {component!r}.")
    if head is not None:
        if int(head) >= n_heads:
            raise KeyError(f"{component!r}: the layer has heads 0 to {n_heads - 1}.")
        return name, int(head)
    return name, None


def ablation_hooks(graph: Graph, n_heads: int, ablate: Mapping[str, str] | None) -> dict[str, Hook]:
    """Per-step overrides that carry out `ablate` ({component: "zero" | "mean"}).

    Zero-ablating a head sets its slice of hook_z to 0: the same as zeroing that head's rows
    of W_O. The layer's b_O stays, as it belongs to no head. Zero-ablating a whole sublayer
    sets its output to 0, bias included. Mean-ablating replaces the component's output at
    every position by its mean over the positions of this input (for a head, the mean of its
    hook_z slice, which W_O maps to the mean of the head's output, since W_O is linear).
    Raises KeyError or ValueError on a bad name or mode, before anything runs.
    """
    by_node: dict[str, list[tuple[int | None, str]]] = {}
    for component, mode in (ablate or {}).items():
        if mode not in ABLATIONS:
            raise ValueError(f"Ablation of {component!r} must be 'zero' or 'mean'; got {mode!r}.")
        name, head = component_node(graph, n_heads, component)
        by_node.setdefault(name, []).append((head, mode))
    return {name: _ablator(edits) for name, edits in by_node.items()}


def _ablator(edits: list[tuple[int | None, str]]) -> Hook:
    def hook(v: np.ndarray) -> np.ndarray:
        v = v.copy()
        for head, mode in edits:
            part = (slice(None),) if head is None else (slice(None), head)
            v[part] = 0.0 if mode == "zero" else v[part].mean(axis=0, keepdims=True)
        return v
    return hook


# --- the logit lens ---

def _prefix(model) -> str:
    return "decoder." if model.config.arch == "encoder-decoder" else ""


def lens_points(model) -> list[str]:
    """The residual stream's points, bottom to top: after the embedding and after each sublayer.

    The last point is the stream the final norm (or the unembedding) reads.
    """
    cfg, g, p = model.config, model.graph, _prefix(model)
    names = [f"{p}blocks.0.hook_resid_pre"]
    for layer in range(cfg.n_layers):
        b = f"{p}blocks.{layer}."
        names.append(b + "hook_resid_mid")
        if p == "decoder.":
            names.append(b + "hook_resid_mid2")
        names.append(b + ("dwa.hook_mixed" if cfg.residual == "denseformer" else "hook_resid_post"))
    if "logits" not in g.index:
        raise ValueError("This model ends at its final hidden states (it has no read-out), so there is no "
                         "vocabulary to read its residual stream into.")
    final = g.node("logits").inputs[0]
    if cfg.head == "mlm":  # the stream before BERT's masked-LM head
        final = g.node("mlm.hook_dense").inputs[0]
    elif cfg.norm == "pre":
        final = g.node(final).inputs[0]
    # in the depth modes several names are one step; the final stream is the last point
    names[-1] = final
    out: list[str] = []
    for n in names:
        real = g.aliases.get(n, n)
        if real not in (g.aliases.get(o, o) for o in out):
            out.append(n)
    return out


def point_label(name: str) -> str:
    """A short label for a residual point: "embed", "attn 0", "mlp 1", "cross 0"."""
    name = name.removeprefix("decoder.").removeprefix("encoder.")
    if name == "blocks.0.hook_resid_pre" or name in ("hook_embed",):
        return "embed"
    parts = name.split(".")
    if parts[0] != "blocks":
        return "out"
    layer, what = parts[1], ".".join(parts[2:])
    return {"hook_resid_mid": f"attn {layer}", "hook_resid_mid2": f"cross {layer}", "hook_resid_post": f"mlp {layer}",
            "dwa.hook_mixed": f"mlp {layer}", "depth_mlp.hook_mixed": f"attn {layer}",
            "depth_attn.hook_mixed": f"mlp {int(layer) - 1}"}.get(what, name)


def _bias(prm, name: str, size: int) -> np.ndarray:
    """A linear layer's bias; zeros for a model without biases (config.bias false)."""
    return prm[name] if name in prm else np.zeros(size)


def unembedding(model, prm) -> np.ndarray:
    """The read-out matrix W_U [d_model, vocab]: W_Eᵀ when the model ties it to its embedding."""
    p = _prefix(model)
    return prm[p + "embed.W_E"].T if model.config.tied_unembed else prm[p + "unembed.W_U"]


def logit_lens(model, trace: Trace) -> tuple[list[str], np.ndarray]:
    """(point names, logits[point, pos, vocab]): each residual point read out as if it were the last.

    With a pre-norm model each point goes through the final LayerNorm using *its own* mean and
    spread (not those of the last layer, the bug of TransformerLens #1076), then the
    unembedding; the last point gives the model's logits. A post-norm model's points are
    already normalised, and a model without norms has none: both go straight to the unembedding
    (through BERT's masked-LM head first, when the model has one).
    """
    points = lens_points(model)
    prm, p = trace.params, _prefix(model)
    w_u, b_u = unembedding(model, prm), _bias(prm, p + "unembed.b_U", model.config.d_vocab)
    out = []
    for name in points:
        x = trace[name]
        if model.config.norm == "pre":
            x = layernorm(x.copy(), prm[p + "ln_final.w"], prm[p + "ln_final.b"], model.config.norm_eps)
        if model.config.head == "mlm":  # BERT's head: dense, activation, LayerNorm, then the read-out
            x = x @ prm["mlm.W_dense"] + _bias(prm, "mlm.b_dense", model.config.d_model)
            x = layernorm(ACTIVATIONS[model.config.activation](x), prm["mlm.ln.w"], prm["mlm.ln.b"],
                          model.config.norm_eps)
        out.append(x @ w_u + b_u)
    return points, np.stack(out)  # [point, pos, vocab]


def lens_probs(model, trace: Trace) -> tuple[list[str], np.ndarray]:
    """Like `logit_lens`, as next-token probabilities (softmax at the trace's temperature)."""
    points, logits = logit_lens(model, trace)
    return points, softmax(logits / trace.temperature)


# --- direct logit attribution ---

def stream_parts(model, trace: Trace) -> dict[str, np.ndarray]:
    """The final residual stream as a sum of the components' outputs  # each [pos, d_model]

    Keys: `embed`, `pos_embed`, each head, each MLP (without its bias), and `biases` (every
    b_O and b_out); a sublayer switched off as a whole (`trace.ablate`) is one part, its
    output. Attention over depth and DenseFormer's weights are taken at their values in this
    trace, so the parts add up to the stream exactly. Needs a pre-norm or norm-free model.
    """
    cfg, g, p = model.config, model.graph, _prefix(model)
    if cfg.norm == "post":
        raise ValueError("Post-LN normalises the stream after every sublayer, so the final stream is not "
                         "a sum of the components' outputs: direct logit attribution needs pre-LN or no norm.")
    prm = trace.params
    # a sublayer switched off as a whole wrote its ablated output, not weights · inputs: one part
    whole = {}
    for component in trace.ablate:
        name, head = component_node(g, cfg.n_heads, component)
        if head is None:
            whole[name] = component
    parts: dict[str, dict[str, np.ndarray]] = {}  # step name -> its decomposition
    for node in g.nodes:
        if node.stack not in ("", p.rstrip(".")):
            continue
        n = node.name
        if n in whole:
            parts[n] = {whole[n]: trace[n]}
        elif node.op == "embed":
            parts[n] = {"embed": trace[n]}
        elif node.op.startswith("pos_"):
            parts[n] = {"pos_embed": trace[n]}
        elif n.endswith(("hook_attn_out", "hook_cross_attn_out")):
            kind = "cross_attn" if n.endswith("cross_attn_out") else "attn"
            b = n.rsplit(".", 1)[0] + "."
            z, w_o = trace[f"{b}{kind}.hook_z"], prm[f"{b}{kind}.W_O"]  # [pos, head, d_head], [head, d_head, d]
            d = {f"{b}{kind}.head{h}": z[:, h] @ w_o[h] for h in range(w_o.shape[0])}
            d["biases"] = np.broadcast_to(_bias(prm, f"{b}{kind}.b_O", w_o.shape[-1]), (len(z), w_o.shape[-1]))
            parts[n] = d
        elif n.endswith("hook_mlp_out"):
            b = n.rsplit(".", 1)[0] + "."
            parts[n] = {b + "mlp": trace[b + "mlp.hook_post"] @ prm[b + "mlp.W_out"],
                        "biases": np.broadcast_to(_bias(prm, b + "mlp.b_out", trace[n].shape[-1]), trace[n].shape)}
        elif node.op == "add" and all(i in parts for i in node.inputs):
            parts[n] = _combine([(1.0, parts[i]) for i in node.inputs])
        elif node.op == "dwa":
            alpha = prm[node.params[0]]
            parts[n] = _combine([(alpha[j], parts[i]) for j, i in enumerate(node.inputs)])
        elif node.op == "depth_mix":
            weights, sources = trace[node.inputs[0]], node.inputs[1:]  # weights [source, pos]
            parts[n] = _combine([(weights[s][:, None], parts[sources[i]])
                                 for s, group in enumerate(node.attrs["groups"]) for i in group])
    final = g.node("logits").inputs[0]
    if cfg.norm == "pre":
        final = g.node(final).inputs[0]
    return parts[g.aliases.get(final, final)]


def _combine(terms) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for coef, d in terms:
        for k, v in d.items():
            out[k] = out[k] + coef * v if k in out else coef * v
    return out


def direct_logit_attribution(model, trace: Trace, pos: int, token: int,
                             other: int | None = None) -> dict[str, float]:
    """Split `trace["logits"][pos, token]` (minus that of `other`, if given) into the components' shares.

    The final LayerNorm's spread σ is frozen at its value for this position, which makes the
    read-out linear: component c contributes ((c − mean c) / σ) · w · W_U[:, token]. `biases`
    holds every bias (b_O, b_out, the norm's b and b_U). The values add up to the logit.
    """
    cfg, p = model.config, _prefix(model)
    prm = trace.params
    n_pos, d_vocab = trace["logits"].shape
    for what, v, n in (("position", pos, n_pos), ("token", token, d_vocab)) + (
            (("other token", other, d_vocab),) if other is not None else ()):
        if not isinstance(v, (int, np.integer)) or not 0 <= v < n:
            raise ValueError(f"The {what} must be a whole number from 0 to {n - 1}; got {v!r}.")
    parts = stream_parts(model, trace)
    w_u, b_u = unembedding(model, prm), _bias(prm, p + "unembed.b_U", cfg.d_vocab)
    direction = w_u[:, token] - (w_u[:, other] if other is not None else 0.0)  # [d_model]
    bias = b_u[token] - (b_u[other] if other is not None else 0.0)
    if cfg.norm == "pre":
        x = sum(parts.values())[pos]
        y = x - x.mean()
        sigma = np.sqrt((y * y).mean() + cfg.norm_eps)
        if cfg.norm_eps == 0 and sigma == 0:
            sigma = 1.0
        bias += prm[p + "ln_final.b"] @ direction
        direction = prm[p + "ln_final.w"] * direction / sigma
        read = {k: float((v[pos] - v[pos].mean()) @ direction) for k, v in parts.items()}
    else:
        read = {k: float(v[pos] @ direction) for k, v in parts.items()}
    read["biases"] = read.pop("biases", 0.0) + float(bias)  # last: the bars read embedding → top layer → biases
    return read


def attribution_calculation(model, trace: Trace, pos: int, token: int, component: str,
                            other: int | None = None) -> str:
    """One bar of `direct_logit_attribution` written out with its numbers (plain text)."""
    cfg, p = model.config, _prefix(model)
    vocab = cfg.vocab
    share = direct_logit_attribution(model, trace, pos, token, other)[component]
    target = f"logit[“{vocab[token]}”]" + (f" − logit[“{vocab[other]}”]" if other is not None else "")
    if component == "biases":
        return (f"{component}: every bias's share of {target} at position {pos}: the b_O and b_out of each "
                f"layer read through the final norm, plus the norm's b and b_U.\n= {share:.4f}")
    v = stream_parts(model, trace)[component][pos]  # [d_model]
    w_u = unembedding(model, trace.params)
    direction = w_u[:, token] - (w_u[:, other] if other is not None else 0.0)
    lines = [f"{component}'s share of {target} at position {pos}:"]
    if cfg.norm == "pre":
        sigma = final_scale(model, trace, pos)
        c = v - v.mean()
        d = trace.params[p + "ln_final.w"] * direction / sigma
        lines.append(f"c = its output at this position, centred (c − mean c); σ = {sigma:.4f}, the final "
                     "norm's spread here, held fixed")
        lines.append("share = Σ_i c_i · d_i,  d = w ∘ u / σ (w: the norm's scale), u = W_U[:, token]"
                     + (" − W_U[:, other]" if other is not None else ""))
    else:
        c, d = v, direction
        lines.append("share = Σ_i c_i · d_i,  c = its output at this position, d = W_U[:, token]"
                     + (" − W_U[:, other]" if other is not None else ""))
    terms = [f"({a:.3f})({b:.3f})" for a, b in zip(c[:3], d[:3])]
    more = f" + … ({len(c)} terms)" if len(c) > 3 else ""
    lines.append("= " + " + ".join(terms) + more + f" = {share:.4f}")
    return "\n".join(lines)


def final_scale(model, trace: Trace, pos: int) -> float:
    """The final LayerNorm's σ = √(var + ε) at `pos`, the number attribution freezes (1 without a norm)."""
    if model.config.norm != "pre":
        return 1.0
    x = trace[lens_points(model)[-1]][pos]
    return float(np.sqrt(((x - x.mean()) ** 2).mean() + model.config.norm_eps))


# --- activation patching ---

_HEAD_FIRST = ("scores", "scale", "mask", "softmax")  # [head, q_pos, k_pos]; others are [pos, head, …]


def patch_hook(graph: Graph, clean: np.ndarray, name: str, positions: Sequence[int] | None = None,
               head: int | None = None) -> Hook:
    """An override that copies `clean` (the same step from another run) into the value, where chosen."""
    op = graph.node(name).op
    if head is None:
        index = (slice(None) if positions is None else list(positions),)
    elif op in _HEAD_FIRST:
        index = (head, slice(None) if positions is None else list(positions))
    else:
        index = (slice(None) if positions is None else list(positions), head)

    def hook(v: np.ndarray) -> np.ndarray:
        if v.shape != clean.shape:
            raise ValueError(f"{name} has shape {list(clean.shape)} in the clean run but {list(v.shape)} in "
                             "the corrupted one: the two inputs must have the same number of tokens.")
        v = v.copy()
        v[index] = clean[index]
        return v
    return hook


def patch(model, clean, corrupt, name: str, positions: Sequence[int] | None = None,
          head: int | None = None, clean_trace: Trace | None = None) -> Trace:
    """The corrupted input's run with step `name` (at `positions`, of `head`) taken from the clean run.

    `name` is a step (`blocks.1.hook_resid_mid`, `blocks.0.attn.hook_z` with `head`) or a
    component (`blocks.1.attn.head0`, `blocks.0.mlp`). Both inputs need the same length.
    """
    g = model.graph
    if name not in g.index and name not in g.aliases:
        name, comp_head = component_node(g, model.config.n_heads, name)
        head = comp_head if head is None else head
    name = g.aliases.get(name, name)
    ct = clean_trace if clean_trace is not None else model.run(clean)
    return model.run(corrupt, hooks={name: patch_hook(g, ct[name], name, positions, head)})


def answer_metric(trace: Trace, answer: int, wrong: int | None = None, pos: int = -1) -> float:
    """logit[answer] − logit[wrong] at `pos` (or the answer's probability when `wrong` is None)."""
    if wrong is None:
        return float(trace["probs"][pos, answer])
    logits = trace["logits"]
    return float(logits[pos, answer] - logits[pos, wrong])


def patch_sweep(model, clean, corrupt, answer: int, wrong: int | None = None,
                what: str = "resid") -> tuple[list[str], np.ndarray]:
    """How much of the clean answer each patch brings back: (row names, recovered[row, column]).

    `what="resid"`: one row per residual point (as the logit lens), one column per position.
    `what="heads"`: one row per attention sublayer (self, then cross for a decoder that has it;
    columns = heads), each head patched at every position. An encoder-decoder's inputs are
    (source, target) pairs, and the rows are the decoder's. Recovered = (patched − corrupt) /
    (clean − corrupt) of `answer_metric` at the last position: 0 is the corrupted answer, 1 the
    clean one.
    """
    ct, rt = model.run(clean), model.run(corrupt)
    base, top = answer_metric(rt, answer, wrong), answer_metric(ct, answer, wrong)
    span = top - base if top != base else 1.0
    if what == "resid":
        rows = lens_points(model)
        n_pos = len(rt["logits"])
        grid = np.array([[answer_metric(patch(model, clean, corrupt, r, [i], clean_trace=ct), answer, wrong)
                          for i in range(n_pos)] for r in rows])
    elif what == "heads":
        p = _prefix(model)
        kinds = ("attn", "cross_attn") if p else ("attn",)
        rows = [f"{p}blocks.{layer}.{kind}" for layer in range(model.config.n_layers) for kind in kinds]
        grid = np.array([[answer_metric(patch(model, clean, corrupt, f"{r}.head{h}", clean_trace=ct), answer, wrong)
                          for h in range(model.config.n_heads)] for r in rows])
    else:
        raise ValueError(f"what must be 'resid' or 'heads'; got {what!r}.")
    return rows, (grid - base) / span


# --- attention rollout ---

def attention_rollout(trace: Trace, stack: str | None = None) -> np.ndarray:
    """How much each output position draws on each input token through all layers  # [pos, pos]

    Abnar & Zuidema (2020): each layer's attention, averaged over heads, is mixed half and half
    with the identity for the residual connection (Ã = ½A + ½I), and the layers are multiplied,
    the top layer on the left. Rows sum to 1. Self-attention only: for an encoder-decoder the
    decoder's own stack by default (`stack="encoder"` for the encoder's); cross-attention
    reads another sequence, so it has no place in this product.
    """
    graph = trace.graph
    if stack is None:
        stack = "decoder" if "decoder.blocks.0.attn.hook_pattern" in graph.index else ""
    p = stack + "." if stack else ""
    layer, out = 0, None
    residual = any(n.op == "add" and n.name.endswith("hook_resid_mid") for n in graph.nodes) or \
        any(n.op in ("depth_mix", "dwa") for n in graph.nodes)
    while f"{p}blocks.{layer}.attn.hook_pattern" in graph.index:
        a = trace[f"{p}blocks.{layer}.attn.hook_pattern"].mean(axis=0)  # [q_pos, k_pos]
        if residual:
            a = 0.5 * a + 0.5 * np.eye(len(a))
        out = a if out is None else a @ out
        layer += 1
    if out is None:
        raise KeyError(f"No self-attention in stack {stack!r}.")
    return out


# --- PCA ---

def pca(x: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(coords[n, k], explained fraction[k]) of the rows of x, centred, by SVD.

    Each axis's sign is fixed so that its largest loading is positive (the same picture every time).
    """
    x = np.asarray(x, dtype=np.float64)
    y = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(y, full_matrices=False)
    k = min(k, len(s))
    vt = vt[:k] * np.where(vt[:k][np.arange(k), np.abs(vt[:k]).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]
    total = (s * s).sum()
    frac = (s[:k] ** 2) / total if total > 0 else np.zeros(k)
    coords = y @ vt.T
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
        frac = np.pad(frac, (0, 2 - len(frac)))
    return coords, frac


__all__ = ["ABLATIONS", "component_node", "ablation_hooks", "lens_points", "logit_lens",
           "lens_probs", "point_label", "stream_parts", "direct_logit_attribution", "attribution_calculation",
           "final_scale", "patch_hook", "patch",
           "answer_metric", "patch_sweep", "attention_rollout", "pca"]
