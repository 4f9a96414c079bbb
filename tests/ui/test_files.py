"""Save / open round trips, the modified flag in the title, recent files, refused files, the close prompt."""
import numpy as np
import pytest
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QMainWindow, QMessageBox

from simulator import ModelConfig, Transformer, load, save
from ui import messages
from ui.app import default_session
from ui.bridge import SessionBridge
from ui.edits import EditController
from ui.files.model_file import FileController
from ui.preferences import Preferences

W_Q = "blocks.0.attn.W_Q"


def make_files(qtbot, tmp_path) -> FileController:
    window = QMainWindow()
    qtbot.addWidget(window)
    bridge = SessionBridge(default_session(), window)
    stack = QUndoStack(window)
    edits = EditController(bridge, stack)
    files = FileController(window, edits, stack, Preferences(tmp_path / "s.json"))
    window.files = files  # keeps the controller alive with the window
    return files


@pytest.fixture
def files(qtbot, tmp_path):
    return make_files(qtbot, tmp_path)


@pytest.fixture
def warnings(monkeypatch):
    shown = []
    monkeypatch.setattr(messages, "refuse", lambda parent, title, text, *a: shown.append((title, text)))
    return shown


def test_title_shows_the_name_and_a_star_when_modified(files, tmp_path):
    assert files.window.windowTitle() == "untitled — Stepformer"
    files.edits.apply_edit(W_Q, 1.5, (0, 0, 0))
    assert files.window.windowTitle() == "untitled* — Stepformer"
    assert files.save_as(str(tmp_path / "lesson.npz"))
    assert files.window.windowTitle() == "lesson.npz — Stepformer"
    files.edits.apply_edit(W_Q, 2.5, (0, 0, 1))
    assert files.window.windowTitle() == "lesson.npz* — Stepformer"


def test_save_then_open_restores_params_and_tokens(files, tmp_path):
    session = files.session
    files.edits.apply_edit(W_Q, 0.75, (1, 2, 3))
    files.edits.set_tokens(["a", "dog", "ran"])
    saved_params = {k: v.copy() for k, v in session.model.params.items()}
    path = tmp_path / "mine.npz"
    assert files.save_as(str(path)) and files.undo_stack.isClean()

    files.new()  # something else on screen
    assert session.tokens != ["a", "dog", "ran"]
    files.edits.apply_edit(W_Q, -4.0, (0, 0, 0))
    assert not files.undo_stack.isClean()

    assert files.open(str(path))
    assert session.tokens == ["a", "dog", "ran"]
    for name, value in saved_params.items():
        assert session.model.params[name].tobytes() == value.tobytes()
    assert files.undo_stack.isClean() and files.path == str(path.resolve())
    assert files.window.windowTitle() == "mine.npz — Stepformer"
    assert files.recent_files()[0] == str(path.resolve())


def test_undoing_an_open_brings_back_the_previous_model_and_name(files, tmp_path):
    other = str(tmp_path / "ed.npz")
    save(other, Transformer(ModelConfig(arch="encoder-decoder"), seed=3), (["the", "cat"], ["a", "dog"]))
    before = files.session.model
    assert files.open(other)
    assert files.session.model.config.arch == "encoder-decoder"
    files.undo_stack.undo()
    assert files.session.model is before and files.path is None
    assert files.window.windowTitle() == "untitled* — Stepformer"


def test_a_bad_file_is_refused_with_a_message_and_the_model_is_untouched(files, tmp_path, warnings):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"this is not a zip file")
    model, trace = files.session.model, files.session.trace
    assert not files.open(str(bad))
    assert warnings and "broken.npz" in warnings[0][1]
    assert files.session.model is model and files.session.trace is trace
    assert files.undo_stack.count() == 0 and files.path is None


def test_a_missing_recent_file_is_reported_and_forgotten(files, tmp_path, warnings):
    path = tmp_path / "gone.npz"
    assert files.save_as(str(path))
    path.unlink()
    assert not files.open(str(path))
    assert warnings and str(path.resolve()) not in files.recent_files()


def test_saving_into_a_missing_folder_reports_and_stays_modified(files, tmp_path, warnings):
    files.edits.apply_edit(W_Q, 1.0, (0, 0, 0))
    assert not files.save_as(str(tmp_path / "no" / "such" / "dir.npz"))
    assert warnings and not files.undo_stack.isClean() and files.path is None


@pytest.mark.parametrize("answer, closes", [(QMessageBox.StandardButton.Discard, True),
                                            (QMessageBox.StandardButton.Cancel, False)])
def test_close_prompt_only_when_modified(files, monkeypatch, answer, closes):
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or answer)
    assert files.maybe_save() and not asked
    files.edits.apply_edit(W_Q, 1.0, (0, 0, 0))
    assert files.maybe_save() is closes and len(asked) == 1


def test_close_prompt_save_writes_the_file(files, monkeypatch, tmp_path):
    path = tmp_path / "kept.npz"
    files.save_as(str(path))
    files.edits.apply_edit(W_Q, 9.0, (0, 0, 0))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Save)
    assert files.maybe_save() and files.undo_stack.isClean()
    model, _ = load(path)
    assert model.params[W_Q][0, 0, 0] == 9.0 and np.isfinite(model.params[W_Q]).all()
