"""The size the main window opens at: most of the screen it opens on.

Without a window manager that honours "maximised" (a bare X server, some kiosk set-ups) Qt
falls back to two thirds of the screen, which wastes a third of a projector. So the window
is first given nearly all of the available area itself, and only then asked to maximise. On
a very large monitor a maximised window spreads the pictures thinly; there it opens at a
generous fixed size instead, centred.
"""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtWidgets import QWidget

SHARE = 0.96  # of the available width and height: the desktop's edges stay reachable
CAP = QSize(2560, 1600)  # beyond this the pictures only get emptier


def first_geometry(available: QRect) -> QRect:
    """The window's rectangle on a screen whose free area is `available`, centred in it."""
    w = min(round(available.width() * SHARE), CAP.width())
    h = min(round(available.height() * SHARE), CAP.height())
    x = available.x() + (available.width() - w) // 2
    y = available.y() + (available.height() - h) // 2
    return QRect(x, y, w, h)


def is_huge(available: QRect) -> bool:
    """True when maximising would make the window larger than CAP."""
    return available.width() > CAP.width() / SHARE or available.height() > CAP.height() / SHARE


def show_fitting(window: QWidget, available: QRect | None = None) -> None:
    """Show `window` filling most of `available` (default: its screen's free area), maximised
    unless the screen is huge."""
    if available is None:
        available = window.screen().availableGeometry()
    window.setGeometry(first_geometry(available))
    if is_huge(available):
        window.show()
    else:
        window.showMaximized()
