"""One look for every line and bar plot: the paper's ground and ink (light or dark, see paper),
no zoom, readable on a projector."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QFont

from ui.pictures import colormaps
from ui.pictures.paper import Paper, follow_paper, paper_of

TITLE_PT = 13
LINE_COLOR = colormaps.HEAD_COLORS[0]  # a plot's one line


def fixed_plot(title: str, left: str, bottom: str | None = None,
               min_size: tuple[int, int] | None = (180, 110), x_grid: bool = True) -> pg.PlotWidget:
    """A plot the mouse cannot zoom or pan (a teaching display, not an explorer); every plot
    of the app is made here. `x_grid=False` for categories along x (no grid between them)."""
    plot = pg.PlotWidget()
    item = plot.getPlotItem()
    item.setMouseEnabled(x=False, y=False)
    item.setMenuEnabled(False)
    item.hideButtons()
    item.setTitle(title, size=f"{TITLE_PT}pt")
    item.setLabel("left", left)
    if bottom is not None:
        item.setLabel("bottom", bottom)
    item.showGrid(x=x_grid, y=True, alpha=0.25)
    if min_size is not None:
        plot.setMinimumSize(*min_size)
    for axis in ("left", "bottom"):
        item.getAxis(axis).enableAutoSIPrefix(False)
    follow_paper(plot, lambda paper: apply_paper(plot, paper))
    return plot


def ink(plot: pg.PlotWidget) -> str:
    """The colour of a plot's text and axes (black on light paper, near-white on dark)."""
    return paper_of(plot).ink.name()


def apply_paper(plot: pg.PlotWidget, paper: Paper) -> None:
    """Ground, axes, axis labels and title in `paper`'s colours."""
    plot.setBackground(paper.ground)
    item = plot.getPlotItem()
    color = paper.ink.name()
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setTextPen(color)
        axis.setPen(color)
        axis.labelStyle["color"] = color
        axis.label.setHtml(axis.labelString())
    title = item.titleLabel
    title.setText(title.text, color=color)


def set_category_ticks(plot: pg.PlotWidget, labels: list[str]) -> None:
    """One tick per category; the odd ones form a second level, which the axis leaves out when crowded."""
    ticks = [(i, s) for i, s in enumerate(labels)]
    item = plot.getPlotItem()
    # Draw the second level of category labels while they fill at most 70% of the axis.
    item.getAxis("bottom").setStyle(textFillLimits=[(0, 0.7)])
    item.getAxis("bottom").setTicks([ticks[0::2], ticks[1::2]])
    item.setXRange(-0.5, len(labels) - 0.5, padding=0)


def scale_plot(plot: pg.PlotWidget, f: float) -> None:
    """Tick, axis-label and title fonts at `f` times their size (e.g. 1.5 when presenting)."""
    font = QFont()
    font.setPointSizeF(11.0 * f)
    item = plot.getPlotItem()
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setStyle(tickFont=font)
        axis.label.setFont(font)
    item.titleLabel.item.setFont(QFont(font.family(), int(round(TITLE_PT * f)), QFont.Weight.Bold))


def set_plot_title(plot: pg.PlotWidget, text: str, f: float) -> None:
    """A new title at the size `scale_plot` gives (setTitle alone falls back to the default size)."""
    plot.getPlotItem().setTitle(text, color=ink(plot), size=f"{round(TITLE_PT * f)}pt", bold=True)


def on_click(plot: pg.PlotWidget, clicked) -> None:
    """Call `clicked(x, y)`, in the plot's data coordinates, when the plot area is clicked."""
    def event(ev) -> None:
        vb = plot.getPlotItem().getViewBox()
        if vb.sceneBoundingRect().contains(ev.scenePos()):
            point = vb.mapSceneToView(ev.scenePos())
            clicked(point.x(), point.y())
    plot.scene().sigMouseClicked.connect(event)


def decades_only(axis: pg.AxisItem) -> None:
    """On a log axis, label the powers of ten only: pyqtgraph labels every minor tick (2 … 9, 2·10¹ …)
    when the axis spans a few decades, and at projector type those run into each other."""
    labels = axis.tickStrings

    def strings(values, scale, spacing):
        return [text if abs(v - round(v)) < 1e-9 else "" for v, text in zip(values, labels(values, scale, spacing))]
    axis.tickStrings = strings
