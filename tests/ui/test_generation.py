"""Appending tokens in the app: one undoable edit each, undo restores the trace bit for bit; the
sampling view shows the stages of the draw the controller makes."""
import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from simulator import Session
from simulator.presets import load_preset
from simulator.sampling import sample
from ui.app import start_session
from ui.main_window import MainWindow
from ui.views.sampling_view import SamplingView, bar_rows


@pytest.fixture
def make_window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)

    def make(session):
        w = MainWindow(session, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
        qtbot.addWidget(w)
        w.resize(1280, 800)
        return w
    return make


def _words_session(text="mary gave the book to john . john"):
    model, _, _ = load_preset("text-words")
    return Session(model, model.tokens(text))


def test_append_is_one_undo_step_and_undo_restores_the_trace_exactly(make_window):
    w = make_window(_words_session())
    before = w.session_bridge.trace
    snapshot = {name: np.array(before[name]) for name in before}
    tokens = list(w.session_bridge.session.tokens)
    assert w.generation.append(greedy=True) is None
    after = w.session_bridge.trace
    assert w.session_bridge.session.tokens[:8] == tokens and len(w.session_bridge.session.tokens) == 9
    assert after["logits"].shape[0] == 9 and after["blocks.0.attn.hook_pattern"].shape[1:] == (9, 9)
    assert w.undo_stack.count() == 1 and w.undo_stack.undoText().startswith("Append '")
    w.undo_stack.undo()
    restored = w.session_bridge.trace
    assert w.session_bridge.session.tokens == tokens
    for name, value in snapshot.items():
        assert np.array_equal(restored[name], value), name
    w.undo_stack.redo()
    for name in after:
        assert np.array_equal(w.session_bridge.trace[name], after[name]), name


def test_greedy_append_takes_the_most_likely_token(make_window):
    w = make_window(_words_session("mary gave the book to john . john thanked"))
    assert w.generation.append(greedy=True) is None
    assert w.session_bridge.session.tokens[-1] == "mary"


def test_the_next_token_panel_buttons_append_and_generate(make_window, qtbot):
    w = make_window(_words_session("the cat sat on"))
    panel = w.step_view.next_token()
    qtbot.mouseClick(panel.append_buttons.greedy_button, Qt.MouseButton.LeftButton)
    assert w.session_bridge.session.tokens == "the cat sat on the".split()
    panel.append_buttons.n_tokens.setValue(3)
    qtbot.mouseClick(panel.append_buttons.generate_button, Qt.MouseButton.LeftButton)
    assert len(w.session_bridge.session.tokens) == 8 and w.undo_stack.count() == 4


def test_the_same_seed_writes_the_same_text(make_window):
    texts = []
    for _ in range(2):
        w = make_window(_words_session("the"))
        assert w.generation.set_settings(1.5, None, None, 11) is None
        w.generation.generate(6)
        texts.append(list(w.session_bridge.session.tokens))
    assert texts[0] == texts[1] and len(texts[0]) == 7


def test_bad_settings_are_refused_and_change_nothing(make_window):
    w = make_window(_words_session())
    assert "temperature" in w.generation.set_settings(0, None, None, 0)
    assert "top-p" in w.generation.set_settings(1.0, None, 1.5, 0)
    assert (w.generation.temperature, w.generation.top_p) == (1.0, None)


def test_encoder_decoder_appends_to_its_target_and_stops_at_the_end(make_window):
    model, _, _ = load_preset("translate")
    w = make_window(Session(model, model.tokens(("4 0 7", "<bos>"))))
    w.generation.generate(10)
    assert w.session_bridge.session.tokens[1] == ["<bos>", "four", "hundred", "seven", "<eos>"]
    assert "ended" in w.generation.append()


def test_sampling_view_shows_the_draw_the_append_makes(make_window, qtbot):
    w = make_window(_words_session("the keys that the man holds"))
    written = []
    view = SamplingView(w.session_bridge, w.generation, explained=True)
    view.sigCalculation.connect(written.append)
    qtbot.addWidget(view)
    view.show()
    w.generation.set_settings(1.0, 3, 0.9, 5)
    preview, done = view.shown_sampling()
    assert not done
    expected = sample(w.session_bridge.trace["logits"][-1], 1.0, 3, 0.9, np.random.default_rng(5))
    assert preview.token == expected.token and preview.draw == expected.draw
    rows = bar_rows(preview, w.session_bridge.model.config.vocab)
    assert [r.cut[1] for r in rows[3:]] == [True] * len(rows[3:])  # top-k = 3 cuts from the 4th on
    w.generation.append()
    shown, done = view.shown_sampling()
    assert done and shown.token == preview.token
    assert w.session_bridge.session.tokens[-1] == w.session_bridge.model.config.vocab[preview.token]
    assert f"u = {preview.draw:.3f}" in view.drawn.text() and "KV cache" in view.cache.text()
    assert written and written[-1].startswith("How the last token was picked") and "Top-k = 3" in written[-1]


def test_the_app_starts_on_a_model_that_writes_english():
    session = start_session()
    assert session.tokens == "the cat sat on the mat".split()
    vocab = session.model.config.vocab
    assert vocab[int(np.argmax(session.trace["probs"][-1]))] == "."
    assert vocab[int(np.argmax(session.trace["probs"][2]))] == "on"


def test_a_decoder_that_sees_the_future_is_flagged_in_the_window(make_window):
    model, tokens, _ = load_preset("text-words-cheat")
    w = make_window(Session(model, tokens))
    assert "can see the future" in w.warning_label.text()
    w.set_model(*load_preset("text-words")[:2], "Honest model")
    assert w.warning_label.text() == ""


def test_in_the_window_the_sampling_calculation_is_written_once_in_the_explanation_panel(make_window):
    w = make_window(_words_session("the cat sat on the"))
    w.show()
    w.tabs.setCurrentIndex(w.tab_titles().index("Sampling"))
    view = w.current_view()
    assert not view.calculation.isVisible()  # not twice on screen
    assert w.explain_panel.cell.text().startswith("How the next Append would pick")
    w.tabs.setCurrentIndex(w.tab_titles().index("Step"))
    w.generation.append(greedy=True)
    w.tabs.setCurrentIndex(w.tab_titles().index("Sampling"))  # shown again: the panel has this view's text
    assert w.explain_panel.cell.text().startswith("How the last token was picked")


def test_the_sampling_view_shows_a_refusal_only_while_there_is_one(make_window, qtbot):
    w = make_window(_words_session("the cat sat on the mat . " * 3))  # 21 words: room for 3 more
    view = SamplingView(w.session_bridge, w.generation)
    qtbot.addWidget(view)
    view.show()
    buttons = view.append_buttons
    assert not buttons.message.isVisible()
    buttons.generate_button.click()  # 10 asked, 3 fit
    assert buttons.message.isVisible() and "n_ctx = 24" in buttons.message.text()
    w.undo_stack.undo()
    buttons.greedy_button.click()
    assert not buttons.message.isVisible() and buttons.message.text() == ""


def test_the_sampling_view_writes_through_sigcalculation_like_the_other_tabs_and_only_in_front(make_window, qtbot):
    w = make_window(_words_session("the cat sat on the"))
    w.show()
    w.tabs.setCurrentIndex(w.tab_titles().index("Sampling"))
    view = w.current_view()
    assert w.explain_panel.cell.isVisible()  # the window counts it among the tabs that write there
    sent = []
    view.sigCalculation.connect(sent.append)
    w.generation.append()
    assert len(sent) == 1  # one append, one calculation
    assert sent[0].startswith("How the last token was picked") and w.explain_panel.cell.text() == sent[0]
    w.tabs.setCurrentIndex(w.tab_titles().index("Step"))
    with qtbot.assertNotEmitted(view.sigCalculation):  # a tab in the back writes over nobody's text
        w.generation.append()
