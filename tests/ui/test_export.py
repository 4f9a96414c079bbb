"""Export: pictures as PNG and SVG, numbers as CSV and .npy (read back to the same values),
from a heatmap's context menu and from the File ▸ Export menu."""
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtGui import QContextMenuEvent, QImage
from PySide6.QtWidgets import QApplication, QMenu

from ui import messages
from ui.classroom import export
from ui.pictures.heatmap import Heatmap

VALUES = np.array([[-5.0, -4.0, -3.0, -np.inf], [-1.0, 0.0, 1.0 / 3.0, 2.0], [3.0, 4.0, 5.0, 6.0]])


@pytest.fixture
def heatmap(qtbot):
    h = Heatmap()
    qtbot.addWidget(h)
    h.resize(500, 320)
    h.set_data(VALUES, ["the", "cat", "sat"], ["a", "b", "c", "d"], title="scores")
    h.show()
    qtbot.waitExposed(h)
    return h


def test_png_is_the_picture_on_white(heatmap, tmp_path):
    export.save_picture(heatmap, tmp_path / "h.png")
    image = QImage(str(tmp_path / "h.png"))
    assert (image.width(), image.height()) == (500, 320)
    colours = {image.pixelColor(x, y).name() for x in range(0, 500, 10) for y in range(0, 320, 10)}
    assert "#ffffff" in colours and len(colours) > 10  # a white ground with coloured cells on it


def test_svg_is_a_drawing_with_the_labels_as_text(heatmap, tmp_path):
    export.save_picture(heatmap, tmp_path / "h.svg")
    root = ET.parse(tmp_path / "h.svg").getroot()
    texts = "".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for word in ("scores", "the", "cat", "sat"):
        assert word in texts


def test_numbers_round_trip_through_csv_and_npy(tmp_path):
    export.save_array(VALUES, tmp_path / "v.npy")
    assert np.array_equal(np.load(tmp_path / "v.npy"), VALUES)
    export.save_array(VALUES, tmp_path / "v.csv", ["the", "cat", "sat"], ["a", "b", "c", "d"])
    lines = (tmp_path / "v.csv").read_text().splitlines()
    assert lines[0] == ",a,b,c,d" and lines[1].startswith("the,")
    back = np.loadtxt(tmp_path / "v.csv", delimiter=",", skiprows=1, usecols=range(1, 5))
    assert np.array_equal(back, VALUES)  # full precision, -inf included


def test_a_tensor_with_three_axes_is_one_csv_row_per_leading_index(tmp_path):
    t = np.arange(12.0).reshape(2, 3, 2)  # [head, q_pos, k_pos]
    export.save_array(t, tmp_path / "t.csv")
    rows = np.loadtxt(tmp_path / "t.csv", delimiter=",", skiprows=1)
    assert rows.shape == (6, 4)
    for h, q, *values in rows:
        assert np.array_equal(values, t[int(h), int(q)])


def test_unknown_extensions_are_refused_and_write_nothing(heatmap, tmp_path):
    with pytest.raises(ValueError, match=".png or .svg"):
        export.save_picture(heatmap, tmp_path / "h.gif")
    with pytest.raises(ValueError, match=".csv or .npy"):
        export.save_array(VALUES, tmp_path / "v.txt")
    assert list(tmp_path.iterdir()) == []


def test_the_heatmap_context_menu_saves_its_picture_and_numbers(heatmap, tmp_path, monkeypatch):
    answers = iter([str(tmp_path / "pic.svg"), str(tmp_path / "num")])
    monkeypatch.setattr(export, "ask_save_path", lambda *a: next(answers))
    menu = export.heatmap_menu(heatmap)
    picture, numbers = menu.actions()
    assert "3 × 4" in numbers.text()
    picture.trigger()
    assert (tmp_path / "pic.svg").stat().st_size > 1000
    monkeypatch.setattr(export, "ask_save_path", lambda *a: str(tmp_path / "num.npy"))
    numbers.trigger()
    assert np.array_equal(np.load(tmp_path / "num.npy"), VALUES)


def test_right_click_opens_the_menu_the_app_gives_pictures(heatmap, qtbot, monkeypatch):
    pos = heatmap.viewport().rect().center()

    def right_click():
        event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, heatmap.viewport().mapToGlobal(pos))
        QApplication.sendEvent(heatmap.viewport(), event)
        return [m for m in heatmap.findChildren(QMenu) if m.isVisible()]

    monkeypatch.setattr(Heatmap, "context_menu", None)
    assert right_click() == []  # a picture alone knows nothing of files
    monkeypatch.setattr(Heatmap, "context_menu", export.heatmap_menu)  # as the main window sets it
    menus = right_click()
    assert len(menus) == 1 and menus[0].actions()[0].text().startswith("Save picture")
    menus[0].close()


def test_a_failed_save_is_reported(heatmap, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(messages, "refuse", lambda parent, title, text, *a: shown.append(text))
    monkeypatch.setattr(export, "ask_save_path", lambda *a: str(tmp_path / "missing" / "x.png"))
    assert export.export_picture(heatmap) is None
    assert shown and "does not exist" in shown[0]


def test_file_export_saves_the_view_and_the_whole_step(make_window, qtbot, tmp_path, monkeypatch):
    w = make_window(size=(1000, 700))
    bridge = w.session_bridge
    bridge.stepper.jump("blocks.0.attn.hook_pattern")
    actions = {a.text().replace("&", ""): a for m in w.findChildren(QMenu) for a in m.actions()}
    monkeypatch.setattr(export, "ask_save_path", lambda *a: str(tmp_path / "step.npy"))
    actions["This step's numbers…"].trigger()
    assert np.array_equal(np.load(tmp_path / "step.npy"), bridge.trace["blocks.0.attn.hook_pattern"])
    monkeypatch.setattr(export, "ask_save_path", lambda *a: str(tmp_path / "view.png"))
    actions["Picture of the view…"].trigger()
    assert QImage(str(tmp_path / "view.png")).size() == w.tabs.currentWidget().size()
