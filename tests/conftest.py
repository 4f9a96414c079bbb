"""Run Qt offscreen unless the caller asked for a real display, and never wait on a dialog."""
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _refuse_modal_dialogs() -> None:
    """A modal dialog nobody answers would hang the run (even in teardown, when pytest-qt closes
    windows): it raises instead, naming the dialog. Tests that expect a dialog patch in their answer."""
    try:
        from PySide6 import QtWidgets
    except ImportError:
        return
    for kind, names in {"QMessageBox": ("question", "warning", "critical", "information", "exec"),
                        "QFileDialog": ("getOpenFileName", "getSaveFileName", "getExistingDirectory")}.items():
        for name in names:
            def refuse(*args, _what=f"{kind}.{name}", **kwargs):
                raise AssertionError(f"unexpected modal {_what} in a test: {args[1:3]}")
            setattr(getattr(QtWidgets, kind), name, staticmethod(refuse))


_refuse_modal_dialogs()


@pytest.fixture(autouse=True)
def _private_config(tmp_path_factory, monkeypatch):
    """Preferences go to a fresh folder: no test reads or writes the real user's settings."""
    monkeypatch.setenv("STEPFORMER_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture
def shown(qtbot):
    """Show a widget at a size and wait until it is on screen: `shown(Heatmap(), 800, 700)`."""
    def show(widget, width: int, height: int):
        qtbot.addWidget(widget)
        widget.resize(width, height)
        widget.show()
        qtbot.waitExposed(widget)
        return widget
    return show
