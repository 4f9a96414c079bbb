import json

import pytest

from simulator.lessons import LessonError, list_lessons, load_lesson, parse_lesson

LESSONS = list_lessons()


def test_the_six_required_lessons_ship():
    titles = {load_lesson(p).title for p in LESSONS}
    assert {"One attention head by hand", "Multi-head attention and concatenation",
            "Residual connections and the residual stream", "Masked versus full attention",
            "Cross-attention in an encoder-decoder", "Attention over depth"} <= titles


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_stop_opens_on_a_real_step(path):
    lesson = load_lesson(path)
    for i, stop in enumerate(lesson.stops):
        model, tokens = lesson.open_stop(i)
        trace = model.run(tokens)
        assert stop.step in trace
        assert stop.head < model.config.n_heads
        assert stop.text or (stop.question and stop.answer)


def test_stops_inherit_model_and_tokens_from_the_stop_before():
    lesson = load_lesson(next(p for p in LESSONS if "masked" in p.stem))
    first, second = lesson.open_stop(0), lesson.open_stop(1)
    assert first[0] is second[0] and first[1] == second[1]
    assert lesson.open_stop(2)[0].config.arch == "encoder"


GOOD = {"title": "t", "tokens": "the cat", "stops": [{"step": "blocks.0.attn.hook_pattern", "text": "x"}]}


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["stops"][0].pop("step"), "stop 1: \"step\" is missing"),
    (lambda d: d["stops"][0].update(step="blocks.7.attn.hook_q"), "is not a step of this model"),
    (lambda d: d.update(stops=[]), "\"stops\" must be a non-empty list"),
    (lambda d: d.pop("title"), "\"title\" must be a non-empty text"),
    (lambda d: d.update(model={"config": {"vocab": ["the", "cat"]}}, tokens="the zebra"),
     "Not in the vocabulary: 'zebra'"),
    (lambda d: d["stops"][0].update(head=5), "head 5 does not exist"),
    (lambda d: d.update(model={"config": {"n_heads": 3}}), "divisible"),
    (lambda d: d["stops"][0].update(colour="red"), "unknown fields"),
    (lambda d: d["stops"][0].update(text=3), "\"text\" must be text"),
])
def test_malformed_lessons_name_their_problem(mutate, message):
    data = json.loads(json.dumps(GOOD))
    mutate(data)
    with pytest.raises(LessonError, match=message.replace("(", r"\(")):
        parse_lesson(data, "mine.json")


def test_unreadable_files_give_clear_errors(tmp_path):
    bad_json = tmp_path / "a.json"
    bad_json.write_text("{\"title\": ")
    with pytest.raises(LessonError, match="not valid JSON"):
        load_lesson(bad_json)
    latin = tmp_path / "b.json"
    latin.write_bytes(b"\xff\xfe{}")
    with pytest.raises(LessonError, match="not UTF-8"):
        load_lesson(latin)
    with pytest.raises(LessonError, match="cannot be read"):
        load_lesson(tmp_path / "missing.json")


def test_a_lesson_asking_for_an_enormous_model_is_refused():
    data = json.loads(json.dumps(GOOD))
    data["model"] = {"config": {"n_layers": 10**9}}
    with pytest.raises(LessonError, match="stop 1: .*too many"):
        parse_lesson(data, "huge.json")
