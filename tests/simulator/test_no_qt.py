"""The engine never imports Qt: scripts and the test suite run it without a display."""
import subprocess
import sys

QT = ("PySide6", "PyQt", "pyqtgraph", "shiboken")


def test_importing_and_running_the_simulator_loads_no_qt_module():
    code = (
        "import sys, simulator, simulator.io, simulator.engine, simulator.explain, simulator.view_state\n"
        "simulator.Session(simulator.Transformer(), 'the cat sat').stepper.last()\n"
        f"qt = [m for m in sys.modules if m.startswith({QT!r})]\n"
        "assert not qt, qt\n"
        "print('ok', len(sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok")


def test_the_check_would_notice_qt():
    """The same probe reports a Qt module when one is imported (so the test above can fail)."""
    code = f"import sys, pyqtgraph\nassert not [m for m in sys.modules if m.startswith({QT!r})]\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "AssertionError" in done.stderr
