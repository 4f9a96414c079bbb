"""A deliberately naive Transformer: plain Python loops over positions, heads and dimensions.

Written from the equations of the "Simulator core" issue, not from `simulator/`, so that
agreement between the two is evidence that both are right. It uses no numpy arithmetic (only
`.tolist()` to read the parameters) and is slow on purpose: it is for tiny test models.

`naive_run(config, params, ids, temperature, target_ids=None)` returns a dict of
TransformerLens-style names -> numpy arrays, one entry for every intermediate it computes.
"""
from __future__ import annotations

import math

import numpy as np

NEG_INF = -math.inf


# --- scalar and vector helpers (lists of floats) ---

def vec_mat(x: list[float], w: list[list[float]]) -> list[float]:
    """x [n] · w [n][m] -> [m]"""
    return [sum(x[i] * w[i][j] for i in range(len(x))) for j in range(len(w[0]))]


def vec_add(a: list[float], b: list[float]) -> list[float]:
    return [u + v for u, v in zip(a, b)]


def layer_norm(x: list[float], w: list[float], b: list[float], eps: float) -> list[float]:
    n = len(x)
    mean = sum(x) / n
    var = sum((v - mean) ** 2 for v in x) / n  # biased variance
    return [(x[i] - mean) / math.sqrt(var + eps) * w[i] + b[i] for i in range(n)]


def rms_norm(x: list[float], eps: float) -> list[float]:
    rms = math.sqrt(sum(v * v for v in x) / len(x) + eps)
    return [v / rms for v in x]


def softmax(row: list[float]) -> list[float]:
    top = max(v for v in row if v != NEG_INF)
    e = [0.0 if v == NEG_INF else math.exp(v - top) for v in row]
    total = sum(e)
    return [v / total for v in e]


def gelu(x: float) -> float:
    return 0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def relu(x: float) -> float:
    return x if x > 0 else 0.0


def may_attend(kind: str, q: int, k: int, n_k: int, cfg) -> bool:
    """Whether query q sees key k (of n_k). `kind` is causal, full, or "decoder-" / "encoder-" and a pattern."""
    if kind == "causal":
        return k <= q
    if kind == "full":
        return True
    form, pattern = kind.split("-", 1)
    if form == "decoder" and k > q:
        return False
    gap = q - k if q > k else k - q
    if gap < cfg.window:
        return True
    if pattern == "strided":
        return gap % cfg.stride == 0
    if pattern in ("global", "bigbird") and (k < cfg.n_global or (form == "encoder" and q < cfg.n_global)):
        return True
    if pattern == "bigbird":
        return k in bigbird_random(form, q, n_k, cfg)
    return False


def bigbird_random(form: str, q: int, n_k: int, cfg) -> list[int]:
    """Query q's random keys: from the keys not already kept (in increasing order), `n_random` of them
    drawn without replacement by numpy's generator seeded with (random_seed, q): the pattern's definition."""
    last = q if form == "decoder" else n_k - 1
    candidates = []
    for k in range(min(last, n_k - 1) + 1):
        gap = q - k if q > k else k - q
        if gap < cfg.window or k < cfg.n_global or (form == "encoder" and q < cfg.n_global):
            continue
        candidates.append(k)
    take = min(cfg.n_random, len(candidates))
    if not take:
        return []
    return [int(x) for x in np.random.default_rng([cfg.random_seed, q]).choice(candidates, take, replace=False)]


# --- the model ---

class NaiveTransformer:
    def __init__(self, cfg, params: dict):
        self.cfg = cfg
        self.p = {name: np.asarray(v).tolist() for name, v in params.items()}
        self.out: dict[str, list] = {}

    def rec(self, name: str, value) -> None:
        self.out[name] = value

    def norm(self, prefix: str, x: list[list[float]]) -> list[list[float]]:
        w, b = self.p[prefix + ".w"], self.p[prefix + ".b"]
        h = [layer_norm(row, w, b, self.cfg.norm_eps) for row in x]
        self.rec(prefix + ".hook_normalized", h)
        return h

    def attention(self, a: str, xq, xkv, kind: str, rotate: bool) -> list[list[float]]:
        cfg, p = self.cfg, self.p
        n_heads, d_head = cfg.n_heads, cfg.d_head

        def project(x, m):
            w, b = p[a + "W_" + m], p[a + "b_" + m]
            return [[[sum(x[pos][i] * w[h][i][e] for i in range(cfg.d_model)) + b[h][e]
                      for e in range(d_head)] for h in range(n_heads)] for pos in range(len(x))]

        q, k, v = project(xq, "Q"), project(xkv, "K"), project(xkv, "V")  # each [pos][head][d_head]
        self.rec(a + "hook_q", q)
        self.rec(a + "hook_k", k)
        self.rec(a + "hook_v", v)
        if rotate:
            q, k = self.rope(q), self.rope(k)
            self.rec(a + "hook_rot_q", q)
            self.rec(a + "hook_rot_k", k)
        nq, nk = len(xq), len(xkv)
        if kind.endswith("linear"):
            z = self.linear_attention(a, q, k, v, causal=kind.startswith("decoder"))
            return self.heads_out(a, z, nq)
        raw = [[[sum(q[i][h][e] * k[j][h][e] for e in range(d_head)) for j in range(nk)]
                for i in range(nq)] for h in range(n_heads)]  # [head][q][k]
        scaled = [[[s / math.sqrt(d_head) for s in row] for row in grid] for grid in raw]
        masked = [[[scaled[h][i][j] if may_attend(kind, i, j, nk, cfg) else NEG_INF for j in range(nk)]
                   for i in range(nq)] for h in range(n_heads)]
        pattern = [[softmax(row) for row in grid] for grid in masked]
        self.rec(a + "hook_scores_raw", raw)
        self.rec(a + "hook_scores_scaled", scaled)
        self.rec(a + "hook_attn_scores", masked)
        self.rec(a + "hook_pattern", pattern)
        z = [[[sum(pattern[h][i][j] * v[j][h][e] for j in range(nk)) for e in range(d_head)]
              for h in range(n_heads)] for i in range(nq)]  # [q][head][d_head]
        self.rec(a + "hook_z", z)
        return self.heads_out(a, z, nq)

    def heads_out(self, a: str, z, nq: int) -> list[list[float]]:
        n_heads, d_head = self.cfg.n_heads, self.cfg.d_head
        concat = [[z[i][h][e] for h in range(n_heads) for e in range(d_head)] for i in range(nq)]
        self.rec(a + "hook_concat", concat)
        w_o = [self.p[a + "W_O"][c // d_head][c % d_head] for c in range(n_heads * d_head)]  # [h·d_head][d_model]
        return [vec_add(vec_mat(row, w_o), self.p[a + "b_O"]) for row in concat]

    def linear_attention(self, a: str, q, k, v, causal: bool):
        """Katharopoulos et al. (2020) as a recurrent network: read one token at a time into S and z."""
        n_heads, d = self.cfg.n_heads, self.cfg.d_head
        n = len(q)

        def phi(x):
            return x + 1.0 if x > 0 else math.exp(x)

        fq = [[[phi(x) for x in vec] for vec in heads] for heads in q]
        fk = [[[phi(x) for x in vec] for vec in heads] for heads in k]
        states, sums, outs = [], [], []
        for i in range(n):
            s_rows, z_rows, o_rows = [], [], []
            for h in range(n_heads):
                seen = range(i + 1) if causal else range(n)
                s = [[sum(fk[j][h][r] * v[j][h][c] for j in seen) for c in range(d)] for r in range(d)]
                zs = [sum(fk[j][h][r] for j in seen) for r in range(d)]
                den = sum(fq[i][h][r] * zs[r] for r in range(d))
                o_rows.append([sum(fq[i][h][r] * s[r][c] for r in range(d)) / den for c in range(d)])
                s_rows.append([s[r][c] for r in range(d) for c in range(d)])
                z_rows.append(zs)
            states.append(s_rows)
            sums.append(z_rows)
            outs.append(o_rows)
        weights = []
        for h in range(n_heads):
            grid = []
            for i in range(n):
                row = [sum(fq[i][h][r] * fk[j][h][r] for r in range(d)) if (j <= i or not causal) else 0.0
                       for j in range(n)]
                grid.append([x / sum(row) for x in row])
            weights.append(grid)
        quadratic = [[[sum(weights[h][i][j] * v[j][h][c] for j in range(n)) for c in range(d)]
                      for h in range(n_heads)] for i in range(n)]
        for name, value in (("phi_q", fq), ("phi_k", fk), ("kv_state", states), ("k_sum", sums), ("z", outs),
                            ("linear_weights", weights), ("z_quadratic", quadratic)):
            self.rec(a + "hook_" + name, value)
        return outs

    def rope(self, x):
        d_head = self.cfg.d_head
        out = []
        for pos, heads in enumerate(x):
            rows = []
            for vec in heads:
                r = list(vec)
                for i in range(d_head // 2):
                    angle = pos * 10000.0 ** (-2 * i / d_head)
                    c, s = math.cos(angle), math.sin(angle)
                    r[2 * i] = vec[2 * i] * c - vec[2 * i + 1] * s
                    r[2 * i + 1] = vec[2 * i] * s + vec[2 * i + 1] * c
                rows.append(r)
            out.append(rows)
        return out

    def mlp(self, m: str, x):
        act = gelu if self.cfg.activation == "gelu" else relu
        pre = [vec_add(vec_mat(row, self.p[m + "W_in"]), self.p[m + "b_in"]) for row in x]
        post = [[act(v) for v in row] for row in pre]
        self.rec(m + "hook_pre", pre)
        self.rec(m + "hook_post", post)
        return [vec_add(vec_mat(row, self.p[m + "W_out"]), self.p[m + "b_out"]) for row in post]

    def residual(self, b: str, stream, out, name: str, ln: str):
        """The stream after a sublayer: stream + out (pre-LN), ln(stream + out) (post-LN), or just out."""
        cfg = self.cfg
        if cfg.residual == "none":
            new = self.norm(b + ln, out) if cfg.norm == "post" else out
        elif cfg.norm == "post":
            total = [vec_add(s, o) for s, o in zip(stream, out)]
            self.rec(b + name.replace("resid", "sum"), total)
            new = self.norm(b + ln, total)
        else:
            new = [vec_add(s, o) for s, o in zip(stream, out)]
        self.rec(b + name, new)
        return new

    def depth_mix(self, d: str, outputs, sublayer: int):
        """Attention over depth: per position, softmax over sources of w·RMSNorm(source)."""
        cfg = self.cfg
        sources = [outputs[0]]
        if cfg.residual == "attnres":
            sources += outputs[1:sublayer]
        else:  # block_attnres: v_0, then the sum of each block's outputs so far
            total = cfg.n_sublayers
            for blk in range(cfg.depth_blocks):
                members = [outputs[i] for i in range(1, sublayer) if (i - 1) * cfg.depth_blocks // total == blk]
                if members:
                    summed = members[0]
                    for m in members[1:]:
                        summed = [vec_add(r, s) for r, s in zip(summed, m)]
                    sources.append(summed)
        w = self.p[d + "w"]
        n = len(outputs[0])
        logits = [[sum(wi * ri for wi, ri in zip(w, rms_norm(src[pos], cfg.norm_eps))) for pos in range(n)]
                  for src in sources]  # [source][pos]
        per_pos = [softmax([logits[s][pos] for s in range(len(sources))]) for pos in range(n)]
        weights = [[per_pos[pos][s] for pos in range(n)] for s in range(len(sources))]
        mixed = [[sum(weights[s][pos] * sources[s][pos][j] for s in range(len(sources)))
                  for j in range(cfg.d_model)] for pos in range(n)]
        self.rec(d + "hook_logits", logits)
        self.rec(d + "hook_weights", weights)
        self.rec(d + "hook_mixed", mixed)
        return mixed

    def stack(self, s: str, ids: list[int], kind: str, enc_out=None):
        cfg, p = self.cfg, self.p
        x = [list(p[s + "embed.W_E"][t]) for t in ids]
        self.rec(s + "hook_embed", x)
        if cfg.positional in ("sinusoidal", "learned"):
            if cfg.positional == "sinusoidal":
                pe = [[math.sin(pos / 10000 ** (j / cfg.d_model)) if j % 2 == 0 else
                       math.cos(pos / 10000 ** ((j - 1) / cfg.d_model)) for j in range(cfg.d_model)]
                      for pos in range(len(ids))]
            else:
                pe = [list(p[s + "pos_embed.W_pos"][pos]) for pos in range(len(ids))]
            self.rec(s + "hook_pos_embed", pe)
            x = [vec_add(e, q) for e, q in zip(x, pe)]
        outputs = [x]
        depth_attn = cfg.residual in ("attnres", "block_attnres")
        pre = cfg.norm == "pre"
        for layer in range(cfg.n_layers):
            b = f"{s}blocks.{layer}."
            if depth_attn:
                x = self.depth_mix(b + "depth_attn.", outputs, 2 * layer + 1)
                if layer > 0:  # what enters a block is what the previous one handed on
                    self.rec(f"{s}blocks.{layer - 1}.hook_resid_post", x)
            self.rec(b + "hook_resid_pre", x)
            h = self.norm(b + "ln1", x) if pre else x
            out = self.attention(b + "attn.", h, h, kind, cfg.positional == "rope")
            self.rec(b + "hook_attn_out", out)
            outputs.append(out)
            if depth_attn:
                x = self.depth_mix(b + "depth_mlp.", outputs, 2 * layer + 2)
                self.rec(b + "hook_resid_mid", x)
            else:
                x = self.residual(b, x, out, "hook_resid_mid", "ln1")
            mlp_ln = "ln2"
            if enc_out is not None:
                h = self.norm(b + "ln2", x) if pre else x
                out = self.attention(b + "cross_attn.", h, enc_out, "full", False)
                self.rec(b + "hook_cross_attn_out", out)
                x = self.residual(b, x, out, "hook_resid_mid2", "ln2")
                mlp_ln = "ln3"
            h = self.norm(b + mlp_ln, x) if pre else x
            out = self.mlp(b + "mlp.", h)
            self.rec(b + "hook_mlp_out", out)
            outputs.append(out)
            if depth_attn:
                continue
            x = self.residual(b, x, out, "hook_resid_post", mlp_ln)
            if cfg.residual == "denseformer":
                alpha = p[b + "dwa.alpha"]
                blocks = [outputs[0]] + [self.out[f"{s}blocks.{j}.hook_resid_post"] for j in range(layer + 1)]
                x = [[sum(alpha[j] * blocks[j][pos][i] for j in range(len(blocks))) for i in range(cfg.d_model)]
                     for pos in range(len(ids))]
                self.rec(b + "dwa.hook_mixed", x)
        if depth_attn:
            x = self.depth_mix(s + "depth_final.", outputs, cfg.n_sublayers + 1)
            self.rec(f"{s}blocks.{cfg.n_layers - 1}.hook_resid_post", x)
        if pre:
            x = self.norm(s + "ln_final", x)
        return x

    def run(self, ids, temperature: float, target_ids=None) -> dict[str, np.ndarray]:
        cfg = self.cfg
        pattern = cfg.attention not in ("causal", "full")
        enc_kind = f"encoder-{cfg.attention}" if pattern else "full"
        dec_kind = f"decoder-{cfg.attention}" if pattern else "causal"
        if cfg.arch == "encoder-decoder":
            enc = self.stack("encoder.", ids, enc_kind)
            x = self.stack("decoder.", target_ids, dec_kind, enc_out=enc)
            u = "decoder.unembed."
        else:
            x = self.stack("", ids, enc_kind if cfg.arch == "encoder" else dec_kind)
            u = "unembed."
        logits = [vec_add(vec_mat(row, self.p[u + "W_U"]), self.p[u + "b_U"]) for row in x]
        self.rec("logits", logits)
        self.rec("probs", [softmax([v / temperature for v in row]) for row in logits])
        return {name: np.array(v, dtype=np.float64) for name, v in self.out.items()}


def naive_run(cfg, params, ids, temperature: float = 1.0, target_ids=None) -> dict[str, np.ndarray]:
    return NaiveTransformer(cfg, params).run(list(ids), temperature, target_ids)
