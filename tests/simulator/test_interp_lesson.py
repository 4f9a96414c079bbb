"""The "Which head does the work?" lesson: every number its answers name is what the views show."""
import numpy as np

from simulator import interp
from simulator.lessons import LESSON_DIR, load_lesson
from simulator.presets import patch_pairs

PATH = LESSON_DIR / "07_which_head.json"


def test_the_lessons_answers_name_what_is_on_screen():
    lesson = load_lesson(PATH)
    model, tokens = lesson.open_stop(0)
    vocab = model.config.vocab
    f, g, pos = vocab.index("f"), vocab.index("g"), len(tokens) - 1
    trace = model.run(tokens)
    answers = [s.answer for s in lesson.stops]
    assert vocab[int(trace["probs"][pos].argmax())] == "f"

    pattern = trace["blocks.1.attn.hook_pattern"]
    assert int(pattern[1, pos].argmax()) == 3 and tokens[3] == "f"
    assert f"weight {pattern[1, pos, 3]:.2f} to 'f'" in answers[1]
    assert f"gives {pattern[0, pos].max():.2f} to the 'h'" in answers[1]
    assert tokens[int(pattern[0, pos].argmax())] == "h"

    points, probs = interp.lens_probs(model, trace)
    labels = [interp.point_label(p) for p in points]
    first = next(i for i in range(len(points)) if probs[i, pos].argmax() == f)
    assert f"At '{labels[first]}'" in answers[2]
    assert all(f"{probs[i, pos, f]:.2f}" == "0.00" for i in range(first))
    assert f"{probs[first, pos, f]:.2f}" in answers[2]

    parts = interp.direct_logit_attribution(model, trace, pos, f)
    assert max(parts, key=parts.get) == "blocks.1.attn.head1"
    for name in ("blocks.1.attn.head1", "blocks.1.mlp", "blocks.1.attn.head0"):
        assert f"{parts[name]:.2f}" in answers[3]
    assert f"logit {trace['logits'][pos, f]:.2f}" in answers[3]

    zero = model.run(tokens, ablate={"blocks.1.attn.head1": "zero"})["probs"][pos]
    mean = model.run(tokens, ablate={"blocks.1.attn.head1": "mean"})["probs"][pos]
    other = model.run(tokens, ablate={"blocks.1.attn.head0": "zero"})["probs"][pos]
    assert f"from {trace['probs'][pos, f]:.2f} to {zero[f]:.2f}" in answers[4]
    assert f"'{vocab[int(zero.argmax())]}' becomes the top guess" in answers[4]
    assert f"leaves {mean[f]:.2f}" in answers[4] and f"keeps {other[f]:.2f}" in answers[4]

    pair = patch_pairs(model)[0]
    assert pair.clean == " ".join(tokens)
    rows, heads = interp.patch_sweep(model, pair.clean, pair.corrupt, f, g, "heads")
    assert np.unravel_index(heads.argmax(), heads.shape) == (1, 1)
    for value in (heads[1, 1], heads[1, 0], heads[0, 0], heads[0, 1]):
        assert f"{value:.2f}" in answers[5]
    rows, stream = interp.patch_sweep(model, pair.clean, pair.corrupt, f, g, "resid")
    attn1 = [interp.point_label(r) for r in rows].index("attn 1")
    assert np.allclose(stream[:attn1, 3], 1, atol=0.01) and np.allclose(stream[attn1:, pos], 1, atol=0.01)
    assert "(position 3)" in answers[5]
