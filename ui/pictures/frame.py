"""The frame most views share: a row of labelled choices on top, the pictures, a caption under them."""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLayout, QVBoxLayout, QWidget

from ui.pictures.caption import LABEL_PT, Caption, fit_caption
from ui.pictures.paper import Paper, paper_of

# a note's (text, paper, edge) on light and on dark paper: a pale yellow card, or a dim amber one
NOTE_LIGHT = ("#202020", "#fff8e1", "#e0c36a")
NOTE_DARK = ("#f2e8cc", "#3b3522", "#8c7843")
# why something was refused: a dark red on light paper, a light coral on dark paper (both ≥ 4.5:1)
ERROR_LIGHT, ERROR_DARK = "#a00000", "#ff8a7a"
# a caution (random weights): a brown amber on light paper, a light amber on dark paper (both ≥ 4.5:1)
CAUTION_LIGHT, CAUTION_DARK = "#a05000", "#f0a040"


def error_colour(paper: Paper) -> str:
    """The red of a refusal (its text, a refused field's frame) on `paper`."""
    return ERROR_DARK if paper.dark else ERROR_LIGHT


class PaperLabel(QLabel):
    """Plain text whose style sheet follows the light or dark theme (`sheet` gives it for a paper).

    A styled widget hears no palette changes itself, so the label watches the widget it lies on.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._under: QWidget | None = None
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)  # token names such as <unk> are not markup
        self._lie_on(parent)

    def sheet(self, paper: Paper) -> str:
        raise NotImplementedError

    def _lie_on(self, under: QWidget | None) -> None:
        if self._under is not None:
            self._under.removeEventFilter(self)
        self._under = under
        if under is not None:
            under.installEventFilter(self)
        self._restyle()

    def _restyle(self) -> None:
        # the paper it lies on: its own palette takes the style sheet's colours once styled
        sheet = self.sheet(paper_of(self._under or self))
        if self.styleSheet() != sheet:
            self.setStyleSheet(sheet)

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().changeEvent(event)
        if event.type() == QEvent.Type.ParentChange:
            self._lie_on(self.parentWidget())

    def eventFilter(self, obj, event) -> bool:
        if obj is self._under and event.type() == QEvent.Type.PaletteChange:
            self._restyle()
        return False


class NoteLabel(PaperLabel):
    """Plain text on a note card (a calculation, what the cache saved) that follows the light or dark theme."""

    def __init__(self, padding: int = 4, radius: int = 0, parent: QWidget | None = None):
        self._box = f"border-radius: {radius}px; padding: {padding}px;"
        super().__init__(parent)

    def sheet(self, paper: Paper) -> str:
        ink, ground, edge = NOTE_DARK if paper.dark else NOTE_LIGHT
        return f"color: {ink}; background: {ground}; border: 1px solid {edge}; {self._box}"


class ErrorLabel(PaperLabel):
    """Why something was refused, in a red that stays readable in the light and the dark theme
    (`caution`: in amber, for what is allowed but worth knowing).

    `say` hides it while there is nothing to say, so it takes a line only when there is.
    """

    def __init__(self, bold: bool = False, caution: bool = False, parent: QWidget | None = None):
        self._weight = " font-weight: bold;" if bold else ""
        self._caution = caution
        super().__init__(parent)

    def sheet(self, paper: Paper) -> str:
        colour = (CAUTION_DARK if paper.dark else CAUTION_LIGHT) if self._caution else error_colour(paper)
        return f"color: {colour};{self._weight}"

    def say(self, text: str | None) -> None:
        """Show `text` (None or "": clear and hide)."""
        self.setText(text or "")
        self.setVisible(bool(text))


def control_row(*choices: tuple[str, QWidget]) -> QHBoxLayout:
    """Each choice as "label [widget]", left-aligned."""
    row = QHBoxLayout()
    for text, widget in choices:
        row.addWidget(QLabel(text))
        row.addWidget(widget)
    row.addStretch(1)
    return row


def side_by_side(*parts: tuple[QWidget, int]) -> QHBoxLayout:
    """Pictures next to each other, each (widget, its share of the width)."""
    row = QHBoxLayout()
    for widget, stretch in parts:
        row.addWidget(widget, stretch)
    return row


def framed(view: QWidget, top: QLayout | None, body: QLayout | QWidget, caption: Caption) -> QVBoxLayout:
    """Lay `view` out as its choices (if any), the body taking the spare height, the caption."""
    lay = QVBoxLayout(view)
    lay.setContentsMargins(4, 4, 4, 4)
    if top is not None:
        lay.addLayout(top)
    if isinstance(body, QLayout):
        lay.addLayout(body, 1)
    else:
        lay.addWidget(body, 1)
    lay.addWidget(caption)
    return lay


def label_font(f: float, widgets: tuple[QWidget, ...], caption: Caption, lines: int = 3) -> QFont:
    """The labels' font at scale `f`, set on `widgets`, with room for `lines` of caption."""
    font = QFont()
    font.setPointSizeF(LABEL_PT * f)
    for w in widgets:
        w.setFont(font)
    fit_caption(caption, font, lines)
    return font
