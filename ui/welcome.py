"""The first start's welcome: what the window is, where to begin and the keys that matter.

It is not modal (the window behind it can be used at once) and "Do not show again" is
remembered under one preference key, WELCOME_KEY.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QMessageBox, QWidget

WELCOME_KEY = "welcome"  # "dismissed" once the user asked not to see it again
WELCOME_TEXT = (
    "<p><b>Stepformer</b> steps through a small Transformer one operation at a time: the picture shows "
    "what goes in, the operation and what comes out, with the numbers.</p>"
    "<p>The model shown at first is <b>text-words</b>, trained here on English sentences: press "
    "<b>Append</b> under the next-token bars to let it write. <b>Start with Lessons ▸ 1</b> (one attention "
    "head by hand), or open another trained model from the <b>Presets</b> menu.</p>"
    "<p><b>Keys:</b> → / ← step, Home / End first and last step, 0–9 pick a head, click a cell to see "
    "its calculation (Esc clears it), F5 presentation mode (PgDown / PgUp step, B blanks), F1 all keys.</p>")


def show_welcome(parent: QWidget, settings) -> QMessageBox | None:
    """Show the welcome unless it was dismissed for good; returns the box (None if not shown)."""
    if settings.value(WELCOME_KEY, "") == "dismissed":
        return None
    box = QMessageBox(QMessageBox.Icon.Information, "Welcome to Stepformer", WELCOME_TEXT,
                      QMessageBox.StandardButton.Close, parent)
    box.setTextFormat(Qt.TextFormat.RichText)  # our own text, nothing from a file
    again = QCheckBox("Do not show this again")
    box.setCheckBox(again)
    box.setModal(False)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def closed(_result: int) -> None:
        if again.isChecked():
            settings.setValue(WELCOME_KEY, "dismissed")

    box.finished.connect(closed)
    box.show()
    return box
