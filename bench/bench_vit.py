"""Vision Transformer speed: one forward pass of the digits preset, one training epoch (1,437 images in
batches of 32), and, with --full, the whole training run of the preset (its recorded command).

    python bench/bench_vit.py [--full]

Needs scikit-learn for the epoch and the training run (the digits). Not a test: the numbers depend
on the machine and on what else it is running.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

import numpy as np

from simulator.digits import train_indices
from simulator.presets import PRESET_DIR, load_preset
from simulator.tasks import get_task
from simulator.train import train

BATCH = 32


def forward_ms(repeat: int = 300) -> float:
    model, image, _ = load_preset("digits")
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        model.run(image)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def epoch_s(repeat: int = 3) -> float:
    """Median wall time of one pass over the 1,437 training images, Adam step after each batch of 32."""
    task = get_task("digits")
    steps = -(-len(train_indices(1797)) // BATCH)
    times = []
    for r in range(repeat):
        model, _, _ = load_preset("digits")
        t0 = time.perf_counter()
        train(model, task, steps, BATCH, 0.5, 200, seed=r, eval_every=10 ** 6, eval_size=1)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def full_run_s() -> float:
    info = json.loads((PRESET_DIR / "digits.json").read_text(encoding="utf-8"))
    argv = shlex.split(info["command"])[1:]  # -m simulator.train …, without writing the preset again
    argv = argv[:argv.index("--out")]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *argv], check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="also time the preset's whole training run")
    full = ap.parse_args().full
    np.seterr(all="ignore")
    print(f"digits preset, one forward pass: {forward_ms():.2f} ms (median of 300)")
    print(f"one training epoch (1,437 images, batch {BATCH}): {epoch_s():.1f} s (median of 3)")
    if full:
        print(f"the preset's training run: {full_run_s():.0f} s")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
