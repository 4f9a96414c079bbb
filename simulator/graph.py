"""The forward pass as an ordered list of named nodes, built once per config.

Each node is one step a class can watch: what it computes (`op`), from which
activations (`inputs`) and parameters (`params`), the axes of its value, and the
formula and sentences that explain it (looked up in `simulator.step_text` by its
`role`). Names follow TransformerLens (`blocks.0.attn.hook_pattern`). Some
TransformerLens names are the same tensor as an earlier step (e.g.
`blocks.1.hook_resid_pre` is `blocks.0.hook_resid_post`); those are `aliases`.

Read `_block` first: one block is its residual stream,
resid_pre → attn → resid_mid → mlp → resid_post. How a sublayer's output joins the
stream depends on the residual mode; each mode is one small method of `_Builder`.

A new kind of step needs: its parameters declared with `_Builder.param` before the node that
reads them, a `role` with a formula and text in `step_text.STEP_TEXT`, its `axes` (and `group`),
and, for a new op, an entry in `ops.FORWARD`, `backward.BACKWARD`, `gradient_flow.FORMULAS` and
`DESCRIPTIONS`, and `explain.EXPLAIN` (tests check each).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from . import patterns
from .config import DEPTH_MODES, ModelConfig
from .step_text import step_text
from .vision import PIXEL_MAX

ATTENTION_CHAIN = "attention chain"  # the [head, q_pos, k_pos] grids from scores to pattern
DEPTH_CHAIN = "depth chain"  # an attention over depth: its logits, weights and mix


@dataclass(frozen=True, eq=False)
class Node:
    """One step of the forward pass, with the facts views read instead of parsing its name."""

    name: str
    op: str
    inputs: tuple[str, ...]
    params: tuple[str, ...] = ()
    attrs: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    layer: int | None = None
    stack: str = ""  # "", "encoder" or "decoder"
    sublayer: str = ""  # embed | attn | cross_attn | mlp | depth | final
    major: bool = False  # shown when stepping one sublayer at a time
    formula: str = ""
    text: str = ""
    role: str = ""  # what the step is, whatever its name: "q", "pattern", "attn_out", "resid", …
    axes: tuple[str, ...] = ()  # one name per axis of the value, e.g. ("head", "q_pos", "k_pos")
    group: str | None = None  # ATTENTION_CHAIN, DEPTH_CHAIN or None


@dataclass(frozen=True)
class ParamSpec:
    """One parameter as the walk of the architecture declares it."""

    name: str
    shape: tuple[int, ...]
    axes: tuple[str, ...]
    init: str  # "normal" (embeddings), "fan_in" (weight matrices), "zeros", "ones", "identity_last"
    fan_in: int = 0  # for "fan_in": how many inputs each output sums


@dataclass(frozen=True, eq=False)
class Graph:
    """The steps of one config's forward pass in order, their aliases, and the parameters they read."""

    nodes: tuple[Node, ...]
    aliases: MappingProxyType  # alias name -> node name
    inputs: tuple[str, ...]  # names of the values fed in: token ids, temperature
    output: str = "probs"
    config: ModelConfig | None = None
    params: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))  # name -> ParamSpec

    def __post_init__(self):
        object.__setattr__(self, "index", {n.name: i for i, n in enumerate(self.nodes)})

    def node(self, name: str) -> Node:
        return self.nodes[self.index[self.aliases.get(name, name)]]


# The axes of every kind of activation
TOKENS = ("pos", "d_model")
PER_HEAD = ("pos", "head", "d_head")
GRID = ("head", "q_pos", "k_pos")


class _Builder:
    def __init__(self, cfg: ModelConfig):
        self.cfg = cfg
        self.nodes: list[Node] = []
        self.aliases: dict[str, str] = {}
        self.params: dict[str, ParamSpec] = {}
        self.where: dict = {}  # layer, stack and sublayer of the nodes being added
        self.sizes = {"vocab": cfg.d_vocab, "d_model": cfg.d_model, "head": cfg.n_heads, "d_head": cfg.d_head,
                      "d_mlp": cfg.d_mlp, "pos": cfg.n_ctx, "patch": cfg.n_patches, "pixel": cfg.patch_pixels,
                      "token_type": cfg.n_token_types}

    def add(self, name, op, inputs, params=(), attrs=None, *, role, axes=TOKENS, group=None, facts=None,
            text_key=None, **kw) -> str:
        inputs = tuple(self.aliases.get(i, i) for i in inputs)
        assert all(p in self.params for p in params), f"{name} uses an undeclared parameter"
        formula, text = step_text(text_key or role, self.cfg, **(facts or {}))
        self.nodes.append(Node(name, op, inputs, tuple(params), MappingProxyType(dict(attrs or {})),
                               **{**self.where, **kw}, formula=formula, text=text, role=role, axes=axes,
                               group=group))
        return name

    def alias(self, name: str, target: str) -> str:
        self.aliases[name] = self.aliases.get(target, target)
        return name

    def param(self, name: str, axes: tuple[str, ...], init: str, shape: tuple[int, ...] | None = None,
              fan_in: int = 0) -> str:
        """Declare a parameter: its shape follows from its axes (or is given)."""
        shape = tuple(self.sizes[a] for a in axes) if shape is None else shape
        self.params[name] = ParamSpec(name, shape, axes, init, fan_in)
        return name

    def bias(self, name: str, axes: tuple[str, ...]) -> tuple[str, ...]:
        """A linear layer's bias, declared when the config has biases: () or (its name,), to add to `params`."""
        return (self.param(name, axes, "zeros"),) if self.cfg.bias else ()

    def bias_of(self, name: str) -> tuple[str, ...]:
        """A bias declared earlier by `bias`: () when the config has none."""
        return (name,) if name in self.params else ()

    def at(self, **where) -> None:
        """Where the nodes added next sit (layer, stack, sublayer)."""
        self.where = where

    # --- the sublayers ---

    def declare_norm(self, ln: str) -> None:
        """A sublayer's norm weights come first among its parameters, pre- or post-LN alike."""
        if self.cfg.norm != "none":
            self.param(ln + ".w", ("d_model",), "ones")
            self.param(ln + ".b", ("d_model",), "zeros")

    def norm(self, ln: str, x: str, **kw) -> str:
        return self.add(f"{ln}.hook_normalized", "layernorm", [x], [ln + ".w", ln + ".b"],
                        {"eps": self.cfg.norm_eps}, role="norm", **kw)

    def sublayer(self, b: str, kind: str, ln: str, x: str, body) -> str:
        """One sublayer on the stream x: body(LN(x)) with pre-LN, body(x) otherwise; returns its output."""
        self.where = {**self.where, "sublayer": kind}
        self.declare_norm(b + ln)
        return body(self.norm(b + ln, x) if self.cfg.norm == "pre" else x)

    def attention(self, b: str, x: str, kind: str, kv: str | None = None, name: str = "attn") -> str:
        cfg = self.cfg
        a = f"{b}{name}."
        cross = "_cross" if kv is not None else ""
        fan_in = cfg.n_heads * cfg.d_head
        for m in "QKV":
            self.param(a + f"W_{m}", ("head", "d_model", "d_head"), "fan_in", fan_in=cfg.d_model)
        b_qkv = {m: self.bias(a + f"b_{m}", ("head", "d_head")) for m in "QKV"}
        self.param(a + "W_O", ("head", "d_head", "d_model"), "fan_in", fan_in=fan_in)
        self.bias(a + "b_O", ("d_model",))
        src = kv or x
        q = self.add(a + "hook_q", "proj_heads", [x], [a + "W_Q", *b_qkv["Q"]], role="q", axes=PER_HEAD,
                     text_key="q" + cross)
        k = self.add(a + "hook_k", "proj_heads", [src], [a + "W_K", *b_qkv["K"]], role="k", axes=PER_HEAD,
                     text_key="k" + cross)
        v = self.add(a + "hook_v", "proj_heads", [src], [a + "W_V", *b_qkv["V"]], role="v", axes=PER_HEAD,
                     text_key="v" + cross)
        if cfg.positional == "rope" and not cross:
            q = self.add(a + "hook_rot_q", "rope", [q], role="rot_q", axes=PER_HEAD)
            k = self.add(a + "hook_rot_k", "rope", [k], role="rot_k", axes=PER_HEAD)
        if kind.startswith("linear"):
            return self.heads_out(b, self.linear(a, q, k, v, causal=kind == "linear"), cross)
        chain = {"axes": GRID, "group": ATTENTION_CHAIN}
        # key slots every row is computed over (see ops.ROW_BLOCK), so that a KV cache matches a rerun bit for
        # bit; an encoder has no cache, and padding BERT's 32 keys to its 512 slots would cost 16 times the work
        n_keys = {"n_keys": 0 if cfg.arch == "encoder" else cfg.n_ctx}
        s = self.add(a + "hook_scores_raw", "scores", [q, k], attrs=n_keys, role="scores", **chain)
        s = self.add(a + "hook_scores_scaled", "scale", [s], attrs={"sqrt_d": math.sqrt(cfg.d_head)}, role="scaled",
                     **chain)
        attrs = patterns.mask_attrs(cfg, kind)
        s = self.add(a + "hook_attn_scores", "mask", [s], attrs=attrs, role="mask",
                     text_key=f"mask_{kind}" + (cross if kind == "full" else "")
                     + ("_future" if kind == "full" and not cross and cfg.arch == "decoder" else ""),
                     facts={**attrs, "keep": patterns.formula(kind, attrs)}, **chain)
        pattern = self.add(a + "hook_pattern", "softmax", [s], attrs={"axis": -1, **n_keys}, role="pattern",
                           text_key="pattern" + ("_full" if kind == "full" else ""), **chain)
        z = self.add(a + "hook_z", "mix", [pattern, v], attrs=n_keys, role="z", axes=PER_HEAD)
        return self.heads_out(b, z, cross)

    def heads_out(self, b: str, z: str, cross: str) -> str:
        """The heads' outputs z side by side, then the output projection W_O."""
        a = z.rsplit(".", 1)[0] + "."
        cat = self.add(a + "hook_concat", "concat", [z], role="concat", axes=("pos", "head·d_head"))
        out = "hook_cross_attn_out" if cross else "hook_attn_out"
        return self.add(b + out, "linear", [cat], [a + "W_O", *self.bias_of(a + "b_O")], role="attn_out",
                        major=True)

    def linear(self, a: str, q: str, k: str, v: str, causal: bool) -> str:
        """Linear attention (Katharopoulos et al., 2020): the recurrent form, then the quadratic one beside it.

        Returns the head outputs z (the recurrent form's); the quadratic form's steps are for display.
        """
        form = "" if causal else "-full"
        attrs = {"causal": causal}
        phi_q = self.add(a + "hook_phi_q", "feature_map", [q], role="phi_q", axes=PER_HEAD)
        phi_k = self.add(a + "hook_phi_k", "feature_map", [k], role="phi_k", axes=PER_HEAD)
        state = self.add(a + "hook_kv_state", "kv_state", [phi_k, v], attrs=attrs, role="kv_state",
                         text_key="kv_state" + form, axes=("pos", "head", "d_head·d_head"))
        k_sum = self.add(a + "hook_k_sum", "k_sum", [phi_k], attrs=attrs, role="k_sum", text_key="k_sum" + form,
                         axes=PER_HEAD)
        z = self.add(a + "hook_z", "linear_out", [phi_q, state, k_sum], role="linear_z", axes=PER_HEAD)
        weights = self.add(a + "hook_linear_weights", "linear_weights", [phi_q, phi_k], attrs=attrs,
                           role="linear_weights", text_key="linear_weights" + form, axes=GRID)
        self.add(a + "hook_z_quadratic", "mix", [weights, v], role="z_quadratic", axes=PER_HEAD)
        # the weights are what a softmax attention's pattern is: views that read hook_pattern show them
        self.alias(a + "hook_pattern", weights)
        return z

    def mlp(self, b: str, x: str) -> str:
        cfg, m = self.cfg, b + "mlp."
        self.param(m + "W_in", ("d_model", "d_mlp"), "fan_in", fan_in=cfg.d_model)
        b_in = self.bias(m + "b_in", ("d_mlp",))
        self.param(m + "W_out", ("d_mlp", "d_model"), "fan_in", fan_in=cfg.d_mlp)
        b_out = self.bias(m + "b_out", ("d_model",))
        pre = self.add(m + "hook_pre", "linear", [x], [m + "W_in", *b_in], role="mlp_pre",
                       axes=("pos", "d_mlp"))
        post = self.add(m + "hook_post", "act", [pre], attrs={"fn": cfg.activation}, role="mlp_post",
                        text_key=f"mlp_post_{cfg.activation}", axes=("pos", "d_mlp"))
        return self.add(b + "hook_mlp_out", "linear", [post], [m + "W_out", *b_out], role="mlp_out",
                        major=True)

    # --- how a sublayer's output joins the stream: one method per residual mode ---

    def join(self, b: str, resid: str, stream: str, out: str, ln: str) -> str:
        """The stream after a sublayer: `resid` names it (hook_resid_mid, hook_resid_mid2, hook_resid_post)."""
        if self.cfg.residual == "none":
            return self.no_skip(b, resid, out, ln)
        if self.cfg.norm == "post":
            return self.add_then_norm(b, resid, stream, out, ln)
        return self.add(b + resid, "add", [stream, out], role="resid", major=True)

    def no_skip(self, b: str, resid: str, out: str, ln: str) -> str:
        """No residual connection: the stream is the sublayer's output (normalised with post-LN)."""
        if self.cfg.norm == "post":
            out = self.norm(b + ln, out, major=True)
        return self.alias(b + resid, out)

    def add_then_norm(self, b: str, resid: str, stream: str, out: str, ln: str) -> str:
        """Post-LN (Vaswani et al., 2017): the stream is LN(stream + out)."""
        total = self.add(b + resid.replace("resid", "sum"), "add", [stream, out], role="resid_sum")
        self.norm(b + ln, total, major=True)
        return self.alias(b + resid, f"{b}{ln}.hook_normalized")

    def denseformer(self, b: str, layer: int, block_outputs: list[str]) -> str:
        """DenseFormer: after each block, a learned weighted average of the embedding and every block output."""
        alpha = self.param(b + "dwa.alpha", ("block",), "identity_last", shape=(layer + 2,))
        return self.add(b + "dwa.hook_mixed", "dwa", block_outputs, [alpha], role="dwa", sublayer="depth",
                        major=True)

    def depth_attention(self, b: str, outputs: list[str], sublayer: int, what: str, layer: int | None) -> str:
        """Attention Residuals: a sublayer reads a softmax-weighted mix of the earlier sublayer outputs."""
        groups = _depth_groups(self.cfg, sublayer)
        d = f"{b}{what}."
        w = self.param(d + "w", ("d_model",), "zeros")
        self.where = {**self.where, "layer": layer, "sublayer": "depth"}
        chain = {"axes": ("source", "pos"), "group": DEPTH_CHAIN}
        logits = self.add(d + "hook_logits", "depth_logits", outputs, [w],
                          {"groups": groups, "eps": self.cfg.norm_eps}, role="depth_logits",
                          facts={"n_sources": len(groups)}, **chain)
        weights = self.add(d + "hook_weights", "softmax", [logits], attrs={"axis": 0}, role="depth_weights", **chain)
        return self.add(d + "hook_mixed", "depth_mix", [weights, *outputs], attrs={"groups": groups},
                        role="depth_mixed", group=DEPTH_CHAIN, major=True)


def _depth_groups(cfg: ModelConfig, sublayer: int) -> tuple[tuple[int, ...], ...]:
    """Which outputs v_i are summed into each depth source seen by a sublayer (1-based; 2L+1 = read-out)."""
    if cfg.residual == "attnres":
        return tuple((i,) for i in range(sublayer))
    n, total = cfg.depth_blocks, cfg.n_sublayers
    block = [None] + [(i - 1) * n // total for i in range(1, total + 1)]
    groups = [(0,)]
    for bl in range(n):
        members = tuple(i for i in range(1, sublayer) if block[i] == bl)
        if members:  # a finished block's sum, or the current block's partial sum
            groups.append(members)
    return tuple(groups)


def _embedding(bld: _Builder, p: str) -> str:
    """Token embedding (plus position, plus token type; then LayerNorm with embed_norm): the start of the
    residual stream, v_0."""
    cfg = bld.cfg
    ids = f"{p}input_ids"
    bld.at(stack=p.rstrip("."), sublayer="embed")
    w_e = bld.param(f"{p}embed.W_E", ("vocab", "d_model"), "normal")
    terms = [bld.add(f"{p}hook_embed", "embed", [ids], [w_e], role="embed")]
    if cfg.positional == "sinusoidal":
        terms.append(bld.add(f"{p}hook_pos_embed", "pos_sinusoidal", [ids],
                             attrs={"d_model": cfg.d_model, "dtype": cfg.dtype}, role="pos_sinusoidal"))
    elif cfg.positional == "learned":
        w_pos = bld.param(f"{p}pos_embed.W_pos", ("pos", "d_model"), "normal")
        terms.append(bld.add(f"{p}hook_pos_embed", "pos_learned", [ids], [w_pos], role="pos_learned"))
    # RoPE rotates queries and keys instead; "none" has no positions at all
    if cfg.n_token_types:  # BERT's segments: sentence A (type 0) and sentence B (type 1)
        w_type = bld.param(f"{p}token_type_embed.W_type", ("token_type", "d_model"), "normal")
        terms.append(bld.add(f"{p}hook_token_type_embed", "embed", [f"{p}token_type_ids"], [w_type],
                             role="token_type"))
    resid_pre = f"{p}blocks.0.hook_resid_pre"
    if not cfg.embed_norm:
        if len(terms) == 1:
            return bld.alias(resid_pre, terms[0])
        return bld.add(resid_pre, "add", terms, role="embed_pos", major=True, layer=0,
                       text_key="embed_pos_type" if cfg.n_token_types else None)
    x = terms[0] if len(terms) == 1 else bld.add(
        f"{p}hook_embed_sum", "add", terms, role="embed_pos", text_key="embed_pos_type" if cfg.n_token_types
        else None)
    bld.param(f"{p}ln_embed.w", ("d_model",), "ones")
    bld.param(f"{p}ln_embed.b", ("d_model",), "zeros")
    normed = bld.norm(f"{p}ln_embed", x, major=True, layer=0, text_key="embed_norm")
    return bld.alias(resid_pre, normed)


def _patch_embedding(bld: _Builder, p: str) -> str:
    """A Vision Transformer's input (Dosovitskiy et al., 2021): patches → vectors, [CLS] first, positions added."""
    cfg = bld.cfg
    bld.at(stack="", sublayer="embed")
    patches = bld.add("hook_patches", "patchify", ["image"],
                      attrs={"patch": cfg.patch, "pixel_max": PIXEL_MAX, "dtype": cfg.dtype},
                      role="patches", axes=("patch", "pixel"))
    w_p = bld.param("embed.W_patch", ("pixel", "d_model"), "fan_in", fan_in=cfg.patch_pixels)
    b_p = bld.bias("embed.b_patch", ("d_model",))
    embed = bld.add("hook_patch_embed", "linear", [patches], [w_p, *b_p], role="patch_embed",
                    axes=("patch", "d_model"))
    cls = bld.param("embed.cls", ("d_model",), "normal")
    tokens = bld.add("hook_embed", "prepend_cls", [embed], [cls], role="cls_prepend")
    w_pos = bld.param("pos_embed.W_pos", ("pos", "d_model"), "normal")
    pos = bld.add("hook_pos_embed", "pos_learned", [tokens], [w_pos], role="pos_learned", text_key="pos_patch")
    return bld.add("blocks.0.hook_resid_pre", "add", [tokens, pos], role="embed_pos", major=True, layer=0)


def _block(bld: _Builder, p: str, layer: int, x: str, kind: str, enc_out: str | None, outputs: list[str]) -> str:
    """One block as its residual stream; returns resid_post. `outputs` collects the sublayer outputs."""
    b = f"{p}blocks.{layer}."
    bld.at(layer=layer, stack=p.rstrip("."))
    attn = bld.sublayer(b, "attn", "ln1", x, lambda h: bld.attention(b, h, kind))
    x = bld.join(b, "hook_resid_mid", x, attn, "ln1")  # resid_mid = resid_pre + attn(ln1(resid_pre))
    mlp_ln = "ln2"
    if enc_out is not None:  # a decoder fed by an encoder also attends to the encoder's output
        cross = bld.sublayer(b, "cross_attn", "ln2", x,
                             lambda h: bld.attention(b, h, "full", kv=enc_out, name="cross_attn"))
        x = bld.join(b, "hook_resid_mid2", x, cross, "ln2")  # resid_mid2 = resid_mid + cross_attn(…)
        mlp_ln = "ln3"
    mlp = bld.sublayer(b, "mlp", mlp_ln, x, lambda h: bld.mlp(b, h))
    x = bld.join(b, "hook_resid_post", x, mlp, mlp_ln)  # resid_post = resid_mid + mlp(ln2(resid_mid))
    outputs += [attn, mlp]
    return x


def _depth_block(bld: _Builder, p: str, layer: int, kind: str, outputs: list[str]) -> None:
    """One block with Attention Residuals: each sublayer reads a mix over depth instead of the stream."""
    b = f"{p}blocks.{layer}."
    bld.at(layer=layer, stack=p.rstrip("."))
    x = bld.depth_attention(b, list(outputs), 2 * layer + 1, "depth_attn", layer)
    # The mix is what enters the block, as resid_pre/resid_post do in a standard stream. Layer 0's
    # mix has one source (weight 1), so blocks.0.hook_resid_pre stays v_0 itself.
    if layer > 0:
        bld.alias(b + "hook_resid_pre", x)
        bld.alias(f"{p}blocks.{layer - 1}.hook_resid_post", x)
    outputs.append(bld.sublayer(b, "attn", "ln1", x, lambda h: bld.attention(b, h, kind)))
    bld.declare_norm(b + "ln2")  # the MLP sublayer's parameters start with its norm's, as in other modes
    x = bld.depth_attention(b, list(outputs), 2 * layer + 2, "depth_mlp", layer)
    bld.alias(b + "hook_resid_mid", x)
    outputs.append(bld.sublayer(b, "mlp", "ln2", x, lambda h: bld.mlp(b, h)))


def _stack(bld: _Builder, p: str, kind: str, enc_out: str | None, embedding=_embedding) -> str:
    """One stack of blocks; returns the name of its final (normalised) output."""
    cfg = bld.cfg
    x = embedding(bld, p)
    outputs = [x]  # v_0, v_1, … : the embedding and each sublayer's output
    if cfg.residual in ("attnres", "block_attnres"):
        for layer in range(cfg.n_layers):
            _depth_block(bld, p, layer, kind, outputs)
        x = bld.depth_attention(p, list(outputs), cfg.n_sublayers + 1, "depth_final", None)
        bld.alias(f"{p}blocks.{cfg.n_layers - 1}.hook_resid_post", x)
    else:
        block_outputs = [x]  # X_0, X_1, … for DenseFormer
        for layer in range(cfg.n_layers):
            if layer > 0:
                bld.alias(f"{p}blocks.{layer}.hook_resid_pre", x)
            x = _block(bld, p, layer, x, kind, enc_out, outputs)
            if cfg.residual == "denseformer":
                block_outputs.append(x)
                x = bld.denseformer(f"{p}blocks.{layer}.", layer, block_outputs)
    if cfg.norm == "pre":
        bld.at(stack=p.rstrip("."), sublayer="final")
        bld.declare_norm(f"{p}ln_final")
        x = bld.norm(f"{p}ln_final", x, major=True)
    return x


def _mlm_transform(bld: _Builder, x: str) -> str:
    """BERT's masked-LM head before its read-out: a dense layer, the activation, a LayerNorm."""
    cfg = bld.cfg
    w = bld.param("mlm.W_dense", ("d_model", "d_model"), "fan_in", fan_in=cfg.d_model)
    b = bld.bias("mlm.b_dense", ("d_model",))
    x = bld.add("mlm.hook_dense", "linear", [x], [w, *b], role="mlm_dense")
    x = bld.add("mlm.hook_act", "act", [x], attrs={"fn": cfg.activation}, role="mlm_act",
                text_key=f"mlp_post_{cfg.activation}")
    bld.param("mlm.ln.w", ("d_model",), "ones")
    bld.param("mlm.ln.b", ("d_model",), "zeros")
    return bld.norm("mlm.ln", x, major=True, text_key="mlm_norm")


@lru_cache(maxsize=64)
def build_graph(cfg: ModelConfig) -> Graph:
    """The nodes of a forward pass for this config, in the order they are computed."""
    bld = _Builder(cfg)
    if cfg.arch == "encoder-decoder":
        enc = _stack(bld, "encoder.", patterns.kind_for(cfg.attention, False), None)
        x = _stack(bld, "decoder.", patterns.kind_for(cfg.attention, True), enc)
        unembed, inputs = "decoder.unembed.", ("encoder.input_ids", "decoder.input_ids", "temperature")
    elif cfg.arch == "vit":  # an encoder over patches whose class head reads the final LayerNorm of [CLS]
        x = _stack(bld, "", "window-full" if cfg.attention == "window" else "full", None, _patch_embedding)
        x = bld.add("hook_cls", "take_cls", [x], role="cls_out")
        unembed, inputs = "unembed.", ("image", "temperature")
    else:
        x = _stack(bld, "", patterns.kind_for(cfg.attention, cfg.arch == "decoder"), None)
        unembed, inputs = "unembed.", ("input_ids", "temperature")
        if cfg.n_token_types:
            inputs += ("token_type_ids",)
    bld.at(sublayer="final")
    if cfg.head == "none":  # a checkpoint without a read-out: the trace ends at the final hidden states
        return Graph(tuple(bld.nodes), MappingProxyType(dict(bld.aliases)), inputs, output=bld.aliases.get(x, x),
                     config=cfg, params=MappingProxyType(dict(bld.params)))
    if cfg.head == "mlm":
        x = _mlm_transform(bld, x)
    if cfg.tied_unembed:  # the read-out is the token embedding itself, transposed
        w_u, attrs, key = "embed.W_E", {"transposed": True}, "logits_tied"
    else:
        w_u, attrs, key = bld.param(unembed + "W_U", ("d_model", "vocab"), "fan_in", fan_in=cfg.d_model), {}, \
            "logits"
    b_u = bld.bias(unembed + "b_U", ("vocab",))
    vit = "_cls" if cfg.arch == "vit" else ""
    bld.add("logits", "linear", [x], [w_u, *b_u], attrs, role="logits", axes=("pos", "vocab"), major=True,
            text_key=key + vit)
    bld.add("probs", "probs", ["logits", "temperature"], role="probs", axes=("pos", "vocab"), major=True,
            text_key="probs" + vit)
    return Graph(tuple(bld.nodes), MappingProxyType(dict(bld.aliases)), inputs, config=cfg,
                 params=MappingProxyType(dict(bld.params)))


__all__ = ["Node", "Graph", "ParamSpec", "build_graph", "ATTENTION_CHAIN", "DEPTH_CHAIN", "DEPTH_MODES"]
