"""The step engine: a cursor over a trace's steps, a session that keeps the trace up to
date as the model and tokens are edited, and a cursor over the session's backward pass.
Observers are plain callbacks; the app turns them into Qt signals.
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Mapping

import numpy as np

from . import budget
from .backward import loss_and_grads
from .gradient_flow import BackwardStep, loss_targets, steps_from_grads
from .model import Transformer
from .trace import Trace

GRANULARITIES = ("operation", "sublayer")


class Observable:
    def __init__(self):
        self._observers: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> None:
        self._observers.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        self._observers.remove(callback)

    def _notify(self) -> None:
        for callback in list(self._observers):
            callback()


def _checked(granularity: str) -> str:
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}; got {granularity!r}.")
    return granularity


class Cursor(Observable):
    """A position in a list of step names; observers are told whenever it moves."""

    def __init__(self, names: list[str]):
        super().__init__()
        self._names = names
        self._pos = 0

    @property
    def names(self) -> list[str]:
        return list(self._names)

    @property
    def index(self) -> int:
        return self._pos

    @property
    def name(self) -> str:
        return self._names[self._pos]

    def __len__(self) -> int:
        return len(self._names)

    def _follow(self, names: list[str]) -> None:
        """New names; stay on the same name where it still exists, else as near the old place as fits."""
        name = self._names[self._pos] if self._names else None
        self._names = names
        self._pos = names.index(name) if name in names else max(0, min(self._pos, len(names) - 1))

    def go(self, pos: int) -> None:
        pos = max(0, min(len(self._names) - 1, operator.index(pos)))  # TypeError for 2.5 or "3"
        if pos != self._pos:
            self._pos = pos
            self._notify()

    def next(self) -> None:
        self.go(self._pos + 1)

    def back(self) -> None:
        self.go(self._pos - 1)

    def first(self) -> None:
        self.go(0)

    def last(self) -> None:
        self.go(len(self._names) - 1)


class Stepper(Cursor):
    """A cursor over the steps of a trace at one of two granularities.

    "operation" visits every step; "sublayer" visits one step per sublayer (the
    embedding, each attention and MLP output and residual add, the logits, …).
    Changing the trace keeps the cursor on the same step name where it still exists.
    """

    def __init__(self, trace: Trace, granularity: str = "operation"):
        self._trace = trace
        self._granularity = _checked(granularity)
        super().__init__(self._visible())

    def _visible(self) -> list[str]:
        nodes = self._trace.graph.nodes
        return [n.name for n in nodes if self._granularity == "operation" or n.major]

    @property
    def step(self):
        return self._trace.step(self.name)

    @property
    def granularity(self) -> str:
        return self._granularity

    def set_granularity(self, granularity: str) -> None:
        current = self._trace.graph.index[self.name]
        self._granularity = _checked(granularity)
        self._names = self._visible()
        index = self._trace.graph.index
        # stay on the nearest step at or before the current one
        self._pos = max([i for i, n in enumerate(self._names) if index[n] <= current], default=0)
        self._notify()

    def set_trace(self, trace: Trace) -> None:
        """Follow a new trace; observers are told only if the step's name, index or count changed."""
        if self.follow_trace(trace):
            self._notify()

    def follow_trace(self, trace: Trace) -> bool:
        """Follow a new trace without telling observers (the caller's own notification covers
        it); True if the step's name, index or count changed."""
        before = (self.name, self._pos, len(self._names))
        self._trace = trace
        self._follow(self._visible())
        return before != (self.name, self._pos, len(self._names))

    def jump(self, name: str) -> None:
        """Go to a step by name (an alias goes to its step; a hidden step to the sublayer holding it)."""
        if name not in self._trace:
            raise KeyError(f"No step called {name!r}.")
        real = self._trace.graph.node(name).name
        index = self._trace.graph.index
        if real in self._names:
            self.go(self._names.index(real))
        else:
            self.go(min([i for i, n in enumerate(self._names) if index[n] >= index[real]],
                        default=len(self._names) - 1))


class Session(Observable):
    """A model, its input and its current trace, kept consistent under edits.

    Each edit recomputes only the steps it affects and records `changes`: for each step
    whose value moved, the absolute change per cell. Observers are told once after every
    edit; that one notification also covers the stepper following the new trace (it may
    have moved, e.g. to fewer steps), so the stepper's own observers are not told again.
    """

    def __init__(self, model: Transformer, tokens, temperature: float = 1.0):
        super().__init__()
        self.model = model
        self.trace = model.run(tokens, temperature=temperature)
        self.changes: Mapping[str, np.ndarray] = {}  # the last edit's |new − old| per changed step
        self.stepper = Stepper(self.trace)

    @property
    def tokens(self):
        return self.trace.tokens

    @property
    def input(self):
        """What the model reads: its tokens, or an image model's image [row, col]."""
        return self.trace.input("image") if self.model.config.arch == "vit" else self.trace.tokens

    @property
    def temperature(self) -> float:
        return self.trace.temperature

    def _apply(self, trace: Trace, changes: Mapping[str, np.ndarray]) -> None:
        self.trace, self.changes = trace, changes
        self.stepper.follow_trace(trace)
        self._notify()

    def set_param(self, name: str, value, index=None) -> np.ndarray:
        """Change a parameter (or one element); returns the previous array. Bad values change nothing."""
        return self.set_params({name: self.model.check_param(name, value, index)})[name]

    def set_params(self, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Replace several parameters at once (e.g. after training), one recompute; returns the old arrays.

        Values that are refused, or that make the forward pass overflow, change nothing.
        """
        old, result = self._store_and_rerun(params)
        self._apply(*result)
        return old

    def check_params(self, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The arrays `set_params(params)` would store, after a trial forward pass; raises ValueError if bad."""
        old, _ = self._store_and_rerun(params)
        new = {name: self.model.params[name] for name in old}
        self._put_back(old)
        return new

    def _store_and_rerun(self, params: dict[str, np.ndarray]):
        checked = {name: self.model.check_param(name, value) for name, value in params.items()}
        old = {name: self.model.set_param(name, value) for name, value in checked.items()}
        try:
            return old, self.model.rerun(self.trace, params=list(checked))
        except ValueError:
            self._put_back(old)
            raise

    def _put_back(self, old: dict[str, np.ndarray]) -> None:
        for name, value in old.items():
            self.model.set_param(name, value)

    def check_tokens(self, tokens):
        """The normalised tokens `set_tokens(tokens)` would use, after a trial forward pass; raises ValueError."""
        return self.model.rerun(self.trace, tokens=tokens)[0].tokens

    def set_tokens(self, tokens) -> None:
        """New input tokens (validated first: a bad input raises and changes nothing)."""
        self._apply(*self.model.rerun(self.trace, tokens=tokens))

    def set_temperature(self, temperature: float) -> None:
        self._apply(*self.model.rerun(self.trace, temperature=temperature))

    @property
    def ablate(self) -> Mapping[str, str]:
        """The components switched off: {"blocks.1.attn.head0": "zero" | "mean", …}."""
        return self.trace.ablate

    def set_ablation(self, ablate: Mapping[str, str]) -> None:
        """Switch components off (and every other one back on); a bad name raises and changes nothing."""
        self._apply(*self.model.rerun(self.trace, ablate=ablate))

    def set_model(self, model: Transformer, tokens=None) -> None:
        """Swap in another model (a new config, a loaded file); tokens default to the current ones."""
        trace = model.run(self.input if tokens is None else tokens, temperature=self.temperature)
        self.model = model
        self._apply(trace, {})


class BackwardWalk(Cursor):
    """A cursor over the backward pass of a session's model on its input, last forward step first.

    The loss is that of `loss_targets` on the session's tokens: the answer tokens of a task the
    model was trained on, as training counts them; otherwise a decoder predicts each next
    token, an encoder its input. After each edit the step names are renewed at once (the
    cursor stays on the same name) but the gradients only when next read, so a walk nobody
    looks at costs nothing. A single decoder token leaves nothing to predict: the walk is empty
    and `message` says why.

    With `follow=False` the walk does not subscribe to the session: its owner calls
    `session_changed` after each edit (the app's view does, on the bridge's one signal).
    """

    def __init__(self, session: Session, follow: bool = True):
        super().__init__([])
        self.session: Session | None = None
        self._follow_edits = follow
        self._followed: Session | None = None
        self._steps: list[BackwardStep] | None = None  # None: to compute when next read
        self._loss: float | None = None
        self._refusal = ""  # why the gradients are not computed (too large for the budget)
        self.set_session(session)

    def set_session(self, session: Session) -> None:
        """Walk another session (a new model file, a new config)."""
        self.close()
        self.session = session
        if self._follow_edits:
            self._followed = session
            session.subscribe(self.session_changed)
        self.session_changed()

    def close(self) -> None:
        """Stop following the session's edits (the session may outlive whoever walks it)."""
        if self._followed is not None:
            self._followed.unsubscribe(self.session_changed)
            self._followed = None

    @property
    def job(self):
        """(tokens, targets, mask) of the loss, or None when there is nothing to predict."""
        s = self.session
        return loss_targets(s.model, s.input, s.trace["probs"][-1])[0]

    @property
    def loss_what(self) -> str:
        """Which loss is walked, in a few words (the answer tokens of a trained task, or every next token)."""
        s = self.session
        return loss_targets(s.model, s.input, s.trace["probs"][-1])[1]

    @property
    def message(self) -> str:
        """Why the walk is empty ("" when it is not)."""
        if self._names:
            return ""
        return self._refusal or "Type at least two tokens: each token's target is the one after it."

    def session_changed(self) -> None:
        """The session was edited: renew the step names now and the gradients when next read.

        Gradients too large for the memory budget leave the walk empty, `message` saying why."""
        job = self.job
        self._refusal = ""
        if job:
            try:
                budget.check_backward(self.session.model.config, self.session.model.encode(job[0])[0])
            except budget.BudgetError as exc:
                self._refusal, job = str(exc), None
        names = [n.name for n in reversed(self.session.model.graph.nodes)] if job else []
        self._follow(names)
        self._steps = self._loss = None
        self._notify()

    def _compute(self) -> None:
        if self._steps is not None:
            return
        job = self.job
        if job is None or self._refusal:
            self._steps, self._loss = [], None
            return
        self._loss, grads = loss_and_grads(self.session.model, *job)
        self._steps = steps_from_grads(self.session.model, grads)

    @property
    def steps(self) -> list[BackwardStep]:
        self._compute()
        return list(self._steps)

    @property
    def step(self) -> BackwardStep | None:
        """The current backward step (None when the walk is empty)."""
        self._compute()
        return self._steps[self._pos] if self._steps else None

    @property
    def loss(self) -> float | None:
        """The loss whose gradients are walked (None when the walk is empty)."""
        self._compute()
        return self._loss

    def jump(self, name: str) -> None:
        """Go to the backward step of a forward step (an alias goes to its step)."""
        graph = self.session.model.graph
        real = graph.aliases.get(name, name)
        if real not in self._names:
            raise KeyError(f"No step called {name!r} in the backward pass.")
        self.go(self._names.index(real))
