"""The step engine: Stepper (a cursor over the steps) and Session (edits recompute only what they touch)."""
import numpy as np
import pytest

from simulator import ModelConfig, Session, Stepper, TokenError, Transformer

TEXT = "the cat sat on the mat"


def session(**kw) -> Session:
    return Session(Transformer(ModelConfig(**kw), seed=2), TEXT)


def downstream(graph, params=(), inputs=()) -> set[str]:
    """Every step that reads, directly or not, one of `params` or `inputs`."""
    dirty, out = set(inputs), set()
    for node in graph.nodes:
        if set(node.params) & set(params) or set(node.inputs) & dirty:
            dirty.add(node.name)
            out.add(node.name)
    return out


# --- Stepper ---

def test_stepper_moves_and_clamps_at_the_ends():
    s = session()
    st, trace = s.stepper, s.trace
    assert st.names == trace.names and len(st) == len(trace.names)
    assert (st.index, st.name) == (0, "hook_embed")
    st.back()
    assert st.index == 0
    st.next()
    st.next()
    assert st.name == "blocks.0.hook_resid_pre"
    st.last()
    assert st.name == "probs" and st.index == len(st) - 1
    st.next()
    assert st.name == "probs"
    st.first()
    assert st.index == 0
    st.go(5)
    assert st.name == trace.names[5]
    st.go(10_000)
    assert st.name == "probs"
    st.go(-3)
    assert st.index == 0
    st.go(4)
    for bad in (2.5, "3", None):
        with pytest.raises(TypeError):
            st.go(bad)
        assert st.index == 4


def test_stepping_back_shows_the_real_earlier_values():
    s = session()
    st = s.stepper
    fresh = Transformer(ModelConfig(), seed=2).run(TEXT)
    st.jump("blocks.0.attn.hook_scores_scaled")
    later = st.step.value
    st.back()
    assert st.name == "blocks.0.attn.hook_scores_raw"
    assert st.step.value is s.trace["blocks.0.attn.hook_scores_raw"]
    np.testing.assert_array_equal(st.step.value, fresh["blocks.0.attn.hook_scores_raw"])
    np.testing.assert_allclose(later, st.step.value / np.sqrt(8))  # the step after really is its successor
    for _ in range(len(st)):  # walking back over every step, each shows its own recorded value
        np.testing.assert_array_equal(st.step.value, fresh[st.name])
        st.back()


def test_jump_goes_to_a_step_an_alias_or_the_sublayer_holding_a_hidden_step():
    s = session()
    st = s.stepper
    st.jump("blocks.1.mlp.hook_post")
    assert st.name == "blocks.1.mlp.hook_post"
    st.jump("blocks.1.hook_resid_pre")  # an alias of blocks.0.hook_resid_post
    assert st.name == "blocks.0.hook_resid_post"
    st.set_granularity("sublayer")
    st.jump("blocks.1.attn.hook_pattern")  # hidden at this granularity: go to the attention's output
    assert st.name == "blocks.1.hook_attn_out"
    before = st.index
    with pytest.raises(KeyError, match="No step called 'blocks.3.hook_attn_out'"):
        st.jump("blocks.3.hook_attn_out")
    assert st.index == before


def test_granularity_switches_keep_the_nearest_earlier_step():
    s = session()
    st = s.stepper
    st.jump("blocks.1.attn.hook_pattern")
    st.set_granularity("sublayer")
    assert st.granularity == "sublayer"
    assert st.names == [step.name for step in s.trace.steps if step.major]
    assert st.name == "blocks.1.hook_resid_pre" or st.name == "blocks.0.hook_resid_post"
    st.next()
    assert st.name == "blocks.1.hook_attn_out"
    st.set_granularity("operation")
    assert st.name == "blocks.1.hook_attn_out" and len(st) == len(s.trace)


def test_a_bad_granularity_changes_nothing():
    st = session().stepper
    st.jump("blocks.0.attn.hook_q")
    calls = []
    st.subscribe(lambda: calls.append(1))
    with pytest.raises(ValueError, match="granularity must be one of operation, sublayer; got 'word'"):
        st.set_granularity("word")
    assert st.granularity == "operation" and st.name == "blocks.0.attn.hook_q" and not calls
    with pytest.raises(ValueError):
        Stepper(session().trace, granularity="layer")


def test_stepper_observers_hear_each_move_once():
    st = session().stepper
    calls = []
    st.subscribe(lambda: calls.append(st.name))
    st.next()
    st.first()
    st.first()  # already there: no event
    st.jump("logits")
    assert calls == ["hook_pos_embed", "hook_embed", "logits"]
    st.unsubscribe(st._observers[0])
    st.next()
    assert len(calls) == 3


# --- Session edits ---

def test_set_param_recomputes_only_the_affected_steps():
    s = session()
    old = s.trace
    name = "blocks.1.attn.W_Q"
    s.set_param(name, 3.0, index=(0, 2, 5))
    fresh = Transformer(ModelConfig(), seed=2)
    fresh.set_param(name, 3.0, index=(0, 2, 5))
    want = fresh.run(TEXT)
    hit = downstream(s.trace.graph, params=[name])
    assert "blocks.1.attn.hook_q" in hit and "blocks.1.attn.hook_k" not in hit
    for n in s.trace.names:
        if n in hit:
            assert s.trace[n] is not old[n]
            np.testing.assert_array_equal(s.trace[n], want[n])  # same bits as a full run
        else:
            assert s.trace[n] is old[n], n  # untouched steps are the very same arrays
    assert set(s.changes) == hit
    for n, delta in s.changes.items():
        new, before = s.trace[n], old[n]
        with np.errstate(invalid="ignore"):  # −∞ − (−∞) in masked cells, which count as unchanged
            want_delta = np.where(new == before, 0.0, np.abs(new - before))
        np.testing.assert_array_equal(delta, want_delta, err_msg=n)
        assert delta.any(), n
    # only column 5 of head 0's queries moved; head 1's scores did not
    q_delta = s.changes["blocks.1.attn.hook_q"]
    assert np.all(q_delta[:, 0, 5] > 0) and q_delta.sum() == q_delta[:, 0, 5].sum()
    assert np.all(s.changes["blocks.1.attn.hook_scores_raw"][1] == 0)
    assert s.changes["blocks.1.attn.hook_pattern"][0, 0, 0] == 0  # query 0 only ever sees key 0
    assert s.changes.get("blocks.0.attn.hook_q") is None and "blocks.0.attn.hook_q" not in s.changes
    with pytest.raises(ValueError):  # deltas are read-only, like the trace
        s.changes["logits"][0, 0] = 0.0


def test_an_edit_that_changes_nothing_reports_no_changes():
    s = session()
    old = s.trace
    s.set_param("blocks.0.attn.b_V", s.model.params["blocks.0.attn.b_V"])
    assert s.changes == {}
    assert all(s.trace[n] is old[n] for n in old.names)


def test_an_edit_in_the_first_layer_reaches_the_output():
    s = session()
    s.set_param("embed.W_E", 0.5, index=(3, 0))  # the embedding of "cat"
    assert "probs" in s.changes and "logits" in s.changes
    # "cat" is at position 1: position 0 is untouched everywhere in this causal model
    assert np.all(s.changes["blocks.1.hook_resid_post"][0] == 0)
    assert list(zip(*np.nonzero(s.changes["blocks.0.hook_resid_pre"]))) == [(1, 0)]


@pytest.mark.parametrize("call, exc", [
    (("blocks.0.attn.W_Q", np.nan, (0, 0, 0)), ValueError),
    (("blocks.0.attn.W_Q", np.zeros(3)), ValueError),
    (("nope", 1.0), KeyError),
    (("blocks.0.attn.W_Q", 1.0, (2, 0, 0)), ValueError),
])
def test_a_refused_edit_changes_nothing_and_tells_no_one(call, exc):
    s = session()
    trace, changes = s.trace, s.changes
    params = dict(s.model.params)
    calls = []
    s.subscribe(lambda: calls.append(1))
    with pytest.raises(exc):
        s.set_param(*call)
    assert s.trace is trace and s.changes is changes and not calls
    assert all(s.model.params[n] is params[n] for n in params)


def test_set_params_applies_several_edits_in_one_recompute():
    s = session()
    calls = []
    s.subscribe(lambda: calls.append(1))
    new = {"blocks.0.mlp.b_out": np.ones(16), "unembed.b_U": np.arange(13.0)}
    s.set_params(new)
    assert len(calls) == 1
    assert set(s.changes) == downstream(s.trace.graph, params=list(new))
    np.testing.assert_array_equal(s.model.params["unembed.b_U"], np.arange(13.0))
    with pytest.raises(ValueError):  # one bad value: none of them is stored
        s.set_params({"blocks.0.mlp.b_out": np.zeros(16), "unembed.b_U": np.full(13, np.inf)})
    np.testing.assert_array_equal(s.model.params["blocks.0.mlp.b_out"], np.ones(16))


def test_set_tokens_and_temperature():
    s = session()
    old = s.trace
    s.set_temperature(2.0)
    assert set(s.changes) == {"probs"} and s.temperature == 2.0
    assert s.trace["logits"] is old["logits"]
    s.set_tokens("the cat sat on a mat")  # same length: one token differs
    assert s.tokens == "the cat sat on a mat".split()
    want = Transformer(ModelConfig(), seed=2).run("the cat sat on a mat", temperature=2.0)
    for n in s.trace.names:
        np.testing.assert_array_equal(s.trace[n], want[n])
    assert np.all(s.changes["hook_embed"][:4] == 0) and np.all(s.changes["hook_embed"][4] > 0)
    assert "hook_pos_embed" not in s.changes  # the positions did not change
    s.set_tokens("the cat")  # a new length: every step with a position axis changes shape
    assert s.trace["logits"].shape == (2, 13)
    # a shorter input: the positions that remain are compared, and did not change (causal)
    assert s.changes["logits"].shape == (2, 13) and np.all(s.changes["logits"] == 0)


@pytest.mark.parametrize("bad", ["the cat sat on the mat and the dog", "", ["the", 1]])
def test_bad_tokens_change_nothing(bad):
    s = session(vocab=("the", "cat", "sat", "on", "mat", "and", "dog"))
    trace = s.trace
    with pytest.raises(TokenError):
        s.set_tokens(bad)
    with pytest.raises(ValueError):
        s.set_temperature(0.0)
    assert s.trace is trace and s.tokens == TEXT.split()


def test_stepper_stays_on_its_step_through_edits():
    s = session()
    s.stepper.jump("blocks.1.attn.hook_pattern")
    s.set_param("blocks.0.attn.W_V", 1.0, index=(0, 0, 0))
    assert s.stepper.name == "blocks.1.attn.hook_pattern"
    assert s.stepper.step.value is s.trace["blocks.1.attn.hook_pattern"]


def test_set_model_swaps_the_model_and_keeps_tokens():
    s = session()
    s.stepper.jump("blocks.1.hook_mlp_out")
    other = Transformer(ModelConfig(n_layers=1, positional="rope"), seed=4)
    s.set_model(other)
    assert s.model is other and s.changes == {} and s.tokens == TEXT.split()
    np.testing.assert_array_equal(s.trace["probs"], other.run(TEXT)["probs"])
    assert s.stepper.name in s.trace.names  # the old step is gone: the cursor stays in range
    with pytest.raises(TokenError):
        s.set_model(Transformer(ModelConfig(vocab=("a", "b"), d_model=4)))
    assert s.model is other
