"""Stepping paints each plot of the step picture once: pyqtgraph's layout and transform are settled
before Qt paints, so no plot is painted a second time after its own first paint changed it."""
import collections

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

from simulator import Session, Transformer
from ui.bridge import SessionBridge
from ui.views.step_view import StepView


class ViewportPaints(QObject):
    """Counts paint events per plot (a pyqtgraph view paints through its viewport widget)."""

    def __init__(self, views):
        super().__init__()
        self.viewports = {v.viewport(): v for v in views}
        self.counts = collections.Counter()

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint and obj in self.viewports:
            self.counts[id(obj)] += 1
        return False


def run_until_idle(app, counter, limit=20):
    for _ in range(limit):  # a paint can post more work; stop when a pass paints nothing
        before = sum(counter.counts.values())
        app.processEvents()
        if sum(counter.counts.values()) == before:
            return


def test_every_plot_is_painted_at_most_once_per_step(qtbot):
    bridge = SessionBridge(Session(Transformer(), "the cat sat on the mat"))
    view = StepView(bridge)
    qtbot.addWidget(view)
    view.resize(1280, 760)
    view.show()
    qtbot.waitExposed(view)
    app = QApplication.instance()
    stepper = bridge.stepper
    stepper.first()
    seen = 0
    while stepper.index < len(stepper) - 1:  # the whole pass, every kind of picture
        counter = ViewportPaints(view.findChildren(pg.GraphicsView))
        app.installEventFilter(counter)
        try:
            run_until_idle(app, counter)
            counter.counts.clear()
            stepper.next()
            run_until_idle(app, counter)
        finally:
            app.removeEventFilter(counter)
        assert counter.counts, f"nothing was painted for {stepper.name}"
        twice = [n for n in counter.counts.values() if n > 1]
        assert not twice, f"{stepper.name}: {len(twice)} plots painted more than once ({sorted(twice)})"
        seen += 1
    assert seen == len(stepper) - 1
