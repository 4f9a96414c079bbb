"""Tests for ui.pictures.picture_layout: where the pieces of a step picture go, and how a
heatmap's token labels fit its cells."""
import pytest

from ui.pictures.picture_layout import MIN_LABEL_SCALE, LabelFit, Piece, fit_labels, place


def test_labels_that_fit_are_all_shown_at_full_size():
    assert fit_labels(cell_w=40, cell_h=30, line_h=19, label_w=30) == LabelFit(1.0, False, 1, 1, 1.0)


def test_a_little_too_narrow_shrinks_then_staggers_before_thinning():
    shrunk = fit_labels(cell_w=33, cell_h=30, line_h=19, label_w=36)
    assert shrunk.scale < 1 and not shrunk.stagger and (shrunk.rows_every, shrunk.cols_every) == (1, 1)
    staggered = fit_labels(cell_w=25, cell_h=30, line_h=19, label_w=36)
    assert staggered.stagger and staggered.cols_every == 1 and staggered.scale >= MIN_LABEL_SCALE


def test_rows_shrink_down_to_the_smallest_font_before_thinning():
    shrunk = fit_labels(cell_w=60, cell_h=15, line_h=19, label_w=30)
    assert shrunk.rows_every == 1 and shrunk.row_scale < 1 and shrunk.scale == 1  # columns keep their size
    thinned = fit_labels(cell_w=60, cell_h=7, line_h=19, label_w=30)
    assert thinned.row_scale == MIN_LABEL_SCALE and thinned.rows_every == 2  # 14 pixels apart: a 9 pt label each


def test_index_labels_are_thinned_at_full_size_instead_of_shrunk():
    fit = fit_labels(cell_w=12, cell_h=40, line_h=19, label_w=22, token_cols=False)
    assert fit == LabelFit(1.0, False, 1, 2, 1.0)


def test_columns_stand_at_the_right_as_tall_as_their_row():
    pieces = [Piece(60, 60, rows=6, cols=6), Piece(80, 40, breakable=True), Piece(60, 60, rows=6, cols=6),
              Piece(220, 0, column=True)]
    rects = place([pieces], 1000, 400)
    lines = rects[3]
    assert (lines.right(), lines.top(), lines.height(), lines.width()) == (1000, 0, 400, 220)
    assert max(r.right() for r in rects[:3]) < lines.left()  # the heatmaps keep clear of it


@pytest.mark.parametrize("height", [120, 400, 900])
def test_a_thumbnail_strip_keeps_its_height_and_the_rest_stays_in_view(height):
    strip = [Piece(30, 40, rows=30, cols=30), Piece(50, 40, breakable=True), Piece(30, 40, rows=30, cols=30)]
    big = [Piece(120, 100, rows=30, cols=30), Piece(60, 40, breakable=True), Piece(120, 100, rows=30, cols=30)]
    rects = place([strip, big], 900, height, small={0: 0.25 * height})
    assert all(r.bottom() <= 0.25 * height + 1e-6 for r in rects[:3])
    assert all(r.bottom() <= height + 1e-6 for r in rects)


def test_narrow_cells_stay_as_tall_as_a_row_label_but_no_taller():
    wide = [Piece(100, 80, rows=6, cols=64)]
    cw = (900 - 100) / 64  # 12.5 pixels: narrower than a label is tall
    square = place([wide], 900, 500)[0]
    assert square.height() == pytest.approx(80 + 6 * cw)
    labelled = place([wide], 900, 500, label_h=19)[0]
    assert labelled.height() == pytest.approx(80 + 6 * 19)
    roomy = place([[Piece(100, 80, rows=6, cols=8)]], 900, 300, label_h=19)[0]
    assert roomy.height() < roomy.width()  # wide cells are not stretched taller than wide
