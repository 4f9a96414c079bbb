"""Draw your own digit: an 8×8 canvas that feeds an image model live, and its class probabilities.

Painting with the mouse (left adds ink, right erases), Clear, a sample digit, and Brighter/Dimmer
each become one input edit through the session, like typing a token: every step recomputes, the
changed cells light up in the other views, and the bars show the new probabilities.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from simulator.digits import load_samples
from simulator.vision import PIXEL_MAX
from ui.bridge import SessionBridge
from ui.messages import plain
from ui.pictures.caption import LABEL_PT

INK = 8.0  # ink added by one stroke over a cell (a pixel counts 0–16)
NUDGE = 1.25  # Brighter multiplies every pixel by this, Dimmer divides


def painted(image: np.ndarray, row: int, col: int, erase: bool) -> np.ndarray:
    """The image after one brush touch on (row, col): ink added (or removed), kept within 0–16."""
    out = np.array(image, dtype=np.float64)
    out[row, col] = 0.0 if erase else min(PIXEL_MAX, out[row, col] + INK)
    return out


def nudged(image: np.ndarray, factor: float) -> np.ndarray:
    """Every pixel times `factor`, kept within 0–16."""
    return np.clip(np.asarray(image, dtype=np.float64) * factor, 0.0, PIXEL_MAX)


class Canvas(QWidget):
    """The image as a grid of grey cells; cells the last edit changed get an orange frame."""

    sigPainted = Signal(int, int, bool)  # row, col, erase

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = np.zeros((8, 8))
        self.changed = np.zeros((8, 8), dtype=bool)
        self._last: tuple[int, int] | None = None
        self.setMinimumSize(QSize(200, 200))
        self.setCursor(Qt.CursorShape.CrossCursor)

    def set_image(self, image: np.ndarray, changed: np.ndarray) -> None:
        self.image, self.changed = np.asarray(image), np.asarray(changed, dtype=bool)
        self.update()

    def _cell_size(self) -> float:
        return min(self.width(), self.height()) / self.image.shape[0]

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        size = self._cell_size()
        row, col = int(pos.y() // size), int(pos.x() // size)
        n = self.image.shape[0]
        return (row, col) if 0 <= row < n and 0 <= col < n else None

    def cell_center(self, row: int, col: int) -> QPointF:
        size = self._cell_size()
        return QPointF((col + 0.5) * size, (row + 0.5) * size)

    def _stroke(self, event) -> None:
        cell = self.cell_at(event.position())
        if cell is not None and cell != self._last:
            self._last = cell
            erase = bool(event.buttons() & Qt.MouseButton.RightButton)
            self.sigPainted.emit(cell[0], cell[1], erase)

    def mousePressEvent(self, event) -> None:
        self._last = None
        self._stroke(event)

    def mouseMoveEvent(self, event) -> None:
        if event.buttons():
            self._stroke(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        size = self._cell_size()
        n = self.image.shape[0]
        for r in range(n):
            for c in range(n):
                grey = int(255 * (1 - self.image[r, c] / PIXEL_MAX))  # ink is dark, as on paper
                painter.fillRect(QRectF(c * size, r * size, size, size), QColor(grey, grey, grey))
        painter.setPen(QPen(QColor("#9aa3b5"), 1))
        for i in range(n + 1):
            painter.drawLine(QPointF(0, i * size), QPointF(n * size, i * size))
            painter.drawLine(QPointF(i * size, 0), QPointF(i * size, n * size))
        painter.setPen(QPen(QColor("#ff8c00"), 3))
        for r, c in zip(*np.nonzero(self.changed)):
            painter.drawRect(QRectF(c * size + 2, r * size + 2, size - 4, size - 4))
        painter.end()


class ProbabilityBars(QWidget):
    """One horizontal bar per class, the most likely one in a stronger colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels: list[str] = []
        self.probs = np.zeros(0)
        self.font_scale = 1.0
        self.setMinimumSize(QSize(220, 200))

    def set_probs(self, labels: list[str], probs: np.ndarray) -> None:
        self.labels, self.probs = list(labels), np.asarray(probs)
        self.update()

    def label_font(self) -> QFont:
        """The class names' and percentages' font: the type scale times the base size (not times the
        window's font, which presentation mode has scaled already)."""
        font = QFont(self.font())
        font.setPointSizeF(LABEL_PT * self.font_scale)
        return font

    def paintEvent(self, event) -> None:
        if not self.labels:
            return
        painter = QPainter(self)
        painter.setFont(self.label_font())
        row = self.height() / len(self.labels)
        label_w = painter.fontMetrics().horizontalAdvance("0000")
        value_w = painter.fontMetrics().horizontalAdvance("100 %  ")
        bar_w = max(10.0, self.width() - label_w - value_w)
        top = int(np.argmax(self.probs))
        for i, (label, p) in enumerate(zip(self.labels, self.probs)):
            y = i * row
            painter.setPen(QColor("#111111"))
            painter.drawText(QRectF(0, y, label_w, row), Qt.AlignmentFlag.AlignCenter, label)
            colour = QColor("#1f77b4") if i == top else QColor("#9ec3e6")
            painter.fillRect(QRectF(label_w, y + row * 0.15, bar_w * float(p), row * 0.7), colour)
            painter.drawText(QRectF(label_w + bar_w + 4, y, value_w, row),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{100 * p:.0f} %")
        painter.end()


class DrawView(QWidget):
    """The canvas, its buttons and the class probabilities, following the session."""

    ABOUT = ("Draw: a digit drawn here is the image model's input. It is cut into patches, each patch becomes a "
             "token, and the bars show the probability of each class read from [CLS] after the last layer.")

    def __init__(self, bridge: SessionBridge, set_input, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._set_input = set_input  # (image) -> error text or None: one undoable input edit
        self.samples = load_samples()
        self._shown = False  # an image model's input has been drawn on the canvas
        self.canvas = Canvas()
        self.bars = ProbabilityBars()
        self.clear_button = QPushButton("Clear")
        self.brighter = QPushButton("Brighter")
        self.dimmer = QPushButton("Dimmer")
        self.sample_box = QComboBox()
        self.sample_box.addItem("Pick a sample digit…")
        for k, (_, label) in enumerate(self.samples):
            self.sample_box.addItem(f"a {label} (sample {k + 1})")
        self.message = plain(QLabel())
        self.message.setWordWrap(True)
        self.answer = plain(QLabel())
        buttons = QHBoxLayout()
        for w in (self.clear_button, self.brighter, self.dimmer, self.sample_box):
            buttons.addWidget(w)
        buttons.addStretch(1)
        pictures = QHBoxLayout()
        pictures.addWidget(self.canvas, 1)
        pictures.addWidget(self.bars, 1)
        layout = QVBoxLayout(self)
        help_text = plain(QLabel("Paint with the left mouse button, erase with the right. The model reads the "
                                 "drawing at every stroke."))
        help_text.setWordWrap(True)  # a projector's large font must not widen the view past the screen
        layout.addWidget(help_text)
        layout.addLayout(buttons)
        layout.addLayout(pictures, 1)
        layout.addWidget(self.answer)
        layout.addWidget(self.message)
        self.canvas.sigPainted.connect(self._paint_cell)
        self.clear_button.clicked.connect(lambda: self._send(np.zeros_like(self.canvas.image)))
        self.brighter.clicked.connect(lambda: self._send(nudged(self.canvas.image, NUDGE)))
        self.dimmer.clicked.connect(lambda: self._send(nudged(self.canvas.image, 1 / NUDGE)))
        self.sample_box.activated.connect(self._pick_sample)
        bridge.sigTraceChanged.connect(self.follow)
        self.follow()

    def _is_image_model(self) -> bool:
        return self.bridge.model.config.arch == "vit"

    def _send(self, image: np.ndarray) -> None:
        error = self._set_input(image)
        self.message.setText(error or "")

    def _paint_cell(self, row: int, col: int, erase: bool) -> None:
        if self._is_image_model():
            self._send(painted(self.canvas.image, row, col, erase))

    def _pick_sample(self, index: int) -> None:
        if index > 0:
            self._send(self.samples[index - 1][0])
        self.sample_box.setCurrentIndex(0)

    def follow(self) -> None:
        usable = self._is_image_model()
        for w in (self.canvas, self.clear_button, self.brighter, self.dimmer, self.sample_box):
            w.setEnabled(usable)
        if not usable:
            self._shown = False
            self.message.setText("Draw your own needs an image model: open Presets ▸ Handwritten digits (ViT).")
            self.bars.set_probs([], np.zeros(0))
            return
        session = self.bridge.session
        image = session.input
        old = self.canvas.image
        # lit: the cells this edit changed (none on the first image shown: it is no edit)
        compared = self._shown and old.shape == image.shape
        self.canvas.set_image(image, image != old if compared else np.zeros(image.shape, bool))
        self._shown = True
        probs = session.trace["probs"][0]
        vocab = list(session.model.config.vocab)
        self.bars.set_probs(vocab, probs)
        best = int(np.argmax(probs))
        self.answer.setText(f"The model reads a {vocab[best]} ({100 * probs[best]:.0f} %).")

    def set_font_scale(self, f: float) -> None:
        self.bars.font_scale = f
        self.bars.update()


__all__ = ["DrawView", "Canvas", "ProbabilityBars", "painted", "nudged"]
