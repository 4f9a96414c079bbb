"""The sparse attention masks: each against a loop-by-loop reference written here from its definition,
a few worked by hand, their use in the model, their explanations and the settings they refuse."""
import itertools

import numpy as np
import pytest

from simulator import ModelConfig, Transformer
from simulator.explain import explain
from simulator.patterns import allowed, kind_for, random_keys


def reference(kind: str, n: int, window: int, stride: int, n_global: int, n_random: int, seed: int) -> np.ndarray:
    """The kept keys of every query, built as sets from the patterns' definitions."""
    causal = not kind.endswith("-full")
    base = kind.removesuffix("-full")
    out = np.zeros((n, n), dtype=bool)
    for i in range(n):
        keys = set()
        for d in range(window):  # the band
            keys |= {i - d} if causal else {i - d, i + d}
        if base == "strided":
            m = 1
            while m * stride < n:
                keys |= {i - m * stride} if causal else {i - m * stride, i + m * stride}
                m += 1
        if base in ("global", "bigbird"):
            keys |= set(range(n_global))
            if not causal and i < n_global:
                keys |= set(range(n))
        keys = {j for j in keys if 0 <= j < n and (j <= i or not causal)}
        if base == "bigbird":
            rest = [j for j in range(n) if j not in keys and (j <= i or not causal)]
            if rest:
                picked = np.random.default_rng([seed, i]).choice(rest, min(n_random, len(rest)), replace=False)
                keys |= {int(j) for j in picked}
        for j in keys:
            out[i, j] = True
    return out


CASES = list(itertools.product(("strided", "strided-full", "global", "global-full", "bigbird", "bigbird-full"),
                               (1, 5, 12), (1, 2, 3), (2, 3), (1, 2), (1, 3), (0, 7)))


@pytest.mark.parametrize("kind,n,window,stride,n_global,n_random,seed", CASES)
def test_each_mask_equals_the_loop_by_loop_reference(kind, n, window, stride, n_global, n_random, seed):
    got = allowed(kind, n, n, window, stride, n_global, n_random, seed)
    np.testing.assert_array_equal(got, reference(kind, n, window, stride, n_global, n_random, seed))


def test_masks_worked_by_hand():
    o, x = True, False
    # strided, causal, window 1, stride 2: itself and every second key back
    np.testing.assert_array_equal(allowed("strided", 5, 5, 1, 2), [
        [o, x, x, x, x], [x, o, x, x, x], [o, x, o, x, x], [x, o, x, o, x], [o, x, o, x, o]])
    # global, symmetric, window 1, one global token: row 0 and column 0 full, plus the diagonal
    np.testing.assert_array_equal(allowed("global-full", 4, 4, 1, 2, 1), [
        [o, o, o, o], [o, o, x, x], [o, x, o, x], [o, x, x, o]])
    # global, causal, window 2, one global token
    np.testing.assert_array_equal(allowed("global", 4, 4, 2, 2, 1), [
        [o, x, x, x], [o, o, x, x], [o, o, o, x], [o, x, o, o]])


def test_bigbird_random_keys_are_seeded_shown_and_differ_by_seed():
    a = random_keys("bigbird", 12, 12, 1, 1, 2, 0)
    assert (a == random_keys("bigbird", 12, 12, 1, 1, 2, 0)).all()
    assert (a != random_keys("bigbird", 12, 12, 1, 1, 2, 5)).any()
    # each query past the band and the global token gets exactly n_random new keys, none later than itself
    assert list(a.sum(1)[3:]) == [2] * 9
    assert not np.triu(a, 1).any()
    # a causal query's random keys do not depend on how long the input is
    np.testing.assert_array_equal(random_keys("bigbird", 6, 6, 1, 1, 2, 0), a[:6, :6])


@pytest.mark.parametrize("arch", ["decoder", "encoder", "encoder-decoder"])
@pytest.mark.parametrize("attention", ["strided", "global", "bigbird"])
def test_the_model_masks_with_the_pattern_in_the_form_of_its_architecture(arch, attention):
    cfg = ModelConfig(arch=arch, attention=attention, window=2, stride=3, n_global=1, n_random=2, n_ctx=9)
    model = Transformer(cfg, seed=1)
    text = "the cat sat on the mat and the dog"
    trace = model.run(text, text) if arch == "encoder-decoder" else model.run(text)
    stacks = {"decoder": [("", True)], "encoder": [("", False)],
              "encoder-decoder": [("encoder.", False), ("decoder.", True)]}[arch]
    for prefix, causal in stacks:
        kind = kind_for(attention, causal)
        want = reference(kind, 9, 2, 3, 1, 2, 0)
        for layer in range(cfg.n_layers):
            b = f"{prefix}blocks.{layer}.attn."
            assert model.graph.node(b + "hook_attn_scores").attrs["kind"] == kind
            np.testing.assert_array_equal(np.isfinite(trace[b + "hook_attn_scores"][0]), want)
            np.testing.assert_array_equal(trace[b + "hook_pattern"][1] > 0, want)
    if arch == "encoder-decoder":  # cross-attention still sees the whole source
        assert np.isfinite(trace["decoder.blocks.0.cross_attn.hook_attn_scores"]).all()


def test_each_pattern_explains_why_a_cell_is_kept_or_hidden():
    cfg = ModelConfig(attention="bigbird", window=2, n_global=1, n_random=1, n_ctx=9, arch="encoder")
    model = Transformer(cfg, seed=0)
    trace = model.run("the cat sat on the mat and the dog")
    node = model.graph.node("blocks.0.attn.hook_attn_scores")
    ok = np.isfinite(trace[node.name][0])
    rand = random_keys("bigbird-full", 9, 9, 2, 1, 1, 0)
    i, j = map(int, np.argwhere(rand)[-1])
    assert "random keys (seed 0)" in explain(node, trace._values, model.params, (0, i, j))
    assert "global token" in explain(node, trace._values, model.params, (0, 6, 0))
    assert "inside query 5's window of 2" in explain(node, trace._values, model.params, (0, 5, 4))
    hidden = [(int(a), int(b)) for a, b in np.argwhere(~ok)]
    assert "−∞" in explain(node, trace._values, model.params, (0, *hidden[0]))
    assert "random" in node.text and "Zaheer" in node.text and "R(i)" in node.formula

    strided = Transformer(ModelConfig(attention="strided", window=1, stride=3), seed=0)
    t = strided.run("the cat sat on the mat")
    n = strided.graph.node("blocks.0.attn.hook_attn_scores")
    assert "3 = 1×3 away, a multiple of the stride" in explain(n, t._values, strided.params, (0, 4, 1))
    assert "not a multiple of the stride 3" in explain(n, t._values, strided.params, (0, 4, 2))
    assert "mod 3 = 0" in n.formula and "Child" in n.text


@pytest.mark.parametrize("kw,words", [
    ({"attention": "strided", "stride": 1}, "stride ≥ 2"),
    ({"attention": "global", "n_global": 0}, "1 ≤ n_global < n_ctx"),
    ({"attention": "global", "n_global": 8}, "1 ≤ n_global < n_ctx"),
    ({"attention": "bigbird", "n_random": 0}, "n_random must be at least 1"),
    ({"attention": "full"}, "must not see later ones"),
    ({"arch": "encoder", "attention": "causal"}, "reads the whole input"),
    ({"stride": 0}, "stride must be at least 1"),
])
def test_settings_that_make_no_sense_are_refused_with_a_message(kw, words):
    with pytest.raises(ValueError, match=words):
        ModelConfig(**kw)


def test_the_new_fields_round_trip_through_json():
    cfg = ModelConfig(attention="bigbird", window=2, n_global=2, n_random=3, random_seed=9, stride=4)
    assert ModelConfig.from_json(cfg.to_json()) == cfg
