"""Answers name what is on screen: for each lesson question about where a query attends, the
token and weight the answer names are the model's actual argmax and weight."""
import numpy as np
import pytest

from simulator.lessons import LESSON_DIR, load_lesson

# (lesson, stop number, query row, head, key position, key token) that the answer names
NAMED = [
    ("01_one_attention_head.json", 8, 3, 0, 1, "cat"),
    ("02_multi_head_attention.json", 2, 8, 1, 3, "f"),
    ("02_multi_head_attention.json", 2, 8, 0, 7, "h"),
    ("05_cross_attention.json", 5, 2, 1, 1, "1"),
]


@pytest.mark.parametrize("lesson, stop, query, head, key, token", NAMED)
def test_the_answer_names_the_models_argmax(lesson, stop, query, head, key, token):
    les = load_lesson(LESSON_DIR / lesson)
    s = les.stops[stop - 1]
    model, tokens = les.open_stop(stop - 1)
    trace = model.run(tokens)
    pattern = trace[s.step][head]  # [query, key]
    assert int(np.argmax(pattern[query])) == key
    keys = tokens[0] if isinstance(tokens, tuple) else tokens  # cross-attention: keys are the source
    assert keys[key] == token
    weight = f"{pattern[query, key]:.2f}"
    assert f"'{token}'" in s.answer and weight in s.answer, (s.answer, weight)


def test_lessons_whose_questions_depend_on_training_run_on_trained_models():
    for name in ("02_multi_head_attention.json", "05_cross_attention.json"):
        assert all("preset" in stop.model for stop in load_lesson(LESSON_DIR / name).stops), name
