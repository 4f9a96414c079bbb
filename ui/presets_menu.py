"""The Presets menu: opens the trained models shipped in assets/presets/.

Opening a preset is one undoable change of model, like File ▸ Open; it is not tied to a
file afterwards, so Save asks where to write rather than overwriting the shipped copy.
The preset's "what to look for" appears in a small non-modal box and in each item's tooltip.
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox

from simulator.presets import list_presets, load_preset
from ui import messages


def open_preset(window: QMainWindow, name: str) -> bool:
    """Show the preset `name` in the main window (undoable); False if it cannot be read."""
    try:
        model, tokens, info = load_preset(name)
    except (ValueError, OSError) as exc:  # ModelFileError is a ValueError
        messages.refuse(window, "Could not open the preset", str(exc))
        return False
    title = info.get("title", info["name"])
    window.set_model(model, tokens, f"Open preset {title}")
    session = window.session_bridge.session
    if session.temperature != 1.0:  # a trained model is shown as trained: its own probabilities
        session.set_temperature(1.0)
    panel = getattr(window, "training_panel", None)
    if panel is not None:  # train further on the same task with one click
        panel.task_combo.setCurrentIndex(max(0, panel.task_combo.findData(info["task"])))
    window.statusBar().showMessage(f"Preset {title}: {100 * info['accuracy']:.1f} % held-out token accuracy", 20000)
    # Non-modal: the class can look at the model while the hint stays open.
    box = QMessageBox(QMessageBox.Icon.Information, f"Preset: {title}",
                      f"<p>{html.escape(info['description'])}</p>"
                      f"<p><b>Look for:</b> {html.escape(info['look_for'])}</p>"
                      f"<p>Held-out token accuracy {100 * info['accuracy']:.1f} %.</p>",
                      QMessageBox.StandardButton.Close, window)
    box.setModal(False)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.show()
    window.preset_hint = box  # for tests and for closing it from code
    return True


def presets_menu(window: QMainWindow) -> QMenu:
    """A menu with one item per preset, in the order of the tasks."""
    menu = QMenu("&Presets", window)
    menu.setToolTipsVisible(True)
    for info in list_presets():
        action = menu.addAction(info.get("title", info["name"]))
        tip = f"{info['description']} Look for: {info['look_for']}"
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _=False, n=info["name"]: open_preset(window, n))
    if menu.isEmpty():
        menu.addAction("No presets found in assets/presets").setEnabled(False)
    return menu


def add_presets_menu(window: QMainWindow) -> QMenu:
    """Insert the Presets menu before Help (or at the end)."""
    menu = presets_menu(window)
    bar = window.menuBar()
    help_action = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
    if help_action is None:
        bar.addMenu(menu)
    else:
        bar.insertMenu(help_action, menu)
    return menu
