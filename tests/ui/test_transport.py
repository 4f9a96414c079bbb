"""The transport bar drives bridge.stepper and the head, and follows them back."""
import pytest
from PySide6.QtCore import Qt

from simulator import ModelConfig
from ui.app import default_session
from ui.bridge import SessionBridge
from ui.views.transport import Transport, section_label


@pytest.fixture
def transport(qtbot):
    bridge = SessionBridge(default_session())
    t = Transport(bridge)
    qtbot.addWidget(t)
    t.show()
    return t


def click(qtbot, t, action):
    qtbot.mouseClick(t.widgetForAction(action), Qt.MouseButton.LeftButton)


def test_buttons_move_the_cursor_and_disable_at_the_ends(transport, qtbot):
    t, stepper = transport, transport.bridge.stepper
    assert not t.act_back.isEnabled() and not t.act_first.isEnabled()
    click(qtbot, t, t.act_next)
    assert stepper.index == 1 and t.act_back.isEnabled()
    click(qtbot, t, t.act_last)
    assert stepper.index == len(stepper) - 1
    assert not t.act_next.isEnabled() and not t.act_last.isEnabled()
    click(qtbot, t, t.act_back)
    assert stepper.index == len(stepper) - 2
    click(qtbot, t, t.act_first)
    assert stepper.index == 0


def test_play_steps_on_the_timer_and_stops_at_the_end(transport, qtbot):
    t, stepper = transport, transport.bridge.stepper
    t.speed.setValue(60)
    stepper.go(len(stepper) - 4)
    click(qtbot, t, t.act_play)
    assert t.is_playing() and t.act_play.text() == "Pause" and t.timer.interval() == round(1000 / 60)
    qtbot.waitUntil(lambda: not t.is_playing(), timeout=2000)
    assert stepper.index == len(stepper) - 1 and t.act_play.text() == "Play" and not t.act_play.isChecked()


def test_play_from_the_last_step_starts_over_and_pause_stops(transport, qtbot):
    t, stepper = transport, transport.bridge.stepper
    stepper.last()
    t.set_playing(True)
    assert stepper.index == 0 and t.is_playing()
    click(qtbot, t, t.act_play)
    assert not t.is_playing()


def test_layer_selector_jumps_and_follows(transport):
    t, stepper, graph = transport, transport.bridge.stepper, transport.bridge.trace.graph
    labels = [t.layer_combo.itemText(i) for i in range(t.layer_combo.count())]
    assert labels == ["embedding", "layer 0", "layer 1", "output"]
    t.layer_combo.activated.emit(2)
    first_of_layer_1 = next(n for n in stepper.names if graph.node(n).layer == 1)
    assert stepper.name == first_of_layer_1 and section_label(graph.node(stepper.name)) == "layer 1"
    stepper.last()
    assert t.layer_combo.currentText() == "output"


def test_head_selector_and_digit_actions_drive_the_bridge(transport):
    t, bridge = transport, transport.bridge
    assert t.head_combo.count() == 2
    t.head_combo.activated.emit(1)
    assert bridge.head == 1 and t.head_actions[1].isChecked() and not t.head_actions[0].isChecked()
    t.head_actions[0].trigger()
    assert bridge.head == 0 and t.head_combo.currentIndex() == 0
    assert [a.isEnabled() for a in t.head_actions[:3]] == [True, True, False]


def test_granularity_combo_switches_the_stepper(transport):
    t, stepper = transport, transport.bridge.stepper
    n_ops = len(stepper)
    t.granularity_combo.activated.emit(1)
    assert stepper.granularity == "sublayer" and len(stepper) < n_ops
    stepper.set_granularity("operation")
    assert t.granularity_combo.currentIndex() == 0


def test_encoder_decoder_sections_name_the_stacks(qtbot):
    bridge = SessionBridge(default_session(ModelConfig(arch="encoder-decoder")))
    t = Transport(bridge)
    qtbot.addWidget(t)
    labels = [t.layer_combo.itemText(i) for i in range(t.layer_combo.count())]
    assert labels[0] == "encoder embedding" and "decoder layer 1" in labels and labels[-1] == "output"
