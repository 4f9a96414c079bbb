"""The line under a picture of a checkpoint's long axes: which part is drawn ("columns 64–127 of
768 (d_model) · top 20 of 30,000 tokens") and buttons to move the window of columns.

It shows what it is told (`set_window`) and asks for a new first column (`sigStartChosen`);
the view that owns it redraws the picture from there.
"""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSpinBox, QWidget

from ui.pictures.slicing import WINDOW

LABEL_PT = 12.0


class SliceBar(QWidget):
    sigStartChosen = Signal(int)  # the first column of the window

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        # in a narrow view the line gives way rather than squeezing its neighbours (no word wrap: a
        # wrapping label makes a scrolling tab as tall as all its parts' preferred heights)
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.text.setMinimumWidth(120)
        self.back = QPushButton(f"◀ {WINDOW}")
        self.back.setToolTip(f"Show the {WINDOW} columns before these")
        self.start = QSpinBox()
        self.start.setPrefix("from ")  # short: the line beside it says columns or rows
        self.start.setToolTip("The first index drawn of each long axis (d_model, d_mlp)")
        self.forward = QPushButton(f"{WINDOW} ▶")
        self.forward.setToolTip(f"Show the next {WINDOW} columns")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.text, 1)
        for w in (self.back, self.start, self.forward):
            lay.addWidget(w)
        self.back.clicked.connect(lambda: self.sigStartChosen.emit(max(0, self.start.value() - WINDOW)))
        self.forward.clicked.connect(lambda: self.sigStartChosen.emit(min(self.start.maximum(),
                                                                           self.start.value() + WINDOW)))
        self.start.valueChanged.connect(self.sigStartChosen.emit)
        self.set_font_scale(1.0)
        self.hide()

    def set_window(self, notes: list[str], longest: int, start: int) -> None:
        """`notes`: what each cut axis shows (none: hide the bar); `longest`: the longest windowed
        feature axis (0: only a vocabulary is cut, so there is nothing to move); `start`: the first column."""
        self.setVisible(bool(notes))
        self.text.setText("Showing " + " · ".join(notes) if notes else "")
        movable = longest > WINDOW
        for w in (self.back, self.start, self.forward):
            w.setVisible(movable)
        with QSignalBlocker(self.start):
            self.start.setRange(0, max(0, longest - WINDOW))
            self.start.setSingleStep(max(1, WINDOW // 8))
            self.start.setValue(min(start, self.start.maximum()))
        self.back.setEnabled(self.start.value() > 0)
        self.forward.setEnabled(self.start.value() < self.start.maximum())

    def set_font_scale(self, f: float) -> None:
        font = QFont()
        font.setPointSizeF(LABEL_PT * f)
        for w in (self.text, self.back, self.start, self.forward):
            w.setFont(font)
