"""Random weights are labelled as such in the window, and the label goes when a trained model comes."""
from simulator import ModelConfig, Session, Transformer
from simulator.params import has_initial_weights
from simulator.presets import list_presets, load_preset
from ui.presets_menu import open_preset
from ui.weights_label import TEXT


def _shown(window) -> bool:
    label = window.weights_label
    return label.isVisibleTo(window) and label.text() == TEXT


def test_random_weights_are_labelled_until_a_trained_model_is_opened(make_window):
    model, tokens, _ = load_preset("reverse")
    window = make_window(session=Session(model, tokens))
    assert not _shown(window)
    window.files.new()  # File ▸ New: the classroom model, random weights
    assert _shown(window)
    window.undo_stack.undo()
    assert not _shown(window)
    assert open_preset(window, "induction") and not _shown(window)
    assert window.statusBar().currentMessage()  # the preset's accuracy
    window.edits.randomize(7)  # Parameters ▸ Randomise
    assert _shown(window)
    assert not window.statusBar().currentMessage()  # not the preset's accuracy beside "Random weights"
    assert open_preset(window, "reverse") and not _shown(window)
    new_cfg = window.session_bridge.model.config.replace(n_heads=1)
    window.set_model(Transformer(new_cfg, seed=3), tokens, "Change model settings")  # as the dialog does
    assert _shown(window)


def test_every_shipped_preset_counts_as_trained_and_every_fresh_model_as_random():
    for info in list_presets():
        model, _, _ = load_preset(info["name"])
        assert not has_initial_weights(model.config, model.params), info["name"]
    for cfg in (ModelConfig(), ModelConfig(residual="attnres"), ModelConfig(arch="encoder-decoder"),
                ModelConfig(residual="denseformer"), ModelConfig(norm="none")):
        for seed in (0, 5):
            assert has_initial_weights(cfg, Transformer(cfg, seed=seed).params)
    model = Transformer(seed=0)
    params = dict(model.params)
    params["blocks.0.ln1.w"] = params["blocks.0.ln1.w"] * 1.01  # one trained parameter is enough
    assert not has_initial_weights(model.config, params)


def test_a_lesson_stop_on_random_weights_says_so_in_the_lesson_panel(window):
    from simulator.lessons import LESSON_DIR

    player = window.lesson_player
    assert player.open_file(LESSON_DIR / "01_one_attention_head.json")  # random on purpose: the arithmetic
    assert player.where.text().endswith("· random weights") and _shown(window)
    assert player.open_file(LESSON_DIR / "02_multi_head_attention.json")  # the induction preset
    assert "random weights" not in player.where.text() and not _shown(window)
