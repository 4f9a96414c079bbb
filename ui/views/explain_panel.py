"""The explanation panel: what the current step does in words, and for the selected cell
the calculation of its number with the actual values.

The formula itself is printed large at the top of the step view, so it is not repeated here.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from ui.bridge import SessionBridge
from ui.pictures.frame import NoteLabel
from ui.typography import TEXT_PT

HINT = "Click a cell in the picture to see how its number was calculated."
TAB_HINT = "Click a cell, a bar or a point of this tab's picture to see its numbers here."


def _label(point_size: float, bold: bool = False, mono: bool = False) -> QLabel:
    label = NoteLabel(padding=6, radius=4) if mono else QLabel()  # the calculation on its note card
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
    """The step's description and the selected cell's calculation (see the module docstring)."""

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.description = _label(TEXT_PT)
        self.cell = _label(TEXT_PT, mono=True)
        self.cell.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # Height is scarce on a projector and width is not: words left, the cell's sum right.
        body = QWidget()
        row = QHBoxLayout(body)
        row.setContentsMargins(12, 6, 12, 6)
        row.setSpacing(16)
        words = QVBoxLayout()
        words.setSpacing(4)
        words.addWidget(self.description)
        words.addStretch(1)
        # the longer text gets more of the width, fewer lines: the description, or a chosen cell's sum
        row.addLayout(words, 3)
        row.addWidget(self.cell, 2)
        self._row = row
        self._about: str | None = None  # what the tab in front shows, when it is not the Step tab
        self._clickable = True  # whether that tab's cells write their numbers here
        self._written: str | None = None  # a calculation that tab wrote here (show_calculation)
        self.setWidget(body)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        bridge.sigStepChanged.connect(self.refresh)
        bridge.sigTraceChanged.connect(self._trace_changed)
        bridge.sigCellSelected.connect(self.refresh)
        self.refresh()

    def set_font_scale(self, f: float) -> None:
        """Scale the type, e.g. 1.5 in presentation mode."""
        for label in (self.description, self.cell):
            font = label.font()
            font.setPointSizeF(TEXT_PT * f)
            label.setFont(font)

    def wanted_height(self) -> int:
        """The height that shows the description and the whole calculation at the current width."""
        body = self.widget()
        return body.heightForWidth(max(self.viewport().width(), 100)) + 2 * self.frameWidth()

    def refresh(self, *_) -> None:
        step = self.bridge.stepper.step
        self.description.setText(self._about or step.description)
        self.cell.setText(self._cell_text() if self._about is None else self._written or TAB_HINT)
        # a tab whose picture writes its own numbers has no cells to explain: its words take the width
        self.cell.setVisible(self._about is None or self._clickable)
        chosen = self.bridge.cell is not None
        self._row.setStretch(0, 2 if chosen else 3)
        self._row.setStretch(1, 3 if chosen else 2)

    def follow_tab(self, about: str | None, clickable: bool = True) -> None:
        """Describe the tab in front (`about`: what its picture shows; `clickable`: its cells explain
        themselves here), or the step again (None)."""
        if (about, clickable) != (self._about, self._clickable):
            self._about, self._clickable, self._written = about, clickable, None
            self.refresh()

    def show_calculation(self, text: str) -> None:
        """Write a calculation another tab worked out (an attribution bar, the next draw). It stays while
        that tab is in front, whatever the step, until the trace changes (its numbers would be old)
        or the tab writes another; on the Step tab the next cell or step replaces it."""
        self._written = text
        self.cell.setText(text)

    def _trace_changed(self) -> None:
        self._written = None
        self.refresh()

    def _cell_text(self) -> str:
        cell = self.bridge.cell
        if cell is None:
            return HINT
        name, index = cell
        try:
            return self.bridge.trace.explain(name, index)
        except (KeyError, IndexError, ValueError) as exc:  # a cell of a step that changed shape
            return f"No explanation for {name}{list(index)}: {exc}"
