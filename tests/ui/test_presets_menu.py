"""The Presets menu: one item per shipped preset; opening one is an undoable change of model."""
import pytest

from simulator.presets import list_presets
from simulator.tasks import get_task
from ui import messages
from ui.presets_menu import open_preset


@pytest.fixture
def window(make_window):
    return make_window(size=None, show=False)


def _presets_menu(window):
    return next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Presets")


def test_menu_lists_every_preset_and_opens_it(window):
    menu = _presets_menu(window)
    titles = [a.text() for a in menu.actions()]
    assert titles == [info["title"] for info in list_presets()]
    before = window.session_bridge.model
    next(a for a in menu.actions() if a.text() == "Reverse").trigger()
    reverse = get_task("reverse")
    assert window.session_bridge.model.config == reverse.config
    assert window.session_bridge.session.tokens == reverse.demo_tokens()
    assert "mirrored" in window.preset_hint.text() and window.preset_hint.isVisible()
    assert window.training_panel.task.name == "reverse"
    window.undo_stack.undo()
    assert window.session_bridge.model is before


def test_a_broken_preset_is_reported_and_changes_nothing(window, monkeypatch):
    shown = []
    monkeypatch.setattr(messages, "refuse", lambda *a: shown.append(a[2]))
    before = window.session_bridge.model
    assert not open_preset(window, "no-such-preset")
    assert window.session_bridge.model is before and "no preset called" in shown[0]


def test_opening_a_preset_resets_the_temperature_to_1(window):
    session = window.session_bridge.session
    session.set_temperature(2.5)
    assert open_preset(window, "reverse")
    assert window.session_bridge.session.temperature == 1.0
    assert window.session_bridge.trace.temperature == 1.0


def test_a_language_model_shows_its_held_out_loss_not_an_accuracy(window):
    assert open_preset(window, "text-chars")
    text = window.preset_hint.text()
    info = next(i for i in list_presets() if i["name"] == "text-chars")
    bits = info["heldout_bits_per_token"]
    assert f"{bits:.2f} bits per character" in text and "accuracy" not in text
    assert f"about {2 ** bits:.1f} equally likely characters" in text
    assert "bits per character" in window.statusBar().currentMessage()
    assert open_preset(window, "text-words")
    assert "bits per word" in window.preset_hint.text()


def test_a_task_with_right_answers_still_shows_its_accuracy(window):
    assert open_preset(window, "reverse")
    info = next(i for i in list_presets() if i["name"] == "reverse")
    assert f"Held-out token accuracy {100 * info['accuracy']:.1f} %" in window.preset_hint.text()
    assert "bits" not in window.preset_hint.text()
