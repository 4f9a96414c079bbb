"""Tiled attention with the online softmax equals full attention, and holds only one block of scores."""
import numpy as np
import pytest

from simulator import ModelConfig, Transformer
from simulator.tiled import full_attention, head_inputs, tiled_attention, walk


def _qkv(n_q: int, n_k: int, d: int = 4, seed: int = 0, spread: float = 3.0):
    rng = np.random.default_rng(seed)
    return (spread * rng.standard_normal((n_q, d)), spread * rng.standard_normal((n_k, d)),
            rng.standard_normal((n_k, 5)))


def _reference(q, k, v, causal: bool) -> np.ndarray:
    """Softmax attention written loop by loop."""
    out = np.zeros((len(q), v.shape[1]))
    for i in range(len(q)):
        keys = range(i + 1) if causal else range(len(k))
        s = [float(q[i] @ k[j]) / np.sqrt(q.shape[1]) for j in keys]
        top = max(s)
        w = [np.exp(x - top) for x in s]
        for j, wj in zip(keys, w):
            out[i] += wj / sum(w) * v[j]
    return out


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block", [1, 2, 3, 5, 7, 16])
@pytest.mark.parametrize("seed", [0, 1])
def test_tiled_equals_full_attention(causal, block, seed):
    n = 11
    q, k, v = _qkv(n, n, seed=seed)
    want = _reference(q, k, v, causal)
    np.testing.assert_allclose(full_attention(q, k, v, causal), want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tiled_attention(q, k, v, block, causal), want, rtol=0, atol=1e-12)


def test_more_keys_than_queries_and_a_huge_score_range():
    q, k, v = _qkv(3, 10, seed=2, spread=30.0)  # scores up to ~1e3: without the running max exp overflows
    for block in (1, 4, 10):
        np.testing.assert_allclose(tiled_attention(q, k, v, block), _reference(q, k, v, False), atol=1e-12)


def test_each_state_holds_one_block_and_the_running_numbers_are_what_they_say():
    n, block = 9, 4
    q, k, v = _qkv(n, n, seed=3)
    states = list(walk(q, k, v, block, causal=True))
    assert [s.block for s in states] == [0, 1, 2, 3] and states[-1].done and not states[1].done
    assert [s.keys for s in states[1:]] == [(0, 4), (4, 8), (8, 9)]
    s_full = q @ k.T / 2.0
    s_full = np.where(np.tril(np.ones((n, n), bool)), s_full, -np.inf)
    for st in states[1:]:
        lo, hi = st.keys
        assert st.scores.shape == (n, hi - lo)  # only this block's scores exist
        np.testing.assert_allclose(st.scores, s_full[:, lo:hi], rtol=1e-14)
        seen = s_full[:, :hi]
        np.testing.assert_allclose(st.m, seen.max(1), rtol=1e-14)
        np.testing.assert_allclose(st.total, np.exp(seen - st.m[:, None]).sum(1), rtol=1e-13)
        np.testing.assert_allclose(st.acc, np.exp(seen - st.m[:, None]) @ v[:hi], rtol=1e-12, atol=1e-13)
    # a rescaling happens exactly where a block raised a query's maximum
    for before, after in zip(states[1:], states[2:]):
        raised = after.m > before.m
        np.testing.assert_allclose(after.alpha[raised], np.exp(before.m - after.m)[raised])
        assert (after.alpha[~raised] == 1).all()
    # memory: m and ℓ (2n) plus one block of scores and weights, far below the grid's 2·n·n
    assert states[0].memory == 2 * n
    assert states[1].memory == 2 * n + 2 * n * block and states[-1].peak == states[1].memory
    assert max(s.memory for s in walk(*_qkv(64, 64), 8)) == 2 * 64 + 2 * 64 * 8 < 2 * 64 * 64 / 7


def test_the_walk_reproduces_the_models_own_head_output():
    model = Transformer(ModelConfig(positional="rope"), seed=0)
    trace = model.run("the cat sat on the mat and")
    q, k, v = head_inputs(trace, "blocks.1.attn.", 1)
    np.testing.assert_allclose(tiled_attention(q, k, v, 3, causal=True), trace["blocks.1.attn.hook_z"][:, 1],
                               atol=1e-12)


@pytest.mark.parametrize("kind", ["window", "strided-full", "bigbird"])
def test_any_mask_tiles_exactly_like_the_models_masked_attention(kind):
    from simulator.patterns import allowed
    q, k, v = _qkv(12, 12, seed=4)
    ok = allowed(kind, 12, 12, 2, 3, 1, 2, 0)
    want = full_attention(q, k, v, allowed=ok)
    for block in (1, 4, 5):
        np.testing.assert_allclose(tiled_attention(q, k, v, block, allowed=ok), want, rtol=0, atol=1e-12)
    model = Transformer(ModelConfig(attention="window", window=2), seed=1)
    trace = model.run("the cat sat on the mat")
    q, k, v = head_inputs(trace, "blocks.0.attn.", 0)
    got = tiled_attention(q, k, v, 2, allowed=allowed("window", 6, 6, 2))
    np.testing.assert_allclose(got, trace["blocks.0.attn.hook_z"][:, 0], atol=1e-12)


@pytest.mark.parametrize("block", [0, -2, 1.5, True])
def test_a_bad_block_size_is_refused(block):
    with pytest.raises(ValueError, match="block size"):
        list(walk(*_qkv(3, 3), block))
