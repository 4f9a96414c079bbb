"""Bad input everywhere: each gives a clear error, changes nothing, and no NaN ever reaches a trace.

Weights are bounded (|w| ≤ 1e6) so that products cannot overflow; where a model without
norms still overflows, the forward pass names the step instead of returning NaN or ±inf.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import ModelConfig, Session, TokenError, Transformer
from simulator.model import MAX_ABS_WEIGHT, NumericOverflowError

CONFIGS = {
    "default": ModelConfig(),
    "post-norm-relu": ModelConfig(norm="post", activation="relu"),
    "encoder-learned": ModelConfig(arch="encoder", attention="full", positional="learned"),
    "rope-window": ModelConfig(positional="rope", attention="window", window=2),
    "encoder-decoder": ModelConfig(arch="encoder-decoder", n_layers=1),
    "denseformer": ModelConfig(residual="denseformer"),
    "attnres": ModelConfig(residual="attnres", n_layers=3),
    "block-attnres": ModelConfig(residual="block_attnres", n_layers=2, depth_blocks=2),
    "no-residual": ModelConfig(residual="none"),
    "eps-zero": ModelConfig(norm_eps=0.0),
}


def text_for(model: Transformer):
    return ("the cat sat", "a dog ran") if model.config.arch == "encoder-decoder" else "the cat sat on the mat"


def no_nan(trace) -> bool:
    """No NaN anywhere and no ±inf outside the masked (-inf) attention scores."""
    for step in trace.steps:
        v = step.value
        if np.isnan(v).any():
            return False
        if step.op == "mask":
            if np.isposinf(v).any():
                return False
        elif not np.isfinite(v).all():
            return False
    return True


def snapshot(session: Session) -> dict[str, bytes]:
    shot = {f"param:{n}": np.asarray(v).tobytes() for n, v in session.model.params.items()}
    shot.update({f"step:{n}": np.asarray(session.trace[n]).tobytes() for n in session.trace})
    shot["tokens"] = repr(session.tokens).encode()
    shot["step"] = session.stepper.name.encode()
    return shot


@pytest.fixture
def session() -> Session:
    model = Transformer(seed=1)
    s = Session(model, model.tokens("the cat sat on the mat"))
    s.stepper.jump("blocks.0.attn.hook_pattern")
    return s


# --- values typed into a cell ---

@pytest.mark.parametrize("typed, fragment", [
    ("abc", "needs a number"), ("", "needs a number"), ("1e", "needs a number"), ("1,5", "needs a number"),
    (None, "needs a number"), ("1+2j", "needs a number"), ([1.0, 2.0], "needs a number"),
    ("nan", "must be finite"), ("inf", "must be finite"), ("-Infinity", "must be finite"),
    (float("nan"), "must be finite"),
    ("1e300", "values beyond ±1e+06 are refused"), (-1e300, "values beyond ±1e+06 are refused"),
    (np.finfo(np.float64).max, "values beyond ±1e+06 are refused"), (1.000001e6, "beyond ±1e+06"),
])
def test_a_bad_cell_value_is_refused_with_a_message_and_changes_nothing(session, typed, fragment):
    before = snapshot(session)
    with pytest.raises(ValueError) as info:
        session.set_param("blocks.0.attn.W_Q", typed, (0, 1, 2))
    assert fragment in str(info.value)
    assert snapshot(session) == before


@pytest.mark.parametrize("value", [np.full((2, 16, 8), 1e7), np.full((2, 16, 8), np.nan), np.ones((2, 16, 9))])
def test_a_bad_whole_parameter_is_refused(session, value):
    before = snapshot(session)
    with pytest.raises(ValueError):
        session.set_params({"blocks.0.attn.W_K": np.zeros((2, 16, 8)), "blocks.0.attn.W_Q": value})
    assert snapshot(session) == before


def test_the_largest_allowed_value_is_accepted_and_stays_finite(session):
    session.set_param("blocks.0.attn.W_Q", MAX_ABS_WEIGHT, (0, 1, 2))
    session.set_param("embed.W_E", -MAX_ABS_WEIGHT, (3, 0))
    assert session.model.params["blocks.0.attn.W_Q"][0, 1, 2] == MAX_ABS_WEIGHT
    assert no_nan(session.trace)


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("sign", [1.0, -1.0, "alternating"])
def test_every_weight_at_the_bound_gives_a_finite_trace_in_every_normed_architecture(name, sign):
    model = Transformer(CONFIGS[name], seed=0)
    if sign == "alternating":
        params = {n: MAX_ABS_WEIGHT * np.where(np.arange(np.prod(s)).reshape(s) % 2, 1.0, -1.0)
                  for n, s in model.shapes.items()}
    else:
        params = {n: np.full(s, sign * MAX_ABS_WEIGHT) for n, s in model.shapes.items()}
    model.replace_params(params)
    trace = model.run(text_for(model))
    assert no_nan(trace)
    assert np.allclose(trace["probs"].sum(-1), 1.0)


def test_a_model_without_norms_that_overflows_names_the_step_instead_of_showing_nan():
    model = Transformer(ModelConfig(norm="none", n_layers=8), seed=0)
    big = {n: np.full(s, MAX_ABS_WEIGHT) for n, s in model.shapes.items()}
    with pytest.raises(NumericOverflowError) as info:
        model.replace_params(big) or model.run("the cat sat")
    assert info.value.step in model.graph.index
    assert "float64" in str(info.value)


def test_an_edit_that_would_overflow_is_refused_and_rolled_back():
    model = Transformer(ModelConfig(norm="none", n_layers=8), seed=0)
    session = Session(model, model.tokens("the cat sat"))
    big = {n: np.full(s, MAX_ABS_WEIGHT) for n, s in model.shapes.items()}
    before = snapshot(session)
    with pytest.raises(NumericOverflowError):
        session.check_params(big)
    assert snapshot(session) == before
    with pytest.raises(NumericOverflowError):
        session.set_params(big)
    assert snapshot(session) == before
    assert session.check_params({"embed.W_E": np.zeros(model.shapes["embed.W_E"])})["embed.W_E"].sum() == 0
    assert snapshot(session) == before  # a successful check changes nothing either


def test_new_tokens_that_would_overflow_are_refused():
    """One token's embedding is huge; with the others the largest number is ~4e305, just inside float64."""
    model = Transformer(ModelConfig(norm="none", n_layers=8, positional="none"), seed=0)
    params = {n: np.full(s, 8e3) for n, s in model.shapes.items()}
    params["embed.W_E"] = np.ones(model.shapes["embed.W_E"])
    params["embed.W_E"][model.tokenizer.ids["dog"]] = MAX_ABS_WEIGHT
    model.replace_params(params)
    session = Session(model, model.tokens("the cat"))
    before = snapshot(session)
    with pytest.raises(NumericOverflowError):
        session.check_tokens("the dog")
    with pytest.raises(NumericOverflowError):
        session.set_tokens("the dog")
    assert snapshot(session) == before


# --- LayerNorm and softmax at their edges ---

@pytest.mark.parametrize("eps", [1e-5, 0.0])
def test_layernorm_of_a_constant_vector_is_its_bias(eps):
    model = Transformer(ModelConfig(positional="none", norm_eps=eps), seed=0)
    model.set_param("embed.W_E", np.full(model.shapes["embed.W_E"], 5.0))
    model.set_param("blocks.0.ln1.b", np.arange(16.0))
    trace = model.run("the cat sat")
    assert np.array_equal(trace["blocks.0.ln1.hook_normalized"], np.tile(np.arange(16.0), (3, 1)))
    assert no_nan(trace)


@pytest.mark.parametrize("temperature", [0.01, 1e300])  # the documented minimum, and a huge one
def test_extreme_temperatures_keep_probabilities_finite(temperature):
    model = Transformer(seed=0)
    trace = model.run("the cat sat", temperature=temperature)
    assert no_nan(trace)
    assert np.allclose(trace["probs"].sum(-1), 1.0)
    if temperature < 1:  # sharper: the largest logit of each row gets the most weight
        assert np.array_equal(trace["probs"].argmax(-1), trace["logits"].argmax(-1))


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), float("inf"), "warm"])
def test_a_bad_temperature_is_refused(session, temperature):
    before = snapshot(session)
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        session.set_temperature(temperature)
    assert snapshot(session) == before


# --- text ---

@pytest.mark.parametrize("text, fragment", [
    ("", "is empty"), ("   \n\t", "is empty"), ([], "is empty"),
    ("the cat sat on the mat and the dog", "at most n_ctx = 8"),
    (["the", 3], "Tokens must be strings"),
])
def test_bad_text_is_refused_and_changes_nothing(session, text, fragment):
    before = snapshot(session)
    with pytest.raises(TokenError) as info:
        session.set_tokens(text)
    assert fragment in str(info.value)
    assert snapshot(session) == before


def test_unknown_words_become_unk_when_the_vocabulary_has_it(session):
    session.set_tokens("the zebra sat")
    assert session.tokens == ["the", "<unk>", "sat"]
    assert no_nan(session.trace)


def test_unknown_words_are_named_when_the_vocabulary_has_no_unk():
    model = Transformer(ModelConfig(vocab=("the", "cat", "sat")), seed=0)
    session = Session(model, model.tokens("the cat"))
    before = snapshot(session)
    with pytest.raises(TokenError, match="Not in the vocabulary: 'zebra', 'ran'") as info:
        session.set_tokens("the zebra ran zebra")
    assert info.value.unknown == ["zebra", "ran", "zebra"]
    assert snapshot(session) == before


def test_an_encoder_decoder_needs_a_pair_of_inputs():
    model = Transformer(CONFIGS["encoder-decoder"], seed=0)
    session = Session(model, model.tokens(("the cat", "a dog")))
    before = snapshot(session)
    for bad in ("the cat", ("the cat",), ("the cat", ""), ("the cat", "a " * 9)):
        with pytest.raises(TokenError):
            session.set_tokens(bad)
    assert snapshot(session) == before


def test_a_character_model_refuses_a_text_longer_than_its_context():
    model = Transformer(ModelConfig(vocab=tuple("<unk>".split()) + tuple("abc "), tokenization="char",
                                    n_ctx=4), seed=0)
    with pytest.raises(TokenError, match="5 tokens but the model takes at most n_ctx = 4"):
        model.tokens("abcab")
    assert model.tokens("ab?") == ["a", "b", "<unk>"]


# --- random edits ---

VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-MAX_ABS_WEIGHT, MAX_ABS_WEIGHT),
    st.sampled_from([MAX_ABS_WEIGHT, -MAX_ABS_WEIGHT, 0.0, 5e-324, 1e300, "1e6", "-1e-300", "x", ""]),
)


@pytest.mark.slow
@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=st.sampled_from(list(CONFIGS)), data=st.data())
def test_random_cell_edits_either_apply_with_a_finite_trace_or_change_nothing(config, data):
    model = Transformer(CONFIGS[config], seed=0)
    session = Session(model, model.tokens(text_for(model)))
    for _ in range(8):
        name = data.draw(st.sampled_from(sorted(model.shapes)))
        index = tuple(data.draw(st.integers(0, n - 1)) for n in model.shapes[name])
        value = data.draw(VALUES)
        before = snapshot(session)
        try:
            session.set_param(name, value, index)
        except ValueError as exc:
            assert str(exc)
            assert snapshot(session) == before
            continue
        assert session.model.params[name][index] == float(value)
        assert no_nan(session.trace)
        assert np.allclose(session.trace["probs"].sum(-1), 1.0)
