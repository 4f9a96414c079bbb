"""The change highlight tells the truth: `Changes` marks only cells whose value moved.
Appending a token to a causal decoder changes the new position and what reads it; the
earlier positions, which cannot see the new token, stay unmarked."""
import numpy as np

from simulator import ModelConfig, Session, Transformer

TEXT = "the cat sat on the"


def test_appending_a_token_to_a_causal_decoder_marks_only_the_new_position():
    session = Session(Transformer(ModelConfig(), seed=2), TEXT)
    n = len(session.tokens)
    session.set_tokens(TEXT + " mat")
    changes = session.changes
    assert changes  # something changed
    checked = 0
    for name in changes:
        delta, value = changes[name], session.trace[name]
        assert delta.shape == value.shape
        axes = [a for a, size in enumerate(value.shape) if size == n + 1]  # the position axes
        if not axes:
            continue
        old = tuple(slice(0, n) if a in axes else slice(None) for a in range(value.ndim))
        assert np.all(delta[old] == 0), f"{name}: an earlier position was marked changed"
        new = tuple(slice(n, n + 1) if a == axes[0] else slice(None) for a in range(value.ndim))
        assert np.all(delta[new] > 0), f"{name}: the new position is not marked"
        checked += 1
    assert checked > 10


def test_a_token_changed_in_place_marks_it_and_everything_after_it_only():
    session = Session(Transformer(ModelConfig(), seed=2), TEXT)
    session.set_tokens("the cat ran on the")
    delta = session.changes["blocks.1.hook_resid_post"]  # [pos, d_model]
    assert np.all(delta[:2] == 0) and np.all(delta[2].max() > 0)


def test_removing_a_token_compares_the_positions_that_remain():
    session = Session(Transformer(ModelConfig(), seed=2), TEXT)
    session.set_tokens("the cat sat on")
    delta = session.changes.get("blocks.0.attn.hook_pattern")
    assert delta is None or np.all(delta == 0)  # the first four positions are as before
