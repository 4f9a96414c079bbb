"""How fast Stepformer writes: tokens per second of generation on every preset with and without the
KV cache, and the cost of one appended token as a fraction of a full rerun at n = 64 and 128
(goal ≤ 2/n). Also lists each text preset's recorded training time and held-out loss.
Prints medians (and the fastest run); not a test.

    python bench/bench_generate.py [--repeats 7]
"""
from __future__ import annotations

import argparse
import statistics
import time

from simulator import ModelConfig, Transformer
from simulator.generate import generate
from simulator.kv_cache import append
from simulator.presets import list_presets, load_preset


def timed(fn, repeat: int) -> list[float]:
    fn()  # warm caches
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def prompt_of(model, tokens):
    """Half the context of the preset's own example (its source, for an encoder-decoder)."""
    if model.config.arch == "encoder-decoder":
        return tokens[0]
    return list(tokens)[: max(1, model.config.n_ctx // 2)]


def generation_rates(repeat: int) -> None:
    print("tokens per second of `generate` (greedy), median of", repeat)
    print(f"{'preset':<18}{'tokens':>7}{'cached':>12}{'full reruns':>14}{'speed-up':>10}")
    for info in list_presets():
        model, tokens, _ = load_preset(info["name"])
        prompt = prompt_of(model, tokens)
        n = model.config.n_ctx - (0 if model.config.arch == "encoder-decoder" else len(prompt))
        made = len(generate(model, prompt, n, top_k=1))
        rates = []
        for cache in (True, False):
            times = timed(lambda c=cache: generate(model, prompt, n, top_k=1, use_cache=c), repeat)
            rates.append(made / statistics.median(times))
        print(f"{info['name']:<18}{made:>7}{rates[0]:>12.0f}{rates[1]:>14.0f}{rates[0] / rates[1]:>9.1f}×")


def append_cost(repeat: int) -> None:
    print("\none appended token vs a full rerun (d_model 64, 4 heads, 3 layers, d_mlp 256, char vocabulary)")
    for n in (64, 128):
        cfg = ModelConfig(vocab=tuple("abcdefghijklmnopqrstuvwxyz "), tokenization="char", n_layers=3, n_heads=4,
                          d_model=64, d_mlp=256, n_ctx=n + 1)
        model = Transformer(cfg, seed=0)
        text = ("the quick brown fox jumps over the lazy dog " * 4)[: n + 1]
        full = timed(lambda: model.run(text), repeat)
        cached = []
        for _ in range(repeat):
            # as in generation: the trace before was itself appended, so its rows sit in the cache
            trace = append(model, model.run(text[: n - 2]), text[: n - 1])
            trace = append(model, trace, text[:n])
            t0 = time.perf_counter()
            append(model, trace, text)
            cached.append(time.perf_counter() - t0)
        frac = statistics.median(cached) / statistics.median(full)
        print(f"n = {n:3d}: full rerun {1000 * statistics.median(full):6.2f} ms (fastest "
              f"{1000 * min(full):.2f}), append {1000 * statistics.median(cached):5.2f} ms (fastest "
              f"{1000 * min(cached):.2f}): {frac:.3f} of a rerun; goal 2/n = {2 / n:.3f}")


def training_records() -> None:
    print("\ntext presets: recorded training (see each preset's JSON)")
    for info in list_presets():
        if "heldout_bits_per_token" in info:
            print(f"{info['name']:<18}{info['steps']:>6} steps {info['train_seconds']:>6} s  held-out "
                  f"{info['heldout_bits_per_token']:.3f} bits/token")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    generation_rates(args.repeats)
    append_cost(max(args.repeats, 15))
    training_records()


if __name__ == "__main__":
    main()
