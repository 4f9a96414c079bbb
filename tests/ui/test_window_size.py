"""The first window size fills most of the screen, fits a small one and stops growing on a huge one."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QRect

from ui.window_size import CAP, first_geometry, is_huge, show_fitting


@pytest.mark.parametrize("screen", [QRect(0, 0, 1024, 768), QRect(0, 0, 1280, 800),
                                    QRect(0, 24, 1600, 976), QRect(1920, 0, 1920, 1050)])
def test_fills_most_of_an_ordinary_screen(screen):
    g = first_geometry(screen)
    assert screen.contains(g)
    assert g.width() >= 0.9 * screen.width() and g.height() >= 0.9 * screen.height()
    assert not is_huge(screen)


def test_a_huge_screen_gets_a_capped_centred_window():
    screen = QRect(0, 0, 5120, 2880)
    g = first_geometry(screen)
    assert (g.width(), g.height()) == (CAP.width(), CAP.height())
    assert g.center() == screen.center() or (g.center() - screen.center()).manhattanLength() <= 2
    assert is_huge(screen)


def test_the_main_window_fits_a_1024x768_screen(make_window):
    window = make_window(size=None, show=False)
    screen = QRect(0, 0, 1024, 768)
    show_fitting(window, screen)
    assert window.isVisible()
    assert window.width() <= 1024 and window.height() <= 768
    # the window's own minimum does not push it past the screen
    assert window.minimumSizeHint().width() <= 1024 and window.minimumSizeHint().height() <= 768


def test_the_first_window_is_not_two_thirds_of_the_screen(make_window):
    window = make_window(size=None, show=False)
    screen = QRect(0, 0, 1280, 800)
    show_fitting(window, screen)
    assert window.width() >= 0.9 * 1280 and window.height() >= 0.9 * 800
