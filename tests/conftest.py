"""Run Qt offscreen unless the caller asked for a real display."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
