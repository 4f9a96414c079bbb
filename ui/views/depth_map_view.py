"""Attention over depth beside attention over tokens.

For the chosen token, a lower-triangular map whose rows are the sublayers that read the
residual stream and whose columns are the outputs they can read: all ones for a standard
stream, only the previous output without skips, DenseFormer's α matrix, the softmax
weights under Attention Residuals. Beside it, the current layer's ordinary attention
pattern for the selected head, drawn the same way, so the analogy can be seen.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from simulator import depth
from ui.bridge import SessionBridge
from ui.lazy import LazyView
from ui.pictures import colormaps
from ui.pictures.caption import Caption
from ui.pictures.frame import framed, label_font, side_by_side
from ui.pictures.heatmap import Heatmap
from ui.pictures.token_combo import TokenCombo, token_row


class DepthMapView(LazyView):
    """The depth map of one token and the current layer's sequence attention pattern."""

    ABOUT = ("Depth attention: on the left, which earlier outputs each sublayer reads from the residual "
             "stream and with what weight (all ones in a standard stream); on the right, the current layer's "
             "attention over tokens, drawn the same way. Click a cell to see what its number is.")
    sigCalculation = Signal(str)  # a clicked cell's calculation, for the explanation panel

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        self.map: depth.DepthMap | None = None
        self._now: tuple | None = None  # (trace, position, values) on screen
        self._before: tuple | None = None  # (trace on screen, (position, values) of the trace before it)
        bridge.sigTraceChanged.connect(self.request_refresh)
        bridge.sigStepChanged.connect(self.request_refresh)
        bridge.sigHeadChanged.connect(self.request_refresh)
        bridge.sigHighlightChanged.connect(self.request_refresh)

    def build(self) -> None:
        self.token = TokenCombo()
        self.depth_heatmap = Heatmap()
        self.pattern_heatmap = Heatmap()
        colormaps.keep_maps(self.bridge, self.depth_heatmap, self.pattern_heatmap)
        self.caption = Caption()
        self.maps = side_by_side((self.depth_heatmap, 1), (self.pattern_heatmap, 1))
        framed(self, token_row(self.token), self.maps, self.caption)
        self.token.currentIndexChanged.connect(self.refresh)
        self.depth_heatmap.sigCellClicked.connect(self.explain_depth_cell)
        self.pattern_heatmap.sigCellClicked.connect(self.explain_pattern_cell)

    @property
    def position(self) -> int:
        return max(self.token.currentIndex(), 0)

    def layer(self) -> int:
        """The layer of the current step (the embedding counts as layer 0, the read-out as the last)."""
        step = self.bridge.stepper.step
        if step.layer is not None:
            return step.layer
        return self.bridge.model.config.n_layers - 1 if step.sublayer == "final" else 0

    def apply_font_scale(self, f: float) -> None:
        label_font(f, (self, self.token), self.caption)
        self.depth_heatmap.set_font_scale(f)
        self.pattern_heatmap.set_font_scale(f)

    def explain_depth_cell(self, cell: tuple[int, int]) -> None:
        m = self.map
        if m is None or not (0 <= cell[0] < len(m.rows) and 0 <= cell[1] < len(m.cols)):
            return
        reader, source = m.rows[cell[0]], m.cols[cell[1]]
        value = float(m.values[cell])
        text = f"{m.title}\n{reader} reads {source} with weight {value:.4g}."
        if m.note:
            text += f"\n{m.note}"
        self.sigCalculation.emit(text)

    def explain_pattern_cell(self, cell: tuple[int, int]) -> None:
        name = f"{depth.stack_prefix(self.bridge.trace)}blocks.{self.layer()}.attn.hook_pattern"
        try:
            self.sigCalculation.emit(self.bridge.trace.explain(name, (self.bridge.head, *cell)))
        except (KeyError, IndexError, ValueError):
            pass

    def paint(self) -> None:
        trace, model = self.bridge.trace, self.bridge.model
        prefix = depth.stack_prefix(trace)
        tokens = trace.token_labels(f"{prefix}blocks.0.hook_resid_pre")
        self.token.set_tokens(tokens)
        pos = min(self.position, len(tokens) - 1)
        layer, head = self.layer(), self.bridge.head

        m = self.map = depth.depth_map(model, trace, pos, prefix)
        # Cells the last edit moved: compare with the map of the trace before it (same token).
        if self._before is None or self._before[0] is not trace:
            self._before = (trace, self._now[1:] if self._now else None)
        self._now = (trace, pos, m.values.copy())
        old = self._before[1]
        changed = None
        if self.bridge.highlight and old is not None and old[0] == pos and old[1].shape == m.values.shape:
            changed = m.values != old[1]
        kind = "signed" if m.values.min() < 0 else "prob"
        dense = m.rows[0].startswith("after block")  # DenseFormer's α: the same for every token
        title = m.title if dense else f"{m.title} · “{tokens[pos]}”"
        self.depth_heatmap.set_data(m.values, m.rows, m.cols, kind, title, changed)
        if dense:  # the average this layer reads
            self.depth_heatmap.set_selected((layer - 1, layer) if layer > 0 else None)
            left = "Left: the average each next block reads (rows), over the embedding and the block " \
                   "outputs (columns), the same for every token."
        else:
            left = f"Left: each sublayer (row) reading earlier outputs (columns), for “{tokens[pos]}”."
            row = m.rows.index(f"attn {layer}")
            self.depth_heatmap.set_selected((row, row))

        name = f"{prefix}blocks.{layer}.attn.hook_pattern"
        pattern = trace[name][head]  # [q_pos, k_pos]
        # each map's share of the width by its columns (and room for its row labels and colour bar),
        # so the longer one is not pushed past the edge while the other has room to spare
        self.maps.setStretch(0, len(m.cols) + 3)
        self.maps.setStretch(1, len(tokens) + 3)
        self.pattern_heatmap.set_data(pattern, tokens, tokens, "prob",
                                      f"Layer {layer} · head {head}: attention over tokens")
        self.pattern_heatmap.set_selected((pos, pos))
        self.caption.setText(f"{left} {m.note} Right: the same picture along the sequence: each token "
                             "(row) reading earlier tokens (columns).")
