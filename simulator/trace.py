"""The record of one forward pass: every intermediate under its name, in order."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from .explain import explain as _explain
from .graph import Graph, Node


@dataclass(frozen=True)
class Step:
    """One operation of the forward pass, as the app shows it."""

    node: Node
    value: np.ndarray

    name = property(lambda self: self.node.name)
    inputs = property(lambda self: self.node.inputs)
    params = property(lambda self: self.node.params)
    op = property(lambda self: self.node.op)
    layer = property(lambda self: self.node.layer)
    stack = property(lambda self: self.node.stack)
    sublayer = property(lambda self: self.node.sublayer)
    major = property(lambda self: self.node.major)
    formula = property(lambda self: self.node.formula)
    description = property(lambda self: self.node.text)
    head = None  # every attention tensor holds all heads; views slice out the one they show


def _difference(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """|new − old| per cell; a masked cell that stayed masked (−∞ − (−∞)) did not change."""
    with np.errstate(invalid="ignore"):
        delta = np.abs(new - old)
    delta[np.isnan(delta)] = 0.0
    return delta


class Changes(Mapping):
    """What an edit changed: for each step whose value moved, |new − old| per cell (same shape).

    A step whose shape changed (a token appended or removed) is compared where the old and new
    arrays overlap; the cells outside the old shape are new and report an infinite delta (so
    appending a token to a causal decoder marks only the new position and what depends on it).
    Each delta is computed when first read, so an edit only pays for the ones shown.
    """

    def __init__(self, pairs: dict[str, tuple[np.ndarray, np.ndarray]]):
        self._pairs = pairs  # name -> (new value, old value)
        self._deltas: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._deltas:
            new, old = self._pairs[name]
            if new.shape == old.shape:
                delta = _difference(new, old)
            else:
                delta = np.full(new.shape, np.inf)
                if new.ndim == old.ndim:
                    both = tuple(slice(0, min(a, b)) for a, b in zip(new.shape, old.shape))
                    delta[both] = _difference(new[both], old[both])
            delta.flags.writeable = False
            self._deltas[name] = delta
        return self._deltas[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)


class Trace(Mapping):
    """A read-only mapping from intermediate name to array, in forward order.

    `trace.steps` lists the operations; `trace.explain(name, index)` writes out how one
    number was computed. Arrays are read-only: edit the model, then run it again.
    """

    def __init__(self, graph: Graph, values: dict[str, np.ndarray], params: Mapping[str, np.ndarray],
                 tokens, ablate: Mapping[str, str] | None = None):
        self.graph = graph
        self.ablate = ablate if ablate is not None else {}  # {component: "zero" | "mean"} switched off
        self._values = values
        self._params = params
        self.tokens = tokens  # the token strings: a list, or (source, target) for encoder-decoder
        self._steps: list[Step] | None = None

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._values[self.graph.aliases.get(name, name)]
        except KeyError:
            raise KeyError(f"No intermediate called {name!r} in this trace.") from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.graph.aliases.get(name, name) in self.graph.index

    def __iter__(self) -> Iterator[str]:
        return (n.name for n in self.graph.nodes)

    def __len__(self) -> int:
        return len(self.graph.nodes)

    @property
    def params(self) -> Mapping[str, np.ndarray]:
        """The parameters this trace was computed with (read-only)."""
        return self._params

    @property
    def names(self) -> list[str]:
        return [n.name for n in self.graph.nodes]

    @property
    def steps(self) -> list[Step]:
        if self._steps is None:
            self._steps = [Step(n, self._values[n.name]) for n in self.graph.nodes]
        return self._steps

    def step(self, name: str) -> Step:
        return self.steps[self.graph.index[self.graph.aliases.get(name, name)]]

    def input(self, name: str) -> np.ndarray:
        """A value fed into the pass: `input_ids` (or `encoder.input_ids`, …) or `temperature`."""
        return self._values[name]

    @property
    def temperature(self) -> float:
        return float(self._values["temperature"])

    def token_labels(self, name: str) -> list[str]:
        """The token strings along the position axis of `name` (decoder/target side for cross steps)."""
        node = self.graph.node(name)
        if "image" in self._values:  # an image model: patch rows have no [CLS]; the head reads [CLS] alone
            if node.axes[:1] == ("patch",):
                return list(self.tokens[1:])
            if node.axes[:1] == ("pos",):  # [CLS] alone from hook_cls on
                return list(self.tokens[: len(self._values[node.name])])
        if isinstance(self.tokens, tuple):
            return list(self.tokens[0] if node.stack == "encoder" else self.tokens[1])
        return list(self.tokens)

    def explain(self, name: str, index) -> str:
        """The calculation of `trace[name][index]` with its actual numbers."""
        if name not in self:
            raise KeyError(f"No intermediate called {name!r} in this trace.")
        return _explain(self.graph.node(name), self._values, self._params, index)
