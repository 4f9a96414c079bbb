"""Preferences are plain JSON: a settings file cannot run code, and odd values fall back to defaults."""
import json
import os
import subprocess
import sys

import pytest

from simulator import ModelConfig, Transformer, save
from ui.preferences import FILE_NAME, Preferences, config_folder

PICKLE_WRITER = """
import sys
from PySide6.QtCore import QSettings

class Evil:  # unpickling it opens (creates) the marker file
    def __reduce__(self):
        return (open, (sys.argv[2], "w"))

settings = QSettings(sys.argv[1], QSettings.Format.IniFormat)
for key in ("recentFiles", "theme", "maps/sequential", "maps/diverging"):
    settings.setValue(key, Evil())
settings.sync()
"""


def clean_env(home) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "STEPFORMER_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               QT_QPA_PLATFORM="offscreen")
    return env


@pytest.fixture
def hostile_home(tmp_path):
    """A home folder whose old-style Stepformer.conf holds pickled objects that create `marker`."""
    conf = tmp_path / "config" / "Stepformer" / "Stepformer.conf"
    conf.parent.mkdir(parents=True)
    marker = tmp_path / "marker"
    subprocess.run([sys.executable, "-c", PICKLE_WRITER, str(conf), str(marker)], check=True)
    assert b"@Variant" in conf.read_bytes() and not marker.exists()
    return tmp_path, marker


def test_the_pickle_in_the_old_settings_file_would_run(hostile_home):
    """Control: reading that file with QSettings, as Stepformer did, runs the payload."""
    home, marker = hostile_home
    code = "from ui.app import create_app\nfrom PySide6.QtCore import QSettings\napp = create_app()\n" \
           "QSettings().value('recentFiles')\n"
    subprocess.run([sys.executable, "-c", code], env=clean_env(home), check=True, timeout=60)
    assert marker.exists()


def test_stepformer_starts_without_running_the_pickle(hostile_home):
    home, marker = hostile_home
    model_file = home / "m.npz"
    save(model_file, Transformer(ModelConfig()), "the cat")
    result = subprocess.run([sys.executable, "-m", "ui", "--model", str(model_file), "--quit-after-paint"],
                            env=clean_env(home), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not marker.exists()
    saved = json.loads((home / "config" / "Stepformer" / "Stepformer" / FILE_NAME).read_text())
    assert saved["recentFiles"] == [str(model_file)]  # the new file, nothing taken from the old one


def test_a_point_in_the_old_file_does_not_crash_the_start(tmp_path):
    conf = tmp_path / "config" / "Stepformer" / "Stepformer.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("[General]\nrecentFiles=@Point(1 2)\ntheme=@Variant(\\0\\0\\0\\x7f)\n")
    model_file = tmp_path / "m.npz"
    save(model_file, Transformer(ModelConfig()), "the cat")
    result = subprocess.run([sys.executable, "-m", "ui", "--model", str(model_file), "--quit-after-paint"],
                            env=clean_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("content", [
    '{"recentFiles": {"x": 1}, "theme": 5}',
    '{"recentFiles": [1, 2], "theme": ["dark"]}',
    '{"theme": NaN}',
    "[" * 100_000,
    '{"recentFiles": "' + "x" * 300_000 + '"}',
    "\xff\xfe not json",
    '["dark"]',
])
def test_odd_settings_files_give_the_defaults(tmp_path, content):
    path = tmp_path / FILE_NAME
    path.write_text(content, encoding="latin-1" if "\xff" in content else "utf-8")
    prefs = Preferences(path)
    assert prefs.value("recentFiles", []) == []
    assert prefs.value("theme", "system") == "system"


def test_a_special_file_gives_the_defaults_at_once(tmp_path):
    fifo = tmp_path / FILE_NAME
    os.mkfifo(fifo)
    assert Preferences(fifo).value("theme", "system") == "system"
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")
    assert Preferences(link).value("theme", "system") == "system"


def test_values_round_trip_and_are_written_atomically(tmp_path):
    path = tmp_path / "sub" / FILE_NAME
    prefs = Preferences(path)
    prefs.setValue("theme", "dark")
    prefs.setValue("recentFiles", ["/a/b.npz", "/c.npz"])
    again = Preferences(path)
    assert again.value("theme") == "dark" and again.value("recentFiles") == ["/a/b.npz", "/c.npz"]
    assert sorted(p.name for p in path.parent.iterdir()) == [FILE_NAME]  # no temporary file left
    with pytest.raises(ValueError, match="a text or a list of texts"):
        prefs.setValue("theme", object())
    assert Preferences(path).value("theme") == "dark"


def test_the_tests_never_touch_the_real_config_folder(tmp_path_factory):
    assert str(config_folder()).startswith(str(tmp_path_factory.getbasetemp()))


def test_the_recent_files_menu_ignores_odd_values(tmp_path, qtbot):
    from PySide6.QtGui import QUndoStack
    from PySide6.QtWidgets import QMainWindow

    from simulator import Session
    from ui.bridge import SessionBridge
    from ui.edits import EditController
    from ui.files.model_file import FileController

    path = tmp_path / FILE_NAME
    path.write_text(json.dumps({"recentFiles": ["/ok.npz", "", "/two.npz"]}))
    window = QMainWindow()
    qtbot.addWidget(window)
    stack = QUndoStack()
    edits = EditController(SessionBridge(Session(Transformer(ModelConfig()), "the"), window), stack)
    files = FileController(window, edits, stack, Preferences(path))
    assert files.recent_files() == ["/ok.npz", "/two.npz"]
