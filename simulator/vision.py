"""Images as tokens: the checks and cuts a Vision Transformer needs before its first step.

A ViT (Dosovitskiy et al., 2021) cuts an image into P×P patches and reads each flattened
patch as one token. The images here are scikit-learn's 8×8 handwritten digits, whose pixels
count ink from 0 (blank) to 16 (full).
"""
from __future__ import annotations

import numpy as np

from .config import ModelConfig

PIXEL_MAX = 16.0  # the darkest pixel of the UCI optical digits (each pixel counts 16 sub-pixels)
CLS = "[CLS]"


class ImageError(ValueError):
    """An input that is not an image this model can read; the message says what to give instead."""


def check_image(image, cfg: ModelConfig) -> np.ndarray:
    """`image` as a fresh read-only float64 array [row, col], or ImageError saying what is wrong."""
    n = cfg.image_size
    want = f"an {n}×{n} grid of pixel values from 0 (blank) to {PIXEL_MAX:g} (full ink)"
    if isinstance(image, (str, bytes)):
        raise ImageError(f"This model reads images, not text: give it {want}.")
    try:
        arr = np.array(image, dtype=np.float64)
    except (TypeError, ValueError):
        raise ImageError(f"The image must hold numbers only: give {want}.") from None
    if arr.shape != (n, n):
        raise ImageError(f"The image has shape {list(arr.shape)}, but this model reads {want}.")
    if not np.all(np.isfinite(arr)):
        raise ImageError(f"The image holds NaN or infinity; every pixel must be a number from 0 to {PIXEL_MAX:g}.")
    if arr.min() < 0 or arr.max() > PIXEL_MAX:
        raise ImageError(f"Pixel values run from 0 to {PIXEL_MAX:g}; this image has values from "
                         f"{arr.min():g} to {arr.max():g}.")
    arr.flags.writeable = False
    return arr


def patchify(image: np.ndarray, patch: int) -> np.ndarray:
    """The image cut into patch×patch squares, row by row, each flattened row by row  # [patch_index, pixel]"""
    h, w = image.shape
    blocks = image.reshape(h // patch, patch, w // patch, patch)  # [patch_row, y, patch_col, x]
    return blocks.transpose(0, 2, 1, 3).reshape(-1, patch * patch)  # [patch_row·patch_col, y·x]


def patch_position(index: int, cfg: ModelConfig) -> tuple[int, int]:
    """(row, col) of patch `index` in the grid of patches."""
    side = cfg.image_size // cfg.patch
    return divmod(index, side)


def patch_labels(cfg: ModelConfig) -> list[str]:
    """The token strings of an image: [CLS], then each patch by its (row, column) in the patch grid."""
    return [CLS] + ["p{},{}".format(*patch_position(i, cfg)) for i in range(cfg.n_patches)]


__all__ = ["PIXEL_MAX", "CLS", "ImageError", "check_image", "patchify", "patch_position", "patch_labels"]


# --- pictures of an image model's steps, as plain arrays (the views draw them) ---

def on_image(weights: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    """One weight per patch laid back on the patch grid  # [patch_row, patch_col]"""
    side = cfg.image_size // cfg.patch
    return np.asarray(weights)[-cfg.n_patches:].reshape(side, side)


def attention_on_image(trace, cfg: ModelConfig, layer: int, head: int | None, query: int = 0) -> np.ndarray:
    """How much token `query` (0 = [CLS], 1… the patches) attends to each patch, on the patch grid.

    `head=None` averages the heads. The weight on [CLS] itself is left out, so the grid sums to
    1 minus that weight.  # [patch_row, patch_col]
    """
    pattern = trace[f"blocks.{layer}.attn.hook_pattern"]  # [head, q_pos, k_pos]
    row = pattern[:, query].mean(0) if head is None else pattern[head, query]
    return on_image(row[1:], cfg)


def rollout_on_image(trace, cfg: ModelConfig, query: int = 0) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020) from token `query` to each patch  # [patch_row, patch_col]"""
    from .interp import attention_rollout  # interp reads traces of any model; vision only borrows it
    return on_image(attention_rollout(trace)[query, 1:], cfg)


def position_similarity(w_pos: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    """Cosine similarity of each patch's learned position with every other patch's.

    Indexed [row, col, other_row, other_col]: the little grid at (row, col) shows how alike
    that patch's position is to every other one. [CLS]'s position (row 0 of W_pos) is left out.
    """
    side = cfg.image_size // cfg.patch
    p = np.asarray(w_pos)[1:1 + cfg.n_patches]  # [patch, d_model]
    unit = p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)
    return (unit @ unit.T).reshape(side, side, side, side)


def patch_images(image: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    """Each patch as its own little image  # [patch, patch_px, patch_px]"""
    return patchify(np.asarray(image), cfg.patch).reshape(-1, cfg.patch, cfg.patch)


__all__ += ["on_image", "attention_on_image", "rollout_on_image", "position_similarity", "patch_images"]
