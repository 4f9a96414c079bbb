"""Numbers are never dropped where they can be read: a cell too small for its number at the
usual type gets a smaller font (down to a legible minimum) and a picture that does not fit
sets its type smaller before its cells lose their numbers."""
import pytest
from PySide6.QtWidgets import QApplication

from simulator.lessons import LESSON_DIR
from ui.pictures import heatmap as heatmap_mod

LESSON_1_STEPS = ["blocks.0.attn.hook_q", "blocks.0.attn.hook_k", "blocks.0.attn.hook_v",
                  "blocks.0.attn.hook_scores_raw", "blocks.0.attn.hook_scores_scaled",
                  "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_z"]


@pytest.fixture
def window(make_window):
    return make_window(size=None)


def _settle(window, qtbot):
    for _ in range(3):
        QApplication.processEvents()
    window.step_view._place()
    QApplication.processEvents()


def _all_numbers(heatmap) -> bool:
    rows, cols = heatmap.values().shape
    return all(heatmap.cell_text(r, c) for r in range(rows) for c in range(cols))


def test_lesson_1_shows_every_number_of_the_head_when_presenting_at_1280x800(window, qtbot):
    from ui.app import create_app
    create_app()  # the application font the real app uses
    window.presentation.enter()
    window.showNormal()
    window.resize(1280, 800)
    window.lesson_player.open_file(LESSON_DIR / "01_one_attention_head.json")
    assert window.lesson_player.parentWidget().isVisible()  # with the lesson panel beside the picture
    for step in LESSON_1_STEPS:
        window.session_bridge.stepper.jump(step)
        _settle(window, qtbot)
        heatmap = window.step_view.current_heatmap()
        assert _all_numbers(heatmap), f"{step}: numbers missing"
        assert min(f.pointSizeF() for f in heatmap._cell_fonts[:heatmap._level + 1]) >= heatmap_mod.MIN_CELL_PT


WINDOW_STEPS = [
    ("blocks.0.ln1.hook_normalized", ["mean, spread", "normalised"]),
    ("blocks.0.hook_attn_out", ["attention output"]),  # the W_O step's result
    ("blocks.0.hook_resid_mid", ["stream in", "attention output", "sum"]),  # a + b = c
    ("blocks.0.hook_resid_post", ["stream in", "MLP output", "sum"]),
]


def _lesson_1_model(window):
    from simulator.lessons import load_lesson

    model, tokens = load_lesson(LESSON_DIR / "01_one_attention_head.json").open_stop(0)
    window.set_model(model, tokens, "lesson 1")
    assert model.config.d_model == 4


@pytest.mark.parametrize("model", ["default", "lesson 1"])
@pytest.mark.parametrize("step, titles", WINDOW_STEPS + [
    ("blocks.0.attn.hook_concat", ["concat"]),
])
def test_the_window_at_1280x800_shows_the_numbers_of(window, qtbot, step, titles, model):
    from ui.app import create_app
    create_app()  # the application font the real app uses (it makes the rest of the window taller)
    if model == "lesson 1":
        _lesson_1_model(window)
        titles = titles + (["concat"] if step == "blocks.0.hook_attn_out" else [])  # both sides of out = concat·W_O
    else:
        assert window.session_bridge.model.config.d_model == 16  # the classroom model a window opens on
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.width() == 1280)
    window.session_bridge.stepper.jump(step)
    _settle(window, qtbot)
    shown = window.step_view.heatmaps()
    for title in titles:
        assert _all_numbers(shown[title]), f"{step}: {title} has no numbers"


def test_a_smaller_font_is_used_before_numbers_are_dropped(qtbot, shown):
    import numpy as np
    hm = heatmap_mod.Heatmap()
    hm.set_data(np.full((4, 6), -1.25), [str(i) for i in range(4)], [str(i) for i in range(6)], "signed", "t")
    levels = []
    for width in range(600, 100, -10):
        shown(hm, width, width * 3 // 4)
        QApplication.processEvents()
        hm._refresh_number_visibility()
        levels.append(hm._level)
    smallest = len(heatmap_mod.TEXT_LEVELS) - 1
    assert smallest in levels  # the smallest legible font is used on the way down ...
    assert levels[-1] is None  # ... and only below it are the numbers dropped
    first_none = levels.index(None)
    assert all(level is None for level in levels[first_none:])
    assert levels[first_none - 1] == smallest


def test_where_no_numbers_fit_the_labels_keep_their_type(window, qtbot):
    """64 columns leave no room for numbers at 1280x800: smaller type would buy slightly larger
    coloured cells and unreadable token labels, so the picture keeps its type."""
    from simulator import ModelConfig, Transformer
    from ui.app import create_app
    create_app()
    model = Transformer(ModelConfig(d_model=64, n_heads=4, d_mlp=128), seed=0)
    window.set_model(model, model.tokens("the cat sat on the mat"), "wide")
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.width() == 1280)
    window.session_bridge.stepper.jump("blocks.0.hook_resid_mid")
    _settle(window, qtbot)
    shown = window.step_view.heatmaps()
    assert not any(_all_numbers(h) for h in shown.values())
    assert all(h._scale == pytest.approx(window.step_view._scale) for h in shown.values()), \
        {t: h._scale for t, h in shown.items()}
