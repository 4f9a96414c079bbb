"""The one Append widget: its buttons call whatever appends, its message says why nothing was
appended; the next-token panel, the Sampling tab and the KV cache tab all use it."""
import pytest
from PySide6.QtWidgets import QPushButton

from ui.pictures.append_buttons import AppendButtons


class Appender:
    """Records the calls; refuses with `refusal` while it is set."""

    def __init__(self):
        self.calls, self.refusal = [], None

    def append(self, greedy: bool = False):
        self.calls.append(("append", greedy))
        return self.refusal

    def generate(self, n: int):
        self.calls.append(("generate", n))
        return self.refusal


@pytest.fixture
def buttons(qtbot):
    w = AppendButtons()
    qtbot.addWidget(w)
    w.show()
    return w


def test_each_button_calls_the_appender_and_a_refusal_shows_until_a_press_succeeds(buttons):
    buttons.greedy_button.click()  # nothing connected yet: nothing happens
    appender = Appender()
    buttons.connect_to(appender)
    buttons.greedy_button.click()
    buttons.sample_button.click()
    buttons.n_tokens.setValue(4)
    buttons.generate_button.click()
    assert appender.calls == [("append", True), ("append", False), ("generate", 4)]
    assert not buttons.message.isVisible()
    appender.refusal = "The text has ended with <eos>: remove it to write on."
    buttons.sample_button.click()
    assert buttons.message.isVisible() and buttons.message.text() == appender.refusal
    appender.refusal = None
    buttons.generate_button.click()
    assert not buttons.message.isVisible() and buttons.message.text() == ""


def test_the_compact_and_the_short_forms(qtbot):
    compact = AppendButtons(compact=True)
    no_generate = AppendButtons(generate=False)
    for w in (compact, no_generate):
        qtbot.addWidget(w)
        w.show()
    assert compact.append_label.isVisible() and compact.greedy_button.text() == "most likely"
    assert compact.greedy_button.y() < compact.generate_button.y()  # Generate on a line of its own
    assert not no_generate.append_label.isVisible() and no_generate.greedy_button.text() == "Append most likely"
    assert not no_generate.generate_button.isVisible() and not no_generate.n_tokens.isVisible()
    assert all(b.toolTip() for b in (compact.greedy_button, compact.sample_button, compact.generate_button))


def test_the_message_has_the_type_of_the_buttons(buttons):
    font = buttons.font()
    font.setPointSizeF(21.0)
    buttons.setFont(font)  # as a view's set_font_scale does
    assert buttons.message.font().pointSizeF() == buttons.greedy_button.font().pointSizeF() == 21.0


def test_the_three_places_use_the_one_widget_connected_to_the_window(make_window):
    from ui.app import start_session

    w = make_window(start_session())
    w.session_bridge.stepper.jump("probs")
    views = [w.step_view.next_token()]
    for title in ("Sampling", "KV cache"):
        w.tabs.setCurrentIndex(w.tab_titles().index(title))
        views.append(w.current_view())
    for view in views:
        widgets = view.findChildren(AppendButtons)
        assert len(widgets) == 1, view
        texts = {widgets[0].greedy_button.text(), widgets[0].sample_button.text()}
        own = [b.text() for b in view.findChildren(QPushButton) if b.text() in texts]
        assert len(own) == 2, own  # no second set of buttons beside the widget
        n = len(w.session_bridge.session.tokens)
        widgets[0].greedy_button.click()
        assert len(w.session_bridge.session.tokens) == n + 1, view
