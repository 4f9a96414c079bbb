"""What the step view draws for each kind of operation, as plain data.

`build_picture` turns one step of a trace into a `Picture`: rows of panels (a 2-D
slice of a tensor with its labels), operation symbols between them, and, where they
help, attention lines or next-token bars. The step view only lays these out, so the
choice of picture per step can be read (and tested) without a window.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from simulator import Trace, Transformer
from simulator.graph import ATTENTION_CHAIN, DEPTH_CHAIN
from ui.pictures import colormaps
from ui.pictures.picture_items import Bars, Item, Lines, Panel, Picture, Symbol
from ui.pictures.slicing import (
    MAX_VOCAB,
    TOP_TOKENS,
    Slicer,
    depth_source_labels,
    head_slicer,
    labels_for,
    norm_stats,
    query_key_labels,
    shown,
    step_title,
    token_labels,
    window,
    window_text,
)

ATTENTION_ROLES = ("scores", "scaled", "mask", "pattern")  # the attention chain, in order
DEPTH_ROLES = ("depth_logits", "depth_weights", "depth_mixed")  # an attention over depth, in order
# linear attention's steps, each with its own picture
LINEAR_ROLES = ("phi_q", "phi_k", "kv_state", "k_sum", "linear_z", "linear_weights", "z_quadratic")
MAX_OUTLINED = 1024  # more changed cells than this are flagged in the title instead of outlined
MAX_ALL_LINES = 24  # longer inputs draw one query's attention lines (the last, or the clicked one)
MAX_LINE_HEADS = 4  # with more heads (a checkpoint's 12) the lines are the selected head's: all are a tangle
# A weight matrix beside the activations it multiplies is drawn with smaller cells, and no
# taller than the current step: its d_model (or d_mlp) rows would otherwise leave the token
# rows too little height for their labels.
PARAM_WEIGHT = 0.5
CURRENT_WEIGHT = 1.25  # the step being explained is drawn larger than its inputs
MASK_NOTES = {"causal": "hide the future\n(−∞)", "window": "hide the future\nand the far past", "window-full":
              "hide far tokens", "full": "nothing hidden"}


def mask_note(attrs) -> str:
    """What a mask keeps, in a few words beside its picture (the seed of BigBird's random keys too)."""
    kind = attrs.get("kind", "")
    base, causal = kind.removesuffix("-full"), not kind.endswith("-full")
    past = "hide the future;\nkeep " if causal else "keep "
    w, g = attrs.get("window"), attrs.get("n_global")
    if base == "strided":
        return f"{past}window {w}\n+ keys a multiple\nof {attrs.get('stride')} away"
    if base == "global":
        return f"{past}window {w}\n+ {g} global"
    if base == "bigbird":
        return f"{past}window {w}, {g} global\n+ {attrs.get('n_random')} random (seed {attrs.get('random_seed')})"
    return MASK_NOTES.get(kind, "")
class _Ctx:
    """What every picture builder reads: the trace, parameters, edit changes, head, and which
    part of a long axis is drawn (`start` of a feature window, `top` tokens of a vocabulary)."""

    def __init__(self, trace: Trace, model: Transformer, changes: Mapping[str, np.ndarray],
                 head: int, highlight: bool, start: int = 0, top: tuple[int, ...] = ()):
        self.trace, self.params, self.head = trace, model.params, head
        self.masked_lm = model.config.head == "mlm"  # BERT: a token predicted at each position
        self.vocab = [shown(str(t)) for t in model.config.vocab]
        self.changes = changes if highlight else {}
        self.graph = trace.graph
        self.start, self.top = start, top
        self.notes: dict[str, None] = {}  # what the panels' windows show, in order, once each
        self.longest = 0  # the longest feature axis drawn as a window (0: none)

    def node(self, name: str):
        return self.graph.node(name)

    def _window(self, axes: tuple[str, str], shape: tuple[int, int], rows: list[str], cols: list[str],
                top: tuple[int, ...] | None = None):
        """The rows and columns of a 2-D cut that are drawn (None: all), their labels, and what was cut."""
        which = "top" if top is None else "the input's"
        top = self.top if top is None else top
        r_idx, c_idx = (window(a, n, self.start, top) for a, n in zip(axes, shape))
        notes = tuple(window_text(a, n, idx, which) for a, n, idx in zip(axes, shape, (r_idx, c_idx)) if idx)
        self.notes.update(dict.fromkeys(notes))
        self.longest = max([self.longest] + [n for a, n, idx in zip(axes, shape, (r_idx, c_idx))
                                             if idx and a != "vocab"])
        rows = rows if r_idx is None else [rows[i] for i in r_idx]
        cols = cols if c_idx is None else [cols[i] for i in c_idx]
        return r_idx, c_idx, rows, cols, notes

    def panel(self, name: str, title: str, current: bool = False, kind: str | None = None,
              of_head: int | None = None, transpose: bool = False, **kw) -> Panel:
        """A panel showing trace step `name`; a per-head tensor shows the slice of head
        `of_head` (default: the selected head); `transpose` shows Kᵀ as [d_head, pos]."""
        sl = head_slicer(self.trace, name, self.head if of_head is None else of_head)
        whole = sl.take(self.trace[name])
        rows, cols = labels_for(self.trace, name, whole.shape, self.vocab)
        if transpose:
            sl = Slicer("pos_head_T", sl.head)
            whole, rows, cols = whole.T, cols, rows
        r_idx, c_idx, rows, cols, notes = self._window(sl.axes(self.node(name).axes), whole.shape, rows, cols)
        values = whole
        if notes:
            sl = replace(sl, rows=r_idx, cols=c_idx)
            values = sl.take(self.trace[name])
            for key, idx in (("col_bands", c_idx), ("row_bands", r_idx)):
                if key in kw and idx is not None:
                    kw[key] = _bands_in(kw[key], idx)
        real = self.node(name).name
        delta = self.changes.get(real)
        changed = None if delta is None or delta.shape != self.trace[name].shape else sl.take(delta) > 0
        if changed is not None and changed.sum() > MAX_OUTLINED:
            # thousands of outlined cells read as noise (and paint slowly): say it in the title
            changed, title = None, f"{title} (changed)"
        if kind is None:
            op = self.node(name).op
            kind = "prob" if op in ("softmax", "probs") else "ink" if op == "patchify" else "signed"
        kw.setdefault("weight", CURRENT_WEIGHT if current else 1.0)
        return Panel(title, values, rows, cols, kind, changed, real, sl, current, window=notes, **kw)

    def param(self, name: str, title: str, per_head: bool = False, top: tuple[int, ...] | None = None,
              **kw) -> Panel:
        """A panel showing a parameter: per-head ones [head, a, b] as the selected head's slice.
        A vocabulary axis is labelled with the tokens; a long one shows the top tokens, or the
        input's tokens `top` when given."""
        w = self.params[name]
        spec = self.graph.params.get(name)
        axes = tuple(spec.axes) if spec is not None and len(spec.axes) == w.ndim else ("",) * w.ndim
        if per_head and w.ndim >= 2:
            w, axes = w[self.head], axes[1:]
        if w.ndim == 1:
            w2, axes = w[np.newaxis, :], ("", axes[0])
        elif w.ndim == 3:  # W_O [head, d_head, d_model]: the heads' rows one after the other
            w2, axes = w.reshape(-1, w.shape[-1]), ("head·d_head", axes[2])
        else:
            w2 = w
        labels = [list(self.vocab) if a == "vocab" and n == len(self.vocab) else [str(i) for i in range(n)]
                  for a, n in zip(axes, w2.shape)]
        r_idx, c_idx, rows, cols, notes = self._window(axes, w2.shape, *labels, top=top)
        if r_idx is not None:
            w2 = w2[list(r_idx)]
            if "row_bands" in kw:
                kw["row_bands"] = _bands_in(kw["row_bands"], r_idx)
        if c_idx is not None:
            w2 = w2[:, list(c_idx)]
        return Panel(title, w2, rows, cols, window=notes, **kw)

    def matrix(self, name: str, title: str, x: Panel, **kw) -> Panel:
        """A weight matrix multiplying the activations `x`, drawn smaller (see PARAM_WEIGHT)."""
        w = self.param(name, title, **kw)
        w.weight = min(PARAM_WEIGHT, CURRENT_WEIGHT * x.values.shape[0] / w.values.shape[0])
        return w


def _bands_in(bands: tuple[tuple[int, int, int], ...], shown: tuple[int, ...]) -> tuple[tuple[int, int, int], ...]:
    """Head bands (start, stop, head) of a whole axis, cut to a window of consecutive indices `shown`."""
    first, last = shown[0], shown[-1] + 1
    return tuple((max(a, first) - first, min(b, last) - first, h) for a, b, h in bands if a < last and b > first)


def top_tokens(trace: Trace, vocab_size: int, position: int | None) -> tuple[int, ...]:
    """The TOP_TOKENS most likely next tokens at `position` (default: the last), most likely first,
    when the vocabulary is too long to draw whole (else none)."""
    if vocab_size <= MAX_VOCAB or "probs" not in trace:
        return ()
    probs = trace["probs"]  # [pos, vocab]
    pos = probs.shape[0] - 1 if position is None else max(0, min(probs.shape[0] - 1, position))
    return tuple(int(i) for i in np.argsort(-probs[pos], kind="stable")[:TOP_TOKENS])


def build_picture(trace: Trace, model: Transformer, changes: Mapping[str, np.ndarray],
                  name: str, head: int = 0, highlight: bool = True, position: int | None = None,
                  focus: int | None = None, start: int = 0) -> Picture:
    """The picture for step `name`: its inputs, the operation and its output.

    `position` is the query position whose next-token bars are shown (default: last), and
    whose top tokens a long vocabulary axis shows; `focus` a query row to single out in the
    attention lines; `start` the first column of the window a long feature axis shows.
    """
    top = top_tokens(trace, model.config.d_vocab, position)
    ctx = _Ctx(trace, model, changes, head, highlight, start, top)
    node = ctx.node(name)
    op = node.op
    if op in ("embed", "pos_sinusoidal", "pos_learned") or (op == "add" and node.sublayer == "embed"):
        kind, rows = "embedding", _embedding(ctx, node)
    elif op == "proj_heads":
        kind, rows = "qkv", _qkv(ctx, node)
    elif op == "rope":
        kind, rows = "rope", _rope(ctx, node)
    elif node.group == ATTENTION_CHAIN:
        kind, rows = "attention", _attention(ctx, node, focus)
        return Picture(kind, step_title(trace, name), node.formula, rows, small=(0,), window=tuple(ctx.notes),
                       longest=ctx.longest)
    elif node.role in LINEAR_ROLES:
        kind, rows = "linear_attention", _linear_attention(ctx, node, focus)
    elif op == "mix":
        kind, rows = "mix", _mix(ctx, node)
    elif op == "concat":
        kind, rows = "concat", _concat(ctx, node)
    elif node.role == "attn_out":
        kind, rows = "projection", _projection(ctx, node)
    elif op == "linear":
        kind, rows = "linear", _linear(ctx, node)
    elif op == "act":
        kind, rows = "activation", _activation(ctx, node)
    elif op == "add":
        kind, rows = "residual", _residual(ctx, node)
    elif op == "layernorm":
        kind, rows = "layernorm", _layernorm(ctx, node)
    elif op == "probs":
        kind, rows = "probs", _probs(ctx, node, position)
    elif node.group == DEPTH_CHAIN:
        kind, rows = "depth", _depth(ctx, node)
    elif op == "dwa":
        kind, rows = "dwa", _dwa(ctx, node)
    else:
        kind, rows = "generic", _generic(ctx, node)
    if kind in EQUATIONS:
        share_colour_scale(rows)
    return Picture(kind, step_title(trace, name), node.formula, rows, window=tuple(ctx.notes), longest=ctx.longest)


# pictures that are one equation of like quantities (a + b = c, heads side by side = concat):
# the same number has the same colour on both sides
EQUATIONS = ("embedding", "residual", "concat")


def share_colour_scale(rows: list[list[Item]]) -> None:
    """Give every signed panel of `rows` one colour range, that of all their values together."""
    panels = [it for row in rows for it in row if isinstance(it, Panel) and it.kind == "signed"]
    if len(panels) > 1:
        values = np.concatenate([p.values.ravel() for p in panels])
        _, levels = colormaps.for_values(values, "signed")
        for p in panels:
            p.levels = levels


# --- the builders: each returns rows of items -----------------------------------------------

def _embedding(ctx: _Ctx, node) -> list[list[Item]]:
    steps = {n.role: n.name for n in ctx.graph.nodes if n.stack == node.stack and n.sublayer == "embed"}
    embed_name = steps.get("embed") or steps["cls_prepend"]  # an image model's tokens are [CLS] + patches
    pos_name = steps.get("pos_sinusoidal") or steps.get("pos_learned")
    if pos_name is None:  # RoPE or no positions: the lookup itself is the picture
        ids = tuple(dict.fromkeys(int(i) for i in np.ravel(ctx.trace.input(ctx.node(embed_name).inputs[0]))))
        table = ctx.param(ctx.node(embed_name).params[0], "W_E (one row per word)", top=ids)
        return [[table, Symbol("→", "pick each token's row"),
                 ctx.panel(embed_name, "token embedding", current=True)]]
    total = steps["embed_pos"]
    what = "[CLS] + patch embeddings" if "cls_prepend" in steps else "token embedding"
    return [[ctx.panel(embed_name, what, current=node.name == embed_name),
             Symbol("+"),
             ctx.panel(pos_name, "position", current=node.name == pos_name),
             Symbol("="),
             ctx.panel(total, "x = embed + position", current=node.name == total)]]


def _qkv(ctx: _Ctx, node) -> list[list[Item]]:
    letter = node.role.upper()
    w_name = node.params[0]
    h = ctx.head
    # cross-attention's keys and values are made from the encoder's output, its queries from the decoder
    source = "encoder output" if node.sublayer == "cross_attn" and node.role in ("k", "v") else "input x"
    x = ctx.panel(node.inputs[0], source)
    return [[x, Symbol("×", "matrix\nproduct"),
             ctx.matrix(w_name, f"W_{letter} (head {h})", x, per_head=True, head=h),
             Symbol("=", f"+ b_{letter}"),
             ctx.panel(node.name, f"{letter} (head {h})", current=True, head=h)]]


def _rope(ctx: _Ctx, node) -> list[list[Item]]:
    letter = node.role.removeprefix("rot_").upper()
    h = ctx.head
    return [[ctx.panel(node.inputs[0], f"{letter} (head {h})", head=h),
             Symbol("⟳", "rotate pairs by\nposition × θ"),
             ctx.panel(node.name, f"rotated {letter} (head {h})", current=True, head=h)]]


def _chain(ctx: _Ctx, node, roles: tuple[str, ...]) -> list[str]:
    """The step names of a chain (each step reading the one before) around any of its steps."""
    down = node
    while down.role != roles[0]:
        down = ctx.node(down.inputs[0])
    chain = [down.name]
    for want in roles[1:]:
        nxt = next(n for n in ctx.graph.nodes[ctx.graph.index[chain[-1]] + 1:]
                   if n.inputs and n.inputs[0] == chain[-1] and n.role == want)
        chain.append(nxt.name)
    return chain


def _attention(ctx: _Ctx, node, focus: int | None) -> list[list[Item]]:
    """A strip of the four stages (current one framed) above the current stage's own
    calculation drawn large: input → operation → output."""
    chain = _chain(ctx, node, ATTENTION_ROLES)  # [scores, scaled, masked, pattern]
    raw, scaled, masked, pattern = chain
    h = ctx.head
    sqrt_d = ctx.node(scaled).attrs["sqrt_d"]
    unmasked = ctx.node(masked).attrs.get("kind") == "full"  # full attention: nothing is masked
    titles = ("Q·Kᵀ", "÷ √d_head", "no mask" if unmasked else "masked", "pattern")
    ops = (Symbol("÷", f"√{sqrt_d ** 2:g}"), Symbol("→", "mask"), Symbol("→", "softmax"))
    strip: list[Item] = []
    for i, (name, title) in enumerate(zip(chain, titles)):
        if i:
            strip.append(ops[i - 1])
        thumb = ctx.panel(name, title, current=name == node.name, head=h)
        # too small for labels, outlines or a colour bar; the large picture below has them
        thumb.rows, thumb.cols = [""] * len(thumb.rows), [""] * len(thumb.cols)
        thumb.changed, thumb.title, thumb.thumb = None, title, True
        strip.append(thumb)
    here = chain.index(node.name)
    if here == 0:
        q, k = node.inputs
        big: list[Item] = [ctx.panel(q, f"Q (head {h})", head=h), Symbol("×", "matrix\nproduct"),
                           ctx.panel(k, f"Kᵀ (head {h})", head=h, transpose=True)]
        big.append(Symbol("="))
    else:
        note = {1: f"√{sqrt_d ** 2:g} = {sqrt_d:.2f}", 2: f"mask:\n{mask_note(ctx.node(masked).attrs)}",
                3: "softmax\nper row"}[here]
        name = {1: "scores ", 2: "scaled ", 3: "unmasked " if unmasked else "masked "}[here]
        big = [ctx.panel(chain[here - 1], f"{name}(head {h})", head=h), Symbol(ops[here - 1].text, note)]
    big.append(ctx.panel(node.name, f"{titles[here] if here else 'scores'} (head {h})", current=True, head=h))
    if here == 3:
        q_labels, k_labels = query_key_labels(ctx.trace, pattern)
        n_heads = ctx.trace[pattern].shape[0]
        big.append(Lines(ctx.trace[pattern], q_labels, k_labels, lines_focus(focus, len(q_labels)),
                         [h] if n_heads > MAX_LINE_HEADS else None))
    return [strip, big]


def lines_focus(focus: int | None, n_queries: int) -> int | None:
    """The query whose lines are drawn: the chosen one; for long inputs, the last by default."""
    if focus is None and n_queries > MAX_ALL_LINES:
        return n_queries - 1
    return focus


def _mix(ctx: _Ctx, node) -> list[list[Item]]:
    pattern, v = node.inputs
    h = ctx.head
    return [[ctx.panel(pattern, f"pattern (head {h})", head=h),
             Symbol("×", "matrix\nproduct"),
             ctx.panel(v, f"V (head {h})", head=h),
             Symbol("="),
             ctx.panel(node.name, f"z (head {h})", current=True, head=h)]]


def _linear_attention(ctx: _Ctx, node, focus: int | None) -> list[list[Item]]:
    """Linear attention's steps: φ, the running sums S and z growing a row per token, the output read
    from them, and the quadratic form beside it with the largest difference from the recurrent output."""
    h, a = ctx.head, node.name.rsplit(".", 1)[0] + "."
    op = node.op
    if op == "feature_map":
        letter = node.role.removeprefix("phi_")
        return [[ctx.panel(node.inputs[0], f"{letter} (head {h})", head=h), Symbol("φ", "elu(x) + 1\n(always > 0)"),
                 ctx.panel(node.name, f"φ({letter}) (head {h})", current=True, head=h)]]
    if op == "kv_state":
        state = ctx.panel(node.name, f"S, one row per token (head {h})", current=True, head=h)
        d = ctx.trace[node.inputs[0]].shape[-1]
        last = state.values.shape[0] - 1
        whole = ctx.trace[node.name][:, h]  # [pos, d_head·d_head], whole even when the panel shows a window
        matrix = Panel(f"the memory after '{state.rows[last]}': S{last}", whole[last].reshape(d, d),
                       [str(r) for r in range(d)], [str(c) for c in range(d)], weight=PARAM_WEIGHT)
        return [[ctx.panel(node.inputs[0], f"φ(k) (head {h})", head=h), Symbol("⊗", "outer product\nwith v"),
                 ctx.panel(node.inputs[1], f"V (head {h})", head=h),
                 Symbol("→", "running sum\nover tokens" if node.attrs["causal"] else "sum over\nall tokens"),
                 state], [Symbol("=", "the last row as\nd_head × d_head"), matrix]]
    if op == "k_sum":
        return [[ctx.panel(node.inputs[0], f"φ(k) (head {h})", head=h),
                 Symbol("Σ", "running sum\nover tokens" if node.attrs["causal"] else "sum over\nall tokens"),
                 ctx.panel(node.name, f"z (head {h})", current=True, head=h)]]
    if op == "linear_out":
        phi_q, state, k_sum = node.inputs
        return [[ctx.panel(phi_q, f"φ(q) (head {h})", head=h), Symbol("·", "read the\nstate S"),
                 ctx.panel(state, f"S (head {h})", head=h), Symbol("÷", "φ(q)·z"),
                 ctx.panel(k_sum, f"z (head {h})", head=h), Symbol("="),
                 ctx.panel(node.name, f"output (head {h})", current=True, head=h)]]
    if op == "linear_weights":
        phi_q, phi_k = node.inputs
        q_labels, k_labels = labels_for(ctx.trace, node.name, ctx.trace[node.name].shape[1:])
        return [[ctx.panel(phi_q, f"φ(q) (head {h})", head=h), Symbol("×", "then ÷\nrow sum"),
                 ctx.panel(phi_k, f"φ(k)ᵀ (head {h})", head=h, transpose=True), Symbol("="),
                 ctx.panel(node.name, f"weights A (head {h})", current=True, head=h, kind="prob"),
                 Lines(ctx.trace[node.name], q_labels, k_labels, lines_focus(focus, len(q_labels)))]]
    weights, v = node.inputs  # the quadratic output z = A·V, shown equal to the recurrent one
    recurrent = a + "hook_z"
    diff = float(np.max(np.abs(ctx.trace[node.name] - ctx.trace[recurrent])))
    return [[ctx.panel(weights, f"weights A (head {h})", head=h, kind="prob"), Symbol("×"),
             ctx.panel(v, f"V (head {h})", head=h), Symbol("="),
             ctx.panel(node.name, f"A·V (head {h})", current=True, head=h),
             Symbol("=", f"the recurrent\noutput: largest\ndifference {diff:.0e}"),
             ctx.panel(recurrent, f"φ(q)·S ÷ φ(q)·z (head {h})", head=h)]]


def _head_bands(n_heads: int, d_head: int) -> tuple[tuple[int, int, int], ...]:
    return tuple((h * d_head, (h + 1) * d_head, h) for h in range(n_heads))


def _concat(ctx: _Ctx, node) -> list[list[Item]]:
    z_name = node.inputs[0]
    z = ctx.trace[z_name]  # [pos, head, d_head]
    n_heads, d_head = z.shape[1], z.shape[2]
    items: list[Item] = []
    for h in range(n_heads):
        if h:
            items.append(Symbol("|"))
        items.append(ctx.panel(z_name, f"z head {h}", of_head=h, head=h))
    items.append(Symbol("→", "side by side"))
    items.append(ctx.panel(node.name, "concat", current=True, col_bands=_head_bands(n_heads, d_head)))
    return [items]


def _projection(ctx: _Ctx, node) -> list[list[Item]]:
    cat = node.inputs[0]
    w_name = node.params[0]
    n_heads, d_head, _ = ctx.params[w_name].shape
    bands = _head_bands(n_heads, d_head)
    x = ctx.panel(cat, "concat", col_bands=bands)
    return [[x, Symbol("×", "matrix\nproduct"), ctx.matrix(w_name, "W_O", x, row_bands=bands),
             Symbol("=", "+ b_O"),
             ctx.panel(node.name, "attention output", current=True)]]


def _linear(ctx: _Ctx, node) -> list[list[Item]]:
    w_name, b_name = node.params
    short = w_name.rsplit(".", 1)[-1]
    x = ctx.panel(node.inputs[0], "input x")
    w = ctx.matrix(w_name, short, x)
    out = {"mlp_pre": "pre-activation", "mlp_out": "MLP output", "logits": "logits"}.get(node.role, "output")
    return [[x, Symbol("×", "matrix\nproduct"), w,
             Symbol("=", "+ " + b_name.rsplit(".", 1)[-1]), ctx.panel(node.name, out, current=True)]]


def _activation(ctx: _Ctx, node) -> list[list[Item]]:
    fn = node.attrs.get("fn", "relu")
    note = {"relu": "max(x, 0)", "gelu_exact": "= x·Φ(x)\n(with erf)"}.get(fn, "≈ x·Φ(x)")  # gelu: tanh form
    return [[ctx.panel(node.inputs[0], "before (pre)"), Symbol(fn.upper() if fn == "relu" else "GELU", note),
             ctx.panel(node.name, "after (post)", current=True)]]


def _short(ctx: _Ctx, name: str) -> str:
    """What a residual input is, in words."""
    node = ctx.node(name)
    if node.role == "attn_out" and node.sublayer == "cross_attn":
        return "cross-attention output"
    return {"attn_out": "attention output", "mlp_out": "MLP output", "embed": "token embedding",
            "pos_sinusoidal": "position", "pos_learned": "position"}.get(node.role, "stream in")


def _residual(ctx: _Ctx, node) -> list[list[Item]]:
    items: list[Item] = []
    for i, name in enumerate(node.inputs):
        if i:
            items.append(Symbol("+"))
        title = _short(ctx, name)
        if title in (p.title for p in items if isinstance(p, Panel)):
            title = f"{title} ({i})"
        items.append(ctx.panel(name, title))
    items += [Symbol("="), ctx.panel(node.name, "sum", current=True)]
    return [items]


def _layernorm(ctx: _Ctx, node) -> list[list[Item]]:
    x_name = node.inputs[0]
    x = ctx.trace[x_name]  # [pos, d_model]
    stats = norm_stats(x)  # [pos, 2]
    x_panel = ctx.panel(x_name, "input x")
    changed = None if x_panel.changed is None else np.repeat(x_panel.changed.any(1, keepdims=True), 2, 1)
    stats_panel = Panel("mean, spread", stats, list(x_panel.rows), ["mean", "std"], changed=changed)
    return [[x_panel, Symbol("→"), stats_panel, Symbol("→", "(x − mean) ÷ std\n· w + b"),
             ctx.panel(node.name, "normalised", current=True)]]


def _probs(ctx: _Ctx, node, position: int | None) -> list[list[Item]]:
    logits = node.inputs[0]
    probs = ctx.trace[node.name]  # [pos, vocab]
    n_pos = probs.shape[0]
    pos = n_pos - 1 if position is None else max(0, min(n_pos - 1, position))
    t = ctx.trace.temperature
    return [[ctx.panel(logits, "logits"), Symbol("→", f"÷ T = {t:.2f}\nsoftmax"),
             ctx.panel(node.name, "probabilities", current=True),
             Bars(probs, list(ctx.vocab), token_labels(ctx.trace, node.name), pos, t, ctx.trace[logits],
                  classes=ctx.trace.graph.config.arch == "vit",
                  what="Token predicted at" if ctx.masked_lm else "Next token after")]]


def _depth(ctx: _Ctx, node) -> list[list[Item]]:
    logits, weights, mixed = _chain(ctx, node, DEPTH_ROLES)
    return [[ctx.panel(logits, "scores over depth", current=node.name == logits),
             Symbol("→", "softmax over\nsources"),
             ctx.panel(weights, "weights α", current=node.name == weights, kind="prob"),
             Symbol("→", "Σ α · source"),
             ctx.panel(mixed, "mixed input", current=node.name == mixed)]]


def _dwa(ctx: _Ctx, node) -> list[list[Item]]:
    alpha = ctx.param(node.params[0], "weights α")
    # one row per source, so each source's name fits beside its weight
    alpha.values, alpha.rows, alpha.cols = alpha.values.T, depth_source_labels(ctx.trace, node), ["α"]
    return [[alpha, Symbol("→", "Σ α_j · X_j"), ctx.panel(node.name, "mixed stream", current=True)]]


def _generic(ctx: _Ctx, node) -> list[list[Item]]:
    items: list[Item] = []
    for name in node.inputs:
        if name in ctx.graph.index or name in ctx.graph.aliases:
            items.append(ctx.panel(name, name.rsplit(".", 1)[-1]))
    if items:
        items.append(Symbol("→", node.op))
    items.append(ctx.panel(node.name, "output", current=True))
    return [items]


__all__ = ["build_picture", "lines_focus", "step_title"]  # step_title: used by the handout and lessons
