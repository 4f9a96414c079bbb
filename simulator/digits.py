"""The handwritten digits the Vision Transformer learns (its task is `simulator.tasks.Digits`).

The data are the 1,797 8×8 digits scikit-learn ships inside its package (from the UCI
"Optical Recognition of Handwritten Digits" set, Alpaydin & Kaynak 1998, CC BY 4.0), read
with `sklearn.datasets.load_digits` (no download). scikit-learn is needed only to train and
to re-measure the preset (`pip install stepformer[vision]`); the app shows the attributed
sample stored beside the preset (`digits_samples.json`), so it never needs scikit-learn.

Held out: every image whose index is a multiple of 5 (360 images), never trained on.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .config import ModelConfig
from .shipped import shipped

HELDOUT_EVERY = 5  # image i is held out when i % 5 == 0
SAMPLES_FILE = "digits_samples.json"
SOURCE = ("UCI Optical Recognition of Handwritten Digits (Alpaydin & Kaynak, 1998), CC BY 4.0, "
          "as shipped in scikit-learn (sklearn.datasets.load_digits)")

DIGITS_CONFIG = ModelConfig(arch="vit", image_size=8, patch=2, n_classes=10, attention="full",
                            positional="learned", d_model=32, n_heads=4, d_mlp=64, n_layers=2)


class DataMissing(RuntimeError):
    """scikit-learn (which carries the digits) is not installed."""


@lru_cache(maxsize=1)
def load_digits_data() -> tuple[np.ndarray, np.ndarray]:
    """(images [1797, 8, 8] with pixels 0–16, labels [1797]) from scikit-learn; DataMissing without it."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataMissing("The digits come with scikit-learn, which is not installed: "
                          "pip install 'stepformer[vision]' (or scikit-learn).") from None
    data = load_digits()
    images, labels = np.asarray(data.images, dtype=np.float64), np.asarray(data.target, dtype=np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def heldout_indices(n: int) -> np.ndarray:
    return np.arange(0, n, HELDOUT_EVERY)


def train_indices(n: int) -> np.ndarray:
    return np.array([i for i in range(n) if i % HELDOUT_EVERY])


def shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """The image moved dy rows down and dx columns right, blank (0) where it moved away from."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0): h + min(dy, 0), max(dx, 0): w + min(dx, 0)] = \
        image[max(-dy, 0): h + min(-dy, 0), max(-dx, 0): w + min(-dx, 0)]
    return out


def load_samples(folder: Path | None = None) -> list[tuple[np.ndarray, int]]:
    """The sample digits stored with the preset: [(image [8, 8], label)] (no scikit-learn needed)."""
    path = Path(folder or shipped("presets")) / SAMPLES_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(np.array(s["image"], dtype=np.float64), int(s["label"])) for s in data["samples"]]


def write_samples(path: Path, per_class: int = 3) -> None:
    """Store the first `per_class` held-out images of each digit, attributed, for the app to offer."""
    images, labels = load_digits_data()
    picked = []
    for digit in range(10):
        picked += [int(i) for i in heldout_indices(len(images)) if labels[i] == digit][:per_class]
    data = {"source": SOURCE, "license": "CC BY 4.0", "note": "held-out images (index a multiple of 5); "
            "written by python -m simulator.digits --write-samples",
            "samples": [{"index": i, "label": int(labels[i]), "image": images[i].astype(int).tolist()}
                        for i in picked]}
    Path(path).write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")


if __name__ == "__main__":
    import sys
    if sys.argv[1:] != ["--write-samples"]:
        sys.exit("usage: python -m simulator.digits --write-samples")
    write_samples(shipped("presets") / SAMPLES_FILE)

__all__ = ["DIGITS_CONFIG", "DataMissing", "load_digits_data", "load_samples", "heldout_indices",
           "train_indices", "shift", "SOURCE", "HELDOUT_EVERY"]
