"""Attention rollout beside one head's raw pattern.

Rollout (Abnar & Zuidema, 2020) follows attention down through every layer: each layer's
pattern, averaged over heads and mixed half and half with the identity for the residual
connection, multiplied from the top layer down. A row says how much of each input token has
flowed into that position by the top of the model, by attention alone.
"""
from __future__ import annotations

from PySide6.QtWidgets import QWidget

from simulator import interp
from ui.bridge import SessionBridge
from ui.lazy import LazyView
from ui.pictures.caption import Caption
from ui.pictures.frame import framed, label_font, side_by_side
from ui.pictures.heatmap import Heatmap

CAN_AND_CANNOT = (
    "Rollout can say which input tokens a position could have drawn on through the attention of all "
    "layers. It cannot say what was used: it ignores the values, W_O, the MLPs and the norms, averages "
    "the heads as if all mattered equally, and counts the residual as a fixed half. Use attribution or "
    "patching to test a claim.")


class RolloutView(LazyView):
    """The rollout map and the current layer's pattern for the chosen head."""

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        for sig in (bridge.sigTraceChanged, bridge.sigStepChanged, bridge.sigHeadChanged):
            sig.connect(self.request_refresh)

    def build(self) -> None:
        self.rollout_map, self.pattern_map = Heatmap(), Heatmap()
        self.caption = Caption()
        framed(self, None, side_by_side((self.rollout_map, 1), (self.pattern_map, 1)), self.caption)

    def apply_font_scale(self, f: float) -> None:
        label_font(f, (self,), self.caption, 3)
        self.rollout_map.set_font_scale(f)
        self.pattern_map.set_font_scale(f)

    def paint(self) -> None:
        trace, cfg = self.bridge.trace, self.bridge.model.config
        p = "decoder." if cfg.arch == "encoder-decoder" else ""
        tokens = trace.token_labels(f"{p}blocks.0.attn.hook_pattern")
        self.rollout_map.set_data(interp.attention_rollout(trace), tokens, tokens, "prob",
                                  f"Rollout through all {cfg.n_layers} layers")
        step = self.bridge.stepper.step
        layer = step.layer if step.layer is not None else cfg.n_layers - 1
        head = self.bridge.head
        pattern = trace[f"{p}blocks.{layer}.attn.hook_pattern"][head]
        self.pattern_map.set_data(pattern, tokens, tokens, "prob", f"Raw pattern: layer {layer}, head {head}")
        residual = "" if cfg.residual != "none" else " (no residual here, so no identity is mixed in)"
        self.caption.setText(f"Rows: output positions; columns: input tokens; each row sums to 1{residual}. "
                             + CAN_AND_CANNOT)
