"""How fast the engine runs: a full forward pass of the classroom model and of a large model,
and the recompute after editing one weight in the large model's last layer. Prints medians
(and the fastest run, which shows the machine's floor when it is shared); not a test.

    python bench/bench_engine.py [--repeats 40] [--ops]

Goals: classroom run ≤ 0.3 ms; large run (d_model 256, 8 heads, 6 layers, 128 tokens,
d_mlp 1024) ≤ 60 ms; editing one weight in the last layer recomputes in ≤ ⅓ of a full run.
`--ops` adds the time per kind of operation in the large run (wall time: CPU time would
count the idle spinning of BLAS threads).
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import numpy as np

from simulator import ModelConfig, Transformer
from simulator.ops import FORWARD

LARGE = ModelConfig(vocab=tuple(f"t{i}" for i in range(64)), d_model=256, n_heads=8, n_layers=6,
                    n_ctx=128, d_mlp=1024)
LARGE_TOKENS = [f"t{i % 64}" for i in range(128)]
SMALL_TEXT = "the cat sat on the mat and the"


def timings(fn, repeat: int) -> list[float]:
    fn()  # warm caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def report(label: str, times: list[float], goal_ms: float, unit: str = "ms", digits: int = 1) -> float:
    med = statistics.median(times) * 1e3
    verdict = "ok" if med <= goal_ms else "OVER"
    print(f"{label:<58} median {med:8.{digits}f} {unit}  (fastest {min(times) * 1e3:.{digits}f})  "
          f"goal ≤ {goal_ms:g}: {verdict}")
    return med


def op_breakdown(model: Transformer, tokens, repeat: int) -> None:
    """Time per kind of operation, summed over the pass (the loop of Transformer.run)."""
    inputs = model._inputs(model.tokens(tokens), 1.0)
    params = model.params
    spent = defaultdict(float)
    count = defaultdict(int)
    for _ in range(repeat):
        values = dict(inputs)
        for node in model.graph.nodes:
            t0 = time.perf_counter()
            values[node.name] = FORWARD[node.op]([values[i] for i in node.inputs],
                                                 [params[p] for p in node.params], node.attrs)
            spent[node.op] += time.perf_counter() - t0
            count[node.op] += 1
    total = sum(spent.values())
    print(f"\nTime per operation in one large run ({total / repeat * 1e3:.1f} ms in all):")
    for op, t in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {op:<15} {t / repeat * 1e3:6.2f} ms  {count[op] // repeat:3d} calls  {t / total:5.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=40, help="timed runs of the large model")
    parser.add_argument("--ops", action="store_true", help="also time each kind of operation")
    args = parser.parse_args()

    small = Transformer(ModelConfig(), seed=0)
    report("classroom model (d_model 16, 2 heads, 2 layers, 8 tokens)",
           timings(lambda: small.run(SMALL_TEXT), 50 * args.repeats), 0.3, digits=3)

    large = Transformer(LARGE, seed=0)
    full = report("large model (d_model 256, 8 heads, 6 layers, 128 tokens)",
                  timings(lambda: large.run(LARGE_TOKENS), args.repeats), 60)

    trace = large.run(LARGE_TOKENS)
    name = "blocks.5.attn.W_Q"
    rng = np.random.default_rng(0)

    def edit():
        large.set_param(name, rng.standard_normal(), index=(0, 3, 5))
        large.rerun(trace, params=[name])

    part = report("large model: edit one W_Q cell of the last layer", timings(edit, args.repeats), full / 3)
    print(f"{'':<58} = {part / full:.2f} of a full run (goal ≤ 0.33)")
    if args.ops:
        op_breakdown(large, LARGE_TOKENS, max(3, args.repeats // 4))


if __name__ == "__main__":
    main()
