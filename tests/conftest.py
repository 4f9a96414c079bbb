"""Run Qt offscreen unless the caller asked for a real display, and never wait on a dialog."""
import gc
import os
import sys

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


@pytest.fixture(autouse=True)
def _nothing_qt_outlives_its_test():
    """Each test starts from the same application and leaves nothing behind for the next one.

    The application font, palette and style sheet are global (`create_app`, `cli.main`, the theme
    and presentation mode change them), so they are put back as they were: otherwise a test's
    layout depends on which tests ran before it. A top-level window a test left on screen (one
    made by `cli.main --screenshot`, a dialog, a hint box) is hidden; then pending deleteLater
    calls run and the garbage collector runs here, between tests. Left to itself the collector
    may free a window's last Python reference in the middle of a later paint event of that same
    (still visible) window, which ends the run with a segmentation fault in
    pyqtgraph's GraphicsView.paintEvent.
    """
    if "PySide6.QtWidgets" not in sys.modules:  # an engine test: no Qt to look after
        yield
        return
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    saved = (app.font(), app.palette(), app.styleSheet()) if app is not None else None
    yield
    app = QApplication.instance()
    if app is None:
        return
    for widget in app.topLevelWidgets():
        if widget.isVisible():
            widget.hide()  # hide, not close: a close could ask "save changes?" with nobody to answer
    if saved is not None:
        font, palette, style_sheet = saved
        if app.styleSheet() != style_sheet:
            app.setStyleSheet(style_sheet)
        if app.palette() != palette:
            app.setPalette(palette)
        if app.font() != font:
            app.setFont(font)
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()


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


@pytest.fixture
def session_view(shown):
    """One view on its own session, shown: `session, bridge, view = session_view(StepView, config, text, (w, h))`."""
    from simulator import ModelConfig, Session, Transformer
    from ui.bridge import SessionBridge

    def make(view_class, config=None, tokens: str = "the cat sat on the mat", size=(1280, 760)):
        session = Session(Transformer(config or ModelConfig()), tokens)
        bridge = SessionBridge(session)
        return session, bridge, shown(view_class(bridge), *size)
    return make


@pytest.fixture
def reverse_training(qtbot):
    """A Training tab on its own, on a reverse model, the task chosen: yields (panel, bridge, undo stack)."""
    from PySide6.QtGui import QUndoStack

    from simulator import Session, Transformer
    from simulator.tasks import get_task
    from ui.bridge import SessionBridge
    from ui.edits import EditController
    from ui.views.training_panel import TrainingPanel

    reverse = get_task("reverse")

    session = Session(Transformer(reverse.config, seed=0), reverse.demo_tokens())
    bridge = SessionBridge(session)
    stack = QUndoStack()
    edits = EditController(bridge, stack)
    panel = TrainingPanel(bridge, apply_params=lambda before, after: edits.set_params(after, "Train"),
                          set_model=lambda m, t: edits.set_model(m, t, "Model for training"))
    qtbot.addWidget(panel)
    panel.show()  # a hidden panel leaves its patterns until it is shown
    qtbot.waitExposed(panel)
    panel.task_combo.setCurrentIndex(panel.task_combo.findData("reverse"))
    panel.batch.setValue(4)
    yield panel, bridge, stack
    panel.shutdown()


@pytest.fixture
def at_size(qtbot):
    """Put a main window at a size, in the window or presenting: `at_size(window, (1280, 800), presenting)`."""
    from PySide6.QtWidgets import QApplication

    def put(window, size: tuple[int, int], presenting: bool) -> None:
        if presenting:
            window.presentation.enter()
            window.showNormal()  # the offscreen screen is one size: present in a window of the size wanted
        window.resize(*size)
        qtbot.waitUntil(lambda: (window.width(), window.height()) == size)
        QApplication.processEvents()
    return put


@pytest.fixture
def drawn_ticks():
    """The tick labels a pyqtgraph axis would draw now, as (rect in the axis, text) pairs."""
    from PySide6.QtGui import QPainter, QPixmap

    def specs(axis) -> list[tuple]:
        pix = QPixmap(10, 10)
        painter = QPainter(pix)
        try:
            _, _, texts = axis.generateDrawSpecs(painter)
        finally:
            painter.end()
        return [(t[0], t[2]) for t in texts]
    return specs


@pytest.fixture
def make_window(qtbot, tmp_path, monkeypatch):
    """Main windows for a test: `make_window(session=None, size=(1280, 800), show=True, active=False)`.

    Each has its own settings file; "save changes?" is answered Discard (pytest-qt closes the
    windows after the test); at the end each stops playing and training, leaves presentation mode
    (the application font is global) and marks its undo stack clean, so no signal reaches a
    half-deleted window while it is torn down.
    """
    from PySide6.QtWidgets import QApplication, QMessageBox

    from ui.main_window import MainWindow
    from ui.preferences import Preferences

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    made = []

    def make(session=None, size=(1280, 800), show=True, active=False, settings=None):
        w = MainWindow(session, settings if settings is not None else Preferences(tmp_path / f"w{len(made)}.json"))
        qtbot.addWidget(w)
        made.append(w)
        if size:
            w.resize(*size)
        if show:
            w.show()
            qtbot.waitExposed(w)
        if active:
            w.activateWindow()
            qtbot.waitUntil(lambda: QApplication.activeWindow() is w)
        return w

    yield make
    for w in made:
        w.presentation.leave()
        w.transport.set_playing(False)
        w.training_panel.shutdown()
        w.undo_stack.setClean()


@pytest.fixture
def window(make_window):
    """One main window at 1280x800, shown (see `make_window`)."""
    return make_window()


def _checkpoint_writers():
    """tests/simulator/checkpoints.py, which writes small GPT-2 and BERT checkpoint folders."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("checkpoints", Path(__file__).parent / "simulator" / "checkpoints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def gpt2_folder(tmp_path_factory):
    """A small GPT-2 checkpoint folder, written once for the run (read it, never change it)."""
    folder = tmp_path_factory.mktemp("gpt2")
    _checkpoint_writers().write_gpt2(folder)
    return folder


@pytest.fixture(scope="session")
def bert_folder(tmp_path_factory):
    """A small BERT checkpoint folder, written once for the run (read it, never change it)."""
    folder = tmp_path_factory.mktemp("bert")
    _checkpoint_writers().write_bert(folder)
    return folder
