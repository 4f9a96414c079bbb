"""Views that skip work while nobody sees them and catch up when shown.

A tab in the back, a dock behind another dock's tab: redrawing their pictures on every
edit would cost more than the edit. `Lazy` runs a view's `paint` at once while the view is
on screen, otherwise remembers that it is out of date and runs it when the view is shown.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget

from ui.bridge import SessionBridge


class Lazy(QObject):
    """Runs `paint` for `widget` now if it is on screen, else when it is next shown.

    `on_screen` defaults to `widget.isVisible`; a dock's tab behind another one stays
    "visible" to Qt, so such a view passes its own test and calls `catch_up` when it
    comes to the front.
    """

    def __init__(self, widget: QWidget, paint: Callable[[], None], on_screen: Callable[[], bool] | None = None):
        super().__init__(widget)
        self._widget = widget
        self._paint = paint
        self._on_screen = on_screen or widget.isVisible
        self.stale = True  # not painted yet, or out of date
        widget.installEventFilter(self)

    def request(self, *_) -> None:
        """The view's data changed: paint now if it is seen, else later."""
        if self._on_screen():
            self.run()
        else:
            self.stale = True

    def run(self) -> None:
        """Paint now, seen or not (e.g. a test, or a view that must be up to date to answer)."""
        self.stale = False
        self._paint()

    def catch_up(self) -> None:
        """Paint if out of date and now on screen."""
        if self.stale and self._on_screen():
            self.run()

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
        if obj is self._widget and ev.type() == QEvent.Type.Show:
            self.catch_up()
        return False


class LazyView(QWidget):
    """A view that builds its pictures when first shown and repaints only while shown.

    A tab in the back costs nothing at start-up or on an edit; it catches up when shown.
    Subclasses create their widgets in `build` and fill them in `paint`.
    """

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._built = False
        self._scale = 1.0
        self._lazy = Lazy(self, self.refresh)

    def build(self) -> None:
        raise NotImplementedError

    def paint(self) -> None:
        raise NotImplementedError

    def apply_font_scale(self, f: float) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        if not self._built:
            self._built = True
            self.build()
            self.apply_font_scale(self._scale)
        self._lazy.stale = False
        self.paint()

    def request_refresh(self, *_) -> None:
        self._lazy.request()

    def set_font_scale(self, f: float) -> None:
        self._scale = float(f)
        if self._built:
            self.apply_font_scale(self._scale)
