"""How fast the window answers: edit → every visible view repainted, start → first paint,
and steps per second in play mode. Prints medians; not a test.

    QT_QPA_PLATFORM=offscreen python bench/bench_ui.py [--repeats 15]

Goals: edit → repaint ≤ 16 ms (classroom model) and ≤ 50 ms (large model, 128 tokens);
start ≤ 1.5 s; play ≥ 30 steps/s. Per-view figures say which view to speed up.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `stepformer` runs (see ui/cli.py)

from PySide6.QtWidgets import QApplication  # noqa: E402

from simulator import ModelConfig, Session, Transformer  # noqa: E402
from ui.app import create_app, default_session  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

W_Q = "blocks.0.attn.W_Q"
PATTERN = "blocks.0.attn.hook_pattern"
LARGE = ModelConfig(vocab=tuple(f"t{i}" for i in range(64)), d_model=256, n_heads=8, n_layers=6, n_ctx=128,
                    d_mlp=1024)


def large_session() -> Session:
    model = Transformer(LARGE, seed=0)
    return Session(model, [f"t{i % 64}" for i in range(128)])


def ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:7.1f} ms"


def visible_views(w: MainWindow) -> dict[str, object]:
    views = {"step view": w.step_view, "explanation": w.explain_panel, "token strip": w.token_strip,
             "architecture map": w.arch_map, "parameter editor": w.param_editor, "transport": w.transport}
    return {name: v for name, v in views.items() if v.isVisible()}


def slot_blame(call) -> dict[str, float]:
    """Seconds spent in each module's slots during `call()` (profiled, so only for comparing)."""
    profile = cProfile.Profile()
    profile.runcall(call)
    stats = pstats.Stats(profile).stats
    blame: dict[str, float] = {}
    for (path, _line, _name), (_cc, _nc, _tt, cumtime, callers) in stats.items():
        if any("emit" in caller[2] for caller in callers) and "/ui/" in path:
            module = path.split("/ui/", 1)[1]
            blame[module] = blame.get(module, 0.0) + cumtime
    return dict(sorted(blame.items(), key=lambda kv: -kv[1]))


def bench_edit(app: QApplication, session: Session, label: str, repeats: int) -> None:
    w = MainWindow(session)
    w.resize(1280, 800)
    w.show()
    w.session_bridge.stepper.jump(PATTERN)  # a step the edit changes
    app.processEvents()
    views = visible_views(w)
    bare = Session(session.model.copy(), session.tokens)  # the same edit with no window listening
    base = float(session.model.params[W_Q][0, 0, 0])
    engine, wall, cpu, slots, per_view = [], [], [], [], {name: [] for name in views}
    # CPU time is what this process did; wall time also counts waiting for a shared machine.
    for k in range(repeats):
        value = base + 0.01 * (k + 1)
        t0 = time.perf_counter()
        bare.set_param(W_Q, value, (0, 0, 0))
        engine.append(time.perf_counter() - t0)

        t0, c0 = time.perf_counter(), time.process_time()
        session.set_param(W_Q, value, (0, 0, 0))  # recompute + every view's slots (direct signals)
        t1 = time.perf_counter()
        app.processEvents()  # layouts and queued updates
        w.repaint()  # every visible widget painted, synchronously
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        slots.append(t1 - t0)
        for name, view in views.items():  # each view's own paint (CPU time), for blame
            t2 = time.process_time()
            view.repaint()
            per_view[name].append(time.process_time() - t2)
    print(f"{label}: edit one W_Q cell → every visible view repainted: median {ms(wall)} wall, {ms(cpu)} CPU")
    print(f"    engine alone (no window) {ms(engine)};  set_param with the window's slots {ms(slots)}")
    for name, times in per_view.items():
        print(f"    repaint {name:<24} {ms(times)} CPU")
    blame = slot_blame(lambda: session.set_param(W_Q, base, (0, 0, 0)))
    print("    slots, profiled: " + ", ".join(f"{m} {t * 1000:.0f} ms" for m, t in list(blame.items())[:6]))
    w.undo_stack.setClean()
    w.close()


def bench_play(app: QApplication, repeats: int) -> None:
    w = MainWindow(default_session())
    w.resize(1280, 800)
    w.show()
    app.processEvents()
    t, stepper = w.transport, w.session_bridge.stepper
    t.speed.setValue(t.speed.maximum())
    rates = []
    for _ in range(max(1, repeats // 5)):
        stepper.first()
        app.processEvents()
        t0 = time.perf_counter()
        t.set_playing(True)
        while t.is_playing():
            app.processEvents()
        rates.append((len(stepper) - 1) / (time.perf_counter() - t0))
    print(f"play mode at {t.speed.value()} steps/s asked: median {statistics.median(rates):5.1f} steps/s "
          f"(every step painted)")
    w.close()


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
    print(f"start → first painted window: median {ms(walls)} wall, {ms(cpus)} CPU (whole process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    app = create_app()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times include waiting)")
    bench_edit(app, default_session(), "classroom model", args.repeats)
    bench_edit(app, large_session(), "large model (d_model 256, 8 heads, 6 layers, 128 tokens)", args.repeats)
    bench_play(app, args.repeats)
    bench_start(max(3, args.repeats // 3))


if __name__ == "__main__":
    main()
