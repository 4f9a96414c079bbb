"""Linear attention (Katharopoulos et al., 2020): the recurrent form equals the quadratic form and a
token-by-token loop written here; its backward rules equal finite differences; it trains."""
import math

import numpy as np
import pytest

from simulator import ModelConfig, Transformer
from simulator.backward import BACKWARD, batch_loss_and_grads
from simulator.explain import explain
from simulator.linear_attention import feature_map
from simulator.ops import FORWARD
from simulator.tasks import get_task
from simulator.train import train


def _run(arch: str, seed: int = 0, **kw):
    model = Transformer(ModelConfig(arch=arch, attention="linear", n_ctx=10, **kw), seed=seed)
    text = "the cat sat on the mat and the dog ran"
    return model, (model.run(text, text) if arch == "encoder-decoder" else model.run(text))


@pytest.mark.parametrize("arch", ["decoder", "encoder", "encoder-decoder"])
@pytest.mark.parametrize("seed", [0, 3])
def test_recurrent_and_quadratic_forms_are_equal(arch, seed):
    model, trace = _run(arch, seed, positional="rope")
    names = [n for n in trace.names if n.endswith("attn.hook_z_quadratic")]
    assert len(names) == model.config.n_layers * (2 if arch == "encoder-decoder" else 1)
    for name in names:
        recurrent = trace[name.replace("_quadratic", "")]
        np.testing.assert_allclose(trace[name], recurrent, rtol=0, atol=1e-12)
        weights = trace[name.replace("z_quadratic", "linear_weights")]  # [head, q, k]
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-12)
        causal = not name.startswith("encoder.") and arch != "encoder"
        assert (np.triu(weights, 1) == 0).all() == causal


def test_the_state_grows_token_by_token_like_a_recurrent_network():
    _, trace = _run("decoder")
    a = "blocks.0.attn."
    fq, fk, v = trace[a + "hook_phi_q"], trace[a + "hook_phi_k"], trace[a + "hook_v"]
    n, heads, d = fk.shape
    state, total = np.zeros((heads, d, d)), np.zeros((heads, d))
    for i in range(n):  # read one token, update the memory, answer from it
        state = state + np.einsum("hd,he->hde", fk[i], v[i])
        total = total + fk[i]
        np.testing.assert_allclose(trace[a + "hook_kv_state"][i], state.reshape(heads, -1), atol=1e-12)
        np.testing.assert_allclose(trace[a + "hook_k_sum"][i], total, atol=1e-12)
        out = np.einsum("hd,hde->he", fq[i], state) / np.einsum("hd,hd->h", fq[i], total)[:, None]
        np.testing.assert_allclose(trace[a + "hook_z"][i], out, atol=1e-12)
    # an encoder's sums cover the whole input at every position
    _, enc = _run("encoder")
    s = enc["blocks.0.attn.hook_kv_state"]
    assert np.allclose(s, s[-1]) and not np.allclose(trace[a + "hook_kv_state"], trace[a + "hook_kv_state"][-1])


def test_feature_map_is_elu_plus_one():
    x = np.array([-3.0, -0.5, 0.0, 0.25, 2.0])
    want = [math.exp(-3.0), math.exp(-0.5), 1.0, 1.25, 3.0]
    np.testing.assert_allclose(feature_map(x), want, rtol=1e-15)


def _fd_check(op: str, xs: list[np.ndarray], attrs: dict, step: float = 1e-5) -> None:
    """Every input element's gradient of sum(g · op(xs)) equals central differences."""
    rng = np.random.default_rng(7)
    out = FORWARD[op](xs, [], attrs)
    g = rng.standard_normal(out.shape)
    grads, _ = BACKWARD[op](g, xs, [], attrs, out)
    for i, x in enumerate(xs):
        fd = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            vals = []
            for sgn in (1, -1):
                moved = [y.copy() for y in xs]
                moved[i][idx] += sgn * step
                vals.append((g * FORWARD[op](moved, [], attrs)).sum())
            fd[idx] = (vals[0] - vals[1]) / (2 * step)
        np.testing.assert_allclose(grads[i], fd, rtol=1e-6, atol=1e-7, err_msg=f"{op} input {i}")


@pytest.mark.parametrize("causal", [True, False])
def test_each_backward_rule_equals_finite_differences(causal):
    rng = np.random.default_rng(1)
    n, h, d = 4, 2, 3
    q, k, v = (rng.standard_normal((n, h, d)) for _ in range(3))
    fq, fk = feature_map(q), feature_map(k)
    attrs = {"causal": causal}
    _fd_check("feature_map", [q + 0.05], {})  # away from the kink's neighbourhood at 0
    _fd_check("kv_state", [fk, v], attrs)
    _fd_check("k_sum", [fk], attrs)
    state, ksum = FORWARD["kv_state"]([fk, v], [], attrs), FORWARD["k_sum"]([fk], [], attrs)
    _fd_check("linear_out", [fq, state, ksum], {})
    _fd_check("linear_weights", [fq, fk], attrs)


def test_explain_writes_out_the_recurrent_output():
    model, trace = _run("decoder")
    node = model.graph.node("blocks.0.attn.hook_z")
    text = explain(node, trace._values, model.params, (3, 1, 2))
    assert "φ(q₃)·S₃" in text and "÷" in text and text.endswith(f"{trace[node.name][3, 1, 2]:.3f}".replace("-", "−"))
    state = model.graph.node("blocks.0.attn.hook_kv_state")
    assert "Σ_{j ≤ 2}" in explain(state, trace._values, model.params, (2, 0, 1))
    assert "recurrent" in state.text and "Katharopoulos" in model.graph.node("blocks.0.attn.hook_phi_q").text


def test_a_linear_attention_model_trains():
    task = get_task("reverse")
    model = Transformer(task.config.replace(attention="linear"), seed=0)
    examples = task.heldout(20, seed=5)

    def loss():
        return batch_loss_and_grads(model, [e.tokens for e in examples], [e.targets for e in examples],
                                    [e.mask for e in examples])[0]

    before = loss()
    train(model, task, steps=25, batch_size=8, warmup=10, seed=0, eval_size=5)
    assert loss() < 0.8 * before
