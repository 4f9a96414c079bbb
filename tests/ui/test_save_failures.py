"""Saving never destroys: a save that fails (no folder, a file where the folder should be, a
read-only folder, a full disk, an error mid-write) leaves the old file byte-identical, shows
one clear message, leaves no temporary file, and changes nothing in memory."""
from __future__ import annotations

import errno
import os
import tempfile

import numpy as np
import pytest
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QMainWindow

import simulator.io
from simulator import Session, Transformer
from ui import messages
from ui.bridge import SessionBridge
from ui.edits import EditController
from ui.files.model_file import FileController
from ui.preferences import Preferences


class Shell:
    """The pieces File ▸ Save uses, without the whole main window."""

    def __init__(self, qtbot, tmp_path, monkeypatch):
        model = Transformer(seed=4)
        self.window = QMainWindow()
        qtbot.addWidget(self.window)
        self.bridge = SessionBridge(Session(model, model.tokens("the cat sat")))
        self.stack = QUndoStack(self.window)
        self.edits = EditController(self.bridge, self.stack)
        self.files = FileController(self.window, self.edits, self.stack,
                                    Preferences(tmp_path / "s.json"))
        self.messages: list[tuple[str, str]] = []
        monkeypatch.setattr(messages, "refuse", lambda parent, title, text, *a: self.messages.append((title, text)))

    def state(self) -> tuple:
        session = self.bridge.session
        return ({n: np.asarray(v).tobytes() for n, v in session.model.params.items()}, session.tokens,
                self.stack.index(), self.stack.isClean(), self.files.path, self.window.windowTitle())


@pytest.fixture
def shell(qtbot, tmp_path, monkeypatch):
    s = Shell(qtbot, tmp_path, monkeypatch)
    yield s
    s.stack.setClean()


@pytest.fixture
def saved(shell, tmp_path):
    """A model saved once, then edited (unsaved): the next save is the one that fails."""
    path = tmp_path / "lesson.npz"
    assert shell.files.save_as(str(path))
    assert shell.edits.apply_edit("embed.W_E", 9.5, (1, 2)) is None
    return path, path.read_bytes()


def assert_failed_cleanly(shell, before, folder, fragment):
    assert shell.state() == before
    assert len(shell.messages) == 1
    title, text = shell.messages[0]
    assert title == "Could not save the model" and fragment in text
    assert "Errno" not in text and "Traceback" not in text
    assert not [p for p in os.listdir(folder) if p.endswith(".tmp")]


def test_saving_into_a_vanished_folder(shell, tmp_path):
    folder = tmp_path / "usb-stick"
    folder.mkdir()
    assert shell.files.save_as(str(folder / "m.npz"))
    shell.edits.apply_edit("embed.W_E", 1.25, (0, 0))
    folder.joinpath("m.npz").unlink()
    folder.rmdir()
    before = shell.state()
    assert not shell.files.save()
    assert_failed_cleanly(shell, before, tmp_path, f"the folder {folder} does not exist. Nothing was written.")


def test_saving_where_the_folder_is_a_file(shell, tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    before = shell.state()
    assert not shell.files.save_as(str(blocker / "m.npz"))
    assert_failed_cleanly(shell, before, tmp_path, f"{blocker} is a file, not a folder")
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write in read-only folders")
def test_saving_into_a_read_only_folder(shell, saved, tmp_path):
    path, old = saved
    tmp_path.chmod(0o555)
    try:
        before = shell.state()
        assert not shell.files.save()
        assert_failed_cleanly(shell, before, tmp_path, "you may not write in that folder")
    finally:
        tmp_path.chmod(0o755)
    assert path.read_bytes() == old


def test_saving_into_a_read_only_folder_simulated(shell, saved, tmp_path, monkeypatch):
    """As root, chmod does not stop writes: the temporary file's creation is refused instead."""
    path, old = saved

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    before = shell.state()
    assert not shell.files.save()
    assert_failed_cleanly(shell, before, tmp_path,
                          "lesson.npz could not be saved: you may not write in that folder. "
                          "The previous file is unchanged.")
    assert path.read_bytes() == old


def test_a_full_disk_at_fsync_keeps_the_old_file(shell, saved, tmp_path, monkeypatch):
    path, old = saved

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    before = shell.state()
    assert not shell.files.save()
    assert_failed_cleanly(shell, before, tmp_path, "the disk is full. The previous file is unchanged.")
    assert path.read_bytes() == old


def test_a_write_that_fails_half_way_keeps_the_old_file(shell, saved, tmp_path, monkeypatch):
    path, old = saved

    def half_then_fail(f, **arrays):
        f.write(b"PK\x03\x04" + bytes(5000))
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(simulator.io.np, "savez", half_then_fail)
    before = shell.state()
    assert not shell.files.save()
    assert_failed_cleanly(shell, before, tmp_path, "the disk reported an error")
    assert path.read_bytes() == old


def test_a_rename_that_fails_keeps_the_old_file(shell, saved, tmp_path, monkeypatch):
    path, old = saved

    def busy(src, dst):
        raise OSError(errno.EBUSY, "Device or resource busy")

    monkeypatch.setattr(os, "replace", busy)
    before = shell.state()
    assert not shell.files.save()
    assert_failed_cleanly(shell, before, tmp_path, "Device or resource busy. The previous file is unchanged.")
    assert path.read_bytes() == old


def test_after_a_failure_the_next_save_works_and_keeps_the_file_readable_by_others(shell, saved, monkeypatch):
    path, old = saved
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    assert not shell.files.save()
    monkeypatch.undo()
    assert shell.files.save()
    assert path.read_bytes() != old and shell.stack.isClean()
    model, tokens = simulator.load(path)
    assert model.params["embed.W_E"][1, 2] == 9.5 and tokens == ["the", "cat", "sat"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temporary file's private 0600
