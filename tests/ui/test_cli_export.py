"""`stepformer export` renders the handout headless; `stepformer --help` documents every
command; mistakes are one line on stderr and a non-zero exit."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import simulator
from simulator import ModelConfig, Transformer
from simulator.cli import steps_from_json
from ui import cli
from ui.cli_commands import COMMANDS, export_main


def pages(path) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", path.read_bytes()))


@pytest.fixture
def small_model(tmp_path):
    model = Transformer(ModelConfig(n_layers=1), seed=3)
    path = tmp_path / "small.npz"
    simulator.save(path, model, model.tokens("the cat sat"))
    return path, model


@pytest.mark.slow
def test_export_writes_one_page_per_step(qapp, tmp_path, small_model, capsys):
    path, model = small_model
    out = tmp_path / "handout.pdf"
    assert export_main(["--model", str(path), "--text", "the dog ran on the mat", "--out", str(out)]) == 0
    n = len(model.run(model.tokens("the dog ran on the mat")).graph.nodes)
    assert pages(out) == n
    assert capsys.readouterr().out.strip() == f"wrote {n} pages to {out}"


@pytest.mark.slow
def test_export_runs_headless_in_a_fresh_process(tmp_path, small_model):
    path, _ = small_model
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run([sys.executable, "-m", "ui", "export", "--model", str(path), "--granularity",
                           "sublayer", "--out", str(tmp_path / "pngs")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "pngs").glob("step-*.png"))) > 3


@pytest.mark.parametrize("argv, message", [
    (["--text", "the cat sat on the mat and the dog ran", "--out", "x.pdf"], "at most n_ctx = 8"),
    (["--preset", "no-such-preset", "--out", "x.pdf"], "no preset called 'no-such-preset'"),
    (["--model", "missing.npz", "--out", "x.pdf"], "missing.npz"),
    (["--head", "5", "--out", "x.pdf"], "--head 5 does not exist"),
    (["--text", "the cat"], "required: --out"),
    (["--preset", "a", "--model", "b.npz", "--out", "x.pdf"], "not allowed with"),
])
def test_export_mistakes_are_one_line_and_exit_2(qapp, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    try:
        code = export_main(argv)
    except SystemExit as exc:  # argparse's own checks
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("stepformer export: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.pdf").exists()


def test_a_pdf_into_a_missing_folder_is_refused(qapp, tmp_path, small_model, capsys):
    path, _ = small_model
    assert export_main(["--model", str(path), "--out", str(tmp_path / "nope" / "h.pdf")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_help_documents_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for name in ("trace", "export", "presets"):
        assert re.search(rf"^\s+{name}\s+\S", text, re.M), name
    assert set(COMMANDS) >= {"trace", "export"}


def test_the_trace_command_is_wired_and_round_trips(tmp_path, small_model, capsys):
    path, model = small_model
    out = tmp_path / "t.json"
    assert cli.main(["trace", "the dog ran", "--model", str(path), "--json", str(out)]) == 0
    arrays = steps_from_json(json.loads(out.read_text()))
    trace = model.run(model.tokens("the dog ran"))
    assert list(arrays) == trace.names
    for name, value in arrays.items():
        assert np.array_equal(value, trace[name]), name
    assert cli.main(["trace", "the cat"]) == 0
    assert "hook_embed" in capsys.readouterr().out
    assert cli.main(["nonsense"]) == 2


def test_the_window_opens_a_lesson_or_scenario_from_the_command_line(qapp, tmp_path, capsys):
    from simulator.lessons import LESSON_DIR

    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "t", "tokens": "the", "stops": [{"step": "nope", "text": "x"}]}')
    assert cli.main(["--lesson", str(bad), "--screenshot", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stepformer: bad.json, stop 1:") and err.count("\n") == 1
    assert cli.main(["--scenario", str(tmp_path / "missing.npz"), "--screenshot", str(tmp_path / "b.png")]) == 2
    assert "missing.npz" in capsys.readouterr().err
    lesson = str(LESSON_DIR / "01_one_attention_head.json")
    assert cli.main(["--lesson", lesson, "--screenshot", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").stat().st_size > 10_000
