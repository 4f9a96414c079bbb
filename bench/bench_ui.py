"""How fast the window answers: edit → every visible view repainted, start → first paint,
and steps per second in play mode. Prints medians; not a test.

    QT_QPA_PLATFORM=offscreen python bench/bench_ui.py [--repeats 21] [--only edit|start|play] [--size 1920x1080]

Goals: edit → repaint ≤ 16 ms (classroom model) and ≤ 50 ms (large model, 128 tokens);
start ≤ 1.5 s; play ≥ 30 steps/s.

An edit is timed as a user makes it: one W_Q cell set through the window (the undo stack,
the Session's recompute, every view's update slot), then the event loop run until no widget
paints any more. The window is 1280×800 (or --size) at the Step tab, the step view on the
edited layer's attention pattern. The engine's share is the same edit on a Session with no window; the
views' share is the rest (their update slots, then Qt painting them).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `stepformer` runs (see ui/cli.py)

from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from simulator import ModelConfig, Session, Transformer  # noqa: E402
from ui.app import create_app, default_session  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

LARGE = ModelConfig(vocab=tuple(f"t{i}" for i in range(64)), d_model=256, n_heads=8, n_layers=6, n_ctx=128,
                    d_mlp=1024)


def large_session() -> Session:
    model = Transformer(LARGE, seed=0)
    return Session(model, [f"t{i % 64}" for i in range(128)])


def ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:6.1f} ms"


class PaintCounter(QObject):
    """Counts paint events anywhere in the application; `on_paint(obj)` sees each one."""

    def __init__(self) -> None:
        super().__init__()
        self.paints = 0
        self.on_paint = None

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
            if self.on_paint is not None:
                self.on_paint(obj)
        return False


def run_until_painted(app: QApplication, counter: PaintCounter) -> int:
    """Run the event loop until a pass paints nothing (a scene's repaint can post another)."""
    start = counter.paints
    while True:
        before = counter.paints
        app.processEvents()
        if counter.paints == before:
            return counter.paints - start


def bench_edit(app: QApplication, counter: PaintCounter, session: Session, layer: int, label: str,
               repeats: int, size: tuple[int, int]) -> None:
    w_q, pattern = f"blocks.{layer}.attn.W_Q", f"blocks.{layer}.attn.hook_pattern"
    w = MainWindow(session)
    w.resize(*size)
    w.show()
    w.session_bridge.stepper.jump(pattern)  # a step the edit changes
    run_until_painted(app, counter)
    bare = Session(session.model.copy(), session.tokens)  # the same edit with no window listening
    base = float(session.model.params[w_q][0, 0, 0])
    engine, slots, paint, wall, cpu, paints = [], [], [], [], [], []
    for k in range(repeats + 1):
        value = base + 0.01 * (k % 2 + 1)  # alternate, so every edit changes the trace
        t0 = time.perf_counter()
        bare.set_param(w_q, value, (0, 0, 0))
        t_engine = time.perf_counter() - t0

        # CPU time is what this process did; wall time also counts waiting on a shared machine.
        t0, c0 = time.perf_counter(), time.process_time()
        error = w.apply_edit(w_q, value, (0, 0, 0))
        t1 = time.perf_counter()
        n = run_until_painted(app, counter)
        t2, c2 = time.perf_counter(), time.process_time()
        if error:
            raise SystemExit(f"the edit was refused: {error}")
        if k:  # the first edit builds caches (texts, pens): leave it out
            engine.append(t_engine)
            slots.append(t1 - t0)
            paint.append(t2 - t1)
            wall.append(t2 - t0)
            cpu.append(c2 - c0)
            paints.append(n)
    views = [t - e for t, e in zip(wall, engine)]
    print(f"{label}\n  edit one {w_q} cell → every visible view repainted: median {ms(wall)} wall, "
          f"{ms(cpu)} CPU ({statistics.median(paints):.0f} widgets painted)")
    print(f"    engine (same edit, no window) {ms(engine)}   views {ms(views)} "
          f"= update slots {ms([s - e for s, e in zip(slots, engine)])} + painting {ms(paint)}")
    w.undo_stack.setClean()
    w.close()
    w.deleteLater()
    app.processEvents()


def bench_play(app: QApplication, counter: PaintCounter, repeats: int, size: tuple[int, int]) -> None:
    w = MainWindow(default_session())
    w.resize(*size)
    w.show()
    run_until_painted(app, counter)
    t, stepper = w.transport, w.session_bridge.stepper
    t.speed.setValue(t.speed.maximum())
    rates, cpu_rates, painted = [], [], set()
    # a step counts as shown when the step view's title is painted while the cursor is on it
    counter.on_paint = lambda obj: painted.add(stepper.index) if obj is w.step_view._title else None
    for _ in range(1 + max(3, repeats // 3)):  # the first run builds every picture's widgets: left out
        stepper.first()
        run_until_painted(app, counter)
        painted.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        t.set_playing(True)
        while t.is_playing():
            app.processEvents()
        run_until_painted(app, counter)  # the last step
        rates.append((len(stepper) - 1) / (time.perf_counter() - t0))
        cpu_rates.append((len(stepper) - 1) / (time.process_time() - c0))
        if painted != set(range(1, len(stepper))):
            raise SystemExit(f"play mode skipped painting steps {sorted(set(range(1, len(stepper))) - painted)}")
    counter.on_paint = None
    rates, cpu_rates = rates[1:], cpu_rates[1:]
    print(f"play mode, classroom model, {t.speed.value()} steps/s asked: median {statistics.median(rates):5.1f} "
          f"steps/s wall, {statistics.median(cpu_rates):5.1f} per CPU-second (every one of {len(stepper)} steps "
          f"painted)")
    w.close()
    w.deleteLater()
    app.processEvents()


def bench_start(repeats: int) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    walls, cpus = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        before = os.times()
        proc = subprocess.Popen([sys.executable, "-m", "ui", "--quit-after-paint", "--size", "1280x800"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        line = proc.stdout.readline()
        walls.append(time.perf_counter() - t0)
        proc.wait()
        after = os.times()
        cpus.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
        if "first paint" not in line:
            raise SystemExit(f"the window did not report its first paint: {line!r}")
    print(f"start → first painted window: median {ms(walls)} wall ({ms(cpus)} CPU for the whole process, "
          f"which also counts quitting)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--only", choices=("edit", "start", "play"))
    parser.add_argument("--size", default="1280x800", help="window size for the edit and play runs")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    app = create_app()
    counter = PaintCounter()
    app.installEventFilter(counter)
    print(f"window {size[0]}x{size[1]}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
          f"(wall times include waiting)")
    if args.only in (None, "edit"):
        bench_edit(app, counter, default_session(), 0, "classroom model", args.repeats, size)
        last = LARGE.n_layers - 1
        for layer in (0, last):
            bench_edit(app, counter, large_session(), layer,
                       f"large model (d_model 256, 8 heads, 6 layers, 128 tokens), layer {layer}", args.repeats, size)
    if args.only in (None, "play"):
        bench_play(app, counter, args.repeats, size)
    if args.only in (None, "start"):
        bench_start(max(5, args.repeats // 3))


if __name__ == "__main__":
    main()
