"""The image model in the window: drawing feeds the model (one undoable edit per stroke), the class bars
and changed cells follow, and the Image view's pictures match the trace."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from simulator import Session
from simulator.presets import load_preset
from simulator.vision import PIXEL_MAX, attention_on_image, position_similarity, rollout_on_image
from ui.views.draw_view import DrawView, nudged, painted
from ui.views.image_view import ImageView


@pytest.fixture
def vit_window(make_window):
    model, image, _ = load_preset("digits")
    return make_window(Session(model, image))


def open_tab(window, title):
    index = next(i for i in range(window.tabs.count()) if window.tabs.tabText(i) == title)
    window.tabs.setCurrentIndex(index)
    return window.current_view()


def test_painted_and_nudged_stay_within_the_pixel_range():
    image = np.full((8, 8), 12.0)
    assert painted(image, 2, 3, erase=False)[2, 3] == PIXEL_MAX and painted(image, 2, 3, erase=True)[2, 3] == 0
    assert nudged(image, 2.0).max() == PIXEL_MAX and nudged(image, 0.5)[0, 0] == 6.0


def test_a_stroke_on_the_canvas_feeds_the_model_and_can_be_undone(vit_window, qtbot):
    view = open_tab(vit_window, "Draw")
    assert isinstance(view, DrawView)
    session = vit_window.session_bridge.session
    before = session.input.copy()
    view._send(np.zeros((8, 8)))  # Clear
    assert not session.input.any()
    canvas = view.canvas
    cell = canvas.cell_center(2, 5).toPoint()
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(cell))
    assert session.input[2, 5] > 0 and session.input.sum() == session.input[2, 5]
    # the model ran on the drawing: the bars show the trace's probabilities, the stroke's cell is lit
    assert np.array_equal(view.bars.probs, session.trace["probs"][0])
    assert canvas.changed[2, 5] and canvas.changed.sum() == 1
    assert "hook_patches" in session.changes and "probs" in session.changes
    vit_window.undo_stack.undo()
    assert not session.input.any()
    vit_window.undo_stack.undo()
    assert np.array_equal(session.input, before)


def test_a_sample_digit_is_read_correctly(vit_window):
    view = open_tab(vit_window, "Draw")
    image, label = view.samples[5]
    view._pick_sample(6)
    assert np.array_equal(vit_window.session_bridge.session.input, image)
    assert f"reads a {label}" in view.answer.text()


def test_the_draw_view_explains_itself_for_a_text_model(window):
    view = open_tab(window, "Draw")
    assert not view.canvas.isEnabled() and "image model" in view.message.text()


def test_the_image_view_draws_the_traces_numbers(vit_window):
    view = open_tab(vit_window, "Image")
    assert isinstance(view, ImageView)
    view.refresh()
    trace, cfg = vit_window.session_bridge.trace, vit_window.session_bridge.model.config
    assert view.patches.count() == 1 + 4 * cfg.n_patches  # the image, then label, patch, pixels, embedding
    assert view.positions.count() == cfg.n_patches
    att = attention_on_image(trace, cfg, 0, None, 0)
    assert np.allclose(att.sum() + trace["blocks.0.attn.hook_pattern"][:, 0, 0].mean(), 1.0)
    assert rollout_on_image(trace, cfg).shape == (4, 4)
    sim = position_similarity(vit_window.session_bridge.model.params["pos_embed.W_pos"], cfg)
    assert np.allclose([sim[r, c, r, c] for r in range(4) for c in range(4)], 1.0)


def test_attention_on_the_image_is_the_query_row_laid_on_the_grid():
    model, image, _ = load_preset("digits")
    trace = model.run(image)
    pattern = trace["blocks.1.attn.hook_pattern"]
    grid = attention_on_image(trace, model.config, 1, 2, query=6)
    assert grid[1, 2] == pattern[2, 6, 1 + 4 + 2]  # patch p1,2 is token 1 + 1·4 + 2


def test_the_token_strip_shows_each_patch_on_its_chip(vit_window):
    from ui.views.token_strip import PATCH_ROLE
    session = vit_window.session_bridge.session
    chips = vit_window.token_strip.sides[0].chips
    assert chips.item(0).data(PATCH_ROLE) is None  # [CLS] is no part of the image
    assert np.array_equal(chips.item(2).data(PATCH_ROLE), session.input[0:2, 2:4])  # p0,1
    vit_window.edits.set_tokens(np.zeros((8, 8)))
    assert not np.any(chips.item(2).data(PATCH_ROLE))  # the chips follow a new image


def test_clicking_a_patch_on_the_attention_picture_makes_it_the_query(vit_window, qtbot):
    from ui.views.image_view import PatchPicture
    view = open_tab(vit_window, "Image")
    view.refresh()
    trace, cfg = vit_window.session_bridge.trace, vit_window.session_bridge.model.config

    def pictures():
        return view.findChildren(PatchPicture)  # the old ones have left the view

    first, rollout = pictures()
    assert view.query.currentText() == "[CLS]"
    qtbot.mouseClick(first, Qt.MouseButton.LeftButton, pos=first.patch_center(7))  # token 7 is patch p1,2
    assert view.query.currentIndex() == 7 and view.query.currentText() == "p1,2"
    first, rollout = pictures()  # drawn again for the new query, the clicked patch outlined
    assert first.toolTip() and len(pictures()) == 2
    image = first.pixmap().toImage()
    size = (first.width() - 1) / first.side
    edge = image.pixelColor(int(2 * size + 2), int(1.5 * size))  # the left edge of patch p1,2's cell
    assert edge.lightness() < 40, "the query patch is outlined"
    other = image.pixelColor(int(1 * size + 2), int(1.5 * size))  # the same place in patch p1,1: no outline
    assert other.lightness() > 40
    # the picture is the new query's row of the pattern
    att = attention_on_image(trace, cfg, 0, None, 7)
    assert not np.allclose(att, attention_on_image(trace, cfg, 0, None, 0))
    qtbot.mouseClick(rollout, Qt.MouseButton.LeftButton, pos=rollout.patch_center(16))
    assert view.query.currentText() == "p3,3"
    view.query.setCurrentIndex(0)  # [CLS] stays a choice: it is no patch on the image
    view.query.activated.emit(0)
    assert view.query.currentText() == "[CLS]" and "query [CLS]" in " ".join(
        w.text() for w in view.findChildren(type(view.message)))


def _all_chips_shown(chips):
    room = chips.viewport().rect()
    return all(room.contains(chips.visualItemRect(chips.item(i))) for i in range(chips.count()))


@pytest.mark.parametrize("size", [(1024, 768), (1280, 800), (1920, 1080)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_token_strip_shows_all_seventeen_tokens_as_little_images(make_window, qtbot, size):
    model, image, _ = load_preset("digits")
    window = make_window(Session(model, image), size=size)
    strip = window.token_strip
    chips = strip.sides[0].chips
    qtbot.waitUntil(lambda: chips.viewport().width() > 100)
    assert chips.count() == 17 and chips.rows <= chips.max_rows
    assert _all_chips_shown(chips), "a chip is cut off or scrolled away"
    # the text field and the class names cannot make a picture: they step aside, giving the chips room
    assert not strip.sides[0].edit.isVisible() and not strip.vocab.isVisible()


def test_with_4x4_patches_five_tokens_take_one_row_and_a_text_model_gets_its_vocabulary_back(make_window, qtbot):
    from simulator import ModelConfig, Transformer
    config = ModelConfig(arch="vit", image_size=8, patch=4, n_classes=10, d_model=16, n_heads=2, d_mlp=32,
                         n_layers=1, attention="full", positional="learned")
    window = make_window(Session(Transformer(config), np.zeros((8, 8))), size=(1024, 768))
    chips = window.token_strip.sides[0].chips
    assert chips.tokens() == ["[CLS]", "p0,0", "p0,1", "p1,0", "p1,1"] and chips.rows == 1
    assert _all_chips_shown(chips)
    text_model, tokens, _ = load_preset("copy")
    window.set_model(text_model, tokens, "")
    strip = window.token_strip
    assert strip.sides[0].edit.isVisible() and strip.vocab.isVisible() and strip.sides[0].chips.max_rows == 2


@pytest.mark.parametrize("patch", [2, 4])
def test_the_architecture_map_and_step_titles_name_the_image_steps_in_words(patch):
    from simulator import ModelConfig, Transformer
    from ui.pictures.slicing import step_title
    from ui.views.arch_map import build_boxes
    config = ModelConfig(arch="vit", image_size=8, patch=patch, n_classes=10, d_model=16, n_heads=2, d_mlp=32,
                         n_layers=1, attention="full", positional="learned")
    model = Transformer(config)
    labels = [b.label for b in build_boxes(model.graph, config)]
    assert not [s for s in labels if s.startswith("hook_")], labels
    assert labels[:3] == ["Cut into patches", "Patch embedding (W_patch)", "[CLS] put first"]
    assert labels[-2:] == ["Class head → logits", "Softmax → class probabilities"]  # classes, not next words
    trace = model.run(np.zeros((8, 8)))
    titles = [step_title(trace, n.name) for n in model.graph.nodes]
    assert not [t for t in titles if "hook_" in t or t.split(" · ")[-1] in ("patchify", "prepend_cls", "take_cls")]
    assert step_title(trace, "probs") == "Softmax → class probabilities"


def test_the_first_image_shown_lights_no_cells_and_presenting_scales_the_bars_once(vit_window, qtbot):
    from ui.pictures.caption import LABEL_PT
    view = open_tab(vit_window, "Draw")
    assert vit_window.session_bridge.session.input.any() and not view.canvas.changed.any()
    vit_window.presentation.enter()
    QApplication.processEvents()
    scale = vit_window.typography.scale
    assert scale > 1 and view.bars.label_font().pointSizeF() == pytest.approx(LABEL_PT * scale)


def test_the_probabilities_step_of_an_image_model_offers_no_next_token(vit_window, make_window):
    vit_window.session_bridge.stepper.jump("probs")
    QApplication.processEvents()
    panel = vit_window.step_view.next_token()
    assert panel.isVisible() and "class" in panel.title.text() and "Next token" not in panel.title.text()
    assert not panel.append_buttons.generate_button.isVisible() and not panel.append_buttons.greedy_button.isVisible()
    assert panel.slider.isVisible()  # the temperature still reshapes the class probabilities
    model, tokens, _ = load_preset("copy")  # a text model: its next token and the buttons are back
    vit_window.set_model(model, tokens, "Open a text model")
    vit_window.session_bridge.stepper.jump("probs")
    QApplication.processEvents()
    assert "Next token" in panel.title.text() and panel.append_buttons.generate_button.isVisible()


def test_a_dragged_stroke_paints_every_cell_it_crosses(vit_window):
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    view = open_tab(vit_window, "Draw")
    view._send(np.zeros((8, 8)))
    canvas = view.canvas
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton

    def send(kind, row, col, button, buttons):
        pos = QPointF(canvas.cell_center(row, col))
        event = QMouseEvent(kind, pos, QPointF(canvas.mapToGlobal(pos.toPoint())), button, buttons,
                            Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(canvas, event)

    send(QEvent.Type.MouseButtonPress, 1, 1, left, left)
    for col in (2, 3, 4, 5, 6):  # across the top, as a 7 starts
        send(QEvent.Type.MouseMove, 1, col, none, left)
    for row, col in ((2, 6), (3, 5), (4, 4), (5, 4), (6, 3), (7, 2)):  # and down to the left
        send(QEvent.Type.MouseMove, row, col, none, left)
    send(QEvent.Type.MouseButtonRelease, 7, 2, left, none)
    send(QEvent.Type.MouseMove, 7, 7, none, none)  # no button held: no ink
    image = vit_window.session_bridge.session.input
    assert np.count_nonzero(image) == 12 and image[1, 1] > 0 and image[7, 2] > 0 and image[7, 7] == 0
    assert np.array_equal(view.bars.probs, vit_window.session_bridge.trace["probs"][0])


def test_the_patches_step_draws_pixels_as_ink_on_paper(vit_window):
    """A pixel's brightness is not a signed number: 0 is white paper, 1 black ink, as the digit is drawn."""
    vit_window.session_bridge.session.stepper.jump("hook_patches")
    heatmap = vit_window.step_view.current_heatmap()
    values = vit_window.session_bridge.trace["hook_patches"]
    assert heatmap._kind == "ink"
    blank, inked = np.argwhere(values == 0)[0], np.argwhere(values == values.max())[0]
    assert tuple(heatmap._rgba[tuple(blank)][:3]) == (255, 255, 255)
    assert max(heatmap._rgba[tuple(inked)][:3]) < 40
