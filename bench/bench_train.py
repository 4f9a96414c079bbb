"""Training speed: the median time of one training step of the default-sized model, and
the wall time for the reverse task to reach 99 % held-out token accuracy.

    python bench/bench_train.py [--seed 0]

Not a test: the numbers depend on the machine and on what else it is running.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from simulator import ModelConfig, Transformer
from simulator.backward import batch_loss_and_grads
from simulator.optim import Adam, noam_lr
from simulator.tasks import get_task
from simulator.train import train

BATCH = 32


def step_ms(model: Transformer, batch, repeat: int = 30) -> float:
    """Median time of one step: forward and backward over the batch, then Adam."""
    adam = Adam()
    times = []
    for step in range(1, repeat + 1):
        t0 = time.perf_counter()
        _, grads = batch_loss_and_grads(model, *batch)
        model.replace_params(adam.step(model.params, grads, noam_lr(step, model.config.d_model, 100)))
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    seed = ap.parse_args().seed
    rng = np.random.default_rng(seed)

    classroom = Transformer(ModelConfig(), seed=seed)
    vocab = classroom.config.vocab
    seqs = [[vocab[i] for i in rng.integers(len(vocab), size=9)] for _ in range(BATCH)]
    ms = step_ms(classroom, ([s[:-1] for s in seqs], [s[1:] for s in seqs], None))
    print(f"one training step, default model (d_model 16, 2 heads, 2 layers, 8 tokens), "
          f"batch {BATCH}: {ms:.1f} ms")

    task = get_task("reverse")
    model = Transformer(task.config, seed=seed)
    t0 = time.perf_counter()
    result = train(model, task, steps=3000, batch_size=BATCH, seed=seed, eval_every=25,
                   target_accuracy=0.99)
    wall = time.perf_counter() - t0
    reached = "reached" if result.accuracy is not None and result.accuracy >= 0.99 else "did NOT reach"
    print(f"reverse task, default-sized model, batch {BATCH}: {reached} 99 % held-out token accuracy "
          f"({100 * result.accuracy:.1f} %) after {result.steps} steps in {wall:.1f} s (goal ≤ 60 s)")


if __name__ == "__main__":
    main()
