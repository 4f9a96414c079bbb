"""Round trips through StepView with a real Session and SessionBridge: the picture for each
kind of step, the selected head's slice, edits, highlights, clicks and the temperature slider."""
import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QApplication

from simulator import ModelConfig, Session, Transformer
from simulator.lessons import LESSON_DIR
from ui.pictures import colormaps
from ui.pictures.cell_text import format_compact, format_value
from ui.pictures.heatmap import TITLE_PT
from ui.pictures.slicing import norm_stats
from ui.views.step_view import StepView

TEXT = "the cat sat on the mat"


@pytest.fixture
def make_view(session_view):
    return lambda config=None, tokens=TEXT: session_view(StepView, config, tokens, (1280, 760))


@pytest.fixture
def setup(make_view):
    return make_view()


def click_cell(heatmap, qtbot, row, col):
    scene = heatmap.image_item.mapToScene(QPointF(col + 0.5, row + 0.5))
    qtbot.mouseClick(heatmap.viewport(), Qt.MouseButton.LeftButton, pos=heatmap.mapFromScene(scene))


# step, picture kind, how the emphasised heatmap slices the step's value for head 1
CASES = [
    ("hook_embed", "embedding", lambda a: a),
    ("hook_pos_embed", "embedding", lambda a: a),
    ("blocks.0.hook_resid_pre", "embedding", lambda a: a),
    ("blocks.0.ln1.hook_normalized", "layernorm", lambda a: a),
    ("blocks.0.attn.hook_q", "qkv", lambda a: a[:, 1, :]),
    ("blocks.0.attn.hook_k", "qkv", lambda a: a[:, 1, :]),
    ("blocks.0.attn.hook_v", "qkv", lambda a: a[:, 1, :]),
    ("blocks.0.attn.hook_scores_raw", "attention", lambda a: a[1]),
    ("blocks.0.attn.hook_scores_scaled", "attention", lambda a: a[1]),
    ("blocks.0.attn.hook_attn_scores", "attention", lambda a: a[1]),
    ("blocks.0.attn.hook_pattern", "attention", lambda a: a[1]),
    ("blocks.0.attn.hook_z", "mix", lambda a: a[:, 1, :]),
    ("blocks.0.attn.hook_concat", "concat", lambda a: a),
    ("blocks.0.hook_attn_out", "projection", lambda a: a),
    ("blocks.0.hook_resid_mid", "residual", lambda a: a),
    ("blocks.0.mlp.hook_pre", "linear", lambda a: a),
    ("blocks.0.mlp.hook_post", "activation", lambda a: a),
    ("logits", "linear", lambda a: a),
    ("probs", "probs", lambda a: a),
]


@pytest.mark.parametrize("name, kind, cut", CASES, ids=[c[0] for c in CASES])
def test_each_step_type_gets_its_picture_with_the_heads_slice(setup, name, kind, cut):
    session, bridge, view = setup
    bridge.set_head(1)
    session.stepper.jump(name)
    assert view.picture_kind == kind
    np.testing.assert_array_equal(view.current_heatmap().values(), cut(session.trace[name]))


def test_attention_steps_show_all_four_stages_with_the_current_one_emphasised(setup):
    session, bridge, view = setup
    names = ["blocks.0.attn.hook_scores_raw", "blocks.0.attn.hook_scores_scaled",
             "blocks.0.attn.hook_attn_scores", "blocks.0.attn.hook_pattern"]
    for name in names:
        session.stepper.jump(name)
        strip = view.picture.rows[0]
        shown = [p.step for p in strip if hasattr(p, "step")]
        assert shown == names
        assert [p.current for p in strip if hasattr(p, "step")] == [n == name for n in names]
    # the softmax step also draws the lines of every head
    assert view.attention_lines().isVisible()
    assert view.attention_lines().line_count() > 0


def test_frames_mark_the_current_step_and_each_heads_block(setup):
    session, bridge, view = setup
    session.stepper.jump("blocks.0.attn.hook_q")  # input x, W_Q (head 0), Q (head 0)
    QApplication.processEvents()
    boxes = {b.panel.title: b for b in view._shown if hasattr(b, "border")}
    current, weights, plain = boxes["Q (head 0)"], boxes["W_Q (head 0)"], boxes["input x"]
    assert current.border() == (6, colormaps.HEAD_COLORS[0])
    assert weights.border() == (2, colormaps.HEAD_COLORS[0])
    assert plain.border()[0] == 1
    for box in (current, weights):
        width, colour = box.border()
        edge = box.grab().toImage().pixelColor(width // 2, box.height() // 2)
        assert edge == colour
        # the heatmap sits inside the border, not under it
        assert box.heatmap.geometry().left() >= width


def test_embedding_residual_and_layernorm_operands(setup):
    session, bridge, view = setup
    session.stepper.jump("blocks.0.hook_resid_mid")
    maps = view.heatmaps()
    np.testing.assert_allclose(maps["stream in"].values() + maps["attention output"].values(),
                               maps["sum"].values())
    session.stepper.jump("hook_embed")
    assert set(view.heatmaps()) == {"token embedding", "position", "x = embed + position"}
    session.stepper.jump("blocks.0.ln2.hook_normalized")
    np.testing.assert_allclose(view.heatmaps()["mean, spread"].values(),
                               norm_stats(session.trace["blocks.0.hook_resid_mid"]))


def test_concat_shows_each_heads_block(setup):
    session, bridge, view = setup
    session.stepper.jump("blocks.0.attn.hook_concat")
    maps = view.heatmaps()
    z = session.trace["blocks.0.attn.hook_z"]
    np.testing.assert_array_equal(maps["z head 0"].values(), z[:, 0, :])
    np.testing.assert_array_equal(maps["z head 1"].values(), z[:, 1, :])
    concat = next(p for p in view.picture.panels() if p.current)
    assert [b[2] for b in concat.col_bands] == [0, 1]


def test_changing_the_head_changes_the_slice(setup):
    session, bridge, view = setup
    session.stepper.jump("blocks.0.attn.hook_pattern")
    hm = view.current_heatmap()
    np.testing.assert_array_equal(hm.values(), session.trace["blocks.0.attn.hook_pattern"][0])
    bridge.set_head(1)
    np.testing.assert_array_equal(view.current_heatmap().values(),
                                  session.trace["blocks.0.attn.hook_pattern"][1])
    assert view.current_heatmap() is hm  # same picture type: the widget is reused


def test_an_edit_updates_the_pattern_and_outlines_the_changed_cells(setup):
    session, bridge, view = setup
    session.stepper.jump("blocks.0.attn.hook_pattern")
    hm = view.current_heatmap()
    before = hm.values()
    assert hm.changed_cells() == []
    session.set_param("blocks.0.attn.W_Q", 3.0, (0, 2, 5))
    after = session.trace["blocks.0.attn.hook_pattern"][0]
    assert view.current_heatmap() is hm
    np.testing.assert_array_equal(hm.values(), after)
    assert not np.array_equal(before, after)
    changed = session.changes["blocks.0.attn.hook_pattern"][0] > 0
    assert sorted(hm.changed_cells()) == [tuple(map(int, rc)) for rc in np.argwhere(changed)]
    bridge.set_highlight(False)
    assert hm.changed_cells() == []
    # head 1 did not move: nothing to outline there
    bridge.set_highlight(True)
    bridge.set_head(1)
    assert view.current_heatmap().changed_cells() == []


def test_clicking_a_cell_selects_its_full_index(setup, qtbot):
    session, bridge, view = setup
    bridge.set_head(1)
    session.stepper.jump("blocks.0.attn.hook_q")
    QApplication.processEvents()
    click_cell(view.current_heatmap(), qtbot, 2, 3)
    assert bridge.cell == ("blocks.0.attn.hook_q", (2, 1, 3))
    session.stepper.jump("blocks.0.attn.hook_scores_raw")
    QApplication.processEvents()
    click_cell(view.heatmaps()["Kᵀ (head 1)"], qtbot, 4, 1)  # Kᵀ row = d_head, column = position
    assert bridge.cell == ("blocks.0.attn.hook_k", (1, 1, 4))
    click_cell(view.current_heatmap(), qtbot, 3, 2)
    assert bridge.cell == ("blocks.0.attn.hook_scores_raw", (1, 3, 2))
    assert view.current_heatmap()._selected == (3, 2)


def test_temperature_slider_sets_the_session_temperature(setup):
    session, bridge, view = setup
    session.stepper.jump("probs")
    before = view.current_heatmap().values()
    view.next_token().slider.setValue(25)  # 2.5
    assert session.temperature == pytest.approx(2.5)
    np.testing.assert_array_equal(view.current_heatmap().values(), session.trace["probs"])
    assert not np.allclose(before, session.trace["probs"])
    shown = dict(view.next_token().bars.shown())
    last = session.trace["probs"][-1]
    assert max(shown.values()) == pytest.approx(last.max())


def test_choosing_a_position_moves_the_bars(setup, qtbot):
    session, bridge, view = setup
    session.stepper.jump("probs")
    view.next_token().position.setCurrentIndex(1)
    shown = view.next_token().bars.shown()
    assert shown[0][1] == pytest.approx(session.trace["probs"][1].max())


CONFIGS = {
    "default": ModelConfig(),
    "encoder-decoder": ModelConfig(arch="encoder-decoder"),
    "attnres": ModelConfig(residual="attnres"),
    "denseformer": ModelConfig(residual="denseformer"),
    "rope": ModelConfig(positional="rope"),
    "post-norm": ModelConfig(norm="post"),
}


@pytest.mark.parametrize("key", list(CONFIGS))
def test_every_step_is_drawn(make_view, qtbot, key):
    config = CONFIGS[key]
    tokens = ("the cat sat", "a dog ran") if config.arch == "encoder-decoder" else TEXT
    session, bridge, view = make_view(config, tokens)
    bridge.set_head(1)
    stepper = session.stepper
    for i in range(len(stepper)):
        stepper.go(i)
        assert view.picture_kind
        current = next(p for p in reversed(view.picture.panels()) if p.current)
        value = session.trace[stepper.name]
        np.testing.assert_array_equal(view.current_heatmap().values(), current.slicer.take(value))


def test_depth_and_cross_attention_axes_are_labelled(make_view, qtbot):
    session, bridge, view = make_view(ModelConfig(residual="attnres"))
    session.stepper.jump("blocks.1.depth_attn.hook_weights")
    assert view.picture_kind == "depth"
    weights = next(p for p in view.picture.panels() if p.current)
    assert weights.rows == ["embed", "attn 0", "mlp 0"]
    assert weights.kind == "prob"
    session, bridge, view = make_view(ModelConfig(arch="encoder-decoder"), ("the cat sat", "a dog"))
    session.stepper.jump("decoder.blocks.0.cross_attn.hook_pattern")
    pattern = view.picture.rows[1][-2]  # the large pattern, before the lines
    assert (pattern.rows, pattern.cols) == (["a", "dog"], ["the", "cat", "sat"])
    lines = view.picture.rows[1][-1]
    assert (lines.q_labels, lines.k_labels) == (["a", "dog"], ["the", "cat", "sat"])


def test_a_new_session_redraws_from_the_new_model(setup):
    session, bridge, view = setup
    session.stepper.jump("blocks.0.attn.hook_q")
    new = Session(Transformer(ModelConfig(arch="encoder-decoder")), ("the cat", "a dog ran"))
    bridge.set_session(new)
    new.stepper.jump("decoder.blocks.0.cross_attn.hook_k")
    assert view.picture_kind == "qkv"
    # the keys come from the encoder: two source tokens
    np.testing.assert_array_equal(view.current_heatmap().values(),
                                  new.trace["decoder.blocks.0.cross_attn.hook_k"][:, 0, :])
    assert view.picture.panels()[-1].rows == ["the", "cat"]


def test_long_inputs_stay_legible(make_view, qtbot):
    config = ModelConfig(d_model=64, n_ctx=64, d_mlp=64)
    words = ("the cat sat on the mat and the dog ran . " * 6).split()[:64]
    session, bridge, view = make_view(config, words)
    session.stepper.jump("blocks.1.hook_resid_mid")
    session.set_param("blocks.0.attn.W_Q", 2.0, (0, 0, 0))
    # 64 x 64 changed cells: flagged in the title instead of thousands of outlines
    maps = view.heatmaps()
    assert "sum (changed)" in maps and maps["sum (changed)"].changed_cells() == []
    session.stepper.jump("blocks.0.attn.hook_pattern")
    lines = view.attention_lines()
    assert 0 < lines.line_count() <= config.n_heads * 64  # one query's lines, not 64 x 64 per head


def test_the_attention_strip_stays_one_row_above_the_large_picture(make_view, qtbot):
    config = ModelConfig(d_model=64, n_ctx=128, d_mlp=64, n_heads=4)
    words = ("the cat sat on the mat and the dog ran . " * 12).split()[:128]
    session, bridge, view = make_view(config, words)
    view.resize(1600, 900)
    session.stepper.jump("blocks.0.attn.hook_pattern")
    QApplication.processEvents()
    boxes = {hm: hm.parentWidget() for hm in view.heatmaps().values()}
    thumbs = [boxes[view.heatmaps()[t]] for t in ("Q·Kᵀ", "÷ √d_head", "masked", "pattern")]
    assert len({b.y() for b in thumbs}) == 1  # one row, not wrapped into lines that push the rest down
    large = boxes[view.current_heatmap()]
    assert large.y() >= max(b.geometry().bottom() for b in thumbs)
    assert large.y() < view.height() / 2  # the large picture starts in view


def test_pointing_at_a_cell_shows_its_value_and_font_scale_keeps_the_picture(setup):
    session, bridge, view = setup
    session.stepper.jump("blocks.0.attn.hook_pattern")
    hm = view.current_heatmap()
    hm.sigCellHovered.emit((2, 1))
    value = session.trace["blocks.0.attn.hook_pattern"][0, 2, 1]
    assert f"[sat, cat]  =  {value:.2f}" in view._hover.text()
    view.set_font_scale(1.5)
    assert view.picture_kind == "attention"
    np.testing.assert_array_equal(view.current_heatmap().values(), session.trace["blocks.0.attn.hook_pattern"][0])


def settle_layout():
    for _ in range(3):  # pyqtgraph lays out over a few event loop passes
        QApplication.processEvents()


def token_axes(panel) -> list[list[str]]:
    """The axes of a panel that name tokens (not 0, 1, 2, … indices)."""
    return [axis for axis in (panel.rows, panel.cols) if not all(s.isdigit() for s in axis)]


def test_on_a_1280x800_projector_every_token_label_of_every_step_is_shown(make_view, qtbot):
    session, bridge, view = make_view()
    view.resize(990, 470)  # the step view's share of a 1280x800 window
    stepper = session.stepper
    for i in range(len(stepper)):
        stepper.go(i)
        for box in (w for w in view._shown if hasattr(w, "heatmap") and not w.panel.thumb):
            rows, cols = box.heatmap.labels()
            for axis, shown in zip((box.panel.rows, box.panel.cols), (rows, cols)):
                if axis in token_axes(box.panel) and len(axis) <= 12:
                    assert shown == axis, (stepper.name, box.panel.title)


def test_on_a_1280x800_projector_the_attention_pattern_prints_its_numbers(make_view, qtbot):
    session, bridge, view = make_view(tokens="the cat sat on the big mat")
    view.resize(990, 470)
    session.stepper.jump("blocks.0.attn.hook_pattern")
    settle_layout()
    hm = view.current_heatmap()
    pattern = session.trace["blocks.0.attn.hook_pattern"][0]
    texts = [[hm.cell_text(r, c) for c in range(7)] for r in range(7)]
    assert all(t for row in texts for t in row)
    assert texts[3][1] in (format_value(pattern[3, 1]), format_compact(pattern[3, 1]))
    assert texts[0][6] in ("0", "0.00")  # a masked-out weight is exactly zero


def test_attention_thumbnails_have_no_colour_bar_or_axes_and_whole_titles(setup):
    session, bridge, view = setup
    view.resize(990, 470)
    session.stepper.jump("blocks.0.attn.hook_scores_scaled")
    settle_layout()
    maps = view.heatmaps()
    for title in ("Q·Kᵀ", "÷ √d_head", "masked", "pattern"):
        hm = maps[title]
        assert hm.title() == title and not hm.colorbar_visible()
        assert not hm.getItem(1, 0).getAxis("left").isVisible()
        font = QFont()
        font.setPointSizeF(TITLE_PT)
        font.setBold(True)
        assert QFontMetricsF(font).horizontalAdvance(title) < hm.width()  # not cut to "Q·Kᵀ (he"
    large = view.current_heatmap()
    assert large.colorbar_visible() and large.getItem(1, 0).getAxis("left").isVisible()


def test_the_title_and_formula_stay_on_one_line_at_1280x800(setup):
    session, bridge, view = setup
    view.resize(990, 470)
    session.stepper.jump("blocks.0.attn.hook_pattern")  # a long title and formula
    QApplication.processEvents()
    title = view._title
    one_line = QFontMetricsF(title.font()).height() * 19 / 15 * 1.6  # the 19 pt heading's line, with leading
    assert title.heightForWidth(title.width()) < one_line
    assert "pattern = softmax(masked) along each row" in title.text()


def test_a_space_token_is_labelled_visibly(make_view, qtbot):
    config = ModelConfig(vocab=("<unk>", " ", "a", "b", "c"), tokenization="char")
    session, bridge, view = make_view(config, "ab c")
    session.stepper.jump("blocks.0.attn.hook_pattern")
    pattern = view.picture.rows[1][-2]
    assert pattern.rows == ["a", "b", "␣", "c"] == view.attention_lines()._q_labels
    session.stepper.jump("probs")
    assert "␣" in view.current_heatmap().labels()[1]
    assert view.next_token().position.itemText(2) == "2: ␣"


@pytest.mark.parametrize("words", [False, True], ids=["classroom", "text-words"])
@pytest.mark.parametrize("presenting", [False, True], ids=["window", "presenting"])
@pytest.mark.parametrize("size", [(1024, 768), (1280, 800)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_next_token_buttons_keep_room_for_their_words(make_window, at_size, qtbot, size, presenting, words):
    """The bars' column gives way to the heatmaps only down to what its buttons need: at 1024x768
    "most likely" and "Generate" were squeezed to a third of their text. The first model a class
    sees (text-words, 155 tokens) has probabilities too wide to fit at all: the heatmaps shrink then,
    below a pixel a cell if they must (lesson 11's first stop, presenting at 1024x768). In the type
    the app uses (create_app), which is larger than a bare QApplication's."""
    from ui.app import create_app, start_session

    create_app()
    w = make_window(start_session() if words else None, size=None)
    if words and presenting:  # (in a window at 1024x768 the lesson dock beside the architecture leaves too little)
        assert w.lesson_player.open_file(LESSON_DIR / "11_heads_in_a_sentence.json")
    at_size(w, size, presenting)
    w.session_bridge.session.stepper.jump("probs")
    panel = w.step_view.next_token()
    buttons = (panel.append_buttons.greedy_button, panel.append_buttons.sample_button,
               panel.append_buttons.generate_button)

    def room() -> bool:
        return (all(b.isVisible() and b.width() >= b.minimumSizeHint().width() for b in buttons)
                and panel.geometry().right() <= panel.parentWidget().width())
    # the view lays itself out once the window has settled (later on a busy machine): wait for it
    qtbot.waitUntil(room, timeout=5000)
