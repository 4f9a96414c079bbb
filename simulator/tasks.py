"""Tasks to train on: copy, reverse, sort, induction (repeat a sequence), translate, and digits (images).

A task owns its vocabulary and model configuration and generates examples. An example
is the model's input, the next token at every input position (`targets`) and a `mask`
marking the answer positions: only those count in the loss and in the accuracy.

Held-out data: every possible sequence is assigned once and for all to the training
or the held-out side by a hash of its text, so a model is never trained on the
sequences its accuracy is measured on, whatever seeds are used.

>>> task = get_task("reverse")
>>> ex = task.example((3, 1, 4, 2))
>>> " ".join(ex.tokens), " ".join(ex.targets)
('3 1 4 2 | 2 4 1', '1 4 2 | 2 4 1 3')
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .config import ModelConfig
from .digits import DIGITS_CONFIG, heldout_indices, load_digits_data, shift, train_indices

DIGITS = tuple("0123456789")
HELDOUT_SHARE = 10  # one sequence in 10 is held out


@dataclass(frozen=True)
class Example:
    tokens: list[str] | tuple[list[str], list[str]]  # the input: a list, or (source, target) pair
    targets: list[str]  # the next token at each (decoder) input position  # [pos]
    mask: np.ndarray  # bool, True where the target is part of the answer  # [pos]


def is_heldout(text: str) -> bool:
    """Whether a sequence belongs to the held-out side (stable across runs and machines)."""
    return zlib.crc32(text.encode("utf-8")) % HELDOUT_SHARE == 0


class Task:
    """A toy task; subclasses define `sample_key` (a random problem) and `sequence` (its text)."""

    name = ""
    title = ""
    description = ""
    config = ModelConfig()
    demo: tuple = ()  # the problem shown when a trained model is opened

    def sample_key(self, rng: np.random.Generator) -> tuple:
        raise NotImplementedError

    def sequence(self, key: tuple) -> tuple[list[str], int]:
        """The whole token sequence of a problem, and where its answer starts."""
        raise NotImplementedError

    def example(self, key: tuple) -> Example:
        seq, start = self.sequence(key)
        mask = np.zeros(len(seq) - 1, dtype=bool)
        mask[start - 1:] = True  # the input position before an answer token predicts it
        return Example(seq[:-1], seq[1:], mask)

    def key_text(self, key: tuple) -> str:
        return " ".join(self.sequence(key)[0])

    def _sample(self, n: int, rng: np.random.Generator, heldout: bool) -> list[Example]:
        out = []
        while len(out) < n:
            key = self.sample_key(rng)
            if is_heldout(self.key_text(key)) == heldout:
                out.append(self.example(key))
        return out

    def batch(self, n: int, rng: np.random.Generator) -> list[Example]:
        """`n` random training examples (never a held-out one)."""
        return self._sample(n, rng, heldout=False)

    def heldout(self, n: int, seed: int) -> list[Example]:
        """`n` random held-out examples drawn with their own seed."""
        return self._sample(n, np.random.default_rng(seed), heldout=True)

    def demo_tokens(self):
        return self.example(self.demo).tokens

    def answer_start(self, tokens: list[str]) -> int | None:
        """The first input position whose next token is part of the answer, when `tokens` is (the
        start of) one of this task's sequences; None when the answer cannot be told apart (then
        every next token counts)."""
        return None


def _digits_config(n_ctx: int, **kw) -> ModelConfig:
    return ModelConfig(vocab=DIGITS + ("|",), n_ctx=n_ctx, **kw)


class Copy(Task):
    name = "copy"
    title = "Copy"
    description = "Four digits, a bar, then the same four digits again."
    length = 4
    config = _digits_config(8)
    demo = (3, 1, 4, 2)

    def sample_key(self, rng):
        return tuple(int(d) for d in rng.integers(0, 10, self.length))

    def answer(self, key: tuple) -> list[int]:
        return list(key)

    def answer_start(self, tokens):
        # the bar predicts the first answer digit, as in `example`
        if tokens.count("|") == 1 and tokens.index("|") == self.length:
            return self.length
        return None

    def sequence(self, key):
        seq = [str(d) for d in key] + ["|"] + [str(d) for d in self.answer(key)]
        return seq, len(key) + 1


class Reverse(Copy):
    name = "reverse"
    title = "Reverse"
    description = "Four digits, a bar, then the same digits in reverse order."

    def answer(self, key):
        return list(reversed(key))


class Sort(Copy):
    name = "sort"
    title = "Sort"
    description = "Four different digits, a bar, then the same digits from smallest to largest."
    demo = (7, 2, 9, 4)

    def sample_key(self, rng):
        return tuple(int(d) for d in rng.permutation(10)[: self.length])

    def answer(self, key):
        return sorted(key)


class Induction(Task):
    name = "induction"
    title = "Repeat (induction)"
    description = ("3 to 7 different letters, then the same letters again. From the second copy on, "
                   "each next letter is the one that followed the current letter the first time.")
    letters = tuple("abcdefghij")
    config = ModelConfig(vocab=letters, n_ctx=16)
    demo = (2, 7, 0, 5, 9, 3)  # c h a f j d

    def sample_key(self, rng):
        k = int(rng.integers(3, 8))
        return tuple(int(i) for i in rng.permutation(len(self.letters))[:k])

    def sequence(self, key):
        part = [self.letters[i] for i in key]
        # The first repeated letter cannot be predicted (it could be a new letter): the answer
        # starts with the second one.
        return part + part, len(part) + 1

    def answer_start(self, tokens):
        # the first copy is the letters before the first one that repeats; the repeated first
        # letter (position k) predicts the second, the first answer token (as in `sequence`)
        for k in range(3, min(len(tokens), 8)):
            if tokens[k] in tokens[:k]:
                first = tokens[:k]
                if tokens[k] == tokens[0] and tokens[k:] == first[:len(tokens) - k]:
                    return k
                return None
        return None


ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_words(n: int) -> list[str]:
    """English words for 0 ≤ n ≤ 999, e.g. 713 -> ['seven', 'hundred', 'thirteen']."""
    if not 0 <= n <= 999:
        raise ValueError(f"number_words covers 0 to 999; got {n}.")
    if n == 0:
        return ["zero"]
    words = [ONES[n // 100], "hundred"] if n >= 100 else []
    rest = n % 100
    if 10 <= rest <= 19:
        words.append(TEENS[rest - 10])
    else:
        if rest >= 20:
            words.append(TENS[rest // 10])
        if rest % 10:
            words.append(ONES[rest % 10])
    return words


class Translate(Task):
    name = "translate"
    title = "Digits to words"
    description = ("An encoder reads a number's digits (0 to 999); the decoder writes it in words, "
                   "e.g. 7 1 3 → seven hundred thirteen.")
    config = ModelConfig(
        vocab=DIGITS + ONES + TEENS + tuple(t for t in TENS if t) + ("hundred", "<bos>", "<eos>"),
        arch="encoder-decoder", n_ctx=8)
    demo = (713,)

    def sample_key(self, rng):
        # Drawn uniformly from 0..999, one- and two-digit numbers would be 1 % and 9 % of the
        # examples, too rare for the model to learn how short numbers are read.
        digits = int(rng.choice([1, 2, 3], p=[0.1, 0.2, 0.7]))
        low = 0 if digits == 1 else 10 ** (digits - 1)
        return (int(rng.integers(low, 10 ** digits)),)

    def example(self, key):
        source = list(str(key[0]))
        words = number_words(key[0])
        target = ["<bos>"] + words + ["<eos>"]
        return Example((source, target[:-1]), target[1:], np.ones(len(target) - 1, dtype=bool))

    def key_text(self, key):
        return str(key[0])


class Digits(Task):
    name = "digits"
    title = "Handwritten digits (ViT)"
    description = ("A Vision Transformer reads an 8×8 handwritten digit, cut into 2×2 patches, and says which "
                   "digit it is. Held out: the images whose index is a multiple of 5.")
    config = DIGITS_CONFIG
    shift_share = 0.5  # the share of training images moved by one pixel (augmentation)

    def _example(self, image: np.ndarray, label: int) -> Example:
        return Example(image, [str(label)], np.ones(1, dtype=bool))

    def batch(self, n: int, rng: np.random.Generator) -> list[Example]:
        """`n` training images, about half of them shifted by one pixel in a random direction."""
        images, labels = load_digits_data()
        pool = train_indices(len(images))
        out = []
        for i in rng.choice(pool, n):
            image = images[i]
            if rng.random() < self.shift_share:
                dy, dx = [(0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)][rng.integers(8)]
                image = shift(image, dy, dx)
            out.append(self._example(image, int(labels[i])))
        return out

    def heldout(self, n: int, seed: int) -> list[Example]:
        """Up to `n` of the held-out images (all 360 when n ≥ 360), the same ones whatever the seed."""
        images, labels = load_digits_data()
        return [self._example(images[i], int(labels[i])) for i in heldout_indices(len(images))[:n]]

    def demo_tokens(self):
        images, _ = load_digits_data()
        return images[heldout_indices(len(images))[3]]


TASKS: dict[str, Task] = {t.name: t for t in (Copy(), Reverse(), Sort(), Induction(), Translate(), Digits())}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"Unknown task {name!r}; choose one of {', '.join(TASKS)}.") from None


def token_accuracy(model, examples: list[Example]) -> float:
    """The share of answer tokens the model predicts correctly by argmax (teacher forcing)."""
    ids = model.tokenizer.ids
    right = total = 0
    for ex in examples:
        logits = model.run(ex.tokens)["logits"]  # [pos, d_vocab]
        guess = logits.argmax(-1)
        want = np.array([ids[t] for t in ex.targets])
        right += int(np.sum((guess == want) & ex.mask))
        total += int(ex.mask.sum())
    return right / total if total else 0.0


__all__ = ["Example", "Task", "TASKS", "get_task", "token_accuracy", "is_heldout", "number_words", "Digits"]


def _add_text_tasks() -> None:
    # The English-text tasks build on Task, so they live in their own module, imported last.
    from .text_tasks import TextChars, TextWords
    for task in (TextWords(), TextChars()):
        TASKS[task.name] = task


_add_text_tasks()
