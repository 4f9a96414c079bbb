"""simulator.interp: the logit lens, direct logit attribution, ablation, patching, rollout and PCA."""
import itertools

import numpy as np
import pytest

from simulator import ModelConfig, Transformer, interp
from simulator.engine import Session
from simulator.ops import layernorm
from simulator.presets import load_preset

VOCAB = ("a", "b", "c", "d", "e", "f")

# every pre-LN option, and no norm: positions × arch/attention × residual × activation
PRE_LN = [dict(positional=p, activation=act, residual=r, **arch)
          for p, act, r, arch in itertools.product(
              ("sinusoidal", "learned", "rope", "none"), ("gelu", "relu"),
              ("standard", "none", "denseformer", "attnres", "block_attnres"),
              ({"arch": "decoder", "attention": "causal"}, {"arch": "decoder", "attention": "window"},
               {"arch": "encoder", "attention": "full"}, {"arch": "encoder-decoder", "attention": "causal"}))
          if not (r in ("denseformer", "attnres", "block_attnres") and arch["arch"] == "encoder-decoder")]


def tiny(seed: int = 0, **kw) -> Transformer:
    """A small model with every weight, biases and norms included, moved away from its init."""
    kw = {"vocab": VOCAB, "n_layers": 2, "d_model": 8, "n_heads": 2, "d_mlp": 12, "n_ctx": 6, **kw}
    model = Transformer(ModelConfig(**kw), seed=seed)
    rng = np.random.default_rng(seed + 7)
    model.replace_params({n: v + 0.5 * rng.standard_normal(v.shape) for n, v in model.params.items()})
    return model


def sample(model: Transformer, swap: bool = False):
    toks = ["a", "b", "c", "d", "e"] if not swap else ["f", "b", "c", "a", "e"]
    if model.config.arch == "encoder-decoder":
        return (toks, ["c", "d", "e", "a"])
    return toks


@pytest.mark.parametrize("kw", PRE_LN, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_attribution_sums_to_the_logit_for_every_pre_ln_option(kw):
    for norm in ("pre", "none") if kw["residual"] in ("standard", "none") else ("pre",):
        model = tiny(**kw, norm=norm)
        trace = model.run(sample(model))
        logits = trace["logits"]
        for pos in range(len(logits)):
            parts = interp.direct_logit_attribution(model, trace, pos, 2)
            assert abs(sum(parts.values()) - logits[pos, 2]) < 1e-9
            diff = interp.direct_logit_attribution(model, trace, pos, 2, other=4)
            assert abs(sum(diff.values()) - (logits[pos, 2] - logits[pos, 4])) < 1e-9
        heads = [k for k in parts if ".head" in k]
        # every head writes into the stream unless nothing carries it to the top (no residual)
        if kw["residual"] != "none":
            assert len(heads) == model.config.n_layers * model.config.n_heads * (
                2 if model.config.arch == "encoder-decoder" else 1)
        assert ("pos_embed" in parts) == (kw["positional"] in ("sinusoidal", "learned") and kw["residual"] != "none")


def test_attribution_of_one_head_is_its_output_read_through_the_frozen_norm():
    model = tiny(3)
    trace = model.run(sample(model))
    pos, tok = 4, 1
    p = model.params
    head_out = trace["blocks.1.attn.hook_z"][pos, 0] @ p["blocks.1.attn.W_O"][0]
    x = trace["blocks.1.hook_resid_post"][pos]
    sigma = np.sqrt(x.var() + model.config.norm_eps)
    expected = (head_out - head_out.mean()) / sigma * p["ln_final.w"] @ p["unembed.W_U"][:, tok]
    assert interp.direct_logit_attribution(model, trace, pos, tok)["blocks.1.attn.head0"] == pytest.approx(expected)
    assert interp.final_scale(model, trace, pos) == pytest.approx(sigma)


def test_attribution_refuses_post_ln_and_bad_positions():
    model = tiny(norm="post")
    trace = model.run(sample(model))
    with pytest.raises(ValueError, match="Post-LN"):
        interp.direct_logit_attribution(model, trace, 0, 0)
    model = tiny()
    trace = model.run(sample(model))
    with pytest.raises(ValueError, match="position"):
        interp.direct_logit_attribution(model, trace, 9, 0)
    with pytest.raises(ValueError, match="token"):
        interp.direct_logit_attribution(model, trace, 0, 99)


@pytest.mark.parametrize("kw", [{}, {"residual": "denseformer"}, {"residual": "attnres"},
                                {"arch": "encoder-decoder"}, {"norm": "none"}, {"norm": "post"}])
def test_lens_at_the_last_point_equals_the_logits(kw):
    model = tiny(1, **kw)
    trace = model.run(sample(model))
    points, logits = interp.logit_lens(model, trace)
    assert logits.shape == (len(points),) + trace["logits"].shape
    assert np.allclose(logits[-1], trace["logits"], atol=1e-12)
    assert len(set(points)) == len(points) >= 3


def test_lens_uses_each_points_own_mean_and_spread():
    model = tiny(2)
    trace = model.run(sample(model))
    points, logits = interp.logit_lens(model, trace)
    p = model.params
    x = trace["blocks.0.hook_resid_mid"]
    own = layernorm(x.copy(), p["ln_final.w"], p["ln_final.b"], 1e-5) @ p["unembed.W_U"] + p["unembed.b_U"]
    assert np.allclose(logits[points.index("blocks.0.hook_resid_mid")], own)
    # the bug to avoid: the final stream's spread applied to an earlier point gives other numbers
    last = trace["blocks.1.hook_resid_post"]
    scale = np.sqrt(last.var(-1, keepdims=True) + 1e-5)
    wrong = ((x - x.mean(-1, keepdims=True)) / scale * p["ln_final.w"] + p["ln_final.b"]) @ p["unembed.W_U"] \
        + p["unembed.b_U"]
    assert not np.allclose(logits[points.index("blocks.0.hook_resid_mid")], wrong)


@pytest.mark.parametrize("kw", [{}, {"arch": "encoder", "attention": "full"}, {"residual": "attnres"}])
def test_zero_ablating_a_head_equals_zeroing_its_rows_of_w_o(kw):
    model = tiny(4, **kw)
    toks = sample(model)
    ablated = model.run(toks, ablate={"blocks.0.attn.head1": "zero"})
    edited = model.copy()
    w_o = model.params["blocks.0.attn.W_O"].copy()
    w_o[1] = 0.0
    edited.set_param("blocks.0.attn.W_O", w_o)
    expected = edited.run(toks)
    assert np.allclose(ablated["logits"], expected["logits"], rtol=0, atol=1e-12)
    assert not np.allclose(ablated["logits"], model.run(toks)["logits"])
    assert np.all(ablated["blocks.0.attn.hook_z"][:, 1] == 0)


def test_mean_ablation_uses_the_mean_over_positions():
    model = tiny(5)
    toks = sample(model)
    clean = model.run(toks)
    ablated = model.run(toks, ablate={"blocks.0.mlp": "mean", "blocks.1.attn.head0": "mean"})
    mlp = clean["blocks.0.hook_mlp_out"]
    assert np.allclose(ablated["blocks.0.hook_mlp_out"], np.broadcast_to(mlp.mean(0), mlp.shape))
    z = ablated["blocks.1.attn.hook_z"]
    # layer 1's head 0 reads a changed stream, so its mean is of the ablated run's own values
    redo = model.run(toks, ablate={"blocks.0.mlp": "mean"})["blocks.1.attn.hook_z"]
    assert np.allclose(z[:, 0], redo[:, 0].mean(0))
    assert np.allclose(z[:, 1], redo[:, 1])


def test_ablation_names_and_modes_are_checked():
    model = tiny()
    for bad, err in (({"blocks.0.attn.head7": "zero"}, KeyError), ({"blocks.5.mlp": "zero"}, KeyError),
                     ({"blocks.0.mlp.head0": "zero"}, KeyError), ({"nonsense": "zero"}, KeyError),
                     ({"blocks.0.mlp": "half"}, ValueError)):
        with pytest.raises(err):
            model.run(sample(model), ablate=bad)


def test_rerun_with_ablation_matches_run_and_lights_up_what_changed():
    model = tiny(6)
    session = Session(model, sample(model))
    before = session.trace
    session.set_ablation({"blocks.1.attn.head0": "zero"})
    direct = model.run(sample(model), ablate={"blocks.1.attn.head0": "zero"})
    assert np.array_equal(session.trace["logits"], direct["logits"])
    assert "blocks.1.attn.hook_z" in session.changes and "logits" in session.changes
    assert "blocks.0.hook_attn_out" not in session.changes
    assert session.trace["blocks.0.hook_attn_out"] is before["blocks.0.hook_attn_out"]
    # a later edit keeps the ablation
    session.set_tokens(["b", "b", "a"])
    assert np.array_equal(session.trace["logits"],
                          model.run(["b", "b", "a"], ablate={"blocks.1.attn.head0": "zero"})["logits"])
    session.set_ablation({})
    assert np.allclose(session.trace["logits"], model.run(["b", "b", "a"])["logits"], rtol=0, atol=1e-12)
    with pytest.raises(KeyError):
        session.set_ablation({"blocks.9.mlp": "zero"})
    assert session.ablate == {}


@pytest.mark.parametrize("kw", [{}, {"positional": "rope"}, {"arch": "encoder-decoder"}, {"norm": "post"}])
def test_patching_all_of_layer_0_gives_the_clean_run_and_nothing_the_corrupt(kw):
    model = tiny(8, **kw)
    clean, corrupt = sample(model), sample(model, swap=True)
    p = "decoder." if model.config.arch == "encoder-decoder" else ""
    if p:  # the decoder's input is the same in both: corrupt the source, patch the encoder
        p = "encoder."
    whole = interp.patch(model, clean, corrupt, f"{p}blocks.0.hook_resid_pre")
    assert np.array_equal(whole["logits"], model.run(clean)["logits"])
    none = interp.patch(model, clean, corrupt, f"{p}blocks.0.hook_resid_pre", positions=[])
    assert np.array_equal(none["logits"], model.run(corrupt)["logits"])
    assert not np.allclose(model.run(clean)["logits"], model.run(corrupt)["logits"])


def test_patching_one_head_copies_only_that_head():
    model = tiny(9)
    clean, corrupt = sample(model), sample(model, swap=True)
    ct = model.run(clean)
    out = interp.patch(model, clean, corrupt, "blocks.1.attn.head1")
    assert np.array_equal(out["blocks.1.attn.hook_z"][:, 1], ct["blocks.1.attn.hook_z"][:, 1])
    assert not np.allclose(out["blocks.1.attn.hook_z"][:, 0], ct["blocks.1.attn.hook_z"][:, 0])
    pattern = interp.patch(model, clean, corrupt, "blocks.0.attn.hook_pattern", positions=[2], head=0)
    assert np.array_equal(pattern["blocks.0.attn.hook_pattern"][0, 2], ct["blocks.0.attn.hook_pattern"][0, 2])
    with pytest.raises(ValueError, match="same number of tokens"):
        interp.patch(model, clean, ["a", "b"], "blocks.0.hook_resid_pre")


def test_residual_sweep_recovers_everything_at_the_bottom_of_the_changed_token():
    model = tiny(10)
    clean, corrupt = sample(model), sample(model, swap=True)
    rows, grid = interp.patch_sweep(model, clean, corrupt, answer=1, wrong=2)
    assert rows == interp.lens_points(model) and grid.shape == (len(rows), 5)
    # at the bottom only the changed tokens (0 and 3) matter; patching both would give 1
    assert np.allclose(grid[0, [1, 2, 4]], 0.0)
    # at the top only the last position is read
    assert grid[-1, -1] == pytest.approx(1.0) and np.allclose(grid[-1, :-1], 0.0)
    heads_rows, heads = interp.patch_sweep(model, clean, corrupt, answer=1, wrong=2, what="heads")
    assert heads.shape == (2, 2) and heads_rows == ["blocks.0.attn", "blocks.1.attn"]


@pytest.mark.parametrize("kw", [{}, {"arch": "encoder", "attention": "full"}, {"arch": "encoder-decoder"},
                                {"residual": "none"}])
def test_rollout_rows_sum_to_one_and_follow_the_paper(kw):
    model = tiny(11, **kw)
    trace = model.run(sample(model))
    r = interp.attention_rollout(trace)
    assert np.allclose(r.sum(1), 1.0)
    p = "decoder." if model.config.arch == "encoder-decoder" else ""
    a0, a1 = (trace[f"{p}blocks.{i}.attn.hook_pattern"].mean(0) for i in (0, 1))
    if kw.get("residual") == "none":
        expected = a1 @ a0
    else:
        eye = np.eye(len(a0))
        expected = (0.5 * a1 + 0.5 * eye) @ (0.5 * a0 + 0.5 * eye)
    assert np.allclose(r, expected)
    if model.config.arch == "decoder":
        assert np.allclose(np.triu(r, 1), 0)  # causal: nothing flows back from the future


def test_pca_finds_the_direction_of_largest_spread():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 5)) * [5.0, 1.0, 0.1, 0.1, 0.1]
    coords, frac = interp.pca(x)
    assert coords.shape == (50, 2) and frac[0] > 0.9 > frac[1] > 0
    assert np.allclose(np.abs(coords[:, 0]), np.abs(x[:, 0] - x[:, 0].mean()), atol=0.5)
    again, _ = interp.pca(x)
    assert np.array_equal(coords, again)


def test_induction_head_is_found_by_attribution_and_ablation():
    model, tokens, _ = load_preset("induction")
    trace = model.run(tokens)
    pos = len(tokens) - 1
    tok = int(trace["logits"][pos].argmax())
    parts = interp.direct_logit_attribution(model, trace, pos, tok)
    heads = {k: v for k, v in parts.items() if ".head" in k}
    assert max(heads, key=heads.get) == "blocks.1.attn.head1"


def test_every_presets_patch_pairs_tell_the_answers_apart():
    from simulator.presets import list_presets, patch_pairs
    seen = 0
    for info in list_presets():
        if "patch_pairs" not in info:
            continue
        model, _, _ = load_preset(info["name"])
        pairs = patch_pairs(model)
        assert pairs, info["name"]
        vocab = model.config.vocab
        for pair in pairs:
            clean, corrupt = model.run(pair.clean), model.run(pair.corrupt)
            assert vocab[int(clean["probs"][-1].argmax())] == pair.answer
            assert vocab[int(corrupt["probs"][-1].argmax())] == pair.wrong
            seen += 1
    assert seen >= 2  # the induction preset ships two
    assert patch_pairs(tiny()) == []  # a model no preset was built like has none


def test_the_view_state_keeps_the_ablation_and_checks_it():
    from simulator.view_state import ViewState, ViewStateError
    model = tiny(12)
    session = Session(model, sample(model))
    session.set_ablation({"blocks.1.attn.head0": "mean"})
    state = ViewState.capture(session)
    assert state.ablate == (("blocks.1.attn.head0", "mean"),)
    again = ViewState.from_json(state.to_json())
    assert again == state
    other = Session(model, sample(model))
    again.apply(other, type("Target", (), {"set_head": lambda *a: None, "set_highlight": lambda *a: None,
                                          "apply_parts": lambda *a: None, "select_cell": lambda *a: None})())
    assert other.ablate == {"blocks.1.attn.head0": "mean"}
    assert np.array_equal(other.trace["logits"], session.trace["logits"])
    with pytest.raises(ViewStateError, match="ablate"):
        ViewState.from_json({"ablate": {"blocks.0.mlp": "half"}})
    assert "ablate" in ViewState.from_json({"ablate": {"blocks.9.mlp": "zero"}}).problems(model, sample(model))


def test_attribution_still_sums_to_the_logit_with_parts_switched_off():
    model = tiny(13)
    ablate = {"blocks.0.mlp": "mean", "blocks.1.attn": "zero", "blocks.0.attn.head1": "mean"}
    trace = model.run(sample(model), ablate=ablate)
    parts = interp.direct_logit_attribution(model, trace, 4, 3)
    assert abs(sum(parts.values()) - trace["logits"][4, 3]) < 1e-9
    assert "blocks.1.attn" in parts and "blocks.1.attn.head0" not in parts
    assert parts["blocks.1.attn"] == 0.0  # zeroed, bias and all
