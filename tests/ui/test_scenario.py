"""Scenarios: a student who opens the teacher's file lands on the same step, head, cell,
granularity, temperature and colours; a view that does not fit its model changes nothing."""
import numpy as np
import pytest

import simulator
from simulator import ModelConfig, Session, Transformer
from simulator.io import ModelFileError
from ui.bridge import SessionBridge
from ui.files import scenario
from ui.preferences import Preferences
from ui.theme import ThemeController

PATTERN = "blocks.0.attn.hook_pattern"


def make_bridge(seed=0) -> SessionBridge:
    model = Transformer(ModelConfig(), seed=seed)
    return SessionBridge(Session(model, model.tokens("the cat sat on the mat")))


@pytest.fixture
def theme(qapp, tmp_path):
    palette = qapp.palette()
    theme = ThemeController(qapp, Preferences(tmp_path / "s.json"))
    yield theme
    qapp.setPalette(palette)


def test_a_student_lands_where_the_teacher_was(qapp, tmp_path, theme):
    teacher = make_bridge(seed=4)
    teacher.add_view_part(theme)
    teacher.session.set_temperature(0.5)
    teacher.stepper.jump(PATTERN)
    teacher.set_head(1)
    teacher.select_cell(PATTERN, (1, 3, 2))
    teacher.set_highlight(False)
    theme.set_sequential("cividis")
    path = tmp_path / f"lesson{scenario.SUFFIX}"
    scenario.save_scenario(path, teacher)

    theme.set_sequential("viridis")
    student = make_bridge(seed=0)
    student.add_view_part(theme)
    view = scenario.open_scenario(path, student)
    assert view.step == PATTERN
    assert student.stepper.name == PATTERN and student.head == 1
    assert student.cell == (PATTERN, (1, 3, 2)) and student.highlight is False
    assert student.session.temperature == 0.5 and theme.sequential == "cividis"
    assert student.session.tokens == teacher.session.tokens
    for name, value in teacher.model.params.items():
        assert np.array_equal(student.model.params[name], value)
    assert np.array_equal(student.trace["probs"], teacher.trace["probs"])


def test_the_sublayer_view_is_kept(qapp, tmp_path):
    teacher = make_bridge()
    teacher.stepper.set_granularity("sublayer")
    teacher.stepper.go(4)
    scenario.save_scenario(tmp_path / "s.npz", teacher)
    student = make_bridge()
    scenario.open_scenario(tmp_path / "s.npz", student)
    assert student.stepper.granularity == "sublayer" and student.stepper.index == 4


def test_a_plain_model_file_opens_at_the_first_step(qapp, tmp_path):
    model = Transformer(ModelConfig(n_layers=1), seed=2)
    simulator.save(tmp_path / "m.npz", model, model.tokens("the dog ran"))
    bridge = make_bridge()
    bridge.stepper.go(7)
    scenario.open_scenario(tmp_path / "m.npz", bridge)
    assert bridge.model.config.n_layers == 1 and bridge.session.tokens == ["the", "dog", "ran"]
    assert bridge.stepper.index == 0


@pytest.mark.parametrize("view, message", [
    ({"step": "blocks.9.attn.hook_q"}, "no step called"),
    ({"head": 7}, "head 7 does not exist"),
    ({"cell": [PATTERN, [0, 9, 0]]}, "does not exist"),
    ({"granularity": "word"}, "granularity"),
    ({"temperature": -1}, "positive number"),
    ({"colour": "red"}, "unknown field 'colour'"),
])
def test_a_view_that_does_not_fit_is_refused_and_changes_nothing(qapp, tmp_path, view, message):
    model = Transformer()
    simulator.save(tmp_path / "bad.npz", model, model.tokens("the cat"), extra={"scenario": 1, "view": view})
    bridge = make_bridge()
    bridge.stepper.go(5)
    before = bridge.model
    with pytest.raises(ModelFileError, match=message):
        scenario.open_scenario(tmp_path / "bad.npz", bridge)
    assert bridge.model is before and bridge.stepper.index == 5


def test_open_scenario_in_the_window_is_undoable(make_window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QMessageBox


    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    teacher = make_bridge(seed=9)
    teacher.stepper.jump(PATTERN)
    path = str(tmp_path / f"t{scenario.SUFFIX}")
    scenario.save_scenario(path, teacher)
    w = make_window(size=None, show=False)
    before = w.session_bridge.model
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (path, ""))
    assert scenario.ask_open_scenario(w, w.session_bridge, w.set_model) == path
    assert w.session_bridge.stepper.name == PATTERN and w.session_bridge.model is not before
    w.undo_stack.undo()
    assert w.session_bridge.model is before
    saved = tmp_path / "again"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(saved), ""))
    written = scenario.ask_save_scenario(w, w.session_bridge)
    assert written.endswith(scenario.SUFFIX)
    meta, zf = simulator.io.load_meta(written)
    zf.close()
    assert meta["extra"]["view"]["step"] == w.session_bridge.stepper.name
