"""The digits task and the `digits` preset: the split, the augmentation, the shipped samples, and the
preset's accuracy re-measured on the 360 held-out images (needs scikit-learn, which carries the data)."""
import importlib.util
import sys

import numpy as np
import pytest

from simulator.digits import (
    DataMissing,
    heldout_indices,
    load_digits_data,
    load_samples,
    shift,
    train_indices,
)
from simulator.presets import load_preset
from simulator.tasks import Digits, token_accuracy
from simulator.train import check_fits

HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None
needs_data = pytest.mark.skipif(not HAVE_SKLEARN, reason="the digits come with scikit-learn, which is not "
                                "installed here (pip install 'stepformer[vision]'; .ci/run installs it)")


def test_the_split_holds_out_every_fifth_image():
    held, train = heldout_indices(1797), train_indices(1797)
    assert len(held) == 360 and all(i % 5 == 0 for i in held)
    assert not set(held) & set(train) and len(held) + len(train) == 1797


def test_shift_moves_by_one_pixel_and_fills_with_blank():
    image = np.arange(64, dtype=float).reshape(8, 8)
    right = shift(image, 0, 1)
    assert np.array_equal(right[:, 1:], image[:, :-1]) and not right[:, 0].any()
    up_left = shift(image, -1, -1)
    assert np.array_equal(up_left[:-1, :-1], image[1:, 1:]) and not up_left[-1].any() and not up_left[:, -1].any()


def test_without_scikit_learn_the_data_is_refused_clearly(monkeypatch):
    load_digits_data.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    try:
        with pytest.raises(DataMissing, match="scikit-learn"):
            load_digits_data()
    finally:
        load_digits_data.cache_clear()


def test_the_preset_and_its_samples_load_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    model, image, info = load_preset("digits")
    assert model.config.arch == "vit" and image.shape == (8, 8)
    assert info["command"].startswith("python -m simulator.train --task digits ")
    samples = load_samples()
    assert len(samples) == 30 and sorted({label for _, label in samples}) == list(range(10))
    right = sum(int(model.run(img)["probs"][0].argmax()) == label for img, label in samples)
    assert right >= 27  # the samples are held-out images: the preset must read nearly all of them


@needs_data
def test_the_samples_are_held_out_images_of_scikit_learn():
    import json

    from simulator.shipped import shipped
    images, labels = load_digits_data()
    stored = json.loads((shipped("presets") / "digits_samples.json").read_text(encoding="utf-8"))
    assert "CC BY 4.0" in stored["source"]
    for s in stored["samples"]:
        assert s["index"] % 5 == 0
        assert np.array_equal(images[s["index"]], s["image"]) and labels[s["index"]] == s["label"]


@needs_data
def test_training_batches_never_hold_a_heldout_image():
    task = Digits()
    images, _ = load_digits_data()
    held = {images[i].tobytes() for i in heldout_indices(len(images))}
    batch = task.batch(300, np.random.default_rng(0))
    unshifted = [ex.tokens for ex in batch if any(np.array_equal(ex.tokens, images[i]) for i in range(len(images)))]
    assert 100 < len(unshifted) < 200  # about half are moved by a pixel
    assert not any(np.asarray(img).tobytes() in held for img in unshifted)
    assert all(ex.tokens.min() >= 0 and ex.tokens.max() <= 16 and ex.targets[0] in "0123456789" for ex in batch)


@needs_data
def test_the_preset_reaches_95_percent_on_the_360_heldout_images():
    model, _, info = load_preset("digits")
    task = Digits()
    check_fits(model, task)
    held = task.heldout(1000, seed=0)
    assert len(held) == 360
    accuracy = token_accuracy(model, held)
    assert accuracy >= 0.95
    assert accuracy == pytest.approx(info["accuracy"], abs=1e-4)  # the sidecar's figure is this one
