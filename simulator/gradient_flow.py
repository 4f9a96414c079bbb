"""The backward pass as steps a class can walk, and how gradient size changes with depth.

`backward_steps` lists, in reverse forward order, each node's gradient with the rule
that carries it back to the node's inputs. `gradient_flow` measures ‖∂L/∂resid_pre‖
layer by layer; `compare_gradient_flow` does so for several residual/norm wirings of a
deep model, so a class can see gradients fade without skip connections.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .backward import loss_and_grads
from .config import ModelConfig
from .model import Transformer
from .tasks import TASKS
from .trace import Trace
from .train import check_fits

# The rule that carries ∂L/∂out back through each op; {out}, {x}, {y}, {p0}, {p1} are short names.
# An op whose rule depends on a setting maps that setting (softmax's axis, the activation) to its rule.
FORMULAS = {
    "embed": "∂L/∂{p0}[token id] += ∂L/∂{out}[pos]",
    "pos_sinusoidal": "no parameters: the sine/cosine table is fixed, the gradient stops here",
    "pos_learned": "∂L/∂{p0}[pos] = ∂L/∂{out}[pos]",
    "add": "∂L/∂{x} = ∂L/∂{y} = ∂L/∂{out}",
    "layernorm": "g = {p0} ⊙ ∂L/∂{out};  ∂L/∂{x} = (g − mean(g) − x̂ · mean(g ⊙ x̂)) ÷ √(var + ε);  "
                 "∂L/∂{p0} = Σ_pos ∂L/∂{out} ⊙ x̂;  ∂L/∂{p1} = Σ_pos ∂L/∂{out}",
    "proj_heads": "∂L/∂{x} = Σ_head ∂L/∂{out} · {p0}ᵀ;  ∂L/∂{p0} = {x}ᵀ · ∂L/∂{out};  "
                  "∂L/∂{p1} = Σ_pos ∂L/∂{out}",
    "rope": "∂L/∂{x} = rotate(∂L/∂{out}, −p·θ)",
    "scores": "∂L/∂{x} = ∂L/∂{out} · {y};  ∂L/∂{y} = ∂L/∂{out}ᵀ · {x}",
    "scale": "∂L/∂{x} = ∂L/∂{out} ÷ √d_head",
    "mask": "∂L/∂{x} = ∂L/∂{out} where allowed, 0 at the hidden pairs",
    "softmax": {-1: "∂L/∂{x} = {out} ⊙ (∂L/∂{out} − Σ_k {out} ⊙ ∂L/∂{out})",  # by its axis
                0: "∂L/∂{x} = {out} ⊙ (∂L/∂{out} − Σ_sources {out} ⊙ ∂L/∂{out})"},
    "mix": "∂L/∂{x} = ∂L/∂{out} · {y}ᵀ;  ∂L/∂{y} = {x}ᵀ · ∂L/∂{out}",
    "concat": "∂L/∂{x}[head] = that head's slice of ∂L/∂{out}",
    "linear": "∂L/∂{x} = ∂L/∂{out} · {p0}ᵀ;  ∂L/∂{p0} = {x}ᵀ · ∂L/∂{out};  ∂L/∂{p1} = Σ_pos ∂L/∂{out}",
    "act": {"relu": "∂L/∂{x} = ∂L/∂{out} ⊙ [{x} > 0]",  # by its function
            "gelu": "∂L/∂{x} = ∂L/∂{out} ⊙ GELU′({x})",
            "gelu_exact": "∂L/∂{x} = ∂L/∂{out} ⊙ (Φ({x}) + {x}·φ({x}))"},
    "probs": "∂L/∂{out} = 0: the loss is computed from the logits, so no gradient passes here",
    "depth_logits": "g_i = ∂L/∂{out}_i · {p0};  ∂L/∂v_i = (g_i − r_i ⊙ mean(g_i ⊙ r_i)) ÷ rms(v_i), "
                    "r_i = RMSNorm(v_i);  ∂L/∂{p0} = Σ_i,pos ∂L/∂{out}_i · r_i",
    "depth_mix": "∂L/∂α_i = ∂L/∂{out} · v_i;  ∂L/∂v_i = α_i · ∂L/∂{out}",
    "dwa": "∂L/∂{p0}_j = Σ ∂L/∂{out} ⊙ X_j;  ∂L/∂X_j = {p0}_j · ∂L/∂{out}",
    "patchify": "no parameters: the image is data, the gradient stops here",
    "prepend_cls": "∂L/∂{p0} = ∂L/∂{out}[0];  ∂L/∂{x} = ∂L/∂{out}[1:]",
    "take_cls": "∂L/∂{x}[0] = ∂L/∂{out};  ∂L/∂{x}[patches] = 0",
}

DESCRIPTIONS = {
    "embed": "Each position's gradient goes to the row of W_E of its token; a token used twice collects both.",
    "pos_sinusoidal": "The position table has no weights to learn, so nothing is updated here.",
    "pos_learned": "Each position's gradient goes straight to that position's row of W_pos.",
    "add": "The gradient flows unchanged into both inputs (the residual highway).",
    "layernorm": "The gradient is scaled by w, stripped of its mean and of its part along the normalised "
                 "vector, then divided by the spread the input had.",
    "proj_heads": "Each head's gradient goes back through its projection matrix; the heads' shares add up.",
    "rope": "Rotations are undone by rotating the gradient back by the same angle.",
    "scores": "Each query's gradient is a mix of the keys, and each key's a mix of the queries, "
              "weighted by the score gradients.",
    "scale": "Dividing by √d_head in the forward pass divides the gradient by the same number.",
    "mask": "Hidden pairs played no part in the output, so they get zero gradient.",
    "softmax": "Softmax passes back the gradient minus its weighted average, times the weights: "
               "raising one weight lowers the others.",
    "mix": "The pattern's gradient compares the output gradient with each value; each value gets the "
           "output gradient weighted by how much it was attended to.",
    "concat": "The joined vector is cut back into one piece per head.",
    "linear": "The gradient goes back through the transposed weight matrix; the weight's gradient pairs "
              "each input with each output gradient.",
    "act": "The gradient passes where the non-linearity let the signal through, scaled by its slope.",
    "probs": "The probabilities are for display; the loss used the logits directly.",
    "depth_logits": "The gradient reaches the pseudo-query w and, through the RMS normalisation, every "
                    "earlier output it was compared with.",
    "depth_mix": "Each earlier output gets the gradient times its weight; each weight gets how well its "
                 "output lines up with the gradient.",
    "patchify": "Cutting the image into patches has no weights, so nothing is updated here.",
    "prepend_cls": "The [CLS] row's gradient goes to the learned [CLS] vector; the other rows go back to "
                   "their patches.",
    "take_cls": "Only [CLS] was read by the head, so only its row gets a gradient.",
    "dwa": "Each block's output gets the gradient times its α; each α gets how well its block's output "
           "lines up with the gradient.",
}

# linear attention (see simulator.linear_attention)
FORMULAS.update({
    "feature_map": "∂L/∂{x} = ∂L/∂{out} ⊙ (1 where {x} > 0, else e^{x})",
    "kv_state": "G_j = Σ_i≥j ∂L/∂{out}_i (all i for an encoder);  ∂L/∂{x}_j = G_j · {y}_j;  "
                "∂L/∂{y}_j = G_jᵀ · {x}_j",
    "k_sum": "∂L/∂{x}_j = Σ_i≥j ∂L/∂{out}_i (all i for an encoder)",
    "linear_out": "g = ∂L/∂{out} ÷ (φ(q)·z);  ∂L/∂φ(q) = S·g − (g·{out}) z;  ∂L/∂S = φ(q) gᵀ;  "
                  "∂L/∂z = −(g·{out}) φ(q)",
    "linear_weights": "∂L/∂u = (∂L/∂{out} − Σ_k {out} ⊙ ∂L/∂{out}) ÷ Σ_k u, u = φ(q)·φ(k)ᵀ;  "
                      "∂L/∂{x} = ∂L/∂u · {y};  ∂L/∂{y} = ∂L/∂uᵀ · {x}",
})
DESCRIPTIONS.update({
    "feature_map": "φ = elu + 1 has slope 1 above 0 and slope eˣ = φ(x) below.",
    "kv_state": "A running sum sends each state's gradient back to every token it summed: token j gets the "
                "gradients of the states from i = j on, split into its key and value parts.",
    "k_sum": "A running sum sends each later sum's gradient back to the key features it contained.",
    "linear_out": "A quotient: the numerator's gradient is the output gradient over the denominator, and the "
                  "denominator's pulls the other way in proportion to the output.",
    "linear_weights": "The weights are for display (the output came from S and z): the loss does not reach "
                      "them, but their rule is written like the normalisation it is.",
})

LOSS_FORMULA = "∂L/∂logits = (softmax(logits) − target) ÷ n_counted;  "


@dataclass(frozen=True)
class BackwardStep:
    """One node of the backward walk: ∂L/∂(its value), and how that reaches its inputs and weights."""

    name: str
    grad: np.ndarray  # ∂L/∂ this step's value, same shape as the value
    formula: str
    description: str
    op: str = ""
    inputs: tuple[str, ...] = ()
    params: dict[str, np.ndarray] = field(default_factory=dict)  # ∂L/∂ the weights this step reads


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1].removeprefix("hook_")


TIED_LINEAR = "∂L/∂{x} = ∂L/∂{out} · {p0};  ∂L/∂{p0} = ∂L/∂{out}ᵀ · {x};  ∂L/∂{p1} = Σ_pos ∂L/∂{out}"


def _formula(node) -> str:
    rule = FORMULAS[node.op]
    if node.op == "softmax":
        rule = rule[node.attrs.get("axis", -1)]
    elif node.op == "act":
        rule = rule[node.attrs["fn"]]
    elif node.op == "linear" and node.attrs.get("transposed"):  # the tied read-out: out = x·W_Eᵀ + b
        rule = TIED_LINEAR
    if node.op in ("linear", "proj_heads") and len(node.params) == 1:  # no bias
        rule = rule.rsplit(";", 1)[0]
    names = [_short(i) for i in node.inputs] + ["", ""]
    parts = [p.rsplit(".", 1)[-1] for p in node.params] + ["", ""]
    text = rule.format(out=_short(node.name), x=names[0], y=names[1], p0=parts[0], p1=parts[1])
    if node.op == "add" and len(node.inputs) > 2:
        text = f"∂L/∂input = ∂L/∂{_short(node.name)} for each of the {len(node.inputs)} inputs"
    return LOSS_FORMULA + text if node.name == "logits" else text


def backward_steps(model: Transformer, trace_or_tokens, targets, mask: Sequence[bool] | None = None,
                   label_smoothing: float = 0.0) -> list[BackwardStep]:
    """The backward pass one node at a time, last forward step first.

    `trace_or_tokens` is a `Trace` of this model or its input tokens; `targets` as in `loss_and_grads`.
    """
    tokens = trace_or_tokens.tokens if isinstance(trace_or_tokens, Trace) else trace_or_tokens
    return steps_from_grads(model, loss_and_grads(model, tokens, targets, mask, label_smoothing)[1])


def steps_from_grads(model: Transformer, grads) -> list[BackwardStep]:
    """`backward_steps` from gradients already computed by `loss_and_grads` (which also gave the loss)."""
    return [BackwardStep(n.name, grads[n.name], _formula(n), DESCRIPTIONS[n.op], n.op, n.inputs,
                         {p: grads[p] for p in n.params})
            for n in reversed(model.graph.nodes)]


def next_token_targets(tokens, arch: str = "decoder", predicted=None):
    """(tokens, targets, mask) of the loss on an input: what each position should predict.

    A decoder's position p predicts the token after it (so does the decoder side of an
    encoder-decoder); the last position has no next token and counts for nothing. An
    encoder sees the whole input, so its target is the input itself. None when nothing
    is left to predict (a single token). An image model (`tokens` is then its image) is asked
    for the class it reads now: `predicted` holds its class probabilities.
    """
    if arch == "vit":  # an image (pass the session's input) whose target is the class the model reads now
        return tokens, [str(int(np.argmax(predicted)))], [True]
    side = tokens[1] if isinstance(tokens, tuple) else tokens
    if arch == "encoder":
        return tokens, list(side), [True] * len(side)
    if len(side) < 2:
        return None
    targets = list(side[1:]) + [side[-1]]
    mask = [True] * (len(side) - 1) + [False]
    return tokens, targets, mask


def loss_targets(model: Transformer, tokens, predicted=None):
    """(tokens, targets, mask) of the loss the Gradients and Backward pass views show, and a few
    words saying which loss it is; (None, why) when there is nothing to predict.

    For an input of a task the model was trained on (a preset, or a model the Training tab
    made), the loss counts only the answer tokens, exactly as training does; otherwise every
    next token counts (an encoder: its own input; an image model: the class it reads now).
    """
    arch = model.config.arch
    job = next_token_targets(tokens, arch, predicted)
    if job is None:
        return None, "Type at least two tokens: each token's target is the one after it."
    if arch == "decoder":
        for task in TASKS.values():
            try:
                check_fits(model, task)
            except ValueError:
                continue
            start = task.answer_start(list(tokens))
            if start is not None and start < len(tokens) - 1:
                mask = [start <= p < len(tokens) - 1 for p in range(len(tokens))]
                return (job[0], job[1], mask), (f"the answer tokens (positions {start}–{len(tokens) - 2}), "
                                                "as in the Training tab")
    return job, {"encoder": "its own input", "vit": "the class it reads now"}.get(arch, "every next token of the input")


def _resid_pre_names(model: Transformer) -> list[str]:
    stacks = ("encoder.", "decoder.") if model.config.arch == "encoder-decoder" else ("",)
    return [f"{p}blocks.{layer}.hook_resid_pre" for p in stacks for layer in range(model.config.n_layers)]


def gradient_flow(model: Transformer, tokens, targets, mask: Sequence[bool] | None = None) -> dict:
    """How large the gradient is at each layer's input and at each weight.

    Returns {"loss": float, "names": resid_pre names (encoder's first), "layer_norms": array
    [len(names)] of ‖∂L/∂resid_pre‖ (the step an alias resolves to in the depth modes),
    "resolved": the node each name resolves to, "param_norms": {name: ‖∂L/∂param‖}}.
    """
    loss, grads = loss_and_grads(model, tokens, targets, mask)
    names = _resid_pre_names(model)
    return {
        "loss": loss,
        "names": names,
        "resolved": [model.graph.aliases.get(n, n) for n in names],
        "layer_norms": np.array([np.linalg.norm(grads[n]) for n in names]),
        "param_norms": {name: float(np.linalg.norm(g)) for name, g in grads.params.items()},
    }


def compare_gradient_flow(depth: int = 12, modes: Sequence[tuple[str, str]] = (
        ("standard", "pre"), ("none", "pre"), ("standard", "post"), ("attnres", "pre")),
        seed: int = 0, d_model: int = 16, n_heads: int = 2, d_mlp: int = 32, n_tokens: int = 8,
        n_samples: int = 8) -> dict[tuple[str, str], np.ndarray]:
    """‖∂L/∂resid_pre‖ per layer [depth] for each (residual, norm) wiring of a seeded decoder.

    One random model's curve is noisy (without skips a single model may even show growing
    gradients), so each curve is the geometric mean over `n_samples` seeded models and
    random inputs. Every mode sees the same weights seeds, tokens and targets: only the wiring
    differs. Without skip connections the early layers' gradients come out far smaller.
    """
    if depth < 1 or n_samples < 1:
        raise ValueError("depth and n_samples must be at least 1.")
    rng = np.random.default_rng(seed)
    base = ModelConfig(n_layers=depth, d_model=d_model, n_heads=n_heads, d_mlp=d_mlp, n_ctx=n_tokens)
    vocab = base.vocab
    samples = [(int(rng.integers(2 ** 31)), [vocab[i] for i in rng.integers(len(vocab), size=n_tokens)],
                [vocab[i] for i in rng.integers(len(vocab), size=n_tokens)]) for _ in range(n_samples)]
    result = {}
    for residual, norm in modes:
        cfg = base.replace(residual=residual, norm=norm)
        logs = [np.log(gradient_flow(Transformer(cfg, seed=s), tokens, targets)["layer_norms"])
                for s, tokens, targets in samples]
        result[(residual, norm)] = np.exp(np.mean(logs, axis=0))
    return result


def relative_to_last(curves: dict) -> dict:
    """Each curve divided by its value at the last layer: how much of the last layer's gradient
    reaches each earlier layer (1 at the last layer by construction).  # {mode: [depth]}

    Absolute sizes differ between wirings for reasons unrelated to depth (a post-LN or
    residual-free stream has another scale), so the honest comparison is within each curve.
    """
    return {mode: norms / norms[-1] for mode, norms in curves.items()}


def residual_takeaway(relative: dict) -> str:
    """What to conclude from `relative_to_last` curves, read off the curves themselves.

    Compares the standard pre-LN stream with the same model without residual connections
    at the first layer, the one a gradient must travel furthest to reach.
    """
    standard, none = relative[("standard", "pre")], relative[("none", "pre")]
    first_std, first_none = float(standard[0]), float(none[0])
    depth = len(standard)
    if first_none < first_std:
        return (f"Takeaway: with residual connections the first layer gets {first_std:.2g}× the gradient of "
                f"the last; without them only {first_none:.2g}×, {first_std / first_none:.2g} times less. The "
                f"skip path (∂L/∂x passes through each add unchanged) carries the gradient down all {depth} "
                "layers; without it the gradient must pass through every sublayer above and fades, so the "
                "early layers learn slowest. The deeper the model, the larger the gap (try Depth 24).")
    return (f"Here the first layer gets {first_none:.2g}× the last layer's gradient without residual connections "
            f"and {first_std:.2g}× with them: at this depth and seed the residual connections make no "
            "difference to the first layer. Try a deeper model.")


__all__ = ["BackwardStep", "backward_steps", "steps_from_grads", "next_token_targets", "loss_targets", "gradient_flow",
           "compare_gradient_flow", "relative_to_last", "residual_takeaway", "FORMULAS", "DESCRIPTIONS"]
