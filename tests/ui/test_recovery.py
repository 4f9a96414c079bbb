"""Autosave and crash recovery: edits reach the recovery file within the delay, a dead instance's
file is found and restores the exact session, a clean exit removes it, two instances keep apart,
and a real `kill -9` of a running app loses nothing that was autosaved."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QStandardPaths
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QMessageBox

from simulator import Session, Transformer
from ui.bridge import SessionBridge
from ui.edits import EditController
from ui.files.recovery import RecoveryManager, install, offer_restore, recovery_folder
from ui.preferences import Preferences

DELAY = 50  # ms


def make_parts():
    model = Transformer(seed=2)
    bridge = SessionBridge(Session(model, model.tokens("the cat sat on the mat")))
    stack = QUndoStack()
    return bridge, stack, EditController(bridge, stack)


def dead_pid() -> int:
    """The pid of a process that has already exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def as_orphan(path: Path, folder: Path) -> Path:
    """What a crashed instance leaves behind: its file under a pid that is no longer running."""
    orphan = folder / f"session-{dead_pid()}-123.npz"
    orphan.write_bytes(path.read_bytes())
    os.utime(orphan, (time.time() + 5, time.time() + 5))  # the newest on disk
    return orphan


def params_bytes(model) -> dict[str, bytes]:
    return {n: np.asarray(v).tobytes() for n, v in model.params.items()}


@pytest.fixture
def parts(qtbot):
    bridge, stack, edits = make_parts()
    yield bridge, stack, edits
    stack.clear()


def test_an_edit_is_autosaved_after_the_delay_and_restores_bit_for_bit(parts, qtbot, tmp_path):
    bridge, stack, edits = parts
    manager = RecoveryManager(bridge, stack, folder=tmp_path, delay_ms=DELAY)
    assert not manager.path.exists()  # nothing changed yet: nothing to save
    assert edits.apply_edit("blocks.0.attn.W_Q", 0.123456789, (1, 2, 3)) is None
    edits.set_tokens("the dog ran")
    bridge.session.set_temperature(0.7)
    bridge.stepper.set_granularity("operation")
    bridge.stepper.jump("blocks.1.attn.hook_pattern")
    bridge.set_head(1)
    bridge.select_cell("blocks.1.attn.hook_pattern", (1, 2, 0))
    assert manager.pending
    with qtbot.waitSignal(manager.sigSaved, timeout=2000):
        pass
    assert manager.path.exists() and not manager.pending

    # a crash: a fresh manager (the next start) finds the file of the dead instance
    orphan = as_orphan(manager.path, tmp_path)
    other_bridge, other_stack, _ = make_parts()
    second = RecoveryManager(other_bridge, other_stack, folder=tmp_path, delay_ms=DELAY)
    assert second.find_orphans() == [orphan]
    model, tokens, extra = second.restore(orphan)
    assert params_bytes(model) == params_bytes(bridge.model)
    assert tokens == ["the", "dog", "ran"]
    assert extra["step"] == "blocks.1.attn.hook_pattern" and extra["head"] == 1
    assert extra["temperature"] == 0.7 and extra["cell"] == ["blocks.1.attn.hook_pattern", [1, 2, 0]]
    assert extra["undo_index"] == stack.index() == 2
    manager.discard()
    second.discard()


def test_restoring_in_the_window_gives_exactly_the_state_before_the_crash(qtbot, tmp_path, monkeypatch):
    from ui.main_window import MainWindow

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    settings = Preferences(tmp_path / "settings.json")
    before = MainWindow(settings=settings)
    qtbot.addWidget(before)
    manager = RecoveryManager(before.session_bridge, before.undo_stack, folder=tmp_path / "rec", delay_ms=DELAY,
                              document=lambda: before.files.path)
    assert before.files.save_as(str(tmp_path / "lesson.npz"))
    assert before.apply_edit("unembed.W_U", -3.25, (4, 5)) is None
    before.edits.set_tokens("a big dog sat")
    bridge = before.session_bridge
    bridge.stepper.set_granularity("sublayer")
    bridge.stepper.jump("blocks.1.hook_mlp_out")
    bridge.set_head(1)
    with qtbot.waitSignal(manager.sigSaved, timeout=2000):
        pass
    orphan = as_orphan(manager.path, tmp_path / "rec")
    manager.discard()

    after = MainWindow(settings=settings)
    qtbot.addWidget(after)
    fresh = RecoveryManager(after.session_bridge, after.undo_stack, folder=tmp_path / "rec", delay_ms=DELAY)
    questions = []
    assert offer_restore(after, fresh, ask=lambda parent, when: questions.append(when) or True)
    assert len(questions) == 1 and " on " in questions[0] and questions[0].endswith("(lesson.npz)")
    assert after.files.path == before.files.path and after.windowTitle().startswith("lesson.npz*")
    got = after.session_bridge
    assert params_bytes(got.model) == params_bytes(bridge.model)
    assert got.session.tokens == bridge.session.tokens == ["a", "big", "dog", "sat"]
    assert got.stepper.granularity == "sublayer" and got.stepper.name == "blocks.1.hook_mlp_out"
    assert got.head == 1
    for name in bridge.trace:
        assert np.array_equal(got.trace[name], bridge.trace[name])
    assert not orphan.exists()  # restored: it now lives in the new instance's own file
    assert fresh.path.exists()
    after.undo_stack.undo()  # restoring is one undoable step
    assert got.session.tokens == ["the", "cat", "sat", "on", "the", "mat"]
    fresh.discard()
    for w in (before, after):
        w.undo_stack.setClean()


def test_declining_deletes_the_file_and_keeps_the_session(qtbot, tmp_path):
    from ui.main_window import MainWindow

    window = MainWindow(settings=Preferences(tmp_path / "s.json"))
    qtbot.addWidget(window)
    bridge, stack, _ = make_parts()
    writer = RecoveryManager(bridge, stack, folder=tmp_path, delay_ms=DELAY)
    writer.save_now()
    orphan = as_orphan(writer.path, tmp_path)
    writer.discard()
    manager = RecoveryManager(window.session_bridge, window.undo_stack, folder=tmp_path, delay_ms=DELAY)
    before = params_bytes(window.session_bridge.model)
    assert not offer_restore(window, manager, ask=lambda parent, when: False)
    assert not orphan.exists()
    assert params_bytes(window.session_bridge.model) == before and window.undo_stack.count() == 0
    manager.discard()


def test_a_damaged_recovery_file_is_reported_and_removed(qtbot, tmp_path):
    from ui.main_window import MainWindow

    window = MainWindow(settings=Preferences(tmp_path / "s.json"))
    qtbot.addWidget(window)
    orphan = tmp_path / f"session-{dead_pid()}-1.npz"
    orphan.write_bytes(b"PK\x03\x04 not really")
    manager = RecoveryManager(window.session_bridge, window.undo_stack, folder=tmp_path, delay_ms=DELAY)
    asked = []
    assert not offer_restore(window, manager, ask=lambda *a: asked.append(a) or True)
    assert not asked and not orphan.exists()
    assert "could not be read" in window.statusBar().currentMessage()
    manager.discard()


def test_a_clean_exit_removes_the_file_and_its_lock(parts, tmp_path):
    bridge, stack, edits = parts
    manager = RecoveryManager(bridge, stack, folder=tmp_path, delay_ms=DELAY)
    edits.apply_edit("embed.W_E", 1.5, (1, 1))
    assert manager.save_now()
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".lock", ".npz"]
    manager.discard()
    assert list(tmp_path.iterdir()) == []
    edits.apply_edit("embed.W_E", 2.5, (1, 1))  # after discard, changes no longer write anything
    assert not manager.pending and list(tmp_path.iterdir()) == []


def test_two_instances_write_different_files_and_never_take_each_others(qtbot, tmp_path):
    (b1, s1, e1), (b2, s2, e2) = make_parts(), make_parts()
    first = RecoveryManager(b1, s1, folder=tmp_path, delay_ms=DELAY)
    second = RecoveryManager(b2, s2, folder=tmp_path, delay_ms=DELAY)
    assert first.path != second.path
    e1.apply_edit("embed.W_E", 11.0, (0, 0))
    e2.apply_edit("embed.W_E", 22.0, (0, 0))
    assert first.save_now() and second.save_now()
    assert first.restore(first.path)[0].params["embed.W_E"][0, 0] == 11.0
    assert second.restore(second.path)[0].params["embed.W_E"][0, 0] == 22.0
    # both are alive (their locks are held), so neither is an orphan for a third instance
    third = RecoveryManager(*make_parts()[:2], folder=tmp_path, delay_ms=DELAY)
    assert third.find_orphans() == []
    for m in (first, second, third):
        m.discard()
    for s in (s1, s2):
        s.clear()


def test_a_failed_autosave_keeps_the_previous_recovery_file_and_says_why(parts, tmp_path, monkeypatch):
    bridge, stack, edits = parts
    manager = RecoveryManager(bridge, stack, folder=tmp_path, delay_ms=DELAY)
    edits.apply_edit("embed.W_E", 7.0, (2, 2))
    assert manager.save_now()
    good = manager.path.read_bytes()
    edits.apply_edit("embed.W_E", 8.0, (2, 2))
    failures = []
    manager.sigFailed.connect(failures.append)

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    assert not manager.save_now()
    monkeypatch.undo()
    assert failures == [manager.last_error] and "the disk is full" in failures[0]
    assert manager.path.read_bytes() == good
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".lock", ".npz"]  # no temporary file left
    manager.discard()


def test_stale_locks_without_a_file_are_cleaned_up(parts, tmp_path):
    bridge, stack, _ = parts
    lock = tmp_path / "session-1-9.lock"  # an instance that crashed before its first autosave
    subprocess.run([sys.executable, "-c", "import os, sys; from PySide6.QtCore import QLockFile; "
                    "lock = QLockFile(sys.argv[1]); lock.tryLock(0); os._exit(0)", str(lock)], check=True)
    assert lock.exists()
    manager = RecoveryManager(bridge, stack, folder=tmp_path, delay_ms=DELAY)
    assert manager.find_orphans() == []
    assert [p.name for p in tmp_path.iterdir()] == [manager.path.with_suffix(".lock").name]
    manager.discard()


def test_the_default_folder_is_the_users_app_data(parts):
    QStandardPaths.setTestModeEnabled(True)
    try:
        folder = recovery_folder()
        bridge, stack, _ = parts
        manager = RecoveryManager(bridge, stack, delay_ms=DELAY)
        assert manager.path.parent == folder and folder.name == "recovery"
        assert ".qttest" in str(folder)
        manager.discard()
    finally:
        QStandardPaths.setTestModeEnabled(False)


CHILD = textwrap.dedent("""
    import sys, time
    from ui.app import create_app
    from ui.preferences import Preferences
    from ui.main_window import MainWindow
    from ui.files.recovery import RecoveryManager

    folder, settings = sys.argv[1], sys.argv[2]
    app = create_app()
    window = MainWindow(settings=Preferences(settings))
    window.show()
    manager = RecoveryManager(window.session_bridge, window.undo_stack, window, folder=folder, delay_ms=50)
    manager.sigSaved.connect(lambda path: print("saved", path, flush=True))
    window.apply_edit("blocks.1.mlp.W_out", 42.125, (3, 7))
    window.session_bridge.stepper.jump("blocks.1.mlp.hook_post")
    while True:
        app.processEvents()
        time.sleep(0.01)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")
def test_kill_9_of_a_running_app_loses_nothing_autosaved(tmp_path, qtbot):
    folder = tmp_path / "recovery"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(tmp_path / "s.ini")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        ready, _, _ = select.select([child.stdout], [], [], 60)
        assert ready, "the app never autosaved"
        line = child.stdout.readline()  # "" if the child died instead
        assert line.startswith("saved "), child.stderr.read()
        assert child.poll() is None  # still running: its lock is held, so it is no orphan
        bridge, stack, _ = make_parts()
        manager = RecoveryManager(bridge, stack, folder=folder, delay_ms=DELAY)
        assert manager.find_orphans() == []
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
        child.stderr.close()
    orphans = manager.find_orphans()
    assert [p.name for p in orphans] == [Path(line.split(" ", 1)[1].strip()).name]
    model, tokens, extra = manager.restore(orphans[0])
    assert model.params["blocks.1.mlp.W_out"][3, 7] == 42.125
    assert tokens == ["the", "cat", "sat", "on", "the", "mat"] and extra["step"] == "blocks.1.mlp.hook_post"
    manager.discard()


def test_install_offers_the_restore_once_the_window_shows(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QApplication

    from ui.main_window import MainWindow

    QStandardPaths.setTestModeEnabled(True)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    try:
        bridge, stack, edits = make_parts()
        writer = RecoveryManager(bridge, stack, delay_ms=DELAY)
        edits.apply_edit("embed.W_E", 3.0, (4, 4))
        writer.save_now()
        orphan = as_orphan(writer.path, writer.folder)
        writer.discard()
        window = MainWindow(settings=Preferences(tmp_path / "s.json"))
        qtbot.addWidget(window)
        manager = install(window, QApplication.instance(), delay_ms=DELAY, ask=lambda parent, when: True)
        qtbot.waitUntil(lambda: not orphan.exists(), timeout=2000)
        assert window.session_bridge.model.params["embed.W_E"][4, 4] == 3.0
        assert "*" in window.windowTitle()  # restored work is unsaved work
        assert manager.path.exists()
        QApplication.instance().aboutToQuit.emit()  # a clean exit
        QApplication.instance().aboutToQuit.disconnect(manager.discard)
        assert not manager.path.exists() and not manager.path.with_suffix(".lock").exists()
        stack.clear()
        window.undo_stack.setClean()
    finally:
        QStandardPaths.setTestModeEnabled(False)


def test_an_unwritable_recovery_folder_turns_autosave_off_without_stopping_the_app(qtbot, tmp_path):
    from PySide6.QtWidgets import QApplication

    from ui.main_window import MainWindow

    window = MainWindow(settings=Preferences(tmp_path / "s.json"))
    qtbot.addWidget(window)
    blocker = tmp_path / "data"
    blocker.write_text("a file where the folder should be")
    assert install(window, QApplication.instance(), folder=blocker / "recovery") is None
    assert window.statusBar().currentMessage() == (f"Autosave is off: cannot write in {blocker / 'recovery'} "
                                                   "(Not a directory).")
    assert window.apply_edit("embed.W_E", 1.0, (0, 0)) is None  # the app carries on
    window.undo_stack.setClean()
