"""The tiled-attention view: it steps through the walk of the selected layer and head, and ends on
the model's own attention output."""
import numpy as np
import pytest

from simulator import ModelConfig, Session, Transformer
from ui.bridge import SessionBridge
from ui.views.tiled_view import TiledView


@pytest.fixture
def view(qtbot):
    cfg = ModelConfig(attention="window", window=3)
    bridge = SessionBridge(Session(Transformer(cfg, seed=0), "the cat sat on the mat and"))
    v = TiledView(bridge)
    qtbot.addWidget(v)
    return v


def test_stepping_shows_one_block_of_scores_and_ends_on_the_models_output(view):
    assert view.layer.count() == 2 and view.layer.currentText() == "layer 0 self-attention"
    view.block.setValue(3)
    assert len(view.states) == 1 + 3  # 7 keys in blocks of 3: before any, then 3 blocks
    view.go("next")
    assert view.scores.values().shape == (7, 3) and view.buttons["back"].isEnabled()
    assert "Block 1 read keys 0…2" in view.note.text()
    view.go("next")
    assert view.scores.labels()[1] == ["on", "the", "mat"]
    view.go("last")
    assert not view.buttons["next"].isEnabled()
    z = view.bridge.trace["blocks.0.attn.hook_z"][:, 0]
    np.testing.assert_allclose(view.output.values(), z, atol=1e-12)
    np.testing.assert_allclose(view.reference.values(), z, atol=1e-12)
    assert "Largest difference from full attention" in view.memory.text()
    assert "2 × 7 × 7 = 98" in view.memory.text()
    view.go("first")
    assert "Before any key" in view.note.text() and not view.buttons["first"].isEnabled()


def test_the_selected_head_and_layer_are_walked(view):
    view.bridge.set_head(1)
    view.layer.setCurrentIndex(1)
    view.go("last")
    np.testing.assert_allclose(view.output.values(), view.bridge.trace["blocks.1.attn.hook_z"][:, 1], atol=1e-12)


def test_a_linear_attention_model_has_nothing_to_tile(view):
    view.bridge.session.set_model(Transformer(ModelConfig(attention="linear"), seed=0))
    view.refresh()
    assert view.layer.count() == 0 and "linear attention never forms" in view.note.text()
    assert not view.buttons["next"].isEnabled()


def test_a_head_change_while_hidden_after_a_new_model_waits_for_the_view_to_be_shown(view, qtbot):
    model = Transformer(ModelConfig(arch="encoder-decoder", n_heads=4), seed=0)
    view.bridge.session.set_model(model, model.tokens((["the", "cat"], ["a", "dog"])))
    view.bridge.set_head(3)  # the layer list still names the old model's steps: no walk now
    view.show()
    qtbot.waitExposed(view)
    assert view.layer.currentText() == "Encoder layer 0 self-attention" and view.head == 3
