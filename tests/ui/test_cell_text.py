"""Tests for ui.pictures.cell_text: the compact cell numbers and the widest text of an array."""
import numpy as np
import pytest

from ui.pictures.cell_text import COMPACT_BANDS, format_compact, format_value, widest_text


@pytest.mark.parametrize("v, text", [
    (0.4213, ".42"), (-0.07, "\u2212.07"), (0.0, "0"), (0.001, ".00"), (-0.001, ".00"), (0.996, "1.0"),
    (3.14, "3.1"), (-9.96, "\u221210"), (42.4, "42"), (-999.0, "\u2212999"), (1234.0, "1e3"),
    (-25000.0, "\u22122e4"), (float("nan"), "NaN"), (float("-inf"), "\u2212\u221e"),
])
def test_format_compact(v, text):
    assert format_compact(v) == text


def test_compact_is_never_longer_than_the_full_form():
    v = np.random.default_rng(0).normal(scale=30.0, size=500)
    assert all(len(format_compact(x)) <= len(format_value(x)) for x in v.tolist())


@pytest.mark.parametrize("seed", range(5))
def test_widest_compact_text_matches_formatting_every_value(seed):
    rng = np.random.default_rng(seed)
    # where the compact form changes: .99 → 1.0, 9.9 → 10, 999 → 1e3
    edges = np.array([0.995, 0.9949, -0.995, 9.95, 9.949, -9.96, 999.5, 999.49, 0.0, 0.004, -0.004, 1e10,
                      np.inf, -np.inf, np.nan])
    a = np.concatenate([rng.normal(scale=10.0 ** rng.integers(-3, 6), size=40), rng.choice(edges, 6)])
    expected = max(len(format_compact(float(v))) for v in a)
    assert len(widest_text(a, format_compact, COMPACT_BANDS)) == expected
