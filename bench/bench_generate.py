"""How fast Stepformer writes: tokens per second of generation on every preset with and without the
KV cache, and the cost of one appended token as a fraction of a full rerun at n = 64 and 128
(goal ≤ 2/n). Also lists each text preset's recorded training time and held-out loss.
Prints medians (and the fastest run); not a test.

    python bench/bench_generate.py [--repeats 7] [--only rates|append|training]
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
        if model.config.arch not in ("decoder", "encoder-decoder"):
            continue  # an encoder or an image model writes nothing
        prompt = prompt_of(model, tokens)
        n = model.config.n_ctx - (0 if model.config.arch == "encoder-decoder" else len(prompt))
        made = len(generate(model, prompt, n, top_k=1))
        rates = []
        for cache in (True, False):
            times = timed(lambda c=cache: generate(model, prompt, n, top_k=1, use_cache=c), repeat)
            rates.append(made / statistics.median(times))
        print(f"{info['name']:<18}{made:>7}{rates[0]:>12.0f}{rates[1]:>14.0f}{rates[0] / rates[1]:>9.1f}×")


def append_cost(repeat: int) -> None:
    print("\none appended token vs a full rerun (d_model 64, 4 heads, 3 layers, d_mlp 256, char vocabulary);")
    print("the two are timed in turn in the same loop, so a busy machine slows both alike; wall clock and")
    print("CPU time of this process (CPU time does not count the time other programs have the cores)")
    sizes = [(n, dict(n_layers=3, n_heads=4, d_model=64, d_mlp=256)) for n in (64, 128)]
    sizes.append((128, dict(n_layers=6, n_heads=8, d_model=256, d_mlp=1024)))  # the large model of bench_engine
    for n, size in sizes:
        if size["d_model"] != 64:
            print("the large model (d_model 256, 8 heads, 6 layers, d_mlp 1024):")
        cfg = ModelConfig(vocab=tuple("abcdefghijklmnopqrstuvwxyz "), tokenization="char", n_ctx=n + 1, **size)
        model = Transformer(cfg, seed=0)
        text = ("the quick brown fox jumps over the lazy dog " * 4)[: n + 1]
        model.run(text)
        times = {"full": ([], []), "append": ([], [])}
        for _ in range(repeat):
            # as in generation: the trace before was itself appended, so its rows sit in the cache
            trace = append(model, model.run(text[: n - 2]), text[: n - 1])
            trace = append(model, trace, text[:n])
            for what, fn in (("append", lambda t=trace: append(model, t, text)), ("full", lambda: model.run(text))):
                w0, c0 = time.perf_counter(), time.process_time()
                fn()
                times[what][0].append(time.perf_counter() - w0)
                times[what][1].append(time.process_time() - c0)
        (fw, fc), (aw, ac) = times["full"], times["append"]
        med = statistics.median
        print(f"n = {n:3d}: full rerun {1000 * med(fw):6.2f} ms wall / {1000 * med(fc):6.2f} ms CPU (fastest "
              f"{1000 * min(fw):.2f}), append {1000 * med(aw):5.2f} / {1000 * med(ac):5.2f} ms (fastest "
              f"{1000 * min(aw):.2f}): {med(aw) / med(fw):.3f} of a rerun by wall clock, {med(ac) / med(fc):.3f} "
              f"by CPU time, {min(aw) / min(fw):.3f} fastest to fastest; goal 2/n = {2 / n:.3f}")


def training_records() -> None:
    print("\ntext presets: recorded training (see each preset's JSON)")
    for info in list_presets():
        if "heldout_bits_per_token" in info:
            cpu = f" ({info['train_cpu_seconds']} s CPU)" if "train_cpu_seconds" in info else ""
            print(f"{info['name']:<18}{info['steps']:>6} steps {info['train_seconds']:>6} s{cpu}  held-out "
                  f"{info['heldout_bits_per_token']:.3f} bits/token")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--only", choices=("rates", "append", "training"), help="run one part only")
    args = ap.parse_args()
    if args.only in (None, "rates"):
        generation_rates(args.repeats)
    if args.only in (None, "append"):
        append_cost(max(args.repeats, 15))
    if args.only in (None, "training"):
        training_records()


if __name__ == "__main__":
    main()
