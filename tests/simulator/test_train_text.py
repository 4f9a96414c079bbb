"""The text trainer: a two-step run records what it cost and which code made it, on the threads it
was told; without the package that sets the threads it says so and writes nothing."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import load
from simulator.train_text import main

threadpoolctl = pytest.importorskip("threadpoolctl", reason="the trainer's extra: pip install -e '.[train]'")
ROOT = Path(__file__).resolve().parents[2]


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]


def test_a_two_step_run_records_its_cost_and_its_commit(tmp_path):
    out = tmp_path / "words.npz"
    assert main(["--task", "text-words", "--steps", "2", "--batch-size", "2", "--out", str(out)]) == 0
    info = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert info["steps"] == 2 and info["finished"] and info["threads"] == 1
    assert info["command"] == f"python -m simulator.train_text --task text-words --steps 2 --batch-size 2 --out {out}"
    assert isinstance(info["train_cpu_seconds"], int) and 0 <= info["train_cpu_seconds"] <= info["train_seconds"] + 5
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert info["commit"].removesuffix("+changes") == head.stdout.strip()
    model, tokens = load(out)
    assert model.run(tokens)["logits"].shape == (len(tokens), len(model.config.vocab))


def test_training_runs_on_the_threads_it_is_told_and_gives_them_back(tmp_path, monkeypatch):
    import simulator.train_text as train_text

    if not _blas_threads():
        pytest.skip("numpy's matrix library is not one threadpoolctl can see")
    seen = []
    real_train = train_text.train

    def watching_train(*args, **kwargs):
        seen.append(_blas_threads())
        return real_train(*args, **kwargs)

    monkeypatch.setattr(train_text, "train", watching_train)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert main(["--task", "text-words", "--steps", "1", "--batch-size", "2",
                     "--out", str(tmp_path / "w.npz")]) == 0
        assert _blas_threads() == before
    assert seen == [[1] * len(before)]


def test_zero_threads_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--task", "text-words", "--steps", "1", "--threads", "0", "--out", str(tmp_path / "w.npz")])
    assert "--threads must be at least 1; got 0" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_without_threadpoolctl_it_says_what_to_install_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails as if it were not installed
    assert main(["--task", "text-words", "--steps", "1", "--out", str(tmp_path / "w.npz")]) == 2
    err = capsys.readouterr().err
    assert "threadpoolctl" in err and "pip install" in err
    assert not list(tmp_path.iterdir())
