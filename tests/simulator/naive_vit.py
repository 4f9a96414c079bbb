"""A naive Vision Transformer in plain Python loops, for comparison with `simulator`.

Written from the equations of ViT (Dosovitskiy et al., 2021) and issue 17, not from
`simulator/`: the image is cut pixel by pixel, [CLS] put first, learned positions added,
then pre-LN blocks (their attention, MLP and norms are `naive.NaiveTransformer`'s loops),
the final LayerNorm, and the class head on [CLS] alone.
"""
from __future__ import annotations

import math

import numpy as np
from naive import NaiveTransformer, vec_add, vec_mat


def naive_patches(image, patch: int) -> list[list[float]]:
    """Patches in reading order, each read pixel by pixel in reading order (raw 0–16 values)."""
    side = len(image) // patch
    out = []
    for pr in range(side):
        for pc in range(side):
            out.append([float(image[pr * patch + y][pc * patch + x]) for y in range(patch) for x in range(patch)])
    return out


def naive_vit_run(cfg, params: dict, image) -> dict[str, np.ndarray]:
    net = NaiveTransformer(cfg, params)
    p = net.p
    patches = [[v / 16.0 for v in row] for row in naive_patches(np.asarray(image).tolist(), cfg.patch)]
    net.rec("hook_patches", patches)
    embed = [vec_add(vec_mat(row, p["embed.W_patch"]), p["embed.b_patch"]) for row in patches]
    net.rec("hook_patch_embed", embed)
    x = [list(p["embed.cls"])] + embed
    net.rec("hook_embed", x)
    pos = [list(p["pos_embed.W_pos"][i]) for i in range(len(x))]
    net.rec("hook_pos_embed", pos)
    x = [vec_add(a, b) for a, b in zip(x, pos)]
    for layer in range(cfg.n_layers):
        b = f"blocks.{layer}."
        net.rec(b + "hook_resid_pre", x)
        out = net.attention(b + "attn.", net.norm(b + "ln1", x), net.norm(b + "ln1", x), "full", False)
        x = [vec_add(s, o) for s, o in zip(x, out)]
        net.rec(b + "hook_resid_mid", x)
        out = net.mlp(b + "mlp.", net.norm(b + "ln2", x))
        x = [vec_add(s, o) for s, o in zip(x, out)]
        net.rec(b + "hook_resid_post", x)
    x = net.norm("ln_final", x)
    cls = [x[0]]
    net.rec("hook_cls", cls)
    logits = [vec_add(vec_mat(cls[0], p["unembed.W_U"]), p["unembed.b_U"])]
    net.rec("logits", logits)
    top = max(logits[0])
    e = [math.exp(v - top) for v in logits[0]]
    net.rec("probs", [[v / sum(e) for v in e]])
    return {name: np.array(v, dtype=np.float64) for name, v in net.out.items()}
