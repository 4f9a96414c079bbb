"""The next-token panel of the probabilities step: the top-k bars at one position,
a position chooser and the temperature slider.

The slider asks the session for a new temperature; the panel itself shows only what
the trace says (`set_data`), so the slider never disagrees with the model.

A checkpoint's vocabulary (30,000 tokens and more) shows its top TOP_TOKENS bars and a search
box: any token's logit, probability and rank at the chosen position (`find_token`, `describe_token`).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSignalBlocker, QStringListModel, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ui.messages import plain
from ui.pictures.append_buttons import AppendButtons
from ui.pictures.plots import TopKBars, format_prob
from ui.pictures.slicing import MAX_VOCAB, TOP_TOKENS, shown

T_MIN, T_MAX, T_STEP = 0.1, 5.0, 0.1  # the slider's range of temperatures
LABEL_PT = 13.0
SMALL_TOP = 8  # bars of a classroom vocabulary (a long one shows TOP_TOKENS)


def find_token(query: str, vocab: list[str]) -> int | None:
    """The id of the token `query` names in `vocab` (tokens as labels print them, see `shown`).

    The token may be typed as printed ("␣the"), as stored ("Ġthe"), or with a real leading
    space (" the"); an exact match wins over one that differs only in case.
    """
    if not query:
        return None
    spaces = len(query) - len(query.lstrip(" "))
    candidates = dict.fromkeys((query, shown(query), "␣" * spaces + shown(query[spaces:])))
    for c in candidates:
        if c in vocab:
            return vocab.index(c)
    folded = {c.casefold() for c in candidates}
    matches = [i for i, t in enumerate(vocab) if t.casefold() in folded]
    return matches[0] if len(matches) == 1 else None


def describe_token(token: int, vocab: list[str], logits: np.ndarray | None, probs: np.ndarray) -> str:
    """One token's logit, probability and rank at one position (`logits`, `probs` [vocab])."""
    p = float(probs[token])
    rank = 1 + int(np.sum(probs > p))
    logit = "" if logits is None else f"logit {float(logits[token]):.3g}, "
    return f"“{vocab[token]}”: {logit}probability {p:.3g}, rank {rank:,} of {len(vocab):,}"


class NextTokenPanel(QWidget):
    sigPositionChosen = Signal(int)  # position whose next token is shown
    sigTemperatureChosen = Signal(float)  # temperature picked on the slider

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = plain(QLabel())  # names a token
        self.title.setWordWrap(True)
        self.bars = TopKBars()
        self.position = QComboBox()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(T_MIN / T_STEP), round(T_MAX / T_STEP))
        self.slider.setPageStep(5)
        self.t_label = QLabel()
        self.t_label.setMinimumWidth(90)

        # appending writes text: each token is one undoable edit (the window connects the buttons)
        self.append_buttons = AppendButtons(compact=True)
        # a long vocabulary: find any token (hidden for a classroom one, whose bars show it all)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find a token…")
        self.search.setToolTip("Type any token (␣ or a leading space for Ġ) to see its logit, probability and rank")
        self.search.setClearButtonEnabled(True)
        self._completions = QStringListModel(self)
        completer = QCompleter(self._completions, self.search)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setMaxVisibleItems(12)
        self.search.setCompleter(completer)
        self.found = plain(QLabel())  # quotes a token, which may look like markup (<img>)
        self.found.setWordWrap(True)
        self.search.textChanged.connect(self._show_found)
        completer.activated.connect(self._show_found)
        self._vocab: list[str] = []
        self._text_controls = True  # False while an image model's classes are shown
        self._row: tuple[np.ndarray | None, np.ndarray] | None = None  # logits, probs [vocab] at the position

        self._after = QLabel("after position")
        pos_row = QHBoxLayout()
        pos_row.addWidget(self._after)
        pos_row.addWidget(self.position, 1)
        t_row = QHBoxLayout()
        t_row.addWidget(self.t_label)
        t_row.addWidget(self.slider, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.title)
        lay.addWidget(self.bars, 1)
        lay.addWidget(self.search)
        lay.addWidget(self.found)
        lay.addLayout(pos_row)
        lay.addLayout(t_row)
        lay.addWidget(self.append_buttons)

        self.position.currentIndexChanged.connect(self.sigPositionChosen.emit)
        self.slider.valueChanged.connect(lambda v: self.sigTemperatureChosen.emit(round(v * T_STEP, 2)))
        self.set_font_scale(1.0)

    def set_controls_visible(self, on: bool) -> None:
        """Hide every control (the position chooser, the temperature slider, the append and
        generate buttons), e.g. on a printed page or a slide: the title says the position and
        the temperature."""
        for w in (self._after, self.position, self.slider, self.t_label, self.append_buttons):
            w.setVisible(on)

    def _show_text_controls(self, on: bool) -> None:
        """The position chooser and the append and generate buttons, hidden for an image model's
        classes (and shown again for text, unless `set_controls_visible` hid them meanwhile)."""
        if on != self._text_controls:
            self._text_controls = on
            for w in (self._after, self.position, self.append_buttons):
                w.setVisible(on)

    def set_data(self, probs: np.ndarray, vocab: list[str], positions: list[str], position: int,
                 temperature: float, before: np.ndarray | None = None, logits: np.ndarray | None = None,
                 classes: bool = False, what: str = "Next token after") -> None:
        """`probs` [pos, vocab]: show the top bars of row `position`.

        `before` [pos, vocab]: the probabilities with every component switched on, when some are off;
        the title then compares the two for the token that was most likely before. `logits`
        [pos, vocab]: what the token search reports besides the probability. `classes`: an image
        model's class scores, read from [CLS]: no next token, so nothing to append or generate.
        `what` begins the title of a text model's bars.
        """
        labels = [f"{i}: {t}" for i, t in enumerate(positions)]
        with QSignalBlocker(self.position), QSignalBlocker(self.slider):
            if [self.position.itemText(i) for i in range(self.position.count())] != labels:
                self.position.clear()
                self.position.addItems(labels)
            self.position.setCurrentIndex(position)
            self.slider.setValue(round(temperature / T_STEP))
        self.t_label.setText(f"T = {temperature:.2f}")
        title = "Which class, read from [CLS]" if classes else f"{what} “{positions[position]}”"
        self._show_text_controls(not classes)
        if before is not None:
            top = int(np.argmax(before[position]))
            title += (f"\n“{vocab[top]}”: {format_prob(before[position, top])} → "
                      f"{format_prob(probs[position, top])} with parts switched off")
        self.title.setText(title)
        long = len(vocab) > MAX_VOCAB
        self.bars.set_data(probs[position], vocab, k=min(TOP_TOKENS if long else SMALL_TOP, len(vocab)))
        if vocab != self._vocab:
            self._vocab = list(vocab)
            self._completions.setStringList(self._vocab if long else [])
        self._row = (None if logits is None else logits[position], probs[position])
        self.search.setVisible(long)
        self.found.setVisible(long)
        self._show_found()

    def _show_found(self, *_) -> None:
        """The searched token's logit, probability and rank at the chosen position."""
        query = self.search.text()
        if not query or self._row is None:
            self.found.setText("")
            return
        token = find_token(query, self._vocab)
        if token is None:
            self.found.setText(f"No token “{query}” in the vocabulary.")
        else:
            self.found.setText(describe_token(token, self._vocab, *self._row))

    def set_font_scale(self, f: float) -> None:
        font = QFont()
        font.setPointSizeF(LABEL_PT * f)
        for w in (self, self.position, self.t_label, self.append_buttons, self.search, self.found):
            w.setFont(font)
        big = QFont(font)
        big.setPointSizeF(15.0 * f)
        big.setBold(True)
        self.title.setFont(big)
        self.bars.set_font_scale(f)
