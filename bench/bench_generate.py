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
from simulator.ops import counting_madds
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
    print("\none appended token vs a full rerun of the n + 1 tokens; the two are timed in turn in the same loop,")
    print("so a busy machine slows both alike: wall clock and the CPU time of this process (which does not count")
    print("the time other programs have the cores), medians; and the multiply-adds of the matrix products each")
    print("computes (simulator.ops.counting_madds: whole blocks of rows and tiles of keys, padding included)")
    classroom = dict(n_layers=3, n_heads=4, d_model=64, d_mlp=256)
    large = dict(n_layers=6, n_heads=8, d_model=256, d_mlp=1024)  # the large model of bench_engine
    cases = [("classroom (d_model 64, 4 heads, 3 layers, d_mlp 256)", classroom, "float64", (64, 128)),
             ("large (d_model 256, 8 heads, 6 layers, d_mlp 1024)", large, "float64", (64, 128)),
             ("large, float32", large, "float32", (128,))]
    med = statistics.median
    for label, size, dtype, lengths in cases:
        print(label + ":")
        for n in lengths:
            cfg = ModelConfig(vocab=tuple("abcdefghijklmnopqrstuvwxyz "), tokenization="char", n_ctx=n + 1,
                              dtype=dtype, **size)
            model = Transformer(cfg, seed=0)
            text = ("the quick brown fox jumps over the lazy dog " * 4)[: n + 1]
            before = model.run(text[:n])
            with counting_madds() as full_madds:
                model.run(text)
            with counting_madds() as append_madds:
                append(model, before, text)
            times = {"full": ([], []), "append": ([], [])}
            for _ in range(repeat):
                # as in generation: the trace before was itself appended, so its rows sit in the cache
                trace = append(model, model.run(text[: n - 2]), text[: n - 1])
                trace = append(model, trace, text[:n])
                for what, fn in (("append", lambda t=trace: append(model, t, text)),
                                 ("full", lambda: model.run(text))):
                    w0, c0 = time.perf_counter(), time.process_time()
                    fn()
                    times[what][0].append(time.perf_counter() - w0)
                    times[what][1].append(time.process_time() - c0)
            (fw, fc), (aw, ac) = times["full"], times["append"]
            print(f"  n = {n:3d}: full rerun {1000 * med(fc):6.2f} ms CPU / {1000 * med(fw):6.2f} ms wall, append "
                  f"{1000 * med(ac):5.2f} / {1000 * med(aw):5.2f} ms; append / rerun: CPU {med(ac) / med(fc):.3f}, "
                  f"wall {med(aw) / med(fw):.3f}, fastest {min(aw) / min(fw):.3f}, multiply-adds "
                  f"{append_madds[0] / full_madds[0]:.4f} ({append_madds[0]:,} of {full_madds[0]:,}); "
                  f"goal 2/n = {2 / n:.4f}")


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
