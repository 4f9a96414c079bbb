"""Everything fits: every stop of every lesson and every step of the default model, at
1024×768, 1280×800 and 1920×1080, in the window and in presentation mode, with and without
the lesson panel. No part of the picture leaves its view, no two parts overlap, and the
explanation under the picture is shown whole (never cut mid-sentence)."""
import pytest
from PySide6.QtWidgets import QApplication

from simulator.lessons import list_lessons

SIZES = [(1024, 768), (1280, 800), (1920, 1080)]


@pytest.fixture
def window(make_window):
    return make_window(size=None)


def _check(window, where):
    view = window.step_view
    view._place()  # as after a resize: the layout the screen would show
    assert view.layout_fits(), f"{where}: a part of the picture leaves its view or overlaps another"
    panel = window.explain_panel
    assert panel.wanted_height() <= panel.height() + 2, f"{where}: the explanation is cut off"


@pytest.mark.slow
@pytest.mark.parametrize("presenting", [False, True], ids=["window", "present"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_lesson_stop_fits(at_size, window, qtbot, size, presenting):
    at_size(window, size, presenting)
    player = window.lesson_player
    for path in list_lessons():
        assert player.open_file(path)
        QApplication.processEvents()
        for i in range(len(player.lesson.stops)):
            player.go(i)
            QApplication.processEvents()
            if player.lesson.stops[i].view == "step":
                _check(window, f"{path.stem} stop {i + 1} at {size}")


@pytest.mark.slow
@pytest.mark.parametrize("presenting", [False, True], ids=["window", "present"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_step_of_the_default_model_fits(at_size, window, qtbot, size, presenting):
    at_size(window, size, presenting)
    stepper = window.session_bridge.stepper
    stepper.set_granularity("operation")
    for i in range(len(stepper)):
        stepper.go(i)
        QApplication.processEvents()
        _check(window, f"step {stepper.name} at {size}")


def test_presenting_a_lesson_at_1280x800_the_lines_keep_clear_of_the_pattern(at_size, window, qtbot):
    from simulator.lessons import LESSON_DIR
    at_size(window, (1280, 800), True)
    window.lesson_player.open_file(LESSON_DIR / "01_one_attention_head.json")
    window.session_bridge.stepper.jump("blocks.0.attn.hook_pattern")
    QApplication.processEvents()
    view = window.step_view
    lines = view.attention_lines().geometry()
    pattern = view.current_heatmap().parentWidget().geometry()
    assert not lines.intersects(pattern) and view.layout_fits()
