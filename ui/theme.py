"""Light and dark window themes and the colour maps of the pictures, remembered in the preferences file (`ui.preferences`).

"System" follows the desktop's colour scheme (and changes with it); "Light" and "Dark"
force one. The maps are colour-blind safe: viridis or cividis for probabilities and
weights, red–blue or purple–orange (both white at zero) for signed values. The pictures
themselves stay on a white ground in both themes, because the diverging maps use white
to mean zero.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QMenu

from ui.preferences import Preferences
from ui.widgets import colormaps
from ui.widgets.heatmap import Heatmap

THEMES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}

SEQUENTIAL_MAPS: dict[str, tuple[str, pg.ColorMap]] = {
    "viridis": ("Viridis (purple → yellow)", pg.colormap.get("viridis")),
    "cividis": ("Cividis (blue → yellow)", pg.colormap.get("cividis")),
}

# ColorBrewer PuOr, ordered like the red–blue map: purple for negative, orange for positive.
_PURPLE_ORANGE = pg.ColorMap(
    pos=np.array([0.0, 0.25, 0.5, 0.75, 1.0]),
    color=np.array([(94, 60, 153, 255), (178, 171, 210, 255), (247, 247, 247, 255),
                    (253, 184, 99, 255), (230, 97, 1, 255)], dtype=np.ubyte),
    name="stepformer-purple-orange",
)
DIVERGING_MAPS: dict[str, tuple[str, pg.ColorMap]] = {
    "red-blue": ("Blue − / red + (ColorBrewer RdBu)", colormaps.DIVERGING),
    "purple-orange": ("Purple − / orange + (ColorBrewer PuOr)", _PURPLE_ORANGE),
}

KEY_THEME = "view/theme"
KEY_SEQUENTIAL = "view/sequential_map"
KEY_DIVERGING = "view/diverging_map"


def dark_palette() -> QPalette:
    """A dark palette with enough contrast for a projector (text ≥ 10:1 on the window)."""
    p = QPalette()
    window, base, text = QColor(38, 38, 40), QColor(28, 28, 30), QColor(235, 235, 235)
    accent = QColor(86, 180, 233)  # Okabe–Ito sky blue: visible on dark grey for every viewer
    roles = {
        QPalette.ColorRole.Window: window, QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base, QPalette.ColorRole.AlternateBase: QColor(48, 48, 52),
        QPalette.ColorRole.Text: text, QPalette.ColorRole.Button: QColor(52, 52, 56),
        QPalette.ColorRole.ButtonText: text, QPalette.ColorRole.BrightText: QColor(255, 120, 100),
        QPalette.ColorRole.ToolTipBase: QColor(60, 60, 64), QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.Highlight: accent, QPalette.ColorRole.HighlightedText: QColor(0, 0, 0),
        QPalette.ColorRole.Link: accent, QPalette.ColorRole.PlaceholderText: QColor(160, 160, 160),
        QPalette.ColorRole.Light: QColor(80, 80, 84), QPalette.ColorRole.Midlight: QColor(66, 66, 70),
        QPalette.ColorRole.Mid: QColor(44, 44, 48), QPalette.ColorRole.Dark: QColor(20, 20, 22),
        QPalette.ColorRole.Shadow: QColor(0, 0, 0),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    grey = QColor(130, 130, 130)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, grey)
    return p


class ThemeController(QObject):
    """Applies and remembers the theme and the two colour maps (see the module docstring).

    After a map changes every heatmap recolours itself; `on_maps_changed` is called too,
    for views that draw with the maps in other ways.
    """

    sigThemeChanged = Signal(str)  # the effective scheme: "light" or "dark"
    sigMapsChanged = Signal()  # the sequential or diverging map changed

    def __init__(self, app: QGuiApplication, settings: Preferences | None = None,
                 on_maps_changed: Callable[[], None] | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.app = app
        self.settings = settings if settings is not None else Preferences()
        self._light = app.style().standardPalette() if hasattr(app, "style") else QPalette()
        self.theme = self._read(KEY_THEME, THEMES, "system")
        self.sequential = self._read(KEY_SEQUENTIAL, SEQUENTIAL_MAPS, "viridis")
        self.diverging = self._read(KEY_DIVERGING, DIVERGING_MAPS, "red-blue")
        if on_maps_changed is not None:
            self.sigMapsChanged.connect(on_maps_changed)
        self.actions: dict[tuple[str, str], QAction] = {}
        app.styleHints().colorSchemeChanged.connect(self._on_system_scheme)
        self._apply_maps()
        self._apply_palette()

    def _read(self, key: str, choices: dict, default: str) -> str:
        value = self.settings.value(key, default)
        return value if value in choices else default  # a hand-edited or stale setting

    # --- choices ---

    def set_theme(self, name: str) -> None:
        if name not in THEMES:
            raise ValueError(f"Unknown theme {name!r}; choose one of {', '.join(THEMES)}.")
        self.theme = name
        self.settings.setValue(KEY_THEME, name)
        self._apply_palette()
        self._sync_actions()

    def set_sequential(self, name: str) -> None:
        if name not in SEQUENTIAL_MAPS:
            raise ValueError(f"Unknown colour map {name!r}; choose one of {', '.join(SEQUENTIAL_MAPS)}.")
        self.sequential = name
        self.settings.setValue(KEY_SEQUENTIAL, name)
        self._maps_changed()

    def set_diverging(self, name: str) -> None:
        if name not in DIVERGING_MAPS:
            raise ValueError(f"Unknown colour map {name!r}; choose one of {', '.join(DIVERGING_MAPS)}.")
        self.diverging = name
        self.settings.setValue(KEY_DIVERGING, name)
        self._maps_changed()

    def scheme(self) -> str:
        """The scheme in effect: "light" or "dark" (resolving "system")."""
        if self.theme != "system":
            return self.theme
        dark = self.app.styleHints().colorScheme() == Qt.ColorScheme.Dark
        return "dark" if dark else "light"

    # --- applying ---

    def _apply_maps(self) -> None:
        colormaps.set_maps(SEQUENTIAL_MAPS[self.sequential][1], DIVERGING_MAPS[self.diverging][1])

    def _maps_changed(self) -> None:
        self._apply_maps()
        self._sync_actions()
        for widget in QApplication.allWidgets():
            if isinstance(widget, Heatmap) and not widget.closed:  # pyqtgraph empties a closed view's scene
                widget.recolor()
        self.sigMapsChanged.emit()

    def _apply_palette(self) -> None:
        scheme = self.scheme()
        self.app.setPalette(dark_palette() if scheme == "dark" else self._light)
        self.sigThemeChanged.emit(scheme)

    def _on_system_scheme(self, _scheme) -> None:
        if self.theme == "system":
            self._apply_palette()

    # --- the View ▸ Theme menu ---

    def fill_menu(self, menu: QMenu) -> None:
        """Add exclusive choices for the theme and both colour maps to `menu`."""
        groups = (("theme", THEMES, self.set_theme, None),
                  ("sequential", {k: v[0] for k, v in SEQUENTIAL_MAPS.items()}, self.set_sequential,
                   "Probabilities and weights"),
                  ("diverging", {k: v[0] for k, v in DIVERGING_MAPS.items()}, self.set_diverging,
                   "Signed values"))
        for kind, choices, setter, heading in groups:
            if heading:
                menu.addSection(heading)
            group = QActionGroup(menu)
            for key, text in choices.items():
                action = QAction(text, menu, checkable=True)
                action.triggered.connect(lambda _=False, k=key, s=setter: s(k))
                group.addAction(action)
                menu.addAction(action)
                self.actions[(kind, key)] = action
        self._sync_actions()

    def _sync_actions(self) -> None:
        current = {"theme": self.theme, "sequential": self.sequential, "diverging": self.diverging}
        for (kind, key), action in self.actions.items():
            action.setChecked(current[kind] == key)
