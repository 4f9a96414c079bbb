"""Token strip round trips: type or click → session.tokens; bad input → a red message and no change."""
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack

from simulator import ModelConfig
from ui.app import default_session
from ui.bridge import SessionBridge
from ui.edits import EditController
from ui.views.token_strip import CHIP_ROWS, ID_ROLE, TokenStrip


def make_strip(qtbot, config=None):
    bridge = SessionBridge(default_session(config))
    stack = QUndoStack()
    edits = EditController(bridge, stack)
    strip = TokenStrip(bridge)
    strip.sigTokensRequested.connect(edits.set_tokens)
    qtbot.addWidget(strip)
    strip.resize(1200, 200)
    strip.show()
    strip.undo_stack, strip.edits = stack, edits  # signals hold only weak references to these
    return strip


@pytest.fixture
def strip(qtbot):
    return make_strip(qtbot)


def type_sentence(qtbot, strip, text, side=0):
    edit = strip.sides[side].edit
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def test_chips_show_tokens_with_their_ids(strip):
    chips = strip.sides[0].chips
    assert chips.tokens() == ["the", "cat", "sat", "on", "the", "mat"]
    assert [chips.item(i).data(ID_ROLE) for i in range(chips.count())] == [1, 3, 5, 7, 1, 8]
    assert strip.vocab.count() == 13


def test_typing_a_sentence_sets_the_session_tokens(strip, qtbot):
    type_sentence(qtbot, strip, "a big dog ran")
    assert strip.bridge.session.tokens == ["a", "big", "dog", "ran"]
    assert strip.sides[0].chips.tokens() == ["a", "big", "dog", "ran"]
    assert strip.error_text() == ""
    strip.undo_stack.undo()
    assert strip.bridge.session.tokens == ["the", "cat", "sat", "on", "the", "mat"]


def test_an_unknown_word_is_explained_and_nothing_changes(strip, qtbot):
    trace = strip.bridge.session.trace
    type_sentence(qtbot, strip, "the zebra sat")
    assert "zebra" in strip.error_text() and "not in the vocabulary" in strip.error_text()
    assert strip.message.isVisible()
    assert strip.bridge.session.trace is trace and strip.undo_stack.count() == 0
    qtbot.keyClicks(strip.sides[0].edit, "x")  # editing again clears the message
    assert strip.error_text() == ""


def test_too_many_tokens_and_empty_input_are_refused(strip, qtbot):
    type_sentence(qtbot, strip, " ".join(["the"] * 9))
    assert "n_ctx = 8" in strip.error_text()
    strip.sides[0].edit.clear()
    qtbot.keyClick(strip.sides[0].edit, Qt.Key.Key_Return)
    assert "empty" in strip.error_text()
    assert strip.bridge.session.tokens == ["the", "cat", "sat", "on", "the", "mat"]


def test_vocabulary_click_appends_a_token(strip, qtbot):
    chips = strip.vocab
    item = chips.item(4)  # "dog"
    rect = chips.visualItemRect(item)
    qtbot.mouseClick(chips.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert strip.bridge.session.tokens == ["the", "cat", "sat", "on", "the", "mat", "dog"]


def test_chip_edits_delete_insert_replace_move(strip):
    session = strip.bridge.session
    assert strip.delete(0, 0)
    assert session.tokens == ["cat", "sat", "on", "the", "mat"]
    assert strip.insert(0, 1, "big")
    assert session.tokens == ["cat", "big", "sat", "on", "the", "mat"]
    assert strip.replace(0, 0, "dog")
    assert session.tokens == ["dog", "big", "sat", "on", "the", "mat"]
    assert strip.move(0, 0, +1)
    assert session.tokens == ["big", "dog", "sat", "on", "the", "mat"]
    assert not strip.move(0, 0, -1)


def test_deleting_the_last_token_is_refused(qtbot):
    strip = make_strip(qtbot)
    strip.bridge.session.set_tokens(["cat"])
    assert not strip.delete(0, 0)
    assert "empty" in strip.error_text() and strip.bridge.session.tokens == ["cat"]


def test_encoder_decoder_has_source_and_target_rows(qtbot):
    strip = make_strip(qtbot, ModelConfig(arch="encoder-decoder"))
    assert [s.title for s in strip.sides] == ["Source", "Target"]
    type_sentence(qtbot, strip, "a dog ran", side=0)
    source, target = strip.bridge.session.tokens
    assert source == ["a", "dog", "ran"] and target == ["the", "cat", "sat", "on", "the", "mat"]
    strip.choice_group.button(0).setChecked(True)
    assert strip.add_token("big")
    assert strip.bridge.session.tokens[0] == ["a", "dog", "ran", "big"]
    type_sentence(qtbot, strip, "a cow", side=1)
    assert "cow" in strip.error_text() and strip.bridge.session.tokens[1][0] == "the"


def test_a_long_input_keeps_the_strip_three_chip_rows_tall(qtbot):
    chars = ("<unk>",) + tuple(" abcdefghijklmnopqrstuvwxyz.")
    strip = make_strip(qtbot, ModelConfig(vocab=chars, tokenization="char", n_ctx=40))
    strip.resize(1000, 300)
    chips, vocab = strip.sides[0].chips, strip.vocab
    short_height = chips.height() + vocab.height()
    strip.bridge.session.set_tokens(list("the quick brown fox jumps over the lazy dog"[:40]))
    strip.sides[0].chips.fit()
    assert chips.rows >= 2 and vocab.rows >= 2  # both would wrap onto more rows ...
    assert vocab.max_rows == 1 and vocab.height() < chips.height()  # ... the vocabulary gives way
    assert chips.height() + vocab.height() <= short_height + 2
    assert chips.height() + vocab.height() <= CHIP_ROWS * chips._row_height + 8


def test_a_chip_menu_is_let_go_once_closed(strip, monkeypatch):
    """Each right-click builds a menu with two actions per vocabulary token; none may pile up."""
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QMenu

    import ui.views.token_strip

    class ClosedMenu(QMenu):
        def exec(self, *_args):  # closed at once, nothing chosen
            return None
    monkeypatch.setattr(ui.views.token_strip, "QMenu", ClosedMenu)
    chips = strip.sides[0].chips
    pos = chips.visualItemRect(chips.item(1)).center()
    for _ in range(3):
        strip._chip_menu(0, pos)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert strip.findChildren(QMenu) == []
