"""Generation: the same seed gives the same text, greedy decoding, the digits→words model on held-out numbers."""
import numpy as np
import pytest

from simulator.config import ModelConfig
from simulator.generate import generate, steps
from simulator.model import Transformer
from simulator.presets import load_preset
from simulator.tasks import get_task, number_words


def _model():
    return Transformer(ModelConfig(vocab=tuple("abcdefghij "), tokenization="char", n_ctx=24), seed=3)


def test_same_seed_same_text_other_seed_other_text():
    model = _model()
    a = model.generate("abc", 20, temperature=1.5, seed=5)
    assert a == model.generate("abc", 20, temperature=1.5, seed=5)
    assert len(a) == 20 and a != model.generate("abc", 20, temperature=1.5, seed=6)


def test_cache_and_full_reruns_write_the_same_text():
    model = _model()
    assert generate(model, "abc", 30, seed=2, use_cache=True) == generate(model, "abc", 30, seed=2, use_cache=False)


def test_greedy_takes_the_most_likely_token_each_time():
    model = _model()
    for step in steps(model, "abc", 8, top_k=1):
        assert model.config.vocab[int(np.argmax(step.trace["logits"][-1]))] == step.token
    assert [s.cached for s in steps(model, "abc", 4)] == [False, True, True, True]


def test_a_full_window_drops_its_oldest_token():
    model = _model()
    out = model.generate("abcdefghij", 30, seed=1)
    assert len(out) == 30  # n_ctx is 24: the window slides


def test_digits_to_words_on_heldout_numbers():
    model, _, _ = load_preset("translate")
    task = get_task("translate")
    numbers = [int("".join(ex.tokens[0])) for ex in task.heldout(40, seed=777)]
    for number in numbers:
        out = model.generate(" ".join(str(number)), 10, top_k=1)
        assert out == number_words(number) + ["<eos>"], number


def test_bad_settings_are_refused_before_anything_runs():
    model = _model()
    for kw in ({"temperature": 0}, {"top_k": 0}, {"top_p": 1.5}):
        with pytest.raises(ValueError):
            model.generate("abc", 3, **kw)
    with pytest.raises(ValueError, match="whole number"):
        model.generate("abc", -1)
