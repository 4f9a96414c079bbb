"""New, open, save, save as, recent files, the window title and the unsaved-changes prompt.

Files are the core's `.npz` model files (`simulator.save` / `simulator.load`). A file that
cannot be read is reported in a message box and the current model stays as it was.
Opening a file is one undoable step, like any other change of model. So is opening a
checkpoint folder (GPT-2, BERT) and switching the precision it is computed in.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

import simulator
from ui import messages
from ui.app import APP_NAME, default_model
from ui.edits import EditController
from ui.preferences import Preferences

FILTER = "Stepformer models (*.npz)"
RECENT_KEY = "recentFiles"
MAX_RECENT = 8


BFLOAT16_NOTE = "Weights stored as bfloat16, widened exactly to float32 (a bfloat16 is a float32's top half)."


def open_model_folder(folder: str | Path) -> tuple[simulator.Transformer, list[str], str]:
    """A checkpoint folder (GPT-2, BERT; "minilm" for the demonstration model) as (model, first tokens,
    a sentence for the status bar: how the weights were stored when that is worth saying, else "").

    Raises ValueError (`simulator.CheckpointError`, `budget.BudgetError`) or OSError with a plain
    message; nothing is changed until the caller swaps the model in.
    """
    from simulator.cli import CHECKPOINT_EXAMPLE
    from simulator.pretrained import open_pretrained

    opened = open_pretrained(folder)
    note = BFLOAT16_NOTE if "bfloat16" in opened.stored else ""
    return opened.model, opened.model.tokens(CHECKPOINT_EXAMPLE), note


class FileController(QObject):
    sigPathChanged = Signal(object)  # str path of the shown model's file, or None if never saved

    def __init__(self, window: QMainWindow, edits: EditController, undo_stack: QUndoStack,
                 settings: Preferences | None = None):
        super().__init__(window)
        self.window = window
        self.edits = edits
        self.undo_stack = undo_stack
        self.settings = settings if settings is not None else Preferences()
        self.path: str | None = None
        self.recent_menu = QMenu("Open &Recent", window)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        undo_stack.cleanChanged.connect(self.update_title)
        self.update_title()

    @property
    def session(self):
        return self.edits.session

    # --- commands ---

    def new(self) -> None:
        """The classroom model with fresh default tokens (undoable)."""
        model, tokens = default_model()
        self.edits.set_model(model, tokens, "New model", self.path, None, self.set_path)
        self.undo_stack.setClean()

    def open(self, path: str | None = None) -> bool:
        """Open a model file (asking for one when `path` is None). False if nothing was opened."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.window, "Open model", self._folder(), FILTER)
            if not path:
                return False
        try:
            model, tokens = simulator.load(path)
        except (ValueError, OSError) as exc:  # ModelFileError is a ValueError
            self._error("Could not open the model", str(exc))
            if not Path(path).exists():
                self._forget_recent(path)
            return False
        path = str(Path(path).resolve())
        self.edits.set_model(model, tokens, f"Open {Path(path).name}", self.path, path, self.set_path)
        self.undo_stack.setClean()
        self.add_recent(path)
        return True

    def open_folder(self, folder: str | None = None) -> bool:
        """Open a checkpoint folder as one undoable step (asking for one when `folder` is None); a folder
        that cannot be used leaves the model as it was. The folder joins the recent files."""
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self.window, "Open model folder (GPT-2, BERT)", self._folder())
            if not folder:
                return False
        try:
            model, tokens, note = open_model_folder(folder)
        except (ValueError, OSError) as exc:  # CheckpointError and BudgetError are ValueErrors
            self._error("Could not open the model folder", str(exc))
            if not Path(folder).exists():
                self._forget_recent(folder)
            return False
        self.edits.set_model(model, tokens, f"Open {Path(folder).name}", self.path, None, self.set_path)
        if Path(folder).is_dir():
            self.add_recent(str(Path(folder).resolve()))
        if note:
            self.window.statusBar().showMessage(note, 15000)
        return True

    def set_precision(self, dtype: str) -> bool:
        """Compute the open model in `dtype` ("float32" or "float64") as one undoable step; refused with
        a message (nothing changed) when the memory budget has no room for it."""
        model = self.session.model
        if model.config.dtype == dtype:
            return True
        try:
            new = simulator.Transformer(replace(model.config, dtype=dtype), seed=model.seed,
                                        params={k: np.asarray(v, dtype=dtype) for k, v in model.params.items()},
                                        tokenizer=model.tokenizer)
        except ValueError as exc:  # BudgetError: float64 takes twice the memory
            self._error(f"Could not compute in {dtype}", str(exc))
            return False
        self.edits.set_model(new, self.session.tokens, f"Compute in {dtype}", self.path, self.path, self.set_path)
        return True

    def save(self) -> bool:
        return self.save_as(self.path) if self.path else self.save_as()

    def save_as(self, path: str | None = None) -> bool:
        """Write the model and tokens to `path` (asking for one when None). False if not saved."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self.window, "Save model as", self._folder(), FILTER)
            if not path:
                return False
            if not path.lower().endswith(".npz"):
                path += ".npz"
        try:
            simulator.save(path, self.session.model, self.session.input)  # an image model: its image
        except (ValueError, OSError) as exc:
            self._error("Could not save the model", str(exc))
            return False
        self.set_path(str(Path(path).resolve()))
        self.undo_stack.setClean()
        self.add_recent(self.path)
        return True

    def maybe_save(self) -> bool:
        """Before closing: True when it is fine to go on (saved, discarded, or nothing to save)."""
        if self.undo_stack.isClean():
            return True
        answer = QMessageBox.question(
            self.window, "Unsaved changes", f"Save the changes to {self.display_name()} before closing?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    # --- title and recent files ---

    def display_name(self) -> str:
        return Path(self.path).name if self.path else "untitled"

    def update_title(self, clean: bool | None = None) -> None:
        if not shiboken6.isValid(self.window):  # the stack outlives the window (see MainWindow)
            return
        if clean is None:
            clean = self.undo_stack.isClean()
        star = "" if clean else "*"
        self.window.setWindowTitle(f"{self.display_name()}{star} — {APP_NAME}")

    def set_path(self, path: str | None) -> None:
        self.path = path
        self.update_title()
        self.sigPathChanged.emit(path)

    def recent_files(self) -> list[str]:
        value = self.settings.value(RECENT_KEY, [])
        if isinstance(value, str):  # a lone entry
            value = [value]
        if not isinstance(value, (list, tuple)):  # a hand-edited or foreign file: no recent files
            return []
        return [v for v in value if isinstance(v, str) and v][:MAX_RECENT]

    def add_recent(self, path: str) -> None:
        files = [path] + [f for f in self.recent_files() if f != path]
        self.settings.setValue(RECENT_KEY, files[:MAX_RECENT])

    def _forget_recent(self, path: str) -> None:
        self.settings.setValue(RECENT_KEY, [f for f in self.recent_files() if f != path])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for i, path in enumerate(files, 1):
            if Path(path).is_dir():  # a checkpoint folder
                action = self.recent_menu.addAction(f"&{i} {Path(path).name}/", lambda p=path: self.open_folder(p))
            else:
                action = self.recent_menu.addAction(f"&{i} {Path(path).name}", lambda p=path: self.open(p))
            action.setToolTip(path)
        if not files:
            self.recent_menu.addAction("(no recent files)").setEnabled(False)

    def _folder(self) -> str:
        if self.path:
            return str(Path(self.path).parent)
        files = self.recent_files()
        return str(Path(files[0]).parent) if files else str(Path.home())

    def _error(self, title: str, text: str) -> None:
        messages.refuse(self.window, title, text)
