"""An image model's input is its image: File ▸ Save, a scenario, the autosave and undoing a switch to
another model all keep the image (they used to hand the model its token labels and fail)."""
import numpy as np
import pytest

import simulator
from simulator import Session
from simulator.presets import load_preset
from ui.files.recovery import RecoveryManager
from ui.files.scenario import read_scenario, save_scenario


@pytest.fixture
def vit_window(make_window):
    model, image, _ = load_preset("digits")
    window = make_window(Session(model, image))
    drawn = image.copy()
    drawn[0, 0] = 16.0  # an image the preset did not ship with
    window.edits.set_tokens(drawn)
    return window


def test_file_save_writes_the_image(vit_window, tmp_path):
    path = tmp_path / "digit.npz"
    assert vit_window.files.save_as(str(path))
    model, image = simulator.load(path)
    assert np.array_equal(image, vit_window.session_bridge.session.input) and image[0, 0] == 16.0


def test_a_scenario_keeps_the_image(vit_window, tmp_path):
    path = tmp_path / "digit.stepformer.npz"
    save_scenario(path, vit_window.session_bridge)
    _, image, _ = read_scenario(path)
    assert np.array_equal(image, vit_window.session_bridge.session.input)


def test_the_autosave_keeps_the_image(vit_window, tmp_path):
    manager = RecoveryManager(vit_window.session_bridge, vit_window.undo_stack, vit_window, folder=tmp_path)
    assert manager.save_now(), manager.last_error
    _, image, _ = RecoveryManager.restore(manager.path)
    assert np.array_equal(image, vit_window.session_bridge.session.input)
    manager.discard()


def test_undoing_a_switch_to_a_text_model_brings_the_image_back(vit_window):
    before = vit_window.session_bridge.session.input.copy()
    model, tokens, _ = load_preset("copy")
    vit_window.set_model(model, tokens, "Open a text model")
    assert vit_window.session_bridge.model.config.arch != "vit"
    vit_window.undo_stack.undo()
    session = vit_window.session_bridge.session
    assert session.model.config.arch == "vit" and np.array_equal(session.input, before)
