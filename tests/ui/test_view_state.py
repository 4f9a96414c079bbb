"""One view state for scenarios, the recovery file and lesson stops: the same view reads back
the same from either file, one rule decides what fits, and the window's parts (maps, tab,
lesson) travel with it."""
from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtGui import QUndoStack

import simulator
from simulator import Session, Transformer
from simulator.io import ModelFileError
from simulator.lessons import LESSON_DIR, list_lessons
from simulator.view_state import DIVERGING_MAPS, SEQUENTIAL_MAPS, ViewState
from ui.bridge import SessionBridge
from ui.files import recovery, scenario
from ui.pictures import colormaps

PATTERN = "blocks.0.attn.hook_pattern"
STATE = ViewState(step=PATTERN, granularity="operation", head=1, cell=(PATTERN, (1, 3, 2)), highlight=False,
                  temperature=0.5)


def make_bridge(seed=0) -> SessionBridge:
    model = Transformer(seed=seed)
    return SessionBridge(Session(model, model.tokens("the cat sat on the mat")))


def saved_by_recovery(bridge, folder) -> str:
    manager = recovery.RecoveryManager(bridge, QUndoStack(), folder=folder, delay_ms=10 ** 6)
    assert manager.save_now()
    path = str(folder / "copy.npz")
    with open(manager.path, "rb") as src, open(path, "wb") as dst:
        dst.write(src.read())
    manager.discard()
    return path


def test_a_scenario_and_a_recovery_file_with_the_same_view_give_the_same_state(qapp, tmp_path):
    teacher = make_bridge(seed=3)
    teacher.apply_view_state(STATE)
    assert teacher.view_state() == STATE
    scenario.save_scenario(tmp_path / "s.npz", teacher)
    rec = saved_by_recovery(teacher, tmp_path)

    _, _, from_scenario = scenario.read_scenario(tmp_path / "s.npz")
    _, _, extra = recovery.RecoveryManager.restore(rec)
    from_recovery, problems = recovery.view_in(extra)
    assert problems == {} and from_scenario == from_recovery == STATE

    a, b = make_bridge(), make_bridge()
    scenario.open_scenario(tmp_path / "s.npz", a)
    b.session.set_model(*recovery.RecoveryManager.restore(rec)[:2])
    assert recovery.restore_view(b, extra) == {}
    assert a.view_state() == b.view_state() == STATE


def test_a_bad_field_refuses_the_view_of_a_scenario_and_of_a_restore_alike(qapp, tmp_path):
    model = Transformer(seed=3)
    tokens = model.tokens("the cat sat on the mat")
    view = {**STATE.to_json(), "head": 7}  # the model has 2 heads
    simulator.save(tmp_path / "s.npz", model, tokens, extra={"scenario": 1, "view": view})
    simulator.save(tmp_path / "r.npz", model, tokens, extra={"saved_at": "2026-01-01T10:00:00", **view})

    bridge = make_bridge()
    with pytest.raises(ModelFileError, match="head 7 does not exist"):
        scenario.open_scenario(tmp_path / "s.npz", bridge)
    assert bridge.stepper.index == 0 and bridge.head == 0

    bridge.session.set_model(model, tokens)
    problems = recovery.restore_view(bridge, recovery.RecoveryManager.restore(tmp_path / "r.npz")[2])
    assert list(problems) == ["head"] and "head 7" in problems["head"]
    assert bridge.view_state() == ViewState.capture(bridge.session)  # nothing of the bad view was applied
    assert bridge.stepper.index == 0 and bridge.head == 0 and bridge.view_state() != replace(STATE, head=0)


def test_an_old_recovery_file_still_restores_its_view(qapp, tmp_path):
    """Recovery files written before the view state had maps, tab and lesson."""
    model = Transformer(seed=3)
    old = {"saved_at": "2026-01-01T10:00:00", "step": PATTERN, "granularity": "operation", "head": 1,
           "temperature": 0.5, "cell": [PATTERN, [1, 3, 2]], "highlight": False, "document": None,
           "undo_index": 2, "undo_count": 2}
    simulator.save(tmp_path / "r.npz", model, model.tokens("the cat sat on the mat"), extra=old)
    bridge = make_bridge()
    bridge.session.set_model(*recovery.RecoveryManager.restore(tmp_path / "r.npz")[:2])
    assert recovery.restore_view(bridge, old) == {}
    assert bridge.view_state() == STATE


def test_the_map_names_of_the_state_are_the_maps_the_pictures_know():
    assert tuple(colormaps.SEQUENTIAL_MAPS) == SEQUENTIAL_MAPS
    assert tuple(colormaps.DIVERGING_MAPS) == DIVERGING_MAPS


@pytest.fixture
def window(make_window):
    return make_window(size=None, show=False)


def test_the_window_saves_and_restores_maps_tab_and_lesson_stop(window, tmp_path):
    w = window
    lesson = list_lessons(LESSON_DIR)[0]
    assert w.lesson_player.open_file(lesson)
    w.lesson_player.go(1)
    w.theme.set_sequential("cividis")
    w.tabs.setCurrentIndex(w.tab_titles().index("Gradients"))
    state = w.session_bridge.view_state()
    assert state.lesson == (lesson.name, 1)  # a shipped lesson by name: it opens on a student's machine too
    assert (state.tab, state.sequential) == ("Gradients", "cividis")
    scenario.save_scenario(tmp_path / "s.npz", w.session_bridge)

    w.lesson_player.close_lesson()
    w.theme.set_sequential("viridis")
    w.tabs.setCurrentIndex(0)
    scenario.open_scenario(tmp_path / "s.npz", w.session_bridge, w.set_model)
    assert w.session_bridge.view_state() == state
    assert w.lesson_player.index == 1 and w.current_view() is not w.step_view
    cividis = colormaps.Maps.named("cividis", w.theme.diverging)
    assert w.session_bridge.maps == cividis
    w.tabs.setCurrentIndex(0)
    assert w.step_view.current_heatmap().maps == cividis  # the pictures colour with the state's maps


def test_the_window_refuses_a_view_it_cannot_show(window, tmp_path):
    w = window
    bridge = make_bridge()
    model, tokens = bridge.model, bridge.session.tokens
    for bad, field in (({"tab": "No such view"}, "no view called"), ({"lesson": ["nope.json", 0]}, "lesson")):
        simulator.save(tmp_path / "s.npz", model, tokens, extra={"scenario": 1, "view": bad})
        before = w.session_bridge.model
        with pytest.raises(ModelFileError, match=field):
            scenario.open_scenario(tmp_path / "s.npz", w.session_bridge, w.set_model)
        assert w.session_bridge.model is before
