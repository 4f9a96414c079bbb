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

Opening a lesson builds no model and runs nothing: each stop's config, tokens, step and head
are checked against the config alone (and against the memory budget), and a stop's model is
built when the stop is shown; the lesson keeps only the model of the stop shown last.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import budget, safe_json
from .config import ModelConfig
from .graph import build_graph
from .model import Transformer, input_tokens
from .params import check_size
from .shipped import shipped
from .tokenizer import Tokenizer
from .vision import check_image, patch_labels

LESSON_DIR = shipped("lessons")
MAX_LESSON_BYTES = 1 << 20
MAX_STOPS = 500  # a lesson for one class period has tens
MAX_SEED = 2**31 - 1  # the largest seed the settings dialog shows
# the tabs a stop may show ("step": the step's own picture, which at "probs" is the next-token bars)
VIEWS = ("step", "residual", "depth", "compare", "training", "gradients", "backward", "cost", "tiled", "sampling",
         "image", "draw", "model-view", "logit-lens", "attribution", "patching")  # the last four: Look inside ▸ …


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
    path: str = ""  # the file it was read from ("" for one parsed from data)
    next: str = ""  # what to try after the last stop
    _models: dict = field(default_factory=dict, compare=False, repr=False)  # the last stop's model only

    def open_stop(self, i: int) -> tuple[Transformer, object]:
        """The model and tokens of stop `i`. Consecutive stops with the same model share it;
        only the last model built is kept, so a lesson costs one model however many it names."""
        stop = self.stops[i]
        key = json.dumps(stop.model, sort_keys=True)
        if key not in self._models:
            model = build_model(stop.model)
            self._models.clear()
            self._models[key] = model
        model = self._models[key]
        return model, model.checked_input(_pair_for(stop.tokens, model.config))


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
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise LessonError(f"{where}: \"seed\" must be a whole number from 0 to {MAX_SEED:,}.")
    return spec


def _check_tokens_field(tokens, where: str) -> None:
    def side_ok(side) -> bool:
        return isinstance(side, str) or (isinstance(side, list) and all(isinstance(t, str) for t in side))

    def image_ok(rows) -> bool:  # an image model's input: rows of pixel values
        return isinstance(rows, list) and bool(rows) and all(
            isinstance(r, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r)
            for r in rows)
    if image_ok(tokens):
        return
    if not (side_ok(tokens) or (isinstance(tokens, list) and len(tokens) == 2 and all(map(side_ok, tokens)))):
        raise LessonError(f"{where}: \"tokens\" must be a text, a list of token strings, "
                          "[source, target] for an encoder-decoder model, or rows of pixels for an image model.")


class _Checker:
    """Checks a stop against its model's config without building the model (one config per spec)."""

    def __init__(self):
        self._configs: dict[str, tuple[ModelConfig, Tokenizer, object]] = {}

    def config(self, spec: dict) -> tuple[ModelConfig, Tokenizer, object]:
        key = json.dumps(spec, sort_keys=True)
        if key not in self._configs:
            if "preset" in spec:
                config = build_model(spec).config  # a preset is a file of ours: small and read once
            else:
                config = ModelConfig.from_json(json.dumps(spec.get("config", {})))
                check_size(config)
                budget.check_model(config)
            self._configs[key] = (config, Tokenizer(config.vocab, config.tokenization), build_graph(config))
        return self._configs[key]

    def check(self, stop: Stop) -> None:
        config, tokenizer, graph = self.config(stop.model)
        if config.arch == "vit":
            check_image(stop.tokens, config)
            toks = patch_labels(config)
        else:
            toks = input_tokens(config, tokenizer, _pair_for(stop.tokens, config))
        budget.check_run(config, toks)
        if stop.step not in graph.index and stop.step not in graph.aliases:
            raise LessonError(f"\"{stop.step}\" is not a step of this model.")
        if stop.head >= config.n_heads:
            raise LessonError(f"head {stop.head} does not exist (the model has {config.n_heads}).")


def _pair_for(tokens, config: ModelConfig):
    if config.arch == "encoder-decoder" and isinstance(tokens, list) and len(tokens) == 2:
        return (tokens[0], tokens[1])
    return tokens


def parse_lesson(data, source: str = "lesson") -> Lesson:
    """Check a decoded lesson document: every stop against its model's config (no model is built)."""
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
    if len(stops) > MAX_STOPS:
        raise LessonError(f"{source}: {len(stops):,} stops is too many for one lesson (at most {MAX_STOPS}).")
    model = data.get("model", {"config": {}})
    tokens = data.get("tokens")
    head = data.get("head", 0)
    checker = _Checker()
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
        _check_tokens_field(tokens, where)
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
        stop = Stop(raw["step"], raw.get("text", ""), model, tokens, head,
                    raw.get("question", ""), raw.get("answer", ""), view)
        try:
            checker.check(stop)
        except (ValueError, KeyError, OSError) as exc:  # LessonError, TokenError, BudgetError too
            raise LessonError(f"{where}: {exc}") from None
        parsed.append(stop)
    return Lesson(title, summary, tuple(parsed), source, after)


def load_lesson(path: str | Path) -> Lesson:
    """Read and check a lesson file; raises LessonError naming the problem.

    Only an ordinary file of at most MAX_LESSON_BYTES is read (a FIFO or a link to a device is
    refused at once), and the JSON is parsed as plain data with limits (`simulator.safe_json`).
    """
    path = Path(path)
    try:
        data = safe_json.load(path, MAX_LESSON_BYTES)
    except safe_json.JSONFileError as exc:
        raise LessonError(f"This lesson cannot be opened: {exc}") from None
    return replace(parse_lesson(data, path.name), path=str(path.resolve()))


def list_lessons(folder: str | Path = LESSON_DIR) -> list[Path]:
    return sorted(Path(folder).glob("*.json"))
