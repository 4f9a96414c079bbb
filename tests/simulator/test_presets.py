"""The shipped presets: each loads, and predicts ≥ 99 % of the answer tokens of fresh held-out data."""
import json
import shutil

import pytest

from simulator import ModelFileError
from simulator.presets import PRESET_DIR, list_presets, load_preset
from simulator.tasks import TASKS, get_task, token_accuracy
from simulator.train import check_fits

TEXT_TASKS = ("text-words", "text-chars")  # no right answer to reach 99 % on: see test_text_presets.py
VISION = {"digits"}  # its accuracy is re-measured on the held-out images in tests/simulator/test_digits.py
PRESETS = [info["name"] for info in list_presets()
           if info["task"] not in TEXT_TASKS and info["task"] not in VISION and not info.get("cheats")]


def test_one_preset_per_task_with_its_command():
    infos = [i for i in list_presets() if not i.get("cheats")]  # the decoder that sees the future is extra
    # so are the models wired another way (lesson 6's attention over depth)
    assert [i["task"] for i in infos if "residual" not in i] == list(TASKS)
    for info in infos:
        if info["task"] in TEXT_TASKS:
            continue
        assert info["command"].startswith(f"python -m simulator.train --task {info['task']} ")
        assert f"--out assets/presets/{info['name']}.npz" in info["command"]
        assert info["look_for"] and info["description"]
        assert info["accuracy"] >= (0.95 if info["task"] in VISION else 0.99)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_reaches_99_percent_on_fresh_heldout_data(name):
    model, tokens, info = load_preset(name)
    task = get_task(info["task"])
    check_fits(model, task)
    model.run(tokens)
    assert token_accuracy(model, task.heldout(300, seed=424242)) >= 0.99


def test_unknown_or_broken_presets_are_reported(tmp_path):
    with pytest.raises(ModelFileError, match="reverse"):
        load_preset("no-such-preset")
    with pytest.raises(ModelFileError):
        load_preset("../presets/reverse")
    shutil.copy(PRESET_DIR / "reverse.npz", tmp_path / "reverse.npz")
    (tmp_path / "reverse.json").write_text("{not json")
    assert list_presets(tmp_path) == []
    with pytest.raises(ModelFileError, match="reverse.json"):
        load_preset("reverse", tmp_path)
    info = json.loads((PRESET_DIR / "reverse.json").read_text())
    (tmp_path / "reverse.json").write_text(json.dumps(info))
    assert [i["name"] for i in list_presets(tmp_path)] == ["reverse"]
    assert load_preset("reverse", tmp_path)[2]["task"] == "reverse"
