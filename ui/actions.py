"""QAction construction that names every shortcut in the tooltip and status tip."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence


def key_names(shortcuts: Sequence[QKeySequence | str]) -> str:
    """"Space, Right, PgDown": how the keys read in menus and tooltips."""
    return ", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in shortcuts)


def make_action(parent: QObject, text: str, shortcuts: Sequence[QKeySequence | str] = (),
                tip: str = "", slot: Callable | None = None, checkable: bool = False) -> QAction:
    """An action active anywhere in its window, whose tooltip lists its keys."""
    action = QAction(text, parent)
    keys = [QKeySequence(k) for k in shortcuts]
    if keys:
        action.setShortcuts(keys)
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    plain = text.replace("&", "")
    described = tip or plain
    action.setToolTip(f"{described} ({key_names(keys)})" if keys else described)
    action.setStatusTip(action.toolTip())
    action.setCheckable(checkable)
    if slot is not None:
        action.triggered.connect(slot)
    return action
