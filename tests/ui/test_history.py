"""The undo history keeps at most UNDO_STEPS steps and HISTORY_BYTES of arrays (ui/history.py)."""
from __future__ import annotations

import gc
import weakref

import numpy as np

import simulator
import ui.history
from simulator import ModelConfig, Transformer
from simulator.budget import weight_bytes

CONFIG = ModelConfig(d_model=32, d_mlp=64, n_layers=2)


def models(n: int) -> list[Transformer]:
    return [Transformer(CONFIG, seed=s) for s in range(1, n + 1)]


def test_old_models_are_let_go_when_the_history_outgrows_its_budget(make_window, monkeypatch):
    size = weight_bytes(CONFIG)
    monkeypatch.setattr(ui.history, "HISTORY_BYTES", 3 * size)  # three models beside the shown one
    w = make_window()
    first = w.session_bridge.model
    made = models(6)
    alive = [weakref.ref(m) for m in [first, *made]]
    for m in made:
        w.edits.set_model(m, w.session_bridge.session.tokens, f"model {m.seed}")
    tokens = w.session_bridge.session.tokens
    del first, made, m
    gc.collect()
    assert w.history_limit.kept_bytes() <= 3 * size
    gone = [r() is None for r in alive]
    assert gone == [True] * 3 + [False] * 4  # the oldest went, the newest stay
    # undo walks back through the remembered models only, each the one it was, then stops
    seen = [w.session_bridge.model.seed]
    while w.undo_stack.canUndo():
        w.act_undo.trigger()
        seen.append(w.session_bridge.model.seed)
    assert seen == [6, 5, 4, 3]
    assert w.session_bridge.session.tokens == tokens
    assert not w.act_undo.isEnabled()
    while w.undo_stack.canRedo():
        w.act_redo.trigger()
    assert w.session_bridge.model.seed == 6


def test_small_steps_are_kept_while_a_big_one_pushes_the_oldest_out(make_window, monkeypatch):
    monkeypatch.setattr(ui.history, "HISTORY_BYTES", 2 * weight_bytes(CONFIG))
    w = make_window()
    for i, v in enumerate((0.5, 0.25, 0.125)):
        assert w.apply_edit("embed.W_E", v, (0, i)) is None
    big = models(3)
    for m in big:
        w.edits.set_model(m, w.session_bridge.session.tokens, "big")
    # the three cell edits and the first model change are forgotten, the newer two remembered
    w.act_undo.trigger()
    w.act_undo.trigger()
    assert w.session_bridge.model is big[0] and not w.undo_stack.canUndo()
    assert w.undo_stack.count() == 2  # the forgotten steps are gone, the two undone ones redo
    w.act_redo.trigger()
    w.act_redo.trigger()
    assert w.session_bridge.model is big[2]


def test_forgetting_the_step_just_done_keeps_a_saved_file_saved(make_window, monkeypatch, tmp_path):
    monkeypatch.setattr(ui.history, "HISTORY_BYTES", 0)
    w = make_window()
    path = tmp_path / "m.npz"
    simulator.save(path, models(1)[0], w.session_bridge.session.tokens)
    assert w.files.open(str(path))
    assert w.undo_stack.isClean() and w.undo_stack.count() == 0  # the open was forgotten at once
    assert np.array_equal(w.session_bridge.model.params["embed.W_E"], models(1)[0].params["embed.W_E"])


def test_the_history_keeps_at_most_undo_steps_steps(make_window, monkeypatch):
    monkeypatch.setattr(ui.history, "UNDO_STEPS", 5)
    w = make_window()
    name = "embed.W_E"
    for i in range(8):
        assert w.apply_edit(name, float(i + 1), (0, i % 2)) is None
    assert w.undo_stack.count() == 5
    while w.undo_stack.canUndo():
        w.act_undo.trigger()
    # five undone, the first three edits stay
    assert w.session_bridge.model.params[name][0, 0] == 3.0 and w.session_bridge.model.params[name][0, 1] == 2.0


def test_clicking_through_a_heavy_lesson_keeps_the_history_within_its_budget(make_window, monkeypatch):
    """40 stops with 40 different models (issue 11: each 44 M weights ran the machine out of memory):
    each stop is an undo step holding a model; the history keeps only what fits its budget."""
    from simulator.lessons import parse_lesson

    size = weight_bytes(CONFIG)
    monkeypatch.setattr(ui.history, "HISTORY_BYTES", 4 * size)
    w = make_window()
    config = {k: v for k, v in vars(CONFIG).items() if k in ("d_model", "d_mlp", "n_layers")}
    stops = [{"step": "probs", "text": f"stop {i}", "model": {"config": config, "seed": i}} for i in range(40)]
    lesson = parse_lesson({"title": "Heavy", "tokens": "the cat", "stops": stops}, "heavy.json")
    alive = []
    w.lesson_player.open_lesson(lesson)
    for i in range(40):
        w.lesson_player.go(i)
        alive.append(weakref.ref(w.session_bridge.model))
        assert w.history_limit.kept_bytes() <= 4 * size
    gc.collect()
    assert sum(r() is not None for r in alive) <= 5 + 1  # the shown model, four in the history, the lesson's own
    assert w.session_bridge.model.seed == 39
    undone = 0
    while w.undo_stack.canUndo():
        w.act_undo.trigger()
        undone += 1
    assert 1 <= undone <= 4 and w.session_bridge.model.seed == 39 - undone
