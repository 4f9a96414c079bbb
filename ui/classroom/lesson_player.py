"""The lesson player: a guided tour of stops, each a model, an input, a step and the teacher's words.

Opening a stop sets the session's model and tokens (one undoable step, like File ▸ Open),
jumps to the stop's step and picks its head. A stop with a question hides its answer
until the next click (the Reveal button, Next, or the clicker's PageDown in presentation
mode). After the last stop the next click shows an end card (the lesson's title, "End of
lesson", what to try next) and further clicks stop there; Previous goes back. A stop may
choose the tab to show ("view"). The Lessons menu lists assets/lessons/*.json and opens any other lesson file; a
file with a mistake is refused with a message that names the mistake, and nothing changes.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from simulator import Transformer
from simulator.lessons import LESSON_DIR, Lesson, LessonError, list_lessons, load_lesson
from simulator.params import has_initial_weights
from simulator.view_state import ViewState
from ui import messages
from ui.actions import make_action
from ui.bridge import SessionBridge
from ui.pictures.step_pictures import step_title
from ui.typography import HEADING_PT as TITLE_PT
from ui.typography import TEXT_PT

SMALL_PT = 11.0  # where the stop is, and the buttons
FILTER = "Stepformer lessons (*.json)"

SetModel = Callable[[Transformer, object, str], None]  # (model, tokens, undo text)
END_TEXT = "End of lesson"
TRY_NEXT = ("change a token in the strip above and step through again, or open the next lesson from "
            "the Lessons menu.")
# a stop's "view" (simulator.lessons.VIEWS) → the title of the tab showing it (the view state's "tab")
VIEW_TABS = {"step": "Step", "residual": "Residual stream", "depth": "Depth attention",
             "compare": "Compare residuals", "training": "Training", "gradients": "Gradients",
             "backward": "Backward pass", "cost": "Cost of attention", "tiled": "Tiled attention",
             "sampling": "Sampling", "image": "Image", "draw": "Draw", "model-view": "Look inside",
             "logit-lens": "Look inside", "attribution": "Look inside", "patching": "Look inside"}
# the views inside the Look inside tab → their own tab titles (ui.views.interp_tabs.TITLES)
LOOK_INSIDE = {"model-view": "Model view", "logit-lens": "Logit lens", "attribution": "Attribution",
               "patching": "Patching"}


def lesson_ref(path: str) -> str:
    """How a view state names a lesson file: a shipped lesson by its file name (so a scenario
    finds it on a student's machine too), any other by its full path."""
    p = Path(path)
    return p.name if p.parent == LESSON_DIR.resolve() else str(p)


def lesson_path(ref: str) -> Path:
    return LESSON_DIR / ref if not Path(ref).is_absolute() else Path(ref)


def _label(pt: float, bold: bool = False) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)  # a teacher's "<unk>" is a token, not HTML
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setProperty("pt", pt)
    font = QFont()
    font.setBold(bold)
    label.setFont(font)
    return label


class LessonPlayer(QWidget):
    """Shows one lesson stop at a time and drives the session to it (see the module docstring)."""

    sigStopChanged = Signal(int)  # index of the stop now shown (-1: no lesson)

    def __init__(self, bridge: SessionBridge, set_model: SetModel | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self._set_model = set_model or (lambda model, tokens, _text: bridge.session.set_model(model, tokens))
        self.lesson: Lesson | None = None
        self.menu: QMenu | None = None  # the Lessons menu, once install_lessons made it
        self.index = -1  # len(stops): the end card
        self.revealed = False

        self.title = _label(TITLE_PT, bold=True)
        self.where = _label(SMALL_PT)
        self.text = _label(TEXT_PT)
        self.question = _label(TEXT_PT, bold=True)
        self.answer = _label(TEXT_PT)
        self.answer.setStyleSheet("background: #e8f4fb; color: #102030; border-left: 5px solid #0072B2;"
                                  " padding: 8px;")
        self.reveal_button = QPushButton("Reveal answer")
        self.reveal_button.clicked.connect(self.reveal)
        self.prev_button = QPushButton("◀ Previous stop")
        self.prev_button.clicked.connect(self.previous_stop)
        self.next_button = QPushButton("Next ▶")
        self.next_button.clicked.connect(self.forward)
        for button in (self.reveal_button, self.prev_button, self.next_button):
            # the clicker's keys must keep stepping, not press a focused button
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(12, 8, 12, 8)
        lay.setSpacing(10)
        for w in (self.title, self.where, self.text, self.question, self.answer):
            lay.addWidget(w)
        lay.addWidget(self.reveal_button, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addStretch(1)
        self.scroll = scroll = QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # text wraps instead
        self._follow_answer = False  # keep a revealed answer in view while its text is laid out
        scroll.verticalScrollBar().rangeChanged.connect(lambda *_: self._scroll_to_answer())
        buttons = QHBoxLayout()
        buttons.addWidget(self.prev_button)
        buttons.addStretch(1)
        buttons.addWidget(self.next_button)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 6)
        outer.addWidget(scroll, 1)
        outer.addLayout(buttons)
        self.set_font_scale(1.0)
        self._show()

    # --- opening ---

    def open_file(self, path: str | Path) -> bool:
        """Open a lesson file at its first stop; a bad file is reported and changes nothing."""
        try:
            lesson = load_lesson(path)
        except LessonError as exc:
            messages.refuse(self, "This lesson cannot be opened", str(exc))
            return False
        self.open_lesson(lesson)
        return True

    def open_lesson(self, lesson: Lesson) -> None:
        self.lesson = lesson
        self.go(0)

    def close_lesson(self) -> None:
        self.lesson, self.index = None, -1
        self._show()
        self.sigStopChanged.emit(-1)

    # --- the lesson field of the view state ---

    def capture_view(self) -> dict:
        if self.lesson is None or not self.lesson.path or self.index < 0:
            return {}
        return {"lesson": (lesson_ref(self.lesson.path), min(self.index, len(self.lesson.stops) - 1))}

    def view_problems(self, state: ViewState) -> dict[str, str]:
        if state.lesson is None or self._is_open(state.lesson[0]):
            lesson = self.lesson
        else:
            try:
                lesson = load_lesson(lesson_path(state.lesson[0]))
            except LessonError as exc:
                return {"lesson": f"the lesson cannot be opened: {exc}"}
        if state.lesson is not None and state.lesson[1] >= len(lesson.stops):
            return {"lesson": f"the lesson has no stop {state.lesson[1] + 1} (it has {len(lesson.stops)})"}
        return {}

    def apply_view(self, state: ViewState) -> None:
        """Show the lesson's stop (its text, not its model: the state's model is the one on screen)."""
        if state.lesson is None:
            return
        ref, i = state.lesson
        if not self._is_open(ref):
            self.lesson = load_lesson(lesson_path(ref))
        self._show_stop(i)

    def _is_open(self, ref: str) -> bool:
        return self.lesson is not None and bool(self.lesson.path) and lesson_ref(self.lesson.path) == ref

    # --- moving ---

    def go(self, i: int) -> None:
        """Show stop `i`: set model and tokens if they differ, then the step and the head."""
        if self.lesson is None or not 0 <= i < len(self.lesson.stops):
            return
        stop = self.lesson.stops[i]
        try:
            model, tokens = self.lesson.open_stop(i)
        except (ValueError, KeyError, OSError) as exc:  # e.g. a preset removed since the lesson was checked
            messages.refuse(self, "This stop cannot be opened", f"Stop {i + 1}: {exc}")
            return
        session = self.bridge.session
        image = model.config.arch == "vit"  # an image model's input is an array: compare it as one
        same = np.array_equal(tokens, session.input) if image and session.model.config.arch == "vit" \
            else (not image and tokens == session.tokens)
        if model is not session.model or not same:
            self._set_model(model, tokens, f"Lesson stop {i + 1}: {self.lesson.title}")
        bridge = self.bridge
        state = bridge.view_state()
        # a stop may show a step the sublayer view skips
        visible = bridge.trace.graph.node(stop.step).name in bridge.stepper.names
        bridge.apply_view_state(replace(state, step=stop.step, head=stop.head, lesson=None,
                                        tab=VIEW_TABS[stop.view],
                                        granularity=state.granularity if visible else "operation"))
        if stop.view in LOOK_INSIDE:  # a view inside the Look inside tab: bring it to the front there
            view = getattr(self.window(), "current_view", lambda: None)()
            if callable(getattr(view, "show_view", None)):
                view.show_view(LOOK_INSIDE[stop.view])
        self._show_stop(i)

    def _show_stop(self, i: int) -> None:
        self.index, self.revealed = i, False
        self._show()
        self.sigStopChanged.emit(i)

    @property
    def at_end(self) -> bool:
        """Whether the end card is shown."""
        return self.lesson is not None and self.index == len(self.lesson.stops)

    def forward(self) -> bool:
        """The next click: reveal a hidden answer, else go to the next stop, else the end card.
        True while a lesson is open: the clicker never steps past the end card."""
        if self.lesson is None:
            return False
        if self.at_end:
            return True
        if self._answer_hidden():
            self.reveal()
        elif self.index + 1 < len(self.lesson.stops):
            self.go(self.index + 1)
        else:
            self._show_stop(len(self.lesson.stops))
        return True

    def back(self) -> bool:
        """The previous stop (from the end card: the last stop); False at the first stop or without a lesson."""
        if self.lesson is None or self.index <= 0:
            return False
        self.go(self.index - 1)
        return True

    def previous_stop(self) -> None:
        self.back()

    def reveal(self) -> None:
        self.revealed = True
        self._show()
        # at projector type a long answer runs past the panel: bring it into view, now and as the
        # wrapped text is laid out (which grows the scroll range a moment later)
        self._follow_answer = True
        QTimer.singleShot(0, self, self._scroll_to_answer)

    def _scroll_to_answer(self) -> None:
        if not (self._follow_answer and self.answer.isVisible()):
            return
        top, height = self.answer.y(), self.answer.height()  # in the scrolled body
        room = self.scroll.viewport().height()
        # all of the answer with as much of the question above it as fits; a taller answer from its start
        bar = self.scroll.verticalScrollBar()
        bar.setValue(top if height >= room else max(0, top + height - room))

    def _answer_hidden(self) -> bool:
        if self.at_end:
            return False
        stop = self.lesson.stops[self.index]
        return bool(stop.question and stop.answer) and not self.revealed

    # --- drawing ---

    def set_font_scale(self, f: float) -> None:
        """Scale the lesson's type, e.g. when projecting."""
        for label in (self.title, self.where, self.text, self.question, self.answer):
            font = label.font()
            font.setPointSizeF(label.property("pt") * f)
            label.setFont(font)
        for button in (self.reveal_button, self.prev_button, self.next_button):
            font = button.font()
            font.setPointSizeF(SMALL_PT * f)
            button.setFont(font)

    def _show(self) -> None:
        lesson = self.lesson
        if lesson is None:
            self.title.setText("No lesson open")
            self.where.setText("")
            self.text.setText("Choose a lesson from the Lessons menu.")
            for w in (self.question, self.answer, self.reveal_button):
                w.hide()
            self.prev_button.setEnabled(False)
            self.next_button.setEnabled(False)
            return
        n = len(lesson.stops)
        self.title.setText(lesson.title)
        if self.at_end:
            self.where.setText(f"After stop {n} of {n}")
            self.question.setText(END_TEXT)
            self.answer.setText(f"Try next: {lesson.next or TRY_NEXT}")  # in the answer's box: it reads as the card
            for w in (self.question, self.answer):
                w.show()
            for w in (self.text, self.reveal_button):
                w.hide()
            self.prev_button.setEnabled(True)
            self.next_button.setEnabled(False)
            self.next_button.setText("End")
            return
        stop = lesson.stops[self.index]
        if not self.revealed:  # a new stop starts at its top
            self._follow_answer = False
            self.scroll.verticalScrollBar().setValue(0)
        # the step's title, not its dotted name: it wraps in a narrow dock and reads as words
        model = self.bridge.model
        untrained = " · random weights" if has_initial_weights(model.config, model.params) else ""  # the status
        # bar says so too, but presentation mode hides it
        self.where.setText(f"Stop {self.index + 1} of {n} · {step_title(self.bridge.trace, stop.step)}{untrained}")
        self.text.setText(stop.text)
        self.text.setVisible(bool(stop.text))
        self.question.setText(f"Question: {stop.question}")
        self.question.setVisible(bool(stop.question))
        self.answer.setText(stop.answer)
        hidden = self._answer_hidden()
        self.answer.setVisible(bool(stop.answer) and not hidden)
        self.reveal_button.setVisible(hidden)
        self.prev_button.setEnabled(self.index > 0)
        last = self.index == n - 1
        self.next_button.setEnabled(True)
        self.next_button.setText("Reveal ▶" if hidden else "Finish ▶" if last else "Next stop ▶")


class LessonDock(QDockWidget):
    """The player in a dock that appears when a lesson opens."""

    def __init__(self, player: LessonPlayer, parent: QWidget | None = None):
        super().__init__("Lesson", parent)
        self.setObjectName("lesson")
        self.player = player
        self.setWidget(player)
        player.sigStopChanged.connect(lambda i: self.setVisible(i >= 0))


def lesson_title(path: Path) -> str:
    """The title for the menu, read cheaply (a broken file still gets an entry: its error shows on click)."""
    try:
        title = json.loads(path.read_text(encoding="utf-8")).get("title")
    except (OSError, ValueError, AttributeError):
        title = None
    return title if isinstance(title, str) and title.strip() else path.stem


def fill_lessons_menu(menu: QMenu, player: LessonPlayer, folder: Path = LESSON_DIR) -> None:
    """The shipped lessons, "Open lesson file…" and "Close lesson"."""
    for n, path in enumerate(list_lessons(folder), 1):
        action = menu.addAction(f"&{n}  {lesson_title(path)}", lambda p=path: player.open_file(p))
        action.setToolTip(str(path))
    menu.addSeparator()

    def ask() -> None:
        path, _ = QFileDialog.getOpenFileName(player, "Open lesson", str(folder), FILTER)
        if path:
            player.open_file(path)

    menu.addAction(make_action(menu, "&Open lesson file…", ["Ctrl+L"], "Open a lesson a teacher wrote", ask))
    close = make_action(menu, "&Close lesson", [], "Hide the lesson; the model stays as it is",
                        player.close_lesson)
    menu.addAction(close)
    player.sigStopChanged.connect(lambda i: close.setEnabled(i >= 0))
    close.setEnabled(player.lesson is not None)


def install_lessons(window: QMainWindow, bridge: SessionBridge, set_model: SetModel | None = None,
                    area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea) -> LessonPlayer:
    """Add the Lessons menu and the (hidden) lesson dock to `window`; returns the player."""
    player = LessonPlayer(bridge, set_model)
    dock = LessonDock(player, window)
    window.addDockWidget(area, dock)
    dock.hide()
    bar = window.menuBar()
    menu = QMenu("&Lessons", window)
    # before Help, which conventionally comes last
    help_menu = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
    bar.insertMenu(help_menu, menu) if help_menu else bar.addMenu(menu)
    fill_lessons_menu(menu, player)
    player.menu = menu
    window.addActions([a for a in menu.actions() if a.shortcuts()])
    return player
