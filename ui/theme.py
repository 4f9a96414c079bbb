"""Light and dark window themes and the colour maps of the pictures, remembered in the preferences
file (`ui.preferences`).

"System" follows the desktop's colour scheme (and changes with it); "Light" and "Dark"
force one. The maps are colour-blind safe: viridis or cividis for probabilities and
weights, red–blue or purple–orange (both white at zero) for signed values. The pictures
themselves stay on a white ground in both themes, because the diverging maps use white
to mean zero.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QMenu

from simulator.view_state import ViewState
from ui.pictures.colormaps import DIVERGING_MAPS, SEQUENTIAL_MAPS, Maps
from ui.preferences import Preferences

THEMES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}

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

    The maps in use are `maps`; pictures follow `sigMapsChanged` (the window passes the maps on
    to the bridge, which every view colours with). The theme is also the part of the view
    state that owns the two map names (`capture_view` / `apply_view`): the colours a teacher
    talked about travel in a scenario, while light or dark stays the viewer's.
    """

    sigThemeChanged = Signal(str)  # the effective scheme: "light" or "dark"
    sigMapsChanged = Signal(object)  # colormaps.Maps: the sequential or diverging map changed

    def __init__(self, app: QGuiApplication, settings: Preferences | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.app = app
        self.settings = settings if settings is not None else Preferences()
        self._light = app.style().standardPalette() if hasattr(app, "style") else QPalette()
        self.theme = self._read(KEY_THEME, THEMES, "system")
        self.sequential = self._read(KEY_SEQUENTIAL, SEQUENTIAL_MAPS, "viridis")
        self.diverging = self._read(KEY_DIVERGING, DIVERGING_MAPS, "red-blue")
        self.actions: dict[tuple[str, str], QAction] = {}
        app.styleHints().colorSchemeChanged.connect(self._on_system_scheme)
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

    @property
    def maps(self) -> Maps:
        return Maps.named(self.sequential, self.diverging)

    # --- the colour-map fields of the view state ---

    def capture_view(self) -> dict:
        return {"sequential": self.sequential, "diverging": self.diverging}

    def view_problems(self, state: ViewState) -> dict[str, str]:
        return {}  # ViewState.parse has checked the names

    def apply_view(self, state: ViewState) -> None:
        if state.sequential is not None and state.sequential != self.sequential:
            self.set_sequential(state.sequential)
        if state.diverging is not None and state.diverging != self.diverging:
            self.set_diverging(state.diverging)

    def scheme(self) -> str:
        """The scheme in effect: "light" or "dark" (resolving "system")."""
        if self.theme != "system":
            return self.theme
        dark = self.app.styleHints().colorScheme() == Qt.ColorScheme.Dark
        return "dark" if dark else "light"

    # --- applying ---

    def _maps_changed(self) -> None:
        self._sync_actions()
        self.sigMapsChanged.emit(self.maps)

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
