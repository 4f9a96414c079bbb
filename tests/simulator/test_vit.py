"""The Vision Transformer (issue 17): config rules, patching, forward against a naive loop version,
gradients against finite differences, bad images refused, files and explanations."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator import ModelConfig, Transformer
from simulator.io import load, save
from simulator.vision import ImageError, patch_labels, patchify

sys.path.insert(0, str(Path(__file__).parent))  # naive_vit imports the naive text model beside it
_spec = importlib.util.spec_from_file_location("naive_vit", Path(__file__).with_name("naive_vit.py"))
naive_vit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(naive_vit)

sys.path.insert(0, str(Path(__file__).parent))
from test_backward import check_fd  # noqa: E402  (the same fourth-order stencil as the text model's)


def vit(patch=2, seed=0, jitter=0.0, **kw) -> Transformer:
    kw = {"d_model": 8, "n_heads": 2, "d_mlp": 16, "n_layers": 2, **kw}
    cfg = ModelConfig(arch="vit", image_size=8, patch=patch, n_classes=10, attention="full",
                      positional="learned", **kw)
    model = Transformer(cfg, seed=seed)
    if jitter:  # move every weight (norms, biases, [CLS] included) away from its initial value
        rng = np.random.default_rng(seed + 100)
        model.replace_params({n: v + jitter * rng.standard_normal(v.shape) for n, v in model.params.items()})
    return model


def digit(seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 17, (8, 8)).astype(float)


# --- configuration ---

def test_vit_config_derives_its_classes_and_length():
    cfg = vit(patch=2).config
    assert cfg.vocab == tuple("0123456789") and cfg.n_patches == 16 and cfg.n_ctx == 17
    cfg4 = vit(patch=4).config
    assert cfg4.n_patches == 4 and cfg4.n_ctx == 5 and cfg4.patch_pixels == 16


@pytest.mark.parametrize("kw,words", [
    ({"patch": 3}, "must divide image_size"),
    ({"patch": 0}, "must divide image_size"),
    ({"n_classes": 1}, "at least 2"),
    ({"attention": "causal"}, "whole image at once"),
    ({"positional": "sinusoidal"}, "positional='learned'"),
    ({"norm": "post"}, "pre-LN"),
    ({"residual": "attnres"}, "standard residual"),
    ({"image_size": 100}, "between 2 and 64"),
    ({"vocab": ("a", "b")}, "names its 10 classes"),
])
def test_bad_vit_configs_are_refused_with_a_reason(kw, words):
    base = {"arch": "vit", "attention": "full", "positional": "learned"}
    with pytest.raises(ValueError, match=words):
        ModelConfig(**{**base, **kw})


def test_vit_config_survives_json():
    cfg = vit(patch=4).config
    assert ModelConfig.from_json(cfg.to_json()) == cfg


# --- patching ---

def loop_patches(image: np.ndarray, p: int) -> np.ndarray:
    side = image.shape[0] // p
    rows = []
    for pr in range(side):
        for pc in range(side):
            row = []
            for y in range(p):
                for x in range(p):
                    row.append(image[pr * p + y, pc * p + x])
            rows.append(row)
    return np.array(rows)


@pytest.mark.parametrize("p", [1, 2, 4, 8])
def test_patchify_matches_a_loop_by_loop_cut(p):
    image = np.arange(64, dtype=float).reshape(8, 8)
    assert np.array_equal(patchify(image, p), loop_patches(image, p))


def test_the_patches_step_is_the_cut_image_scaled_to_0_1():
    model, image = vit(patch=4), digit(1)
    trace = model.run(image)
    assert np.allclose(trace["hook_patches"], loop_patches(image, 4) / 16)
    # the top-right 4×4 square is the second patch, its first pixel is image[0, 4]
    assert trace["hook_patches"][1, 0] == image[0, 4] / 16


def test_tokens_are_cls_then_patches_by_grid_position():
    model = vit(patch=4)
    trace = model.run(digit())
    assert trace.tokens == ["[CLS]", "p0,0", "p0,1", "p1,0", "p1,1"] == patch_labels(model.config)
    assert trace.token_labels("logits") == ["[CLS]"]
    assert trace.token_labels("hook_patches") == ["p0,0", "p0,1", "p1,0", "p1,1"]
    assert trace.token_labels("blocks.0.attn.hook_pattern") == trace.tokens


# --- forward against the naive version ---

@pytest.mark.parametrize("patch,seed", [(2, 0), (4, 1), (2, 2)])
def test_forward_matches_the_naive_vit(patch, seed):
    model = vit(patch=patch, seed=seed, jitter=0.3)
    image = digit(seed)
    trace = model.run(image)
    expected = naive_vit.naive_vit_run(model.config, dict(model.params), image)
    for name, value in expected.items():
        assert trace[name].shape == value.shape, name
        assert np.allclose(trace[name], value, atol=1e-10, rtol=1e-9), name
    assert trace["logits"].shape == (1, 10) and trace["probs"].sum() == pytest.approx(1.0)


def test_the_class_head_reads_only_cls():
    model = vit(patch=2, jitter=0.3)
    cls_only = {"ln_final.hook_normalized": lambda v: np.concatenate([v[:1], np.zeros_like(v[1:])])}
    assert np.array_equal(model.run(digit(), hooks=cls_only)["logits"], model.run(digit())["logits"])


# --- gradients ---

@pytest.mark.parametrize("patch,seed", [(4, 0), (2, 1)])
def test_vit_gradients_match_finite_differences(patch, seed):
    model = vit(patch=patch, seed=seed, jitter=0.5, d_model=4, d_mlp=8, n_layers=1 + (patch == 4))
    check_fd(model, digit(seed), ["7"])


# --- bad images ---

@pytest.mark.parametrize("image,words", [
    (np.zeros((8, 7)), "shape \\[8, 7\\]"),
    (np.zeros(64), "shape \\[64\\]"),
    (np.full((8, 8), np.nan), "NaN"),
    (np.full((8, 8), 17.0), "from 0 to 16"),
    (-np.ones((8, 8)), "from 0 to 16"),
    ("the cat", "images, not text"),
    ([["a"] * 8] * 8, "numbers only"),
])
def test_bad_images_are_refused_clearly(image, words):
    model = vit()
    before = dict(model.params)
    with pytest.raises(ImageError, match=words):
        model.run(image)
    with pytest.raises(ImageError, match=words):
        model.loss_and_grads(image, ["3"])
    assert all(model.params[n] is v for n, v in before.items())


def test_rerun_with_a_new_image_recomputes_and_reports_changes():
    model = vit(jitter=0.3)
    image = digit(0)
    trace = model.run(image)
    edited = image.copy()
    edited[0, 0] = 16 - edited[0, 0]  # one pixel of patch p0,0
    new, changes = model.rerun(trace, tokens=edited)
    assert np.array_equal(new["logits"], model.run(edited)["logits"])
    assert np.flatnonzero(changes["hook_patches"].any(1)).tolist() == [0]  # only the first patch moved
    same, none = model.rerun(new)
    assert not none and same["logits"] is new["logits"]


# --- files and explanations ---

def test_a_vit_file_keeps_its_image(tmp_path):
    model, image = vit(patch=4, jitter=0.2), digit(3)
    save(tmp_path / "v.npz", model, image)
    loaded, kept = load(tmp_path / "v.npz")
    assert np.array_equal(kept, image)
    assert np.array_equal(loaded.run(kept)["probs"], model.run(image)["probs"])


def test_the_new_steps_explain_their_numbers():
    model, image = vit(patch=2, jitter=0.3), digit(4)
    trace = model.run(image)
    text = trace.explain("hook_patches", (5, 3))  # patch (1, 1), its pixel (1, 1) -> image[3, 3]
    assert "image[3, 3] ÷ 16" in text and f"{image[3, 3]:g}" in text
    assert "cls[2]" in trace.explain("hook_embed", (0, 2))
    assert "patch_embed[4, 1]" in trace.explain("hook_embed", (5, 1))
    assert "normalized[0, 3]" in trace.explain("hook_cls", (0, 3))
    for name in ("hook_patches", "hook_patch_embed", "hook_embed", "hook_cls", "logits"):
        step = trace.step(name)
        assert step.formula and step.description, name


def test_the_words_to_pictures_lesson_opens_on_the_digits_preset():
    from simulator.lessons import LESSON_DIR, load_lesson
    lesson = load_lesson(LESSON_DIR / "08_words_to_pictures.json")
    model, image = lesson.open_stop(0)
    assert model.config.arch == "vit" and image.shape == (8, 8)
    assert int(model.run(image)["probs"][0].argmax()) == 3  # the lesson's last answer says it reads a 3
    pattern = model.run(image)["blocks.1.attn.hook_pattern"][0, 0]
    assert pattern[1 + 4] > 0.4 and pattern[1 + 11] > 0.4  # the [CLS] weights the lesson quotes (p1,0, p2,3)


def test_a_lesson_with_a_bad_image_is_refused_with_the_stop_named(tmp_path):
    import json

    from simulator.lessons import LessonError, load_lesson
    bad = {"title": "t", "model": {"preset": "digits"}, "tokens": [[0] * 8] * 7,
           "stops": [{"step": "hook_patches", "text": "x"}]}
    (tmp_path / "l.json").write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(LessonError, match="shape \\[7, 8\\]"):
        load_lesson(tmp_path / "l.json")


def test_interpretability_tools_work_on_the_image_model():
    from simulator.gradient_flow import gradient_flow, next_token_targets
    from simulator.interp import attention_rollout, logit_lens
    model, image = vit(patch=2, jitter=0.3), digit(5)
    trace = model.run(image)
    off = model.run(image, ablate={"blocks.1.attn.head0": "zero"})
    assert not np.array_equal(off["logits"], trace["logits"])
    assert np.array_equal(off["blocks.0.hook_resid_post"], trace["blocks.0.hook_resid_post"])  # upstream kept
    labels, lens = logit_lens(model, trace)
    assert lens.shape[-1] == 10 and len(labels) == lens.shape[0]
    assert np.allclose(attention_rollout(trace).sum(1), 1.0)
    job = next_token_targets(image, "vit", trace["probs"][0])
    assert job[1] == [str(int(trace["probs"][0].argmax()))]
    assert gradient_flow(model, *job)["loss"] == pytest.approx(-np.log(trace["probs"][0].max()))
