"""The wheel built from the repository carries the presets and lessons, and finds them once installed."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True)
    (path,) = out.glob("stepformer-*.whl")
    return path


def shipped_files(kind: str) -> list[str]:
    return sorted(p.name for p in (ROOT / "assets" / kind).iterdir() if p.suffix in (".json", ".npz"))


@pytest.mark.slow
def test_the_wheel_holds_every_preset_and_lesson(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in ("presets", "lessons"):
        files = shipped_files(kind)
        assert files, kind
        missing = [f for f in files if f"stepformer_assets/{kind}/{f}" not in names]
        assert not missing, f"{kind} missing from the wheel: {missing}"
    assert not any(n.startswith(("tests/", "assets/", "bench/")) for n in names)


@pytest.mark.slow
def test_an_installed_wheel_finds_its_presets_from_any_directory(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("import simulator, stepformer_assets\n"
            "from simulator.presets import list_presets\n"
            "from simulator.lessons import list_lessons\n"
            "print(simulator.__file__)\n"
            "print(stepformer_assets.__file__)\n"
            "print(len(list_presets()), len(list_lessons()))\n")
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    assert out[0].startswith(str(target)) and out[1].startswith(str(target))  # the wheel's copy, not the checkout
    n_presets, n_lessons = (int(v) for v in out[2].split())
    assert n_presets == len(shipped_files("presets")) // 2
    assert n_lessons == len(shipped_files("lessons"))
