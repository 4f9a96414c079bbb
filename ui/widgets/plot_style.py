"""One look for every line and bar plot: white, black axes, no zoom, readable on a projector."""
from __future__ import annotations

import pyqtgraph as pg

TITLE_PT = 13


def fixed_plot(title: str, left: str, bottom: str | None = None,
               min_size: tuple[int, int] = (180, 110)) -> pg.PlotWidget:
    """A plot the mouse cannot zoom or pan (a teaching display, not an explorer)."""
    plot = pg.PlotWidget(background="w")
    item = plot.getPlotItem()
    item.setMouseEnabled(x=False, y=False)
    item.setMenuEnabled(False)
    item.hideButtons()
    item.setTitle(title, color="k", size=f"{TITLE_PT}pt")
    item.setLabel("left", left, color="k")
    if bottom is not None:
        item.setLabel("bottom", bottom, color="k")
    item.showGrid(x=True, y=True, alpha=0.25)
    plot.setMinimumSize(*min_size)
    for axis in ("left", "bottom"):
        item.getAxis(axis).enableAutoSIPrefix(False)
        item.getAxis(axis).setTextPen("k")
        item.getAxis(axis).setPen("k")
    return plot
