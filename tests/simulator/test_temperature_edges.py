"""The temperature at its edges: a tiny T is the limit T → 0 (all weight on the largest logit,
ties shared), forward and backward agree, and every way in refuses T below the documented minimum."""
import numpy as np
import pytest

from simulator import ModelConfig, Transformer
from simulator.backward import BACKWARD
from simulator.cli import trace_main
from simulator.model import MIN_TEMPERATURE
from simulator.ops import FORWARD

LOGITS = np.array([[0.5, -2.0, 3.0, 1.0], [2.0, 2.0, -1.0, 0.0], [-800.0, -900.0, -850.0, -800.5]])


@pytest.mark.parametrize("t", [5e-324, 1e-310, 1e-300, 1e-200])
def test_a_tiny_temperature_puts_all_weight_on_the_largest_logit(t):
    probs = FORWARD["probs"]([LOGITS, np.float64(t)], [], {})
    assert np.array_equal(probs, [[0, 0, 1, 0], [0.5, 0.5, 0, 0], [1, 0, 0, 0]])


def test_the_shift_changes_nothing_at_ordinary_temperatures():
    for t in (0.01, 0.3, 1.0, 7.0):
        probs = FORWARD["probs"]([LOGITS, np.float64(t)], [], {})
        z = LOGITS / t
        expected = np.exp(z - z.max(-1, keepdims=True))
        np.testing.assert_allclose(probs, expected / expected.sum(-1, keepdims=True), rtol=1e-12, atol=1e-300)


def test_the_backward_of_a_tiny_temperature_is_the_limit_not_nan():
    t = np.float64(5e-324)
    out = FORWARD["probs"]([LOGITS[:1], t], [], {})
    g = np.array([[0.3, -1.0, 2.0, 0.7]])
    (g_logits, _), _ = BACKWARD["probs"](g, [LOGITS[:1], t], [], {}, out)
    assert np.array_equal(g_logits, np.zeros_like(g))  # one-hot: moving a logit a little changes nothing


def test_the_api_refuses_a_temperature_below_the_minimum():
    model = Transformer(ModelConfig())
    model.run("the cat", temperature=MIN_TEMPERATURE)
    for t in (5e-324, MIN_TEMPERATURE / 2, 0, -1, float("nan")):
        with pytest.raises(ValueError, match=f"at least {MIN_TEMPERATURE:g}"):
            model.run("the cat", temperature=t)


def test_the_cli_refuses_it_in_one_line(capsys):
    assert trace_main(["the cat", "--temperature", "5e-324"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"at least {MIN_TEMPERATURE:g}" in err
