"""Temperature, top-k, top-p and the draw, against hand-worked numbers."""
import numpy as np
import pytest

from simulator.sampling import check_settings, describe, sample

P = np.array([0.5, 0.3, 0.15, 0.05])
LOGITS = np.log(P)  # softmax(LOGITS) = P


def test_temperature_one_gives_the_softmax():
    s = sample(LOGITS, draw=0.0)
    assert np.allclose(s.probs, P) and np.allclose(s.after_p, P)
    assert list(s.order) == [0, 1, 2, 3]


def test_temperature_two_takes_the_square_root_of_the_odds():
    s = sample(LOGITS, temperature=2.0, draw=0.0)
    want = np.sqrt(P) / np.sqrt(P).sum()  # exp(log p / 2) = √p
    assert np.allclose(s.scaled, LOGITS / 2) and np.allclose(s.probs, want)


def test_low_temperature_sharpens():
    s = sample(LOGITS, temperature=0.25, draw=0.0)
    want = P ** 4 / (P ** 4).sum()
    assert np.allclose(s.probs, want) and s.probs[0] > 0.85


def test_top_k_keeps_k_and_renormalises():
    s = sample(LOGITS, top_k=2, draw=0.0)
    assert np.allclose(s.after_k, [0.625, 0.375, 0, 0])
    assert list(s.cut_by_k) == [False, False, True, True]


def test_top_p_keeps_tokens_until_the_mass_reaches_p():
    s = sample(LOGITS, top_p=0.75, draw=0.0)  # 0.5 < 0.75, 0.5 + 0.3 ≥ 0.75: two tokens
    assert np.allclose(s.after_p, [0.625, 0.375, 0, 0])
    s = sample(LOGITS, top_p=0.9, draw=0.0)  # 0.5, 0.8 < 0.9: a third token; 0.95 ≥ 0.9 stops
    assert np.allclose(s.after_p, [0.5, 0.3, 0.15, 0] / np.float64(0.95))
    s = sample(LOGITS, top_p=0.4, draw=0.0)  # the most likely token always stays
    assert np.allclose(s.after_p, [1, 0, 0, 0])
    assert np.allclose(sample(LOGITS, top_p=1.0, draw=0.0).after_p, P)


def test_top_p_applies_after_top_k():
    s = sample(LOGITS, top_k=3, top_p=0.8, draw=0.0)
    assert np.allclose(s.after_k, [0.5, 0.3, 0.15, 0] / np.float64(0.95))
    # renormalised: 0.526 < 0.8, then 0.842 ≥ 0.8: two tokens
    assert np.allclose(s.after_p, [0.625, 0.375, 0, 0])
    assert list(s.cut_by_k) == [False, False, False, True] and list(s.cut_by_p) == [False, False, True, False]


def test_the_draw_picks_the_stretch_it_falls_in():
    assert sample(LOGITS, draw=0.49).token == 0
    assert sample(LOGITS, draw=0.51).token == 1
    assert sample(LOGITS, draw=0.81).token == 2
    assert sample(LOGITS, draw=0.96).token == 3
    assert sample(LOGITS, top_k=2, draw=0.6).token == 0  # 0.6 < 0.625
    assert sample(LOGITS, top_k=2, draw=0.63).token == 1
    assert sample(LOGITS[::-1], draw=0.2).token == 3  # lined up by probability, not by id


def test_greedy_is_top_k_one():
    for u in (0.0, 0.5, 0.999):
        assert sample(LOGITS[[2, 0, 3, 1]], top_k=1, draw=u).token == 1


def test_same_seed_same_draws():
    a = [sample(LOGITS, rng=np.random.default_rng(7)).draw for _ in range(3)]
    b = [sample(LOGITS, rng=np.random.default_rng(7)).draw for _ in range(3)]
    assert a == b


@pytest.mark.parametrize("kw, words", [
    ({"temperature": 0}, "temperature"), ({"temperature": -1}, "temperature"),
    ({"temperature": float("nan")}, "temperature"), ({"top_k": 0}, "top-k"), ({"top_k": 1.5}, "top-k"),
    ({"top_k": True}, "top-k"), ({"top_p": 0}, "top-p"), ({"top_p": 1.01}, "top-p"), ({"top_p": -0.2}, "top-p"),
])
def test_bad_settings_are_refused(kw, words):
    with pytest.raises(ValueError, match=words):
        check_settings(**kw)
    with pytest.raises(ValueError, match=words):
        sample(LOGITS, **kw)


def test_the_description_writes_the_numbers_out():
    s = sample(LOGITS, temperature=1.0, top_k=3, top_p=0.8, draw=0.63)
    text = describe(s, ("a", "b", "c", "d"))
    assert "0.625" in text and "0.375" in text and "u = 0.630" in text and "'b'" in text
