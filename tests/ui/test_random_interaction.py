"""A long, seeded, random session with the real main window, checked against a shadow.

Each action is something a student does (step, back, jump, edit a weight cell, nudge one with
the wheel, type tokens, undo, redo, pick a head or a layer, change a setting, save and reopen,
File ▸ New, a preset, a lesson, a scenario, a bad file, randomise, reset, presentation mode,
the theme, an export, a window resize, another tab, …), including bad input. The test keeps a
`Shadow`: its own copy of the parameters, tokens and temperature the model should have, updated
from each action's own intent (the cell and the number typed, the config and seed chosen, the
preset's file) and moved through its own history on undo and redo. After every action: no
exception escaped, the model's parameters, tokens and temperature equal the shadow's to the bit,
the trace the window shows equals a fresh `model.run` of them bit for bit, the step view's
heatmaps show exactly that trace's numbers, and no NaN is on screen. A refused action changes nothing.

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
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QDialog, QDoubleSpinBox, QMenu, QSpinBox

import simulator
import ui.main_window
import ui.views.token_strip
from simulator import depth
from simulator.backward import loss_and_grads
from simulator.gradient_flow import gradient_flow, next_token_targets
from simulator.lessons import list_lessons, load_lesson
from simulator.params import init_params
from simulator.presets import list_presets, load_preset
from simulator.tasks import TASKS
from simulator.train import check_fits, train
from ui import messages
from ui.classroom.export import save_picture
from ui.files.scenario import open_scenario, save_scenario
from ui.main_window import MainWindow
from ui.pictures.slicing import head_slicer
from ui.presets_menu import open_preset
from ui.views import training_panel
from ui.views.param_editor import NUDGE
from ui.views.settings_dialog import SettingsDialog, tokens_for

ACTIONS = int(os.environ.get("STEPFORMER_ACTIONS", "2000"))
SEED = int(os.environ.get("STEPFORMER_SEED", "0"))
RARE_EVERY = 50

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
    "attention": ["causal", "full", "window", "strided", "global", "bigbird"],
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
        RandomSettings.chosen = (self.config(), self.seed()) if ok else None
        return QDialog.DialogCode.Accepted if ok else QDialog.DialogCode.Rejected


class RandomMenu(QMenu):
    """A token chip's context menu as a student uses it: one enabled item, picked at random.

    `chosen` says which: (the item's text, its place in its submenu or None)."""

    rng: random.Random
    chosen: tuple[str, int | None] | None = None

    def exec(self, *_args):
        items = []
        for action in self.actions():
            if action.menu() is not None:
                items += [(action.text(), i, a) for i, a in enumerate(action.menu().actions())]
            elif action.isEnabled() and not action.isSeparator():
                items.append((action.text(), None, action))
        text, index, action = self.rng.choice(items)
        RandomMenu.chosen = (text, index)
        action.trigger()
        return action


class Shadow:
    """The state the model should be in, kept apart from the window: parameters, tokens and
    temperature, with a history of its own that undo and redo walk.

    Each entry is (config, params, tokens, baseline): `baseline` is what Reset goes back to
    (the parameters the model had when it was made or opened).
    """

    def __init__(self, window: MainWindow):
        model = window.session_bridge.model
        params = {n: np.array(v) for n, v in model.params.items()}
        self.history = [(model.config, params, list_or_pair(window.session_bridge.session.tokens), params)]
        self.index = 0
        self.temperature = window.session_bridge.session.temperature

    @property
    def config(self):
        return self.history[self.index][0]

    @property
    def params(self):
        return self.history[self.index][1]

    @property
    def tokens(self):
        return self.history[self.index][2]

    @property
    def baseline(self):
        return self.history[self.index][3]

    def record(self, stack_moved: bool, config=None, params=None, tokens=None, baseline=None) -> None:
        """A new state: a new undo step when the window's stack grew, else it replaced the top one
        (nudges of one cell merge) or changed nothing."""
        config = self.config if config is None else config
        params = self.params if params is None else params
        tokens = self.tokens if tokens is None else tokens
        baseline = (self.baseline if config is self.config else params) if baseline is None else baseline
        state = (config, params, tokens, baseline)
        if stack_moved:
            del self.history[self.index + 1:]
            self.history.append(state)
            self.index += 1
        else:
            self.history[self.index] = state

    def with_cell(self, name: str, index: tuple, value: float) -> dict:
        params = dict(self.params)
        params[name] = params[name].copy()
        params[name][index] = value
        return params

    def follow_limit(self, stack) -> None:
        """The window's history drops its oldest steps past its undo limit (ui/history.py): so does
        the shadow's, and then both stand at the same step."""
        while len(self.history) - 1 > stack.count() and self.index > stack.index():
            del self.history[0]
            self.index -= 1
        assert self.index == stack.index(), f"undo index {stack.index()} ≠ the shadow's {self.index}"

    def new_model(self, stack_moved: bool, config, params, tokens) -> None:
        self.record(stack_moved, config, {n: np.array(v) for n, v in params.items()}, list_or_pair(tokens),
                    baseline={n: np.array(v) for n, v in params.items()})


def list_or_pair(tokens):
    return tuple(list(t) for t in tokens) if isinstance(tokens, tuple) else list(tokens)


IMAGE_TASKS = ("digits",)  # left out of the random session, which types text (see test_vit_views.py)
IMAGE_LESSONS = ("08_words_to_pictures",)


def compare_with_shadow(window, shadow: Shadow) -> None:
    s = window.session_bridge.session
    assert s.model.config == shadow.config, "the model's config is not the one intended"
    assert set(s.model.params) == set(shadow.params)
    for name, value in shadow.params.items():
        assert np.array_equal(s.model.params[name], value), f"{name} is not what the actions made it"
    assert list_or_pair(s.tokens) == shadow.tokens, f"tokens {s.tokens} ≠ intended {shadow.tokens}"
    assert s.temperature == shadow.temperature
    shadow.follow_limit(window.undo_stack)


class Student:
    """Picks and performs random actions on the window; `log` keeps what was done."""

    def __init__(self, window: MainWindow, seed: int, folder):
        self.w = window
        self.rng = random.Random(seed)
        RandomSettings.rng = RandomMenu.rng = self.rng
        self.qtbot = None  # set by the test: waits for a training run
        self.tab_order = ["Residual stream", "Depth attention", "Compare residuals", "Training", "Gradients",
                          "Backward pass"]
        self.folder = folder
        self.log: list[str] = []
        self.shadow = Shadow(window)
        self.refusals: list[str] = []  # warnings shown (only the bad-file action expects one)
        self.actions = [
            (12, self.step), (6, self.back), (3, self.first_or_last), (5, self.jump), (14, self.edit_cell),
            (4, self.nudge), (7, self.edit_tokens), (8, self.undo), (5, self.redo), (4, self.head),
            (3, self.layer), (3, self.granularity), (2, self.highlight), (3, self.temperature),
            (4, self.select_cell), (3, self.settings), (2, self.save_and_reopen), (1, self.randomize_or_reset),
            (1, self.play), (0.5, self.file_new), (0.5, self.bad_file), (4, self.chip_menu),
        ]
        # slow ones (a preset, a lesson, presentation mode, …) come in turn, one every RARE_EVERY
        # actions, so that every session of 2,000 does each of them and a long one stays quick
        self.rare = [self.preset, self.lesson, self.tab, self.scenario, self.presentation, self.theme,
                     self.resize, self.export, self.tab, self.file_new, self.training, self.tab]
        self.weights = [a[0] for a in self.actions]

    @property
    def bridge(self):
        return self.w.session_bridge

    def act(self, i: int) -> None:
        if i % RARE_EVERY == RARE_EVERY - 1:
            action = self.rare[(i // RARE_EVERY) % len(self.rare)]
        else:
            action = self.rng.choices(self.actions, self.weights)[0][1]
        action()

    def _moved(self, before: int) -> bool:
        """Whether the last action added an undo step (else it merged with the top one or did nothing)."""
        index = self.w.undo_stack.index()
        assert index in (before, before + 1), f"undo index went from {before} to {index}"
        return index == before + 1

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
        index_before = self.w.undo_stack.index()
        editor.start_edit(cell)
        editor.edit_line().setText(text)
        editor.edit_line().returnPressed.emit()
        if refused:
            assert editor.error_text(), f"{text!r} was not refused"
            assert snapshot(self.w) == before
            QTest.keyClick(editor, Qt.Key.Key_Escape)  # the student gives up on this cell
            assert not editor.edit_line().isVisible()
            return
        index = self.cell_index(name, cell)
        self.shadow.record(self._moved(index_before), params=self.shadow.with_cell(name, index, float(text)))

    def cell_index(self, name: str, cell: tuple[int, int]) -> tuple[int, ...]:
        """The element of the parameter that the student sees at `cell` (of the head on screen)."""
        shape = self.shadow.params[name].shape
        r, c = cell
        if len(shape) == 3:
            return (min(self.bridge.head, shape[0] - 1), r, c)
        return (c,) if len(shape) == 1 else (r, c)

    def nudge(self):
        """Turn the wheel over a cell of the parameter editor: ±NUDGE a notch."""
        editor = self.w.param_editor
        name = self.rng.choice(sorted(self.shadow.params))
        editor.select_param(name)
        rows, cols = editor.heatmap.values().shape
        cell = (self.rng.randrange(rows), self.rng.randrange(cols))
        steps = float(self.rng.choice([-2, -1, 1, 1, 3]))
        self.log.append(f"nudge {name} cell {cell} by {steps:+g}")
        index = self.cell_index(name, cell)
        before = self.w.undo_stack.index()
        point = cell_point(editor.heatmap, cell)
        if point is not None:  # the wheel turned over the cell on screen
            ev = QWheelEvent(QPointF(point), QPointF(editor.heatmap.viewport().mapToGlobal(point)), QPoint(),
                             QPoint(0, int(120 * steps)), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                             Qt.ScrollPhase.NoScrollPhase, False)
            QApplication.sendEvent(editor.heatmap.viewport(), ev)
        else:  # hidden (presentation mode) or cells too small to aim at: the editor's own signal
            self.log[-1] += " (signal)"
            editor.heatmap.sigCellNudged.emit(cell, steps)
        value = self.shadow.params[name][index] + steps * NUDGE
        self.shadow.record(self._moved(before), params=self.shadow.with_cell(name, index, value))

    def edit_tokens(self):
        strip = self.w.token_strip
        side = self.rng.randrange(len(strip.sides))
        n = self.rng.choice([0, 1, 2, 3, 5, 8, 11])
        text = " ".join(self.rng.choice(WORDS) for _ in range(n))
        self.log.append(f"type tokens on side {side}: {text!r}")
        before = snapshot(self.w)
        index_before = self.w.undo_stack.index()
        words = text.split()
        vocab, n_ctx = self.shadow.config.vocab, self.shadow.config.n_ctx
        fits = 0 < len(words) <= n_ctx and all(w in vocab for w in words)
        accepted = strip.type_text(side, text)
        assert accepted == fits, f"{text!r}: accepted {accepted}, a student expects {fits}"
        if not accepted:
            assert strip.error_text(), "refused tokens without a message"
            assert snapshot(self.w) == before
            return
        tokens = self.shadow.tokens
        if isinstance(tokens, tuple):
            tokens = tuple(words if i == side else list(t) for i, t in enumerate(tokens))
        else:
            tokens = words
        self.shadow.record(self._moved(index_before), tokens=tokens)

    def chip_menu(self):
        """Right-click a token chip and pick an item of its menu: delete, insert or replace with a
        vocabulary token, move left or right."""
        strip = self.w.token_strip
        side = self.rng.randrange(len(strip.sides))
        chips = strip.sides[side].chips
        tokens = self.shadow.tokens
        side_tokens = list(tokens[side] if isinstance(tokens, tuple) else tokens)
        assert chips.tokens() == side_tokens, f"chips {chips.tokens()} ≠ tokens {side_tokens}"
        if not side_tokens:
            self.log.append(f"chip menu on side {side} (no chips)")
            return
        i = self.rng.randrange(len(side_tokens))
        before = snapshot(self.w)
        index_before = self.w.undo_stack.index()
        RandomMenu.chosen = None
        chips.customContextMenuRequested.emit(chips.visualItemRect(chips.item(i)).center())
        text, k = RandomMenu.chosen
        vocab = list(self.shadow.config.vocab)
        self.log.append(f"chip {i} on side {side}: {text}" + (f" {vocab[k]!r}" if k is not None else ""))
        new = list(side_tokens)
        if text == "Delete":
            del new[i]
        elif text == "Insert before":
            new.insert(i, vocab[k])
        elif text == "Replace with":
            new[i] = vocab[k]
        else:
            j = i - 1 if text == "Move left" else i + 1
            new[i], new[j] = new[j], new[i]
        if not 0 < len(new) <= self.shadow.config.n_ctx:
            assert strip.error_text(), "refused tokens without a message"
            assert snapshot(self.w) == before
            return
        tokens = tuple(new if s == side else list(t) for s, t in enumerate(tokens)) \
            if isinstance(tokens, tuple) else new
        self.shadow.record(self._moved(index_before), tokens=tokens)

    def training(self):
        """The Training tab: a few steps of a task. The shadow takes the weights of an independent
        run of the same trainer (same start, task, batch, seed) and the plot must show its losses."""
        panel = self.w.training_panel
        self.w.tabs.setCurrentIndex([self.w.tabs.tabText(i) for i in range(self.w.tabs.count())].index("Training"))
        name = self.rng.choice([n for n in TASKS if n not in IMAGE_TASKS])
        task, batch, seed = TASKS[name], self.rng.choice([2, 4]), self.rng.randrange(5)
        panel.task_combo.setCurrentIndex(panel.task_combo.findData(name))
        panel.steps.setValue(10)
        panel.batch.setValue(batch)
        panel.lr.setValue(1.0)
        panel.seed.setValue(seed)
        model = self.bridge.model
        try:
            check_fits(model, task)
            start, own = simulator.Transformer(model.config, model.seed, model.params), False
        except ValueError:
            start, own = simulator.Transformer(task.config, seed=seed), True
        self.log.append(f"train {name} 10 steps, batch {batch}, seed {seed}" + (" (its own model)" if own else ""))
        before = self.w.undo_stack.index()
        with self.qtbot.waitSignal(panel.sigTrainingFinished, timeout=120_000):
            panel.start_button.click()
        if own:  # two steps: the task's model, then its training
            assert self.w.undo_stack.index() == before + 2, "the task's model and its training: two undo steps"
            self.shadow.new_model(True, start.config, start.params, task.demo_tokens())
            before += 1
        reported = []
        train(start, task, 10, batch, 1.0, seed=seed, every=training_panel.EVERY,
              eval_every=training_panel.EVERY * 5, eval_size=training_panel.EVAL_SIZE,
              callback=lambda step, loss, _acc, _params: reported.append((step, loss)))
        self.shadow.record(self._moved(before), params={n: np.array(v) for n, v in start.params.items()})
        assert panel.loss_points() == reported
        assert np.array_equal(np.column_stack(panel.loss_curve.getData()), np.array(reported))

    def undo(self):
        self.log.append(f"undo {self.w.undo_stack.undoText()!r}")
        if self.shadow.index > 0:
            self.shadow.index -= 1
        self.w.act_undo.trigger()

    def redo(self):
        self.log.append(f"redo {self.w.undo_stack.redoText()!r}")
        if self.shadow.index + 1 < len(self.shadow.history):
            self.shadow.index += 1
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
        self.shadow.temperature = t

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
        before = self.w.undo_stack.index()
        RandomSettings.chosen = None
        self.w.open_settings()
        if RandomSettings.chosen is not None:
            config, seed = RandomSettings.chosen
            model = simulator.Transformer(config, seed=seed)
            tokens = tokens_for(model, self.shadow.tokens if not isinstance(self.shadow.tokens, tuple)
                                else tuple(self.shadow.tokens), self.shadow.config.tokenization)
            self.shadow.new_model(self._moved(before), config, init_params(config, seed), tokens)
        self.log[-1] += f" -> {describe(self.bridge.model.config)}"

    def save_and_reopen(self):
        path = self.folder / f"model-{self.rng.randrange(3)}.npz"
        self.log.append(f"save and reopen {path.name}")
        model, tokens = self.bridge.model, self.bridge.session.tokens
        params = {n: np.array(v) for n, v in model.params.items()}
        assert self.w.files.save_as(str(path))
        before = self.w.undo_stack.index()
        assert self.w.files.open(str(path))
        self.shadow.new_model(self._moved(before), self.shadow.config, self.shadow.params, self.shadow.tokens)
        reopened = self.bridge.model
        assert reopened is not model and reopened.config == model.config
        assert all(np.array_equal(reopened.params[n], params[n]) for n in params)
        assert self.bridge.session.tokens == tokens

    def randomize_or_reset(self):
        before = self.w.undo_stack.index()
        if self.rng.random() < 0.5:
            seed = self.rng.randrange(100)
            self.log.append(f"randomise (seed {seed})")
            self.w.param_editor.seed.setValue(seed)
            self.w.param_editor.randomize.click()
            params = init_params(self.shadow.config, seed)
        else:
            self.log.append("reset")
            self.w.param_editor.reset.click()
            params = self.shadow.baseline
        self.shadow.record(self._moved(before), params={n: np.array(v) for n, v in params.items()})

    def play(self):
        self.log.append("play/pause")
        self.w.transport.act_play.trigger()

    def file_new(self):
        self.log.append("File ▸ New")
        before = self.w.undo_stack.index()
        self.w.files.new()
        config = simulator.ModelConfig()  # the classroom model, seed 0, on "the cat sat on the mat"
        self.shadow.new_model(self._moved(before), config, init_params(config, 0),
                              "the cat sat on the mat".split()[: config.n_ctx])

    def preset(self):
        # the random actions type tokens: the image model (digits) has its own tests in test_vit_views.py
        info = self.rng.choice([i for i in list_presets() if i["task"] not in IMAGE_TASKS])
        self.log.append(f"preset {info['name']}")
        before = self.w.undo_stack.index()
        assert open_preset(self.w, info["name"])
        self.w.preset_hint.close()
        model, tokens, _info = load_preset(info["name"])  # the shipped file, read on its own
        self.shadow.new_model(self._moved(before), model.config, model.params, tokens)
        self.shadow.temperature = 1.0  # a preset is shown as trained: its own probabilities

    def lesson(self):
        path = self.rng.choice([p for p in list_lessons() if p.stem not in IMAGE_LESSONS])
        lesson = load_lesson(path)
        stop = self.rng.randrange(len(lesson.stops))
        self.log.append(f"lesson {path.stem} stop {stop + 1}")
        player = self.w.lesson_player
        before = self.w.undo_stack.index()
        player.open_lesson(lesson)  # the first stop
        self.lesson_stop(lesson, 0, before)
        before = self.w.undo_stack.index()
        player.go(stop)
        self.lesson_stop(lesson, stop, before)
        player.close_lesson()

    def lesson_stop(self, lesson, i: int, before: int) -> None:
        """The shadow follows a lesson stop: its model is built from the stop's own spec."""
        if not self._moved(before):
            return  # the same model and tokens as the stop before
        spec, tokens = lesson.stops[i].model, lesson.stops[i].tokens
        if "preset" in spec:
            model = load_preset(spec["preset"])[0]
        else:
            config = {k: tuple(v) if k == "vocab" else v for k, v in spec.get("config", {}).items()}
            model = simulator.Transformer(simulator.ModelConfig(**config), seed=spec.get("seed", 0))
        if model.config.arch == "encoder-decoder" and isinstance(tokens, list) and len(tokens) == 2:
            tokens = tuple(tokens)
        self.shadow.new_model(True, model.config, model.params, model.tokens(tokens))

    def scenario(self):
        path = self.folder / "class.stepformer.npz"
        self.log.append("save and open a scenario")
        save_scenario(path, self.bridge)
        before = self.w.undo_stack.index()
        open_scenario(path, self.bridge, self.w.set_model)
        self.shadow.new_model(self._moved(before), self.shadow.config, self.shadow.params, self.shadow.tokens)

    def bad_file(self):
        kind = self.rng.choice(["zip", "lesson", "scenario"])
        self.log.append(f"open a bad {kind} file")
        before = snapshot(self.w)
        self.refusals.clear()
        if kind == "zip":
            path = self.folder / "bad.npz"
            path.write_bytes(b"PK\x03\x04 not a model")
            assert not self.w.files.open(str(path))
        elif kind == "lesson":
            path = self.folder / "bad.json"
            path.write_text('{"title": "t", "tokens": 5, "stops": []}')
            assert not self.w.lesson_player.open_file(path)
        else:
            path = self.folder / "bad.stepformer.npz"
            simulator.save(path, self.bridge.model, self.bridge.session.tokens,
                           extra={"scenario": 1, "view": {"head": 999}})
            with pytest.raises(simulator.ModelFileError):
                open_scenario(path, self.bridge, self.w.set_model)
            self.refusals.append("raised")
        assert self.refusals, "a bad file was not refused"
        assert snapshot(self.w) == before

    def presentation(self):
        """Into presentation mode, a step or two there, and out again (the editors are hidden there)."""
        self.log.append("presentation mode on, step, off")
        self.w.presentation.action.trigger()
        for _ in range(self.rng.randrange(3)):
            self.w.transport.act_next.trigger()
        self.w.presentation.action.trigger()

    def theme(self):
        name = self.rng.choice(["light", "dark", "system"])
        self.log.append(f"theme {name}")
        self.w.theme.set_theme(name)

    def export(self):
        self.log.append("export the step picture")
        save_picture(self.w.step_view, self.folder / "picture.png")
        assert (self.folder / "picture.png").stat().st_size > 0

    def resize(self):
        size = self.rng.choice([(1024, 768), (1280, 800), (1920, 1080), (800, 600)])
        self.log.append(f"resize to {size}")
        self.w.resize(*size)

    def tab(self):
        """Another tab: the ones whose numbers `check_tab` reads come first, then any at random."""
        titles = [self.w.tabs.tabText(i) for i in range(self.w.tabs.count())]
        if self.tab_order:
            i = titles.index(self.tab_order.pop(0))
        else:
            i = self.rng.randrange(len(titles))
        self.log.append(f"tab {titles[i]}")
        self.w.tabs.setCurrentIndex(i)


def cell_point(heatmap, cell: tuple[int, int]) -> QPoint | None:
    """Where on screen the centre of `cell` is, or None when it is hidden or too small to aim at."""
    if not heatmap.isVisible():
        return None
    r, c = cell
    a, b = (heatmap.mapFromScene(heatmap.image_item.mapToScene(QPointF(c + d, r + d))) for d in (0.5, 1.5))
    if min(abs(b.x() - a.x()), abs(b.y() - a.y())) < 4 or not heatmap.viewport().rect().contains(a):
        return None
    return a


def bar_heights(plot) -> np.ndarray:
    """The heights of the bars a plot draws."""
    bars = [item for item in plot.getPlotItem().items if isinstance(item, pg.BarGraphItem)]
    return np.asarray(bars[0].opts["height"], dtype=float)


def check_tab(window, fresh) -> None:
    """The tab on screen draws the engine's numbers: those of a fresh run, through the engine's
    own functions (depth, gradient_flow, loss_and_grads), not the view's copies."""
    tabs = window.tabs
    if not tabs.isVisible() or tabs.currentIndex() == 0:
        return
    name = tabs.tabText(tabs.currentIndex())
    view = tabs.currentWidget().widget()
    b = window.session_bridge
    s, model = b.session, b.model
    prefix = depth.stack_prefix(fresh) if name in ("Residual stream", "Depth attention") else ""
    if name in ("Residual stream", "Depth attention"):
        pos = min(view.position, len(fresh.token_labels(f"{prefix}blocks.0.hook_resid_pre")) - 1)
    if name == "Residual stream":
        points = depth.residual_stream(fresh, pos, prefix)
        assert np.array_equal(view.heatmap.values(), np.stack([v for _, _, v in points], axis=1))
        norms = view.norm_plot.getPlotItem().listDataItems()[0].getData()[1]
        assert np.array_equal(norms, [np.linalg.norm(v) for _, _, v in points]), "stream lengths"
        assert np.array_equal(bar_heights(view.share_plot), [x for _, x in depth.shares(model, fresh, pos, prefix)])
    elif name == "Depth attention":
        assert np.array_equal(view.depth_heatmap.values(), depth.depth_map(model, fresh, pos, prefix).values)
        step = b.stepper.step
        layer = step.layer if step.layer is not None else (model.config.n_layers - 1 if step.sublayer == "final"
                                                            else 0)
        pattern = fresh[f"{prefix}blocks.{layer}.attn.hook_pattern"][b.head]
        assert np.array_equal(view.pattern_heatmap.values(), pattern), "the pattern beside the depth map"
    elif name == "Compare residuals":
        try:
            models = [depth.with_residual(model, view.mode_a.currentText()),
                      depth.with_residual(model, view.mode_b.currentText())]
        except ValueError:
            assert "Cannot compare" in view.summary.text()
            return
        a, c = (m.run(s.tokens, temperature=s.temperature) for m in models)
        assert np.array_equal(view.probs_a.values(), a["probs"].T) and np.array_equal(view.probs_b.values(),
                                                                                     c["probs"].T)
        delta = c["logits"] - a["logits"]
        assert np.array_equal(view.diff.values(), delta.T)
        assert f"Largest logit difference: {float(np.abs(delta).max()):.3g}" in view.summary.text()
    elif name == "Training" and not view.running:
        site = training_panel.attention_sites(model)[max(0, view.site_combo.currentIndex())][1]
        for layer in range(model.config.n_layers):
            for head in range(model.config.n_heads):
                shown = view.heatmaps[layer][head].values()
                assert np.array_equal(shown, fresh[site.format(l=layer)][head]), f"layer {layer} head {head}"
    elif name in ("Gradients", "Backward pass"):
        job = next_token_targets(s.input, model.config.arch, fresh["probs"][-1])
        if name == "Gradients" and view.pages.currentIndex() == 0:
            if job is None:
                assert view.flow is None and "two tokens" in view.summary.text()
                return
            flow = gradient_flow(model, *job)
            assert f"{flow['loss']:.3f}" in view.summary.text()
            assert np.array_equal(bar_heights(view.layer_plot), flow["layer_norms"]), "layer bars"
            assert all(v == flow["param_norms"][n] for n, v in view.param_rows())
        elif name == "Backward pass":
            step = view.walk.step
            if job is None:
                assert step is None and not view.grad_map.isVisible()
                return
            loss, grads = loss_and_grads(model, *job)
            assert f"{loss:.4f}" in view.loss_label.text()
            sl = head_slicer(fresh, step.name, b.head)
            assert np.array_equal(view.grad_map.values(), sl.take(grads[step.name])), f"∂L/∂{step.name}"
            assert np.array_equal(view.value_map.values(), sl.take(np.asarray(fresh[step.name])))


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
    check_tab(window, fresh)


@pytest.fixture
def window(make_window, monkeypatch):
    refusals = []
    monkeypatch.setattr(messages, "refuse", lambda parent, title, text: refusals.append(text))
    monkeypatch.setattr(ui.main_window, "SettingsDialog", RandomSettings)
    monkeypatch.setattr(ui.views.token_strip, "QMenu", RandomMenu)
    w = make_window()
    w.refusals = refusals
    return w


@pytest.mark.slow
def test_a_long_random_session_always_shows_the_true_trace(window, qtbot, tmp_path, monkeypatch):
    errors = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, exc, tb: errors.append((kind, exc, tb)))
    student = Student(window, SEED, tmp_path)
    student.refusals = window.refusals
    student.qtbot = qtbot
    check(window)
    for i in range(ACTIONS):
        try:
            student.act(i)
            if window.refusals and not student.log[-1].startswith("open a bad"):
                raise AssertionError(f"unexpected warning: {window.refusals}")
            window.refusals.clear()
            compare_with_shadow(window, student.shadow)
            if i % 10 == 0:  # let timers (play) tick and views paint now and then
                qtbot.wait(1)
            assert not errors, "an exception escaped:\n" + "".join(traceback.format_exception(*errors[0]))
            check(window)
        except BaseException as exc:
            recent = "\n".join(f"  {n}: {a}" for n, a in enumerate(student.log[-12:], len(student.log) - 12))
            raise AssertionError(f"seed {SEED}, action {i}: {exc}\nlast actions:\n{recent}") from exc
    kinds = {entry.split()[0] for entry in student.log}
    assert {"step", "edit", "nudge", "undo", "redo", "save", "model", "type", "head", "chip"} <= kinds
    if ACTIONS >= 2000:
        assert {"preset", "lesson", "File", "open", "theme", "tab", "resize", "presentation", "export",
                "save", "train"} <= kinds
        tabs = {entry.split(maxsplit=1)[1] for entry in student.log if entry.startswith("tab ")}
        assert {"Residual stream", "Depth attention", "Compare residuals", "Training", "Gradients",
                "Backward pass"} <= tabs, f"tabs visited: {tabs}"


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
