"""Colour maps for the picture widgets: a diverging map for signed values,
a sequential map for probabilities and weights, and one colour per attention head.

All choices are colour-blind safe and stay distinguishable on a washed-out projector.
Nothing here changes at run time: the maps in use are a `Maps` value that the theme
hands to the bridge and the bridge to each picture (`keep_maps`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

# ColorBrewer RdBu (reversed): blue for negative, near-white at zero, red for positive.
# Red/blue stays separable for the common red-green colour deficiencies.
DIVERGING = pg.ColorMap(
    pos=np.array([0.0, 0.25, 0.5, 0.75, 1.0]),
    color=np.array([
        (33, 102, 172, 255),
        (103, 169, 207, 255),
        (247, 247, 247, 255),
        (239, 138, 98, 255),
        (178, 24, 43, 255),
    ], dtype=np.ubyte),
    name="stepformer-diverging",
)

# viridis ships with pyqtgraph, so it works without network access.
SEQUENTIAL = pg.colormap.get("viridis")

# Pixels of an image model's input: dark ink on white paper, as a digit is drawn (not a signed value).
INK = pg.ColorMap(pos=np.array([0.0, 1.0]), color=np.array([(255, 255, 255, 255), (0, 0, 0, 255)], dtype=np.ubyte),
                  name="stepformer-ink")

# ColorBrewer PuOr, ordered like the red–blue map: purple for negative, orange for positive.
_PURPLE_ORANGE = pg.ColorMap(
    pos=np.array([0.0, 0.25, 0.5, 0.75, 1.0]),
    color=np.array([(94, 60, 153, 255), (178, 171, 210, 255), (247, 247, 247, 255),
                    (253, 184, 99, 255), (230, 97, 1, 255)], dtype=np.ubyte),
    name="stepformer-purple-orange",
)

# The choices of View ▸ Theme, by the names simulator.view_state knows: (menu text, map).
SEQUENTIAL_MAPS: dict[str, tuple[str, pg.ColorMap]] = {
    "viridis": ("Viridis (purple → yellow)", SEQUENTIAL),
    "cividis": ("Cividis (blue → yellow)", pg.colormap.get("cividis")),
}
DIVERGING_MAPS: dict[str, tuple[str, pg.ColorMap]] = {
    "red-blue": ("Blue − / red + (ColorBrewer RdBu)", DIVERGING),
    "purple-orange": ("Purple − / orange + (ColorBrewer PuOr)", _PURPLE_ORANGE),
}


@dataclass(frozen=True, eq=False)
class Maps:
    """The two maps the pictures colour with: `sequential` for probabilities, `diverging` for signed values."""

    sequential: pg.ColorMap
    diverging: pg.ColorMap

    @classmethod
    def named(cls, sequential: str, diverging: str) -> Maps:
        return cls(SEQUENTIAL_MAPS[sequential][1], DIVERGING_MAPS[diverging][1])

    def __eq__(self, other) -> bool:  # the same map objects: a ColorMap has no value equality
        return isinstance(other, Maps) and self.sequential is other.sequential and self.diverging is other.diverging

    def __hash__(self) -> int:
        return hash((id(self.sequential), id(self.diverging)))


DEFAULT_MAPS = Maps(SEQUENTIAL, DIVERGING)


def keep_maps(source, *pictures) -> None:
    """Colour `pictures` (anything with `set_maps`) with `source.maps` now and whenever
    `source.sigMapsChanged` says they changed (the source is the bridge or the theme)."""
    for picture in pictures:
        picture.set_maps(source.maps)
        source.sigMapsChanged.connect(picture.set_maps)


# Cells that hold no number (masked -inf, NaN) must not look like any value.
MISSING_COLOR = QColor(150, 150, 150)

# Okabe–Ito palette, reordered so the colours that vanish on white (yellow) come last.
HEAD_COLORS: list[QColor] = [
    QColor(h) for h in (
        "#0072B2", "#D55E00", "#009E73", "#CC79A7",
        "#E69F00", "#56B4E9", "#000000", "#F0E442",
    )
]

KINDS = ("signed", "prob", "ink")
_NICE_STEPS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0)


def nice_ceil(x: float) -> float:
    """Smallest 1/1.5/2/3/5/7.5 x 10^k at or above x, so the colour range (and with it
    every cell's colour) stays put while one value is nudged."""
    if not np.isfinite(x) or x <= 0:
        return 1.0
    base = 10.0 ** np.floor(np.log10(x))
    step = next(s * base for s in _NICE_STEPS if s * base >= x * (1 - 1e-12))
    return float(f"{step:.6g}")  # drop float noise such as 0.30000000000000004


def for_values(array: np.ndarray, kind: str, maps: Maps = DEFAULT_MAPS) -> tuple[pg.ColorMap, tuple[float, float]]:
    """Pick the colour map and level range for `array`.

    "signed" gets a range symmetric about 0 so white always means zero;
    "prob" starts at 0 and reaches at least 1 so a probability keeps its colour
    from step to step; "ink" (pixel brightness) is white at 0 and black at 1 or above. Limits
    are rounded outwards to nice numbers; non-finite entries are ignored.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    a = np.asarray(array, dtype=float)
    finite = a[np.isfinite(a)]
    if kind == "signed":
        m = nice_ceil(float(np.abs(finite).max()) if finite.size else 0.0)
        return maps.diverging, (-m, m)
    lo = -nice_ceil(-float(finite.min())) if finite.size and finite.min() < 0 else 0.0
    hi = nice_ceil(float(finite.max())) if finite.size and finite.max() > 1 else 1.0
    return (INK if kind == "ink" else maps.sequential), (lo, hi)


def lookup_table(cmap: pg.ColorMap) -> np.ndarray:
    """256×4 uint8 RGBA table, so colouring a matrix is one fancy-index."""
    return cmap.getLookupTable(nPts=256, alpha=True, mode=pg.ColorMap.BYTE)


def is_dark(rgba: np.ndarray) -> np.ndarray:
    """True where text on this colour should be white (relative luminance < ~0.45)."""
    rgb = np.asarray(rgba, dtype=float)[..., :3] / 255.0
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    lum = lin @ np.array([0.2126, 0.7152, 0.0722])
    # 0.18 is where black and white text have equal WCAG contrast.
    return lum < 0.18
