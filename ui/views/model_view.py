"""Every head at a glance: a grid of attention-pattern thumbnails, one row per layer.

BertViz's "model view" in one picture: rows are layers (self-attention, then cross-attention
for a decoder that has it), columns are heads, plus one box per layer for its MLP. Click a
thumbnail to go to that head's pattern step; right-click a head or an MLP to switch it off
(zeroed, or replaced by its mean over positions) or back on. Switched-off components are
greyed and crossed; thumbnails the last edit changed are outlined, as cells are elsewhere.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen
from PySide6.QtWidgets import QMenu, QSizePolicy, QWidget

from ui.bridge import SessionBridge
from ui.lazy import LazyView
from ui.pictures import colormaps
from ui.pictures.caption import Caption
from ui.pictures.frame import framed, label_font
from ui.pictures.paper import paper_of

CHANGED = QColor(255, 140, 0)
SELECTED = QColor(20, 20, 20)
OFF = QColor(235, 235, 235, 215)


@dataclass
class Thumb:
    component: str  # "blocks.1.attn.head0" or "blocks.1.mlp"
    step: str  # the step a click goes to
    head: int | None
    image: QImage | None  # None for an MLP box
    changed: bool = False
    rect: QRectF = field(default_factory=QRectF)


def pattern_images(patterns: np.ndarray, lut_words: np.ndarray) -> list[QImage]:
    """Each head's pattern [head, q_pos, k_pos] as an image, probabilities 0..1 on the sequential map."""
    # weights are in [0, 1] (masked keys are exactly 0), so no clipping: one multiply, one cast, one take
    idx = (patterns * 255.0 + 0.5).astype(np.intp)
    words = np.take(lut_words, idx)  # [head, q, k] RGBA words
    _, h, w = words.shape
    return [QImage(words[i].data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy() for i in range(len(words))]


def switch_menu(parent: QWidget, component: str, mode: str | None,
                request: Callable[[str, str | None], None]) -> QMenu:
    """Switch `component` off (zeroed or mean) or back on; `mode` is how it is off now (None: on)."""
    menu = QMenu(parent)
    if mode:
        menu.addAction(f"Switch {component} back on", lambda: request(component, None))
    for m, what in (("zero", "set its output to 0"), ("mean", "replace it by its mean over positions")):
        if mode != m:
            menu.addAction(f"Switch {component} off: {what}", lambda m=m: request(component, m))
    return menu


class HeadGrid(QWidget):
    """The painted grid (see the module docstring)."""

    sigThumbClicked = Signal(object)  # Thumb
    sigToggleRequested = Signal(str, object)  # component, "zero" | "mean" | None (back on)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[tuple[str, list[Thumb]]] = []  # (row label, thumbs)
        self.off: dict[str, str] = {}
        self.selected: str | None = None
        self._scale = 1.0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # paintEvent fills every pixel itself

    def sizeHint(self) -> QSize:
        return QSize(600, 400)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, 120)

    def set_font_scale(self, f: float) -> None:
        self._scale = f
        self.update()

    def set_rows(self, rows: list[tuple[str, list[Thumb]]], off: dict[str, str], selected: str | None) -> None:
        self.rows, self.off, self.selected = rows, dict(off), selected
        self.update()

    def thumbs(self) -> list[Thumb]:
        return [t for _, row in self.rows for t in row]

    def _font(self) -> QFont:
        font = QFont()
        font.setPointSizeF(11.0 * self._scale)
        return font

    def _layout(self) -> tuple[float, float, float]:
        """(left margin, top margin, cell size) fitting every row and column in the widget."""
        fm = QFontMetricsF(self._font())
        left = max([fm.horizontalAdvance(label) for label, _ in self.rows] + [0]) + 10
        top = fm.height() + 6
        n_cols = max([len(r) for _, r in self.rows] + [1])
        n_rows = max(len(self.rows), 1)
        cell = max(min((self.width() - left - 4) / n_cols, (self.height() - top - 4) / n_rows), 8.0)
        # centred: a wide tab would otherwise leave all its spare room on the right
        left += max(0.0, (self.width() - left - 4 - n_cols * cell) / 2)
        return left, top, cell

    def paintEvent(self, ev) -> None:
        p = QPainter(self)
        paper = paper_of(self)
        p.fillRect(self.rect(), paper.ground)
        if not self.rows:
            return
        font = self._font()
        p.setFont(font)
        left, top, cell = self._layout()
        pad = max(3.0, cell * 0.06)
        n_heads = max(sum(1 for t in r if t.head is not None) for _, r in self.rows)
        p.setPen(paper.ink)
        for h in range(n_heads):
            p.drawText(QRectF(left + h * cell, 0, cell, top), Qt.AlignmentFlag.AlignCenter, f"head {h}")
        p.drawText(QRectF(left + n_heads * cell, 0, cell, top), Qt.AlignmentFlag.AlignCenter, "MLP")
        for r, (label, row) in enumerate(self.rows):
            y = top + r * cell
            p.setPen(paper.ink)
            p.drawText(QRectF(0, y, left - 8, cell), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       label)
            for t in row:
                col = t.head if t.head is not None else n_heads
                t.rect = QRectF(left + col * cell + pad, y + pad, cell - 2 * pad, cell - 2 * pad)
                self._paint_thumb(p, t)
        p.end()

    def _paint_thumb(self, p: QPainter, t: Thumb) -> None:
        r = t.rect
        if t.image is not None:
            p.drawImage(r, t.image)
        else:
            p.fillRect(r, QColor(225, 232, 245))
            p.setPen(Qt.GlobalColor.black)
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, "MLP")
        mode = self.off.get(t.component)
        if mode:
            p.fillRect(r, OFF)
            p.setPen(QPen(QColor(180, 0, 0), 2))
            p.drawLine(r.topLeft(), r.bottomRight())
            p.drawLine(r.topRight(), r.bottomLeft())
            text = f"off ({mode})"
            box = QFontMetricsF(p.font()).boundingRect(text).adjusted(-4, -2, 4, 2)
            box.moveCenter(r.center())
            p.fillRect(box, Qt.GlobalColor.white)
            p.setPen(QColor(140, 0, 0))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        outline = SELECTED if t.component == self.selected else CHANGED if t.changed else None
        if outline is not None:
            p.setPen(QPen(outline, 3 if outline is SELECTED else 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(r.adjusted(-2, -2, 2, 2))

    def thumb_at(self, pos: QPointF) -> Thumb | None:
        return next((t for t in self.thumbs() if t.rect.contains(pos)), None)

    def mousePressEvent(self, ev) -> None:
        t = self.thumb_at(ev.position())
        if t is None:
            return
        if ev.button() == Qt.MouseButton.LeftButton:
            self.sigThumbClicked.emit(t)
        elif ev.button() == Qt.MouseButton.RightButton:
            self.menu_for(t).popup(ev.globalPosition().toPoint())

    def menu_for(self, t: Thumb) -> QMenu:
        """The switch-off menu of one component."""
        return switch_menu(self, t.component, self.off.get(t.component), self.sigToggleRequested.emit)


class ModelView(LazyView):
    """Every layer × head's pattern, with the MLPs, and switches to turn them off."""

    def __init__(self, bridge: SessionBridge, toggle: Callable[[str, str | None], str | None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        # toggle(component, mode) -> error: how a switch becomes an undoable edit (the window's)
        self._toggle = toggle or (lambda c, m: self._toggle_directly(c, m))
        self._images: dict[str, tuple[np.ndarray, list[QImage]]] = {}  # pattern step -> (its array, images)
        self._cmap, self._lut = None, None
        bridge.sigTraceChanged.connect(self.request_refresh)
        bridge.sigStepChanged.connect(self.request_refresh)
        bridge.sigHeadChanged.connect(self.request_refresh)
        bridge.sigHighlightChanged.connect(self.request_refresh)

    def _toggle_directly(self, component: str, mode: str | None) -> str | None:
        ablate = dict(self.bridge.session.ablate)
        ablate.pop(component, None) if mode is None else ablate.__setitem__(component, mode)
        self.bridge.session.set_ablation(ablate)
        return None

    def build(self) -> None:
        self.grid = HeadGrid()
        self.caption = Caption()
        framed(self, None, self.grid, self.caption)
        self.grid.sigThumbClicked.connect(self.go_to)
        self.grid.sigToggleRequested.connect(self.toggle)

    def apply_font_scale(self, f: float) -> None:
        label_font(f, (self,), self.caption, 2)
        self.grid.set_font_scale(f)

    def go_to(self, t: Thumb) -> None:
        if t.head is not None:
            self.bridge.set_head(t.head)
        self.bridge.stepper.jump(t.step)

    def toggle(self, component: str, mode: str | None) -> None:
        error = self._toggle(component, mode)
        if error:
            self.caption.setText(error)

    def _caption(self, text: str) -> None:
        if text != self.caption.text():  # re-measuring the wrapped text costs a millisecond
            self.caption.setText(text)

    def paint(self) -> None:
        trace, cfg = self.bridge.trace, self.bridge.model.config
        changes = self.bridge.session.changes if self.bridge.highlight else {}
        if self._cmap is not colormaps.SEQUENTIAL:  # another colour map: redraw every image
            self._cmap, self._images = colormaps.SEQUENTIAL, {}
            self._lut = np.ascontiguousarray(colormaps.lookup_table(self._cmap)).view(np.uint32).ravel()
        lut = self._lut
        stacks = ["encoder.", "decoder."] if cfg.arch == "encoder-decoder" else [""]
        rows = []
        for p in stacks:
            for layer in range(cfg.n_layers):
                kinds = ("attn", "cross_attn") if p == "decoder." else ("attn",)
                for kind in kinds:
                    b = f"{p}blocks.{layer}."
                    name = f"{b}{kind}.hook_pattern"
                    pattern = trace[name]  # [head, q_pos, k_pos]
                    images = self._images.get(name)
                    if images is None or images[0] is not pattern:  # unchanged steps keep their very array
                        images = self._images[name] = (pattern, pattern_images(pattern, lut))
                    moved = changes[name].reshape(len(pattern), -1).max(axis=1) > 0 if name in changes else None
                    thumbs = [Thumb(f"{b}{kind}.head{h}", name, h, images[1][h],
                                    bool(moved is not None and moved[h]))
                              for h in range(cfg.n_heads)]
                    if kind == "attn":
                        out = b + "hook_mlp_out"
                        thumbs.append(Thumb(b + "mlp", out, None, None, out in changes))
                    where = {"encoder.": "enc ", "decoder.": "dec "}.get(p, "")
                    rows.append((f"{where}L{layer} {'cross' if kind == 'cross_attn' else 'self'}", thumbs))
        step = self.bridge.stepper.step
        selected = None
        if step.layer is not None and step.sublayer in ("attn", "cross_attn"):
            stack = step.stack + "." if step.stack else ""
            selected = f"{stack}blocks.{step.layer}.{step.sublayer}.head{self.bridge.head}"
        self.grid.set_rows(rows, dict(self.bridge.session.ablate), selected)
        off = ", ".join(f"{c} ({m})" for c, m in self.bridge.session.ablate.items())
        self._caption(
            "Each thumbnail is one head's attention pattern (rows: queries, columns: keys; bright = more weight). "
            "Click one to go to its step; right-click a head or an MLP to switch it off. "
            + (f"Switched off: {off}." if off else "Everything is switched on."))
