"""A step title too long for one line puts the whole formula on the next line, never breaking it
after "pattern ="."""
from PySide6.QtWidgets import QApplication

from simulator import ModelConfig, Session, Transformer
from ui.bridge import SessionBridge
from ui.views.step_view import StepView


def test_a_long_title_moves_the_whole_formula_to_its_own_line(qtbot):
    view = StepView(SessionBridge(Session(Transformer(ModelConfig(), seed=1), "the cat sat on the mat")))
    qtbot.addWidget(view)
    view.set_font_scale(1.6)  # presentation type
    view.resize(900, 600)
    view.show()
    view.bridge.stepper.jump("blocks.0.attn.hook_pattern")
    QApplication.processEvents()
    text = view._title.text()
    assert "<br><span" in text and "pattern = softmax(masked) along each row</span>" in text
    view.resize(1900, 600)  # room for both on one line
    QApplication.processEvents()
    assert "<br>" not in view._title.text()
