"""The depth presets behind lesson 6: trained models that solve their task on fresh data and whose
weights over depth are far from the untrained ones; and lesson 6's answers read off those models."""
import re

import numpy as np
import pytest

from simulator.depth import depth_map
from simulator.lessons import LESSON_DIR, load_lesson
from simulator.presets import load_preset
from simulator.tasks import get_task, token_accuracy

FRESH_SEED = 31_337  # neither the seed watched during training nor the one its final score used
LESSON = LESSON_DIR / "06_attention_over_depth.json"


@pytest.mark.parametrize("name, residual", [("reverse-attnres", "attnres"), ("reverse-denseformer", "denseformer")])
def test_depth_presets_solve_their_task_on_fresh_data(name, residual):
    model, _, info = load_preset(name)
    assert model.config.residual == residual and info["task"] == "reverse"
    assert f"--residual {residual}" in info["command"] and info["command"].endswith(f"{name}.npz")
    assert token_accuracy(model, get_task("reverse").heldout(300, FRESH_SEED)) >= 0.99


def test_attention_over_depth_weights_are_clearly_not_uniform():
    model, tokens, _ = load_preset("reverse-attnres")
    traces = [model.run(example.tokens) for example in get_task("reverse").heldout(20, FRESH_SEED)]
    for name in ("blocks.1.depth_attn.hook_weights", "depth_final.hook_weights"):  # the lesson's two
        # how far each token's weights are from the untrained 1/n each (total variation: 0 to 1)
        distance = np.concatenate([0.5 * np.abs(t[name] - 1 / t[name].shape[0]).sum(0) for t in traces])
        assert distance.min() > 0.2 and distance.mean() > 0.4, name
    trace = model.run(tokens)
    rows = depth_map(model, trace, 4).values  # [consumer, source]: the Depth attention tab's map
    assert np.abs(rows[2, :3] - 1 / 3).max() > 0.4 and np.abs(rows[4] - 1 / 5).max() > 0.4


def test_denseformer_weights_moved_far_from_the_standard_stream():
    model, _, _ = load_preset("reverse-denseformer")
    alpha = model.params["blocks.1.dwa.alpha"]  # [source]: embed, block 0, block 1
    assert np.abs(alpha - np.array([0.0, 0.0, 1.0])).max() > 0.3


def _numbers(text: str) -> list[float]:
    return [float(x.replace("−", "-")) for x in re.findall(r"−?\d+\.\d+", text)]


def test_lesson_6_runs_on_the_trained_presets_and_each_answer_names_what_is_on_screen():
    lesson = load_lesson(LESSON)
    assert all("preset" in s.model for s in lesson.stops)
    stops = {s.step: (i, s) for i, s in enumerate(lesson.stops) if s.question}
    sources = ["embed", "attn 0", "mlp 0", "attn 1", "mlp 1"]

    i, stop = stops["blocks.1.depth_attn.hook_weights"]
    model, tokens = lesson.open_stop(i)
    w = model.run(tokens)[stop.step]  # [source, pos]
    bar = tokens.index("|")
    assert f"(position {bar})" in stop.question
    top = int(np.argmax(w[:, bar]))
    assert stop.answer.startswith(f"The {['embedding', 'attn 0', 'mlp 0'][top]}")
    assert _numbers(stop.answer)[:3] == [round(float(w[top, bar]), 2), round(float(w[1, bar]), 2),
                                         round(float(w[2, bar]), 2)]
    assert f"at least {w[0].min():.2f} in every column" in stop.answer

    i, stop = stops["depth_final.hook_weights"]
    model, tokens = lesson.open_stop(i)
    trace = model.run(tokens)
    w = trace[stop.step]
    top = int(np.argmax(w[:, bar]))
    assert stop.answer.startswith(sources[top]) and f"{w[top, bar]:.2f}" in stop.answer
    assert np.all(w.argmax(0) == top)  # "the largest in every column"
    assert f"({w[top].min():.2f} to {w[top].max():.2f})" in stop.answer
    pattern = trace["blocks.1.attn.hook_pattern"][:, bar]  # [head, key]
    assert np.all(pattern.argmax(-1) == bar - 1) and f"'{tokens[bar - 1]}' (position {bar - 1})" in stop.answer
    assert f"{pattern.max(-1).min():.2f}" in stop.answer
    assert model.config.vocab[int(trace["probs"][bar].argmax())] == tokens[bar - 1]

    i, stop = stops["blocks.1.dwa.hook_mixed"]
    model, _ = lesson.open_stop(i)
    alpha = model.params["blocks.1.dwa.alpha"]  # embed, block 0, block 1
    assert int(np.argmax(alpha)) == 2 and alpha.min() < 0
    assert _numbers(stop.answer)[:3] == [round(float(a), 2) for a in (alpha[2], alpha[0], alpha[1])]
