"""The explanation panel: the current step's formula in large type, what it does in words,
and for the selected cell the calculation of its number with the actual values."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from ui.bridge import SessionBridge

FORMULA_PT = 22.0
TITLE_PT = 14.0
TEXT_PT = 13.0
HINT = "Click a cell in the picture to see how its number was calculated."


def _label(point_size: float, bold: bool = False, mono: bool = False) -> QLabel:
    label = QLabel()
    font = QFont("monospace") if mono else QFont()
    if mono:
        font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPointSizeF(point_size)
    font.setBold(bold)
    label.setFont(font)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)  # token names such as <unk> are not HTML
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ExplainPanel(QScrollArea):
    """Formula, description and the selected cell's calculation (see the module docstring)."""

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.title = _label(TITLE_PT, bold=True)
        self.title.setStyleSheet("color: #444444;")
        self.formula = _label(FORMULA_PT, bold=True)
        self.description = _label(TEXT_PT)
        self.cell = _label(TEXT_PT, mono=True)
        self.cell.setStyleSheet("background: #fff8e1; border: 1px solid #e0c36a; border-radius: 4px; padding: 6px;")
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(6)
        for widget in (self.title, self.formula, self.description, self.cell):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.setWidget(body)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        bridge.sigStepChanged.connect(self.refresh)
        bridge.sigTraceChanged.connect(self.refresh)
        bridge.sigCellSelected.connect(self.refresh)
        self.refresh()

    def set_font_scale(self, f: float) -> None:
        """Scale the type, e.g. 1.5 when projecting (presentation mode)."""
        for label, pt in ((self.title, TITLE_PT), (self.formula, FORMULA_PT), (self.description, TEXT_PT),
                          (self.cell, TEXT_PT)):
            font = label.font()
            font.setPointSizeF(pt * f)
            label.setFont(font)

    def refresh(self, *_) -> None:
        stepper = self.bridge.stepper
        step = stepper.step
        self.title.setText(f"Step {stepper.index + 1} of {len(stepper)} — {step.name}")
        self.formula.setText(step.formula or step.op)
        self.description.setText(step.description)
        self.cell.setText(self._cell_text())

    def _cell_text(self) -> str:
        cell = self.bridge.cell
        if cell is None:
            return HINT
        name, index = cell
        try:
            return self.bridge.trace.explain(name, index)
        except (KeyError, IndexError, ValueError) as exc:  # a cell of a step that changed shape
            return f"No explanation for {name}{list(index)}: {exc}"
