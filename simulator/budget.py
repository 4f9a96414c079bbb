"""How much memory and work a model takes, worked out from its config before anything is allocated.

A trace keeps every intermediate step, so its size grows with layers × heads × tokens² for
each attention step (raw scores, scaled scores, masked scores, pattern), plus tokens × d_model
or d_mlp for the others. A file, a lesson or a typed setting could ask for hundreds of gigabytes;
every model is checked here first (`Transformer` calls `check_model` when it is built and
`check_run` before each forward pass) and refused with a message that says how large it would be
and what to shrink.

The limits are module attributes so that a script can change them::

    import simulator.budget
    simulator.budget.MEMORY_BYTES = 4 << 30   # allow 4 GiB
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .config import ModelConfig
from .graph import build_graph
from .params import param_shapes

MEMORY_BYTES = 1 << 30  # weights + the kept trace + working space of one run: 1 GiB by default
WORK_MADDS = 2 * 10 ** 10  # multiply-adds of one forward pass (a few seconds of numpy here)
BYTES = 8  # float64; a float32 model's numbers take 4 (see `bytes_per`)


class BudgetError(ValueError):
    """A model, or a run of it, that would not fit the budget; the message says what to shrink."""


@dataclass(frozen=True)
class Estimate:
    """What one model run would cost, in bytes and multiply-adds."""

    weights: int  # bytes of the parameters
    trace: int  # bytes of every kept step
    attention: int  # the part of `trace` in [head, query, key] grids
    largest: int  # bytes of the largest single step (about that much again is working space)
    work: int  # multiply-adds of the forward pass

    @property
    def total(self) -> int:
        return self.weights + self.trace + 2 * self.largest


def size_text(n: float) -> str:
    """A byte count in words a teacher reads at a glance: 1.5 GB, 300 MB, 20 kB."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{int(n)} bytes"


def bytes_per(cfg: ModelConfig) -> int:
    """Bytes of one number of this model: 8 in float64, 4 in float32."""
    return 4 if cfg.dtype == "float32" else BYTES


def weight_bytes(cfg: ModelConfig) -> int:
    return bytes_per(cfg) * sum(math.prod(s) for s in param_shapes(cfg).values())


def _shape(op: str, xs: list[tuple], ps: list[tuple], attrs) -> tuple[tuple, int]:
    """A node's output shape and its multiply-adds, from its inputs' and parameters' shapes."""
    if op == "embed":
        return (xs[0][0], ps[0][1]), 0
    if op == "pos_sinusoidal":
        return (xs[0][0], attrs["d_model"]), 0
    if op == "pos_learned":
        return (xs[0][0], ps[0][1]), 0
    if op == "proj_heads":
        n, (h, d, dh) = xs[0][0], ps[0]
        return (n, h, dh), n * d * h * dh
    if op == "scores":
        q, k = xs
        return (q[1], q[0], k[0]), q[1] * q[0] * k[0] * q[2]
    if op == "mix":
        p, v = xs
        return (p[1], v[1], v[2]), p[0] * p[1] * p[2] * v[2]
    if op == "concat":
        return (xs[0][0], xs[0][1] * xs[0][2]), 0
    if op == "linear":
        d_out = ps[0][0] if attrs.get("transposed") else ps[0][-1]
        return (*xs[0][:-1], d_out), math.prod(xs[0]) * d_out
    if op == "patchify":
        return (cfg_patches(xs[0], attrs["patch"]), attrs["patch"] ** 2), 0
    if op == "prepend_cls":
        return (xs[0][0] + 1, xs[0][1]), 0
    if op == "take_cls":
        return (1, xs[0][1]), 0
    if op == "depth_logits":
        return (len(attrs["groups"]), xs[0][0]), len(attrs["groups"]) * math.prod(xs[0])
    if op == "depth_mix":
        return xs[1], len(attrs["groups"]) * math.prod(xs[1])
    # element-wise steps (add, norms, masks, softmax, activations, rope, dwa …) and any op
    # added later: as large as their largest input
    big = max(xs, key=math.prod) if xs else ()
    return big, len(xs) * math.prod(big)


def cfg_patches(image: tuple, patch: int) -> int:
    """How many patch×patch squares an image of shape `image` is cut into."""
    return (image[0] // patch) * (image[1] // patch)


def estimate(cfg: ModelConfig, n_tokens: int, n_target: int | None = None) -> Estimate:
    """The cost of running `cfg` on `n_tokens` tokens (an encoder-decoder: source and target lengths)."""
    graph = build_graph(cfg)
    params = param_shapes(cfg)
    n_target = n_tokens if n_target is None else n_target
    shapes: dict[str, tuple] = {"input_ids": (n_tokens,), "encoder.input_ids": (n_tokens,),
                                "decoder.input_ids": (n_target,), "temperature": (), "token_type_ids": (n_tokens,),
                                "image": (cfg.image_size, cfg.image_size)}
    trace = attention = largest = work = 0
    for node in graph.nodes:
        shape, madds = _shape(node.op, [shapes[i] for i in node.inputs], [params[p] for p in node.params],
                              node.attrs)
        shapes[node.name] = shape
        size = bytes_per(cfg) * math.prod(shape)
        trace += size
        if len(shape) == 3 and node.op in ("scores", "scale", "mask", "softmax"):
            attention += size
        largest = max(largest, size)
        work += madds
    return Estimate(weight_bytes(cfg), trace, attention, largest, work)


def _lengths(tokens) -> tuple[int, int | None]:
    if isinstance(tokens, tuple):
        return len(tokens[0]), len(tokens[1])
    return len(tokens), None


def max_tokens(cfg: ModelConfig) -> int:
    """The most tokens (up to n_ctx) a run of `cfg` may take within the budget; 0 if none fit."""
    lo, hi = 0, cfg.n_ctx
    while lo < hi:
        mid = (lo + hi + 1) // 2
        e = estimate(cfg, mid)
        if e.total <= MEMORY_BYTES and e.work <= WORK_MADDS:
            lo = mid
        else:
            hi = mid - 1
    return lo


def check_model(cfg: ModelConfig) -> None:
    """Refuse a model whose weights alone would not fit the memory budget."""
    w = weight_bytes(cfg)
    if w > MEMORY_BYTES:
        raise BudgetError(f"This model's weights would take {size_text(w)}; Stepformer keeps each model "
                          f"within {size_text(MEMORY_BYTES)}. Make d_model, d_mlp, the vocabulary or "
                          "the number of layers smaller.")


def check_run(cfg: ModelConfig, tokens) -> None:
    """Refuse a forward pass of `cfg` on `tokens` (token strings, or a (source, target) pair)
    whose trace or work would not fit the budget, before anything is allocated."""
    n, n_target = _lengths(tokens)
    e = estimate(cfg, n, n_target)
    if e.total <= MEMORY_BYTES and e.work <= WORK_MADDS:
        return
    count = f"{n:,} tokens" if n_target is None else f"{n:,} source and {n_target:,} target tokens"
    if e.total > MEMORY_BYTES:
        cost = f"would keep {size_text(e.total)} of steps and weights"
        if e.attention > e.total / 2:
            cost += (f" ({size_text(e.attention)} of it in attention grids: {cfg.n_layers} layers × "
                     f"{cfg.n_heads} heads × {max(n, n_target or 0):,}² scores × 4 steps × {bytes_per(cfg)} bytes)")
        limit = f"the limit is {size_text(MEMORY_BYTES)}"
    else:
        cost = f"would take {e.work:.2g} multiply-adds"
        limit = f"the limit is {WORK_MADDS:.2g}, a few seconds of work"
    fit = max_tokens(cfg)
    fewer = f"use at most {fit:,} tokens" if fit else "no input fits this model"
    raise BudgetError(f"Running this model on {count} {cost}; {limit}. To fit, {fewer}, or make the model "
                      "smaller (fewer layers or heads, a smaller d_model or d_mlp).")


# A backward pass keeps, beside the weights and the forward trace, a gradient of every step (as
# large as the trace) and of every weight. A training run keeps TRAINING_COPIES times the weights
# (the weights, the gradient summed over a batch, one sequence's gradient, Adam's two moments and
# the new weights Adam returns) and one sequence's trace and its gradient at a time.
TRAINING_COPIES = 6


def backward_bytes(cfg: ModelConfig, n_tokens: int, n_target: int | None = None) -> int:
    """Bytes one backward pass of `cfg` on `n_tokens` tokens keeps (see the note above TRAINING_COPIES)."""
    e = estimate(cfg, n_tokens, n_target)
    return 2 * e.weights + 2 * e.trace + 2 * e.largest


def training_bytes(cfg: ModelConfig, n_tokens: int, n_target: int | None = None) -> int:
    """Bytes a training run of `cfg` on sequences of up to `n_tokens` tokens keeps at once."""
    e = estimate(cfg, n_tokens, n_target)
    return TRAINING_COPIES * e.weights + 2 * e.trace + 2 * e.largest


def _refuse_gradients(what: str, need: int, shrink: str) -> None:
    if need > MEMORY_BYTES:
        raise BudgetError(f"{what} would keep {size_text(need)}; the limit is {size_text(MEMORY_BYTES)}. "
                          f"To fit, {shrink}make the model smaller (fewer layers or heads, a smaller d_model or "
                          "d_mlp).")


def check_backward(cfg: ModelConfig, tokens) -> None:
    """Refuse, before anything is allocated, a backward pass (gradients of every step and weight)
    of `cfg` on `tokens` (token strings, or a (source, target) pair) that would not fit the budget."""
    check_run(cfg, tokens)
    n, n_target = _lengths(tokens)
    count = f"{n:,} tokens" if n_target is None else f"{n:,} source and {n_target:,} target tokens"
    _refuse_gradients(f"The backward pass of this model on {count}, with the gradient of every step and weight,",
                      backward_bytes(cfg, n, n_target), "use fewer tokens or ")


def check_training(cfg: ModelConfig, n_tokens: int, n_target: int | None = None) -> None:
    """Refuse a training run of `cfg` on sequences of up to `n_tokens` tokens that would not fit
    the budget: the weights, their gradients and Adam's moments (TRAINING_COPIES) and one
    sequence's trace with its gradient."""
    _refuse_gradients(f"Training this model on sequences of {n_tokens:,} tokens, with its gradients and "
                      "Adam's moments,", training_bytes(cfg, n_tokens, n_target), "")


__all__ = ["BudgetError", "Estimate", "estimate", "bytes_per", "weight_bytes", "check_model", "check_run", "max_tokens",
           "size_text",
           "backward_bytes", "training_bytes", "check_backward", "check_training", "MEMORY_BYTES", "WORK_MADDS",
           "TRAINING_COPIES"]
