"""The pieces of a step picture, as plain data: heatmap panels, operation symbols,
attention lines and next-token bars, laid out in rows (see step_pictures, step_view)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ui.pictures.slicing import Slicer


@dataclass
class Panel:
    """One heatmap: `values` [rows, cols] with its labels and where a click goes."""

    title: str
    values: np.ndarray  # [rows, cols]
    rows: list[str]
    cols: list[str]
    kind: str = "signed"  # "signed" (diverging map) or "prob" (sequential map)
    changed: np.ndarray | None = None  # bool [rows, cols]: cells the last edit moved
    step: str | None = None  # the trace step shown; None for parameters and derived values
    slicer: Slicer | None = None  # heatmap cell <-> index into trace[step]
    current: bool = False  # the step being explained: drawn emphasised
    head: int | None = None  # a head's block: framed in its HEAD_COLORS colour
    col_bands: tuple[tuple[int, int, int], ...] = ()  # (start, stop, head): head blocks of columns
    row_bands: tuple[tuple[int, int, int], ...] = ()  # (start, stop, head): head blocks of rows
    weight: float = 1.0  # cell size relative to the other heatmaps of its line
    thumb: bool = False  # a thumbnail: title and colours only, no axes or colour bar
    levels: tuple[float, float] | None = None  # a colour range shared with the picture's other panels
    window: tuple[str, ...] = ()  # what part of a long axis is drawn: "0–63 of 768 (d_model)", "top 20 of …"
    bar: bool = True  # draws its colour bar (see one_bar_per_scale)


@dataclass
class Symbol:
    """A big operation symbol between panels ("+", "=", "·", "→") with an optional note."""

    text: str
    note: str = ""


@dataclass
class Lines:
    """Attention as lines from queries to keys, every head in its colour."""

    pattern: np.ndarray  # [head, q_pos, k_pos]
    q_labels: list[str]
    k_labels: list[str]
    focus: int | None = None
    heads: list[int] | None = None  # the heads whose lines are drawn (None: every head)


@dataclass
class Bars:
    """The top-k next-token probabilities at one position, with the temperature control."""

    probs: np.ndarray  # [pos, vocab]
    vocab: list[str]
    positions: list[str]
    position: int
    temperature: float
    logits: np.ndarray | None = None  # [pos, vocab], for the token search of a long vocabulary
    classes: bool = False  # an image model's class scores: no next token, nothing to append
    what: str = "Next token after"  # the title's words before the token ("Token predicted at": BERT's MLM)


Item = Panel | Symbol | Lines | Bars


@dataclass
class Picture:
    kind: str  # "embedding", "qkv", "attention", "concat", "residual", …
    title: str  # where and what: "Layer 0 · Attention · softmax"
    formula: str
    rows: list[list[Item]] = field(default_factory=list)
    small: tuple[int, ...] = ()  # rows drawn as a low strip of thumbnails (context, not detail)
    window: tuple[str, ...] = ()  # what the panels show of long axes ("columns 0–63 of 768 (d_model)", …)
    longest: int = 0  # the longest feature axis drawn as a window of columns (0: none)

    def panels(self) -> list[Panel]:
        return [it for row in self.rows for it in row if isinstance(it, Panel)]


def one_bar_per_scale(pic: Picture) -> None:
    """Panels sharing a colour range (the sides of an equation) show its colour bar once, on the
    last of them (the result): the same colours need one key, and the room a bar takes goes to
    the cells, which then have space for their numbers."""
    seen = set()
    for panel in reversed(pic.panels()):
        if panel.levels is not None:
            panel.bar = panel.levels not in seen
            seen.add(panel.levels)
