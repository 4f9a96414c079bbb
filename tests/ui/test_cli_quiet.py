"""The command line as a script uses it: no Qt noise, a quiet end on a closed pipe, and
`--present --screenshot` showing presentation mode."""
import os
import subprocess
import sys

from PySide6.QtGui import QImage

import ui.cli

ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def run(*args, **kwargs):
    return subprocess.run([sys.executable, *args], env=ENV, capture_output=True, text=True, timeout=120, **kwargs)


def test_harmless_qt_messages_are_dropped_and_others_kept():
    code = ("from PySide6.QtCore import qWarning\n"
            "from ui.app import create_app\n"
            "create_app()\n"
            "qWarning('This plugin does not support propagateSizeHints()')\n"
            "qWarning('a message that matters')\n")
    assert run("-c", code).stderr == "a message that matters\n"


def test_a_screenshot_prints_only_what_it_wrote(tmp_path):
    out = tmp_path / "shot.png"
    done = run("-m", "ui", "--screenshot", str(out), "--size", "800x600")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # the offscreen platform's size-hint warnings are not shown
    assert done.stdout == f"wrote {out}\n" and not QImage(str(out)).isNull()


def test_a_closed_pipe_ends_the_command_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "ui", "trace", "the cat sat on the mat"], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # the reader is gone before the first line (`stepformer trace … | head -0`)
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 1
    assert err == ""


def test_present_with_screenshot_shows_presentation_mode(qtbot, tmp_path, monkeypatch):
    seen = {}
    screenshot = ui.cli._screenshot

    def look(app, window, path, size):
        qtbot.addWidget(window)
        seen.update(presenting=window.presentation.presenting, menu=window.menuBar().isVisible(),
                    size=(window.width(), window.height()))
        try:
            return screenshot(app, window, path, size)
        finally:
            window.presentation.leave()  # gives the application its font back for the next tests
            window.undo_stack.setClean()

    monkeypatch.setattr(ui.cli, "_screenshot", look)
    out = tmp_path / "present.png"
    assert ui.cli.main(["--screenshot", str(out), "--present", "--size", "1024x768"]) == 0
    assert seen == {"presenting": True, "menu": False, "size": (1024, 768)}
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1024, 768)
