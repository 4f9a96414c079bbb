"""The optimiser of "Attention Is All You Need": the schedule's values and Adam's update."""
import numpy as np
import pytest

from simulator.optim import Adam, noam_lr


def test_schedule_warms_up_then_decays():
    d, w = 16, 400
    assert noam_lr(1, d, w) == pytest.approx(16 ** -0.5 * 400 ** -1.5)
    peak = noam_lr(w, d, w)
    assert peak == pytest.approx(0.25 / 20)
    assert noam_lr(4 * w, d, w) == pytest.approx(peak / 2)  # inverse square root after the peak
    lrs = [noam_lr(s, d, w) for s in range(1, 2 * w)]
    assert int(np.argmax(lrs)) + 1 == w
    assert noam_lr(w, d, w, factor=2.0) == pytest.approx(2 * peak)


@pytest.mark.parametrize("step, warmup", [(0, 10), (1, 0)])
def test_schedule_refuses_bad_steps(step, warmup):
    with pytest.raises(ValueError):
        noam_lr(step, 16, warmup)


def test_adam_matches_a_hand_computation():
    b1, b2, eps, lr = 0.9, 0.98, 1e-9, 0.1
    adam = Adam()
    p = {"w": np.array([1.0, -2.0])}
    g1, g2 = np.array([0.5, -1.0]), np.array([0.1, 2.0])
    p1 = adam.step(p, {"w": g1}, lr)
    # step 1: m̂ = g, v̂ = g², so each weight moves by lr against the sign of its gradient
    assert p1["w"] == pytest.approx(p["w"] - lr * np.sign(g1), abs=1e-8)
    p2 = adam.step(p1, {"w": g2}, lr)
    m = b1 * (1 - b1) * g1 + (1 - b1) * g2
    v = b2 * (1 - b2) * g1 ** 2 + (1 - b2) * g2 ** 2
    expected = p1["w"] - lr * (m / (1 - b1 ** 2)) / (np.sqrt(v / (1 - b2 ** 2)) + eps)
    np.testing.assert_allclose(p2["w"], expected, rtol=1e-12)
    assert p["w"].tolist() == [1.0, -2.0]  # the inputs are left alone
    assert (adam.beta1, adam.beta2, adam.eps) == (0.9, 0.98, 1e-9)


def test_adam_leaves_parameters_without_gradient():
    adam = Adam()
    p = {"a": np.ones(2), "b": np.ones(3)}
    new = adam.step(p, {"a": np.ones(2)}, 0.5)
    assert np.all(new["b"] == 1.0)
    assert new["a"] == pytest.approx([0.5, 0.5])


def test_adam_refuses_bad_hyperparameters():
    with pytest.raises(ValueError):
        Adam(beta2=1.0)
