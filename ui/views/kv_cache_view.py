"""The KV cache view: the cached keys and values grow by one row per appended token.

For one layer and head it draws K and V as tables (a row per token, a column per d_head
number). After an append the new token's row is lit and marked "computed now"; the earlier rows
are marked "reused from cache" when the engine's rule for the cache holds (`Transformer.rerun`
uses `simulator.kv_cache` for one token more on a causal model, nothing switched off, the same
temperature) and the rows are unchanged; otherwise nothing is marked (a weight edit, an undo, a
decoder that sees the future). Below the tables, what the append saved, counted: rows of K and V,
and numbers over every step of the forward pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSignalBlocker, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSpinBox, QVBoxLayout, QWidget

from simulator.generate import decoded_side
from simulator.kv_cache import cacheable
from ui.bridge import SessionBridge
from ui.lazy import Lazy
from ui.pictures.append_buttons import AppendButtons
from ui.pictures.colormaps import DIVERGING
from ui.pictures.frame import NoteLabel, control_row
from ui.pictures.paper import Paper, mix, paper_of

NEW_ROW = QColor(230, 120, 0)
REUSED, COMPUTED = "reused from cache", "computed now"


def new_row_ink(paper: Paper) -> QColor:
    """The new row's orange for its text ("← computed now", its token): a third of the way to the ink,
    so it reads on either paper (the pure orange was 2.9:1 on white)."""
    return mix(NEW_ROW, paper.ink, 0.35)


def kv_layers(graph) -> list[tuple[str, str, str]]:
    """(label, K step, V step) of each self-attention layer whose keys grow as tokens are appended.

    An encoder-decoder's encoder and its cross-attention read the source, which does not grow.
    """
    names = {n.name for n in graph.nodes}
    out = []
    for name in (n.name for n in graph.nodes):
        if not name.endswith(".attn.hook_k") or name.startswith("encoder."):
            continue
        prefix = name[: -len("hook_k")]
        if prefix + "hook_v" in names:
            out.append((prefix.rstrip(".").replace(".attn", "").replace("blocks.", "layer "),
                        name, prefix + "hook_v"))
    return out


@dataclass(frozen=True)
class CacheState:
    """What the view shows of one trace, as plain data (tests read it without a window)."""

    n: int  # rows of K and V (tokens on the decoded side)
    tokens: tuple[str, ...]
    reused: tuple[bool, ...]  # per row: the very memory of the trace before (the cache), not recomputed
    appended: bool  # the trace is the previous one plus one token, made by the cache
    kv_rows_new: int  # rows of K and V computed for this trace (every layer and head)
    kv_rows_full: int  # rows of K and V a full run of this trace computes
    numbers_new: int  # numbers computed over every step (new cells)
    numbers_full: int  # numbers a full run of this trace computes


def cache_state(model, before, trace) -> CacheState:
    """How `trace` was made from `before` (the trace shown before it, or None)."""
    layers = kv_layers(model.graph)
    tokens = tuple(decoded_side(trace))
    n = len(tokens)
    heads = sum(trace[k].shape[1] for _label, k, _v in layers)
    full_rows = 2 * heads * n
    numbers_full = sum(int(np.size(trace[name])) for name in trace.names)
    reused = [False] * n
    appended = False
    if (before is not None and before.graph is trace.graph and layers and n > 1 and cacheable(model) is None
            and not trace.ablate and not before.ablate and before.temperature == trace.temperature
            and list(decoded_side(before)) == list(tokens[:-1])):
        # the engine's rule (Transformer.rerun): then only the new row is computed; check the rest is kept
        appended = all(np.array_equal(trace[name][: n - 1], before[name]) for _label, k, v in layers
                       for name in (k, v))
        reused = [appended and i < n - 1 for i in range(n)]
    if not appended:
        return CacheState(n, tokens, tuple(reused), False, full_rows, full_rows, numbers_full, numbers_full)
    numbers_new = 0
    for name in trace.names:
        new, old = trace[name], before[name]
        if new is not old:
            numbers_new += int(np.size(new)) - int(np.size(old))
    return CacheState(n, tokens, tuple(reused), True, 2 * heads, full_rows, numbers_new, numbers_full)


def savings_text(s: CacheState, layers: int, heads: int) -> str:
    """What the append saved, as numbers (plain text)."""
    if s.n == 0:
        return "No tokens yet."
    per = f"{layers} layer{'s' if layers != 1 else ''} × {heads} head{'s' if heads != 1 else ''}"
    if not s.appended:
        return (f"No token was appended just now: K and V hold {s.n} rows in each of the {per} "
                f"({s.kv_rows_full} rows in all). Append a token (the buttons above, the Sampling tab or the "
                f"next-token panel) and only its row is computed: {2 * layers * heads} rows of K and V instead of "
                f"{2 * layers * heads * (s.n + 1)} for a full rerun.")
    share = 100 * s.numbers_new / max(s.numbers_full, 1)
    return (f"This append computed {s.kv_rows_new} rows of K and V (one per head for each of the {per}, "
            f"K and V) and reused {s.kv_rows_full - s.kv_rows_new} from the cache; a full rerun computes all "
            f"{s.kv_rows_full}. Over every step of the forward pass: {s.numbers_new:,} numbers computed "
            f"instead of {s.numbers_full:,} ({share:.1f} %). The new query is still compared with all "
            f"{s.n} keys, so attention's share grows with the text.")


class KVTables(QWidget):
    """K and V of one head side by side, a row per token; the new row lit, cached rows marked."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.k = self.v = np.zeros((0, 0))
        self.tokens: tuple[str, ...] = ()
        self.reused: tuple[bool, ...] = ()
        self.appended = False
        self._font = QFont()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(150)

    def set_tables(self, k: np.ndarray, v: np.ndarray, tokens, reused, appended: bool) -> None:
        """`k`, `v`: [pos, d_head] of one head."""
        tokens = tuple("␣" if t == " " else t for t in tokens)  # a space is drawn, as in the token strip
        self.k, self.v, self.tokens, self.reused, self.appended = k, v, tokens, tuple(reused), appended
        self.update()

    def _text_y(self, y: float, row_h: float, line: float) -> float:
        """Top of a label centred on a row, kept inside the widget."""
        return min(y + row_h / 2 - line / 2, self.height() - line)

    def set_font_scale(self, f: float) -> None:
        self._font = QFont()
        self._font.setPointSizeF(11.0 * f)
        self.update()

    def _image(self, a: np.ndarray) -> QImage:
        span = float(np.max(np.abs(a))) if a.size else 1.0
        rgba = DIVERGING.map(0.5 + 0.5 * a / (span or 1.0), mode=pg.ColorMap.BYTE)  # [pos, d_head, 4]
        rgba = np.ascontiguousarray(rgba.reshape(a.shape[0], a.shape[1], 4).astype(np.uint8))
        img = QImage(rgba.data, a.shape[1], a.shape[0], 4 * a.shape[1], QImage.Format.Format_RGBA8888)
        return img.copy()  # own the pixels: `rgba` is freed when this returns

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        p = QPainter(self)
        paper = paper_of(self)  # light or dark with the theme, like the other pictures
        p.fillRect(self.rect(), paper.ground)
        n = len(self.k)
        if n == 0:
            p.end()
            return
        p.setFont(self._font)
        fm = QFontMetrics(self._font)
        line = fm.height()
        top = line + 6
        row_h = max(min(line + 2.0, (self.height() - top - 4) / n), 1.0)
        label_w = max(fm.horizontalAdvance(t) for t in self.tokens + ("token",)) + 12
        tag_w = fm.horizontalAdvance(f"↑ {REUSED}") + 16
        room = self.width() - label_w - tag_w - 24
        cell = max(min(room / (2 * self.k.shape[1]), 3 * line), 2.0)
        table_w = cell * self.k.shape[1]
        x_k, x_v = label_w, label_w + table_w + 12
        x_tag = x_v + table_w + 10
        p.setPen(paper.ink)
        p.drawText(QRectF(4, 0, label_w, line), Qt.AlignmentFlag.AlignLeft, "token")
        for x, name in ((x_k, "K (keys)"), (x_v, "V (values)")):
            p.drawText(QRectF(x, 0, table_w + 10, line), Qt.AlignmentFlag.AlignLeft, name)
        for x, a in ((x_k, self.k), (x_v, self.v)):
            p.drawImage(QRectF(x, top, table_w, row_h * n), self._image(a))
        every = max(1, int(np.ceil(line / row_h)))  # label every row that has room for its text
        for i in range(n):
            y = top + i * row_h
            new = self.appended and i == n - 1
            if (i % every == 0 and i <= n - 1 - every) or i == n - 1:  # the last row always, no overlap
                p.setPen(new_row_ink(paper) if new else paper.ink)
                p.drawText(QRectF(4, self._text_y(y, row_h, line), label_w - 10, line), Qt.AlignmentFlag.AlignRight,
                           self.tokens[i] if i < len(self.tokens) else "")
            if self.reused[i]:
                p.fillRect(QRectF(x_tag - 6, y, 4, row_h), paper.rule)
        if self.appended and n > 1:
            p.setPen(paper.muted)
            p.drawText(QRectF(x_tag, top, tag_w, max(row_h * (n - 1), line)),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"↑ {REUSED}")
        y_new = top + (n - 1) * row_h
        pen = QPen(NEW_ROW if self.appended else paper.ink, 3 if self.appended else 1)
        p.setPen(pen)
        if self.appended:
            for x in (x_k, x_v):
                p.drawRect(QRectF(x - 1, y_new - 1, table_w + 2, row_h + 2))
            p.setPen(new_row_ink(paper))
            p.drawText(QRectF(x_tag, self._text_y(y_new, row_h, line), tag_w, line), Qt.AlignmentFlag.AlignLeft,
                       f"← {COMPUTED}")
        p.end()


class KVCacheView(QWidget):
    """K and V of a chosen layer and head, and what the latest append saved."""

    ABOUT = ("KV cache: the keys and values a decoder keeps for the tokens it has already read, one row per token "
             "in every layer and head. Append a token and only its row is computed; the rows above it are reused, "
             "because a token never looks at the ones after it.")

    def __init__(self, bridge: SessionBridge, controller=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        # controller: the window's ui.generation.GenerationController; with it, the view has its own
        # Append buttons, so a class watches the new row arrive without leaving the tab
        self.append_buttons = AppendButtons(generate=False)
        self._before = None  # the trace before the current one
        self.layer = QComboBox()
        self.head = QSpinBox()
        self.title = self._label()
        self.tables = KVTables()
        self.savings = NoteLabel()
        lay = QVBoxLayout(self)
        controls = control_row(("layer", self.layer), ("head", self.head))
        top = QHBoxLayout()  # the choices stay on the buttons' line when a message shows under the buttons
        top.addLayout(controls, 1)
        top.setAlignment(controls, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.append_buttons, 0, Qt.AlignmentFlag.AlignTop)
        if controller is not None:
            self.append_buttons.connect_to(controller)
        else:
            self.append_buttons.hide()
        lay.addLayout(top)
        lay.addWidget(self.savings)  # first: on a small screen the tables shrink, the counts stay whole
        lay.addWidget(self.title)
        lay.addWidget(self.tables, 1)
        self.layer.currentIndexChanged.connect(self._draw)
        self.head.valueChanged.connect(self._draw)
        self._trace = bridge.trace
        self._lazy = Lazy(self, self.refresh)  # a tab in the back only keeps track of the traces
        bridge.sigTraceChanged.connect(self._follow)
        self.state: CacheState | None = None
        self.set_font_scale(1.0)
        self._lazy.run()

    @staticmethod
    def _label() -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)  # token names such as <bos> are not markup
        return label

    def _follow(self, *_args) -> None:
        """A new trace: remember the one before it (cheap, always), draw when seen."""
        trace = self.bridge.trace
        if trace is not self._trace:
            self._before, self._trace = self._trace, trace
        self._lazy.request()

    def refresh(self) -> None:
        trace = self._trace
        model = self.bridge.model
        layers = kv_layers(model.graph)
        with QSignalBlocker(self.layer):
            labels = [label for label, _k, _v in layers]
            if [self.layer.itemText(i) for i in range(self.layer.count())] != labels:
                self.layer.clear()
                self.layer.addItems(labels)
        if not layers or model.config.arch == "vit":
            self.state = None
            self.title.setText("This model has no self-attention over a growing text, so nothing is cached.")
            self.tables.set_tables(np.zeros((0, 0)), np.zeros((0, 0)), (), (), False)
            self.savings.setText("")
            return
        self.state = cache_state(model, self._before, trace)
        why = cacheable(model)
        heads = trace[layers[0][1]].shape[1]
        self.savings.setText(f"No KV cache for this model: {why}." if why
                             else savings_text(self.state, len(layers), heads))
        self._draw()

    def _draw(self, *_args) -> None:
        if self.state is None:
            return
        _label, k_name, v_name = kv_layers(self.bridge.model.graph)[max(self.layer.currentIndex(), 0)]
        k, v = self.bridge.trace[k_name], self.bridge.trace[v_name]  # [pos, head, d_head]
        with QSignalBlocker(self.head):
            self.head.setRange(0, k.shape[1] - 1)
        h = self.head.value()
        s = self.state
        self.title.setText(f"Cached keys and values of {self.layer.currentText()}, head {h}: {s.n} rows (one per "
                           f"token) × d_head = {k.shape[2]}. Each appended token adds one row; the rows above "
                           f"it never change, because a token never sees the ones after it.")
        self.tables.set_tables(k[:, h], v[:, h], s.tokens, s.reused, s.appended)

    def set_font_scale(self, f: float) -> None:
        font = QFont()
        font.setPointSizeF(12.0 * f)
        for w in (self, self.title, self.savings, self.append_buttons):
            w.setFont(font)
        self.tables.set_font_scale(f)


__all__ = ["CacheState", "KVCacheView", "KVTables", "cache_state", "kv_layers", "savings_text"]
