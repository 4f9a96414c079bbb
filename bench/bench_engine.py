"""Median times of the engine: a full run of the classroom and of a large model, and the
recompute after editing one weight in the large model's last layer.

    python bench/bench_engine.py
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from simulator import ModelConfig, Transformer

LARGE = ModelConfig(vocab=tuple(f"t{i}" for i in range(64)), d_model=256, n_heads=8, n_layers=6,
                    n_ctx=128, d_mlp=1024)


def median_ms(fn, repeat: int) -> float:
    fn()  # warm caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main() -> None:
    small = Transformer(ModelConfig(), seed=0)
    text = "the cat sat on the mat and the"
    print(f"default model (d_model 16, 2 heads, 2 layers, 8 tokens): run {median_ms(lambda: small.run(text), 2000):.3f} ms")

    large = Transformer(LARGE, seed=0)
    tokens = [f"t{i % 64}" for i in range(128)]
    full = median_ms(lambda: large.run(tokens), 30)
    print(f"large model (d_model 256, 8 heads, 6 layers, 128 tokens, d_mlp 1024): run {full:.1f} ms")

    trace = large.run(tokens)
    name = "blocks.5.attn.W_Q"
    rng = np.random.default_rng(0)

    def edit():
        large.set_param(name, rng.standard_normal(), index=(0, 3, 5))
        large.rerun(trace, params=[name])

    part = median_ms(edit, 30)
    print(f"large model, edit one W_Q cell in the last layer and recompute: {part:.1f} ms "
          f"({part / full:.2f} of a full run)")


if __name__ == "__main__":
    main()
