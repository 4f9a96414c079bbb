"""Parameter names, shapes and seeded initialisation (names as in TransformerLens)."""
from __future__ import annotations

import numpy as np

from .config import ModelConfig


def _stack_shapes(cfg: ModelConfig, prefix: str, cross: bool) -> dict[str, tuple[int, ...]]:
    d, h, dh, dm = cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp
    shapes: dict[str, tuple[int, ...]] = {f"{prefix}embed.W_E": (cfg.d_vocab, d)}
    if cfg.positional == "learned":
        shapes[f"{prefix}pos_embed.W_pos"] = (cfg.n_ctx, d)
    attn_names = ["attn", "cross_attn"] if cross else ["attn"]
    norms = ["ln1", "ln2", "ln3"] if cross else ["ln1", "ln2"]
    for layer in range(cfg.n_layers):
        b = f"{prefix}blocks.{layer}."
        if cfg.residual in ("attnres", "block_attnres"):
            shapes[b + "depth_attn.w"] = (d,)
        for ln_name, attn in zip(norms, attn_names + ["mlp"]):
            if cfg.norm != "none":
                shapes[b + f"{ln_name}.w"] = (d,)
                shapes[b + f"{ln_name}.b"] = (d,)
            if attn == "mlp":
                if cfg.residual in ("attnres", "block_attnres"):
                    shapes[b + "depth_mlp.w"] = (d,)
                shapes[b + "mlp.W_in"] = (d, dm)
                shapes[b + "mlp.b_in"] = (dm,)
                shapes[b + "mlp.W_out"] = (dm, d)
                shapes[b + "mlp.b_out"] = (d,)
                continue
            for m in "QKV":
                shapes[b + f"{attn}.W_{m}"] = (h, d, dh)
            for m in "QKV":
                shapes[b + f"{attn}.b_{m}"] = (h, dh)
            shapes[b + f"{attn}.W_O"] = (h, dh, d)
            shapes[b + f"{attn}.b_O"] = (d,)
        if cfg.residual == "denseformer":
            shapes[b + "dwa.alpha"] = (layer + 2,)
    if cfg.residual in ("attnres", "block_attnres"):
        shapes[f"{prefix}depth_final.w"] = (d,)
    if cfg.norm == "pre":
        shapes[f"{prefix}ln_final.w"] = (d,)
        shapes[f"{prefix}ln_final.b"] = (d,)
    return shapes


MAX_LAYERS = 256
MAX_PARAM_ELEMENTS = 50_000_000  # 400 MB of float64: far beyond a classroom model


def check_size(cfg: ModelConfig) -> None:
    """Refuse a model too large to build (before any array is allocated)."""
    if cfg.n_layers > MAX_LAYERS:
        raise ValueError(f"{cfg.n_layers} layers is too many: Stepformer builds at most {MAX_LAYERS}.")
    total = sum(int(np.prod(s, dtype=np.float64)) for s in param_shapes(cfg).values())
    if total > MAX_PARAM_ELEMENTS:
        raise ValueError(f"This model would have {total:,} weights; Stepformer builds at most "
                         f"{MAX_PARAM_ELEMENTS:,}. Make d_model, d_mlp, the vocabulary or the depth smaller.")


def param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every parameter's name and shape, in forward order."""
    if cfg.arch == "encoder-decoder":
        shapes = _stack_shapes(cfg, "encoder.", cross=False)
        shapes.update(_stack_shapes(cfg, "decoder.", cross=True))
        unembed = "decoder.unembed."
    else:
        shapes = _stack_shapes(cfg, "", cross=False)
        unembed = "unembed."
    shapes[unembed + "W_U"] = (cfg.d_model, cfg.d_vocab)
    shapes[unembed + "b_U"] = (cfg.d_vocab,)
    return shapes


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
    for name, shape in param_shapes(cfg).items():
        leaf = name.rsplit(".", 1)[-1]
        if name.endswith("dwa.alpha"):
            value = np.zeros(shape)
            value[-1] = 1.0
        elif leaf == "w" and name.rsplit(".", 2)[-2].startswith("ln"):
            value = np.ones(shape)
        elif leaf in ("b", "w") or leaf.startswith("b_"):
            value = np.zeros(shape)
        elif leaf in ("W_E", "W_pos"):
            value = rng.standard_normal(shape) * cfg.init_scale
        else:
            fan_in = shape[-2] if leaf != "W_O" else shape[0] * shape[1]
            value = rng.standard_normal(shape) * cfg.init_scale / np.sqrt(fan_in)
        params[name] = value
    return params


__all__ = ["param_shapes", "init_params", "check_size", "MAX_LAYERS", "MAX_PARAM_ELEMENTS"]
