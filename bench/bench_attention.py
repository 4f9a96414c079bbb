"""How long the engine's own attention takes as the input grows: one layer's heads, from q, k, v to
the head outputs, through the same operations the model runs (`simulator.cost.run_attention`).
Prints medians (and the fastest run); not a test.

    python bench/bench_attention.py [--repeats 9] [--heads 2] [--d-head 8] [--window 3]

Full, causal and windowed attention all form the whole n×n grid here (the mask sets the hidden
cells to −∞), so they cost about the same and grow like n²; linear attention grows like n. The
default shape is the classroom model's (2 heads of 8), which the Cost of attention view times too.
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `stepformer` runs (see ui/cli.py)

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from simulator.cost import run_attention  # noqa: E402

LENGTHS = (128, 512, 1024)
KINDS = {"full": "full", "causal": "causal", "window": "window", "linear (causal)": "linear"}


def measure(kind: str, n: int, heads: int, d_head: int, attrs: dict, repeats: int) -> list[float]:
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((n, heads, d_head)) for _ in range(3))
    run_attention(kind, q, k, v, attrs)  # warm the mask cache and numpy's kernels
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_attention(kind, q, k, v, attrs)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--d-head", type=int, default=8)
    parser.add_argument("--window", type=int, default=3)
    args = parser.parse_args()
    attrs = {"window": args.window, "stride": 2, "n_global": 1, "n_random": 1, "random_seed": 0}
    print(f"one attention layer, {args.heads} heads of d_head {args.d_head}, window {args.window}; "
          f"median of {args.repeats} runs (fastest in brackets)")
    print(f"{'':<18}" + "".join(f"{f'n = {n:,}':>24}" for n in LENGTHS))
    for label, kind in KINDS.items():
        cells = []
        for n in LENGTHS:
            times = measure(kind, n, args.heads, args.d_head, attrs, args.repeats)
            cells.append(f"{statistics.median(times) * 1e3:9.2f} ms ({min(times) * 1e3:.2f})")
        print(f"{label:<18}" + "".join(f"{c:>24}" for c in cells))


if __name__ == "__main__":
    main()
