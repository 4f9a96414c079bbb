"""Smoke: every step of the classroom and of an encoder-decoder model shows without an error,
and `python -m ui --screenshot` writes a real picture without a display."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from simulator import ModelConfig
from ui.app import default_session


@pytest.mark.slow
@pytest.mark.parametrize("config", [ModelConfig(), ModelConfig(arch="encoder-decoder")],
                         ids=["decoder", "encoder-decoder"])
def test_every_step_shows(qtbot, make_window, config):
    w = make_window(default_session(config))
    stepper = w.session_bridge.stepper
    seen = []
    with qtbot.capture_exceptions() as errors:
        for k in range(len(stepper)):
            stepper.go(k)
            QApplication.processEvents()
            seen.append(w.step_label.text())
            assert w.explain_panel.description.text() == stepper.step.description
    assert not errors, errors
    assert len(set(seen)) == len(stepper) and seen[-1].endswith("— probs")


def test_screenshot_command_writes_a_picture(tmp_path):
    out = tmp_path / "out.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-m", "ui", "--screenshot", str(out),
                           "--step", "blocks.0.attn.hook_pattern", "--size", "1000x700"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1000, 700)
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), dtype=np.uint32, count=image.width() * image.height())
    assert len(np.unique(pixels)) > 50  # a painted window, not a blank rectangle


def test_screenshot_of_an_unknown_step_fails_with_a_message(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-m", "ui", "--screenshot", str(tmp_path / "x.png"),
                           "--step", "no.such.step"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no.such.step" in done.stderr
    assert not (tmp_path / "x.png").exists()
