"""Opening a checkpoint folder from the command line and through the file controller."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("safetensors", reason="the checkpoints extra (safetensors) is not installed")
pytest.importorskip("tokenizers", reason="the checkpoints extra (tokenizers) is not installed")

from ui import messages  # noqa: E402
from ui.cli import main  # noqa: E402
from ui.files.model_file import open_model_folder  # noqa: E402


def test_trace_prints_every_step_of_a_checkpoint(bert_folder, capsys):
    assert main(["trace", "The cat sat.", "--model", str(bert_folder)]) == 0
    out = capsys.readouterr().out
    assert "ln_embed.hook_normalized" in out and "] logits " in out and "mlm.hook_dense" in out


def test_generate_continues_a_prompt_with_a_gpt2_folder(gpt2_folder, capsys):
    assert main(["generate", "--model", str(gpt2_folder), "--prompt", "The cat", "--tokens", "4", "--top-k", "1"]) == 0
    text = capsys.readouterr().out.strip()
    assert text  # greedy: the same every run
    assert main(["generate", "--model", str(gpt2_folder), "--prompt", "The cat", "--tokens", "4", "--top-k", "1"]) == 0
    assert capsys.readouterr().out.strip() == text


def test_a_bad_folder_is_one_line_on_stderr(tmp_path, capsys):
    (tmp_path / "config.json").write_text('{"model_type": "t5"}')
    assert main(["trace", "x", "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "'t5' is not supported" in err and err.count("\n") == 1


def test_open_model_folder_gives_the_model_and_its_first_tokens(bert_folder):
    model, tokens, note = open_model_folder(bert_folder)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and model.config.arch == "encoder" and note == ""


def test_the_file_controller_opens_a_folder_as_one_undoable_step(qtbot, tmp_path, gpt2_folder, monkeypatch):
    spec = importlib.util.spec_from_file_location("test_files", Path(__file__).with_name("test_files.py"))
    file_tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(file_tests)
    files = file_tests.make_files(qtbot, tmp_path)  # the same window, bridge and undo stack as the file tests
    shown = []
    monkeypatch.setattr(messages, "refuse", lambda parent, title, text, *a: shown.append((title, text)))
    before = files.session.model
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{")
    assert not files.open_folder(str(bad))
    assert shown and "config.json" in shown[0][1]
    assert files.session.model is before and files.undo_stack.count() == 0
    assert files.open_folder(str(gpt2_folder))
    assert files.session.model.config.tokenization == "subword" and files.undo_stack.count() == 1
    files.undo_stack.undo()
    assert files.session.model is before


def test_the_window_opens_a_checkpoint_folder(gpt2_folder, tmp_path):
    out = tmp_path / "shot.png"
    done = subprocess.run([sys.executable, "-m", "ui", "--model", str(gpt2_folder), "--screenshot", str(out),
                           "--size", "800x600"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 10_000
