"""Autosave and crash recovery.

A few seconds after any change (an edit, new tokens, a step, a head), the session is written
atomically to this instance's own recovery file in the user's data folder:
``<AppDataLocation>/recovery/session-<pid>-<start µs>.npz`` (model, tokens, and in its
metadata the file path and the fields of the view state, `simulator.view_state.ViewState`,
side by side with the other entries as recovery files have always held them). A lock file
held with QLockFile beside it marks it as alive, so two running instances never take or
overwrite each other's files. A clean exit deletes both. After a crash or a kill -9 the lock's
process is gone; the next start finds the file (`find_orphans`) and offers to restore it.

The view is checked by the same rule as a scenario's (`ViewState.parse` + `problems`), and as
with a scenario a view with a bad field is not used at all; a restore still keeps the model and
tokens (the work a crash must not lose), opens at the first step and names each bad field in
the status bar.

A recovery file is checked like any file someone else wrote. Its document path is only a claim:
the session is tied to that file again (so Save overwrites it) only when the file there is still
the one that was open, which is verified by the SHA-256 of its bytes recorded at autosave time
(`document_sha256`). Otherwise the restored session has no file and Save asks where to write.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, QStandardPaths, QTimer, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QMessageBox, QWidget

import simulator
from simulator.io import MAX_FILE_BYTES, TEMP_NAME, load_meta, remove_stale_temp_files, stale_temp_files
from simulator.view_state import ViewState
from ui.bridge import SessionBridge

DELAY_MS = 3000  # after a change: long enough to batch a burst of edits, short enough to lose little
PREFIX = "session-"


def recovery_folder() -> Path:
    """`<AppDataLocation>/recovery` (QStandardPaths' test mode moves it under ~/.qttest)."""
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)) / "recovery"


def file_digest(path: str | os.PathLike) -> str | None:
    """SHA-256 of an ordinary file's bytes (None for a missing, special or oversized file)."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None


def trusted_document(extra: dict) -> str | None:
    """The recovery file's document path if the file there is the very one that was open, else None."""
    document, recorded = extra.get("document"), extra.get("document_sha256")
    if not (isinstance(document, str) and document and isinstance(recorded, str) and len(recorded) == 64):
        return None
    return document if file_digest(document) == recorded else None


def _lock_path(path: Path) -> Path:
    return path.with_suffix(".lock")


def _owner_alive(path: Path) -> bool:
    """Whether a running process holds the lock beside `path` (a stale lock is removed)."""
    lock_path = _lock_path(path)
    if not lock_path.exists():
        return False
    lock = QLockFile(str(lock_path))
    lock.setStaleLockTime(0)  # stale only when its process is gone, however long it has run
    if lock.tryLock(0):
        lock.unlock()  # it was stale: Qt took it over; unlocking deletes it
        return False
    return lock.error() == QLockFile.LockError.LockFailedError


class RecoveryManager(QObject):
    """Writes this instance's recovery file after changes; finds and restores other, dead instances' files.

    `folder` defaults to `recovery_folder()`; `delay_ms` is the wait after a change; `document`
    returns the path of the file the session belongs to (or None), stored so a restore can name it.
    """

    sigSaved = Signal(str)  # path of the recovery file just written
    sigFailed = Signal(str)  # why the last autosave failed (the previous recovery file is intact)

    def __init__(self, bridge: SessionBridge, undo_stack: QUndoStack, parent: QObject | None = None,
                 folder: str | os.PathLike | None = None, delay_ms: int = DELAY_MS,
                 document: Callable[[], str | None] | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.undo_stack = undo_stack
        self.document = document or (lambda: None)
        self._digests: dict[tuple, str | None] = {}  # (path, size, mtime) -> SHA-256, hashed once per version
        self.folder = Path(folder) if folder is not None else recovery_folder()
        self.folder.mkdir(parents=True, exist_ok=True)  # OSError if it cannot be made: no autosave then
        self.path, self._lock = self._claim()
        self.last_error: str | None = None
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(int(delay_ms))
        self._timer.timeout.connect(self.save_now)
        for signal in self._signals():
            signal.connect(self._changed)

    def _signals(self) -> tuple:
        b = self.bridge
        return (b.sigTraceChanged, b.sigStepChanged, b.sigHeadChanged, b.sigCellSelected,
                self.undo_stack.indexChanged)

    def _claim(self) -> tuple[Path, QLockFile]:
        """A file name no other instance uses, and the lock that says this one is alive."""
        for _ in range(100):
            path = self.folder / f"{PREFIX}{os.getpid()}-{time.time_ns() // 1000}.npz"
            lock = QLockFile(str(_lock_path(path)))
            lock.setStaleLockTime(0)
            if not path.exists() and lock.tryLock(0):
                return path, lock
            if lock.error() not in (QLockFile.LockError.NoError, QLockFile.LockError.LockFailedError):
                break  # not a name clash: the folder refuses files
        raise OSError(f"cannot create a recovery file in {self.folder}")

    # --- autosave ---

    def _changed(self, *_) -> None:
        self._dirty = True
        if not self._timer.isActive():  # measured from the first unsaved change, so a busy user still gets saves
            self._timer.start()

    def save_now(self) -> bool:
        """Write the session to this instance's recovery file now (atomically). False if it failed."""
        self._timer.stop()
        bridge, session = self.bridge, self.bridge.session
        extra = {
            **bridge.view_state().to_json(),
            "saved_at": datetime.now().isoformat(timespec="seconds"),
            "document": self.document(),
            "document_sha256": self._document_digest(),
            # the commands themselves hold live objects, so the history is not saved: only where it stood
            "undo_index": self.undo_stack.index(),
            "undo_count": self.undo_stack.count(),
        }
        try:
            simulator.save(self.path, session.model, session.input, extra=extra)
        except (OSError, ValueError) as exc:
            self.last_error = str(exc)
            self.sigFailed.emit(self.last_error)
            return False
        self._dirty = False
        self.last_error = None
        self.sigSaved.emit(str(self.path))
        return True

    def _document_digest(self) -> str | None:
        path = self.document()
        if not path:
            return None
        try:
            info = os.stat(path)
        except OSError:
            return None
        key = (path, info.st_size, info.st_mtime_ns)
        if key not in self._digests:
            self._digests = {key: file_digest(path)}
        return self._digests[key]

    @property
    def pending(self) -> bool:
        """A change has not been written yet."""
        return self._dirty

    def discard(self) -> None:
        """A clean exit: stop saving and delete this instance's recovery file and lock."""
        self._timer.stop()
        for signal in self._signals():
            try:
                signal.disconnect(self._changed)
            except (RuntimeError, TypeError):  # already disconnected, or the sender is gone
                pass
        self._dirty = False
        self.path.unlink(missing_ok=True)
        self._lock.unlock()

    # --- recovery ---

    def find_orphans(self) -> list[Path]:
        """Recovery files left by instances that are no longer running, newest first.

        Also removes stale lock files that never got a recovery file (a crash before the first save).
        """
        orphans = []
        for path in self.folder.glob(f"{PREFIX}*.npz"):
            if path != self.path and not _owner_alive(path):
                orphans.append(path)
        for lock in self.folder.glob(f"{PREFIX}*.lock"):
            if lock != _lock_path(self.path) and not lock.with_suffix(".npz").exists():
                _owner_alive(lock.with_suffix(".npz"))  # removes the lock if its process is gone
        return sorted(orphans, key=lambda p: p.stat().st_mtime, reverse=True)

    @staticmethod
    def restore(path: str | os.PathLike) -> tuple[simulator.Transformer, object, dict]:
        """Read a recovery file: (model, tokens, extra). Raises ModelFileError if it is damaged."""
        model, tokens = simulator.load(path)
        meta, zf = load_meta(path)
        zf.close()
        return model, tokens, meta.get("extra", {})

    @staticmethod
    def remove(path: str | os.PathLike) -> None:
        """Delete a recovery file (and a stale lock beside it) once it is restored or declined."""
        path = Path(path)
        path.unlink(missing_ok=True)
        if not _owner_alive(path):
            _lock_path(path).unlink(missing_ok=True)


def saved_at(path: Path, extra: dict | None = None) -> str:
    """When a recovery file was written, as people read it: "14:03 on Tuesday 12 May"."""
    try:
        when = datetime.fromisoformat(str((extra or {}).get("saved_at")))
    except ValueError:
        when = datetime.fromtimestamp(path.stat().st_mtime)
    return f"{when:%H:%M} on {when:%A} {when.day} {when:%B}"


def view_in(extra: dict) -> tuple[ViewState, dict[str, str]]:
    """The view saved in a recovery file's `extra`, and {field: why} for each field that had
    to be left at its default (unknown entries of `extra` are the file's own, not the view's)."""
    names = ViewState.__dataclass_fields__
    return ViewState.parse({key: value for key, value in extra.items() if key in names})


def restore_view(bridge: SessionBridge, extra: dict) -> dict[str, str]:
    """Put back the view saved in `extra` on the (restored) session, if every field fits.

    Returns {field: why} for each field that does not fit; then nothing of the view is applied
    and the session stays at its first step (the scenario's rule: a view is used whole or not at all).
    """
    state, problems = view_in(extra)
    problems.update(bridge.view_problems(state))
    if not problems:
        bridge.apply_view_state(state)
    return problems


def remove_debris(manager: RecoveryManager, folders=()) -> list[Path]:
    """At start-up: delete temporary files of saves that were killed midway; returns them.

    In the recovery folder, a half-written autosave (".session-….npz.xxxxxxxx.tmp") goes once
    the instance that wrote it is no longer running; beside model files (`folders`: where the
    recent files are), a half-written save goes once it has been untouched for ten minutes.
    Only files named exactly as `simulator.io.atomic_write` names them are touched.
    """
    removed = []
    for path in stale_temp_files(manager.folder, names=re.compile(rf"{PREFIX}[0-9]+-[0-9]+\.npz"), min_age=0):
        owner = manager.folder / TEMP_NAME.fullmatch(path.name)["name"]
        if owner != manager.path and not _owner_alive(owner):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed + remove_stale_temp_files(folders)


def ask_to_restore(parent: QWidget | None, when: str) -> bool:
    """The start-up question; tests replace it with a function returning True or False."""
    box = QMessageBox(QMessageBox.Icon.Question, "Restore your work?",
                      f"Stepformer did not close properly last time. Restore the session from {when}?",
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.button(QMessageBox.StandardButton.Yes).setText("Restore")
    box.button(QMessageBox.StandardButton.No).setText("Discard")
    box.setDefaultButton(QMessageBox.StandardButton.Yes)
    return box.exec() == QMessageBox.StandardButton.Yes


def offer_restore(window, manager: RecoveryManager, ask: Callable[[QWidget | None, str], bool] = ask_to_restore,
                  ) -> bool:
    """At start-up: offer the sessions of instances that died, newest first; restore the first one accepted.

    `window` is the MainWindow (its `edits`, `files` and `session_bridge`). Restoring is one
    undoable step. A declined or unreadable file is deleted; True if a session was restored.
    """
    for path in manager.find_orphans():
        try:
            model, tokens, extra = manager.restore(path)
        except simulator.ModelFileError as exc:
            window.statusBar().showMessage(f"A recovery file could not be read and was removed: {exc}", 10000)
            manager.remove(path)
            continue
        when = saved_at(path, extra)
        document = trusted_document(extra)  # None: Save asks where to write
        if not ask(window, f"{when} ({Path(document).name})" if document else when):
            manager.remove(path)
            continue
        window.edits.set_model(model, tokens, f"Restore the session from {when}", window.files.path, document,
                               window.files.set_path)
        problems = restore_view(window.session_bridge, extra)
        if problems:
            window.statusBar().showMessage("Restored at the first step; the saved view was not used: "
                                           + "; ".join(problems.values()) + ".", 15000)
        manager.save_now()  # the restored session is safe in this instance's file before the old one goes
        manager.remove(path)
        return True
    return False


def install(window, app, delay_ms: int = DELAY_MS, ask: Callable[[QWidget | None, str], bool] = ask_to_restore,
            folder: str | os.PathLike | None = None) -> RecoveryManager | None:
    """Autosave for a window of the running app: offer a restore once the window shows, discard on a clean exit.

    None (and a note in the status bar) when the recovery folder cannot be written: the app runs without.
    """
    try:
        manager = RecoveryManager(window.session_bridge, window.undo_stack, window, folder=folder,
                                  delay_ms=delay_ms, document=lambda: window.files.path)
    except OSError as exc:
        why = f"cannot write in {exc.filename} ({exc.strerror})" if exc.filename else str(exc)
        window.statusBar().showMessage(f"Autosave is off: {why}.", 15000)
        return None
    manager.sigFailed.connect(lambda why: window.statusBar().showMessage(f"Autosave failed: {why}", 10000))
    remove_debris(manager, {Path(f).parent for f in [*window.files.recent_files(), window.files.path] if f})
    app.aboutToQuit.connect(manager.discard)
    QTimer.singleShot(0, lambda: offer_restore(window, manager, ask))
    return manager
