"""The KV cache view: K and V grow by one row per appended token, the new row is lit, the earlier rows are
the cache's very memory (not recomputed), and the counts of what an append saves are right."""
import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from simulator import Session
from simulator.presets import load_preset
from ui.main_window import MainWindow
from ui.views.kv_cache_view import NEW_ROW, cache_state, kv_layers


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)

    def make(name, text):
        model, _, _ = load_preset(name)
        w = MainWindow(Session(model, model.tokens(text)), QSettings(str(tmp_path / "s.ini"),
                                                                     QSettings.Format.IniFormat))
        qtbot.addWidget(w)
        w.resize(1280, 800)
        w.show()
        return w
    return make


def _view(w):
    w.tabs.setCurrentIndex(w.tab_titles().index("KV cache"))
    return w.current_view()


def test_each_append_adds_one_lit_row_and_reuses_the_rest(window):
    w = window("text-words", "mary gave the book to john . john")
    view = _view(w)
    assert view.state.n == 8 and not view.state.appended and not any(view.state.reused)
    assert "No token was appended" in view.savings.text()
    for n in (9, 10):
        assert w.generation.append(greedy=True) is None
        s = view.state
        assert s.n == n and s.appended and s.reused == (True,) * (n - 1) + (False,)
        assert view.tables.k.shape == (n, 16) and view.tables.appended
        assert np.array_equal(view.tables.k, w.session_bridge.trace["blocks.0.attn.hook_k"][:, 0])
    heads = 2 * 4  # 2 layers × 4 heads
    assert (s.kv_rows_new, s.kv_rows_full) == (2 * heads, 2 * heads * 10)
    text = view.savings.text()
    assert f"computed {2 * heads} rows of K and V" in text and f"reused {2 * heads * 9} from the cache" in text
    assert f"all {2 * heads * 10}" in text
    assert 0 < s.numbers_new < s.numbers_full / 4


def test_the_counts_match_the_trace_before_and_after(window):
    w = window("text-words", "the cat sat on the")
    w.generation.append(greedy=True)  # the first append copies the rows into a buffer with room to grow
    before = w.session_bridge.trace
    w.generation.append(greedy=True)
    after = w.session_bridge.trace
    s = cache_state(w.session_bridge.model, before, after)
    grown = sum(after[n].size - before[n].size for n in after.names)
    assert s.numbers_new == grown and s.numbers_full == sum(after[n].size for n in after.names)
    # the earlier rows of K are the very memory the trace before held: reused, not recomputed
    k = "blocks.1.attn.hook_k"
    assert np.shares_memory(before[k], after[k]) and np.array_equal(after[k][:6], before[k])


def test_a_new_row_is_not_claimed_after_undo_or_a_weight_edit(window):
    w = window("text-words", "the cat sat on the")
    view = _view(w)
    w.generation.append(greedy=True)
    assert view.state.appended
    w.undo_stack.undo()
    assert view.state.n == 5 and not view.state.appended and not any(view.state.reused)
    w.generation.append(greedy=True)
    assert view.state.appended
    params = dict(w.session_bridge.model.params)
    params["blocks.0.attn.W_K"] = params["blocks.0.attn.W_K"] + 0.5
    assert w.edits.set_params(params, "Edit W_K") is None
    assert view.state.n == 6 and not view.state.appended and "No token was appended" in view.savings.text()


def test_a_decoder_that_sees_the_future_has_no_cache(window):
    w = window("text-words-cheat", "the cat sat on the")
    view = _view(w)
    w.generation.append(greedy=True)
    assert view.state.n == 6 and not view.state.appended and not any(view.state.reused)
    assert "No KV cache for this model" in view.savings.text() and "see the future" in view.savings.text()


def test_the_encoder_decoder_caches_its_target_side(window):
    w = window("translate", ("7 1 3", "<bos>"))
    view = _view(w)
    assert [k for _label, k, _v in kv_layers(w.session_bridge.model.graph)] == [
        "decoder.blocks.0.attn.hook_k", "decoder.blocks.1.attn.hook_k"]
    w.generation.append(greedy=True)
    assert view.state.appended and view.state.tokens == ("<bos>", "seven")


def test_the_sampling_view_opens_the_kv_cache_view(window, qtbot):
    w = window("text-words", "the cat sat on the")
    w.tabs.setCurrentIndex(w.tab_titles().index("Sampling"))
    sampling = w.current_view()
    sampling.cache_button.click()
    assert w.tabs.tabText(w.tabs.currentIndex()) == "KV cache"
    tables = w.current_view().tables

    def lit_pixels() -> int:  # pixels of the new row's orange frame and tag
        image = tables.grab().toImage()
        return sum(image.pixelColor(x, y) == NEW_ROW for x in range(0, image.width(), 2)
                   for y in range(0, image.height(), 2))
    assert lit_pixels() == 0
    w.generation.append(greedy=True)
    assert lit_pixels() > 50


def test_a_tab_in_the_back_draws_nothing_and_catches_up_with_the_right_new_row(window):
    w = window("text-words", "the cat sat on the")
    view = _view(w)
    w.tabs.setCurrentIndex(w.tab_titles().index("Sampling"))
    w.generation.append(greedy=True)
    w.generation.append(greedy=True)
    assert view.state.n == 5  # not redrawn while hidden
    w.tabs.setCurrentIndex(w.tab_titles().index("KV cache"))
    assert view.state.n == 7 and view.state.appended and view.state.reused == (True,) * 6 + (False,)


def test_the_view_appends_with_its_own_buttons_and_says_when_it_cannot(window):
    w = window("text-words", "the cat sat on the")
    view = _view(w)
    buttons = view.append_buttons
    buttons.greedy_button.click()
    assert view.state.n == 6 and view.state.appended and w.undo_stack.count() == 1
    assert w.session_bridge.session.tokens[-1] == view.state.tokens[-1]
    buttons.sample_button.click()
    assert view.state.n == 7 and not buttons.message.isVisibleTo(view)
    n_ctx = w.session_bridge.model.config.n_ctx
    for _ in range(n_ctx - 7):
        buttons.greedy_button.click()
    assert view.state.n == n_ctx
    buttons.greedy_button.click()  # full: nothing is appended, and the view says why
    assert view.state.n == n_ctx and buttons.message.isVisibleTo(view) and f"n_ctx = {n_ctx}" in buttons.message.text()
