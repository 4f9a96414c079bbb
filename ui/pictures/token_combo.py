"""Choosing one token position, for the views that follow a single token down the model."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QComboBox, QHBoxLayout

from ui.pictures.frame import control_row


class TokenCombo(QComboBox):
    """Chooses one token position ("2: cat"); keeps the choice when the tokens change."""

    def set_tokens(self, tokens: list[str]) -> None:
        labels = [f"{i}: {t}" for i, t in enumerate(tokens)]
        if [self.itemText(i) for i in range(self.count())] == labels:
            return
        keep = self.currentIndex()
        with QSignalBlocker(self):
            self.clear()
            self.addItems(labels)
            self.setCurrentIndex(min(max(keep, 0), len(labels) - 1))


def token_row(combo: TokenCombo, text: str = "Token") -> QHBoxLayout:
    return control_row((text, combo))
