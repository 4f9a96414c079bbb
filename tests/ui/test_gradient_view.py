"""The gradient-flow view: bars from the current model and input, and the wiring comparison."""
import numpy as np
import pytest

from simulator import Session, Transformer
from simulator.gradient_flow import (
    compare_gradient_flow,
    gradient_flow,
    next_token_targets,
    relative_to_last,
    residual_takeaway,
)
from ui.bridge import SessionBridge
from ui.views.gradient_view import MODES, GradientFlowView, short_name


@pytest.fixture
def view(qtbot):
    bridge = SessionBridge(Session(Transformer(seed=0), "the cat sat on the mat"))
    v = GradientFlowView(bridge)
    qtbot.addWidget(v)
    v.depth.setValue(3)  # keep the automatic comparison on show cheap
    yield v
    v.shutdown()


def test_bars_show_the_gradients_of_the_current_input(view):
    session = view.bridge.session
    tokens = session.tokens
    want = gradient_flow(session.model, tokens, tokens[1:] + tokens[-1:], [True] * (len(tokens) - 1) + [False])
    np.testing.assert_allclose(view.flow["layer_norms"], want["layer_norms"])
    rows = dict(view.param_rows())
    assert "blocks.0.attn.W_Q" in rows and "blocks.0.ln1.w" not in rows and "blocks.0.mlp.b_in" not in rows
    assert rows["unembed.W_U"] == pytest.approx(want["param_norms"]["unembed.W_U"])
    view.which.setCurrentIndex(view.which.findData("all"))
    assert len(view.param_rows()) == len(session.model.params)
    assert f"{want['loss']:.3f}" in view.summary.text()


def test_new_tokens_redraw_and_one_token_is_explained(qtbot, view):
    view.show()
    before = view.flow["loss"]
    view.bridge.session.set_tokens("the dog ran on a mat")
    assert view.flow["loss"] != before
    view.bridge.session.set_tokens("the")
    assert view.flow is None and "two tokens" in view.summary.text()
    assert view.param_rows() == []


def test_hidden_view_waits_until_shown(view):
    view.hide()
    before = view.flow["loss"]
    view.bridge.session.set_tokens("a cat ran")
    assert view.flow["loss"] == before  # nothing computed while hidden
    view.show()
    assert view.flow["loss"] != before


def test_comparison_runs_off_the_gui_thread_and_draws_every_wiring(qtbot, view):
    view.seed.setValue(3)
    with qtbot.waitSignal(view.sigComparisonReady, timeout=20000) as ready:
        view.compare()
        assert not view.compare_button.isEnabled()
    result = ready.args[0]
    assert set(result) == set(MODES) and all(len(v) == 3 for v in result.values())
    again = compare_gradient_flow(3, tuple(MODES), seed=3)
    np.testing.assert_allclose(result[("none", "pre")], again[("none", "pre")])
    assert len(view.compare_plot.getPlotItem().listDataItems()) == len(MODES)
    assert view.compare_button.isEnabled() and "3-layer" in view.compare_note.text()


def test_next_token_targets_for_both_kinds_of_input():
    assert next_token_targets(["a", "b", "c"]) == (["a", "b", "c"], ["b", "c", "c"], [True, True, False])
    src, tgt = ["1"], ["<bos>", "one"]
    assert next_token_targets((src, tgt))[1:] == (["one", "one"], [True, False])
    assert next_token_targets(["a"]) is None


def test_the_wirings_are_measured_when_their_page_is_first_shown(qtbot, view):
    view.show()
    assert view.comparison is None
    with qtbot.waitSignal(view.sigComparisonReady, timeout=20000):
        view.pages.setCurrentIndex(1)
    assert set(view.comparison) == set(MODES)


def test_short_parameter_names():
    assert short_name("blocks.1.attn.W_Q") == "L1 attn.W_Q"
    assert short_name("decoder.blocks.0.cross_attn.W_K") == "dec L0 cross_attn.W_K"
    assert short_name("unembed.W_U") == "unembed.W_U"


def test_an_encoder_is_scored_on_its_own_input(qtbot):
    from simulator import ModelConfig

    model = Transformer(ModelConfig(arch="encoder", attention="full"), seed=1)
    bridge = SessionBridge(Session(model, "the cat sat"))
    v = GradientFlowView(bridge)
    qtbot.addWidget(v)
    v.depth.setValue(3)
    v.show()
    tokens = bridge.session.tokens
    want = gradient_flow(model, tokens, list(tokens), [True] * len(tokens))
    assert v.flow["loss"] == pytest.approx(want["loss"])
    assert "its own input" in v.summary.text()
    v.shutdown()


def test_the_takeaway_under_the_wirings_is_what_the_drawn_curves_show(qtbot, view):
    view.depth.setValue(12)
    with qtbot.waitSignal(view.sigComparisonReady, timeout=60000):
        view.compare()
    drawn = {}
    for item, mode in zip(view.compare_plot.getPlotItem().listDataItems(), MODES):
        drawn[mode] = item.yData  # the data as given (getData returns it on the log axis)
    for mode, share in drawn.items():  # each curve is the measured one divided by its last layer
        np.testing.assert_allclose(share, view.comparison[mode] / view.comparison[mode][-1])
    standard, none = drawn[("standard", "pre")], drawn[("none", "pre")]
    assert none[0] < standard[0] / 4  # without residuals the first layer gets far less of the gradient
    assert np.mean(none[:4]) < np.mean(standard[:4])  # and so do the early layers as a whole
    text = view.takeaway.text()
    assert "with residual connections" in text and "times less" in text
    assert f"{standard[0]:.2g}×" in text and f"only {none[0]:.2g}×" in text


def test_the_takeaway_is_read_off_the_curves_not_written_in_advance():
    flat = {("standard", "pre"): np.array([0.5, 1.0]), ("none", "pre"): np.array([0.9, 1.0])}
    assert "no difference" in residual_takeaway(flat)
    shallow, deep = (relative_to_last(compare_gradient_flow(d, (("standard", "pre"), ("none", "pre")), n_samples=4))
                     for d in (3, 12))
    gap = [r[("standard", "pre")][0] / r[("none", "pre")][0] for r in (shallow, deep)]
    assert gap[1] > gap[0] > 1  # "the deeper the model, the larger the gap"


def test_gradients_and_backward_pass_use_the_training_loss_of_a_trained_task(qtbot):
    from simulator.backward import batch_loss_and_grads
    from simulator.engine import BackwardWalk
    from simulator.presets import load_preset
    from simulator.tasks import get_task

    for preset, key in (("reverse", (3, 1, 4, 2)), ("induction", (2, 7, 0, 5, 9, 3))):
        model, _, info = load_preset(preset)
        example = get_task(info["task"]).example(key)
        session = Session(model, example.tokens)
        # the Training tab's loss, answer tokens only, over the answers the input holds: the last
        # position's target is the token after the input, which the input does not show
        counted = example.mask.copy()
        counted[-1] = False
        want, _ = batch_loss_and_grads(model, [example.tokens], [example.targets], [counted])
        everything = gradient_flow(model, *next_token_targets(example.tokens))["loss"]
        assert abs(everything - want) > 1e-3  # the two losses differ, so the test can tell them apart
        v = GradientFlowView(SessionBridge(session))
        qtbot.addWidget(v)
        v.show()
        assert v.flow["loss"] == pytest.approx(want)
        assert "answer tokens" in v.summary.text() and "Training tab" in v.summary.text()
        walk = BackwardWalk(session)
        assert walk.loss == pytest.approx(want) and "answer tokens" in walk.loss_what
        v.shutdown()
    session = Session(Transformer(seed=0), "the cat sat on the mat")  # no task: every next token counts
    assert BackwardWalk(session).loss_what == "every next token of the input"
