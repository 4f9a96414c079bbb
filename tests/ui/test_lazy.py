"""The lazy-view helper: a hidden view does no work on a change and catches up once when shown."""
from PySide6.QtWidgets import QWidget

from ui.lazy import Lazy


def test_a_hidden_view_paints_once_when_shown_and_at_once_while_shown(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    painted = []
    lazy = Lazy(widget, lambda: painted.append(1))
    lazy.request()
    lazy.request()
    assert painted == [] and lazy.stale  # nobody sees it: no work
    widget.show()
    qtbot.waitExposed(widget)
    assert painted == [1] and not lazy.stale  # caught up once, for both changes
    lazy.request()
    assert painted == [1, 1]
    widget.hide()
    widget.show()
    assert painted == [1, 1]  # up to date: showing again costs nothing


def test_a_view_with_its_own_on_screen_test_catches_up_when_it_says_so(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    front = [False]  # e.g. a dock's tab behind another one: visible to Qt, not on screen
    painted = []
    lazy = Lazy(widget, lambda: painted.append(1), on_screen=lambda: front[0])
    lazy.request()
    assert painted == []
    front[0] = True
    lazy.catch_up()
    assert painted == [1]
