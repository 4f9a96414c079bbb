"""The transport bar: first, back, play/pause, step, last; speed, layer, head and granularity.

It only moves the cursor (`bridge.stepper`) and picks the head (`bridge.set_head`); it
never changes the model. Its actions carry the keyboard shortcuts, so the main window
puts the same actions in its menus.
"""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, QTimer
from PySide6.QtWidgets import QComboBox, QLabel, QSpinBox, QStyle, QToolBar, QWidget

from ui.actions import make_action
from ui.bridge import SessionBridge

GRANULARITIES = (("every operation", "operation"), ("per sublayer", "sublayer"))
MAX_HEAD_KEYS = 10  # keys 0–9 pick heads 0–9: the key is the head's number as every title writes it


def section_label(node) -> str:
    """The layer a step belongs to, as the layer selector names it."""
    stack = f"{node.stack} " if node.stack else ""
    if node.layer is not None:
        return f"{stack}layer {node.layer}"
    if node.sublayer == "embed":
        return f"{stack}embedding"
    return f"{stack}output"


class Transport(QToolBar):
    """Buttons and selectors that drive `bridge.stepper` (see the module docstring)."""

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None):
        super().__init__("Transport", parent)
        self.setObjectName("transport")
        self.bridge = bridge
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        style = self.style()
        icon = style.standardIcon
        SP = QStyle.StandardPixmap

        self.act_first = make_action(self, "First", ["Home"], "Go to the first step", self.first)
        self.act_back = make_action(self, "Back", ["Left", "PgUp"], "One step back", self.back)
        self.act_play = make_action(self, "Play", ["P"], "Play / pause: step automatically", self.toggle_play,
                                    checkable=True)
        self.act_next = make_action(self, "Step", ["Space", "Right", "PgDown"], "One step forward", self.next)
        self.act_last = make_action(self, "Last", ["End"], "Go to the last step", self.last)
        for action, pixmap in ((self.act_first, SP.SP_MediaSkipBackward), (self.act_back, SP.SP_MediaSeekBackward),
                               (self.act_play, SP.SP_MediaPlay), (self.act_next, SP.SP_MediaSeekForward),
                               (self.act_last, SP.SP_MediaSkipForward)):
            action.setIcon(icon(pixmap))
            self.addAction(action)
        self._play_icons = (icon(SP.SP_MediaPlay), icon(SP.SP_MediaPause))

        self.speed = QSpinBox()
        self.speed.setRange(1, 60)
        self.speed.setValue(2)
        self.speed.setSuffix(" steps/s")
        self.speed.setToolTip("Playing speed in steps per second")
        self.speed.valueChanged.connect(self._apply_speed)
        self.speed.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.speed.editingFinished.connect(self.speed.clearFocus)
        self.addWidget(self.speed)
        self.addSeparator()

        self.layer_combo = self._combo("Layer", "Jump to the first step of a layer")
        self.layer_combo.activated.connect(self._jump_to_layer)
        self.head_combo = self._combo("Head", "The attention head the views show (keys 0–9)")
        self.head_combo.activated.connect(bridge.set_head)
        self.granularity_combo = self._combo("Show", "Step through every operation, or one sublayer at a time")
        for text, value in GRANULARITIES:
            self.granularity_combo.addItem(text, value)
        self.granularity_combo.activated.connect(self._set_granularity)

        self.head_actions = [make_action(self, f"Head {h}", [str(h)], f"Show head {h}",
                                         lambda _=False, h=h: bridge.set_head(h), checkable=True)
                             for h in range(MAX_HEAD_KEYS)]

        self._graph = None
        self._sections: list[tuple[str, str]] = []  # (label, first step name) in forward order
        self._sections_key = None  # (graph, granularity) the sections were built for
        bridge.sigTraceChanged.connect(self._on_trace)
        bridge.sigStepChanged.connect(self._on_step)
        bridge.sigHeadChanged.connect(self._on_head)
        self._on_trace()

    def _combo(self, label: str, tip: str) -> QComboBox:
        text = QLabel(f" {label} ")
        text.setToolTip(tip)
        combo = QComboBox()
        combo.setToolTip(tip)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        # Keys belong to stepping: a focused combo would swallow the arrow keys.
        combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.addWidget(text)
        self.addWidget(combo)
        return combo

    @property
    def stepper(self):
        return self.bridge.stepper

    # --- moving ---

    def first(self) -> None:
        self.stepper.first()

    def back(self) -> None:
        self.stepper.back()

    def next(self) -> None:
        self.stepper.next()

    def last(self) -> None:
        self.stepper.last()

    def is_playing(self) -> bool:
        return self.timer.isActive()

    def toggle_play(self) -> None:
        self.set_playing(not self.is_playing())

    def set_playing(self, on: bool) -> None:
        if on:
            if self.stepper.index >= len(self.stepper) - 1:
                self.stepper.first()
            self._apply_speed()
            self.timer.start()
        else:
            self.timer.stop()
        with QSignalBlocker(self.act_play):
            self.act_play.setChecked(on)
        self.act_play.setText("Pause" if on else "Play")
        self.act_play.setIcon(self._play_icons[on])

    def _apply_speed(self) -> None:
        self.timer.setInterval(round(1000 / self.speed.value()))

    def _tick(self) -> None:
        self.stepper.next()
        if self.stepper.index >= len(self.stepper) - 1:
            self.set_playing(False)

    def _jump_to_layer(self, row: int) -> None:
        if 0 <= row < len(self._sections):
            self.stepper.jump(self._sections[row][1])

    def _set_granularity(self, row: int) -> None:
        self.stepper.set_granularity(GRANULARITIES[row][1])

    # --- following the session ---

    def _on_trace(self) -> None:
        graph = self.bridge.trace.graph
        if graph is not self._graph:
            self._graph = graph
            self._rebuild_heads()
        self._on_step()

    def _rebuild_heads(self) -> None:
        n_heads = self.bridge.model.config.n_heads
        with QSignalBlocker(self.head_combo):
            self.head_combo.clear()
            self.head_combo.addItems([str(h) for h in range(n_heads)])
        for h, action in enumerate(self.head_actions):
            action.setEnabled(h < n_heads)
            action.setVisible(h < n_heads)
        self._on_head(self.bridge.head)

    def _rebuild_sections(self) -> None:
        graph = self.bridge.trace.graph
        sections: dict[str, str] = {}
        for name in self.stepper.names:
            sections.setdefault(section_label(graph.node(name)), name)
        self._sections = list(sections.items())
        with QSignalBlocker(self.layer_combo):
            self.layer_combo.clear()
            self.layer_combo.addItems([label for label, _ in self._sections])

    def _on_step(self) -> None:
        stepper = self.stepper
        if self._sections_key != (self.bridge.trace.graph, stepper.granularity):
            self._sections_key = (self.bridge.trace.graph, stepper.granularity)
            self._rebuild_sections()
        label = section_label(self.bridge.trace.graph.node(stepper.name))
        with QSignalBlocker(self.layer_combo):
            self.layer_combo.setCurrentIndex([s for s, _ in self._sections].index(label))
        with QSignalBlocker(self.granularity_combo):
            self.granularity_combo.setCurrentIndex([g for _, g in GRANULARITIES].index(stepper.granularity))
        at_start, at_end = stepper.index == 0, stepper.index >= len(stepper) - 1
        self.act_first.setEnabled(not at_start)
        self.act_back.setEnabled(not at_start)
        self.act_next.setEnabled(not at_end)
        self.act_last.setEnabled(not at_end)

    def _on_head(self, head: int) -> None:
        with QSignalBlocker(self.head_combo):
            self.head_combo.setCurrentIndex(head)
        for h, action in enumerate(self.head_actions):
            with QSignalBlocker(action):
                action.setChecked(h == head)
