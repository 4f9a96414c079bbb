"""The image model's views fit their tab at 1024×768, 1280×800 and 1920×1080, in the window and in
presentation mode (and at the largest projector type): the pictures shrink, the tab never scrolls
sideways, and every picture lies inside the view's width."""
import pytest
from PySide6.QtWidgets import QApplication, QLabel

from simulator import Session
from simulator.presets import load_preset
from ui.classroom.presentation import MAX_SCALE

SIZES = [(1024, 768), (1280, 800), (1920, 1080)]


@pytest.fixture
def vit_window(make_window):
    model, image, _ = load_preset("digits")
    return make_window(Session(model, image), size=None)


def _open(window, title):
    window.tabs.setCurrentIndex(window.tab_titles().index(title))
    QApplication.processEvents()
    view = window.current_view()
    if hasattr(view, "refresh"):
        view.refresh()
    QApplication.processEvents()
    return window.tabs.currentWidget(), view


def _check_fits(scroll, view, where):
    room = scroll.viewport().width()
    assert view.minimumSizeHint().width() <= room, f"{where}: the view needs {view.minimumSizeHint().width()} px"
    assert not scroll.horizontalScrollBar().isVisible(), f"{where}: the tab scrolls sideways"
    pictures = [w for w in view.findChildren(QLabel) if w.pixmap() is not None and not w.pixmap().isNull()]
    for w in pictures:
        right = w.mapTo(view, w.rect().topRight()).x()
        assert right <= room, f"{where}: a picture ends at {right} px, past the view's {room} px"


@pytest.mark.parametrize("presenting", [False, True], ids=["window", "present"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_image_and_draw_views_fit(at_size, vit_window, qtbot, size, presenting):
    at_size(vit_window, size, presenting)
    for title in ("Image", "Draw"):
        scroll, view = _open(vit_window, title)
        _check_fits(scroll, view, f"{title} at {size}{' presenting' if presenting else ''}")
    scroll, view = _open(vit_window, "Image")
    assert len([w for w in view.findChildren(QLabel) if w.pixmap() is not None and not w.pixmap().isNull()]) \
        == 1 + 3 * 16 + 2 + 16, "every picture is drawn"


def test_the_largest_projector_type_shrinks_the_pictures_instead_of_scrolling(at_size, vit_window, qtbot):
    at_size(vit_window, (1024, 768), True)
    scroll, view = _open(vit_window, "Image")
    natural = view.cell
    vit_window.typography.set_scale(MAX_SCALE)
    QApplication.processEvents()
    _check_fits(scroll, view, "Image at 1024×768, type scale 2.5")
    assert view.cell < round(14 * MAX_SCALE), "the pictures shrank below the type's size"
    vit_window.resize(1920, 1080)
    qtbot.waitUntil(lambda: vit_window.width() == 1920)
    QApplication.processEvents()
    assert view.cell >= natural, "with more room the pictures grow again"
    _check_fits(scroll, view, "Image at 1920×1080, type scale 2.5")


@pytest.mark.parametrize("size,presenting", [((1920, 1080), False), ((1280, 800), True)],
                         ids=["1920x1080-window", "1280x800-present"])
def test_with_room_the_attention_stands_beside_the_patches_in_sight(at_size, vit_window, qtbot, size, presenting):
    from ui.views.image_view import PatchPicture
    at_size(vit_window, size, presenting)
    scroll, view = _open(vit_window, "Image")
    assert view.wide
    bottom = scroll.viewport().height()
    for picture in view.findChildren(PatchPicture):  # the attention pictures, seen without scrolling
        assert picture.mapTo(view, picture.rect().bottomLeft()).y() <= bottom
    _check_fits(scroll, view, f"Image at {size}")


def test_without_room_the_sections_stack(at_size, vit_window, qtbot):
    at_size(vit_window, (1024, 768), False)
    scroll, view = _open(vit_window, "Image")
    assert not view.wide
    _check_fits(scroll, view, "Image at 1024×768")
