"""Tests for ui.pictures.heatmap.Heatmap: data in/out, labels, mouse signals, masked cells,
outlines and when the numbers are printed."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QWheelEvent
from PySide6.QtWidgets import QApplication, QScrollArea

from ui.pictures import colormaps
from ui.pictures import heatmap as heatmap_mod
from ui.pictures.heatmap import Heatmap, format_value, widest_text

TOKENS = ["<bos>", "the", "cat", "sat"]


@pytest.fixture
def hm(shown):
    return shown(Heatmap(), 800, 700)


def settle(w, size=None):
    if size is not None:
        w.resize(*size)
    QApplication.processEvents()


def cell_point(w, row, col, fx=0.5, fy=0.5) -> QPoint:
    """Viewport position of a point inside a cell (fx, fy are fractions of the cell)."""
    scene = w.image_item.mapToScene(QPointF(col + fx, row + fy))
    return w.mapFromScene(scene)


def pixel(w, pt: QPoint) -> QColor:
    return w.viewport().grab().toImage().pixelColor(pt)


def test_values_round_trip_and_in_place_update(hm):
    a = np.arange(16, dtype=float).reshape(4, 4)
    hm.set_data(a, TOKENS, TOKENS)
    assert np.array_equal(hm.values(), a)
    items_before = len(hm.scene().items())
    image = hm.image_item
    hm.set_data(a * 2, TOKENS, TOKENS)
    assert np.array_equal(hm.values(), a * 2)
    assert hm.image_item is image
    assert len(hm.scene().items()) == items_before


def test_values_is_a_copy(hm):
    a = np.ones((2, 2))
    hm.set_data(a)
    a[0, 0] = 99
    assert hm.values()[0, 0] == 1


def test_one_d_is_one_row(hm):
    hm.set_data(np.array([1.0, 2.0, 3.0]))
    assert hm.values().shape == (1, 3)


def test_tick_labels_are_the_tokens(hm, drawn_ticks):
    hm.set_data(np.zeros((4, 3)), TOKENS, ["a", "b", "c"])
    settle(hm)
    plot = hm.getItem(1, 0)
    assert [text for _, text in drawn_ticks(plot.getAxis("left"))] == TOKENS
    assert [text for _, text in drawn_ticks(plot.getAxis("top"))] == ["a", "b", "c"]


def test_label_count_mismatch_raises(hm):
    with pytest.raises(ValueError):
        hm.set_data(np.zeros((4, 4)), TOKENS[:3], TOKENS)


@pytest.mark.parametrize("cell", [(0, 0), (3, 1), (2, 3)])
def test_click_emits_the_cell(hm, qtbot, cell):
    hm.set_data(np.zeros((4, 4)), TOKENS, TOKENS)
    settle(hm)
    with qtbot.waitSignal(hm.sigCellClicked, timeout=1000) as blocker:
        qtbot.mouseClick(hm.viewport(), Qt.MouseButton.LeftButton, pos=cell_point(hm, *cell))
    assert blocker.args == [cell]


def test_click_on_one_d_data_gives_row_zero(hm, qtbot):
    hm.set_data(np.arange(5.0))
    settle(hm)
    with qtbot.waitSignal(hm.sigCellClicked, timeout=1000) as blocker:
        qtbot.mouseClick(hm.viewport(), Qt.MouseButton.LeftButton, pos=cell_point(hm, 0, 3))
    assert blocker.args == [(0, 3)]


def test_double_click_and_hover(hm, qtbot):
    hm.set_data(np.zeros((4, 4)))
    settle(hm)
    with qtbot.waitSignal(hm.sigCellDoubleClicked, timeout=1000) as blocker:
        qtbot.mouseDClick(hm.viewport(), Qt.MouseButton.LeftButton, pos=cell_point(hm, 1, 2))
    assert blocker.args == [(1, 2)]
    with qtbot.waitSignal(hm.sigCellHovered, timeout=1000) as blocker:
        qtbot.mouseMove(hm.viewport(), cell_point(hm, 3, 0))
    assert blocker.args == [(3, 0)]


def send_wheel(w, pt: QPoint, notches: int) -> None:
    pos = QPointF(pt)
    ev = QWheelEvent(pos, QPointF(w.viewport().mapToGlobal(pt)), QPoint(), QPoint(0, 120 * notches),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                     Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(w.viewport(), ev)


def test_wheel_nudges_only_when_enabled(hm, qtbot):
    hm.set_data(np.zeros((4, 4)))
    settle(hm)
    rng = hm.getItem(1, 0).getViewBox().viewRange()
    with qtbot.assertNotEmitted(hm.sigCellNudged):
        send_wheel(hm, cell_point(hm, 2, 2), 1)
    assert hm.getItem(1, 0).getViewBox().viewRange() == rng  # no zoom either
    hm.set_nudge_enabled(True)
    with qtbot.waitSignal(hm.sigCellNudged, timeout=1000) as blocker:
        send_wheel(hm, cell_point(hm, 2, 1), -1)
    assert blocker.args == [(2, 1), -1.0]


def test_masked_cells_are_grey_and_say_minus_infinity(hm):
    a = np.array([[1.0, -np.inf], [np.nan, -1.0]])
    hm.set_data(a, kind="signed")
    settle(hm)
    assert hm.cell_text(0, 1) == "\u2212\u221e"
    assert hm.cell_text(1, 0) == "NaN"
    assert hm.cell_text(0, 0) == "1.00"
    # Sample near a corner, away from the printed number.
    for r, c in [(0, 1), (1, 0)]:
        col = pixel(hm, cell_point(hm, r, c, 0.15, 0.15))
        assert col.red() == col.green() == col.blue(), col.name()
    lut = colormaps.lookup_table(colormaps.DIVERGING)
    assert pixel(hm, cell_point(hm, 0, 0, 0.15, 0.15)).getRgb()[:3] == tuple(lut[255][:3])
    assert pixel(hm, cell_point(hm, 1, 1, 0.15, 0.15)).getRgb()[:3] == tuple(lut[0][:3])


def test_changed_mask_outlines_those_cells(hm):
    changed = np.zeros((4, 4), dtype=bool)
    changed[[0, 2, 3], [1, 2, 0]] = True
    hm.set_data(np.zeros((4, 4)), changed=changed)
    settle(hm)
    assert sorted(hm.changed_cells()) == [(0, 1), (2, 2), (3, 0)]
    gold = QColor("#FFC20A")
    edge = cell_point(hm, 2, 2, 0.0, 0.5) + QPoint(3, 0)  # inside the inset outline
    assert pixel(hm, edge) == gold
    plain = cell_point(hm, 1, 1, 0.0, 0.5) + QPoint(3, 0)
    assert pixel(hm, plain) != gold
    hm.set_data(np.zeros((4, 4)))
    assert hm.changed_cells() == []
    with pytest.raises(ValueError):
        hm.set_data(np.zeros((4, 4)), changed=np.zeros((3, 3), dtype=bool))


def test_selected_cell_gets_outline(hm):
    hm.set_data(np.full((3, 3), 5.0))  # saturated red everywhere
    settle(hm)
    just_outside = cell_point(hm, 1, 1, 0.0, 0.5) + QPoint(-1, 0)
    assert pixel(hm, just_outside) != QColor("white")
    hm.set_selected((1, 1))
    assert pixel(hm, just_outside) == QColor("white")
    hm.set_selected(None)
    assert pixel(hm, just_outside) != QColor("white")


def test_numbers_hidden_when_cells_are_small(hm):
    hm.set_data(np.full((16, 16), 0.5), kind="prob")
    settle(hm, (160, 160))
    assert hm.cell_text(3, 3) == ""
    hm.set_data(np.full((4, 4), 0.5), kind="prob")
    settle(hm, (900, 800))
    assert hm.cell_text(3, 3) == "0.50"
    settle(hm, (120, 120))
    assert hm.cell_text(3, 3) == ""


def test_font_scale_enlarges_fonts_and_hides_numbers_that_no_longer_fit(hm):
    hm.set_data(np.full((6, 6), -12.5))
    settle(hm, (520, 420))
    assert hm.cell_text(0, 0) == "\u221212.50"
    hm.set_font_scale(3.0)
    settle(hm)
    assert hm.getItem(1, 0).getAxis("left").style["tickFont"].pointSizeF() == pytest.approx(36)
    assert hm.cell_text(0, 0) == "\u221212" and hm._level >= 2  # a smaller, compact form first
    hm.set_font_scale(6.0)
    settle(hm)
    assert hm.cell_text(0, 0) == ""


@pytest.mark.parametrize("v, text", [
    (0.5, "0.50"), (-0.5, "\u22120.50"), (-0.001, "0.00"), (123.46, "123.5"), (1234.5, "1.2e3"),
    (-25000.0, "\u22122.5e4"), (float("-inf"), "\u2212\u221e"), (float("nan"), "NaN"),
])
def test_format_value(v, text):
    assert format_value(v) == text


def test_colormap_ranges():
    cmap, (lo, hi) = colormaps.for_values(np.array([-np.inf, 2.0, -3.0]), "signed")
    assert cmap is colormaps.DIVERGING and (lo, hi) == (-3.0, 3.0)
    cmap, (lo, hi) = colormaps.for_values(np.array([0.2, np.nan]), "prob")
    assert cmap is colormaps.SEQUENTIAL and (lo, hi) == (0.0, 1.0)
    with pytest.raises(ValueError):
        colormaps.for_values(np.zeros(2), "rainbow")


@pytest.mark.parametrize("seed", range(5))
def test_widest_text_matches_formatting_every_cell(seed):
    rng = np.random.default_rng(seed)
    # band edges where the text gets shorter as |v| grows: 99.996 → "100.00", 100 → "100.0"
    edges = np.array([99.996, -99.996, 100.0, 999.96, -999.96, 1000.0, 9.99e9, 1e10, 0.004, -0.004,
                      np.inf, -np.inf, np.nan])
    a = np.concatenate([rng.normal(scale=10.0 ** rng.integers(-3, 12), size=40), rng.choice(edges, 6)])
    assert len(widest_text(a)) == max(len(format_value(float(v))) for v in a)


def count_formatting(monkeypatch) -> list[float]:
    """Every value the heatmap module formats from now on."""
    calls: list[float] = []

    def counting(v: float) -> str:
        calls.append(v)
        return format_value(v)

    monkeypatch.setattr(heatmap_mod, "format_value", counting)
    return calls


def test_hidden_numbers_are_not_formatted_until_the_cells_grow_large_enough(hm, monkeypatch):
    a = np.random.default_rng(0).normal(size=(64, 96))
    settle(hm, (300, 200))
    calls = count_formatting(monkeypatch)
    hm.set_data(a)
    settle(hm)
    assert hm.cell_text(5, 7) == ""
    assert len(calls) < 20  # a few candidates for the widest text, not 6144 cells
    hm.set_data(a[:12, :10])
    settle(hm, (1000, 700))
    hm.viewport().repaint()
    assert hm.cell_text(5, 7) == format_value(a[5, 7])
    assert 0 < len(calls) < 20 + 2 * 120


def test_only_the_exposed_cells_are_formatted_and_a_grab_prints_them_all(qtbot, monkeypatch):
    a = np.random.default_rng(1).normal(size=(30, 30))
    hm = Heatmap()
    scroll = QScrollArea()
    qtbot.addWidget(scroll)
    scroll.setWidget(hm)
    hm.resize(2400, 1800)
    scroll.resize(500, 400)
    calls = count_formatting(monkeypatch)
    hm.set_data(a)
    scroll.show()
    qtbot.waitExposed(scroll)
    settle(hm)
    on_screen = len(calls)
    assert 0 < on_screen < a.size / 4  # the scroll area shows a corner of the matrix
    hm.grab()  # an exported picture has every number
    assert len(calls) >= a.size
    assert set(calls) >= set(a.ravel().tolist())


def test_masked_runs_and_many_outlines_are_drawn(hm):
    a = np.tril(np.ones((40, 40)))
    a[np.triu_indices(40, 1)] = -np.inf
    changed = np.zeros(a.shape, dtype=bool)
    changed[::3, ::3] = True
    hm.set_data(a, changed=changed)
    hm.set_font_scale(2.0)  # no numbers in these cells: only colour, hatching and outlines
    settle(hm, (900, 900))
    assert hm.cell_text(39, 1) == ""

    image = hm.viewport().grab().toImage()

    def colours(r, c):  # along the middle of the cell, every pixel
        left, right = cell_point(hm, r, c, 0.1, 0.5), cell_point(hm, r, c, 0.9, 0.5)
        return {image.pixelColor(x, left.y()).name() for x in range(left.x(), right.x() + 1)}

    for r, c in [(0, 1), (0, 39), (37, 38), (38, 39)]:  # the first and last cell of masked runs
        assert len(colours(r, c)) > 1, (r, c)  # diagonal stripes
    assert len(colours(39, 1)) == 1  # a plain cell below the diagonal
    edge = cell_point(hm, 39, 39, 0.0, 0.5) + QPoint(3, 0)
    assert pixel(hm, edge) == QColor("#FFC20A")
    assert len(hm.changed_cells()) == 14 * 14


def test_narrow_cells_print_compact_numbers_before_none(hm):
    p = np.array([[0.4213, 0.0, 1.0, 0.002]] * 6)
    hm.set_data(p, kind="prob")
    settle(hm, (900, 500))
    assert [hm.cell_text(0, c) for c in range(4)] == ["0.42", "0.00", "1.00", "0.00"]
    # too narrow for "0.42", wide enough for ".42" (an exact zero reads "0")
    settle(hm, (235, 500))
    assert [hm.cell_text(0, c) for c in range(4)] == [".42", "0", "1.0", ".00"]
    settle(hm, (130, 500))
    assert hm.cell_text(0, 0) == ""


def test_the_colour_bar_and_axes_can_be_hidden_for_a_thumbnail(hm):
    def relaid_out():  # pyqtgraph lays out over a few event loop passes
        for _ in range(3):
            settle(hm)
        return hm.image_item.mapRectToScene(hm.image_item.boundingRect()).width()

    hm.set_data(np.zeros((4, 4)), TOKENS, TOKENS)
    hm.resize(400, 300)
    width_with_bar = relaid_out()
    hm.set_colorbar_visible(False)
    hm.set_axes_visible(False)
    width_without = relaid_out()
    assert not hm.colorbar_visible() and hm._bar.scene() is None
    plot = hm.getItem(1, 0)
    assert not plot.getAxis("left").isVisible() and not plot.getAxis("top").isVisible()
    assert width_without > width_with_bar + 50
    hm.set_colorbar_visible(True)
    assert relaid_out() < width_without - 50
    assert hm._bar.scene() is hm.scene() and hm.colorbar_visible()


def test_staggered_labels_lift_every_other_column_label_and_keep_all(hm, drawn_ticks):
    cols = ["<unk>", "small", "cat", "big", "the", "mat"]
    hm.set_data(np.zeros((2, 6)), ["a", "b"], cols)
    hm.set_label_style(0.8, stagger=True)
    settle(hm, (420, 300))
    assert hm.labels() == (["a", "b"], cols)  # the lifting is drawing only
    axis = hm.getItem(1, 0).getAxis("top")
    assert axis.style["tickFont"].pointSizeF() == pytest.approx(heatmap_mod.TICK_PT * 0.8)
    drawn = {text.strip(): rect for rect, text in drawn_ticks(axis)}
    assert set(drawn) == set(cols)  # the wide first label is drawn, not dropped at the edge
    lower, upper = [drawn[c] for c in cols[0::2]], [drawn[c] for c in cols[1::2]]
    assert all(r.height() > 1.5 * lower[0].height() for r in upper)  # a line break lifts them
    hm.set_label_style(0.8, row_scale=0.9)
    left = hm.getItem(1, 0).getAxis("left")
    assert left.style["tickFont"].pointSizeF() == pytest.approx(heatmap_mod.TICK_PT * 0.9)
    hm.set_label_style()
    assert axis.style["tickFont"].pointSizeF() == pytest.approx(heatmap_mod.TICK_PT)
    assert axis.fixedHeight is None


def test_numbers_that_would_all_read_zero_are_not_printed(hm):
    settle(hm, (900, 700))
    hm.set_data(np.array([[1e-4, -3e-4], [2e-5, 0.0]]))
    settle(hm)
    assert hm.cell_text(0, 0) == ""  # "0.00" everywhere would contradict the colour bar
    hm.set_data(np.zeros((2, 2)))
    settle(hm)
    assert hm.cell_text(0, 0) == "0.00"


@pytest.mark.parametrize("values, ends", [(np.linspace(-20, 20, 6 * 150).reshape(6, 150), ("-20", "20")),
                                          (np.linspace(0, 1, 6 * 150).reshape(6, 150), ("0", "1.0"))])
def test_a_short_colour_bar_in_large_type_keeps_its_end_values(shown, drawn_ticks, values, ends):
    """Presenting, a 150-token model's colour bar is short and its type large: pyqtgraph's fixed 45-pixel
    axis and its rule that a label stays inside the axis had left only "0"."""
    hm = shown(Heatmap(), 800, 250)
    hm.set_font_scale(1.8)
    hm.set_data(values, kind="prob" if values.min() >= 0 else "signed")
    settle(hm)
    texts = [text for _, text in drawn_ticks(hm._bar.axis)]
    assert texts[0] == ends[0] and texts[-1] == ends[1] and len(texts) >= 3, texts
    # every label is drawn inside the widget (the bottom one is not cut by its edge)
    bottom = max(hm._bar.axis.mapRectToScene(rect).bottom() for rect, _ in drawn_ticks(hm._bar.axis))
    assert bottom <= hm.height()


def test_the_last_column_label_keeps_clear_of_the_colour_bar(shown, drawn_ticks):
    words = ["a", "b", "c", "d", "e", "f", "g", "thanked"]
    hm = shown(Heatmap(), 500, 250)
    hm.set_font_scale(1.8)
    hm.set_data(np.linspace(-1, 1, 3 * 8).reshape(3, 8), ["a", "b", "c"], words)
    settle(hm)
    settle(hm)  # the axis grows to its labels' height when first painted
    top = hm._plot.getAxis("top")
    last = [top.mapRectToScene(rect) for rect, text in drawn_ticks(top) if text.strip() == "thanked"]
    assert last, "the last label is drawn"
    assert last[0].right() < hm._bar.sceneBoundingRect().left() + 1
