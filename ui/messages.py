"""Showing refusals: every message that may hold text from a file, a token or a step name.

Qt guesses whether a label's text is HTML; a token called ``<img src="/dev/zero">`` would be
loaded as an image and an ``<a href=…>`` would become a link to click. Every refusal goes through
`refuse`, which shows its text as plain text, and `make_plain` does the same for a message box
built elsewhere (its informative and detailed text included).
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget


def plain(label: QLabel) -> QLabel:
    """Make `label` show its text literally, whatever it holds; returns it."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setOpenExternalLinks(False)
    return label


def make_plain(box: QMessageBox) -> QMessageBox:
    """Show every text of `box` as plain text (call after its texts are set); returns it."""
    box.setTextFormat(Qt.TextFormat.PlainText)
    for label in box.findChildren(QLabel):
        plain(label)
    return box


def refusal_box(parent: QWidget | None, title: str, text: str) -> QMessageBox:
    """The warning `refuse` shows, built but not shown (tests read it)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, "", QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(text)
    return make_plain(box)


def refuse(parent: QWidget | None, title: str, text: str) -> None:
    """Tell the user why something was refused (a modal warning, its text shown literally)."""
    refusal_box(parent, title, text).exec()
