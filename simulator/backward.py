"""The backward pass, written by hand: one small numpy function per forward op.

`BACKWARD[op](grad_out, xs, ps, attrs, out) -> (grads_xs, grads_ps)` mirrors
`ops.FORWARD[op](xs, ps, attrs)`: given ∂L/∂out it returns ∂L/∂ each input
activation (None for inputs that are not numbers to differentiate, such as token
ids or the temperature) and ∂L/∂ each parameter. `loss_and_grads` runs the graph
forward, takes the cross-entropy of the next-token predictions, and walks the
nodes in reverse order, adding up the gradients that reach each activation.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from . import budget, linear_attention
from .ops import FORWARD, allowed_for, gelu_exact_slope, gelu_slope, groups_sum, layernorm_stats, rms, rope

DROPOUT_SITES = ("attn_out", "mlp_out")  # the roles of the sublayer outputs (cross-attention's too)


# --- the backward table: op name -> f(grad_out, xs, ps, attrs, out) ---

def _embed(g, xs, ps, a, out):
    gw = np.zeros_like(ps[0])
    np.add.at(gw, xs[0], g)  # a token used twice collects both rows' gradients
    return [None], [gw]


def _pos_sinusoidal(g, xs, ps, a, out):
    return [None], []


def _pos_learned(g, xs, ps, a, out):
    gw = np.zeros_like(ps[0])
    gw[: len(g)] = g
    return [None], [gw]


def _add(g, xs, ps, a, out):
    return [g] * len(xs), []


def _layernorm(g, xs, ps, a, out):
    w = ps[0]
    xc, scale = layernorm_stats(xs[0], a["eps"])  # the forward's own statistics, constant rows included
    xhat = xc / scale
    gh = g * w
    gx = (gh - gh.mean(-1, keepdims=True) - xhat * (gh * xhat).mean(-1, keepdims=True)) / scale
    axes = tuple(range(g.ndim - 1))
    return [gx], [(g * xhat).sum(axes), g.sum(axes)]


def _proj_heads(g, xs, ps, a, out):
    x, w = xs[0], ps[0]  # x [pos, d_model], w [head, d_model, d_head], g [pos, head, d_head]
    gh = g.transpose(1, 0, 2)  # [head, pos, d_head]
    gx = (gh @ w.transpose(0, 2, 1)).sum(0)  # [pos, d_model]
    gw = x.T @ gh  # [head, d_model, d_head]
    return [gx], [gw, g.sum(0)]


def _rope(g, xs, ps, a, out):
    return [rope(g, inverse=True)], []  # a rotation's transpose rotates back by the same angle


def _scores(g, xs, ps, a, out):
    q, k = xs  # [q_pos, head, d_head], [k_pos, head, d_head]; g [head, q_pos, k_pos]
    gq = (g @ k.transpose(1, 0, 2)).transpose(1, 0, 2)
    gk = (g.transpose(0, 2, 1) @ q.transpose(1, 0, 2)).transpose(1, 0, 2)
    return [gq, gk], []


def _scale(g, xs, ps, a, out):
    return [g / a["sqrt_d"]], []


def _mask(g, xs, ps, a, out):
    return [np.where(allowed_for(a, g.shape[1], g.shape[2]), g, 0.0)], []


def _softmax(g, xs, ps, a, out):
    axis = a.get("axis", -1)
    return [out * (g - (g * out).sum(axis, keepdims=True))], []


def _mix(g, xs, ps, a, out):
    pattern, v = xs  # [head, q_pos, k_pos], [k_pos, head, d_head]; g [q_pos, head, d_head]
    gh = g.transpose(1, 0, 2)  # [head, q_pos, d_head]
    g_pattern = gh @ v.transpose(1, 2, 0)  # [head, q_pos, k_pos]
    gv = (pattern.transpose(0, 2, 1) @ gh).transpose(1, 0, 2)  # [k_pos, head, d_head]
    return [g_pattern, gv], []


def _concat(g, xs, ps, a, out):
    return [g.reshape(xs[0].shape)], []


def _linear(g, xs, ps, a, out):
    x, w = xs[0], ps[0]
    if a.get("transposed"):  # out = x·Wᵀ + b, W [vocab, d_model] the tied embedding
        g2 = g.reshape(-1, g.shape[-1])
        return [(g2 @ w).reshape(x.shape)], [g2.T @ x.reshape(-1, w.shape[1]), g2.sum(0)]
    w2 = w.reshape(-1, w.shape[-1])  # W_O [head, d_head, d_model] acts as [head·d_head, d_model]
    g2 = g.reshape(-1, g.shape[-1])
    gx = (g2 @ w2.T).reshape(x.shape)
    gw = (x.reshape(-1, w2.shape[0]).T @ g2).reshape(w.shape)
    return [gx], [gw, g2.sum(0)]


def _act(g, xs, ps, a, out):
    x = xs[0]
    if a["fn"] == "relu":
        return [g * (x > 0)], []
    if a["fn"] == "gelu_exact":
        return [g * gelu_exact_slope(x)], []
    return [g * gelu_slope(x)], []


def _probs(g, xs, ps, a, out):
    temp = float(xs[1])
    # where the weight is all on one logit (T → 0) the product is exactly 0: it stays 0, not 0/T
    local = out * (g - (g * out).sum(-1, keepdims=True))
    with np.errstate(over="ignore"):
        return [np.where(local == 0, 0.0, local / temp), None], []


def _ungroup(g_sources: np.ndarray, groups, n: int) -> list[np.ndarray | None]:
    """Send each depth source's gradient back to every output summed into it."""
    gvs: list[np.ndarray | None] = [None] * n
    for s, members in enumerate(groups):
        for i in members:
            gvs[i] = g_sources[s] if gvs[i] is None else gvs[i] + g_sources[s]
    return gvs


def _depth_logits(g, xs, ps, a, out):
    w = ps[0]  # g [source, pos]
    sources = groups_sum(xs, a["groups"])  # [source, pos, d_model]
    scale = rms(sources, a["eps"])  # [source, pos, 1]
    r = sources / scale
    gr = g[..., None] * w
    g_sources = (gr - r * (gr * r).mean(-1, keepdims=True)) / scale
    gw = np.tensordot(g, r, axes=([0, 1], [0, 1]))  # [d_model]
    return _ungroup(g_sources, a["groups"], len(xs)), [gw]


def _depth_mix(g, xs, ps, a, out):
    weights, vs = xs[0], xs[1:]  # weights [source, pos]; g [pos, d_model]
    sources = groups_sum(vs, a["groups"])
    g_weights = (sources * g).sum(-1)
    g_sources = weights[..., None] * g
    return [g_weights] + _ungroup(g_sources, a["groups"], len(vs)), []


def _dwa(g, xs, ps, a, out):
    alpha = ps[0]
    return [alpha[j] * g for j in range(len(xs))], [np.array([(g * x).sum() for x in xs])]


def _patchify(g, xs, ps, a, out):
    return [None], []  # the image is data, not a weight


def _prepend_cls(g, xs, ps, a, out):
    return [g[1:]], [g[0]]


def _take_cls(g, xs, ps, a, out):
    gx = np.zeros(xs[0].shape)
    gx[:1] = g  # only [CLS] was read; the patches' final vectors get no gradient from the head
    return [gx], []


BACKWARD = {
    "embed": _embed, "pos_sinusoidal": _pos_sinusoidal, "pos_learned": _pos_learned, "add": _add,
    "layernorm": _layernorm, "proj_heads": _proj_heads, "rope": _rope, "scores": _scores,
    "scale": _scale, "mask": _mask, "softmax": _softmax, "mix": _mix, "concat": _concat,
    "linear": _linear, "act": _act, "probs": _probs, "depth_logits": _depth_logits,
    "depth_mix": _depth_mix, "dwa": _dwa, "patchify": _patchify, "prepend_cls": _prepend_cls,
    "take_cls": _take_cls,
}
BACKWARD.update(linear_attention.BACKWARD)
assert BACKWARD.keys() == FORWARD.keys()


# --- inputs, forward with dropout, loss ---

def prepare(model, tokens, targets, mask=None) -> tuple[dict, np.ndarray, np.ndarray]:
    """Token ids of the inputs, target ids [pos] and which positions count [pos] (bool).

    Raises `TokenError`/`ValueError` with a student-readable message on bad input.
    """
    if "logits" not in model.graph.index:
        raise ValueError("This model ends at its final hidden states (head='none'): with no read-out there are "
                         "no predictions, so no loss and no gradients.")
    toks, inputs = model.encode(tokens)
    n = 1 if "image" in inputs else len(toks[1] if isinstance(toks, tuple) else toks)  # a vit answers at [CLS]
    tgt = model.tokenizer.tokens(targets)
    if len(tgt) != n:
        raise ValueError(f"There are {n} input tokens but {len(tgt)} targets: give one target "
                         "(the token that should come next) for each input position.")
    target_ids = np.array([model.tokenizer.ids[t] for t in tgt])
    if mask is None:
        counted = np.ones(n, dtype=bool)
    else:
        counted = np.asarray(mask, dtype=bool).reshape(-1)
        if counted.size != n:
            raise ValueError(f"The mask has {counted.size} entries but there are {n} positions.")
        if not counted.any():
            raise ValueError("The mask leaves no position to count: mark at least one as True.")
    return inputs, target_ids, counted


def make_dropout_masks(model, inputs: Mapping[str, np.ndarray], rate: float,
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Inverted-dropout masks (0 or 1/(1−rate)) for the embedding sums and the sublayer outputs.

    `inputs` are the token ids from `prepare`; masks are keyed by node name, each [pos, d_model].
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"The dropout rate must be at least 0 and below 1; got {rate!r}.")
    graph, d = model.graph, model.config.d_model
    stacks = ("encoder.", "decoder.") if "encoder.input_ids" in inputs else ("",)
    sites = [graph.node(p + "blocks.0.hook_resid_pre") for p in stacks]
    sites += [n for n in graph.nodes if n.role in DROPOUT_SITES]
    masks = {}
    for node in sites:
        shape = (len(inputs[(node.stack + "." if node.stack else "") + "input_ids"]), d)
        masks[node.name] = (rng.random(shape) >= rate) / (1.0 - rate)
    return masks


def forward_values(model, inputs: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray] | None = None,
                   overrides: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every node's value, like `Transformer.run`, with dropout masks multiplied into their nodes.

    `overrides` replaces a node's value outright (to watch what one activation changes downstream).
    """
    values = dict(inputs)
    params = model.params
    masks, overrides = masks or {}, overrides or {}
    for node in model.graph.nodes:
        if node.name in overrides:
            values[node.name] = overrides[node.name]
            continue
        v = FORWARD[node.op]([values[i] for i in node.inputs], [params[p] for p in node.params], node.attrs)
        values[node.name] = v * masks[node.name] if node.name in masks else v
    return values


def cross_entropy(logits: np.ndarray, target_ids: np.ndarray, counted: np.ndarray,
                  label_smoothing: float = 0.0) -> tuple[float, np.ndarray]:
    """Mean cross-entropy over counted positions and its gradient ∂L/∂logits  # logits [pos, d_vocab]

    The target distribution is (1−ε)·one-hot + ε/V (label smoothing ε).
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"Label smoothing must be between 0 and 1; got {label_smoothing!r}.")
    n_vocab = logits.shape[-1]
    shifted = logits - logits.max(-1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    target = np.full(logits.shape, label_smoothing / n_vocab)
    target[np.arange(len(target_ids)), target_ids] += 1.0 - label_smoothing
    n = counted.sum()
    loss = float(-(target * logp).sum(-1)[counted].sum() / n)
    grad = (np.exp(logp) - target) * (counted[:, None] / n)
    return loss, grad


# --- the walk ---

def backward_walk(graph, values: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray],
                  grad_logits: np.ndarray, masks: Mapping[str, np.ndarray] | None = None,
                  ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run `BACKWARD` over the nodes in reverse order: (∂L/∂activation by node, ∂L/∂param by name).

    Nodes the loss does not depend on (e.g. `probs`) get no entry.
    """
    acts: dict[str, np.ndarray] = {"logits": grad_logits}
    grads: dict[str, np.ndarray] = {}
    masks = masks or {}
    for node in reversed(graph.nodes):
        g = acts.get(node.name)
        if g is None:
            continue
        if node.name in masks:  # dropout sites (linear, add, embed) never read `out`
            g = g * masks[node.name]
        gxs, gps = BACKWARD[node.op](g, [values[i] for i in node.inputs],
                                    [params[p] for p in node.params], node.attrs, values[node.name])
        for name, gx in zip(node.inputs, gxs):
            if gx is not None:
                acts[name] = acts[name] + gx if name in acts else gx  # never in place: arrays are shared
        for name, gp in zip(node.params, gps):
            grads[name] = grads[name] + gp if name in grads else gp
    return acts, grads


class Gradients(Mapping):
    """∂loss/∂ every parameter (by parameter name) and every activation (by step name, aliases too).

    Arrays are read-only and have the shape of what they differentiate.
    """

    def __init__(self, graph, loss: float, params: dict[str, np.ndarray], activations: dict[str, np.ndarray]):
        self.graph = graph
        self.loss = loss
        self.params = params
        self.activations = activations
        for a in (*params.values(), *activations.values()):
            a.flags.writeable = False

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self.params:
            return self.params[name]
        try:
            return self.activations[self.graph.aliases.get(name, name)]
        except KeyError:
            raise KeyError(f"No parameter or step called {name!r}.") from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self.params or self.graph.aliases.get(name, name)
                                          in self.activations)

    def __iter__(self) -> Iterator[str]:
        yield from self.params
        yield from self.activations

    def __len__(self) -> int:
        return len(self.params) + len(self.activations)


def _full_grads(model, values, acts, grads) -> tuple[dict, dict]:
    """Fill in zeros for what the loss does not reach; float64 arrays of the right shapes."""
    params = {name: np.array(grads[name], dtype=np.float64) if name in grads else np.zeros(shape)
              for name, shape in model.shapes.items()}
    activations = {n.name: np.array(acts[n.name], dtype=np.float64) if n.name in acts
                   else np.zeros(np.shape(values[n.name])) for n in model.graph.nodes}
    return params, activations


def loss_and_grads(model, tokens, targets, mask: Sequence[bool] | None = None, label_smoothing: float = 0.0,
                   dropout_masks: Mapping[str, np.ndarray] | None = None) -> tuple[float, Gradients]:
    """Cross-entropy of the next-token predictions and its gradient for every parameter and step.

    `targets[p]` is the token that position p should predict (same form and length as the
    input; for encoder-decoder, `tokens` is (source, target_in) and `targets` is target_out).
    `mask` marks which positions count (default: all); the loss is their mean.
    `dropout_masks` (from `make_dropout_masks`) multiplies the same masks into forward and backward.
    Raises `budget.BudgetError` before anything is computed when the gradients would not fit the budget.
    """
    budget.check_backward(model.config, model.encode(tokens)[0])
    inputs, target_ids, counted = prepare(model, tokens, targets, mask)
    values = forward_values(model, inputs, dropout_masks)
    loss, g_logits = cross_entropy(values["logits"], target_ids, counted, label_smoothing)
    acts, grads = backward_walk(model.graph, values, model.params, g_logits, dropout_masks)
    params, activations = _full_grads(model, values, acts, grads)
    return loss, Gradients(model.graph, loss, params, activations)


def batch_loss_and_grads(model, batch_tokens: Sequence, batch_targets: Sequence,
                         masks: Sequence | None = None, label_smoothing: float = 0.0, dropout: float = 0.0,
                         rng: np.random.Generator | None = None) -> tuple[float, dict[str, np.ndarray]]:
    """Mean loss over a batch of sequences (each weighted equally) and the mean parameter gradients.

    With `dropout` > 0 each sequence gets fresh masks from `rng` (a fresh unseeded generator if None).
    """
    if len(batch_tokens) != len(batch_targets) or not len(batch_tokens):
        raise ValueError(f"A batch needs as many target sequences as inputs, at least one; got "
                         f"{len(batch_tokens)} inputs and {len(batch_targets)} targets.")
    if masks is not None and len(masks) != len(batch_tokens):
        raise ValueError(f"Give one mask per sequence: {len(masks)} masks for {len(batch_tokens)} sequences.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"The dropout rate must be at least 0 and below 1; got {dropout!r}.")
    if dropout > 0 and rng is None:
        rng = np.random.default_rng()
    total = 0.0
    sums: dict[str, np.ndarray] = {}
    for i, (tokens, targets) in enumerate(zip(batch_tokens, batch_targets)):
        inputs, target_ids, counted = prepare(model, tokens, targets, None if masks is None else masks[i])
        drop = make_dropout_masks(model, inputs, dropout, rng) if dropout > 0 else None
        values = forward_values(model, inputs, drop)
        loss, g_logits = cross_entropy(values["logits"], target_ids, counted, label_smoothing)
        _, grads = backward_walk(model.graph, values, model.params, g_logits, drop)
        total += loss
        for name, g in grads.items():
            sums[name] = sums[name] + g if name in sums else g
    n = len(batch_tokens)
    return total / n, {name: sums[name] / n if name in sums else np.zeros(shape)
                       for name, shape in model.shapes.items()}


def __getattr__(name: str):
    # The step-by-step walk and the gradient-flow helpers live in their own module.
    if name in ("BackwardStep", "backward_steps", "gradient_flow", "compare_gradient_flow"):
        from . import gradient_flow
        return getattr(gradient_flow, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# BackwardStep, backward_steps, gradient_flow and compare_gradient_flow are reachable here too (see
# __getattr__) but live in simulator.gradient_flow.
__all__ = ["BACKWARD", "Gradients", "loss_and_grads", "batch_loss_and_grads", "forward_values",
           "make_dropout_masks", "cross_entropy", "backward_walk", "prepare"]
