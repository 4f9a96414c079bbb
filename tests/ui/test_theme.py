"""Themes and colour maps: the choice applies at once, heatmaps recolour, and it is remembered."""
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QMenu

from ui.pictures import colormaps
from ui.pictures.heatmap import Heatmap
from ui.preferences import Preferences
from ui.theme import DIVERGING_MAPS, SEQUENTIAL_MAPS, ThemeController


@pytest.fixture
def settings(tmp_path):
    return Preferences(tmp_path / "s.json")


@pytest.fixture
def restore(qapp):
    palette = qapp.palette()
    yield
    qapp.setPalette(palette)


def window_lightness(qapp) -> int:
    return qapp.palette().color(QPalette.ColorRole.Window).lightness()


def test_dark_and_light_apply_and_are_remembered(qapp, settings, restore):
    theme = ThemeController(qapp, settings)
    theme.set_theme("dark")
    assert theme.scheme() == "dark" and window_lightness(qapp) < 80
    text = qapp.palette().color(QPalette.ColorRole.WindowText).lightness()
    assert text - window_lightness(qapp) > 150  # readable on a projector
    again = ThemeController(qapp, settings)  # next start
    assert again.theme == "dark" and window_lightness(qapp) < 80
    again.set_theme("light")
    assert window_lightness(qapp) > 180


def test_system_follows_the_desktop_scheme(qapp, settings, restore, monkeypatch):
    theme = ThemeController(qapp, settings)
    assert theme.theme == "system"
    hints = qapp.styleHints()
    monkeypatch.setattr(type(hints), "colorScheme", lambda self: Qt.ColorScheme.Dark)
    theme._on_system_scheme(Qt.ColorScheme.Dark)
    assert theme.scheme() == "dark" and window_lightness(qapp) < 80
    theme.set_theme("light")
    theme._on_system_scheme(Qt.ColorScheme.Dark)  # a forced theme ignores the desktop
    assert window_lightness(qapp) > 180


def test_colour_maps_recolour_heatmaps_and_are_remembered(qapp, qtbot, settings, restore):
    h = Heatmap()
    qtbot.addWidget(h)
    h.set_data(np.array([[0.0, 0.5, 1.0]]), kind="prob")
    viridis_top = h._image.image[0, 2].copy()
    theme = ThemeController(qapp, settings)
    colormaps.keep_maps(theme, h)
    menu = QMenu()
    theme.fill_menu(menu)
    theme.actions[("sequential", "cividis")].trigger()
    assert theme.sequential == "cividis" and h.maps.sequential is SEQUENTIAL_MAPS["cividis"][1]
    assert not np.array_equal(h._image.image[0, 2], viridis_top)
    assert theme.actions[("sequential", "cividis")].isChecked()
    assert not theme.actions[("sequential", "viridis")].isChecked()
    theme.set_diverging("purple-orange")
    assert colormaps.for_values(np.array([-1.0, 1.0]), "signed", h.maps)[0] is DIVERGING_MAPS["purple-orange"][1]
    # the maps are values handed to pictures, not a global: a picture nobody connected keeps the default
    assert colormaps.for_values(np.array([-1.0, 1.0]), "signed")[0] is colormaps.DIVERGING
    again = ThemeController(qapp, settings)
    assert (again.sequential, again.diverging) == ("cividis", "purple-orange")
    menu.deleteLater()


def test_unknown_choices_are_refused_and_a_stale_setting_falls_back(qapp, settings, restore):
    theme = ThemeController(qapp, settings)
    with pytest.raises(ValueError, match="Unknown theme"):
        theme.set_theme("sepia")
    with pytest.raises(ValueError, match="Unknown colour map"):
        theme.set_sequential("jet")
    settings.setValue("view/diverging_map", "rainbow")
    assert ThemeController(qapp, settings).diverging == "red-blue"
