"""The first start's welcome: shown until "Do not show again" is ticked, remembered in one preference."""
from ui.preferences import Preferences
from ui.welcome import WELCOME_KEY, show_welcome


def test_the_welcome_is_shown_until_dismissed_for_good(qtbot, tmp_path):
    from PySide6.QtWidgets import QWidget
    parent = QWidget()
    qtbot.addWidget(parent)
    prefs = Preferences(tmp_path / "settings.json")
    box = show_welcome(parent, prefs)
    assert box is not None and box.isVisible() and not box.isModal()
    assert "Lesson" in box.text() and "F5" in box.text() and "Presets" in box.text()
    # the app opens on a trained preset, and the welcome names it (it once said "random weights")
    from ui.app import start_session
    assert start_session().model.config.vocab[:3] and "text-words" in box.text()
    assert "random weights" not in box.text()
    box.close()  # closed without ticking the box: shown again next time
    assert prefs.value(WELCOME_KEY, "") == ""
    box = show_welcome(parent, Preferences(tmp_path / "settings.json"))
    box.checkBox().setChecked(True)
    box.close()
    assert Preferences(tmp_path / "settings.json").value(WELCOME_KEY, "") == "dismissed"
    assert show_welcome(parent, Preferences(tmp_path / "settings.json")) is None
