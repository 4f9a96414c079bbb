"""ArchMap round trips: a box for every step, clicking a box jumps the stepper, the
highlighted box follows stepping, head chips select heads, encoder-decoder columns."""
import pytest
from PySide6.QtCore import Qt

from simulator import ModelConfig, Transformer
from ui.views.arch_map import ArchMap, build_boxes


@pytest.fixture
def make_map(session_view):
    return lambda config=None, tokens="the cat sat on the mat": session_view(ArchMap, config, tokens, (420, 900))


def test_every_step_has_a_box_inside_the_widget(make_map, qtbot):
    session, bridge, arch = make_map()
    boxes = arch.boxes()
    assert set(session.trace.names) <= set(boxes)
    for name in session.trace.names:
        assert arch.rect().toRectF().contains(boxes[name]), name
    # the steps of one attention sublayer share one box; each residual add has its own
    assert boxes["blocks.0.attn.hook_q"] == boxes["blocks.0.hook_attn_out"]
    assert boxes["blocks.0.hook_resid_mid"] != boxes["blocks.0.hook_attn_out"]
    # flow is top to bottom
    assert boxes["hook_embed"].top() < boxes["blocks.0.attn.hook_q"].top() < boxes["probs"].top()


def test_clicking_a_box_jumps_the_stepper_to_its_first_step(make_map, qtbot):
    session, bridge, arch = make_map()
    target = arch.boxes()["blocks.1.hook_mlp_out"]
    with qtbot.waitSignal(bridge.sigStepChanged):
        qtbot.mouseClick(arch, Qt.MouseButton.LeftButton, pos=target.center().toPoint())
    assert session.stepper.name == "blocks.1.mlp.hook_pre"
    assert arch.boxes()[arch.current()] == target
    # one sublayer at a time: the click lands on the sublayer's visible step
    session.stepper.set_granularity("sublayer")
    qtbot.mouseClick(arch, Qt.MouseButton.LeftButton,
                     pos=arch.boxes()["blocks.0.attn.hook_q"].center().toPoint())
    assert session.stepper.name == "blocks.0.hook_attn_out"


def test_the_current_box_follows_stepping(make_map, qtbot):
    session, bridge, arch = make_map()
    session.stepper.jump("blocks.0.attn.hook_pattern")
    assert arch.current() == "blocks.0.attn.hook_pattern"
    attn_box = arch.boxes()[arch.current()]
    session.stepper.jump("blocks.0.hook_resid_mid")
    assert arch.boxes()[arch.current()] != attn_box
    # the painted highlight is on the current box: its centre pixel is the highlight colour
    image = arch.grab().toImage()
    centre = arch.boxes()["blocks.0.ln2.hook_normalized"].center().toPoint()
    session.stepper.jump("blocks.0.ln2.hook_normalized")
    after = arch.grab().toImage()
    assert image.pixelColor(centre) != after.pixelColor(centre)


def test_head_chips_select_the_head(make_map, qtbot):
    session, bridge, arch = make_map()
    chips = arch.head_chips("blocks.0.attn.hook_q")
    assert len(chips) == 2
    with qtbot.waitSignal(bridge.sigHeadChanged):
        qtbot.mouseClick(arch, Qt.MouseButton.LeftButton, pos=chips[1].center().toPoint())
    assert bridge.head == 1


def test_encoder_decoder_stacks_side_by_side(make_map, qtbot):
    session, bridge, arch = make_map(ModelConfig(arch="encoder-decoder"), ("the cat", "a dog"))
    arch.resize(800, 1000)
    boxes = arch.boxes()
    enc, dec = boxes["encoder.blocks.0.attn.hook_q"], boxes["decoder.blocks.0.attn.hook_q"]
    assert enc.right() < dec.left()
    assert boxes["decoder.blocks.0.cross_attn.hook_q"].left() == dec.left()


@pytest.mark.parametrize("config", [ModelConfig(residual="attnres"), ModelConfig(residual="denseformer"),
                                    ModelConfig(norm="post"), ModelConfig(positional="rope")],
                         ids=["attnres", "denseformer", "post", "rope"])
def test_other_wirings_have_a_box_per_step(config):
    model = Transformer(config)
    boxes = build_boxes(model.graph, config)
    covered = {n for b in boxes for n in b.names}
    assert covered == {n.name for n in model.graph.nodes}
    kinds = {b.kind for b in boxes}
    if config.residual in ("attnres", "denseformer"):
        assert "depth" in kinds
