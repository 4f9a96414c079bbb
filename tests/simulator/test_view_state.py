"""The view state: one rule for what a saved view may hold, checked field by field."""
import pytest

from simulator import Session, Transformer
from simulator.view_state import ViewState, ViewStateError, cell_fits

PATTERN = "blocks.0.attn.hook_pattern"


@pytest.fixture
def session():
    model = Transformer(seed=1)
    return Session(model, model.tokens("the cat sat on the mat"))


def test_json_round_trip_keeps_every_field():
    state = ViewState(step=PATTERN, granularity="sublayer", head=1, cell=(PATTERN, (1, 2, 0)), highlight=False,
                      temperature=0.5, sequential="cividis", diverging="purple-orange", tab="Gradients",
                      lesson=("attention.json", 2))
    raw = state.to_json()
    assert raw["cell"] == [PATTERN, [1, 2, 0]] and raw["lesson"] == ["attention.json", 2]
    assert ViewState.from_json(raw) == state
    assert ViewState.from_json({}) == ViewState()  # every field may be left out


@pytest.mark.parametrize("raw, field", [
    ({"head": -1}, "head"), ({"head": True}, "head"), ({"granularity": "word"}, "granularity"),
    ({"temperature": 0}, "temperature"), ({"temperature": float("nan")}, "temperature"),
    ({"cell": ["x", [1.5]]}, "cell"), ({"highlight": "yes"}, "highlight"), ({"sequential": "jet"}, "sequential"),
    ({"lesson": ["a.json", -1]}, "lesson"), ({"tab": 3}, "tab"), ({"colour": "red"}, "colour"),
])
def test_each_bad_field_is_named_and_the_others_are_kept(raw, field):
    state, problems = ViewState.parse({**raw, "step": PATTERN})
    assert list(problems) == [field] and state.step == PATTERN
    with pytest.raises(ViewStateError) as err:
        ViewState.from_json(raw)
    assert list(err.value.problems) == [field]


def test_problems_check_against_the_model(session):
    model, tokens = session.model, session.tokens
    good = ViewState(step=PATTERN, head=1, cell=(PATTERN, (1, 5, 5)))
    assert good.problems(model, tokens) == {}
    bad = ViewState(step="blocks.9.mlp.hook_post", head=4, cell=(PATTERN, (1, 6, 0)))
    problems = bad.problems(model, tokens)
    assert set(problems) == {"step", "head", "cell"}
    assert "head 4 does not exist" in problems["head"]
    with pytest.raises(ViewStateError, match="no step called"):
        bad.validate(model, tokens)


def test_cell_fits_is_the_one_rule_for_cells(session):
    trace = session.trace
    shape = trace[PATTERN].shape  # [head, q_pos, k_pos]
    assert cell_fits(trace, None) and cell_fits(trace, (PATTERN, (0, 0, 0)))
    assert cell_fits(trace, (PATTERN, tuple(n - 1 for n in shape)))
    assert not cell_fits(trace, (PATTERN, shape))  # one past the end on every axis
    assert not cell_fits(trace, (PATTERN, (0, 0)))  # too few indices
    assert not cell_fits(trace, ("no.such.step", (0,)))


class Target:
    def __init__(self):
        self.calls = []

    def set_head(self, head):
        self.calls.append(("head", head))

    def set_highlight(self, on):
        self.calls.append(("highlight", on))

    def select_cell(self, name, index=None):
        self.calls.append(("cell", name, index))

    def apply_parts(self, state):
        self.calls.append(("parts", state.tab))


def test_capture_and_apply_round_trip_on_a_session(session):
    session.set_temperature(0.7)
    session.stepper.set_granularity("sublayer")
    session.stepper.jump("blocks.1.hook_mlp_out")
    state = ViewState.capture(session, head=1, cell=None, highlight=False, tab="Step")
    other = Session(session.model, session.tokens)
    target = Target()
    state.apply(other, target)
    assert ViewState.capture(other, head=1, cell=None, highlight=False, tab="Step") == state
    assert target.calls == [("head", 1), ("highlight", False), ("parts", "Step"), ("cell", None, None)]
