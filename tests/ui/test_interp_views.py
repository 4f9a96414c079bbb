"""Round trips for the "Look inside" views: model view, logit lens, attribution, patching,
rollout, embeddings; ablation from the model view through the undo stack and scenarios."""
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QUndoStack

from simulator import ModelConfig, Session, Transformer, interp
from simulator.presets import load_preset
from ui.bridge import SessionBridge
from ui.edits import EditController
from ui.files import scenario
from ui.pictures import colormaps
from ui.views.interp_tabs import InterpTabs


@pytest.fixture
def induction(qtbot):
    model, tokens, _ = load_preset("induction")
    bridge = SessionBridge(Session(model, tokens))
    stack = QUndoStack()
    edits = EditController(bridge, stack)
    tabs = InterpTabs(bridge, edits.toggle_component)
    qtbot.addWidget(tabs)
    tabs.resize(1000, 600)
    tabs.show()
    qtbot.waitExposed(tabs)
    return bridge, stack, tabs


def test_model_view_shows_every_head_and_mlp_and_a_click_goes_to_the_head(induction, qtbot):
    bridge, _, tabs = induction
    view = tabs.show_view("Model view")
    thumbs = view.grid.thumbs()
    assert [t.component for t in thumbs] == ["blocks.0.attn.head0", "blocks.0.attn.head1", "blocks.0.mlp",
                                             "blocks.1.attn.head0", "blocks.1.attn.head1", "blocks.1.mlp"]
    # a thumbnail's pixel is the pattern's weight in the sequential colour map
    pattern = bridge.trace["blocks.1.attn.hook_pattern"][1]
    image = thumbs[4].image
    lut = colormaps.lookup_table(colormaps.SEQUENTIAL)
    q, k = 8, 2
    expected = lut[int(np.rint(pattern[q, k] * 255))]
    assert QColor(image.pixel(k, q)).getRgb()[:3] == tuple(int(v) for v in expected[:3])
    view.grid.repaint()
    qtbot.mouseClick(view.grid, Qt.MouseButton.LeftButton, pos=thumbs[4].rect.center().toPoint())
    assert bridge.stepper.name == "blocks.1.attn.hook_pattern" and bridge.head == 1


def test_switching_a_head_off_is_one_undoable_edit_that_lights_up(induction):
    bridge, stack, tabs = induction
    view = tabs.show_view("Model view")
    before = bridge.trace["probs"].copy()
    view.grid.sigToggleRequested.emit("blocks.0.attn.head0", "zero")
    assert bridge.session.ablate == {"blocks.0.attn.head0": "zero"}
    assert stack.count() == 1
    assert np.all(bridge.trace["blocks.0.attn.hook_z"][:, 0] == 0)
    changed = {t.component for t in view.grid.thumbs() if t.changed}
    assert "blocks.1.attn.head1" in changed and "blocks.0.attn.head0" not in changed  # layer 0's pattern stays
    assert view.grid.off == {"blocks.0.attn.head0": "zero"}
    menu = view.grid.menu_for(view.grid.thumbs()[0])
    assert any("back on" in a.text() for a in menu.actions())
    stack.undo()
    assert bridge.session.ablate == {} and np.array_equal(bridge.trace["probs"], before)
    assert view.grid.off == {}
    stack.redo()
    assert bridge.session.ablate == {"blocks.0.attn.head0": "zero"}


def test_lens_grid_and_curve_show_the_lens_probabilities(induction):
    bridge, _, tabs = induction
    view = tabs.show_view("Logit lens")
    points, probs = interp.lens_probs(bridge.model, bridge.trace)
    assert np.allclose(view.heatmap.values(), probs.max(-1).T)  # [pos, point]
    pos = view.position.currentIndex()
    assert pos == len(bridge.trace.tokens) - 1  # starts at the last token
    tok = view.followed()
    assert tok == int(bridge.trace["probs"][pos].argmax())
    x, y = view.curve.getData()
    assert np.allclose(y, probs[:, pos, tok])
    assert view.heatmap.cell_text(pos, len(points) - 1).startswith(bridge.model.config.vocab[tok])
    view.follow.setCurrentIndex(0)
    assert np.allclose(view.curve.getData()[1], probs[:, pos, 0])


def test_attribution_bars_add_up_to_the_logit_and_a_bar_writes_its_calculation(induction):
    bridge, _, tabs = induction
    view = tabs.show_view("Attribution")
    pos, tok, other = view.choice()
    heights = view.bars.opts["height"]
    assert np.sum(heights) == pytest.approx(bridge.trace["logits"][pos, tok], abs=1e-9)
    assert "sum of the bars" in view.plot.getPlotItem().titleLabel.text
    got = []
    view.sigCalculation.connect(got.append)
    i = list(view.parts).index("blocks.1.attn.head1")
    view.show_bar(i)
    assert got and "blocks.1.attn.head1" in got[0] and f"{view.parts['blocks.1.attn.head1']:.4f}" in got[0]
    widths = [p.width() for p in view.bars.opts["pens"]]
    assert widths[i] > 1 and all(w == 1 for j, w in enumerate(widths) if j != i)  # the clicked bar is outlined
    view.other.setCurrentIndex(1)  # minus token 0
    assert np.sum(view.bars.opts["height"]) == pytest.approx(
        bridge.trace["logits"][pos, tok] - bridge.trace["logits"][pos, 0], abs=1e-9)


def test_patching_view_starts_from_the_presets_pair_and_refuses_unequal_lengths(induction):
    bridge, _, tabs = induction
    view = tabs.show_view("Patching")
    assert view.clean.text() == "c h a f j d c h a" and view.error == ""
    vocab = bridge.model.config.vocab
    rows, grid = interp.patch_sweep(bridge.model, view.clean.text(), view.corrupt.text(),
                                    vocab.index("f"), vocab.index("g"))
    assert np.allclose(view.resid_map.values(), grid[::-1])
    assert view.head_map.values().shape == (2, 2)
    assert view.head_map.values()[1, 1] == pytest.approx(view.heads[1][1, 1])
    shown = view.resid_map.values().copy()
    view.corrupt.setText("c h a")
    view.run_button.click()
    assert "same number of tokens" in view.error and "same number of tokens" in view.caption.text()
    assert np.array_equal(view.resid_map.values(), shown)


def test_rollout_and_embeddings_show_their_numbers(induction):
    bridge, _, tabs = induction
    view = tabs.show_view("Rollout")
    assert np.allclose(view.rollout_map.values(), interp.attention_rollout(bridge.trace))
    assert "cannot" in view.caption.text()
    emb = tabs.show_view("Embeddings")
    coords, _ = interp.pca(bridge.model.params["embed.W_E"])
    assert np.allclose(emb.coords, coords) and emb.labels == list(bridge.model.config.vocab)
    emb.source.setCurrentIndex(emb.source.count() - 1)
    assert len(emb.labels) == len(bridge.trace.tokens)
    assert np.allclose(emb.coords, interp.pca(bridge.trace["blocks.1.hook_resid_post"])[0])


def test_post_ln_attribution_explains_why_not(qtbot):
    bridge = SessionBridge(Session(Transformer(ModelConfig(norm="post"), seed=1), "the cat sat"))
    tabs = InterpTabs(bridge)
    qtbot.addWidget(tabs)
    tabs.show()
    view = tabs.show_view("Attribution")
    assert view.parts == {} and "Post-LN" in view.caption.text()
    lens = tabs.show_view("Logit lens")
    assert "Post-LN" in lens.caption.text()


def test_ablation_is_saved_in_a_scenario(qtbot, tmp_path):
    model, tokens, _ = load_preset("induction")
    teacher = SessionBridge(Session(model, tokens))
    teacher.session.set_ablation({"blocks.1.attn.head1": "mean"})
    path = tmp_path / f"a{scenario.SUFFIX}"
    scenario.save_scenario(path, teacher)
    student = SessionBridge(Session(Transformer(), "the cat"))
    scenario.open_scenario(path, student)
    assert student.session.ablate == {"blocks.1.attn.head1": "mean"}
    assert np.array_equal(student.trace["probs"], teacher.trace["probs"])


def test_the_window_has_a_look_inside_tab_whose_bars_reach_the_explanation_panel(make_window):
    w = make_window()
    w.tabs.setCurrentIndex(next(i for i in range(w.tabs.count()) if w.tabs.tabText(i) == "Look inside"))
    tabs = w.current_view()
    view = tabs.show_view("Attribution")
    view.show_bar(0)
    assert w.explain_panel.cell.text() == view.calculation != ""
    tabs.show_view("Model view").grid.sigToggleRequested.emit("blocks.0.mlp", "zero")
    assert w.session_bridge.session.ablate == {"blocks.0.mlp": "zero"}
    w.undo_stack.undo()
    assert w.session_bridge.session.ablate == {}


def test_next_token_panel_compares_with_the_run_before_the_ablation(qtbot):
    from ui.views.step_view import StepView
    model, tokens, _ = load_preset("induction")
    bridge = SessionBridge(Session(model, tokens))
    view = StepView(bridge)
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    bridge.stepper.jump("probs")
    pos = len(tokens) - 1
    view.next_token().sigPositionChosen.emit(pos)
    assert "switched off" not in view.next_token().title.text()
    before = bridge.trace["probs"][pos]
    bridge.session.set_ablation({"blocks.1.attn.head1": "zero", "blocks.1.mlp": "zero"})
    top = int(before.argmax())
    now = bridge.trace["probs"][pos, top]
    text = view.next_token().title.text()
    assert "switched off" in text and f"{before[top]:.2f} → {now:.2f}" in text
    assert abs(now - before[top]) > 0.01  # the comparison shows a real change


def test_model_view_of_an_encoder_decoder_has_cross_attention_rows(qtbot):
    model = Transformer(ModelConfig(arch="encoder-decoder", attention="causal"), seed=3)
    bridge = SessionBridge(Session(model, ("the cat sat", "a dog ran on")))
    tabs = InterpTabs(bridge)
    qtbot.addWidget(tabs)
    tabs.resize(900, 700)
    tabs.show()
    view = tabs.show_view("Model view")
    labels = [label for label, _ in view.grid.rows]
    assert labels == ["enc L0 self", "enc L1 self", "dec L0 self", "dec L0 cross", "dec L1 self", "dec L1 cross"]
    cross = dict(view.grid.rows)["dec L0 cross"]
    assert [t.component for t in cross] == ["decoder.blocks.0.cross_attn.head0", "decoder.blocks.0.cross_attn.head1"]
    assert cross[0].image.width() == 3 and cross[0].image.height() == 4  # keys: the source, queries: the target
    view.grid.sigToggleRequested.emit("decoder.blocks.0.cross_attn.head1", "mean")
    assert np.allclose(bridge.trace["decoder.blocks.0.cross_attn.hook_z"][:, 1],
                       bridge.trace["decoder.blocks.0.cross_attn.hook_z"][:, 1].mean(0))
    view.go_to(cross[1])
    assert bridge.stepper.name == "decoder.blocks.0.cross_attn.hook_pattern" and bridge.head == 1


def test_the_architecture_map_switches_heads_and_mlps_off(make_window):
    w = make_window()
    arch = w.arch_map
    chip = arch.head_chips("blocks.1.attn.hook_q")[1]
    assert arch.component_at(chip.center()) == "blocks.1.attn.head1"
    mlp = arch.boxes()["blocks.0.hook_mlp_out"]
    assert arch.component_at(mlp.center()) == "blocks.0.mlp"
    assert arch.component_at(arch.boxes()["blocks.0.ln1.hook_normalized"].center()) is None
    arch.sigToggleRequested.emit("blocks.1.attn.head1", "zero")
    assert w.session_bridge.session.ablate == {"blocks.1.attn.head1": "zero"}
    # the chip is crossed out in red
    image = arch.grab().toImage()
    ratio = image.width() / arch.width()
    hit = [image.pixelColor(int((chip.left() + d) * ratio), int((chip.top() + d) * ratio))
           for d in np.linspace(1, chip.width() - 1, 8)]
    assert any(c.red() > 150 and c.green() < 60 and c.blue() < 60 for c in hit)
    w.undo_stack.undo()
    assert w.session_bridge.session.ablate == {}


def test_patching_an_encoder_decoder_takes_source_bar_target(qtbot):
    model = Transformer(ModelConfig(arch="encoder-decoder", attention="causal"), seed=5)
    bridge = SessionBridge(Session(model, ("the cat sat", "a dog ran on")))
    tabs = InterpTabs(bridge)
    qtbot.addWidget(tabs)
    tabs.show()
    view = tabs.show_view("Patching")
    assert view.clean.text() == "the cat sat | a dog ran on" and view.error == ""
    assert view.corrupt.text().endswith("| a dog ran on") and view.corrupt.text() != view.clean.text()
    layers, heads = view.heads
    assert layers == ["decoder.blocks.0.attn", "decoder.blocks.0.cross_attn", "decoder.blocks.1.attn",
                      "decoder.blocks.1.cross_attn"]
    assert view.head_map.labels()[0] == ["L0", "L0 cross", "L1", "L1 cross"]
    assert view.resid_map.values().shape == (len(view.resid[0]), 4)  # the target's four positions
    view.corrupt.setText("the cat sat")
    view.run_button.click()
    assert "source | target" in view.error


def test_patching_column_labels_fit_long_words(qtbot):
    words = ("alexandra", "bartholomew", "christopher", "dominique", "evangeline", "florentina")
    model = Transformer(ModelConfig(vocab=words, n_ctx=8), seed=1)
    bridge = SessionBridge(Session(model, list(words)))
    tabs = InterpTabs(bridge)
    qtbot.addWidget(tabs)
    tabs.resize(700, 500)
    tabs.show()
    qtbot.waitExposed(tabs)
    view = tabs.show_view("Patching")
    view.refresh()
    scale, stagger, _ = view.resid_map.label_style()
    assert stagger or scale < 1.0  # six long names over narrow columns: smaller or staggered
    tabs.resize(2400, 500)
    qtbot.waitUntil(lambda: view.resid_map.label_style()[1] is False)  # room enough: one line again


def test_attribution_bars_follow_a_switched_off_sublayer(induction):
    bridge, _, tabs = induction
    view = tabs.show_view("Attribution")
    bridge.session.set_ablation({"blocks.1.attn": "zero", "blocks.0.mlp": "mean"})
    pos, tok, _ = view.choice()
    assert "blocks.1.attn" in view.parts
    assert np.sum(view.bars.opts["height"]) == pytest.approx(bridge.trace["logits"][pos, tok], abs=1e-9)
    axis = view.plot.getPlotItem().getAxis("bottom")
    labels = [s for level in axis._tickLevels for _, s in level]
    assert "L1 attn" in labels
