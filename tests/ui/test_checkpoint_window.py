"""The window and checkpoint folders: File ▸ Open model folder… (undoable, refused plainly, in the
recent files), the precision shown and switched, and typed text cut by the checkpoint's tokenizer."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog

pytest.importorskip("safetensors", reason="the checkpoints extra (safetensors) is not installed")
pytest.importorskip("tokenizers", reason="the checkpoints extra (tokenizers) is not installed")

import simulator.budget  # noqa: E402
import simulator.pretrained  # noqa: E402
from ui import messages  # noqa: E402

_spec = importlib.util.spec_from_file_location("checkpoints",
                                               Path(__file__).parents[1] / "simulator" / "checkpoints.py")
ck = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ck)


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt") / "tiny-gpt2"
    ck.write_gpt2(folder)
    return folder


@pytest.fixture
def refusals(monkeypatch):
    shown = []
    monkeypatch.setattr(messages, "refuse", lambda parent, title, text, *a: shown.append((title, text)))
    return shown


def action(window, text):
    return next(a for a in window.findChildren(type(window.act_float64)) if a.text().replace("&", "") == text)


def test_the_file_menu_opens_a_checkpoint_folder_as_one_undoable_step(window, gpt2, monkeypatch):
    open_folder = action(window, "Open model folder…")
    assert open_folder.shortcut().toString() == "Ctrl+Shift+O"
    before = window.session_bridge.model
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(gpt2))
    open_folder.trigger()
    model = window.session_bridge.model
    assert model is not before and model.config.tokenization == "subword"
    assert window.precision_label.text().endswith("computed in float32") and not window.act_float64.isChecked()
    assert window.files.recent_files()[0] == str(gpt2.resolve())
    window.files._fill_recent_menu()
    entry = window.files.recent_menu.actions()[0]
    assert entry.text() == "&1 tiny-gpt2/"
    window.undo_stack.undo()
    assert window.session_bridge.model is before and window.precision_label.text().endswith("computed in float64")
    entry.trigger()  # the recent entry opens the folder again
    assert window.session_bridge.model.config.tokenization == "subword"


def test_cancelling_the_folder_dialog_changes_nothing(window, monkeypatch):
    before = window.session_bridge.model
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: "")
    action(window, "Open model folder…").trigger()
    assert window.session_bridge.model is before and window.undo_stack.count() == 0


@pytest.mark.parametrize("damage", ["not json", "no extra", "t5"])
def test_a_folder_that_cannot_be_opened_is_refused_in_plain_text_and_the_model_stays(window, tmp_path, refusals,
                                                                                        monkeypatch, damage):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "config.json").write_text({"not json": "{", "no extra": "{}", "t5": '{"model_type": "t5"}'}[damage])
    if damage == "no extra":
        def missing():
            raise simulator.pretrained.CheckpointError("Opening a checkpoint needs the optional packages "
                                                       "safetensors and tokenizers (safetensors is missing).")
        monkeypatch.setattr(simulator.pretrained, "_libraries", missing)
    before = window.session_bridge.model
    assert not window.files.open_folder(str(folder))
    assert window.session_bridge.model is before and window.undo_stack.count() == 0
    title, text = refusals[0]
    assert title == "Could not open the model folder"
    assert {"not json": "config.json", "no extra": "safetensors is missing", "t5": "'t5'"}[damage] in text


def test_the_precision_is_shown_and_switched_to_float64_as_one_undoable_step(window, gpt2, refusals, monkeypatch):
    assert window.files.open_folder(str(gpt2))
    model32 = window.session_bridge.model
    window.act_float64.trigger()
    model64 = window.session_bridge.model
    assert model64.config.dtype == "float64" and window.precision_label.text().endswith("computed in float64")
    assert window.act_float64.isChecked()
    assert all(v.dtype == np.float64 for v in model64.params.values())
    assert window.session_bridge.trace["logits"].dtype == np.float64
    for name, v in model32.params.items():
        np.testing.assert_array_equal(model64.params[name], v.astype(np.float64))
    np.testing.assert_allclose(window.session_bridge.trace["logits"], model32.run(model32.tokens(
        window.session_bridge.session.tokens))["logits"], rtol=1e-4, atol=1e-5)
    window.undo_stack.undo()
    assert window.session_bridge.model is model32 and window.precision_label.text().endswith("computed in float32")
    assert not window.act_float64.isChecked()
    monkeypatch.setattr(simulator.budget, "MEMORY_BYTES", 1)  # no room for anything
    window.act_float64.trigger()
    assert window.session_bridge.model is model32 and not window.act_float64.isChecked()
    assert refusals and refusals[0][0] == "Could not compute in float64"


def test_typed_text_is_cut_by_the_checkpoints_tokenizer(window, gpt2):
    assert window.files.open_folder(str(gpt2))
    strip = window.token_strip
    model = window.session_bridge.model
    text = "The dog sat."
    expected = model.tokenize(text)
    assert any(t.startswith("Ġ") for t in expected)  # subword tokens, not words
    assert strip.type_text(0, text)
    assert list(window.session_bridge.session.tokens) == expected
    assert strip.sides[0].edit.text() == text  # the line reads as typed, Ġ and all decoded


def test_a_masked_lm_names_the_token_predicted_at_a_position(window, tmp_path):
    folder = tmp_path / "bert"
    ck.write_bert(folder)
    assert window.files.open_folder(str(folder))
    window.session_bridge.stepper.jump("probs")
    title = window.step_view.next_token().title.text()
    assert title == "Token predicted at “[SEP]”"


# --- a checkpoint saved as .npz: its tokenizer goes with it (File ▸ Save, scenarios, autosave) ---

def test_a_saved_checkpoint_reopens_with_its_own_tokenizer(window, gpt2, tmp_path):
    assert window.files.open_folder(str(gpt2))
    text = "The dog sat, hello  world!"
    expected = window.session_bridge.model.tokenize(text)
    assert window.files.save_as(str(tmp_path / "tiny-gpt2.npz"))
    window.files.new()
    assert window.session_bridge.model.config.tokenization != "subword"
    assert window.files.open(str(tmp_path / "tiny-gpt2.npz"))
    assert window.token_strip.type_text(0, text)
    assert list(window.session_bridge.session.tokens) == expected
    assert window.token_strip.sides[0].edit.text() == text
    assert window.warning_label.text() == ""


def test_scenarios_and_autosave_keep_the_tokenizer(window, gpt2, tmp_path):
    from ui.files.recovery import RecoveryManager
    from ui.files.scenario import read_scenario, save_scenario
    assert window.files.open_folder(str(gpt2))
    text = "Hello world, the cat!"
    expected = window.session_bridge.model.tokenize(text)
    save_scenario(tmp_path / "s.npz", window.session_bridge)
    model, _, _ = read_scenario(tmp_path / "s.npz")
    assert model.tokenize(text) == expected
    manager = RecoveryManager(window.session_bridge, window.undo_stack, folder=tmp_path / "recovery")
    try:
        assert manager.save_now()
        model, _, _ = RecoveryManager.restore(manager.path)
        assert model.tokenize(text) == expected
    finally:
        manager.discard()


def test_without_the_tokenizers_package_a_saved_checkpoint_says_what_to_install(window, gpt2, tmp_path,
                                                                                  monkeypatch):
    import sys
    assert window.files.open_folder(str(gpt2))
    pieces = window.session_bridge.model.tokenize("The dog sat.")
    assert window.files.save_as(str(tmp_path / "tiny-gpt2.npz"))
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # `import tokenizers` now raises ImportError
    assert window.files.open(str(tmp_path / "tiny-gpt2.npz"))
    assert window.warning_label.text() == 'Tokenizer missing: pip install "stepformer[checkpoints]". Text splits at ' \
                                          'spaces.'
    before = list(window.session_bridge.session.tokens)
    assert not window.token_strip.type_text(0, "The dog sat.")
    error = window.token_strip.message.text()
    assert "needs the optional package tokenizers" in error and "stepformer[checkpoints]" in error
    assert "subword tokens separated by spaces" in error and "Nothing changed" in error
    assert list(window.session_bridge.session.tokens) == before
    assert window.token_strip.type_text(0, " ".join(pieces))  # its subword tokens, separated by spaces
    assert list(window.session_bridge.session.tokens) == pieces


@pytest.fixture(scope="module")
def bf16(gpt2, tmp_path_factory):
    """The same checkpoint with its weights stored as bfloat16."""
    from safetensors.numpy import load_file

    folder = tmp_path_factory.mktemp("ckpt") / "bf16"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (folder / name).write_bytes((gpt2 / name).read_bytes())
    ck.save_bfloat16(load_file(str(gpt2 / "model.safetensors")), folder / "model.safetensors")
    return folder


def test_a_bfloat16_folder_says_its_weights_were_widened(window, gpt2, bf16):
    folder = bf16
    assert window.files.open_folder(str(gpt2))
    assert "bfloat16" not in window.statusBar().currentMessage()
    assert window.files.open_folder(str(folder))
    message = window.statusBar().currentMessage()
    assert message.startswith("Weights stored as bfloat16, widened exactly to float32")
    assert window.precision_label.text().endswith("computed in float32")


def test_on_the_command_line_too_from_the_headers_the_loader_read_once(gpt2, bf16, tmp_path, qtbot, monkeypatch):
    import ui.cli

    reads = []
    read_header = simulator.pretrained.read_header
    monkeypatch.setattr(simulator.pretrained, "read_header", lambda path: reads.append(path) or read_header(path))
    said = []

    def look(app, window, path, size):  # instead of the screenshot: what the status bar says
        qtbot.addWidget(window)
        said.append(window.statusBar().currentMessage())
        return 0

    monkeypatch.setattr(ui.cli, "_screenshot", look)
    for folder in (gpt2, bf16):
        assert ui.cli.main(["--model", str(folder), "--screenshot", str(tmp_path / "s.png")]) == 0
    assert "bfloat16" not in said[0]
    assert said[1].startswith("Weights stored as bfloat16, widened exactly to float32")
    assert len(reads) == 2  # one header per folder: the note is the loader's, not a second read
