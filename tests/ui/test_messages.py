"""Refusals are plain text: markup from a file, a token or a step name is shown, never obeyed."""
import json
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox

from simulator import ModelConfig, Session, Transformer
from ui import messages
from ui.app import ErrorReporter
from ui.bridge import SessionBridge
from ui.classroom.lesson_player import LessonPlayer
from ui.views.token_strip import TokenStrip

MARKUP = ['<img src="/dev/zero">', '<a href="https://example.com/x">click me</a>', "<b>bold</b> &amp; <i>x"]


def shown_labels(box: QMessageBox) -> list[QLabel]:
    return [label for label in box.findChildren(QLabel) if label.text().strip()]


@pytest.mark.parametrize("markup", MARKUP)
def test_the_refusal_helper_shows_markup_literally(qtbot, markup):
    box = messages.refusal_box(None, "Refused", f"The step {markup} is not a step of this model.")
    qtbot.addWidget(box)
    box.show()  # laying out an <img src="/dev/zero"> as HTML would read /dev/zero for ever
    qtbot.waitExposed(box)
    texts = [label.text() for label in shown_labels(box)]
    assert any(markup in t for t in texts)
    for label in box.findChildren(QLabel):
        assert label.textFormat() == Qt.TextFormat.PlainText
        assert not label.openExternalLinks()


def test_refuse_runs_the_box_modally(monkeypatch):
    seen = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: seen.append((box.text(), box.textFormat())) or 0)
    messages.refuse(None, "t", MARKUP[0])
    assert seen == [(MARKUP[0], Qt.TextFormat.PlainText)]


def test_a_lesson_whose_step_is_markup_is_refused_in_plain_text(qtbot, tmp_path, monkeypatch):
    bridge = SessionBridge(Session(Transformer(ModelConfig()), "the cat"))
    player = LessonPlayer(bridge)
    qtbot.addWidget(player)
    path = tmp_path / "evil.json"
    path.write_text(json.dumps({"title": MARKUP[1], "tokens": "the cat",
                                "stops": [{"step": MARKUP[0], "text": MARKUP[1]}]}))
    boxes = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: boxes.append(box) or 0)
    assert not player.open_file(path)
    (box,) = boxes
    assert MARKUP[0] in box.text() and box.textFormat() == Qt.TextFormat.PlainText


def test_the_unexpected_error_dialog_is_plain_text(qtbot):
    reporter = ErrorReporter()
    try:
        raise ValueError(MARKUP[1])
    except ValueError:
        reporter._show(str(sys.exc_info()[1]), "details " + MARKUP[0])
    box = reporter.dialog
    qtbot.addWidget(box)
    assert MARKUP[1] in box.informativeText()
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in box.findChildren(QLabel))
    box.close()


def test_a_markup_token_in_the_strip_message_is_plain(qtbot):
    bridge = SessionBridge(Session(Transformer(ModelConfig()), "the"))
    strip = TokenStrip(bridge)
    qtbot.addWidget(strip)
    token = '<a href="https://example.com/x">click</a>'
    assert not strip.propose(0, ["the", token])
    assert token in strip.message.text()
    assert strip.message.textFormat() == Qt.TextFormat.PlainText
