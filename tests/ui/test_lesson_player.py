"""The lesson player: every shipped lesson opens and each stop lands on its step and head;
answers wait for the next click; a malformed file is refused with its error and changes nothing."""
import json

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from simulator.lessons import LESSON_DIR, list_lessons, load_lesson
from ui import messages
from ui.classroom.lesson_player import LOOK_INSIDE, VIEW_TABS


@pytest.fixture
def window(make_window):
    return make_window(size=(1100, 750))


@pytest.fixture
def warnings(monkeypatch):
    shown = []
    monkeypatch.setattr(messages, "refuse", lambda parent, title, text, *a: shown.append((title, text)))
    return shown


@pytest.mark.parametrize("path", list_lessons(), ids=lambda p: p.stem)
def test_every_shipped_lesson_opens_each_stop_on_its_step_and_head(window, path):
    player, bridge = window.lesson_player, window.session_bridge
    assert player.open_file(path)
    assert player.parentWidget().isVisible()
    for i, stop in enumerate(player.lesson.stops):
        player.go(i)
        assert player.index == i
        assert bridge.stepper.name == bridge.trace.graph.node(stop.step).name
        assert bridge.head == stop.head
        assert window.tabs.tabText(window.tabs.currentIndex()) == VIEW_TABS[stop.view]  # the stop's view
        if stop.view in LOOK_INSIDE:  # and inside Look inside, the view the stop names
            inside = window.current_view()
            assert inside.tabText(inside.currentIndex()) == LOOK_INSIDE[stop.view]
        want = player.lesson.open_stop(i)[1]
        if isinstance(want, np.ndarray):  # an image model's input
            assert np.array_equal(bridge.session.input, want)
        else:
            assert bridge.session.tokens == want
        assert player.where.text().startswith(f"Stop {i + 1} of {len(player.lesson.stops)}")
        if stop.text:
            assert player.text.text() == stop.text and player.text.isVisible()


def test_a_question_hides_its_answer_until_the_next_click(window, qtbot):
    player = window.lesson_player
    player.open_file(LESSON_DIR / "01_one_attention_head.json")
    i = next(i for i, s in enumerate(player.lesson.stops) if s.question and s.answer)
    player.go(i)
    assert player.question.isVisible() and not player.answer.isVisible()
    assert player.reveal_button.isVisible() and player.next_button.text().startswith("Reveal")
    player.next_button.click()
    assert player.index == i and player.answer.isVisible()
    assert player.answer.text() == player.lesson.stops[i].answer
    player.next_button.click()
    assert player.index == i + 1
    player.prev_button.click()
    assert player.index == i and not player.answer.isVisible()  # asked again on coming back


def test_opening_a_lesson_is_one_undoable_step(window):
    bridge = window.session_bridge
    before_model, before_tokens = bridge.model, bridge.session.tokens
    window.lesson_player.open_file(LESSON_DIR / "01_one_attention_head.json")
    assert bridge.model is not before_model and bridge.model.config.n_heads == 1
    assert window.undo_stack.isClean()  # nothing of the user's to save
    window.undo_stack.undo()
    assert bridge.model is before_model and bridge.session.tokens == before_tokens


def test_a_malformed_lesson_names_its_problem_and_changes_nothing(window, tmp_path, warnings):
    bridge, player = window.session_bridge, window.lesson_player
    bridge.stepper.go(3)
    good = json.loads((LESSON_DIR / "01_one_attention_head.json").read_text())
    good["stops"][2]["step"] = "blocks.4.attn.hook_q"
    bad = tmp_path / "mine.json"
    bad.write_text(json.dumps(good))
    model, index = bridge.model, bridge.stepper.index
    assert not player.open_file(bad)
    assert warnings and "stop 3" in warnings[0][1] and "blocks.4.attn.hook_q" in warnings[0][1]
    assert bridge.model is model and bridge.stepper.index == index and player.lesson is None
    (tmp_path / "broken.json").write_text("{\"title\": \"x\", ")
    assert not player.open_file(tmp_path / "broken.json")
    assert "not valid JSON" in warnings[1][1]


def test_the_lessons_menu_lists_every_lesson_and_opens_one(window):
    menu = window.lesson_player.menu
    texts = [a.text() for a in menu.actions()]
    for path in list_lessons():
        assert any(load_lesson(path).title in t for t in texts)
    assert any("Open lesson file" in t for t in texts)
    first = next(a for a in menu.actions() if "One attention head" in a.text())
    first.trigger()
    assert window.lesson_player.lesson.title == "One attention head by hand"
    assert window.lesson_player.index == 0
    close = next(a for a in menu.actions() if "Close lesson" in a.text())
    close.trigger()
    QApplication.processEvents()
    assert window.lesson_player.lesson is None and not window.lesson_player.parentWidget().isVisible()


def test_after_the_last_stop_the_clicker_shows_an_end_card_and_stops(window):
    player, bridge = window.lesson_player, window.session_bridge
    player.open_file(LESSON_DIR / "01_one_attention_head.json")
    n = len(player.lesson.stops)
    player.go(n - 1)
    while player._answer_hidden():
        player.forward()
    step = bridge.stepper.index
    assert player.forward() and player.at_end
    assert player.title.text() == player.lesson.title
    assert player.question.text() == "End of lesson" and player.question.isVisible()
    assert "Try next" in player.answer.text() and player.answer.isVisible()
    assert "Stop" not in player.where.text().split()[0]  # no "Stop 9 of 9" on the end card
    assert not player.next_button.isEnabled()
    window.presentation.forward()  # the clicker goes nowhere past the end card
    window.presentation.forward()
    assert player.at_end and bridge.stepper.index == step
    window.presentation.back()  # PageUp goes back to the last stop
    assert player.index == n - 1 and not player.at_end
    assert player.where.text().startswith(f"Stop {n} of {n}")


def test_a_lesson_may_say_what_to_try_next(window, tmp_path):
    data = json.loads((LESSON_DIR / "01_one_attention_head.json").read_text())
    data["next"] = "Now open lesson 2."
    data["stops"] = data["stops"][:1]
    path = tmp_path / "short.json"
    path.write_text(json.dumps(data))
    player = window.lesson_player
    player.open_file(path)
    player.forward()
    assert player.at_end and player.answer.text() == "Try next: Now open lesson 2."


def test_a_stop_chooses_the_tab_it_shows(window, tmp_path, warnings):
    data = json.loads((LESSON_DIR / "03_residual_stream.json").read_text())
    data["stops"][0]["view"] = "residual"
    data["stops"][1]["view"] = "step"
    path = tmp_path / "views.json"
    path.write_text(json.dumps(data))
    player = window.lesson_player
    player.open_file(path)
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Residual stream"
    assert type(window.current_view()).__name__ == "ResidualStreamView"
    player.forward()
    assert window.tabs.currentIndex() == 0
    data["stops"][0]["view"] = "nowhere"
    path.write_text(json.dumps(data))
    assert not player.open_file(path)
    assert "\"view\" must be one of" in warnings[-1][1]


def test_a_revealed_answer_is_scrolled_into_view_at_projector_type(window, qtbot):
    player = window.lesson_player
    assert player.open_file(LESSON_DIR / "02_multi_head_attention.json")
    player.set_font_scale(2.5)  # projector type: the question and its answer overflow the panel
    player.go(1)  # a question with a long answer
    assert player.scroll.verticalScrollBar().value() == 0
    player.forward()  # reveal
    view = player.scroll.viewport()

    def answer_in_view():
        top = player.answer.mapTo(view, player.answer.rect().topLeft()).y()
        bottom = top + player.answer.height()
        return 0 <= top and (bottom <= view.height() or top <= 12)  # all of it, or its start if taller

    qtbot.waitUntil(lambda: player.scroll.verticalScrollBar().maximum() > 0, timeout=3000)  # it overflows
    qtbot.waitUntil(answer_in_view, timeout=3000)
    assert player.scroll.verticalScrollBar().value() > 0  # scrolled down to the answer
    player.forward()
    assert player.scroll.verticalScrollBar().value() == 0  # the next stop starts at its top
    player.set_font_scale(1.0)



@pytest.mark.parametrize("size, left", [((1024, 768), True), ((1280, 800), False)])
def test_at_a_narrow_window_the_lesson_joins_the_left_docks_in_front(make_window, qtbot, size, left):
    """Three columns at 1024 pixels left the picture 440: there the lesson shares the Architecture and
    Parameters tabs (in front, every title readable); a wider window keeps it on the right."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QTabBar

    left_area, right_area = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
    window = make_window(size=size)
    dock = window.lesson_player.parentWidget()
    assert window.lesson_player.open_file(list_lessons()[0])
    qtbot.wait(50)
    assert dock.isVisible() and not dock.visibleRegion().isEmpty()
    assert window.dockWidgetArea(dock) == (left_area if left else right_area)
    if left:
        assert window.map_dock in window.tabifiedDockWidgets(dock)
        assert window.map_dock.visibleRegion().isEmpty()  # behind the lesson's tab
        bar = next(b for b in window.findChildren(QTabBar) if b.count() == 3 and b.isVisible())
        assert [bar.tabText(i) for i in range(3)] == ["Architecture", "Parameters", "Lesson"]
        assert all(bar.fontMetrics().horizontalAdvance(bar.tabText(i)) < bar.tabRect(i).width() for i in range(3))
        assert window.centralWidget().width() > 0.55 * size[0]  # the picture keeps more than half the width
    # where the reader puts it, it stays: the next lesson opens there
    window.lesson_player.close_lesson()
    window.addDockWidget(right_area, dock)
    assert window.lesson_player.open_file(list_lessons()[1])
    qtbot.wait(50)
    assert window.dockWidgetArea(dock) == right_area
