"""How fast the "Look inside" tools answer. Prints medians; not a test.

    QT_QPA_PLATFORM=offscreen python bench/bench_interp.py [--repeats 21]

Goals: the model view of a 6-layer × 8-head model repaints within one frame (≤ 16 ms) after an
edit; a full residual-stream patching sweep of the classroom model finishes in under a second.

The model view is timed from the edit's notification to the grid painted: its update slot (one
thumbnail per head made from the new patterns) and Qt painting the 1000×600 grid; the engine's
recompute is timed apart. The CPU time of the same span is printed too: on a shared machine the
wall-clock figure includes time spent waiting for a core. The sweep patches every residual point
at every position (5 × 8 runs of the classroom model on 8 tokens), plus the clean and corrupted runs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from simulator import ModelConfig, Session, Transformer, interp  # noqa: E402
from ui.bridge import SessionBridge  # noqa: E402
from ui.views.model_view import ModelView  # noqa: E402

VOCAB = tuple(f"t{i}" for i in range(32))
DEEP = ModelConfig(vocab=VOCAB, n_layers=6, n_heads=8, d_model=64, d_mlp=256, n_ctx=16)
CLASSROOM_TOKENS = "the cat sat on the big mat ."


def ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:7.2f} ms"


def model_view(repeats: int) -> None:
    app = QApplication.instance() or QApplication([])
    session = Session(Transformer(DEEP, seed=0), [VOCAB[i % 32] for i in range(16)])
    bridge = SessionBridge(session)
    view = ModelView(bridge)
    view.resize(1000, 600)
    view.show()
    app.processEvents()
    engine, slot, paint, cpu = [], [], [], []
    w = session.model.params["blocks.0.attn.W_Q"]
    for i in range(repeats):
        value = w.copy()
        value[0, 0, 0] += 0.01 * (i + 1)
        t0 = time.perf_counter()
        session.model.set_param("blocks.0.attn.W_Q", value)
        trace, changes = session.model.rerun(session.trace, params=["blocks.0.attn.W_Q"])
        t1 = time.perf_counter()
        c0 = time.thread_time()
        session._apply(trace, changes)  # the notification: every connected slot runs, the view's included
        t2 = time.perf_counter()
        view.grid.repaint()
        t3 = time.perf_counter()
        cpu.append(time.thread_time() - c0)
        engine.append(t1 - t0)
        slot.append(t2 - t1)
        paint.append(t3 - t2)
    # head 0 of layer 0 was edited: its pattern and every later layer's moved
    assert all(t.changed for t in view.grid.thumbs() if ".head" in t.component and not t.component.startswith(
        "blocks.0.attn.head") or t.component == "blocks.0.attn.head0")
    views = [s + p for s, p in zip(slot, paint)]
    print(f"model view, 6 layers × 8 heads, 16 tokens: edit → repainted {ms(views)} "
          f"(update {ms(slot)}, paint {ms(paint)}; CPU time {ms(cpu)}); engine {ms(engine)}")


def patching(repeats: int) -> None:
    model = Transformer(ModelConfig(), seed=0)
    clean = CLASSROOM_TOKENS
    corrupt = "the dog sat on the big mat ."
    answer, wrong = model.config.vocab.index("cat"), model.config.vocab.index("dog")
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rows, grid = interp.patch_sweep(model, clean, corrupt, answer, wrong, "resid")
        times.append(time.perf_counter() - t0)
    assert grid.shape == (len(rows), 8) and np.isfinite(grid).all()
    print(f"residual patching sweep, classroom model ({grid.size} patched runs + 2): {ms(times)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    model_view(args.repeats)
    patching(args.repeats)


if __name__ == "__main__":
    main()
