"""The start-up check names a missing Qt system library in one line instead of letting Qt abort."""
import pytest

import ui.cli
from ui import qt_libraries
from ui.qt_libraries import XCB_LIBRARIES, missing_libraries, problem, uses_xcb


def without(*gone):
    return lambda soname: soname not in gone


def test_a_missing_xcb_library_is_named_with_its_package():
    line = problem({"QT_QPA_PLATFORM": "xcb"}, "linux", without("libxcb-cursor.so.0"))
    assert "\n" not in line
    assert "libxcb-cursor.so.0" in line and line.endswith("sudo apt-get install libxcb-cursor0")


def test_several_missing_libraries_share_one_line():
    line = problem({"DISPLAY": ":0"}, "linux", without("libxcb-cursor.so.0", "libEGL.so.1"))
    assert "\n" not in line and "libraries" in line
    assert line.endswith("install libegl1 libxcb-cursor0")


@pytest.mark.parametrize("platform", ["offscreen", "minimal", "wayland"])
def test_xcb_libraries_are_not_needed_off_x11(platform):
    env = {"QT_QPA_PLATFORM": platform}
    assert problem(env, "linux", without(*XCB_LIBRARIES)) is None
    assert missing_libraries(env, "linux", without("libEGL.so.1")) == {"libEGL.so.1": "libegl1"}  # Qt GUI needs it


def test_which_platform_qt_will_use():
    assert uses_xcb({}) and uses_xcb({"DISPLAY": ":0"}) and uses_xcb({"QT_QPA_PLATFORM": "wayland;xcb"})
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb:dpi=96"})
    assert not uses_xcb({"QT_QPA_PLATFORM": "offscreen"})
    assert not uses_xcb({"WAYLAND_DISPLAY": "wayland-0"})


def test_nothing_is_checked_off_linux():
    assert problem({"QT_QPA_PLATFORM": "xcb"}, "darwin", lambda soname: False) is None


def test_the_real_loader_tells_present_from_absent():
    assert qt_libraries._loads("libc.so.6")
    assert not qt_libraries._loads("libstepformer-not-there.so.0")


def test_the_command_exits_with_the_line_before_qt_starts(monkeypatch, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(qt_libraries, "_loads", without("libxcb-cursor.so.0"))
    monkeypatch.setattr(ui.cli, "_run_window", lambda *a: pytest.fail("Qt was started"))
    assert ui.cli.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "libxcb-cursor.so.0" in err and "apt-get install libxcb-cursor0" in err


def test_the_command_starts_qt_when_everything_loads(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(qt_libraries, "_loads", lambda soname: True)
    monkeypatch.setattr(ui.cli, "_run_window", lambda *a: 0)
    assert ui.cli.main([]) == 0
