"""How a step's tensor becomes one 2-D heatmap, and what the step and its axes are called.

Per-head tensors are cut to the selected head: `[pos, head, d_head]` → `[pos, d_head]`,
`[head, q_pos, k_pos]` → `[q_pos, k_pos]`. A `Slicer` remembers the cut, so a click on
a heatmap cell can be turned back into the full index of the step's value.

A checkpoint's axes are too long to draw whole: a feature axis (d_model, d_mlp) longer than
`MAX_AXIS` shows a window of `WINDOW` columns, and a vocabulary longer than `MAX_VOCAB` shows
its top tokens (`window`); the Slicer keeps which rows and columns are shown.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator import Trace
from simulator.graph import ATTENTION_CHAIN, DEPTH_CHAIN


@dataclass(frozen=True)
class Slicer:
    """Cut a step's array to 2-D; `index(r, c)` is the full index of heatmap cell (r, c)."""

    layout: str  # "pos_head" [pos, head, d], "pos_head_T" (its transpose, Kᵀ), "head_grid" [head, q, k],
    # "flat" 2-D, "row" 1-D
    head: int = 0
    rows: tuple[int, ...] | None = None  # the rows of the 2-D cut that are shown (None: all)
    cols: tuple[int, ...] | None = None  # the columns shown (None: all)

    def take(self, a: np.ndarray) -> np.ndarray:
        a = self._take(a)
        if self.rows is not None:
            a = a[list(self.rows)]
        if self.cols is not None:
            a = a[:, list(self.cols)]
        return a

    def _take(self, a: np.ndarray) -> np.ndarray:
        if self.layout == "pos_head":
            return a[:, self.head, :]
        if self.layout == "pos_head_T":
            return a[:, self.head, :].T
        if self.layout == "head_grid":
            return a[self.head]
        if self.layout == "row":
            return a[np.newaxis, :]
        return a

    def index(self, r: int, c: int) -> tuple[int, ...]:
        r = r if self.rows is None else self.rows[r]
        c = c if self.cols is None else self.cols[c]
        if self.layout == "pos_head":
            return (r, self.head, c)
        if self.layout == "pos_head_T":
            return (c, self.head, r)
        if self.layout == "head_grid":
            return (self.head, r, c)
        if self.layout == "row":
            return (c,)
        return (r, c)

    def cell(self, index: tuple[int, ...]) -> tuple[int, int] | None:
        """The heatmap cell showing `index` of the full array, or None if it is not shown."""
        rc = self._cell(tuple(int(i) for i in index))
        if rc is None:
            return None
        r, c = rc
        if (self.rows is not None and r not in self.rows) or (self.cols is not None and c not in self.cols):
            return None
        return (r if self.rows is None else self.rows.index(r), c if self.cols is None else self.cols.index(c))

    def cut_cell(self, index: tuple[int, ...]) -> tuple[int, int] | None:
        """The (row, column) of `index` in the whole 2-D cut, shown or not (None: another head)."""
        return self._cell(tuple(int(i) for i in index))

    def axes(self, axes: tuple[str, ...]) -> tuple[str, str]:
        """The names of the 2-D cut's (row, column) axes, from the step's own `axes`."""
        if self.layout == "pos_head":
            return axes[0], axes[2]
        if self.layout == "pos_head_T":
            return axes[2], axes[0]
        if self.layout == "head_grid":
            return axes[1], axes[2]
        if self.layout == "row":
            return "", axes[0]
        return axes[0], axes[1]

    def _cell(self, index: tuple[int, ...]) -> tuple[int, int] | None:
        if self.layout == "pos_head":
            return (index[0], index[2]) if len(index) == 3 and index[1] == self.head else None
        if self.layout == "pos_head_T":
            return (index[2], index[0]) if len(index) == 3 and index[1] == self.head else None
        if self.layout == "head_grid":
            return (index[1], index[2]) if len(index) == 3 and index[0] == self.head else None
        if self.layout == "row":
            return (0, index[0]) if len(index) == 1 else None
        return (index[0], index[1]) if len(index) == 2 else None


MAX_AXIS = 256  # a feature axis (d_model, d_mlp, …) longer than this is drawn a window at a time ...
WINDOW = 32  # ... of this many columns (the text-words preset's d_mlp of 256 is still drawn whole)
MAX_VOCAB = 256  # a longer vocabulary is drawn as its top tokens, not one column per token ...
TOP_TOKENS = 20  # ... this many
WHOLE_AXES = ("", "pos", "q_pos", "k_pos", "head", "source", "patch")  # token and head axes: never windowed


def window(axis: str, size: int, start: int = 0, top: tuple[int, ...] = ()) -> tuple[int, ...] | None:
    """The indices of axis `axis` (of length `size`) drawn, or None for all of them.

    A vocabulary longer than MAX_VOCAB shows the tokens `top`; a feature axis longer than
    MAX_AXIS shows WINDOW indices from `start` (moved back to fit).
    """
    if axis == "vocab":
        return tuple(int(t) for t in top) if size > MAX_VOCAB and len(top) else None
    if axis in WHOLE_AXES or size <= MAX_AXIS:
        return None
    s = max(0, min(int(start), size - WINDOW))
    return tuple(range(s, s + WINDOW))


def window_text(axis: str, size: int, shown: tuple[int, ...], which: str = "top") -> str:
    """What a window shows, in words: "columns 64–127 of 768 (d_model)", "top 20 of 30,000 tokens"
    (`which` names the tokens chosen: "top", or "the input's")."""
    if axis == "vocab":
        return f"{which} {len(shown)} of {size:,} tokens"
    return f"columns {shown[0]}–{shown[-1]} of {size:,} ({'d_model' if axis == 'head·d_head' else axis})"


def head_slicer(trace: Trace, name: str, head: int) -> Slicer:
    axes = trace.graph.node(name).axes
    if "head" in axes:  # [pos, head, d_head] or [head, q_pos, k_pos]
        layout = "pos_head" if axes.index("head") == 1 else "head_grid"
        return Slicer(layout, max(0, min(head, np.shape(trace[name])[axes.index("head")] - 1)))
    return Slicer("row" if len(axes) == 1 else "flat")


def position_source(trace: Trace, name: str) -> str:
    """The step whose tokens label the position (row) axis of `name`.

    Queries, keys and values take their positions from what they were projected from:
    a cross-attention's keys are the encoder's tokens although the step sits in the decoder.
    """
    node = trace.graph.node(name)
    while "head" in node.axes:  # a per-head step: its positions are those of its (first) input's
        node = trace.graph.node(node.inputs[0])
    return node.name


def query_key_labels(trace: Trace, name: str) -> tuple[list[str], list[str]]:
    """Token labels of the query and key axes of an attention grid step."""
    node = trace.graph.node(name)
    while node.role != "scores":
        node = trace.graph.node(node.inputs[0])
    q_src = position_source(trace, node.inputs[0])
    k_src = position_source(trace, node.inputs[1])
    return token_labels(trace, q_src), token_labels(trace, k_src)


# GPT-2's byte-level tokens write a space as Ġ, a newline as Ċ and a tab as ĉ
BYTE_LEVEL = str.maketrans({"Ġ": "␣", "Ċ": "↵", "ĉ": "⇥"})


def shown(token: str) -> str:
    """A token as a label prints it: a space token would be invisible, and a byte-level
    checkpoint's "Ġthe" reads "␣the" (a space, then "the")."""
    return {" ": "␣", "\n": "↵", "\t": "⇥"}.get(token, token.translate(BYTE_LEVEL))


def token_labels(trace: Trace, name: str) -> list[str]:
    """The tokens on the position axis of step `name`, as labels print them (see `shown`)."""
    return [shown(t) for t in trace.token_labels(name)]


def depth_source_labels(trace: Trace, node) -> list[str]:
    """Names of the sources a depth mix reads: "embed", "attn 0", "mlp 0", "block 1", …"""
    graph = trace.graph
    if node.op == "dwa":
        return ["embed"] + [f"block {graph.node(n).layer}" for n in node.inputs[1:]]
    logits = node
    while logits.role != "depth_logits":  # the mix reads the weights, the weights read the logits
        logits = graph.node(logits.inputs[0])

    def one(i: int) -> str:
        if i == 0:
            return "embed"
        src = graph.node(logits.inputs[i])
        short = {"attn": "attn", "cross_attn": "cross", "mlp": "mlp"}.get(src.sublayer, src.sublayer)
        return f"{short} {src.layer}"

    return [" + ".join(one(i) for i in group) for group in logits.attrs["groups"]]


def labels_for(trace: Trace, name: str, shape: tuple[int, int],
               vocab: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Row and column labels of the 2-D heatmap of step `name` (already cut to `shape`)."""
    node = trace.graph.node(name)
    n_rows, n_cols = shape
    indices = [str(j) for j in range(n_cols)]
    if node.group == ATTENTION_CHAIN:
        return query_key_labels(trace, name)
    if node.role == "linear_weights":  # linear attention's quadratic form: [head, q_pos, k_pos]
        return (token_labels(trace, position_source(trace, node.inputs[0])),
                token_labels(trace, position_source(trace, node.inputs[1])))
    if node.role == "kv_state":  # row i is S_i row by row: column r·d + c is S_i[r, c]
        d = math.isqrt(n_cols)
        return token_labels(trace, position_source(trace, name)), [f"{r},{c}" for r in range(d) for c in range(d)]
    if node.group == DEPTH_CHAIN and node.axes[0] == "source":
        return depth_source_labels(trace, node), token_labels(trace, name)
    rows = token_labels(trace, position_source(trace, name))
    if vocab is not None and n_cols == len(vocab) and node.axes[-1] == "vocab":
        return rows, list(vocab)
    return rows, indices


def norm_stats(x: np.ndarray) -> np.ndarray:
    """Each token's mean and spread (standard deviation), as LayerNorm sees them  # [pos, 2]"""
    mean = x.mean(-1)
    std = np.sqrt(((x - mean[:, None]) ** 2).mean(-1))
    return np.stack([mean, std], axis=1)


def thin(labels: list[str], k: int) -> list[str]:
    """Every k-th label, the rest blank: cells too small for all their labels keep a readable few."""
    return list(labels) if k <= 1 else [s if i % k == 0 else "" for i, s in enumerate(labels)]


ROLE_NAMES = {"attn_out": "Output projection W_O", "mlp_pre": "MLP: expand (W_in)",
              "mlp_out": "MLP: project back (W_out)", "logits": "Unembed → logits", "q": "Queries Q",
              "k": "Keys K", "v": "Values V", "depth_weights": "Depth attention: softmax over sources",
              "embed_pos": "Embedding + position", "phi_q": "Linear attention: feature map φ(q) = elu(q) + 1",
              "phi_k": "Linear attention: feature map φ(k) = elu(k) + 1",
              "kv_state": "Linear attention: running state S", "k_sum": "Linear attention: running sum z",
              "linear_z": "Linear attention: output φ(q)·S ÷ φ(q)·z",
              "linear_weights": "Linear attention, the quadratic way: weights",
              "z_quadratic": "Linear attention, the quadratic way: weights · V",
              "patches": "Cut into patches", "patch_embed": "Patch embedding (W_patch)",
              "cls_prepend": "[CLS] put first", "cls_out": "Read [CLS]"}
# an image model's head scores classes, not next tokens
VIT_ROLE_NAMES = {"logits": "Class head → logits", "probs": "Softmax → class probabilities"}
OP_NAMES = {
    "embed": "Token embedding", "pos_sinusoidal": "Positional encoding (sinusoidal)",
    "pos_learned": "Positional encoding (learned)", "layernorm": "LayerNorm",
    "rope": "Rotary position (RoPE)", "scores": "Attention scores Q·Kᵀ", "scale": "Scale ÷ √d_head",
    "mask": "Mask", "softmax": "Softmax → attention pattern", "mix": "Weighted sum of values",
    "concat": "Concatenate the heads", "act": "Activation", "add": "Residual add",
    "probs": "Next-token probabilities", "depth_logits": "Depth attention: scores",
    "depth_mix": "Depth attention: mix", "dwa": "Depth-weighted average (DenseFormer)",
}


def role_name(node, config) -> str | None:
    """The human name of a step's role ("Patch embedding (W_patch)"), or None: name it by its operation."""
    if config is not None and config.arch == "vit" and node.role in VIT_ROLE_NAMES:
        return VIT_ROLE_NAMES[node.role]
    return ROLE_NAMES.get(node.role)


def step_title(trace: Trace, name: str) -> str:
    """"Encoder · Layer 0 · Cross-attention · Softmax → attention pattern"-style heading."""
    node = trace.graph.node(name)
    where = []
    if node.stack:
        where.append(node.stack.capitalize())
    if node.layer is not None:
        where.append(f"Layer {node.layer}")
    if node.sublayer == "cross_attn":
        where.append("Cross-attention")
    what = role_name(node, trace.graph.config) or (
        "Linear map" if node.op == "linear" else OP_NAMES.get(node.op, node.op))
    return " · ".join(where + [what])
