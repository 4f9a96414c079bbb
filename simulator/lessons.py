"""Guided lessons: small JSON files of stops, each a model, an input, a step and the teacher's words.

A lesson file looks like::

    {"title": "One attention head by hand",
     "model": {"config": {"n_heads": 1, "n_layers": 1}, "seed": 0},
     "tokens": "the cat sat on the mat",
     "stops": [
        {"step": "blocks.0.attn.hook_q", "text": "Each token asks a question …"},
        {"step": "blocks.0.attn.hook_pattern", "head": 0,
         "question": "Which position does the last token attend to most?",
         "answer": "…"}]}

A stop may override "model", "tokens" and "head"; otherwise it inherits them from the
stop before it (the first stop from the lesson's top level). A stop may also name the
"view" (tab) to show: one of VIEWS; without it the step's own picture is shown. The
lesson's optional "next" says what to try after its last stop (shown on the end card). "model" is either
{"config": {...ModelConfig fields...}, "seed": n} or {"preset": "name"}. Every field is
checked when the lesson is opened, and an error names the stop and the field at fault.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .config import ModelConfig
from .model import Transformer

LESSON_DIR = Path(__file__).resolve().parent.parent / "assets" / "lessons"
MAX_LESSON_BYTES = 1 << 20
# the tabs a stop may show ("step": the step's own picture, which at "probs" is the next-token bars)
VIEWS = ("step", "residual", "depth", "compare", "training", "gradients", "backward")


class LessonError(ValueError):
    """A lesson file that cannot be used; the message names the file, the stop and the field."""


@dataclass(frozen=True)
class Stop:
    step: str
    text: str
    model: dict
    tokens: object  # a text, a list of tokens, or [source, target] for encoder-decoder
    head: int = 0
    question: str = ""
    answer: str = ""
    view: str = "step"  # one of VIEWS


@dataclass(frozen=True)
class Lesson:
    title: str
    summary: str
    stops: tuple[Stop, ...]
    path: str = ""
    next: str = ""  # what to try after the last stop
    _models: dict = field(default_factory=dict, compare=False, repr=False)

    def open_stop(self, i: int) -> tuple[Transformer, object]:
        """The model and tokens of stop `i` (models are built once and shared between stops)."""
        stop = self.stops[i]
        key = json.dumps(stop.model, sort_keys=True)
        if key not in self._models:
            self._models[key] = build_model(stop.model)
        model = self._models[key]
        return model, model.tokens(_pair(stop.tokens, model))


def _pair(tokens, model: Transformer):
    if model.config.arch == "encoder-decoder" and isinstance(tokens, list) and len(tokens) == 2:
        return (tokens[0], tokens[1])
    return tokens


def build_model(spec: dict) -> Transformer:
    if "preset" in spec:
        from .presets import load_preset  # presets are optional: only lessons that name one need them

        model, _tokens, _info = load_preset(spec["preset"])
        return model
    config = ModelConfig.from_json(json.dumps(spec.get("config", {})))
    return Transformer(config, seed=spec.get("seed", 0))


def _check_model_spec(spec, where: str) -> dict:
    if not isinstance(spec, dict):
        raise LessonError(f"{where}: \"model\" must be an object.")
    if set(spec) - {"config", "seed", "preset"}:
        raise LessonError(f"{where}: \"model\" has unknown fields {sorted(set(spec) - {'config', 'seed', 'preset'})}.")
    if "preset" in spec and not isinstance(spec["preset"], str):
        raise LessonError(f"{where}: \"preset\" must be a preset's name.")
    if "config" in spec and not isinstance(spec["config"], dict):
        raise LessonError(f"{where}: \"config\" must be an object of model settings.")
    seed = spec.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise LessonError(f"{where}: \"seed\" must be a whole number.")
    return spec


def parse_lesson(data, source: str = "lesson") -> Lesson:
    """Check a decoded lesson document and open every stop once, so errors surface now."""
    if not isinstance(data, dict):
        raise LessonError(f"{source}: a lesson must be a JSON object with \"title\" and \"stops\".")
    unknown = set(data) - {"title", "summary", "model", "tokens", "head", "stops", "next"}
    if unknown:
        raise LessonError(f"{source}: unknown fields {sorted(unknown)}.")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise LessonError(f"{source}: \"title\" must be a non-empty text.")
    summary = data.get("summary", "")
    if not isinstance(summary, str):
        raise LessonError(f"{source}: \"summary\" must be text.")
    after = data.get("next", "")
    if not isinstance(after, str):
        raise LessonError(f"{source}: \"next\" must be text.")
    stops = data.get("stops")
    if not isinstance(stops, list) or not stops:
        raise LessonError(f"{source}: \"stops\" must be a non-empty list.")
    model = data.get("model", {"config": {}})
    tokens = data.get("tokens")
    head = data.get("head", 0)
    parsed = []
    for n, raw in enumerate(stops, start=1):
        where = f"{source}, stop {n}"
        if not isinstance(raw, dict):
            raise LessonError(f"{where}: a stop must be a JSON object.")
        unknown = set(raw) - {"step", "text", "model", "tokens", "head", "question", "answer", "view"}
        if unknown:
            raise LessonError(f"{where}: unknown fields {sorted(unknown)}.")
        model = _check_model_spec(raw.get("model", model), where)
        tokens = raw.get("tokens", tokens)
        head = raw.get("head", head)
        if tokens is None:
            raise LessonError(f"{where}: no \"tokens\" given (here or earlier).")
        if "step" not in raw or not isinstance(raw["step"], str):
            raise LessonError(f"{where}: \"step\" is missing; name the step to show, e.g. "
                              "\"blocks.0.attn.hook_pattern\".")
        for key in ("text", "question", "answer"):
            if not isinstance(raw.get(key, ""), str):
                raise LessonError(f"{where}: \"{key}\" must be text.")
        if not raw.get("text") and not raw.get("question"):
            raise LessonError(f"{where}: a stop needs a \"text\" or a \"question\".")
        if isinstance(head, bool) or not isinstance(head, int) or head < 0:
            raise LessonError(f"{where}: \"head\" must be a head number (0, 1, …).")
        view = raw.get("view", "step")
        if view not in VIEWS:
            raise LessonError(f"{where}: \"view\" must be one of {', '.join(VIEWS)}.")
        parsed.append(Stop(raw["step"], raw.get("text", ""), model, tokens, head,
                           raw.get("question", ""), raw.get("answer", ""), view))
    lesson = Lesson(title, summary, tuple(parsed), source, after)
    for n, stop in enumerate(lesson.stops):
        where = f"{source}, stop {n + 1}"
        try:
            m, toks = lesson.open_stop(n)
            trace = m.run(toks)
        except LessonError:
            raise
        except (ValueError, KeyError, OSError) as exc:
            raise LessonError(f"{where}: {exc}") from None
        if stop.step not in trace:
            raise LessonError(f"{where}: \"{stop.step}\" is not a step of this model.")
        if stop.head >= m.config.n_heads:
            raise LessonError(f"{where}: head {stop.head} does not exist (the model has {m.config.n_heads}).")
    return lesson


def load_lesson(path: str | Path) -> Lesson:
    """Read and check a lesson file; raises LessonError naming the problem."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_LESSON_BYTES:
            raise LessonError(f"{path.name} is too large for a lesson file.")
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text)
    except LessonError:
        raise
    except OSError as exc:
        raise LessonError(f"{path.name} cannot be read: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise LessonError(f"{path.name} is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise LessonError(f"{path.name} is not valid JSON (line {exc.lineno}: {exc.msg}).") from None
    return parse_lesson(data, path.name)


def list_lessons(folder: str | Path = LESSON_DIR) -> list[Path]:
    return sorted(Path(folder).glob("*.json"))
