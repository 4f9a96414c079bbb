"""Presentation mode for a lecture: full screen, large type, editors hidden, clicker keys.

F5 enters and Esc (or F5 again) leaves. While presenting, a presenter's clicker drives the
app: PageDown / PageUp step forward and back (through an open lesson's stops and answers
first, when a lesson is playing) and B (or ".") blanks the screen until the next key or
click. Leaving puts back every hidden widget, the fonts and the window's size and place.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QSplitter, QToolBar, QWidget

from ui.actions import make_action
from ui.bridge import SessionBridge
from ui.typography import Typography

# Type grows with the screen so that it keeps the same share of the projected picture: 12 pt
# becomes 18 pt (24 px, 3 % of the height) on a 1280×800 projector, near the 24-pt-on-a-slide rule.
FONT_SCALE = 1.5
REFERENCE_HEIGHT = 800
MAX_SCALE = 2.5
EXPLAIN_SHARE = 0.2  # of the height, for the explanation under the picture (the window gives more when needed)
DOCK_SHARE = 0.25  # of the width, for a dock kept on screen (the lesson)
FORWARD_KEYS = (Qt.Key.Key_PageDown,)
BACK_KEYS = (Qt.Key.Key_PageUp,)
BLANK_KEYS = (Qt.Key.Key_B, Qt.Key.Key_Period)  # clickers send one or the other for "black screen"
OWN_KEYS = (*FORWARD_KEYS, *BACK_KEYS, *BLANK_KEYS, Qt.Key.Key_Escape)
MODIFIER_KEYS = (Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta)


class Clicker(Protocol):
    """Something that consumes clicker presses before the stepper (the lesson player)."""

    def forward(self) -> bool: ...

    def back(self) -> bool: ...


class BlankOverlay(QWidget):
    """A black sheet over the whole window; a click takes it away."""

    def __init__(self, window: QWidget):
        super().__init__(window)
        self.setObjectName("blank")
        self.setAutoFillBackground(True)
        self.setStyleSheet("QWidget#blank { background: black; }")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setCursor(Qt.CursorShape.BlankCursor)
        self.hide()

    def cover(self) -> None:
        self.setGeometry(self.parentWidget().rect())
        self.raise_()
        self.show()

    def mousePressEvent(self, ev) -> None:
        self.hide()
        ev.accept()


@dataclass
class _Saved:
    geometry: QByteArray
    full_screen: bool
    maximized: bool
    font: QFont
    splitter_sizes: list[int]
    hidden: list[QWidget] = field(default_factory=list)


class PresentationController(QObject):
    """Enters and leaves presentation mode for one main window (see the module docstring).

    `keep` are docks and toolbars that stay visible (e.g. the lesson dock); every other
    dock, toolbar, the menu bar, the status bar and `also_hide` are hidden while presenting.
    `splitter` (picture above, explanation below) gives the explanation EXPLAIN_SHARE of the height.
    """

    sigPresentingChanged = Signal(bool)  # True on entering, False on leaving

    def __init__(self, window: QMainWindow, bridge: SessionBridge, keep: Iterable[QWidget] = (),
                 also_hide: Iterable[QWidget] = (), splitter: QSplitter | None = None,
                 scale: float | None = None, typography: Typography | None = None):
        super().__init__(window)
        self.window = window
        self.bridge = bridge
        self.typography = typography if typography is not None else Typography(self)
        self.keep = list(keep)
        self.also_hide = list(also_hide)
        self.splitter = splitter
        self.fixed_scale = scale  # None: from the screen's height (see FONT_SCALE)
        self.scale = scale or FONT_SCALE
        self.clicker: Clicker | None = None
        self.overlay = BlankOverlay(window)
        self._saved: _Saved | None = None
        self.action = make_action(window, "&Presentation mode", ["F5"],
                                  "Full screen, large type, editors hidden; PgDown/PgUp step, B blanks, "
                                  "Esc leaves",
                                  self.set_presenting, checkable=True)
        window.addAction(self.action)  # F5 works with the menu bar hidden

    @property
    def presenting(self) -> bool:
        return self._saved is not None

    @property
    def blanked(self) -> bool:
        return self.overlay.isVisible()

    def set_presenting(self, on: bool) -> None:
        self.enter() if on else self.leave()

    def enter(self) -> None:
        if self.presenting:
            return
        w = self.window
        app = QApplication.instance()
        saved = _Saved(w.saveGeometry(), w.isFullScreen(), w.isMaximized(), QFont(app.font()),
                       self.splitter.sizes() if self.splitter else [])
        candidates = [*w.findChildren(QDockWidget), *w.findChildren(QToolBar), w.menuBar(), w.statusBar(),
                      *self.also_hide]
        for widget in candidates:
            if widget not in self.keep and widget.isVisible():
                widget.hide()
                saved.hidden.append(widget)
        self._saved = saved
        self.scale = self.fixed_scale or self.scale_for(w.screen().geometry().height())
        font = QFont(saved.font)
        font.setPointSizeF(saved.font.pointSizeF() * self.scale)
        app.setFont(font)
        self._scale_views(self.scale)
        app.installEventFilter(self)
        w.showFullScreen()
        self._share_space()
        self._sync_action(True)
        self.sigPresentingChanged.emit(True)

    def leave(self) -> None:
        saved = self._saved
        if saved is None:
            return
        app = QApplication.instance()
        app.removeEventFilter(self)
        self.overlay.hide()
        self._saved = None
        app.setFont(saved.font)
        self._scale_views(1.0)
        for widget in saved.hidden:
            widget.show()
        if self.splitter:
            self.splitter.setSizes(saved.splitter_sizes)
        w = self.window
        if saved.full_screen:
            w.showFullScreen()
        elif saved.maximized:
            w.showMaximized()
        else:
            w.showNormal()
            w.restoreGeometry(saved.geometry)
        self._sync_action(False)
        self.sigPresentingChanged.emit(False)

    def blank(self, on: bool = True) -> None:
        """Black out the window (only while presenting); any key or click brings it back."""
        if on and self.presenting:
            self.overlay.cover()
        else:
            self.overlay.hide()

    def forward(self) -> None:
        """A clicker's "next": the lesson's next click if one is playing, else the next step."""
        if not (self.clicker and self.clicker.forward()):
            self.bridge.stepper.next()

    def back(self) -> None:
        if not (self.clicker and self.clicker.back()):
            self.bridge.stepper.back()

    # --- internals ---

    def _sync_action(self, on: bool) -> None:
        blocked = self.action.blockSignals(True)
        self.action.setChecked(on)
        self.action.blockSignals(blocked)

    @staticmethod
    def scale_for(screen_height: int) -> float:
        return min(MAX_SCALE, max(FONT_SCALE, FONT_SCALE * screen_height / REFERENCE_HEIGHT))

    def _share_space(self) -> None:
        if self.splitter is not None and self.splitter.count() == 2:
            total = sum(self.splitter.sizes())
            below = round(total * EXPLAIN_SHARE)
            self.splitter.setSizes([total - below, below])
        docks = [d for d in self.keep if isinstance(d, QDockWidget) and d.isVisible()]
        if docks:
            width = round(self.window.width() * DOCK_SHARE)
            self.window.resizeDocks(docks, [width] * len(docks), Qt.Orientation.Horizontal)

    def _scale_views(self, f: float) -> None:
        # Views that set their own fonts (pictures, the explanation, the lesson) follow the typography.
        self.typography.set_scale(f)

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
        kind = ev.type()
        if kind == QEvent.Type.Resize and obj is self.window:  # e.g. full screen has taken effect
            self.overlay.setGeometry(self.window.rect())
            self._share_space()
            return False
        if kind == QEvent.Type.Show and obj in self.keep:  # a lesson opened while presenting
            self._share_space()
            return False
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        # Dialogs opened while presenting keep their keys.
        if not isinstance(obj, QWidget) or obj.window() is not self.window:
            return False
        key = ev.key()
        if self.blanked:
            if key in MODIFIER_KEYS:
                return False
        elif key not in OWN_KEYS or ev.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        if kind == QEvent.Type.ShortcutOverride:
            ev.accept()  # ours: no window shortcut (e.g. the transport's PgDown) may take it
            return True
        if self.blanked:
            self.blank(False)
        elif key == Qt.Key.Key_Escape:
            self.leave()
        elif key in BLANK_KEYS:
            self.blank(True)
        elif key in FORWARD_KEYS:
            self.forward()
        else:
            self.back()
        return True
