"""One colour scale per equation: in a + b = c and in the heads beside their concatenation,
the same number has the same colour on both sides."""
import numpy as np
import pytest

from simulator import ModelConfig, Session, Transformer
from ui.bridge import SessionBridge
from ui.pictures.step_pictures import build_picture
from ui.views.step_view import StepView

TEXT = "the cat sat on the mat"


@pytest.fixture
def view(qtbot):
    bridge = SessionBridge(Session(Transformer(ModelConfig(), seed=1), TEXT))
    v = StepView(bridge)
    qtbot.addWidget(v)
    v.resize(1280, 760)
    v.show()
    qtbot.waitExposed(v)
    return v


@pytest.mark.parametrize("step, titles", [
    ("blocks.0.hook_resid_mid", ["stream in", "attention output", "sum"]),
    ("blocks.1.hook_resid_post", ["stream in", "MLP output", "sum"]),
    ("blocks.0.attn.hook_concat", ["z head 0", "z head 1", "concat"]),
])
def test_every_heatmap_of_an_equation_has_one_colour_range(view, step, titles):
    view.bridge.stepper.jump(step)
    shown = view.heatmaps()
    ranges = {title: shown[title]._bar.levels() for title in titles}
    assert len(set(ranges.values())) == 1, ranges
    # and that range holds every value of every side
    lo, hi = ranges[titles[0]]
    for title in titles:
        values = shown[title].values()
        assert lo <= values.min() and values.max() <= hi


def test_a_head_and_its_slot_of_the_concatenation_have_the_same_colours(view):
    view.bridge.stepper.jump("blocks.0.attn.hook_concat")
    shown = view.heatmaps()
    z1, cat = shown["z head 1"], shown["concat"]
    d_head = z1.values().shape[1]
    assert np.array_equal(z1.values(), cat.values()[:, d_head:2 * d_head])
    assert np.array_equal(z1._rgba, cat._rgba[:, d_head:2 * d_head])


def test_pictures_that_are_not_equations_keep_their_own_ranges():
    model = Transformer(ModelConfig(), seed=1)
    trace = model.run(TEXT)
    pic = build_picture(trace, model, {}, "blocks.0.attn.hook_q")
    assert all(p.levels is None for p in pic.panels())
    residual = build_picture(trace, model, {}, "blocks.0.hook_resid_mid")
    assert len({p.levels for p in residual.panels()}) == 1 and residual.panels()[0].levels is not None
