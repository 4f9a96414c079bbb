"""The Append buttons: "Append most likely", "Append sampled" and (where there is room) "Generate n
tokens", with the reason the last press did nothing under them.

The next-token panel, the Sampling tab and the KV cache tab each hold one. The widget knows nothing
of the session: `connect_to` hands it whatever appends the tokens (the window's
`ui.generation.GenerationController`), whose `append(greedy)` and `generate(n)` return why they
refused, or None.
"""
from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from ui.pictures.frame import ErrorLabel

TIPS = {"greedy": "Append the most likely next token (greedy: top-k = 1)",
        "sampled": "Append a token drawn with the Sampling tab's temperature, top-k, top-p and seed",
        "generate": "Append this many sampled tokens, one undo step each"}


class Appender(Protocol):
    def append(self, greedy: bool = False) -> str | None: ...

    def generate(self, n: int) -> str | None: ...


class AppendButtons(QWidget):
    """The buttons in one row, or (`compact`, for a narrow panel) "Append [most likely] [sampled]" over
    "[Generate] [n] tokens"; `generate=False` leaves out Generate. Each token appended is one undo step."""

    def __init__(self, generate: bool = True, compact: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.append_label = QLabel("Append")
        self.greedy_button = QPushButton("most likely" if compact else "Append most likely")
        self.sample_button = QPushButton("sampled" if compact else "Append sampled")
        self.generate_button = QPushButton("Generate")
        self.n_tokens = QSpinBox()
        self.n_tokens.setRange(1, 500)
        self.n_tokens.setValue(10)
        self.tokens_label = QLabel("tokens")
        for w, tip in ((self.greedy_button, "greedy"), (self.sample_button, "sampled"),
                       (self.generate_button, "generate"), (self.n_tokens, "generate")):
            w.setToolTip(TIPS[tip])
        self.message = ErrorLabel()

        row, rest = (self.append_label, self.greedy_button, self.sample_button), (
            self.generate_button, self.n_tokens, self.tokens_label)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for line in ((row, rest) if compact else (row + rest,)):
            buttons = QHBoxLayout()
            for w in line:
                buttons.addWidget(w)
            buttons.addStretch(1)
            lay.addLayout(buttons)
        lay.addWidget(self.message)
        # the message until there is one; "Append" only before the short texts
        for w in (self.message,) + (() if compact else (self.append_label,)) + (() if generate else rest):
            w.hide()
        self._appender: Appender | None = None
        self.greedy_button.clicked.connect(lambda: self._append(greedy=True))
        self.sample_button.clicked.connect(lambda: self._append(greedy=False))
        self.generate_button.clicked.connect(self._generate)

    def connect_to(self, appender: Appender) -> None:
        """Let the buttons append with `appender` (until then they do nothing)."""
        self._appender = appender

    def _append(self, greedy: bool) -> None:
        if self._appender is not None:
            self.show_message(self._appender.append(greedy=greedy))

    def _generate(self) -> None:
        if self._appender is not None:
            self.show_message(self._appender.generate(self.n_tokens.value()))

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # a styled label misses its parent's font: hand it on
            self.message.setFont(self.font())

    def show_message(self, text: str | None) -> None:
        """Why the last press did nothing (None: clear)."""
        self.message.say(text)


__all__ = ["AppendButtons", "Appender"]
