"""The lesson "Why long inputs are expensive": it opens, shows the cost and tiled views where it says,
and the numbers its answers give are the engine's."""
import numpy as np

from simulator.cost import kept_cells
from simulator.lessons import LESSON_DIR, load_lesson

LESSON = LESSON_DIR / "07_why_long_inputs_are_expensive.json"


def test_the_lesson_covers_the_cost_plot_the_window_a_global_token_and_the_linear_form():
    lesson = load_lesson(LESSON)
    assert lesson.title == "Why long inputs are expensive"
    views = {stop.view for stop in lesson.stops}
    assert {"cost", "tiled", "step"} == views
    attentions = {stop.model.get("config", {}).get("attention", "causal") for stop in lesson.stops}
    assert attentions == {"causal", "window", "global", "linear"}


def test_the_numbers_in_the_answers_are_right():
    lesson = load_lesson(LESSON)
    # "about 4 times" and "about 2 times" from 512 to 1,024 tokens
    assert round(kept_cells("causal", 1024) / kept_cells("causal", 512), 2) == 4.0
    assert round(kept_cells("window", 1024, 3) / kept_cells("window", 512, 3), 2) == 2.0
    # "33 of 144 cells are kept …, so 77 % is thrown away. With 1,000 tokens it would be 99.7 %."
    window_stop = next(i for i, s in enumerate(lesson.stops) if "throw" in s.question)  # on the hatched grid
    model, tokens = lesson.open_stop(window_stop)
    masked = model.run(tokens)["blocks.0.attn.hook_attn_scores"][0]
    assert masked.size == 144 and int(np.isfinite(masked).sum()) == 33 == kept_cells("window", 12, 3)
    assert round(100 * (1 - 33 / 144)) == 77 and round(100 * (1 - kept_cells("window", 1000, 3) / 1e6), 1) == 99.7
    assert "33 of 144" in lesson.stops[window_stop].answer and "99.7 %" in lesson.stops[window_stop].answer
    # "Two layers reach only 4 tokens back": window 3 reaches 2 back per layer
    assert "4 tokens back" in " ".join(s.text for s in lesson.stops)
