"""An image model seen through its tokens: patches as tokens, attention on the image, positions in 2-D.

- Patches as tokens: the image with its patch grid, then each patch beside its flattened vector
  and its embedding (one row each).
- Attention on the image: for the [CLS] query (or a chosen patch), the chosen layer's attention
  weights drawn over the image, per head or averaged, and the attention rollout through all layers.
- Positions in 2-D: for each patch, a little grid of the cosine similarity of its learned position
  with every other patch's (Dosovitskiy et al., 2021, Fig. 7).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from simulator.vision import PIXEL_MAX, attention_on_image, patch_images, position_similarity, rollout_on_image
from ui.bridge import SessionBridge
from ui.lazy import LazyView
from ui.messages import plain


def _colour(v: float, lo: float, hi: float, kind: str) -> QColor:
    t = 0.0 if hi <= lo else float(np.clip((v - lo) / (hi - lo), 0, 1))
    if kind == "ink":  # dark ink on white paper
        g = int(255 * (1 - t))
        return QColor(g, g, g)
    if kind == "heat":  # white to red
        return QColor(255, int(255 * (1 - t)), int(255 * (1 - t)))
    # diverging: blue (−) white (0) red (+), lo = −hi
    s = 2 * t - 1
    return QColor(255, int(255 * (1 - s)), int(255 * (1 - s))) if s >= 0 else \
        QColor(int(255 * (1 + s)), int(255 * (1 + s)), 255)


def grid_pixmap(values: np.ndarray, cell: int, lo: float, hi: float, kind: str, lines: int = 0,
                under: np.ndarray | None = None) -> QPixmap:
    """A [rows, cols] array as coloured cells; `lines` draws a frame every that many cells.

    `under` (same shape or finer) is a grey image drawn first, the values laid over it half transparent.
    """
    values = np.atleast_2d(values)
    rows, cols = values.shape
    pm = QPixmap(cols * cell + 1, rows * cell + 1)
    pm.fill(QColor("white"))
    p = QPainter(pm)
    if under is not None:
        f = under.shape[0] // rows
        small = cell / f
        for r in range(under.shape[0]):
            for c in range(under.shape[1]):
                p.fillRect(QRectF(c * small, r * small, small, small), _colour(under[r, c], 0, PIXEL_MAX, "ink"))
        p.setOpacity(0.65)
    for r in range(rows):
        for c in range(cols):
            p.fillRect(QRectF(c * cell, r * cell, cell, cell), _colour(values[r, c], lo, hi, kind))
    p.setOpacity(1.0)
    if lines:
        p.setPen(QPen(QColor("#3b6fd6"), 2))
        for i in range(0, rows + 1, lines):
            p.drawLine(0, i * cell, cols * cell, i * cell)
        for i in range(0, cols + 1, lines):
            p.drawLine(i * cell, 0, i * cell, rows * cell)
    p.end()
    return pm


def _picture(pm: QPixmap, tip: str = "") -> QLabel:
    label = QLabel()
    label.setPixmap(pm)
    label.setToolTip(tip)
    return label


def _wrapped(text: str) -> QLabel:
    label = plain(QLabel(text))
    label.setWordWrap(True)
    return label


def _clear(layout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item.widget() is not None:
            item.widget().deleteLater()


class ImageView(LazyView):
    """The three pictures of an image model, following the session (and a message for a text model)."""

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        bridge.sigTraceChanged.connect(self.request_refresh)
        bridge.sigHeadChanged.connect(lambda _: self.request_refresh())

    def build(self) -> None:
        self.message = plain(QLabel())
        self.layer = QComboBox()
        self.head = QComboBox()
        self.query = QComboBox()
        for box in (self.layer, self.head, self.query):
            box.activated.connect(lambda _: self.refresh())
        controls = QHBoxLayout()
        for text, box in (("Layer", self.layer), ("Head", self.head), ("Query", self.query)):
            controls.addWidget(plain(QLabel(text)))
            controls.addWidget(box)
        controls.addStretch(1)
        self.patches = QGridLayout()
        self.attention = QHBoxLayout()
        self.positions = QGridLayout()
        self.positions.setSpacing(6)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(_wrapped("Patches as tokens: the image cut into patches; each patch, its flattened pixels "
                                  "and its embedding (one row each)."))
        layout.addLayout(self.patches)
        layout.addWidget(_wrapped("Attention on the image: how much the query attends to each patch (red = more), "
                                  "and the rollout through all layers."))
        layout.addLayout(controls)
        layout.addLayout(self.attention)
        layout.addWidget(_wrapped("Positions in 2-D: at each patch's place, how alike its learned position is to "
                                  "every other patch's (red alike, blue opposite)."))
        layout.addLayout(self.positions)
        layout.addStretch(1)

    def apply_font_scale(self, f: float) -> None:
        self._cell = int(round(14 * f))

    def paint(self) -> None:
        model, trace = self.bridge.model, self.bridge.trace
        cfg = model.config
        image_model = cfg.arch == "vit"
        self.message.setText("" if image_model else "These pictures need an image model: open Presets ▸ "
                                                    "Handwritten digits (ViT).")
        for layout in (self.patches, self.attention, self.positions):
            _clear(layout)
        if not image_model:
            return
        cell = getattr(self, "_cell", 14)
        self._fill_choices(cfg, trace)
        image = trace.input("image")
        self.patches.addWidget(_picture(grid_pixmap(image, cell * 2, 0, PIXEL_MAX, "ink", lines=cfg.patch),
                                        "the image and its patch grid"), 0, 0, cfg.n_patches, 1,
                               Qt.AlignmentFlag.AlignTop)
        embed = trace["hook_patch_embed"]
        bound = float(np.abs(embed).max()) or 1.0
        flat = trace["hook_patches"]
        for i, (small, label) in enumerate(zip(patch_images(image, cfg), trace.tokens[1:])):
            self.patches.addWidget(plain(QLabel(label)), i, 1)
            self.patches.addWidget(_picture(grid_pixmap(small, cell, 0, PIXEL_MAX, "ink")), i, 2)
            self.patches.addWidget(_picture(grid_pixmap(flat[i][None], cell // 2 + 4, 0, 1, "ink"),
                                            "flattened pixels (0 to 1)"), i, 3)
            self.patches.addWidget(_picture(grid_pixmap(embed[i][None], cell // 2 + 2, -bound, bound, "div"),
                                            "patch embedding"), i, 4)
        layer = self.layer.currentIndex()
        head = None if self.head.currentIndex() == 0 else self.head.currentIndex() - 1
        query = self.query.currentIndex()
        att = attention_on_image(trace, cfg, layer, head, query)
        roll = rollout_on_image(trace, cfg, query)
        for title, grid in ((f"layer {layer}, {'mean of heads' if head is None else f'head {head}'}", att),
                            ("rollout, all layers", roll)):
            box = QVBoxLayout()
            box.addWidget(plain(QLabel(title)))
            box.addWidget(_picture(grid_pixmap(grid, cell * 2 * cfg.patch, 0, float(grid.max()) or 1.0, "heat",
                                               under=image)))
            self.attention.addLayout(box)
        self.attention.addStretch(1)
        sim = position_similarity(model.params["pos_embed.W_pos"], cfg)
        side = sim.shape[0]
        for r in range(side):
            for c in range(side):
                self.positions.addWidget(_picture(grid_pixmap(sim[r, c], max(6, cell // 2 + 2), -1, 1, "div"),
                                                  f"patch p{r},{c}"), r, c)

    def _fill_choices(self, cfg, trace) -> None:
        want = ([f"{i}" for i in range(cfg.n_layers)], ["mean"] + [f"{h}" for h in range(cfg.n_heads)],
                list(trace.tokens))
        for box, items in zip((self.layer, self.head, self.query), want):
            if [box.itemText(i) for i in range(box.count())] != items:
                keep = box.currentIndex()
                box.blockSignals(True)
                box.clear()
                box.addItems(items)
                box.setCurrentIndex(keep if 0 <= keep < len(items) else 0)
                box.blockSignals(False)


__all__ = ["ImageView", "grid_pixmap"]
