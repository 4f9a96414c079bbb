"""The main window: puts the views, docks, menus and actions together.

The logic lives elsewhere: edits in `ui.edits`, files in `ui.files.model_file`, stepping in the
transport bar, pictures in the views. Other views join as tabs next to the step view
through `add_view` (see the marked section in `__init__`).
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSignalBlocker, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QFontMetrics, QKeyEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QWidget,
)

from simulator import Session
from ui.actions import key_names, make_action
from ui.app import APP_NAME, default_session
from ui.bridge import SessionBridge
from ui.classroom.export import export_picture, export_step, heatmap_menu
from ui.classroom.handout import ask_export_handout
from ui.classroom.lesson_player import install_lessons
from ui.classroom.presentation import EXPLAIN_SHARE, PresentationController
from ui.edits import EditController
from ui.files.model_file import FileController
from ui.files.scenario import ask_open_scenario, ask_save_scenario
from ui.generation import GenerationController
from ui.history import HistoryLimit
from ui.messages import plain
from ui.pictures.frame import ErrorLabel
from ui.pictures.heatmap import Heatmap
from ui.preferences import Preferences
from ui.presets_menu import add_presets_menu
from ui.theme import ThemeController
from ui.typography import Typography
from ui.views.arch_map import ArchMap
from ui.views.backward_view import BackwardView
from ui.views.compare_view import CompareView
from ui.views.cost_view import CostView
from ui.views.depth_map_view import DepthMapView
from ui.views.draw_view import DrawView
from ui.views.explain_panel import ExplainPanel
from ui.views.gradient_view import GradientFlowView
from ui.views.image_view import ImageView
from ui.views.interp_tabs import InterpTabs
from ui.views.kv_cache_view import KVCacheView
from ui.views.param_editor import ParamEditor
from ui.views.residual_view import ResidualStreamView
from ui.views.sampling_view import SamplingView
from ui.views.settings_dialog import SettingsDialog
from ui.views.step_view import StepView
from ui.views.tiled_view import TiledView
from ui.views.token_strip import TokenStrip
from ui.views.training_panel import TrainingPanel
from ui.views.transport import Transport
from ui.weights_label import WeightsLabel

SHARED_LESSON_WIDTH = 1200  # in a narrower window a lesson shares the left docks: the picture keeps its room
CALC_SHARE = 0.42  # of the picture-and-explanation height, at most, for the explanation's whole text


def _scrolling(widget: QWidget | None) -> QScrollArea:
    """`widget` in a frameless scroll area: a view needing more room than a 1280×800 projector
    offers scrolls instead of pushing the window off the screen."""
    scroll = QScrollArea()
    if widget is not None:
        scroll.setWidget(widget)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    return scroll


class MainWindow(QMainWindow):
    def __init__(self, session: Session | None = None, settings: Preferences | None = None):
        super().__init__()
        settings = settings if settings is not None else Preferences()  # one file, shared by all
        self.preferences = settings
        self.session_bridge = bridge = SessionBridge(session or default_session(), self)
        # Not a child of the window: its clean-up on deletion must not reach half-deleted children.
        self.undo_stack = QUndoStack()
        self.history_limit = HistoryLimit(self.undo_stack, lambda: bridge.session, self)
        self.edits = EditController(bridge, self.undo_stack)
        self.files = FileController(self, self.edits, self.undo_stack, settings)

        self.transport = Transport(bridge, self)
        self.addToolBar(self.transport)
        self.token_strip = TokenStrip(bridge)
        self.token_strip.sigTokensRequested.connect(self._set_tokens)
        self.step_view = StepView(bridge)
        self.explain_panel = ExplainPanel(bridge)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.step_view, "Step")
        self._view_factories: dict[QScrollArea, Callable[[], QWidget]] = {}
        self.tabs.currentChanged.connect(self._make_pending_view)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.tabs)
        self.splitter.addWidget(self.explain_panel)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([600, 130])
        self._explain_set = -1.0  # the explanation's share of the height as last set to fit its text
        self.setCentralWidget(self.splitter)

        self.arch_map = ArchMap(bridge)
        self.arch_map.sigToggleRequested.connect(self._toggle_component)
        self.param_editor = ParamEditor(bridge)
        self.param_editor.sigEditRequested.connect(self.apply_edit)
        self.param_editor.sigRandomizeRequested.connect(self.edits.randomize)
        self.param_editor.sigResetRequested.connect(self.edits.reset)
        self.token_dock = self._dock("Tokens", self.token_strip, Qt.DockWidgetArea.TopDockWidgetArea)
        self.token_dock.setTitleBarWidget(QWidget())
        self.token_dock.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        self.map_dock = self._dock("Architecture", _scrolling(self.arch_map), Qt.DockWidgetArea.LeftDockWidgetArea)
        self.param_dock = self._dock("Parameters", _scrolling(self.param_editor),
                                     Qt.DockWidgetArea.LeftDockWidgetArea)
        # behind the map's tab the editor skips redrawing on every edit, and catches up when shown
        self.param_dock.visibilityChanged.connect(self.param_editor.set_active)
        self.tabifyDockWidget(self.map_dock, self.param_dock)
        self.setTabPosition(Qt.DockWidgetArea.LeftDockWidgetArea, QTabWidget.TabPosition.North)
        self._fit_tab_titles([self.map_dock, self.param_dock])
        self.map_dock.raise_()
        # the token strip spans the whole width, over the side docks
        self.setCorner(Qt.Corner.TopLeftCorner, Qt.DockWidgetArea.TopDockWidgetArea)
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.TopDockWidgetArea)

        # once the new text is laid out (a moment later), so its height is known
        for signal in (bridge.sigCellSelected, bridge.sigStepChanged, bridge.sigTraceChanged):
            signal.connect(lambda *_: QTimer.singleShot(0, self, self._room_for_explanation))
        self.step_label = plain(QLabel())
        self.warning_label = plain(ErrorLabel(bold=True))  # e.g. "this decoder can see the future"
        self.warning_label.setWordWrap(False)  # one line in the status bar
        self.statusBar().addWidget(self.warning_label, 1)
        self.weights_label = WeightsLabel(bridge)
        self.statusBar().addPermanentWidget(self.weights_label)
        self.statusBar().addPermanentWidget(self.step_label)
        # the precision the numbers are computed in: float32 for a checkpoint, float64 for the tiny models
        self.precision_label = plain(QLabel())
        self.statusBar().addPermanentWidget(self.precision_label)
        self.act_float64 = make_action(self, "Compute in float&64", [], "Compute every step in float64 (a "
                                       "checkpoint opens in float32: half the memory)",
                                       self._set_precision, checkable=True)
        bridge.sigStepChanged.connect(self._show_step)
        bridge.sigTraceChanged.connect(self._show_step)
        # classroom: theme and colour maps, presentation mode (F5), lessons
        self.theme = ThemeController(QApplication.instance(), settings, parent=self)
        bridge.set_maps(self.theme.maps)
        self.theme.sigMapsChanged.connect(bridge.set_maps)
        self.typography = Typography(self)
        Heatmap.context_menu = heatmap_menu  # right-click a picture: save it or its numbers
        self.presentation = PresentationController(self, bridge, also_hide=[self.tabs.tabBar()],
                                                   splitter=self.splitter, typography=self.typography)
        self._build_menus()
        self.lesson_player = install_lessons(self, bridge, self.set_model)
        for part in (self.theme, self, self.lesson_player):  # who owns the view state's maps, tab, lesson
            bridge.add_view_part(part)
        self._menus.append(self.lesson_player.menu)
        self.presentation.keep.append(self.lesson_player.parentWidget())
        for view in (self.step_view, self.explain_panel, self.arch_map, self.param_editor, self.lesson_player):
            self.typography.add(view)
        self.presentation.clicker = self.lesson_player
        for signal in (self.lesson_player.sigStopChanged, self.presentation.sigPresentingChanged):
            signal.connect(lambda *_: QTimer.singleShot(0, self, self._room_for_explanation))
        self._lesson_placed = False  # the first lesson of the window finds its dock a place; then it stays put
        self.lesson_player.sigStopChanged.connect(self._lesson_stop)
        self._show_step()

        # --- extra views ---
        # One line each, e.g.: self.add_view("Residual stream", lambda: ResidualView(bridge))
        self.add_view("Residual stream", lambda: ResidualStreamView(bridge))
        self.add_view("Depth attention", lambda: DepthMapView(bridge))
        self.add_view("Compare residuals", lambda: CompareView(bridge))
        self.training_panel = TrainingPanel(
            bridge, apply_params=lambda _before, after: self.edits.set_params(
                after, f"Train on {self.training_panel.task.title}"),
            set_model=lambda model, tokens: self.set_model(model, tokens, "New model for training"))
        self.add_view("Training", self.training_panel)
        self.add_view("Gradients", lambda: GradientFlowView(bridge))
        self.add_view("Backward pass", lambda: BackwardView(bridge))
        self.add_view("Look inside", lambda: InterpTabs(bridge, self.edits.toggle_component))
        self.generation = GenerationController(bridge, self.undo_stack, self)
        self.step_view.next_token().append_buttons.connect_to(self.generation)
        self.add_view("Sampling", lambda: SamplingView(bridge, self.generation, explained=True,
                                                       show_cache=self._show_kv_cache))
        # made now, not when first shown: it compares each trace with the one before to find the new row
        self.add_view("KV cache", KVCacheView(bridge, self.generation))
        self.add_view("Cost of attention", lambda: CostView(bridge))
        self.add_view("Tiled attention", lambda: TiledView(bridge))
        self.add_view("Draw", lambda: DrawView(bridge, self.edits.set_tokens))
        self.add_view("Image", lambda: ImageView(bridge))
        add_presets_menu(self)
        # --- end of extra views ---

        # the map is as clear at its narrowest; the pictures need the width on a 1280-pixel projector
        self.resizeDocks([self.map_dock], [self.map_dock.minimumWidth()], Qt.Orientation.Horizontal)
        self.tabs.setFocus()  # keys step the model from the start, not type into a field

    # --- public API ---

    def add_view(self, title: str, widget: QWidget) -> int:
        """Add a tab next to the step view (in a scroll area); returns its tab index.

        `widget` may instead be a function making it: it is then called the first time the
        tab is shown, so views nobody opens cost nothing at start-up.
        """
        scroll = _scrolling(widget if isinstance(widget, QWidget) else None)
        if isinstance(widget, QWidget):
            self._follow_type(widget)
            self._explain_from(widget)
        else:
            self._view_factories[scroll] = widget
        return self.tabs.addTab(scroll, title)

    def _follow_type(self, view: QWidget) -> None:
        if callable(getattr(view, "set_font_scale", None)):
            self.typography.add(view)

    def _explain_from(self, view: QWidget) -> None:
        """A view that explains its own clicked cells writes them in the explanation panel."""
        if hasattr(view, "sigCalculation") and hasattr(view, "ABOUT"):
            view.sigCalculation.connect(self.explain_panel.show_calculation)

    def current_view(self) -> QWidget:
        """The view on the current tab (not its scroll area)."""
        widget = self.tabs.currentWidget()
        return widget.widget() if isinstance(widget, QScrollArea) else widget

    # --- the tab field of the view state ---

    def tab_titles(self) -> list[str]:
        return [self.tabs.tabText(i) for i in range(self.tabs.count())]

    def capture_view(self) -> dict:
        return {"tab": self.tabs.tabText(self.tabs.currentIndex())}

    def view_problems(self, state) -> dict[str, str]:
        if state.tab is not None and state.tab not in self.tab_titles():
            return {"tab": f"there is no view called {state.tab!r}"}
        return {}

    def apply_view(self, state) -> None:
        if state.tab is not None:
            self.tabs.setCurrentIndex(self.tab_titles().index(state.tab))

    def _make_pending_view(self, index: int) -> None:
        factory = self._view_factories.pop(self.tabs.widget(index), None)
        if factory is not None:
            view = factory()
            self._follow_type(view)
            self._explain_from(view)
            self.tabs.widget(index).setWidget(view)
        # the explanation panel describes the tab in front (its picture, its clicked cells), or the step
        view = self.current_view()
        self.explain_panel.follow_tab(getattr(view, "ABOUT", None), hasattr(view, "sigCalculation"))
        if callable(getattr(view, "explain_now", None)):  # a calculation that needs no click (Sampling)
            view.explain_now()

    def set_model(self, model, tokens, text: str) -> None:
        """Show another model (a lesson stop, a scenario) as one undoable step, not tied to a file."""
        was_clean = self.undo_stack.isClean()
        self.edits.set_model(model, tokens, text, self.files.path, None, self.files.set_path)
        if was_clean:  # nothing of the user's is unsaved: no "save changes?" prompt for a lesson
            self.undo_stack.setClean()

    def apply_edit(self, name: str, value, index=None) -> str | None:
        """Set a parameter (or one cell) as one undoable step; a bad value is refused with a message."""
        error = self.edits.apply_edit(name, value, index)
        if error:
            self.statusBar().showMessage(error, 8000)
        return error

    def open_settings(self) -> bool:
        """Model settings: a valid new configuration builds a new model (undoable)."""
        model = self.session_bridge.model
        dialog = SettingsDialog(model.config, model.seed, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        new_model, tokens = dialog.build(self.session_bridge.session.tokens, model.config.tokenization)
        path = self.files.path
        self.edits.set_model(new_model, tokens, "Change model settings", path, path, self.files.set_path)
        return True

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every action with a shortcut, in menu order."""
        rows = []
        for menu in self._menus:
            for action in menu.actions():
                if action.shortcuts():
                    rows.append((key_names(action.shortcuts()), action.text().replace("&", "")))
        return rows

    # --- pieces ---

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.lower())
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        t, files = self.transport, self.files
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcuts([QKeySequence("Ctrl+Z")])
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for action, tip in ((undo, "Undo the last change"), (redo, "Redo the change just undone")):
            action.setToolTip(f"{tip} ({key_names(action.shortcuts())})")
        self.act_undo, self.act_redo = undo, redo
        self.act_highlight = make_action(self, "&Highlight changes", ["H"], "Outline the cells the last edit changed",
                                         self.session_bridge.set_highlight, checkable=True)
        self.act_highlight.setChecked(self.session_bridge.highlight)
        self.session_bridge.sigHighlightChanged.connect(self.act_highlight.setChecked)
        self.act_granularity = make_action(self, "Per &sublayer", ["G"], "Step one sublayer at a time",
                                           lambda on: t.stepper.set_granularity("sublayer" if on else "operation"),
                                           checkable=True)
        self.session_bridge.sigStepChanged.connect(
            lambda: self.act_granularity.setChecked(t.stepper.granularity == "sublayer"))
        self.act_full_screen = make_action(self, "&Full screen", ["F11"], "Full screen on or off",
                                           self._toggle_full_screen, checkable=True)

        menus = self._menus = []

        def menu(title: str, *actions):
            m = self.menuBar().addMenu(title)
            for a in actions:
                if a is None:
                    m.addSeparator()
                else:
                    m.addAction(a)
            menus.append(m)
            return m

        file_menu = menu("&File",
                         make_action(self, "&New", ["Ctrl+N"], "A new classroom model", files.new),
                         make_action(self, "&Open…", ["Ctrl+O"], "Open a model file", lambda: files.open()),
                         make_action(self, "Open model &folder…", ["Ctrl+Shift+O"],
                                     "Open a checkpoint folder (GPT-2, BERT: config.json, model.safetensors, "
                                     "tokenizer)", lambda: files.open_folder()))
        file_menu.addMenu(files.recent_menu)
        file_menu.addAction(make_action(self, "&Save", ["Ctrl+S"], "Save the model and tokens", files.save))
        file_menu.addAction(make_action(self, "Save &As…", ["Ctrl+Shift+S"], "Save to another file",
                                        lambda: files.save_as()))
        file_menu.addSeparator()
        b = self.session_bridge
        file_menu.addAction(make_action(self, "Open s&cenario…", [],
                                        "Open a model at the step and view a teacher saved",
                                        lambda: ask_open_scenario(self, b, self.set_model)))
        file_menu.addAction(make_action(self, "Save sce&nario…", [], "Save the model, the input, the step and the view",
                                        lambda: ask_save_scenario(self, b)))
        export = file_menu.addMenu("&Export")
        export.addAction(make_action(self, "Handout as &PDF…", ["Ctrl+P"], "Every step on a page: picture, formula, "
                                     "explanation", lambda: ask_export_handout(self, b.session, b.head,
                                                                               b.stepper.granularity)))
        export.addAction(make_action(self, "Handout as PNG &folder…", [], "Every step as a PNG page",
                                     lambda: ask_export_handout(self, b.session, b.head, b.stepper.granularity,
                                                                as_pdf=False)))
        export.addAction(make_action(self, "Picture of the &view…", [], "The view on screen as PNG or SVG",
                                     lambda: export_picture(self.current_view(), self, b.stepper.name)))
        export.addAction(make_action(self, "This step's &numbers…", [], "The current step's whole tensor as CSV "
                                     "or .npy", lambda: export_step(self, b)))
        menus.append(export)
        file_menu.addSeparator()
        file_menu.addAction(make_action(self, "&Quit", ["Ctrl+Q"], "Close Stepformer", self.close))
        menu("&Edit", undo, redo, None,
             make_action(self, "Model &settings…", ["Ctrl+,"], "Change the model's size and wiring",
                         self.open_settings), self.act_float64)
        menu("&Step", t.act_next, t.act_back, t.act_first, t.act_last, None, t.act_play, self.act_granularity)
        view = menu("&View", self.act_highlight)
        heads = view.addMenu("&Head")
        for action in t.head_actions:
            heads.addAction(action)
        menus.append(heads)
        view.addSeparator()
        view.addAction(self.map_dock.toggleViewAction())
        view.addAction(self.param_dock.toggleViewAction())
        view.addAction(self.act_full_screen)
        view.addAction(self.presentation.action)
        self.theme.fill_menu(view.addMenu("&Theme and colours"))
        menu("&Help", make_action(self, "&Keyboard shortcuts", ["F1"], "List every key", self._show_shortcuts))
        # shortcuts work while a menu's toolbar or dock is hidden
        for m in menus:
            self.addActions([a for a in m.actions() if a.shortcuts()])

    def _set_precision(self, float64: bool) -> None:
        self.files.set_precision("float64" if float64 else "float32")
        self._show_step()  # a refusal leaves the model, and so the check mark, as it was

    def _show_step(self) -> None:
        model = self.session_bridge.model
        # e.g. "this decoder can see the future"; a saved checkpoint's tokenizer that needs a package
        self.warning_label.setText(" ".join(filter(None, (model.config.warning, model.tokenizer.note))))
        dtype = model.config.dtype
        self.precision_label.setText(f" ·  computed in {dtype}")
        self.precision_label.setToolTip(f"Every number is computed in {dtype} (Edit ▸ Compute in float64)")
        with QSignalBlocker(self.act_float64):
            self.act_float64.setChecked(dtype == "float64")
        stepper = self.session_bridge.stepper
        self.step_label.setText(f"step {stepper.index + 1} of {len(stepper)} — {stepper.name}")

    def _toggle_component(self, component: str, mode) -> None:
        error = self.edits.toggle_component(component, mode)
        if error:
            self.statusBar().showMessage(error, 8000)

    def _show_kv_cache(self) -> None:
        self.tabs.setCurrentIndex(self.tab_titles().index("KV cache"))

    def _lesson_stop(self, index: int) -> None:
        if index >= 0 and not self._lesson_placed:
            self._lesson_placed = True  # where the reader moves it later, it stays
            # once the window has its size (a lesson given on the command line opens before that)
            QTimer.singleShot(0, self, self._place_lesson)

    def _place_lesson(self) -> None:
        """At a narrow window the lesson joins the Architecture and Parameters tabs on the left, in front:
        with three columns the picture between them had 440 of 1024 pixels. The reader may move it back."""
        dock = self.lesson_player.parentWidget()
        left = [d for d in (self.map_dock, self.param_dock) if d.isVisible() and not d.isFloating()
                and self.dockWidgetArea(d) == Qt.DockWidgetArea.LeftDockWidgetArea]
        if self.width() < SHARED_LESSON_WIDTH and left and not dock.isFloating() and dock.isVisible() \
                and self.dockWidgetArea(dock) != Qt.DockWidgetArea.LeftDockWidgetArea:
            self.tabifyDockWidget(left[0], dock)
            self._fit_tab_titles([*left, dock])
            dock.show()
            dock.raise_()

    def _fit_tab_titles(self, docks: list[QDockWidget]) -> None:
        """Docks tabbed together wide enough for all their tab titles (squeezed, they read "Architec…")."""
        titles = QFontMetrics(self.font()).horizontalAdvance("".join(d.windowTitle() for d in docks))
        for dock in docks:
            dock.setMinimumWidth(titles + 2 * 24 * len(docks))

    def _room_for_explanation(self) -> None:
        """The step's description and a chosen cell's calculation are shown whole: the explanation
        grows (up to CALC_SHARE of the height) rather than hide the end behind a scroll bar, and
        gives the room back when the text is shorter (unless the user has moved the divider)."""
        sizes = self.splitter.sizes()
        if len(sizes) != 2:
            return
        total = sum(sizes)
        want = min(max(self.explain_panel.wanted_height(), round(EXPLAIN_SHARE * total)), round(CALC_SHARE * total))
        # set by us (a window resize keeps the share), or presenting: no divider to drag there
        ours = abs(sizes[1] / max(total, 1) - self._explain_set) < 0.01 or self.presentation.presenting
        if sizes[1] < want or (ours and sizes[1] > want):
            self.splitter.setSizes([total - want, want])
            self._explain_set = self.splitter.sizes()[1] / max(total, 1)

    def _set_tokens(self, tokens) -> None:
        error = self.edits.set_tokens(tokens)
        if error:
            self.token_strip.show_error(error)

    def _toggle_full_screen(self, on: bool) -> None:
        self.showFullScreen() if on else self.showNormal()

    def _show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{w}</td></tr>" for k, w in self.shortcut_rows())
        QMessageBox.information(self, f"{APP_NAME}: keyboard shortcuts", f"<table>{rows}</table>")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        QTimer.singleShot(0, self, self._room_for_explanation)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Esc (not taken by an editor or presentation mode) clears the chosen cell's calculation
        if event.key() == Qt.Key.Key_Escape:
            self.session_bridge.select_cell(None)
            self.step_view.clear_hover()
            event.accept()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.files.maybe_save():
            event.accept()
            # The commands are deleted now, while all they refer to is alive, rather than by the
            # stack's destructor whenever Python's garbage collector gets to it (after the commands'
            # own Python halves may have gone: a crash in QUndoStack::clear).
            self.undo_stack.clear()
        else:
            event.ignore()
