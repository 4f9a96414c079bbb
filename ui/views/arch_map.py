"""The model as a diagram: embedding, each layer's norms, attention (with its heads),
MLP and residual adds, the unembedding; an encoder-decoder's two stacks side by side
with the cross-attention fed from the encoder. The box holding the current step is
highlighted; clicking a box jumps there, clicking a head's chip selects that head.

Built from the graph nodes alone (stack, layer, sublayer, op), so every configuration
the engine can build gets its diagram.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.bridge import SessionBridge
from ui.pictures.colormaps import HEAD_COLORS
from ui.pictures.paper import Paper, mix, paper_of
from ui.pictures.slicing import role_name
from ui.views.model_view import switch_menu

COL_W, GAP, PAD, COL_GAP = 230.0, 16.0, 30.0, 80.0
HEIGHTS = {"attn": 58.0, "add": 28.0, "embed": 46.0, "pos": 46.0}  # every other box: BOX_H
SKIP = 14.0  # how far left of the boxes the residual stream's skip line runs
BOX_H = 36.0
LABEL_PT = 12.0
MIN_SCALE = 0.55  # below this the labels are unreadable; let a scroll area take over
FILL = {"attn": "#dbe9f6", "mlp": "#fde5cc", "norm": "#eeeeee", "embed": "#e3f1dc", "depth": "#efe2f3",
        "final": "#e3f1dc"}
CURRENT_FILL = QColor("#fff3b0")


@dataclass(frozen=True)
class _Ink:
    """The diagram's colours on one paper: the pastel fills deepen on a dark ground, so the boxes
    keep their kind's hue without glaring, and the text turns light."""

    ground: QColor
    text: QColor
    edge: QColor  # of a box
    line: QColor  # arrows, the residual stream, layer names
    frame: QColor  # the dashed frame of a layer
    cross: QColor  # the encoder output feeding cross-attention
    dark: bool

    @classmethod
    def of(cls, paper: Paper) -> _Ink:
        if not paper.dark:
            return cls(paper.ground, QColor("#111111"), QColor("#707070"), QColor("#505050"), QColor("#9a9a9a"),
                       QColor("#0072B2"), False)
        return cls(paper.ground, paper.ink, mix(paper.ink, paper.ground, 0.5), mix(paper.ink, paper.ground, 0.3),
                   mix(paper.ink, paper.ground, 0.55), QColor("#56B4E9"), True)

    def fill(self, kind: str) -> QColor:
        pastel = QColor(FILL.get(kind, "#f4f4f4"))
        return mix(pastel, self.ground, 0.78) if self.dark else pastel


@dataclass
class Box:
    key: str
    kind: str  # embed, pos, norm, attn, mlp, add, depth, final
    label: str
    names: list[str] = field(default_factory=list)  # the steps inside, in order
    stack: str = ""
    layer: int | None = None
    rect: QRectF = field(default_factory=QRectF)  # natural (unscaled) coordinates
    chips: list[QRectF] = field(default_factory=list)  # one per head, attention boxes only


def _box_key(node) -> tuple[str, str]:
    """(key, kind) of the box a node is drawn in."""
    if node.op == "add":
        return node.name, "add"
    if node.op == "layernorm":
        return node.name, "norm"
    if node.op == "embed":
        return node.name, "embed"
    if node.op in ("pos_sinusoidal", "pos_learned"):
        return node.name, "pos"
    if node.sublayer == "depth":
        return node.name.rsplit(".hook_", 1)[0], "depth"
    if node.sublayer in ("attn", "cross_attn", "mlp"):
        return f"{node.stack}/{node.layer}/{node.sublayer}", "mlp" if node.sublayer == "mlp" else "attn"
    return node.name, "final"


HEAD_LABELS = {"logits": "Unembed → logits", "probs": "Softmax → probabilities"}


def _label(kind: str, node, config) -> str:
    if kind == "embed":
        return "Token embedding"
    if kind == "pos":
        return "Position (sin/cos)" if node.op == "pos_sinusoidal" else "Position (learned)"
    if kind == "norm":
        return "Final LayerNorm" if node.sublayer == "final" else "LayerNorm"
    if kind == "attn":
        if node.sublayer == "cross_attn":
            return "Cross-attention"
        masked = node.stack != "encoder" and config.arch != "encoder" and config.attention != "full"
        what = "Linear attention" if config.attention == "linear" else (
            "Masked self-attention" if masked else "Self-attention")
        return what + (" + RoPE" if config.positional == "rope" else "")
    if kind == "mlp":
        return "MLP (exact GELU)" if config.activation == "gelu_exact" else f"MLP ({config.activation.upper()})"
    if kind == "depth":
        if node.op == "dwa":
            return "Depth-weighted average"
        return "Depth attention (read-out)" if node.layer is None else "Depth attention"
    if config.arch != "vit" and node.name in HEAD_LABELS:
        return HEAD_LABELS[node.name]
    return role_name(node, config) or node.name


def build_boxes(graph, config) -> list[Box]:
    """The diagram's boxes in forward order, with natural-size rectangles."""
    boxes: dict[str, Box] = {}
    for node in graph.nodes:
        key, kind = _box_key(node)
        if key not in boxes:
            boxes[key] = Box(key, kind, "+" if kind == "add" else _label(kind, node, config),
                             stack=node.stack, layer=node.layer if node.sublayer != "embed" else None)
        boxes[key].names.append(node.name)
    ordered = list(boxes.values())
    stacks = list(dict.fromkeys(b.stack for b in ordered if b.stack))
    column = {s: i for i, s in enumerate(stacks)}
    y = {s: PAD for s in stacks or [""]}
    last_col = stacks[-1] if stacks else ""
    prev: Box | None = None
    for b in ordered:
        stack = b.stack or last_col
        x = PAD + column.get(stack, 0) * (COL_W + COL_GAP)
        if b.kind == "pos" and prev is not None and prev.kind == "embed":
            # the position encoding sits beside the token embedding, both feeding one "+"
            half = (COL_W - GAP) / 2
            prev.rect.setWidth(half)
            b.rect = QRectF(x + half + GAP, prev.rect.top(), half, prev.rect.height())
            prev = b
            continue
        if prev is not None and prev.layer != b.layer and b.layer is not None:
            y[stack] += 22.0  # room for the layer frame's label
        h = HEIGHTS.get(b.kind, BOX_H)
        w = h if b.kind == "add" else COL_W
        b.rect = QRectF(x + (COL_W - w) / 2, y[stack], w, h)
        y[stack] += h + GAP
        prev = b
    for b in ordered:
        if b.kind == "attn":
            n = config.n_heads
            size = min(16.0, (COL_W - 20) / n - 4)
            x0 = b.rect.center().x() - (n * (size + 4) - 4) / 2
            b.chips = [QRectF(x0 + h * (size + 4), b.rect.bottom() - size - 6, size, size) for h in range(n)]
    return ordered


class ArchMap(QWidget):
    """See the module docstring."""

    sigToggleRequested = Signal(str, object)  # component, "zero" | "mean" | None: switch it off or back on

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._graph = None
        self._boxes: list[Box] = []
        self._of_step: dict[str, Box] = {}
        self._font_scale = 1.0
        self._ink = _Ink.of(paper_of(self))  # set again on every paint: the theme may have changed
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        bridge.sigTraceChanged.connect(self._rebuild)
        bridge.sigStepChanged.connect(self.update)
        bridge.sigHeadChanged.connect(self.update)
        self._rebuild()

    # --- for the window and tests ----------------------------------------------------------

    def boxes(self) -> dict[str, QRectF]:
        """Every step name (aliases too) → the rectangle of its box, in widget coordinates."""
        out = {name: self._to_widget(b.rect) for name, b in self._of_step.items()}
        for alias, target in self.bridge.trace.graph.aliases.items():
            if target in self._of_step:
                out[alias] = out[target]
        return out

    def head_chips(self, step: str) -> list[QRectF]:
        """The head chips of the attention box holding `step`, in widget coordinates."""
        return [self._to_widget(r) for r in self._of_step[step].chips]

    def current(self) -> str:
        """The current step's name; its box is the highlighted one."""
        return self.bridge.stepper.name

    def set_font_scale(self, f: float) -> None:
        """Draw everything `f` times larger (when there is room), e.g. 1.4 when projecting."""
        self._font_scale = float(f)
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        w, h = self._natural()
        return QSize(int(w * self._font_scale), int(h * self._font_scale))

    def minimumSizeHint(self) -> QSize:
        w, h = self._natural()
        return QSize(int(w * MIN_SCALE), int(h * MIN_SCALE))

    # --- geometry --------------------------------------------------------------------------

    def _rebuild(self) -> None:
        graph = self.bridge.trace.graph
        if graph is not self._graph:
            self._graph = graph
            self._boxes = build_boxes(graph, self.bridge.model.config)
            self._of_step = {name: b for b in self._boxes for name in b.names}
            self.updateGeometry()
        self.update()

    def _natural(self) -> tuple[float, float]:
        right = max((b.rect.right() for b in self._boxes), default=0.0)
        bottom = max((b.rect.bottom() for b in self._boxes), default=0.0)
        return right + PAD, bottom + PAD

    def _scale(self) -> tuple[float, float, float]:
        """Scale and offset that fit the diagram in the widget (never above the font scale)."""
        w, h = self._natural()
        s = max(MIN_SCALE, min(self._font_scale, self.width() / w, self.height() / h))
        return s, max(0.0, (self.width() - w * s) / 2), 0.0

    def _to_widget(self, r: QRectF) -> QRectF:
        s, dx, dy = self._scale()
        return QRectF(r.x() * s + dx, r.y() * s + dy, r.width() * s, r.height() * s)

    # --- interaction -----------------------------------------------------------------------

    def component_at(self, pos: QPointF) -> str | None:
        """The head (a chip) or MLP (a box) under a widget point, as `simulator.interp` names it."""
        s, dx, dy = self._scale()
        p = QPointF((pos.x() - dx) / s, (pos.y() - dy) / s)
        for b in self._boxes:
            prefix = f"{b.stack}." if b.stack else ""
            for h, chip in enumerate(b.chips):
                if chip.adjusted(-2, -2, 2, 2).contains(p):
                    kind = "cross_attn" if ".cross_attn." in b.names[0] else "attn"
                    return f"{prefix}blocks.{b.layer}.{kind}.head{h}"
            if b.kind == "mlp" and b.rect.contains(p):
                return f"{prefix}blocks.{b.layer}.mlp"
        return None

    def mousePressEvent(self, ev: QMouseEvent) -> None:
        if ev.button() == Qt.MouseButton.RightButton:
            component = self.component_at(ev.position())
            if component is not None:  # a head or an MLP: offer to switch it off
                switch_menu(self, component, self.bridge.session.ablate.get(component),
                            self.sigToggleRequested.emit).popup(ev.globalPosition().toPoint())
            return
        if ev.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(ev)
        s, dx, dy = self._scale()
        p = QPointF((ev.position().x() - dx) / s, (ev.position().y() - dy) / s)
        for b in self._boxes:
            for h, chip in enumerate(b.chips):
                if chip.adjusted(-2, -2, 2, 2).contains(p):
                    self.bridge.set_head(h)
                    return
            if b.rect.contains(p):
                self.bridge.stepper.jump(b.names[0])
                return

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:
        s, dx, dy = self._scale()
        p = QPointF((ev.position().x() - dx) / s, (ev.position().y() - dy) / s)
        over = any(b.rect.contains(p) for b in self._boxes)
        self.setCursor(Qt.CursorShape.PointingHandCursor if over else Qt.CursorShape.ArrowCursor)

    # --- painting --------------------------------------------------------------------------

    def paintEvent(self, ev) -> None:
        with QPainter(self) as p:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._ink = _Ink.of(paper_of(self))
            p.fillRect(self.rect(), self._ink.ground)
            s, dx, dy = self._scale()
            p.translate(dx, dy)
            p.scale(s, s)
            current = self._of_step.get(self.bridge.trace.graph.node(self.bridge.stepper.name).name)
            self._paint_frames(p)
            self._paint_arrows(p)
            for b in self._boxes:
                self._paint_box(p, b, b is current)

    def _font(self, pt: float, bold: bool = False) -> QFont:
        f = QFont()  # the painter's scale enlarges it with the boxes
        f.setPointSizeF(pt)
        f.setBold(bold)
        return f

    def _paint_frames(self, p: QPainter) -> None:
        """A rounded frame around each layer, labelled "Layer l" (and its stack)."""
        groups: dict[tuple[str, int], QRectF] = {}
        for b in self._boxes:
            if b.layer is not None:
                key = (b.stack, b.layer)
                groups[key] = groups[key].united(b.rect) if key in groups else QRectF(b.rect)
        p.setFont(self._font(LABEL_PT - 1, bold=True))
        for (stack, layer), r in groups.items():
            x = r.center().x() - COL_W / 2 - SKIP - 8
            frame = QRectF(x, r.top() - 20, COL_W + SKIP + 16, r.height() + 26)
            p.setPen(QPen(self._ink.frame, 1.5, Qt.PenStyle.DashLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(frame, 8, 8)
            p.setPen(self._ink.line)
            name = f"{stack.capitalize()} layer {layer}" if stack else f"Layer {layer}"
            p.drawText(frame.adjusted(0, 2, -8, 0), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, name)

    def _paint_arrows(self, p: QPainter) -> None:
        p.setPen(QPen(self._ink.line, 1.6))
        p.setBrush(Qt.BrushStyle.NoBrush)
        by_col: dict[float, list[Box]] = {}
        for b in self._boxes:
            if b.kind != "pos":
                by_col.setdefault(round(b.rect.center().x() / (COL_W + COL_GAP)), []).append(b)
        for col in by_col.values():
            for a, b in zip(col, col[1:]):
                self._arrow(p, QPointF(b.rect.center().x(), a.rect.bottom()), QPointF(b.rect.center().x(),
                                                                                      b.rect.top()))
        graph = self.bridge.trace.graph
        for b in self._boxes:
            if b.kind == "pos":
                add = next((c for c in self._boxes if c.kind == "add" and c.stack == b.stack), None)
                if add is not None:
                    self._arrow(p, QPointF(b.rect.center().x(), b.rect.bottom()),
                                QPointF(add.rect.right(), add.rect.center().y()))
            elif b.kind == "add" and b.layer is not None:
                # the residual stream skips the sublayer and joins at the "+"
                src = self._of_step.get(graph.node(graph.node(b.names[0]).inputs[0]).name)
                if src is not None:
                    x = b.rect.center().x() - COL_W / 2 - SKIP
                    start = QPointF(src.rect.center().x(), src.rect.bottom() + GAP / 2)
                    path = QPainterPath(start)
                    path.lineTo(x, start.y())
                    path.lineTo(x, b.rect.center().y())
                    p.drawPath(path)
                    self._arrow(p, QPointF(x, b.rect.center().y()), QPointF(b.rect.left(), b.rect.center().y()))
            elif b.kind == "attn" and "cross_attn" in b.key:
                node = graph.node(next(n for n in b.names if n.endswith("hook_k")))
                src = self._of_step.get(node.inputs[0])
                if src is not None:
                    p.setPen(QPen(self._ink.cross, 2.2))
                    start = QPointF(src.rect.right(), src.rect.center().y())
                    end = QPointF(b.rect.left(), b.rect.center().y())
                    path = QPainterPath(start)
                    path.cubicTo(start + QPointF(COL_GAP, 0), end - QPointF(COL_GAP, 0), end)
                    p.drawPath(path)
                    self._arrow(p, end - QPointF(1, 0), end)
                    p.setPen(QPen(self._ink.line, 1.6))

    def _arrow(self, p: QPainter, a: QPointF, b: QPointF) -> None:
        p.drawLine(a, b)
        d = b - a
        length = max((d.x() ** 2 + d.y() ** 2) ** 0.5, 1e-6)
        ux, uy = d.x() / length, d.y() / length
        head = 7.0
        left = QPointF(b.x() - head * ux + head * 0.5 * uy, b.y() - head * uy - head * 0.5 * ux)
        right = QPointF(b.x() - head * ux - head * 0.5 * uy, b.y() - head * uy + head * 0.5 * ux)
        p.save()
        p.setBrush(p.pen().color())
        p.drawPolygon([b, left, right])
        p.restore()

    def _paint_box(self, p: QPainter, b: Box, current: bool) -> None:
        ink = self._ink
        fill = CURRENT_FILL if current else ink.fill(b.kind)
        text = QColor("#111111") if current else ink.text  # the current box stays bright, with dark text
        p.setPen(QPen(text if current else ink.edge, 3.5 if current else 1.2))
        p.setBrush(fill)
        if b.kind == "add":
            p.drawEllipse(b.rect)
            p.setFont(self._font(LABEL_PT + 4, bold=True))
            p.setPen(text)
            p.drawText(b.rect, Qt.AlignmentFlag.AlignCenter, "+")
            return
        p.drawRoundedRect(b.rect, 6, 6)
        p.setPen(text)
        p.setFont(self._font(LABEL_PT, bold=current))
        text_rect = b.rect.adjusted(4, 2, -4, -(22 if b.chips else 2))
        p.drawText(text_rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, b.label)
        off = self.bridge.session.ablate
        prefix = f"{b.stack}." if b.stack else ""
        kind = "cross_attn" if b.chips and ".cross_attn." in b.names[0] else "attn"
        for h, chip in enumerate(b.chips):
            p.setBrush(HEAD_COLORS[h % len(HEAD_COLORS)])
            selected = h == self.bridge.head
            p.setPen(QPen(ink.text, 2.5) if selected else Qt.PenStyle.NoPen)
            p.drawRect(chip.adjusted(-1, -1, 1, 1) if selected else chip)
            if f"{prefix}blocks.{b.layer}.{kind}.head{h}" in off:
                self._cross(p, chip.adjusted(-2, -2, 2, 2))
        if b.kind == "mlp" and f"{prefix}blocks.{b.layer}.mlp" in off:
            self._cross(p, b.rect)

    @staticmethod
    def _cross(p: QPainter, r: QRectF) -> None:
        """A switched-off component (see `ui.views.model_view`)."""
        p.setPen(QPen(QColor(180, 0, 0), 2.5))
        p.drawLine(r.topLeft(), r.bottomRight())
        p.drawLine(r.topRight(), r.bottomLeft())
