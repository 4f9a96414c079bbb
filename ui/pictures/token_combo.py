"""Choosing one token position, for the views that follow a single token down the model,
and one vocabulary token (`set_vocabulary`), typed with completion when the vocabulary is long."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QComboBox, QCompleter, QHBoxLayout

from ui.pictures.frame import control_row
from ui.pictures.slicing import MAX_VOCAB


def set_vocabulary(combo: QComboBox, vocab: list[str]) -> bool:
    """Fill `combo` with the tokens `vocab` (as labels print them) unless it holds them already;
    True if it changed. A checkpoint's 30,000 tokens are too many to scroll through: the combo
    then takes a typed token, completing any part of it."""
    if combo.count() == len(vocab) and all(combo.itemText(i) == t for i, t in enumerate(vocab)):
        return False
    with QSignalBlocker(combo):
        combo.clear()
        combo.addItems(vocab)
        long = len(vocab) > MAX_VOCAB
        combo.setEditable(long)
        if long:
            combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            completer = QCompleter(combo.model(), combo)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            combo.setCompleter(completer)
    return True


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
