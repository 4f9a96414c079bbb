"""A checkpoint's long axes in the step view: a 2,000-token vocabulary of subword strings is
drawn as its top tokens with a token search, a d_model of 384 as a window of columns; a
classroom model keeps its whole axes."""
import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication

from simulator import ModelConfig, Session, Transformer
from ui.bridge import SessionBridge
from ui.pictures.next_token import NextTokenPanel, describe_token, find_token
from ui.pictures.slicing import MAX_AXIS, TOP_TOKENS, WINDOW, shown, window
from ui.pictures.step_pictures import build_picture
from ui.views.step_view import StepView

TOKENS = ["Ġthe", "Ġcat", "Ġsat", "##ing", "Ġon", "<img>", "."]


def subword_vocab(n: int) -> tuple[str, ...]:
    """Made-up subword strings in both conventions (GPT-2's Ġ, BERT's ##) and some markup."""
    rng = np.random.default_rng(0)
    out = dict.fromkeys(["<unk>", *TOKENS, "&amp;", "Ġ"])
    while len(out) < n:
        out.setdefault(str(rng.choice(["", "Ġ", "##"])) + "".join(rng.choice(list("abcdefghij"), 4)))
    return tuple(out)


@pytest.fixture(scope="module")
def wide_model():
    cfg = ModelConfig(vocab=subword_vocab(2000), d_model=384, n_heads=12, d_mlp=1536, n_layers=1, n_ctx=12)
    return Transformer(cfg, seed=1)


def make_view(qtbot, model, size=(1280, 760)):
    session = Session(model, TOKENS)
    bridge = SessionBridge(session)
    view = StepView(bridge)
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    return session, bridge, view


def click_cell(heatmap, qtbot, row, col):
    scene = heatmap.image_item.mapToScene(QPointF(col + 0.5, row + 0.5))
    qtbot.mouseClick(heatmap.viewport(), Qt.MouseButton.LeftButton, pos=heatmap.mapFromScene(scene))


def test_subword_tokens_print_as_plain_readable_text():
    assert shown("Ġthe") == "␣the"
    assert shown("ĠĠ") == "␣␣"
    assert shown("Ċ") == "↵"
    assert shown("##ing") == "##ing"  # BERT's continuation mark is itself readable
    assert shown("<img>") == "<img>"
    assert shown(" ") == "␣"


def test_the_probabilities_show_the_top_tokens_of_the_chosen_position(wide_model):
    trace = wide_model.run(TOKENS)
    vocab = [shown(t) for t in wide_model.config.vocab]
    for position in (None, 2):
        pic = build_picture(trace, wide_model, {}, "probs", position=position)
        row = len(TOKENS) - 1 if position is None else position
        expected = list(np.argsort(-trace["probs"][row], kind="stable")[:TOP_TOKENS])
        for panel in pic.panels():
            assert panel.values.shape == (len(TOKENS), TOP_TOKENS)
            assert panel.cols == [vocab[i] for i in expected]
            assert panel.window == ("top 20 of 2,000 tokens",)
            step = "logits" if panel.title == "logits" else "probs"
            np.testing.assert_array_equal(panel.values, trace[step][:, expected])


def test_a_classroom_vocabulary_keeps_every_column():
    model = Transformer(ModelConfig(), seed=0)
    pic = build_picture(model.run("the cat sat"), model, {}, "probs")
    for panel in pic.panels():
        assert panel.values.shape[1] == model.config.d_vocab and panel.window == ()
    assert window("d_model", MAX_AXIS) is None and window("vocab", 256, top=(1, 2)) is None


def test_the_unembedding_shows_a_window_of_d_model_and_the_top_tokens(wide_model):
    trace = wide_model.run(TOKENS)
    pic = build_picture(trace, wide_model, {}, "logits", start=100)
    x, w_u, logits = pic.panels()
    end = 100 + WINDOW  # the window: columns 100 … end − 1
    assert x.values.shape == (len(TOKENS), WINDOW) and x.cols[0] == "100" and x.cols[-1] == str(end - 1)
    assert x.window == (f"columns 100–{end - 1} of 384 (d_model)",)
    np.testing.assert_array_equal(x.values, trace[x.step][:, 100:end])
    top = list(np.argsort(-trace["probs"][-1], kind="stable")[:TOP_TOKENS])
    np.testing.assert_array_equal(w_u.values, wide_model.params["unembed.W_U"][100:end][:, top])
    assert w_u.window == (f"columns 100–{end - 1} of 384 (d_model)", "top 20 of 2,000 tokens")
    assert logits.cols == w_u.cols == [shown(wide_model.config.vocab[i]) for i in top]


def test_clicking_a_top_token_cell_selects_that_token_in_the_whole_vocabulary(wide_model, qtbot):
    session, bridge, view = make_view(qtbot, wide_model)
    session.stepper.jump("probs")
    QApplication.processEvents()
    trace = bridge.trace
    heatmap = view.heatmaps()["probabilities"]
    click_cell(heatmap, qtbot, 1, 3)
    top_last = np.argsort(-trace["probs"][-1], kind="stable")[:TOP_TOKENS]
    assert bridge.cell == ("probs", (1, int(top_last[3])))  # the token of the column clicked
    # the click chose position 1: the columns are now its top tokens
    top_1 = np.argsort(-trace["probs"][1], kind="stable")[:TOP_TOKENS]
    vocab = wide_model.config.vocab
    assert view.heatmaps()["probabilities"].labels()[1] == [shown(vocab[i]) for i in top_1]


def test_the_next_token_bars_and_the_search_report_any_token(wide_model, qtbot):
    session, bridge, view = make_view(qtbot, wide_model)
    session.stepper.jump("probs")
    QApplication.processEvents()
    panel = view.next_token()
    assert panel.search.isVisible()
    probs, logits = bridge.trace["probs"][-1], bridge.trace["logits"][-1]
    vocab = list(wide_model.config.vocab)
    best = int(np.argmax(probs))
    assert panel.bars.shown()[0][0] == shown(vocab[best])
    cat = vocab.index("Ġcat")
    rank = int((probs > probs[cat]).sum()) + 1
    for typed in ("␣cat", "Ġcat", " cat"):
        panel.search.setText(typed)
        text = panel.found.text()
        assert text.startswith("“␣cat”") and f"rank {rank:,} of 2,000" in text
        assert f"logit {logits[cat]:.3g}" in text and f"probability {probs[cat]:.3g}" in text
    panel.search.setText("<img>")
    assert panel.found.text().startswith("“<img>”") and panel.found.textFormat() == Qt.TextFormat.PlainText
    panel.search.setText("no such token")
    assert panel.found.text() == "No token “no such token” in the vocabulary."
    panel.position.setCurrentIndex(0)  # another position: the report follows it
    panel.search.setText("Ġcat")
    assert f"probability {bridge.trace['probs'][0, cat]:.3g}" in panel.found.text()


def test_a_classroom_vocabulary_has_no_search_box(qtbot):
    panel = NextTokenPanel()
    qtbot.addWidget(panel)
    panel.show()
    probs = np.full((2, 5), 0.2)
    panel.set_data(probs, list("abcde"), ["x", "y"], 1, 1.0)
    assert not panel.search.isVisible()
    assert len(panel.bars.shown()) == 5


def test_find_token_prefers_an_exact_match_and_refuses_an_ambiguous_one():
    vocab = ["␣The", "␣the", "cat", "Cat", "dog"]
    assert find_token("␣the", vocab) == 1 and find_token(" The", vocab) == 0
    assert find_token("DOG", vocab) == 4
    assert find_token("CAT", vocab) is None  # two tokens differ only in case
    assert find_token("", vocab) is None
    probs = np.array([0.1, 0.4, 0.2, 0.2, 0.1])
    assert describe_token(2, vocab, None, probs) == "“cat”: probability 0.2, rank 2 of 5"


@pytest.fixture(scope="module")
def d768():
    cfg = ModelConfig(vocab=subword_vocab(300), d_model=768, n_heads=12, d_mlp=3072, n_layers=1, n_ctx=12)
    return Transformer(cfg, seed=2)


STEPS_768 = ["blocks.0.hook_resid_pre", "blocks.0.ln1.hook_normalized", "blocks.0.attn.hook_q",
             "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_concat", "blocks.0.hook_attn_out",
             "blocks.0.hook_resid_mid", "blocks.0.mlp.hook_pre", "blocks.0.mlp.hook_post", "logits", "probs"]


@pytest.mark.parametrize("size", [(1280, 760), (1024, 640)])
def test_d_model_768_pictures_fit_their_view_and_say_which_columns_they_show(d768, qtbot, size):
    session, bridge, view = make_view(qtbot, d768, size)
    for name in STEPS_768:
        session.stepper.jump(name)
        QApplication.processEvents()
        pic = view.picture
        assert view.layout_fits(), name
        for panel in pic.panels():
            # a head's d_head of 64 is short enough to draw whole
            assert max(panel.values.shape) <= max(WINDOW, TOP_TOKENS, d768.config.d_head), (name, panel.title)
        bar = view.slice_bar()
        if name == "blocks.0.attn.hook_pattern":  # [query, key] of one head: nothing is cut
            assert not bar.isVisible()
            continue
        assert bar.isVisible(), name
        if name == "probs":  # only the vocabulary is cut: there is no window to move
            assert bar.text.text() == "Showing top 20 of 300 tokens" and not bar.forward.isVisible()
            continue
        first = f"columns 0–{WINDOW - 1} of"
        assert any(note.startswith(first) for note in pic.window), name
        assert bar.text.text().startswith("Showing " + first) and bar.forward.isVisible(), name


def test_moving_the_window_shows_later_columns_and_a_click_explains_the_true_cell(d768, qtbot):
    session, bridge, view = make_view(qtbot, d768)
    session.stepper.jump("blocks.0.hook_resid_mid")
    QApplication.processEvents()
    bar = view.slice_bar()
    assert not bar.back.isEnabled()
    bar.forward.click()
    bar.forward.click()
    a, b = 2 * WINDOW, 3 * WINDOW  # two pages on
    assert bar.text.text() == f"Showing columns {a}–{b - 1} of 768 (d_model)"
    heatmap = view.current_heatmap()
    assert heatmap.labels()[1][0] == str(a)  # the axis counts the true columns (every k-th printed)
    assert view.picture.panels()[-1].cols == [str(j) for j in range(a, b)]
    np.testing.assert_array_equal(heatmap.values(), bridge.trace["blocks.0.hook_resid_mid"][:, a:b])
    click_cell(heatmap, qtbot, 2, 5)
    assert bridge.cell == ("blocks.0.hook_resid_mid", (2, a + 5))
    explained = bridge.trace.explain("blocks.0.hook_resid_mid", (2, a + 5))
    assert f"{bridge.trace['blocks.0.hook_resid_mid'][2, a + 5]:.3f}"[:5] in explained
    bar.start.setValue(10_000)  # past the end: the window stops at the last WINDOW columns
    assert view.picture.panels()[-1].cols[-1] == "767"
    session.stepper.jump("blocks.0.mlp.hook_post")  # a longer axis (d_mlp 3,072) keeps the same start
    QApplication.processEvents()
    assert f"columns {768 - WINDOW}–767 of 3,072 (d_mlp)" in view.picture.window


def test_the_heads_bands_of_concat_follow_the_window(d768):
    trace = d768.run(TOKENS)
    start = 64 - WINDOW // 2  # d_head 64: the window straddles heads 0 and 1
    pic = build_picture(trace, d768, {}, "blocks.0.attn.hook_concat", start=start)
    concat = pic.panels()[-1]
    assert concat.cols[0] == str(start)
    assert concat.col_bands == ((0, WINDOW // 2, 0), (WINDOW // 2, WINDOW, 1))  # head 1 starts at column 64


def test_a_long_vocabulary_is_found_by_typing_not_drawn_as_chips(wide_model, qtbot):
    from ui.views.token_strip import TokenStrip

    session = Session(wide_model, TOKENS)
    strip = TokenStrip(SessionBridge(session))
    qtbot.addWidget(strip)
    strip.show()
    assert strip.vocab.count() == 0 and not strip.vocab.isVisible() and strip.find.isVisible()
    with qtbot.waitSignal(strip.sigTokensRequested) as sent:
        assert strip.add_found("␣sat")
    assert sent.args[0] == TOKENS + ["Ġsat"]
    assert not strip.add_found("zzzz-none")
    assert strip.error_text() == "No token “zzzz-none” in the vocabulary, so nothing changed."


def test_the_parameter_editor_draws_a_window_of_a_long_matrix_and_edits_the_true_cell(wide_model, qtbot):
    from ui.views.param_editor import ParamEditor

    session = Session(wide_model, TOKENS)
    editor = ParamEditor(SessionBridge(session))
    qtbot.addWidget(editor)
    editor.resize(1100, 700)
    editor.show()
    qtbot.waitExposed(editor)
    editor.select_param("embed.W_E")  # [2,000 tokens, 384]: the input's tokens, WINDOW columns at a time
    vocab = wide_model.config.vocab
    ids = [vocab.index(t) for t in dict.fromkeys(TOKENS)]
    w_e = wide_model.params["embed.W_E"]
    np.testing.assert_array_equal(editor.heatmap.values(), w_e[ids][:, :WINDOW])
    assert editor.slice.text.text() == (f"Showing the input's 7 of 2,000 tokens · columns 0–{WINDOW - 1} of 384 "
                                        "(d_model)")
    editor.slice.forward.click()
    np.testing.assert_array_equal(editor.heatmap.values(), w_e[ids][:, WINDOW:2 * WINDOW])
    editor.start_edit((1, 2))
    editor.edit_line().setText("0.5")
    with qtbot.waitSignal(editor.sigEditRequested) as sig:
        editor.edit_line().returnPressed.emit()
    assert sig.args == ["embed.W_E", 0.5, (ids[1], WINDOW + 2)]


def test_the_residual_stream_of_d_model_768_is_drawn_a_window_of_rows_at_a_time(d768, qtbot):
    from ui.views.residual_view import ResidualStreamView

    view = ResidualStreamView(SessionBridge(Session(d768, TOKENS)))
    qtbot.addWidget(view)
    view.resize(1280, 700)
    view.show()
    qtbot.waitExposed(view)
    whole = np.stack([v for _, _, v in view.points()], axis=1)  # [d_model, point]
    np.testing.assert_array_equal(view.heatmap.values(), whole[:WINDOW])
    assert view.slice.text.text() == f"Showing rows 0–{WINDOW - 1} of 768 (d_model)"
    view.slice.forward.click()
    np.testing.assert_array_equal(view.heatmap.values(), whole[WINDOW:2 * WINDOW])
    rows = [r for r in view.heatmap.labels()[0] if r]
    assert rows[0] == str(WINDOW)  # the true row numbers


def test_twelve_heads_draw_the_selected_heads_attention_lines(d768):
    trace = d768.run(TOKENS)
    lines = [it for row in build_picture(trace, d768, {}, "blocks.0.attn.hook_pattern", head=5).rows
             for it in row if type(it).__name__ == "Lines"]
    assert lines[0].heads == [5]
    small = Transformer(ModelConfig(), seed=0)
    lines = [it for row in build_picture(small.run("the cat"), small, {}, "blocks.0.attn.hook_pattern").rows
             for it in row if type(it).__name__ == "Lines"]
    assert lines[0].heads is None  # a classroom model's two heads: both, each in its colour


def test_comparing_residual_modes_names_the_top_tokens_of_a_long_vocabulary(wide_model, qtbot):
    from ui.views.compare_view import CompareView

    view = CompareView(SessionBridge(Session(wide_model, TOKENS)))
    qtbot.addWidget(view)
    view.resize(1280, 700)
    view.show()
    qtbot.waitExposed(view)
    shown_a = view.probs_a.values()  # [token, pos]
    assert shown_a.shape == (TOP_TOKENS, len(TOKENS))
    assert "top 20 of 2,000 tokens" in view.probs_a.title()
    labels = view.probs_a.labels()[0]
    vocab = [shown(t) for t in wide_model.config.vocab]
    probs = view.bridge.trace["probs"]
    for row, label in zip(shown_a, labels):
        np.testing.assert_array_equal(row, probs[:, vocab.index(label)])


def test_the_look_inside_views_take_a_typed_token_and_label_a_few_of_2000_dots(wide_model, qtbot):
    from ui.views.embedding_view import MAX_LABELS
    from ui.views.interp_tabs import InterpTabs

    bridge = SessionBridge(Session(wide_model, TOKENS))
    tabs = InterpTabs(bridge)
    qtbot.addWidget(tabs)
    tabs.resize(1280, 700)
    tabs.show()
    qtbot.waitExposed(tabs)
    vocab = [shown(t) for t in wide_model.config.vocab]
    lens = tabs.show_view("Logit lens")
    assert lens.follow.isEditable() and lens.follow.count() == 2000
    assert lens.follow.currentText() == vocab[int(bridge.trace["probs"][-1].argmax())]
    lens.follow.setCurrentIndex(vocab.index("<img>"))
    title = lens.plot.getPlotItem().titleLabel.text
    assert "&lt;img&gt;" in title and "<img>" not in title  # the token as text, not markup
    attribution = tabs.show_view("Attribution")
    assert attribution.token.isEditable() and attribution.other.count() == 2001
    emb = tabs.show_view("Embeddings")
    assert len(emb.coords) == 2000
    drawn = [t.textItem.toPlainText() for t in emb._texts if t.isVisible()]
    assert len(drawn) == MAX_LABELS and "␣cat" in drawn  # the input's tokens first, as they print
