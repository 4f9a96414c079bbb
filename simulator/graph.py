"""The forward pass as an ordered list of named nodes, built once per config.

Each node is one step a class can watch: what it computes (`op`), from which
activations (`inputs`) and parameters (`params`), and the formula and sentences
that explain it. Names follow TransformerLens (`blocks.0.attn.hook_pattern`).
Some TransformerLens names are the same tensor as an earlier step (e.g.
`blocks.1.hook_resid_pre` is `blocks.0.hook_resid_post`); those are `aliases`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType

from . import patterns
from .config import ModelConfig


@dataclass(frozen=True, eq=False)
class Node:
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


@dataclass(frozen=True, eq=False)
class Graph:
    nodes: tuple[Node, ...]
    aliases: MappingProxyType  # alias name -> node name
    inputs: tuple[str, ...]  # names of the values fed in: token ids, temperature
    output: str = "probs"

    def __post_init__(self):
        object.__setattr__(self, "index", {n.name: i for i, n in enumerate(self.nodes)})

    def node(self, name: str) -> Node:
        return self.nodes[self.index[self.aliases.get(name, name)]]


class _Builder:
    def __init__(self, cfg: ModelConfig):
        self.cfg = cfg
        self.nodes: list[Node] = []
        self.aliases: dict[str, str] = {}

    def add(self, name, op, inputs, params=(), attrs=None, **kw) -> str:
        inputs = tuple(self.aliases.get(i, i) for i in inputs)
        self.nodes.append(Node(name, op, inputs, tuple(params),
                               MappingProxyType(dict(attrs or {})), **kw))
        return name

    def alias(self, name: str, target: str) -> str:
        self.aliases[name] = self.aliases.get(target, target)
        return name

    # --- pieces ---

    def norm(self, p: str, ln: str, x: str, **kw) -> str:
        return self.add(f"{p}{ln}.hook_normalized", "layernorm", [x], [f"{p}{ln}.w", f"{p}{ln}.b"],
                        {"eps": self.cfg.norm_eps}, formula="(x − mean) / √(var + ε) · w + b",
                        text="LayerNorm: each token's vector is shifted to mean 0 and scaled to spread 1, "
                             "then stretched by w and shifted by b. It keeps the numbers in a steady range "
                             "whatever the depth.", **kw)

    def attention(self, b: str, x: str, kind: str, kv: str | None = None, name: str = "attn", **kw) -> str:
        cfg = self.cfg
        a = f"{b}{name}."
        cross = kv is not None
        src = kv or x
        who = "the decoder's tokens" if cross else "each token"
        q = self.add(a + "hook_q", "proj_heads", [x], [a + "W_Q", a + "b_Q"], formula="q = x·W_Q + b_Q",
                     text=f"Queries: for {who}, each head projects the vector into a small question "
                          f"vector of size d_head = {cfg.d_head}: what is this token looking for?", **kw)
        k = self.add(a + "hook_k", "proj_heads", [src], [a + "W_K", a + "b_K"], formula="k = x·W_K + b_K",
                     text="Keys: each head projects every "
                          + ("encoder output" if cross else "token") + " into a key: what does it offer "
                          "to a query that matches it?", **kw)
        v = self.add(a + "hook_v", "proj_heads", [src], [a + "W_V", a + "b_V"], formula="v = x·W_V + b_V",
                     text="Values: what each " + ("encoder position" if cross else "token")
                          + " hands over when a query attends to it.", **kw)
        if cfg.positional == "rope" and not cross:
            q = self.add(a + "hook_rot_q", "rope", [q], formula="q′ = rotate(q, p·θ)",
                         text="Rotary encoding: each pair of query dimensions is rotated by an angle "
                              "proportional to the token's position, so q·k depends on how far apart "
                              "two tokens are.", **kw)
            k = self.add(a + "hook_rot_k", "rope", [k], formula="k′ = rotate(k, p·θ)",
                         text="The keys are rotated the same way, each by its own position's angle.", **kw)
        if kind.startswith("linear"):
            return self.heads_out(b, self.linear(a, q, k, v, kind == "linear", **kw), cross, **kw)
        s = self.add(a + "hook_scores_raw", "scores", [q, k], formula="scores = Q·Kᵀ",
                     text="Every query is compared with every key by a dot product: a large score means "
                          "the query's question matches what that key offers. One grid per head.", **kw)
        root = math.sqrt(cfg.d_head)
        s = self.add(a + "hook_scores_scaled", "scale", [s], attrs={"sqrt_d": root},
                     formula=f"scaled = scores ÷ √d_head = scores ÷ √{cfg.d_head}",
                     text="Dot products of longer vectors grow larger; dividing by √d_head keeps the "
                          "scores in a range where softmax does not saturate (Vaswani et al., 2017).", **kw)
        attrs = patterns.mask_attrs(cfg, kind)
        s = self.add(a + "hook_attn_scores", "mask", [s], attrs=attrs,
                     formula=f"masked = scaled, with hidden pairs set to −∞: {patterns.formula(kind, attrs)}",
                     text=patterns.text(kind, attrs, cross), **kw)
        pattern = self.add(a + "hook_pattern", "softmax", [s], attrs={"axis": -1},
                           formula="pattern = softmax(masked) along each row",
                           text="Softmax turns each query's row of scores into weights that are positive "
                                "and sum to 1: how much each query token attends to each key.", **kw)
        z = self.add(a + "hook_z", "mix", [pattern, v], formula="z = pattern·V",
                     text="Each head's output: a weighted average of the value vectors, using the "
                          "attention weights of that query's row.", **kw)
        return self.heads_out(b, z, cross, **kw)

    def heads_out(self, b: str, z: str, cross: bool, **kw) -> str:
        """The heads' outputs z side by side, then the output projection W_O."""
        cfg = self.cfg
        a = z.rsplit(".", 1)[0] + "."
        cat = self.add(a + "hook_concat", "concat", [z], formula="concat = [z_head0 | z_head1 | …]",
                       text=f"The {cfg.n_heads} heads worked in parallel, each with its own view; their "
                            f"outputs are placed side by side into one vector of size "
                            f"{cfg.n_heads}×{cfg.d_head} = {cfg.n_heads * cfg.d_head}.", **kw)
        out = "hook_cross_attn_out" if cross else "hook_attn_out"
        return self.add(b + out, "linear", [cat], [a + "W_O", a + "b_O"], major=True,
                        formula="out = concat·W_O + b_O",
                        text="The output projection W_O mixes the heads' results and maps them back to "
                             "d_model, ready to be added to the residual stream.", **kw)

    def linear(self, a: str, q: str, k: str, v: str, causal: bool, **kw) -> str:
        """Linear attention (Katharopoulos et al., 2020): the recurrent form, then the quadratic one beside it."""
        upto = "j≤i" if causal else "all j"
        phi_q = self.add(a + "hook_phi_q", "feature_map", [q], formula="φ(q) = elu(q) + 1",
                         text="Linear attention replaces softmax(q·k) by φ(q)·φ(k). The feature map "
                              "φ(x) = elu(x) + 1 (x + 1 above 0, eˣ below) makes every number positive, so "
                              "the weights it gives are positive like softmax's (Katharopoulos et al., 2020).",
                         **kw)
        phi_k = self.add(a + "hook_phi_k", "feature_map", [k], formula="φ(k) = elu(k) + 1",
                         text="The same feature map on the keys.", **kw)
        attrs = {"causal": causal}
        grow = ("Row i is the state after reading tokens 0…i: it grows token by token, so the decoder is "
                "a recurrent network whose memory has a fixed size, d_head × d_head, however long the input."
                if causal else "An encoder sums over every token, so every row holds the same total.")
        state = self.add(a + "hook_kv_state", "kv_state", [phi_k, v], attrs=attrs,
                         formula=f"S_i = Σ_{upto} φ(k_j)·v_jᵀ   (row i: S_i's d_head × d_head entries)",
                         text="The running sum S of outer products φ(k_j)·v_jᵀ: what the keys offer and what "
                              f"the values hand over, stored together. {grow}", **kw)
        k_sum = self.add(a + "hook_k_sum", "k_sum", [phi_k], attrs=attrs, formula=f"z_i = Σ_{upto} φ(k_j)",
                         text="The running sum z of the keys' features: it normalises the output as softmax's "
                              "denominator does.", **kw)
        z = self.add(a + "hook_z", "linear_out", [phi_q, state, k_sum],
                     formula="out_i = φ(q_i)·S_i ÷ φ(q_i)·z_i",
                     text="Each head's output: the query's features read the state S and divide by their "
                          "match with z. The cost is n·d_head² per head, not n²·d_head: no n×n grid is "
                          "formed.", **kw)
        pattern = self.add(a + "hook_linear_weights", "linear_weights", [phi_q, phi_k], attrs=attrs,
                           formula=f"A_ij = φ(q_i)·φ(k_j) ÷ Σ_{upto.replace('j', 'j′')} φ(q_i)·φ(k_j′)",
                           text="The quadratic way, for comparison only: the same numbers as weights over the "
                                "keys, one n×n grid per head (rows sum to 1), as softmax attention would "
                                "form them.", **kw)
        self.add(a + "hook_z_quadratic", "mix", [pattern, v], formula="z = A·V (equals out_i above)",
                 text="The weights times the values give exactly the recurrent output: "
                      "Σ_j A_ij v_j = φ(q_i)·Σ_j φ(k_j) v_jᵀ ÷ φ(q_i)·Σ_j φ(k_j). Only the order of the "
                      "products differs, and with it the cost.", **kw)
        return z

    def mlp(self, b: str, x: str, **kw) -> str:
        m = b + "mlp."
        pre = self.add(m + "hook_pre", "linear", [x], [m + "W_in", m + "b_in"], formula="pre = x·W_in + b_in",
                       text=f"The MLP works on each token separately: first it expands the vector to "
                            f"d_mlp = {self.cfg.d_mlp} features.", **kw)
        act = self.cfg.activation
        post = self.add(m + "hook_post", "act", [pre], attrs={"fn": act},
                        formula="post = ReLU(pre) = max(pre, 0)" if act == "relu" else
                        "post = GELU(pre) ≈ ½·pre·(1 + tanh(√(2/π)(pre + 0.044715·pre³)))",
                        text="The non-linearity: without it the whole network would collapse into a "
                             "single matrix product.", **kw)
        return self.add(b + "hook_mlp_out", "linear", [post], [m + "W_out", m + "b_out"], major=True,
                        formula="mlp_out = post·W_out + b_out",
                        text="The MLP projects its features back to d_model.", **kw)

    def residual(self, name: str, stream: str, out: str, ln: str | None, b: str, **kw) -> str:
        """Add a sublayer's output to the stream (with post-LN, normalise the sum)."""
        cfg = self.cfg
        if cfg.residual == "none":
            if cfg.norm == "post":
                out = self.norm(b, ln, out, major=True, **kw)
            return self.alias(b + name, out)
        if cfg.norm == "post":
            total = self.add(b + name.replace("resid", "sum"), "add", [stream, out],
                             formula="sum = stream + sublayer output",
                             text="The residual connection adds the sublayer's output to its input; "
                                  "post-LN then normalises the sum.", **kw)
            self.norm(b, ln, total, major=True, **kw)
            return self.alias(b + name, f"{b}{ln}.hook_normalized")
        return self.add(b + name, "add", [stream, out], major=True, formula="resid = stream + sublayer output",
                        text="The residual connection: the sublayer's output is added to what came in, so "
                             "information can flow past the sublayer unchanged.", **kw)

    def depth_mix(self, b: str, sources: list[str], groups, what: str, layer: int | None) -> str:
        """Attention over depth (Attention Residuals): softmax over earlier sublayer outputs."""
        n = len(groups)
        d = f"{b}{what}."
        kw = {"layer": layer, "sublayer": "depth"}
        logits = self.add(d + "hook_logits", "depth_logits", sources, [d + "w"],
                          {"groups": groups, "eps": self.cfg.norm_eps},
                          formula="logit_i = w · RMSNorm(v_i)",
                          text=f"Scores over depth: a learned pseudo-query w is compared with each of the "
                               f"{n} earlier outputs (RMS-normalised), for every token, just as a query is "
                               "compared with keys.", **kw)
        weights = self.add(d + "hook_weights", "softmax", [logits], attrs={"axis": 0},
                           formula="α_i = softmax over sources i of logit_i",
                           text="Softmax over depth: per token, the weights given to the earlier outputs "
                                "are positive and sum to 1. With w = 0 every source gets 1/n.", **kw)
        return self.add(d + "hook_mixed", "depth_mix", [weights, *sources], attrs={"groups": groups},
                        major=True, formula="h = Σ_i α_i · v_i",
                        text="The sublayer's input is the weighted mix of earlier outputs, instead of "
                             "their plain sum.", **kw)


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


def _stack(bld: _Builder, p: str, kind: str, enc_out: str | None) -> str:
    """One stack of blocks; returns the name of its final (normalised) output."""
    cfg = bld.cfg
    stack = p.rstrip(".")
    ids = f"{p}input_ids"
    kw0 = {"stack": stack, "sublayer": "embed"}
    embed = bld.add(f"{p}hook_embed", "embed", [ids], [f"{p}embed.W_E"], formula="embed = W_E[token id]",
                    text="Each token id picks its row of the embedding matrix W_E: the token's "
                         "starting vector.", **kw0)
    if cfg.positional in ("sinusoidal", "learned"):
        if cfg.positional == "sinusoidal":
            pos = bld.add(f"{p}hook_pos_embed", "pos_sinusoidal", [ids], attrs={"d_model": cfg.d_model},
                          formula="PE[p, 2i] = sin(p / 10000^(2i/d)),  PE[p, 2i+1] = cos(p / 10000^(2i/d))",
                          text="Attention alone ignores order, so each position adds its own pattern of "
                               "sines and cosines of different wavelengths (Vaswani et al., 2017).", **kw0)
        else:
            pos = bld.add(f"{p}hook_pos_embed", "pos_learned", [ids], [f"{p}pos_embed.W_pos"],
                          formula="pos = W_pos[position]",
                          text="Attention alone ignores order, so each position adds its own learned vector.",
                          **kw0)
        x = bld.add(f"{p}blocks.0.hook_resid_pre", "add", [embed, pos], major=True, layer=0,
                    formula="x = embed + pos", text="The token's vector plus its position's vector: the "
                    "start of the residual stream.", **kw0)
    else:
        x = bld.alias(f"{p}blocks.0.hook_resid_pre", embed)
    outputs = [x]  # v_0, v_1, … for the depth modes; X_0, X_1, … for DenseFormer
    depth_attn = cfg.residual in ("attnres", "block_attnres")
    for layer in range(cfg.n_layers):
        b = f"{p}blocks.{layer}."
        kw = {"layer": layer, "stack": stack}
        if depth_attn:
            x = bld.depth_mix(b, list(outputs), _depth_groups(cfg, 2 * layer + 1), "depth_attn", layer)
            # The mix is what enters the block, as resid_pre/resid_post do in a standard stream. Layer 0's
            # mix has one source (weight 1), so blocks.0.hook_resid_pre stays v_0 itself.
            if layer > 0:
                bld.alias(b + "hook_resid_pre", x)
                bld.alias(f"{p}blocks.{layer - 1}.hook_resid_post", x)
        elif layer > 0:
            bld.alias(b + "hook_resid_pre", x)
        h = bld.norm(b, "ln1", x, sublayer="attn", **kw) if cfg.norm == "pre" else x
        out = bld.attention(b, h, kind, sublayer="attn", **kw)
        outputs.append(out)
        if depth_attn:
            x = bld.depth_mix(b, list(outputs), _depth_groups(cfg, 2 * layer + 2), "depth_mlp", layer)
            bld.alias(b + "hook_resid_mid", x)
        else:
            x = bld.residual("hook_resid_mid", x, out, "ln1", b, sublayer="attn", **kw)
        mlp_ln = "ln2"
        if enc_out is not None:
            h = bld.norm(b, "ln2", x, sublayer="cross_attn", **kw) if cfg.norm == "pre" else x
            out = bld.attention(b, h, "full", kv=enc_out, name="cross_attn", sublayer="cross_attn", **kw)
            x = bld.residual("hook_resid_mid2", x, out, "ln2", b, sublayer="cross_attn", **kw)
            mlp_ln = "ln3"
        h = bld.norm(b, mlp_ln, x, sublayer="mlp", **kw) if cfg.norm == "pre" else x
        out = bld.mlp(b, h, sublayer="mlp", **kw)
        outputs.append(out)
        if depth_attn:
            continue
        x = bld.residual("hook_resid_post", x, out, mlp_ln, b, sublayer="mlp", **kw)
        if cfg.residual == "denseformer":
            blocks_out = [outputs[0]] + [f"{p}blocks.{j}.hook_resid_post" for j in range(layer + 1)]
            x = bld.add(b + "dwa.hook_mixed", "dwa", blocks_out, [b + "dwa.alpha"], layer=layer, stack=stack,
                        sublayer="depth", major=True, formula="Y = Σ_j α_j · X_j",
                        text="DenseFormer's depth-weighted average: the next block reads a learned "
                             "weighted sum of the embedding and every earlier block's output, not just the "
                             "last one (Pagliardini et al., 2024).")
    if depth_attn:
        x = bld.depth_mix(p, list(outputs), _depth_groups(cfg, cfg.n_sublayers + 1), "depth_final", None)
        bld.alias(f"{p}blocks.{cfg.n_layers - 1}.hook_resid_post", x)
    if cfg.norm == "pre":
        x = bld.norm(p, "ln_final", x, stack=stack, sublayer="final", major=True)
    return x


def build_graph(cfg: ModelConfig) -> Graph:
    """The nodes of a forward pass for this config, in the order they are computed."""
    bld = _Builder(cfg)
    if cfg.arch == "encoder-decoder":
        enc = _stack(bld, "encoder.", patterns.kind_for(cfg.attention, False), None)
        x = _stack(bld, "decoder.", patterns.kind_for(cfg.attention, True), enc)
        unembed, inputs = "decoder.unembed.", ("encoder.input_ids", "decoder.input_ids", "temperature")
    else:
        x = _stack(bld, "", patterns.kind_for(cfg.attention, cfg.arch == "decoder"), None)
        unembed, inputs = "unembed.", ("input_ids", "temperature")
    bld.add("logits", "linear", [x], [unembed + "W_U", unembed + "b_U"], sublayer="final", major=True,
            formula="logits = x·W_U + b_U",
            text="The unembedding scores every token of the vocabulary as the next token.")
    bld.add("probs", "probs", ["logits", "temperature"], sublayer="final", major=True,
            formula="probs = softmax(logits / T)",
            text="Softmax turns the scores into next-token probabilities; the temperature T flattens "
                 "them (T > 1) or sharpens them (T < 1).")
    return Graph(tuple(bld.nodes), MappingProxyType(dict(bld.aliases)), inputs)


__all__ = ["Graph", "Node", "build_graph"]
