"""The change highlight tells the truth on screen: an appended token outlines only the new
row; a change touching most cells is one frame round the heatmap, not an outline per cell;
pictures saved to files carry no outlines."""
import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from simulator import ModelConfig, Session, Transformer
from ui.bridge import SessionBridge
from ui.classroom.export import picture_bytes
from ui.pictures.heatmap import Heatmap
from ui.views.step_view import StepView

YELLOW = QColor("#FFC20A")


def _yellow_pixels(image: QImage) -> int:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    bits = np.frombuffer(image.constBits(), dtype=np.uint32).reshape(image.height(), -1)[:, :image.width()]
    return int(np.count_nonzero(bits == YELLOW.rgb()))


def test_an_appended_token_outlines_only_the_new_row(qtbot):
    bridge = SessionBridge(Session(Transformer(ModelConfig(), seed=2), "the cat sat on the"))
    view = StepView(bridge)
    qtbot.addWidget(view)
    view.resize(1280, 760)
    view.show()
    bridge.stepper.jump("blocks.1.hook_resid_post")
    bridge.session.set_tokens("the cat sat on the mat")
    QApplication.processEvents()
    heatmap = view.current_heatmap()
    rows = {r for r, _ in heatmap.changed_cells()}
    assert rows == {5}  # 'mat' only: the earlier positions cannot see it


@pytest.fixture
def hm(shown):
    return shown(Heatmap(), 500, 420)


def _grab(hm):
    QApplication.processEvents()
    return hm.viewport().grab().toImage()


def test_a_change_of_most_cells_is_one_frame(hm):
    values = np.arange(100, dtype=float).reshape(10, 10) / 100
    half = np.zeros((10, 10), dtype=bool)
    half[::2] = True  # 50 %: each changed cell outlined
    hm.set_data(values, changed=half)
    per_cell = _yellow_pixels(_grab(hm))
    hm.set_data(values, changed=np.ones((10, 10), dtype=bool))
    frame = _yellow_pixels(_grab(hm))
    assert 0 < frame < per_cell / 3


def test_saved_pictures_carry_no_outlines(hm):
    changed = np.zeros((10, 10), dtype=bool)
    changed[2, 3] = changed[5, 5] = True
    hm.set_data(np.arange(100, dtype=float).reshape(10, 10), changed=changed)
    assert _yellow_pixels(_grab(hm)) > 0  # on screen: outlined
    saved = QImage.fromData(picture_bytes(hm, ".png"))
    assert not saved.isNull() and _yellow_pixels(saved) == 0
    svg = picture_bytes(hm, ".svg").decode()
    assert "#ffc20a" not in svg.lower()
    assert _yellow_pixels(_grab(hm)) > 0  # and back on screen afterwards
