"""Browse the model's parameters and edit them cell by cell.

A tree lists every parameter by stack, layer and component; the chosen one is shown as
a heatmap (a per-head weight as the selected head's slice). Double-click a cell to type
a value, or turn the mouse wheel over it to nudge it. The editor never changes the model
itself: it emits requests, which the window turns into undoable commands.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.bridge import SessionBridge
from ui.lazy import Lazy
from ui.messages import plain
from ui.pictures import colormaps
from ui.pictures import heatmap as heatmap_mod
from ui.pictures.heatmap import Heatmap, format_value
from ui.pictures.slice_bar import SliceBar
from ui.pictures.slicing import shown as token_text
from ui.pictures.slicing import thin, window, window_text
from ui.pictures.step_pictures import top_tokens

NUDGE = 0.05  # value change per wheel notch
FINE = 0.1  # with Shift held, notches are this much smaller
NAME_ROLE = Qt.ItemDataRole.UserRole
NARROW = 700  # below this width the tree sits above the matrix


def parse_value(text: str) -> float:
    """A finite number from what was typed; ValueError with a readable message otherwise."""
    t = text.strip().replace("\u2212", "-")
    try:
        v = float(t)
    except ValueError:
        raise ValueError(f"“{text.strip()}” is not a number. Type e.g. 0.5 or -1.2.") from None
    if not math.isfinite(v):
        raise ValueError("Only finite numbers are allowed (no NaN or infinity).")
    return v


def tree_path(name: str) -> list[str]:
    """Where a parameter sits in the tree: "blocks.0.attn.W_Q" → ["layer 0", "attn", "W_Q"]."""
    parts = name.split(".")
    out: list[str] = []
    i = 0
    while i < len(parts):
        if parts[i] == "blocks" and i + 1 < len(parts) and parts[i + 1].isdigit():
            out.append(f"layer {parts[i + 1]}")
            i += 2
        else:
            out.append(parts[i])
            i += 1
    return out


class ParamEditor(QWidget):
    sigEditRequested = Signal(str, object, object)  # name, value (float or full array), index (tuple or None)
    sigRandomizeRequested = Signal(int)  # seed
    sigResetRequested = Signal()

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._name: str | None = None
        self._names: tuple[str, ...] = ()
        self._cell: tuple[int, int] | None = None  # cell being edited
        # a checkpoint's long axes: the rows and columns of the shown matrix that are drawn (None: all)
        self._start = 0
        self._cut: tuple[tuple[int, ...] | None, tuple[int, ...] | None] = (None, None)
        self._active = True
        self._lazy = Lazy(self, self._reread, on_screen=self._on_screen)  # see set_active

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["parameter", "shape"])
        self.tree.setUniformRowHeights(True)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.head = QSpinBox()
        self.head_label = QLabel("head")
        self.heatmap = Heatmap()
        colormaps.keep_maps(self.bridge, self.heatmap)
        self.heatmap.set_nudge_enabled(True)
        self.heatmap.installEventFilter(self)
        self.slice = SliceBar()
        self.slice.sigStartChosen.connect(self._choose_start)
        self.message = plain(QLabel())
        self.message.setWordWrap(True)
        self.hint = QLabel("Double-click a cell to type a value · mouse wheel nudges it "
                           f"(±{NUDGE:g}, Shift: ±{NUDGE * FINE:g})")
        self.hint.setWordWrap(True)
        self.seed_label = QLabel("seed")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2 ** 31 - 1)
        self.randomize = QPushButton("Randomise…")
        self.reset = QPushButton("Reset")
        self.reset.setToolTip("Back to the weights the model was opened or created with")
        self._editor = QLineEdit(self.heatmap)
        self._editor.hide()
        self._error = QLabel(self.heatmap)
        self._error.setStyleSheet("background: #b00020; color: white; padding: 4px; border-radius: 4px")
        self._error.hide()

        # rows kept short, so the editor also fits a narrow side panel
        top = QHBoxLayout()
        top.addWidget(self.head_label)
        top.addWidget(self.head)
        top.addStretch(1)
        top.addWidget(self.reset)
        self.seed.setMaximumWidth(110)
        buttons = QHBoxLayout()
        buttons.addWidget(self.randomize)
        buttons.addWidget(self.seed_label)
        buttons.addWidget(self.seed)
        buttons.addStretch(1)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.title)
        rl.addLayout(top)
        rl.addWidget(self.heatmap, 1)
        rl.addWidget(self.slice)
        rl.addWidget(self.message)
        rl.addWidget(self.hint)
        rl.addLayout(buttons)
        self._split = split = QSplitter()
        split.addWidget(self.tree)
        split.addWidget(right)
        split.setStretchFactor(1, 3)
        split.setSizes([260, 700])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)
        self.set_font_scale(1.0)

        self.tree.currentItemChanged.connect(self._tree_changed)
        self.head.valueChanged.connect(bridge.set_head)
        self.heatmap.sigCellDoubleClicked.connect(self.start_edit)
        self.heatmap.sigCellNudged.connect(self._nudge)
        self._editor.returnPressed.connect(self._commit)
        self._editor.editingFinished.connect(self._editing_finished)
        self.randomize.clicked.connect(lambda: self.sigRandomizeRequested.emit(self.seed.value()))
        self.reset.clicked.connect(self.sigResetRequested.emit)
        bridge.sigTraceChanged.connect(self.refresh)
        bridge.sigHeadChanged.connect(self._head_changed)
        self.refresh()

    # --- public API ------------------------------------------------------------------------

    def select_param(self, name: str) -> None:
        """Show parameter `name` (KeyError if the model has none of that name)."""
        if name not in self.bridge.model.params:
            raise KeyError(f"No parameter called {name!r}.")
        if self._lazy.stale:
            self._lazy.run()
        item = self._items[name]
        self.tree.setCurrentItem(item)
        self._show(name)

    def current_param(self) -> str | None:
        return self._name

    def edit_line(self) -> QLineEdit:
        """The inline editor (visible while a cell is being edited)."""
        return self._editor

    def error_text(self) -> str:
        """The message shown next to the cell after a refused value ("" if none)."""
        return self._error.text() if self._error.isVisible() else ""

    def set_font_scale(self, f: float) -> None:
        font = QFont()
        font.setPointSizeF(12.0 * f)
        for w in (self.tree, self.message, self.hint, self.randomize, self.reset, self.seed, self.seed_label, self.head,
                  self.head_label, self._editor, self._error):
            w.setFont(font)
        big = QFont(font)
        big.setPointSizeF(15.0 * f)
        big.setBold(True)
        self.title.setFont(big)
        self.heatmap.set_font_scale(f)
        self.slice.set_font_scale(f)
        self._tick_font = QFont()
        self._tick_font.setPointSizeF(heatmap_mod.TICK_PT * f)

    # --- showing ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the parameters (an edit, a new model); rebuild the tree if the names changed.
        While the editor is hidden this waits until it is shown: an edit need not redraw a
        heatmap nobody sees."""
        self._lazy.request()

    def set_active(self, on: bool) -> None:
        """Whether the editor is on screen: a dock's tab behind another one stays "visible" to
        Qt, so the window says so (QDockWidget.visibilityChanged). An inactive editor catches
        up when it becomes active again."""
        self._active = bool(on)
        self._lazy.catch_up()

    def _on_screen(self) -> bool:
        return self._active and self.isVisible()

    def _reread(self) -> None:
        self._lazy.stale = False
        params = self.bridge.model.params
        names = tuple(params)
        if names != self._names:
            self._names = names
            self._build_tree(names)
            self._name = None
        name = self._name if self._name in params else names[0]
        with QSignalBlocker(self.tree):
            self.tree.setCurrentItem(self._items[name])
        self._show(name)

    def _build_tree(self, names: tuple[str, ...]) -> None:
        shapes = self.bridge.model.shapes
        with QSignalBlocker(self.tree):
            self.tree.clear()
            self._items: dict[str, QTreeWidgetItem] = {}
            groups: dict[tuple[str, ...], QTreeWidgetItem] = {}
            for name in names:
                path = tree_path(name)
                parent = self.tree.invisibleRootItem()
                for depth in range(1, len(path)):
                    key = tuple(path[:depth])
                    if key not in groups:
                        groups[key] = QTreeWidgetItem(parent, [path[depth - 1]])
                    parent = groups[key]
                leaf = QTreeWidgetItem(parent, [path[-1], " × ".join(map(str, shapes[name]))])
                leaf.setData(0, NAME_ROLE, name)
                self._items[name] = leaf
            self.tree.expandToDepth(1)
            self.tree.resizeColumnToContents(0)

    def _tree_changed(self, item: QTreeWidgetItem | None, _prev=None) -> None:
        name = item.data(0, NAME_ROLE) if item is not None else None
        if name:
            self._show(name)

    def _head_changed(self, h: int) -> None:
        params = self.bridge.model.params
        if not self._on_screen():
            self._lazy.stale = True
        elif self._name not in params:  # a new model whose parameters the editor has not read yet
            self._reread()
        elif params[self._name].ndim == 3:
            self._show(self._name)

    def _labels(self, name: str, shape: tuple[int, int]) -> tuple[list[str], list[str]]:
        vocab = self.bridge.model.config.vocab
        rows = [str(i) for i in range(shape[0])]
        cols = [str(j) for j in range(shape[1])]
        if name.endswith(("W_E", "W_U", "b_U")):
            if getattr(self, "_vocab", (None,))[0] is not vocab:  # a checkpoint's 30,000 labels: made once
                self._vocab = (vocab, [token_text(str(t)) for t in vocab])
            if name.endswith("W_E") and shape[0] == len(vocab):
                rows = self._vocab[1]
            if name.endswith(("W_U", "b_U")) and shape[1] == len(vocab):
                cols = self._vocab[1]
        return rows, cols

    def _window(self, name: str, shape: tuple[int, int]):
        """Which rows and columns of the shown matrix are drawn (see slicing.window) and what that is:
        a long vocabulary shows the input's tokens (W_E) or the top predictions (W_U), a long
        feature axis a window of columns from the slice bar's start."""
        model = self.bridge.model
        spec = self.bridge.trace.graph.params.get(name)
        axes = list(spec.axes) if spec is not None else []
        axes = axes[1:] if len(axes) == 3 else axes  # a per-head weight shows one head
        axes = ["", *axes] if len(axes) == 1 else axes
        if len(axes) != 2:
            return None, None, ()
        ids = model.tokenizer.ids
        tokens = self.bridge.session.tokens
        inputs = tuple(dict.fromkeys(ids[t] for side in (tokens if isinstance(tokens, tuple) else (tokens,))
                                     for t in side if t in ids))
        top = top_tokens(self.bridge.trace, model.config.d_vocab, None)
        cut = [window(a, n, self._start, inputs if i == 0 else top) for i, (a, n) in enumerate(zip(axes, shape))]
        notes = tuple(window_text(a, n, idx, "the input's" if i == 0 else "top")
                      for i, (a, n, idx) in enumerate(zip(axes, shape, cut)) if idx)
        longest = max([n for a, n, idx in zip(axes, shape, cut) if idx and a != "vocab"], default=0)
        return cut[0], cut[1], (notes, longest)

    def _choose_start(self, start: int) -> None:
        if start != self._start and self._name is not None:
            self._start = start
            self._cancel_edit()
            self._show(self._name)

    def _show(self, name: str) -> None:
        if name != self._name:
            self._cancel_edit()
        self._name = name
        w = self.bridge.model.params[name]
        per_head = w.ndim == 3
        self.head.setVisible(per_head)
        self.head_label.setVisible(per_head)
        if per_head:
            with QSignalBlocker(self.head):
                self.head.setRange(0, w.shape[0] - 1)
                self.head.setValue(self.bridge.head)
        shown = self._shown_array(w)
        rows, cols = self._labels(name, shown.shape)
        r_idx, c_idx, notes = self._window(name, shown.shape)
        self._cut = (r_idx, c_idx)
        if r_idx is not None:
            shown, rows = shown[list(r_idx)], [rows[i] for i in r_idx]
        if c_idx is not None:
            shown, cols = shown[:, list(c_idx)], [cols[j] for j in c_idx]
        self.slice.set_window(list(notes[0]) if notes else [], notes[1] if notes else 0, self._start)
        self.title.setText(f"{name}   [{' × '.join(map(str, w.shape))}]")
        k_rows, k_cols = self._thinning(rows, cols)
        self.heatmap.set_data(shown, thin(rows, k_rows), thin(cols, k_cols), "signed", "")

    def _thinning(self, rows: list[str], cols: list[str]) -> tuple[int, int]:
        """How sparse the axis labels must be for the heatmap's current size (estimated cells)."""
        fm = QFontMetricsF(self._tick_font)
        cell_h = max(1.0, (self.heatmap.height() - 2.5 * fm.height()) / len(rows))
        cell_w = max(1.0, (self.heatmap.width() - 110 - max(fm.horizontalAdvance(r) for r in rows)) / len(cols))
        widest = max(fm.horizontalAdvance(c) for c in cols) + 6
        return math.ceil(fm.height() / cell_h), math.ceil(widest / cell_w)

    def _shown_array(self, w: np.ndarray) -> np.ndarray:
        if w.ndim == 3:
            return w[min(self.bridge.head, w.shape[0] - 1)]
        return w[np.newaxis, :] if w.ndim == 1 else w

    def _index(self, cell: tuple[int, int]) -> tuple[int, ...]:
        """The full index into the parameter of a heatmap cell."""
        w = self.bridge.model.params[self._name]
        r, c = cell
        rows, cols = self._cut
        r = r if rows is None else rows[r]
        c = c if cols is None else cols[c]
        if w.ndim == 3:
            return (min(self.bridge.head, w.shape[0] - 1), r, c)
        return (c,) if w.ndim == 1 else (r, c)

    # --- editing ---------------------------------------------------------------------------

    def start_edit(self, cell: tuple[int, int]) -> None:
        """Open the inline editor over `cell`, holding its current value."""
        self._cell = tuple(cell)
        self._error.hide()
        value = float(self.heatmap.values()[self._cell])
        item = self.heatmap.image_item
        r, c = self._cell
        top_left = self.heatmap.mapFromScene(item.mapToScene(QPointF(c, r)))
        bottom_right = self.heatmap.mapFromScene(item.mapToScene(QPointF(c + 1, r + 1)))
        width = max(90, bottom_right.x() - top_left.x())
        self._editor.setGeometry(top_left.x(), top_left.y(), width,
                                 max(self._editor.sizeHint().height(), bottom_right.y() - top_left.y()))
        self._editor.setText(f"{value:.6g}")
        self._editor.selectAll()
        self._editor.show()
        self._editor.setFocus()
        self.heatmap.set_selected(self._cell)

    def _commit(self) -> None:
        if self._cell is None or self._name is None:
            return
        index = self._index(self._cell)
        try:
            value = parse_value(self._editor.text())
            self.bridge.model.check_param(self._name, value, index)
        except ValueError as e:
            self._refuse(str(e))
            return
        self._cancel_edit()
        self.sigEditRequested.emit(self._name, value, index)

    def _editing_finished(self) -> None:
        # Leaving the field without Enter abandons the edit, unless an error is being shown.
        if not self._editor.hasFocus() and not self._error.isVisible():
            self._cancel_edit()

    def _refuse(self, text: str) -> None:
        self._error.setText(text)
        self._error.adjustSize()
        geo = self._editor.geometry()
        x = max(0, min(geo.left(), self.heatmap.width() - self._error.width()))
        y = geo.bottom() + 4 if geo.bottom() + 4 + self._error.height() < self.heatmap.height() else \
            geo.top() - self._error.height() - 4
        self._error.move(x, y)
        self._error.show()
        self._error.raise_()
        self.message.setText(text)
        self._editor.setFocus()
        self._editor.selectAll()

    def _cancel_edit(self) -> None:
        self._cell = None
        self._editor.hide()
        self._error.hide()
        self.message.setText("")
        self.heatmap.set_selected(None)

    def eventFilter(self, obj, ev) -> bool:
        if obj is self.heatmap and ev.type() == QEvent.Type.Resize and self._name is not None and not self._lazy.stale:
            self._show(self._name)  # the labels the cells have room for depend on the size
        return False

    def resizeEvent(self, ev) -> None:
        # In a narrow side panel the tree goes above the matrix, not beside it.
        narrow = self.width() < NARROW
        orientation = Qt.Orientation.Vertical if narrow else Qt.Orientation.Horizontal
        if self._split.orientation() != orientation:
            self._split.setOrientation(orientation)
            self._split.setSizes([200, 500] if narrow else [260, 700])
        super().resizeEvent(ev)

    def keyPressEvent(self, ev) -> None:
        if ev.key() == Qt.Key.Key_Escape and self._editor.isVisible():
            self._cancel_edit()
            return
        super().keyPressEvent(ev)

    def _nudge(self, cell: tuple[int, int], steps: float) -> None:
        if self._name is None:
            return
        fine = QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier
        step = NUDGE * (FINE if fine else 1.0)
        value = float(self.heatmap.values()[tuple(cell)]) + steps * step
        index = self._index(tuple(cell))
        try:
            self.bridge.model.check_param(self._name, value, index)
        except ValueError as e:
            self.message.setText(str(e))
            return
        self.message.setText(f"{self._name}{list(index)} → {format_value(value)}")
        self.sigEditRequested.emit(self._name, value, index)
