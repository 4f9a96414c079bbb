"""Where the viewer is looking: one plain, Qt-free record of the view, in one place.

Everything a scenario file, the recovery file and a lesson stop need to land a student on
the same picture, beyond the model and the tokens: the step and granularity, the head, the
selected cell, whether changed cells are outlined, the temperature, the two colour maps,
the open tab and the open lesson stop.

One rule for every reader: `ViewState.parse` checks each field's type and `problems`
checks each field against a model and its tokens (the step exists, the head exists, the
cell lies inside its step's value, …). A field that fails gets a message naming it.
A view with any problem is not used at all, wherever it comes from: a scenario file is then
refused (`from_json` + `validate`); a recovery file still gives back its model and tokens, since
after a crash the user's work matters more than the view, and opens at the first step naming
each bad field (`parse` + `problems`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Protocol

from .engine import GRANULARITIES
from .interp import ablation_hooks

if TYPE_CHECKING:
    from .engine import Session
    from .model import Transformer
    from .trace import Trace

# The colour maps by name; ui.pictures.colormaps gives each name its colours.
SEQUENTIAL_MAPS = ("viridis", "cividis")
DIVERGING_MAPS = ("red-blue", "purple-orange")

Cell = tuple[str, tuple[int, ...]]  # (step name, full index into the step's value)


class ViewStateError(ValueError):
    """A view that cannot be used; `problems` maps each bad field to why."""

    def __init__(self, problems: dict[str, str]):
        self.problems = dict(problems)
        super().__init__("; ".join(f"{why}" for why in problems.values()))


def cell_fits(trace: Trace, cell: Cell | None) -> bool:
    """Whether `cell` names a step of `trace` and an index inside its value (None fits)."""
    if cell is None:
        return True
    name, index = cell
    if name not in trace:
        return False
    shape = trace[name].shape
    return len(index) == len(shape) and all(0 <= i < n for i, n in zip(index, shape))


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text_or_none(value) -> bool:
    return value is None or isinstance(value, str)


@dataclass(frozen=True)
class ViewState:
    """Where the viewer is: everything but the model and the tokens (see the module docstring)."""

    step: str | None = None  # None: the first step
    granularity: str = "operation"
    head: int = 0
    cell: Cell | None = None
    highlight: bool = True
    temperature: float = 1.0
    sequential: str | None = None  # a name in SEQUENTIAL_MAPS; None: keep the viewer's
    diverging: str | None = None  # a name in DIVERGING_MAPS; None: keep the viewer's
    tab: str | None = None  # the title of the open view ("Step", "Residual stream", …); None: keep
    lesson: tuple[str, int] | None = None  # (lesson file, stop index) of an open lesson
    ablate: tuple[tuple[str, str], ...] = ()  # components switched off: (name, "zero" | "mean"), sorted

    # --- from and to the live session ---

    @classmethod
    def capture(cls, session: Session, **rest) -> ViewState:
        """The session's step, granularity and temperature, with the rest given by the caller
        (the bridge knows the head, cell and highlight; the theme the maps; the window the tab)."""
        stepper = session.stepper
        return cls(step=stepper.name, granularity=stepper.granularity, temperature=session.temperature,
                   ablate=tuple(sorted(session.ablate.items())), **rest)

    def apply(self, session: Session, target: ViewTarget) -> None:
        """Put the session and `target` (the app's SessionBridge) where this state says.

        Check it first (`validate`): applying a state that does not fit raises part way.
        The temperature goes first because it renews the trace; the cell goes last because
        it must lie inside the step values of that trace.
        """
        if abs(session.temperature - self.temperature) > 1e-12:
            session.set_temperature(self.temperature)
        if dict(self.ablate) != dict(session.ablate):
            session.set_ablation(dict(self.ablate))
        stepper = session.stepper
        if stepper.granularity != self.granularity:
            stepper.set_granularity(self.granularity)
        if self.step is None:
            stepper.first()
        else:
            stepper.jump(self.step)
        target.set_head(self.head)
        target.set_highlight(self.highlight)
        target.apply_parts(self)
        target.select_cell(*self.cell) if self.cell else target.select_cell(None)

    # --- checks ---

    @classmethod
    def parse(cls, raw) -> tuple[ViewState, dict[str, str]]:
        """A state from decoded JSON, and {field: why} for each field that had to be left at its default.

        Absent fields take their defaults; unknown fields are reported under their own names.
        """
        if not isinstance(raw, dict):
            return cls(), {"view": "the saved view is not a JSON object"}
        problems = {key: f"unknown field {key!r}" for key in sorted(set(raw) - _FIELDS)}
        values = {}
        for key in _FIELDS & set(raw):
            try:
                values[key] = _PARSERS[key](raw[key])
            except (TypeError, ValueError) as exc:
                problems[key] = str(exc)
        return cls(**values), problems

    @classmethod
    def from_json(cls, raw) -> ViewState:
        """A state from decoded JSON; raises ViewStateError naming every bad field."""
        state, problems = cls.parse(raw)
        if problems:
            raise ViewStateError(problems)
        return state

    def to_json(self) -> dict:
        """Plain JSON types, the format `from_json` reads (and scenario files store)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["cell"] = None if self.cell is None else [self.cell[0], [int(i) for i in self.cell[1]]]
        data["lesson"] = None if self.lesson is None else [self.lesson[0], int(self.lesson[1])]
        data["ablate"] = dict(self.ablate)
        return data

    def problems(self, model: Transformer, tokens, trace: Trace | None = None) -> dict[str, str]:
        """{field: why} for each field that does not fit `model` run on `tokens` ({} when all fit).

        `trace` may be passed when it is already at hand (it must be `model` on `tokens` at
        this state's temperature).
        """
        problems = {}
        if trace is None:
            try:
                trace = model.run(tokens, temperature=self.temperature)
            except ValueError as exc:
                problems["temperature"] = f"temperature {self.temperature:g} cannot be used: {exc}"
                trace = model.run(tokens)
        if self.step is not None and self.step not in trace:
            problems["step"] = f"this model has no step called {self.step!r}"
        n_heads = model.config.n_heads
        if not 0 <= self.head < n_heads:
            problems["head"] = f"head {self.head} does not exist (the model has {n_heads})"
        if not cell_fits(trace, self.cell):
            problems["cell"] = f"the selected cell {self.cell[0]}{list(self.cell[1])} does not exist"
        if self.ablate:
            try:
                ablation_hooks(model.graph, model.config.n_heads, dict(self.ablate))
            except (KeyError, ValueError) as exc:
                problems["ablate"] = f"a switched-off component does not fit: {exc.args[0] if exc.args else exc}"
        return problems

    def validate(self, model: Transformer, tokens) -> None:
        """Raise ViewStateError naming every field that does not fit `model` on `tokens`."""
        problems = self.problems(model, tokens)
        if problems:
            raise ViewStateError(problems)



class ViewTarget(Protocol):
    """What `ViewState.apply` drives beside the session: the app's SessionBridge."""

    def set_head(self, head: int) -> None: ...

    def set_highlight(self, on: bool) -> None: ...

    def select_cell(self, name: str | None, index: tuple | None = None) -> None: ...

    def apply_parts(self, state: ViewState) -> None:
        """The colour maps, the tab and the lesson, through whoever owns them."""


# --- one parser per field: the type checks every reader shares ---

def _step(value) -> str | None:
    if not _text_or_none(value):
        raise ValueError("\"step\" must be a step's name")
    return value


def _granularity(value) -> str:
    if value not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}; got {value!r}")
    return value


def _head(value) -> int:
    if not _whole(value) or value < 0:
        raise ValueError("\"head\" must be a head number (0, 1, …)")
    return value


def _cell(value) -> Cell | None:
    if value is None:
        return None
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], str)
            and isinstance(value[1], (list, tuple)) and all(_whole(i) for i in value[1])):
        raise ValueError("\"cell\" must be [step name, [index, …]]")
    return value[0], tuple(value[1])


def _highlight(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError("\"highlight\" must be true or false")
    return value


def _temperature(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError("\"temperature\" must be a positive number")
    return float(value)


def _map(key: str, names: tuple[str, ...]):
    def parse(value) -> str | None:
        if value is not None and value not in names:
            raise ValueError(f"\"{key}\" must be one of {', '.join(names)}; got {value!r}")
        return value
    return parse


def _tab(value) -> str | None:
    if not _text_or_none(value):
        raise ValueError("\"tab\" must be a view's title")
    return value


def _lesson(value) -> tuple[str, int] | None:
    if value is None:
        return None
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], str)
            and _whole(value[1]) and value[1] >= 0):
        raise ValueError("\"lesson\" must be [lesson file, stop number from 0]")
    return value[0], value[1]


def _ablate(value) -> tuple[tuple[str, str], ...]:
    if not (isinstance(value, dict) and all(isinstance(k, str) and v in ("zero", "mean") for k, v in value.items())):
        raise ValueError("\"ablate\" must map component names to \"zero\" or \"mean\"")
    return tuple(sorted(value.items()))


_PARSERS = {"step": _step, "granularity": _granularity, "head": _head, "cell": _cell, "highlight": _highlight,
            "temperature": _temperature, "sequential": _map("sequential", SEQUENTIAL_MAPS),
            "diverging": _map("diverging", DIVERGING_MAPS), "tab": _tab, "lesson": _lesson,
            "ablate": _ablate}
_FIELDS = frozenset(f.name for f in fields(ViewState))
assert _FIELDS == set(_PARSERS)
