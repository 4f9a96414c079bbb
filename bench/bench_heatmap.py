"""Time one Heatmap update: set_data on a same-shape 16x16 array plus a forced repaint.

Run: QT_QPA_PLATFORM=offscreen python bench/bench_heatmap.py
"""
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ui.pictures.heatmap import Heatmap  # noqa: E402


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    w = Heatmap()
    w.resize(1200, 900)
    w.show()
    app.processEvents()
    labels = [f"t{i}" for i in range(16)]
    rng = np.random.default_rng(0)
    frames = [rng.normal(size=(16, 16)) for _ in range(60)]
    changed = np.zeros((16, 16), dtype=bool)
    changed[3, 4] = True
    w.set_data(frames[0], labels, labels, title="bench", changed=changed)
    w.grab()  # first paint builds caches; keep it out of the timing
    times = []
    for a in frames[1:51]:
        t0 = time.perf_counter()
        w.set_data(a, labels, labels, title="bench", changed=changed)
        w.grab()
        times.append(time.perf_counter() - t0)
    shown = "shown" if w.cell_text(0, 0) else "hidden"
    print(f"16x16 set_data + grab(): median {statistics.median(times) * 1e3:.2f} ms "
          f"over {len(times)} updates (numbers {shown})")
    # Destroy the widget while the QApplication still exists; the reverse order can crash.
    w.close()
    w.deleteLater()
    app.processEvents()
    del w


if __name__ == "__main__":
    main()
