"""An image model seen through its tokens: patches as tokens, attention on the image, positions in 2-D.

- Patches as tokens: the image with its patch grid, then each patch beside its flattened vector
  and its embedding (one row each).
- Attention on the image: for the [CLS] query (or a patch clicked on either picture, outlined), the
  chosen layer's attention weights drawn over the image, per head or averaged, and the attention
  rollout through all layers.
- Positions in 2-D: for each patch, a little grid of the cosine similarity of its learned position
  with every other patch's (Dosovitskiy et al., 2021, Fig. 7).

The pictures shrink to the view's width (a projector's large type included): the view scrolls
down, never sideways.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QBoxLayout, QComboBox, QGridLayout, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from simulator.vision import PIXEL_MAX, attention_on_image, patch_images, position_similarity, rollout_on_image
from ui.bridge import SessionBridge
from ui.lazy import LazyView
from ui.messages import plain

CELL = 14  # a pixel's side in the patches picture at type scale 1; smaller when the view is narrow
MIN_CELL = 2
POS_GAP = 6  # between the little grids of Positions in 2-D
COLUMN_GAP = 24  # between the patches and the attention pictures when they stand side by side
SHRINK_WIDE = 0.6  # side by side if the pictures need not shrink below this share of the type's size


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
                under: np.ndarray | None = None, outline: tuple[int, int] | None = None) -> QPixmap:
    """A [rows, cols] array as coloured cells; `lines` draws a frame every that many cells.

    `under` (same shape or finer) is a grey image drawn first, the values laid over it half transparent.
    `outline` (row, col) frames one cell in a heavy dark line (the chosen query patch).
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
    if outline is not None:
        p.setPen(QPen(QColor("#111111"), 3))
        p.drawRect(QRectF(outline[1] * cell + 1.5, outline[0] * cell + 1.5, cell - 2, cell - 2))
    p.end()
    return pm


def _picture(pm: QPixmap, tip: str = "") -> QLabel:
    label = QLabel()
    label.setPixmap(pm)
    label.setToolTip(tip)
    return label


class PatchPicture(QLabel):
    """A picture laid on the image's patch grid: a click on a patch picks it as the query."""

    sigPatchClicked = Signal(int)  # token index of the patch clicked (1 + row·side + col; 0 is [CLS])

    def __init__(self, pm: QPixmap, side: int, tip: str = "") -> None:
        super().__init__()
        self.side = side
        self.setPixmap(pm)
        self.setFixedSize(pm.size())  # the pixmap fills the label: a click's position is a place on it
        self.setToolTip(tip)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def patch_center(self, token: int) -> QPoint:
        """Where patch token `token` (1 …) is drawn, in the label's coordinates."""
        row, col = divmod(token - 1, self.side)
        size = (self.width() - 1) / self.side
        return QPoint(int((col + 0.5) * size), int((row + 0.5) * size))

    def mousePressEvent(self, event) -> None:
        size = (self.width() - 1) / self.side
        row, col = int(event.position().y() // size), int(event.position().x() // size)
        if 0 <= row < self.side and 0 <= col < self.side:
            self.sigPatchClicked.emit(1 + row * self.side + col)


def _wrapped(text: str) -> QLabel:
    label = plain(QLabel(text))
    label.setWordWrap(True)
    return label


def _clear(layout) -> None:
    """Empty `layout`, deleting its widgets and those of the layouts inside it."""
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget()
        if widget is not None:
            widget.setParent(None)  # out of the view now (hidden), deleted at the next turn of the loop
            widget.deleteLater()
        elif item.layout() is not None:
            _clear(item.layout())
            item.layout().deleteLater()


class ImageView(LazyView):
    """The three pictures of an image model, following the session (and a message for a text model)."""

    ABOUT = ("Image: the same Transformer reading a picture. The image is cut into patches that become tokens; "
             "the attention of the chosen query (click a patch to choose it) is drawn over the image, per head "
             "or averaged, with the rollout through all layers; the little grids show how alike the learned "
             "positions of the patches are.")

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        bridge.sigTraceChanged.connect(self.request_refresh)
        bridge.sigHeadChanged.connect(lambda _: self.request_refresh())

    def build(self) -> None:
        self.cell = 0  # the cell size the pictures were last drawn at (0: not drawn yet)
        self.message = plain(QLabel())
        self.layer = QComboBox()
        self.head = QComboBox()
        self.query = QComboBox()
        for box in (self.layer, self.head, self.query):
            box.activated.connect(lambda _: self.refresh())
        self.controls = QHBoxLayout()
        for text, box in (("Layer", self.layer), ("Head", self.head), ("Query", self.query)):
            self.controls.addWidget(plain(QLabel(text)))
            self.controls.addWidget(box)
        self.controls.addStretch(1)
        self.patches = QGridLayout()
        self.attention = QHBoxLayout()
        self.positions = QGridLayout()
        self.positions.setSpacing(POS_GAP)
        self.patches.setColumnStretch(5, 1)  # the pictures keep to the left, side by side
        positions = QHBoxLayout()
        positions.addLayout(self.positions)
        positions.addStretch(1)
        left, right = QVBoxLayout(), QVBoxLayout()
        left.addWidget(_wrapped("Patches as tokens: the image cut into patches; each patch, its flattened pixels "
                                "and its embedding (one row each)."))
        left.addLayout(self.patches)
        left.addStretch(1)
        right.addWidget(_wrapped("Attention on the image: how much the query attends to each patch (red = more), "
                                 "and the rollout through all layers. Click a patch to make it the query; "
                                 "pick [CLS] again under Query."))
        right.addLayout(self.controls)
        right.addLayout(self.attention)
        right.addWidget(_wrapped("Positions in 2-D: at each patch's place, how alike its learned position is to "
                                 "every other patch's (red alike, blue opposite)."))
        right.addLayout(positions)
        right.addStretch(1)
        # side by side where the room allows (attention in sight without scrolling), else one under the other
        self.columns = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.columns.addLayout(left)
        self.columns.addSpacing(COLUMN_GAP)  # a spacing of its own: setSpacing would pass on to the grids inside
        self.columns.addLayout(right, 1)
        self.wide = True
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addLayout(self.columns)
        layout.addStretch(1)

    def apply_font_scale(self, f: float) -> None:
        if self.cell:  # drawn already: the pictures' size follows the type (see `_layout_for`)
            self.request_refresh()

    # --- fitting the width ---

    def _room(self) -> int:
        """The width the pictures may take: the scroll area's, less a vertical scroll bar, whether
        shown or not (so that the bar coming and going cannot make the pictures flicker)."""
        scroll = self.parentWidget().parentWidget() if self.parentWidget() is not None else None
        if not isinstance(scroll, QScrollArea):
            return self.width()
        return scroll.width() - 2 * scroll.frameWidth() - scroll.verticalScrollBar().sizeHint().width()

    def _widths(self, cell: int, cfg) -> tuple[int, int]:
        """(patches column, attention column) widths with the pictures drawn at `cell`, spacing included."""
        spacing = max(self.patches.horizontalSpacing(), 0)
        label = self.fontMetrics().horizontalAdvance("p00,00")
        image = 2 * cfg.image_size * cell + 1
        pictures = [image, cfg.patch * cell, cfg.patch_pixels * (cell // 2 + 4), cfg.d_model * (cell // 2 + 2)]
        patches = sum(w + 1 for w in pictures) + label + 4 * spacing
        return patches, max(2 * image + spacing, self.controls.sizeHint().width())

    def _inner_room(self) -> int:
        margins = self.layout().contentsMargins()
        return self._room() - margins.left() - margins.right()

    def _layout_for(self, cfg) -> tuple[int, bool]:
        """(cell size, side by side) for the room: side by side (the attention in sight without
        scrolling) if the pictures need not shrink below SHRINK_WIDE of the type's size for that,
        else one column under the other, the pictures made smaller until each column fits."""
        natural = int(round(CELL * self._scale))
        room = self._inner_room()
        for cell in range(natural, max(MIN_CELL, int(natural * SHRINK_WIDE)) - 1, -1):
            if sum(self._widths(cell, cfg)) + COLUMN_GAP <= room:
                return cell, True
        cell = natural
        while cell > MIN_CELL and max(self._widths(cell, cfg)) > room:
            cell -= 1
        return cell, False

    def _position_cell(self, cell: int, side: int, room: int) -> int:
        """The cell of Positions in 2-D: side × side little grids of side × side cells, within `room`."""
        return max(1, min(max(6, cell), (room - POS_GAP * side) // (side * side) - 1))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        cfg = self.bridge.model.config
        if self._built and cfg.arch == "vit":
            if self._layout_for(cfg) != (self.cell, self.wide):
                self.request_refresh()

    def _pick_query(self, token: int) -> None:
        self.query.setCurrentIndex(token)
        self.refresh()

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
        self.cell, self.wide = self._layout_for(cfg)
        cell = self.cell
        self.columns.setDirection(QBoxLayout.Direction.LeftToRight if self.wide else QBoxLayout.Direction.TopToBottom)
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
        side = cfg.image_size // cfg.patch
        outline = None if query == 0 else divmod(query - 1, side)
        asked = f"query {trace.tokens[query]}"
        for title, grid in ((f"layer {layer}, {'mean of heads' if head is None else f'head {head}'}, {asked}", att),
                            (f"rollout, all layers, {asked}", roll)):
            box = QVBoxLayout()
            box.addWidget(_wrapped(title))
            picture = PatchPicture(grid_pixmap(grid, cell * 2 * cfg.patch, 0, float(grid.max()) or 1.0, "heat",
                                               under=image, outline=outline), side,
                                   "click a patch to make it the query")
            picture.sigPatchClicked.connect(self._pick_query)
            box.addWidget(picture)
            box.addStretch(1)
            self.attention.addLayout(box)
        self.attention.addStretch(1)
        sim = position_similarity(model.params["pos_embed.W_pos"], cfg)
        patches_width, _ = self._widths(cell, cfg)
        right_room = self._inner_room() - (patches_width + COLUMN_GAP if self.wide else 0)
        pos_cell = self._position_cell(cell, side, right_room)
        for r in range(side):
            for c in range(side):
                self.positions.addWidget(_picture(grid_pixmap(sim[r, c], pos_cell, -1, 1, "div"),
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


__all__ = ["ImageView", "PatchPicture", "grid_pixmap"]
