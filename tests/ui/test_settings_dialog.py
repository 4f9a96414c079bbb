"""The settings dialog: an editor per field, ModelConfig's message while invalid with OK disabled,
and applying it builds a new model with the current text re-tokenised."""
from dataclasses import fields

import pytest
from PySide6.QtWidgets import QDialogButtonBox

from simulator import ModelConfig, Transformer
from ui.views.settings_dialog import SettingsDialog, text_to_vocab, tokens_for, vocab_to_text


@pytest.fixture
def dialog(qtbot):
    d = SettingsDialog(ModelConfig(), seed=0)
    qtbot.addWidget(d)
    return d


def ok(d) -> bool:
    return d.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_every_config_field_has_an_editor(dialog):
    assert set(dialog.editors) == {f.name for f in fields(ModelConfig)}
    assert dialog.config() == ModelConfig() and ok(dialog)
    assert "d_head = 8" in dialog.summary.text()


def test_d_model_not_divisible_by_n_heads_shows_the_message_and_disables_ok(dialog):
    dialog.editors["d_model"].setValue(15)
    dialog.editors["positional"].setCurrentText("learned")  # an odd width is fine for learned positions
    assert "divisible by n_heads" in dialog.message.text()
    assert not ok(dialog) and dialog.config() is None
    dialog.editors["n_heads"].setValue(3)
    assert dialog.message.text() == "" and ok(dialog)
    assert dialog.config().d_head == 5


@pytest.mark.parametrize("field, text, words", [
    ("vocab", "a b a", "twice"),
    ("vocab", "", "empty"),
    ("norm_eps", "abc", "must be a number"),
])
def test_bad_text_fields_are_explained(dialog, field, text, words):
    dialog.editors[field].setText(text)
    assert words in dialog.message.text() and not ok(dialog)


def test_choice_conflicts_come_from_the_config(dialog):
    dialog.editors["attention"].setCurrentText("full")
    assert "causal" in dialog.message.text() and not ok(dialog)
    dialog.editors["arch"].setCurrentText("encoder")
    assert ok(dialog)


def test_build_makes_a_seeded_model_and_keeps_the_text(dialog):
    dialog.editors["n_layers"].setValue(3)
    dialog.seed_spin.setValue(7)
    model, tokens = dialog.build(["the", "cat", "sat"], "word")
    assert model.config.n_layers == 3 and model.seed == 7
    assert model.params["embed.W_E"].tobytes() == Transformer(model.config, seed=7).params["embed.W_E"].tobytes()
    assert tokens == ["the", "cat", "sat"]


def test_tokens_fall_back_to_the_vocabulary_when_the_text_does_not_fit():
    model = Transformer(ModelConfig(vocab=("x", "y", "z"), n_ctx=2))
    assert tokens_for(model, ["the", "cat"], "word") == ["x", "y"]
    long_ok = Transformer(ModelConfig(n_ctx=2))
    assert tokens_for(long_ok, ["the", "cat", "sat"], "word") == ["the", "cat"]  # cut to n_ctx
    pair = Transformer(ModelConfig(arch="encoder-decoder"))
    assert tokens_for(pair, ["a", "dog"], "word") == (["a", "dog"], ["a", "dog"])


def test_space_tokens_round_trip_through_the_vocab_line():
    vocab = ("<unk>", "a", " ", "b")
    assert text_to_vocab(vocab_to_text(vocab)) == vocab


def test_a_model_too_large_to_build_keeps_ok_disabled(qtbot):
    from PySide6.QtWidgets import QDialogButtonBox

    from simulator import ModelConfig
    from ui.views.settings_dialog import SettingsDialog

    dialog = SettingsDialog(ModelConfig(d_model=4096, d_mlp=16384, n_layers=8, n_heads=8, n_ctx=8))
    qtbot.addWidget(dialog)
    assert "at most 50,000,000" in dialog.message.text()
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


@pytest.mark.parametrize("attention, fields_used", [
    ("strided", {"window", "stride"}), ("global", {"window", "n_global"}),
    ("bigbird", {"window", "n_global", "n_random", "random_seed"}), ("linear", set()), ("causal", set()),
])
def test_attention_patterns_are_offered_with_their_fields(dialog, attention, fields_used):
    dialog.editors["attention"].setCurrentText(attention)
    assert dialog.editors["attention"].currentText() == attention
    pattern_fields = {"window", "stride", "n_global", "n_random", "random_seed"}
    assert {f for f in pattern_fields if dialog.editors[f].isEnabled()} == fields_used
    assert ok(dialog) and dialog.config().attention == attention


def test_a_pattern_setting_that_makes_no_sense_disables_ok(dialog):
    dialog.editors["attention"].setCurrentText("strided")
    dialog.editors["stride"].setValue(1)
    assert "stride ≥ 2" in dialog.message.text() and not ok(dialog)
    dialog.editors["stride"].setValue(3)
    dialog.editors["attention"].setCurrentText("bigbird")
    dialog.editors["n_random"].setValue(2)
    dialog.editors["random_seed"].setValue(5)
    cfg = dialog.config()
    assert (cfg.attention, cfg.stride, cfg.n_random, cfg.random_seed) == ("bigbird", 3, 2, 5)


def test_a_seed_beyond_the_dialog_is_explained_not_raised(qtbot):
    dialog = SettingsDialog(ModelConfig(), seed=2**40)
    qtbot.addWidget(dialog)
    assert "1,099,511,627,776" in dialog.message.text() and not ok(dialog)
    dialog.seed_spin.setValue(5)
    assert ok(dialog) and dialog.seed() == 5


@pytest.mark.parametrize("field, value", [("n_layers", 60), ("n_ctx", 100_000), ("n_ctx", 2**40)])
def test_loaded_values_outside_the_dialog_are_shown_as_they_are(qtbot, field, value):
    config = ModelConfig(**{field: value})
    dialog = SettingsDialog(config)
    qtbot.addWidget(dialog)
    editor = dialog.editors[field]
    shown = editor.value() if hasattr(editor, "value") else int(editor.text())
    assert shown == value  # not clamped
    assert f"{field} is {value:,}, outside what this dialog builds" in dialog.message.text()
    assert not ok(dialog)
