"""The backward-pass tab: its own cursor, the gradient of the step for the selected head, edits."""
import numpy as np
from PySide6.QtCore import Qt

from simulator import ModelConfig, Session, Transformer
from simulator.backward import loss_and_grads
from simulator.gradient_flow import next_token_targets
from ui.bridge import SessionBridge
from ui.views.backward_view import BackwardView

TEXT = "the cat sat on the mat"


def shown(qtbot, session: Session) -> BackwardView:
    view = BackwardView(SessionBridge(session))
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    qtbot.waitExposed(view)
    return view


def grads(session: Session):
    return loss_and_grads(session.model, *next_token_targets(session.tokens, session.model.config.arch))


def test_next_moves_the_walk_and_shows_that_steps_gradient_for_the_head(qtbot):
    view = shown(qtbot, Session(Transformer(seed=1), TEXT))
    walk, s = view.walk, view.bridge.session
    assert walk.name == "probs" and not view.back_button.isEnabled()
    qtbot.mouseClick(view.next_button, Qt.MouseButton.LeftButton)
    assert walk.name == "logits"
    loss, g = grads(s)
    np.testing.assert_allclose(view.grad_map.values(), g["logits"])
    assert f"{loss:.4f}" in view.loss_label.text()
    assert view.position.text() == f"backward step 2 of {len(walk)} — logits"
    assert view.formula.formula() == walk.step.formula and "softmax(logits) − target" in view.formula.text()
    np.testing.assert_allclose(view.weight_map.values(), g["unembed.W_U"])  # the step reads W_U
    np.testing.assert_allclose(view.value_map.values(), s.trace["logits"])
    stepper = view.bridge.stepper.index
    walk.jump("blocks.1.attn.hook_q")
    qtbot.mouseClick(view.back_button, Qt.MouseButton.LeftButton)  # one step towards the loss
    qtbot.mouseClick(view.next_button, Qt.MouseButton.LeftButton)
    assert walk.name == "blocks.1.attn.hook_q" and view.bridge.stepper.index == stepper
    np.testing.assert_allclose(view.grad_map.values(), g["blocks.1.attn.hook_q"][:, 0, :])  # [pos, d_head]
    np.testing.assert_allclose(view.weight_map.values(), g["blocks.1.attn.W_Q"][0])
    assert "head 0" in view.grad_map.title() and "W_Q" in view.weight_map.title()
    assert view.grad_map.labels()[0] == s.trace.token_labels("blocks.1.ln1.hook_normalized")
    qtbot.mouseClick(view.last_button, Qt.MouseButton.LeftButton)
    assert walk.name == "hook_embed" and not view.next_button.isEnabled()


def test_set_head_changes_the_slice(qtbot):
    view = shown(qtbot, Session(Transformer(seed=1), TEXT))
    view.walk.jump("blocks.0.attn.hook_pattern")
    _, g = grads(view.bridge.session)
    np.testing.assert_allclose(view.grad_map.values(), g["blocks.0.attn.hook_pattern"][0])  # [q, k]
    view.bridge.set_head(1)
    np.testing.assert_allclose(view.grad_map.values(), g["blocks.0.attn.hook_pattern"][1])
    np.testing.assert_allclose(view.value_map.values(), view.bridge.trace["blocks.0.attn.hook_pattern"][1])
    assert "head 1" in view.grad_map.title() and view.weight_map.isHidden()  # softmax reads no weight


def test_editing_a_weight_changes_the_shown_gradient(qtbot):
    view = shown(qtbot, Session(Transformer(seed=1), TEXT))
    s = view.bridge.session
    view.walk.jump("blocks.0.attn.hook_k")
    before = view.grad_map.values()
    s.set_param("blocks.0.attn.W_Q", s.model.params["blocks.0.attn.W_Q"] * -2)
    assert view.walk.name == "blocks.0.attn.hook_k"
    after = view.grad_map.values()
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, grads(s)[1]["blocks.0.attn.hook_k"][:, 0, :])


def test_encoder_decoder_cross_attention(qtbot):
    model = Transformer(ModelConfig(arch="encoder-decoder"), seed=2)
    view = shown(qtbot, Session(model, (["the", "cat", "sat"], "a dog ran on the mat")))
    view.bridge.set_head(1)
    view.walk.jump("decoder.blocks.0.cross_attn.hook_k")
    _, g = grads(view.bridge.session)
    np.testing.assert_allclose(view.grad_map.values(), g["decoder.blocks.0.cross_attn.hook_k"][:, 1, :])
    assert view.grad_map.labels()[0] == ["the", "cat", "sat"]  # keys come from the encoder's tokens
    view.walk.jump("decoder.blocks.0.cross_attn.hook_pattern")
    assert view.grad_map.values().shape == (6, 3)
    assert view.grad_map.labels() == (["a", "dog", "ran", "on", "the", "mat"], ["the", "cat", "sat"])


def test_one_token_explains_instead_of_drawing(qtbot):
    view = shown(qtbot, Session(Transformer(seed=1), TEXT))
    view.bridge.session.set_tokens("the")
    assert "two tokens" in view.title.text() and view.grad_map.isHidden()
    assert not view.next_button.isEnabled()
    view.bridge.session.set_tokens("the cat")
    assert view.grad_map.isVisible() and view.walk.step.grad.shape[0] == 2


def test_hidden_tab_computes_nothing_until_shown(make_window):
    window = make_window(Session(Transformer(seed=1), TEXT), size=None)
    index = next(i for i in range(window.tabs.count()) if window.tabs.tabText(i) == "Backward pass")
    window.tabs.setCurrentIndex(index)
    view = window.current_view()
    assert isinstance(view, BackwardView) and view.walk.step.name == "probs"
    window.tabs.setCurrentIndex(0)
    view.bridge.session.set_tokens("the dog ran")
    assert view.walk._steps is None  # hidden: the gradients wait
    window.tabs.setCurrentIndex(index)
    assert view.grad_map.values().shape == (3, 13)


def test_crowded_labels_are_thinned_and_come_back_when_there_is_room(qtbot):
    view = shown(qtbot, Session(Transformer(seed=1), TEXT))
    view.walk.jump("logits")
    vocab = list(view.bridge.model.config.vocab)
    view.resize(700, 600)
    qtbot.waitUntil(lambda: "" in view.grad_map.labels()[1])
    cols = view.grad_map.labels()[1]
    assert cols[0] == vocab[0] and all(c in ("", v) for c, v in zip(cols, vocab))
    narrow = sum(map(bool, cols))
    view.resize(2400, 900)
    qtbot.waitUntil(lambda: sum(map(bool, view.grad_map.labels()[1])) > narrow)
    np.testing.assert_allclose(view.grad_map.values(), grads(view.bridge.session)[1]["logits"])


def test_the_loss_label_says_which_loss_is_walked(qtbot):
    from simulator.presets import load_preset

    model, tokens, _ = load_preset("reverse")
    view = shown(qtbot, Session(model, tokens))
    assert f"{view.walk.loss:.4f}</b> on the answer tokens" in view.loss_label.text()
    assert "positions 4–6" in view.loss_label.toolTip() and "Training tab" in view.loss_label.toolTip()
    other = shown(qtbot, Session(Transformer(seed=1), TEXT))
    assert other.loss_label.text().endswith("on every next token")
