"""The sampling view: how the next token is picked, control by control.

Three bars per token — the softmax at temperature T, what top-k keeps, what top-p keeps —
so a class sees which tokens each control cuts (grey) and how the rest are renormalised; the
token drawn is marked with the draw u. Below: the calculation written out (or, `explained`, sent
out by `sigCalculation` for the window's explanation panel), the text so far and what the KV cache
keeps. The Append buttons append the most likely token, a sampled one, or n sampled ones (each its
own undo step); the view previews the very draw the next Append will make.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from simulator.generate import decoded_side
from simulator.sampling import Sampling, describe
from ui.bridge import SessionBridge
from ui.pictures.append_buttons import AppendButtons
from ui.pictures.frame import NoteLabel
from ui.pictures.paper import paper_of
from ui.pictures.slicing import shown

STAGES = ("softmax(z / T)", "after top-k", "after top-p = final")
KEPT, CUT, DRAWN = QColor(70, 120, 200), QColor(205, 205, 205), QColor(255, 236, 150)
MAX_ROWS = 12


@dataclass(frozen=True)
class BarRow:
    token: str
    values: tuple[float, float, float]  # one per stage
    cut: tuple[bool, bool, bool]  # removed by that stage (or an earlier one)
    drawn: bool


def bar_rows(s: Sampling, vocab, n: int = MAX_ROWS) -> list[BarRow]:
    """The `n` most likely tokens (and the drawn one, if it is further down), as plain data."""
    ids = list(s.order[:n])
    if s.token not in ids:
        ids[-1] = s.token
    rows = []
    for i in ids:
        tok = vocab[i]
        values = (float(s.probs[i]), float(s.after_k[i]), float(s.after_p[i]))
        rows.append(BarRow(shown(tok), values,
                           (False, bool(s.after_k[i] == 0), bool(s.after_p[i] == 0)), i == s.token))
    return rows


class SamplingBars(QWidget):
    """Token labels and three columns of bars (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[BarRow] = []
        self.draw_u: float | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(160)
        self._font = QFont()

    def set_rows(self, rows: list[BarRow], draw_u: float | None) -> None:
        self.rows, self.draw_u = rows, draw_u
        self.update()

    def set_font_scale(self, f: float) -> None:
        self._font = QFont()
        self._font.setPointSizeF(12.0 * f)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        p = QPainter(self)
        paper = paper_of(self)
        p.fillRect(self.rect(), paper.ground)
        p.setFont(self._font)
        fm = QFontMetrics(self._font)
        line = fm.height()
        label_w = max([fm.horizontalAdvance(r.token) for r in self.rows] + [fm.horizontalAdvance("token")]) + 24
        top = line + 6
        rows = self.rows[: max(0, (self.height() - top) // max(line + 4, 1))]
        col_w = (self.width() - label_w - 8) / len(STAGES)
        p.setPen(paper.ink)
        p.drawText(QRectF(4, 0, label_w, line), Qt.AlignmentFlag.AlignLeft, "token")
        for c, title in enumerate(STAGES):
            p.drawText(QRectF(label_w + c * col_w, 0, col_w - 6, line), Qt.AlignmentFlag.AlignLeft, title)
        h = line + 4
        for r, row in enumerate(rows):
            y = top + r * h
            if row.drawn:
                p.fillRect(QRectF(0, y - 1, self.width(), h), DRAWN)
            ink = QColor(20, 20, 20) if row.drawn else paper.ink  # the drawn row is on a light yellow band
            p.setPen(ink)
            p.drawText(QRectF(4, y, label_w - 8, line), Qt.AlignmentFlag.AlignRight, row.token)
            for c, (v, cut) in enumerate(zip(row.values, row.cut)):
                x0 = label_w + c * col_w
                text = "cut" if cut else f"{v:.3f}"
                tw = fm.horizontalAdvance("0.000") + 6
                room = max(col_w - tw - 10, 4)
                width = room * (row.values[0] if cut else v)
                p.fillRect(QRectF(x0, y + 2, max(width, 1), line - 4), CUT if cut else KEPT)
                p.setPen(QColor(140, 140, 140) if cut else ink)
                p.drawText(QRectF(x0 + width + 4, y, tw, line), Qt.AlignmentFlag.AlignLeft, text)
        if self.draw_u is not None and any(r.drawn for r in rows):
            p.setPen(QPen(QColor(160, 90, 0)))
            r = next(i for i, row in enumerate(rows) if row.drawn)
            p.drawText(QRectF(0, top + r * h, 14, line), Qt.AlignmentFlag.AlignLeft, "▶")
        p.end()


class SamplingView(QWidget):
    sigCalculation = Signal(str)  # how the shown token is picked, for the explanation panel
    ABOUT = ("Sampling: how the next token is drawn. Each column shows the probabilities after one control: "
             "temperature T divides the logits, top-k keeps the k most likely, top-p keeps the most likely "
             "until their sum reaches p; what is left is renormalised, and a number u drawn with the seed picks "
             "the token. Greedy is top-k = 1.")

    def __init__(self, bridge: SessionBridge, controller, explained: bool = False, show_cache=None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        # controller: the window's ui.generation.GenerationController (settings, preview, append)
        self.bridge, self.controller = bridge, controller
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.05, 5.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(controller.temperature)
        self.top_k = QSpinBox()
        self.top_k.setRange(0, 100000)
        self.top_k.setSpecialValueText("off")
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.0, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setDecimals(2)
        self.top_p.setSpecialValueText("off")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2 ** 31 - 1)
        self.append_buttons = AppendButtons()  # its message also says why settings were refused
        self.append_buttons.connect_to(controller)
        self.cache_button = QPushButton("See the KV cache")  # opens the KV cache view (show_cache)
        if show_cache is None:
            self.cache_button.hide()
        self.drawn = QLabel()
        self.drawn.setTextFormat(Qt.TextFormat.PlainText)
        self.bars = SamplingBars()
        self.calculation = self._text_label(mono=True)
        # with an explanation panel the calculation is written there (the same text): not twice on screen,
        # which leaves the bars room on a 1024 × 768 screen
        if explained:
            self.calculation.hide()
        self.text = self._text_label()
        self.cache = self._text_label()

        controls = QGridLayout()
        for col, (name, w) in enumerate((("temperature", self.temperature), ("top-k", self.top_k),
                                         ("top-p", self.top_p), ("seed", self.seed))):
            controls.addWidget(QLabel(name), 0, col)
            controls.addWidget(w, 1, col)
        controls.addWidget(self.cache_button, 1, 4)  # beside the settings: the Append row keeps its words
        lower = QHBoxLayout()
        lower.addWidget(self.calculation, 3)
        side = QVBoxLayout()
        side.addWidget(self.text)
        side.addWidget(self.cache)
        side.addStretch(1)
        lower.addLayout(side, 2)
        lay = QVBoxLayout(self)
        lay.addLayout(controls)
        lay.addWidget(self.append_buttons)
        lay.addWidget(self.drawn)
        lay.addWidget(self.bars, 1)
        lay.addLayout(lower)

        for w in (self.temperature, self.top_p):
            w.valueChanged.connect(self._settings_edited)
        for w in (self.top_k, self.seed):
            w.valueChanged.connect(self._settings_edited)
        if show_cache is not None:
            self.cache_button.clicked.connect(show_cache)
        bridge.sigTraceChanged.connect(self.refresh)
        controller.sigSettingsChanged.connect(self.refresh)
        self.set_font_scale(1.0)
        self.refresh()

    @staticmethod
    def _text_label(mono: bool = False) -> QLabel:
        label = NoteLabel() if mono else QLabel()  # the calculation on its note card
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)  # token names such as <unk> are not markup
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def explain_now(self) -> None:
        """Send this view's calculation again: the tab came to the front, and the explanation panel
        shows what the tab in front wrote (unlike a clicked cell, this calculation needs no click)."""
        self.sigCalculation.emit(self.calculation.text())

    def _settings_edited(self) -> None:
        k = self.top_k.value() or None
        p = self.top_p.value()
        self.append_buttons.show_message(self.controller.set_settings(
            self.temperature.value(), k, p if 0 < p < 1 else None, self.seed.value()))

    def shown_sampling(self) -> tuple[Sampling, bool]:
        """The sampling on screen and whether it is the latest append's (else: the next one's preview)."""
        last = self.controller.last
        trace = self.bridge.trace
        if last is not None and len(trace["logits"]) >= 2 and (trace["logits"][-2] == last.logits).all():
            return last, True
        return self.controller.preview(), False

    def refresh(self) -> None:
        if self.bridge.model.config.arch == "encoder":
            self.bars.set_rows([], None)
            self.calculation.setText("An encoder predicts no next token.")
            return
        s, done = self.shown_sampling()
        vocab = self.bridge.model.config.vocab
        self.bars.set_rows(bar_rows(s, vocab), s.draw)
        token = vocab[s.token]
        self.drawn.setText(f"u = {s.draw:.3f} falls on ‘{shown(token)}’ (highlighted): "
                           + ("appended." if done else "the next Append takes it."))
        for w, value in ((self.temperature, self.controller.temperature), (self.top_k, self.controller.top_k or 0),
                         (self.top_p, self.controller.top_p or 0.0), (self.seed, self.controller.seed)):
            with QSignalBlocker(w):
                w.setValue(value)
        head = ("How the last token was picked:" if done else
                "How the next Append would pick (the same draw u):")
        self.calculation.setText(head + "\n" + describe(s, vocab))
        if self.isVisible():  # a tab in the back would write over the one in front
            self.sigCalculation.emit(self.calculation.text())
        side = decoded_side(self.bridge.trace)
        sep = "" if self.bridge.model.config.tokenization == "char" else " "
        self.text.setText("Text so far: " + sep.join(side))
        self.cache.setText(self.controller.cache_note())

    def set_font_scale(self, f: float) -> None:
        font = QFont()
        font.setPointSizeF(12.0 * f)
        for w in (self, self.calculation, self.text, self.cache, self.append_buttons, self.drawn):
            w.setFont(font)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(11.0 * f)
        self.calculation.setFont(mono)
        self.bars.set_font_scale(f)
