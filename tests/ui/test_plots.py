"""Tests for ui.pictures.plots: TopKBars ordering and labels, AttentionLines line selection
and colours."""
import numpy as np
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QApplication

from ui.pictures import colormaps
from ui.pictures.plots import (
    LEVELS,
    MIN_WEIGHT,
    SMOOTH_LINES,
    AttentionLines,
    TopKBars,
    format_prob,
    over_ground,
    readable_rows,
)

VOCAB = ["the", "cat", "dog", "mat", "sat", "on", ".", "a", "ran", "hat"]


@pytest.fixture
def bars(shown):
    return shown(TopKBars(), 600, 400)


@pytest.fixture
def lines(shown):
    return shown(AttentionLines(), 500, 400)


def test_topk_sorted_descending_and_correct(bars):
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(len(VOCAB)))
    bars.set_data(p, VOCAB, k=4)
    order = np.argsort(p)[::-1][:4]
    assert bars.shown() == [(VOCAB[i], pytest.approx(p[i])) for i in order]
    assert np.allclose(bars._bars.opts["width"], p[order])


def test_topk_axis_shows_token_labels_top_down(bars, drawn_ticks):
    p = np.array([0.1, 0.6, 0.3])
    bars.set_data(p, ["x", "y", "z"], k=3)
    QApplication.processEvents()
    ticks = sorted(drawn_ticks(bars.getPlotItem().getAxis("left")), key=lambda t: t[0].center().y())
    assert [text for _, text in ticks] == ["y", "z", "x"]


def test_topk_k_larger_than_vocab_and_ties_are_stable(bars):
    bars.set_data(np.array([0.25, 0.25, 0.5]), ["a", "b", "c"], k=10)
    assert [s for s, _ in bars.shown()] == ["c", "a", "b"]


def test_topk_value_texts_follow_updates(bars):
    bars.set_data(np.array([0.7, 0.2, 0.1]), ["a", "b", "c"], k=3)
    bars.set_data(np.array([0.9, 0.1]), ["a", "b"], k=3)
    visible = [t.textItem.toPlainText() for t in bars._texts if t.isVisible()]
    assert visible == ["0.90", "0.10"]


def test_topk_label_mismatch_raises(bars):
    with pytest.raises(ValueError):
        bars.set_data(np.ones(3) / 3, ["a", "b"])


def test_format_prob():
    assert format_prob(0.456) == "0.46"
    assert format_prob(0.001) == "<0.01"
    assert format_prob(0.0) == "0.00"


def causal_pattern(n_heads=2, n=5, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n_heads, n, n)) * 2
    s[:, np.triu_indices(n, 1)[0], np.triu_indices(n, 1)[1]] = -np.inf
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_line_count_matches_weights_above_threshold(lines):
    pat = causal_pattern()
    toks = list("abcde")
    lines.set_data(pat, toks, toks)
    assert lines.line_count() == int((pat >= MIN_WEIGHT).sum())
    lines.set_data(pat, toks, toks, heads=[1])
    assert lines.line_count() == int((pat[1] >= MIN_WEIGHT).sum())
    lines.set_data(pat, toks, toks, focus_query=3)
    assert lines.line_count() == int((pat[:, 3] >= MIN_WEIGHT).sum())


def test_lines_ignore_tiny_and_non_finite_weights(lines):
    pat = np.array([[[0.01, np.nan], [np.inf, 0.5]]])
    lines.set_data(pat, ["q0", "q1"], ["k0", "k1"])
    assert lines.line_count() == 1


def test_lines_use_the_head_colour(lines):
    pat = np.zeros((3, 1, 1))
    pat[2, 0, 0] = 1.0  # one full-weight horizontal line for head 2
    lines.set_data(pat, ["q"], ["k"], heads=[2])
    QApplication.processEvents()
    img = lines.grab().toImage()
    mid = img.pixelColor(lines.width() // 2, lines.height() // 2)
    assert mid.name() == colormaps.HEAD_COLORS[2].name()


@pytest.mark.parametrize("strong", [0, 1])
def test_the_stronger_of_two_overlapping_lines_is_on_top(lines, strong):
    pat = np.full((2, 1, 1), 0.3)
    pat[strong, 0, 0] = 1.0  # both heads draw the same horizontal line
    lines.set_data(pat, ["q"], ["k"])
    QApplication.processEvents()
    mid = lines.grab().toImage().pixelColor(lines.width() // 2, lines.height() // 2)
    assert mid.name() == colormaps.HEAD_COLORS[strong].name()


def test_a_faint_line_is_its_head_colour_shaded_towards_white(lines):
    pat = np.full((1, 1, 1), 0.5)
    lines.set_data(pat, ["q"], ["k"])
    QApplication.processEvents()
    mid = lines.grab().toImage().pixelColor(lines.width() // 2, lines.height() // 2)
    head = colormaps.HEAD_COLORS[0]
    strength = 0.15 + 0.85 * 0.5
    for got, full in ((mid.red(), head.red()), (mid.green(), head.green()), (mid.blue(), head.blue())):
        assert got == pytest.approx(255 + (full - 255) * strength, abs=2)


def test_many_lines_are_all_counted_and_every_head_is_drawn(lines):
    rng = np.random.default_rng(3)
    pat = rng.dirichlet(np.ones(30) * 0.3, size=(4, 30))  # [head, query, key]
    toks = [f"t{i}" for i in range(30)]
    lines.set_data(pat, toks, toks)
    assert lines.line_count() == int((pat >= MIN_WEIGHT).sum()) > SMOOTH_LINES
    QApplication.processEvents()
    img = lines.grab().toImage()
    middle = {img.pixelColor(lines.width() // 2, y).name() for y in range(lines.height())}
    for head in colormaps.HEAD_COLORS[:4]:
        shades = {over_ground(head, 0.15 + 0.85 * level / LEVELS).name() for level in range(LEVELS + 1)}
        assert shades & middle, head.name()


def test_labels_of_close_rows_are_thinned_and_keep_clear_of_the_focus():
    assert readable_rows(8, 40.0, 18.0) == list(range(8))  # room for every label
    rows = readable_rows(128, 3.0, 9.0, keep=64)
    spacing = np.diff(rows) * 3.0
    assert spacing.min() >= 0.9 * 9.0 and len(rows) > 128 // 4  # no overlaps, yet most are kept
    assert all(abs(r - 64) * 3.0 >= 0.9 * 9.0 for r in rows)  # the focus (drawn bold) stands alone


def test_lines_bad_input_raises(lines):
    with pytest.raises(ValueError):
        lines.set_data(np.zeros((1, 2, 2)), ["a"], ["b", "c"])
    with pytest.raises(ValueError):
        lines.set_data(np.zeros((1, 2, 2)), ["a", "b"], ["c", "d"], focus_query=2)


def overlapping(rects) -> bool:
    rects = sorted(rects, key=lambda r: r.top())
    return any(a.bottom() > b.top() + 0.5 for a, b in zip(rects, rects[1:]))


@pytest.mark.parametrize("size", [(300, 400), (260, 110), (260, 60)])
def test_topk_labels_and_values_never_overlap(bars, size, drawn_ticks):
    rng = np.random.default_rng(1)
    bars.resize(*size)
    bars.set_data(rng.dirichlet(np.ones(len(VOCAB))), VOCAB, k=8)
    for _ in range(3):
        QApplication.processEvents()
    n = len(bars.shown())
    assert 1 <= n <= 8 and (n == 8) == (size[1] >= 300)  # a short panel shows the likeliest few
    assert [s for s, _ in bars.shown()] == [VOCAB[i] for i in np.argsort(-bars._data[0], kind="stable")[:n]]
    axis = bars.getPlotItem().getAxis("left")
    labels = [axis.mapRectToScene(rect) for rect, _ in drawn_ticks(axis)]
    values = [t.sceneBoundingRect() for t in bars._texts if t.isVisible()]
    assert len(labels) == len(values) == n
    assert not overlapping(labels) and not overlapping(values)


def test_the_legend_of_many_heads_wraps_inside_a_narrow_column(lines):
    toks = list("abcdef")
    lines.set_data(causal_pattern(n_heads=2, n=6), toks, toks)
    assert [t for _, _, t, _ in lines.legend_layout()] == ["head 0", "head 1"]
    lines.resize(220, 400)
    lines.set_data(causal_pattern(n_heads=8, n=6), toks, toks)
    legend = lines.legend_layout()
    assert [h for _, _, _, h in legend if h >= 0] == list(range(8))
    boxes = [r for swatch, box, _, _ in legend for r in (swatch, box) if r is not None]
    inside = QRectF(lines.rect())
    assert all(inside.contains(r) for r in boxes)
    assert not any(a.intersects(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    QApplication.processEvents()
    lines.grab()  # paints without error with the wrapped legend


def test_next_token_bars_have_a_fixed_probability_axis(qtbot, shown):
    from ui.pictures.plots import X_MAX, TopKBars
    bars = shown(TopKBars(), 400, 300)
    labels = ["a", "b", "c"]
    bars.set_data(np.array([0.2, 0.1, 0.7]), labels)
    first = bars.getPlotItem().getViewBox().viewRange()[0]
    bars.set_data(np.array([0.05, 0.03, 0.02]), labels)  # a flat, unsure distribution
    second = bars.getPlotItem().getViewBox().viewRange()[0]
    assert first == pytest.approx([0, X_MAX]) and second == pytest.approx([0, X_MAX])
    assert bars.getPlotItem().getAxis("bottom").isVisible()
