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


def quality_text(info: dict, vocab_size: int | None = None, unit: str = "token") -> str:
    """How good the preset is, in words a class can read (plain text).

    A task with right answers gives its held-out token accuracy. A language model has no single right
    next word, so its accuracy says little: it gives its held-out loss in bits per `unit` and what that
    means, 2^bits as the number of equally likely choices it is left with, against the whole vocabulary.
    """
    bits = info.get("heldout_bits_per_token")
    if bits is None:
        return f"Held-out token accuracy {100 * info['accuracy']:.1f} %."
    choices = 2 ** bits
    than = f" out of the {vocab_size} in its vocabulary" if vocab_size else ""
    return (f"Held-out loss {bits:.2f} bits per {unit}: on text it never saw, the model is as unsure of the next "
            f"{unit} as if it were choosing between about {choices:.1f} equally likely {unit}s{than} "
            f"(lower is better; 0 bits would be always certain and right).")


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
    unit = "character" if model.config.tokenization == "char" else "word"
    quality = quality_text(info, len(model.config.vocab), unit)
    window.statusBar().showMessage(f"Preset {title}: {quality}", 20000)
    # Non-modal: the class can look at the model while the hint stays open.
    box = QMessageBox(QMessageBox.Icon.Information, f"Preset: {title}",
                      f"<p>{html.escape(info['description'])}</p>"
                      f"<p><b>Look for:</b> {html.escape(info['look_for'])}</p>"
                      f"<p>{html.escape(quality)}</p>",
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
