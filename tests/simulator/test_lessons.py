import json
import os

import pytest

from simulator import lessons
from simulator.lessons import MAX_LESSON_BYTES, LessonError, list_lessons, load_lesson, parse_lesson
from simulator.model import Transformer

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


# --- hostile lessons: each refused quickly with the loader's own message ---

def _write(tmp_path, text: str):
    path = tmp_path / "hostile.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, message", [
    ('{"title": "t", "tokens": 5, "stops": [{"step": "probs", "text": "x"}]}', '"tokens" must be a text'),
    ('{"title": "t", "tokens": [1, 2], "stops": [{"step": "probs", "text": "x"}]}', '"tokens" must be a text'),
    ("[" * 100_000 + "]" * 100_000, "nested more than 64 levels"),
    ('{"title": "t", "tokens": "the", "head": ' + "9" * 5000 + ', "stops": []}', "5,000 digits"),
    ('{"title": NaN, "tokens": "the", "stops": []}', "NaN, which is not a number JSON allows"),
    ('{"title": "t", "tokens": "the", "model": {"config": {"norm_eps": 1e999}}, "stops": []}',
     "too large for a float"),
    ('{"title": "t", "tokens": "the", "model": {"seed": 1099511627776}, "stops": [{"step": "probs", "text": "x"}]}',
     '"seed" must be a whole number from 0 to 2,147,483,647'),
    ('{"title": "t", "tokens": "the", "stops": [' + ",".join(['{"step": "probs", "text": "x"}'] * 31_764) + "]}",
     "31,764 stops is too many"),
])
def test_hostile_lessons_get_the_loaders_own_error(tmp_path, text, message):
    with pytest.raises(LessonError, match=message):
        load_lesson(_write(tmp_path, text))


def test_special_files_are_refused_at_once(tmp_path):
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    with pytest.raises(LessonError, match="not an ordinary file"):
        load_lesson(zero)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # nobody writes to it: a plain open() would wait for ever
    with pytest.raises(LessonError, match="not an ordinary file"):
        load_lesson(fifo)
    with pytest.raises(LessonError, match="a folder"):
        load_lesson(tmp_path)
    big = _write(tmp_path, " " * (MAX_LESSON_BYTES + 1))
    with pytest.raises(LessonError, match="too large"):
        load_lesson(big)


def test_opening_a_lesson_builds_no_model(monkeypatch):
    """40 stops with 40 different large models: opening builds none, showing keeps one at a time."""
    built = []
    real = lessons.build_model
    monkeypatch.setattr(lessons, "build_model", lambda spec: built.append(spec) or real(spec))
    monkeypatch.setattr(Transformer, "run", lambda *a, **k: pytest.fail("a lesson ran a model on opening"))
    stops = [{"step": "probs", "text": f"stop {i}", "model": {"config": {"d_model": 128, "d_mlp": 512,
              "n_layers": 10}, "seed": i}} for i in range(40)]
    lesson = parse_lesson({"title": "Heavy", "tokens": "the cat", "stops": stops}, "heavy.json")
    assert built == [] and len(lesson.stops) == 40
    first, _ = lesson.open_stop(0)
    second, _ = lesson.open_stop(1)
    assert len(built) == 2 and second.seed == 1
    assert list(lesson._models.values()) == [second]  # the first is no longer held
    assert lesson.open_stop(1)[0] is second and len(built) == 2
