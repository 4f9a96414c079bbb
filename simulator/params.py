"""Parameter names, shapes and seeded initialisation (names as in TransformerLens).

The walk of the architecture in `simulator.graph` declares each parameter (name, shape, axes,
how it starts) as it adds the steps that use it; this module reads those declarations.
"""
from __future__ import annotations

import numpy as np

from .config import ModelConfig
from .graph import build_graph

MAX_LAYERS = 256
MAX_PARAM_ELEMENTS = 50_000_000  # 400 MB of float64: far beyond a classroom model
MAX_PARAM_ELEMENTS_FLOAT32 = 200_000_000  # 800 MB of float32: GPT-2 small (124 M) fits, GPT-2 medium does not


def check_size(cfg: ModelConfig) -> None:
    """Refuse a model too large to build (before any array is allocated)."""
    if cfg.n_layers > MAX_LAYERS:
        raise ValueError(f"{cfg.n_layers} layers is too many: Stepformer builds at most {MAX_LAYERS}.")
    total = sum(int(np.prod(s, dtype=np.float64)) for s in param_shapes(cfg).values())
    limit = MAX_PARAM_ELEMENTS_FLOAT32 if cfg.dtype == "float32" else MAX_PARAM_ELEMENTS
    if total > limit:
        more = " (or compute in float32, which allows more)" if cfg.dtype == "float64" else ""
        raise ValueError(f"This model would have {total:,} weights; Stepformer builds at most {limit:,} in "
                         f"{cfg.dtype}{more}. Make d_model, d_mlp, the vocabulary or the depth smaller.")


def param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every parameter's name and shape, in the order the graph declares them (see `build_graph`)."""
    return {name: spec.shape for name, spec in build_graph(cfg).params.items()}


def init_params(cfg: ModelConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded initial weights.

    Scale (times `cfg.init_scale`): embeddings and learned positions N(0, 1); every weight
    matrix N(0, 1/fan_in), so that a unit-variance input gives unit-variance outputs and a
    random model already attends unevenly; biases 0; LayerNorm w=1, b=0; DenseFormer
    α = identity (1 on the newest block, 0 elsewhere); Attention-Residual pseudo-queries 0
    (uniform weights over depth).
    """
    rng = np.random.default_rng(seed)
    params = {}
    for name, spec in build_graph(cfg).params.items():
        if spec.init == "identity_last":
            value = np.zeros(spec.shape)
            value[-1] = 1.0
        elif spec.init == "ones":
            value = np.ones(spec.shape)
        elif spec.init == "zeros":
            value = np.zeros(spec.shape)
        elif spec.init == "normal":
            value = rng.standard_normal(spec.shape) * cfg.init_scale
        else:  # "fan_in"
            value = rng.standard_normal(spec.shape) * cfg.init_scale / np.sqrt(spec.fan_in)
        params[name] = value.astype(cfg.dtype, copy=False)
    return params


def has_initial_weights(cfg: ModelConfig, params) -> bool:
    """Whether `params` are still untrained initial weights (of any seed).

    Every initialisation sets the biases, the norms' w and b, DenseFormer's α and the depth
    pseudo-queries to fixed values (0, 1, the identity); a single training step moves them
    all. So the weights are untrained exactly when all of those still hold their start values.
    A model with none of them (no norm, no biases) is compared with its seed's initial weights
    by the caller if it needs to know; here it counts as trained.
    """
    fixed = [(name, spec) for name, spec in build_graph(cfg).params.items()
             if spec.init in ("zeros", "ones", "identity_last")]
    if not fixed:
        return False
    for name, spec in fixed:
        start = {"zeros": np.zeros(spec.shape), "ones": np.ones(spec.shape)}.get(spec.init)
        if start is None:
            start = np.zeros(spec.shape)
            start[-1] = 1.0
        if not np.array_equal(params[name], start):
            return False
    return True


__all__ = ["param_shapes", "init_params", "has_initial_weights", "check_size", "MAX_LAYERS", "MAX_PARAM_ELEMENTS"]
