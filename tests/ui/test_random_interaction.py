"""A long, seeded, random session with the real main window.

Each action is something a student does (step, back, jump, edit a weight cell, type tokens,
undo, redo, pick a head or a layer, change a setting, save and reopen, …), including bad
input. After every action: no exception escaped, the trace the window shows equals a fresh
`model.run` bit for bit, the step view's heatmaps show exactly that trace's numbers, and no
NaN is on screen. A refused action must change nothing.

    STEPFORMER_ACTIONS=20000 STEPFORMER_SEED=1 python -m pytest tests/ui/test_random_interaction.py

runs a longer session (defaults: 2,000 actions, seed 0). A failure names the seed and the
action number, so it can be replayed.
"""
from __future__ import annotations

import os
import random
import sys
import traceback

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox, QDialog, QDoubleSpinBox, QMessageBox, QSpinBox

import ui.main_window
from ui.preferences import Preferences
from ui import messages
from ui.main_window import MainWindow
from ui.widgets.settings_dialog import SettingsDialog

ACTIONS = int(os.environ.get("STEPFORMER_ACTIONS", "2000"))
SEED = int(os.environ.get("STEPFORMER_SEED", "0"))

# what a student might type into a weight cell; the second element: is it refused?
TYPED = [("0.5", False), ("-1.25", False), ("3", False), ("1e6", False), ("-999999.5", False), ("0", False),
         ("abc", True), ("", True), ("nan", True), ("inf", True), ("-Infinity", True), ("1e300", True),
         ("-1e7", True), ("1,5", True), ("1e", True)]
WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "big", "small", "and", ".", "zebra", "Cat", ""]
SETTINGS = {
    "n_layers": [1, 2, 3], "n_heads": [1, 2, 4], "d_model": [8, 16, 24], "d_mlp": [16, 32, 64],
    "n_ctx": [4, 6, 8, 10], "window": [1, 2, 3], "depth_blocks": [1, 2, 3], "init_scale": [0.5, 1.0, 3.0],
    "arch": ["decoder", "encoder", "encoder-decoder"], "positional": ["sinusoidal", "learned", "rope", "none"],
    "norm": ["pre", "post", "none"], "activation": ["relu", "gelu"],
    "attention": ["causal", "full", "window", "strided", "global", "bigbird", "linear"],
    "residual": ["standard", "none", "denseformer", "attnres", "block_attnres"],
}


class RandomSettings(SettingsDialog):
    """The settings dialog as a student uses it: change a field or two, OK if OK is enabled."""

    rng: random.Random

    def exec(self) -> int:
        for name in self.rng.sample(sorted(SETTINGS), self.rng.randint(1, 2)):
            editor, value = self.editors[name], self.rng.choice(SETTINGS[name])
            if isinstance(editor, QComboBox):
                editor.setCurrentText(value)
            elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                editor.setValue(value)
        self.seed_spin.setValue(self.rng.randint(0, 9))
        ok = self.config() is not None and self.rng.random() < 0.9
        return QDialog.DialogCode.Accepted if ok else QDialog.DialogCode.Rejected


class Student:
    """Picks and performs random actions on the window; `log` keeps what was done."""

    def __init__(self, window: MainWindow, seed: int, folder):
        self.w = window
        self.rng = random.Random(seed)
        RandomSettings.rng = self.rng
        self.folder = folder
        self.log: list[str] = []
        self.actions = [
            (12, self.step), (6, self.back), (3, self.first_or_last), (5, self.jump), (14, self.edit_cell),
            (7, self.edit_tokens), (8, self.undo), (5, self.redo), (4, self.head), (3, self.layer),
            (3, self.granularity), (2, self.highlight), (3, self.temperature), (4, self.select_cell),
            (3, self.settings), (2, self.save_and_reopen), (1, self.randomize_or_reset), (1, self.play),
        ]
        self.weights = [a[0] for a in self.actions]

    @property
    def bridge(self):
        return self.w.session_bridge

    def act(self) -> None:
        action = self.rng.choices(self.actions, self.weights)[0][1]
        action()

    # --- the actions ---

    def step(self):
        self.log.append("step")
        self.w.transport.act_next.trigger()

    def back(self):
        self.log.append("back")
        self.w.transport.act_back.trigger()

    def first_or_last(self):
        action = self.rng.choice([self.w.transport.act_first, self.w.transport.act_last])
        self.log.append(action.text())
        action.trigger()

    def jump(self):
        """Click a box of the architecture map (or, while it is hidden, jump by name)."""
        boxes = self.w.arch_map.boxes() if self.w.arch_map.isVisible() else {}
        if boxes:
            name, rect = self.rng.choice(sorted(boxes.items(), key=lambda kv: kv[0]))
            self.log.append(f"map click {name}")
            QTest.mouseClick(self.w.arch_map, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
        else:
            name = self.rng.choice(list(self.bridge.trace) + ["blocks.0.hook_resid_pre", "logits"])
            self.log.append(f"jump {name}")
            self.bridge.stepper.jump(name)

    def edit_cell(self):
        """Double-click a cell of the parameter editor, type, press Enter."""
        editor = self.w.param_editor
        model = self.bridge.model
        name = self.rng.choice(sorted(model.params))
        editor.select_param(name)
        rows, cols = editor.heatmap.values().shape
        cell = (self.rng.randrange(rows), self.rng.randrange(cols))
        text, refused = self.rng.choice(TYPED)
        self.log.append(f"edit {name} cell {cell} = {text!r}")
        before = snapshot(self.w)
        editor.start_edit(cell)
        editor.edit_line().setText(text)
        editor.edit_line().returnPressed.emit()
        if refused:
            assert editor.error_text(), f"{text!r} was not refused"
            assert snapshot(self.w) == before
            QTest.keyClick(editor, Qt.Key.Key_Escape)  # the student gives up on this cell
            assert not editor.edit_line().isVisible()

    def edit_tokens(self):
        strip = self.w.token_strip
        side = self.rng.randrange(len(strip.sides))
        n = self.rng.choice([0, 1, 2, 3, 5, 8, 11])
        text = " ".join(self.rng.choice(WORDS) for _ in range(n))
        self.log.append(f"type tokens on side {side}: {text!r}")
        before = snapshot(self.w)
        if not strip.type_text(side, text):
            assert strip.error_text(), "refused tokens without a message"
            assert snapshot(self.w) == before

    def undo(self):
        self.log.append(f"undo {self.w.undo_stack.undoText()!r}")
        self.w.act_undo.trigger()

    def redo(self):
        self.log.append(f"redo {self.w.undo_stack.redoText()!r}")
        self.w.act_redo.trigger()

    def head(self):
        combo = self.w.transport.head_combo
        h = self.rng.randrange(combo.count())
        self.log.append(f"head {h}")
        combo.setCurrentIndex(h)
        combo.activated.emit(h)
        assert self.bridge.head == h

    def layer(self):
        combo = self.w.transport.layer_combo
        row = self.rng.randrange(combo.count())
        self.log.append(f"layer row {row} ({combo.itemText(row)})")
        combo.setCurrentIndex(row)
        combo.activated.emit(row)

    def granularity(self):
        self.log.append("toggle granularity")
        self.w.act_granularity.trigger()

    def highlight(self):
        self.log.append("toggle highlight")
        self.w.act_highlight.trigger()

    def temperature(self):
        t = self.rng.choice([0.1, 0.5, 1.0, 2.0, 5.0])
        self.log.append(f"temperature {t}")
        self.w.step_view.next_token().sigTemperatureChosen.emit(t)

    def select_cell(self):
        heatmap = self.w.step_view.current_heatmap()
        if heatmap is None:
            self.log.append("select (no heatmap)")
            return
        rows, cols = heatmap.values().shape
        cell = (self.rng.randrange(rows), self.rng.randrange(cols))
        self.log.append(f"click step cell {cell}")
        heatmap.sigCellClicked.emit(cell)

    def settings(self):
        self.log.append("model settings")
        self.w.open_settings()
        self.log[-1] += f" -> {describe(self.bridge.model.config)}"

    def save_and_reopen(self):
        path = self.folder / f"model-{self.rng.randrange(3)}.npz"
        self.log.append(f"save and reopen {path.name}")
        model, tokens = self.bridge.model, self.bridge.session.tokens
        params = {n: np.array(v) for n, v in model.params.items()}
        assert self.w.files.save_as(str(path))
        assert self.w.files.open(str(path))
        reopened = self.bridge.model
        assert reopened is not model and reopened.config == model.config
        assert all(np.array_equal(reopened.params[n], params[n]) for n in params)
        assert self.bridge.session.tokens == tokens

    def randomize_or_reset(self):
        if self.rng.random() < 0.5:
            self.log.append("randomise")
            self.w.param_editor.randomize.click()
        else:
            self.log.append("reset")
            self.w.param_editor.reset.click()

    def play(self):
        self.log.append("play/pause")
        self.w.transport.act_play.trigger()


def describe(config) -> str:
    return (f"{config.arch} L{config.n_layers} H{config.n_heads} d{config.d_model} {config.norm}-norm "
            f"{config.positional} {config.attention} {config.residual}")


def snapshot(window) -> tuple:
    """Everything an action may change: parameters, tokens, temperature, step, head, undo stack."""
    b = window.session_bridge
    s = b.session
    return ({n: v.tobytes() for n, v in s.model.params.items()}, repr(s.tokens), s.temperature,
            b.stepper.name, b.stepper.granularity, b.head, window.undo_stack.index(), window.undo_stack.count())


def check(window) -> None:
    """The window shows the model's true trace, bit for bit, and nothing NaN."""
    b = window.session_bridge
    s = b.session
    fresh = s.model.run(s.tokens, temperature=s.temperature)
    assert list(b.trace) == list(fresh)
    for name in fresh:
        assert np.array_equal(b.trace[name], fresh[name]), f"{name} differs from a fresh run"
    stepper = b.stepper
    assert window.step_label.text() == f"step {stepper.index + 1} of {len(stepper)} — {stepper.name}"
    picture = window.step_view.picture
    shown = window.step_view.heatmaps()
    current = [p for p in picture.panels() if p.current]
    assert current, "the step view shows no current step"
    for panel in picture.panels():
        assert not np.isnan(panel.values).any(), f"NaN in {panel.title}"
        if panel.step is not None and panel.slicer is not None:
            expected = np.atleast_2d(panel.slicer.take(fresh[panel.step]))
            assert np.array_equal(expected, panel.values), f"panel {panel.title} ≠ {panel.step}"
        if panel.title in shown and sum(p.title == panel.title for p in picture.panels()) == 1:
            assert np.array_equal(shown[panel.title].values(), panel.values), f"heatmap {panel.title} ≠ panel"
    assert b.head < s.model.config.n_heads


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(messages, "refuse", lambda *a, **k: pytest.fail(f"unexpected warning: {a[1:]}"))
    monkeypatch.setattr(ui.main_window, "SettingsDialog", RandomSettings)
    w = MainWindow(settings=Preferences(tmp_path / "settings.json"))
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.transport.set_playing(False)
    w.undo_stack.setClean()


def test_a_long_random_session_always_shows_the_true_trace(window, qtbot, tmp_path, monkeypatch):
    errors = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, exc, tb: errors.append((kind, exc, tb)))
    student = Student(window, SEED, tmp_path)
    check(window)
    for i in range(ACTIONS):
        try:
            student.act()
            if i % 10 == 0:  # let timers (play) tick and views paint now and then
                qtbot.wait(1)
            assert not errors, "an exception escaped:\n" + "".join(traceback.format_exception(*errors[0]))
            check(window)
        except BaseException as exc:
            recent = "\n".join(f"  {n}: {a}" for n, a in enumerate(student.log[-12:], len(student.log) - 12))
            raise AssertionError(f"seed {SEED}, action {i}: {exc}\nlast actions:\n{recent}") from exc
    kinds = {entry.split()[0] for entry in student.log}
    assert {"step", "edit", "undo", "redo", "save", "model", "type", "head"} <= kinds


def test_a_view_never_sees_a_head_or_cell_the_new_model_lacks(qtbot):
    """Found by the random session (seed 1): a settings change to fewer heads repainted the step
    view on sigStepChanged while the head still named the old model's last head."""
    from simulator import ModelConfig, Session, Transformer
    from ui.bridge import SessionBridge

    model = Transformer(ModelConfig(n_heads=2), seed=0)
    bridge = SessionBridge(Session(model, model.tokens("the cat sat")))
    bridge.set_head(1)
    bridge.select_cell("blocks.0.attn.hook_pattern", (1, 2, 0))
    seen = []
    bridge.sigStepChanged.connect(lambda: seen.append(("step", bridge.head, bridge.cell)))
    bridge.sigTraceChanged.connect(lambda: seen.append(("trace", bridge.head, bridge.cell)))
    smaller = Transformer(ModelConfig(n_heads=1), seed=0)
    bridge.session.set_model(smaller, smaller.tokens("the cat"))
    assert seen == [("trace", 0, None)]  # one notification, the head and cell already valid
