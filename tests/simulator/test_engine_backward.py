"""BackwardWalk: a cursor over the session's backward pass, recomputed after each edit."""
import numpy as np
import pytest

from simulator import BackwardWalk, ModelConfig, Session, Transformer
from simulator.backward import loss_and_grads
from simulator.gradient_flow import next_token_targets

TEXT = "the cat sat on the mat"


def walk_of(text=TEXT, **kw) -> BackwardWalk:
    return BackwardWalk(Session(Transformer(ModelConfig(**kw), seed=3), text))


@pytest.mark.parametrize("kw", [{}, {"arch": "encoder", "attention": "full"}, {"arch": "encoder-decoder"},
                                {"residual": "attnres", "positional": "rope"}])
def test_walk_visits_every_forward_step_in_reverse_with_the_right_gradients(kw):
    text = (["the", "cat"], TEXT) if kw.get("arch") == "encoder-decoder" else TEXT
    walk = walk_of(text, **kw)
    s = walk.session
    assert walk.names == [n.name for n in reversed(s.model.graph.nodes)]
    assert walk.names[-1] == s.trace.names[0] and len(walk) == len(s.trace.names)
    loss, grads = loss_and_grads(s.model, *next_token_targets(s.tokens, s.model.config.arch))
    assert walk.loss == pytest.approx(loss)
    for i, step in enumerate(walk.steps):
        assert step.name == walk.names[i] and step.formula.strip()
        assert step.grad.shape == s.trace[step.name].shape
        np.testing.assert_array_equal(step.grad, grads[step.name])
        for p, g in step.params.items():
            np.testing.assert_array_equal(g, grads[p])
    assert any(np.abs(step.grad).max() > 0 for step in walk.steps)


def test_targets_follow_the_architecture():
    assert next_token_targets(["a", "b", "c"]) == (["a", "b", "c"], ["b", "c", "c"], [True, True, False])
    assert next_token_targets(["a", "b"], "encoder") == (["a", "b"], ["a", "b"], [True, True])
    assert next_token_targets((["x"], ["a", "b"]), "encoder-decoder")[1:] == (["b", "b"], [True, False])
    assert next_token_targets(["a"]) is None and next_token_targets(["a"], "encoder") is not None


def test_cursor_moves_clamps_and_tells_observers():
    walk = walk_of()
    seen = []
    walk.subscribe(lambda: seen.append(walk.index))
    assert (walk.index, walk.name, walk.step.name) == (0, "probs", "probs")
    walk.back()
    assert walk.index == 0 and seen == []
    walk.next()
    assert walk.step.name == "logits" and seen == [1]
    walk.last()
    assert walk.name == "hook_embed" and walk.index == len(walk) - 1
    walk.next()
    walk.first()
    assert walk.index == 0
    walk.go(3)
    assert walk.step.name == walk.names[3]
    walk.jump("blocks.1.hook_resid_pre")  # an alias goes to the step it names
    assert walk.name == "blocks.0.hook_resid_post"
    assert seen == [1, len(walk) - 1, 0, 3, walk.index]
    with pytest.raises(KeyError):
        walk.jump("nope")
    with pytest.raises(TypeError):
        walk.go(2.5)
    assert walk.name == "blocks.0.hook_resid_post"


def test_an_edit_recomputes_the_gradients_and_keeps_the_step():
    walk = walk_of()
    s = walk.session
    walk.jump("blocks.0.attn.hook_pattern")
    before, loss = walk.step.grad.copy(), walk.loss
    told = []
    walk.subscribe(lambda: told.append(walk.name))
    s.set_param("blocks.0.attn.W_K", s.model.params["blocks.0.attn.W_K"] * 3)
    assert told == ["blocks.0.attn.hook_pattern"] and walk.name == "blocks.0.attn.hook_pattern"
    after = walk.step.grad
    assert not np.allclose(after, before) and walk.loss != loss
    np.testing.assert_array_equal(
        after, loss_and_grads(s.model, *next_token_targets(s.tokens))[1]["blocks.0.attn.hook_pattern"])


def test_new_tokens_and_a_new_model_keep_the_walk_consistent():
    walk = walk_of()
    s = walk.session
    walk.jump("blocks.1.mlp.hook_post")
    s.set_tokens("the dog ran")
    assert walk.name == "blocks.1.mlp.hook_post" and walk.step.grad.shape[0] == 3
    s.set_model(Transformer(ModelConfig(n_layers=1), seed=0))
    # the step is gone: the cursor stays in range and the walk matches the new model
    assert walk.names == [n.name for n in reversed(s.model.graph.nodes)]
    assert 0 <= walk.index < len(walk) and walk.step.name == walk.name
    other = Session(Transformer(), "a cat")
    walk.set_session(other)
    other.set_tokens("a big cat")
    assert walk.step.grad.shape[0] == 3
    s.set_tokens("a dog")  # the old session no longer moves the walk
    assert walk.session is other and walk.step.grad.shape[0] == 3


def test_a_single_decoder_token_leaves_an_empty_walk_with_a_reason():
    walk = walk_of("the")
    assert len(walk) == 0 and walk.step is None and walk.loss is None and walk.steps == []
    assert "two tokens" in walk.message
    walk.next()
    walk.last()
    assert walk.index == 0
    walk.session.set_tokens("the cat")
    assert len(walk) > 0 and walk.message == "" and walk.step.name == "probs"


def test_a_closed_walk_no_longer_follows_the_session():
    walk = walk_of()
    s = walk.session
    walk.close()
    walk.close()
    told = []
    walk.subscribe(lambda: told.append(1))
    s.set_tokens("a dog")
    assert told == []
