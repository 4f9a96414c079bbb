"""Text to token ids and back, at the word or the character level."""
from __future__ import annotations

from collections.abc import Sequence

UNK = "<unk>"


class TokenError(ValueError):
    """Text that cannot be turned into tokens; `unknown` lists the offending pieces."""

    def __init__(self, message: str, unknown: Sequence[str] = ()):
        super().__init__(message)
        self.unknown = list(unknown)


class Tokenizer:
    """Splits text into tokens of a fixed vocabulary.

    `level="word"` splits on whitespace; `level="char"` makes one token per character
    (spaces included, if the vocabulary has " "). `level="subword"` is a checkpoint's vocabulary
    (`simulator.pretrained` brings the checkpoint's own tokenizer); on its own it reads a text as
    its subword tokens separated by spaces. Pieces missing from the vocabulary map to
    `<unk>` when the vocabulary has it, and raise `TokenError` naming them otherwise.
    """

    def __init__(self, vocab: Sequence[str], level: str = "word"):
        if level not in ("word", "char", "subword"):
            raise ValueError(f"level must be 'word', 'char' or 'subword'; got {level!r}.")
        self.vocab = tuple(vocab)
        self.level = level
        self.ids = {tok: i for i, tok in enumerate(self.vocab)}

    def split(self, text: str) -> list[str]:
        return list(text) if self.level == "char" else text.split()

    def tokens(self, text_or_tokens: str | Sequence[str]) -> list[str]:
        """The vocabulary tokens for a text or a list of token strings (unknowns mapped or refused)."""
        if not isinstance(text_or_tokens, (str, list, tuple)):
            raise TokenError(f"Tokens must be a text or a list of token strings; got {text_or_tokens!r:.40}.")
        pieces = self.split(text_or_tokens) if isinstance(text_or_tokens, str) else list(text_or_tokens)
        bad = [p for p in pieces if not isinstance(p, str)]
        if bad:
            raise TokenError(f"Tokens must be strings; got {bad[0]!r}.")
        unknown = [p for p in pieces if p not in self.ids]
        if unknown and UNK not in self.ids:
            names = ", ".join(repr(u) for u in dict.fromkeys(unknown))
            raise TokenError(f"Not in the vocabulary: {names}.{self._spacing_hint(unknown)}", unknown)
        return [p if p in self.ids else UNK for p in pieces]

    def _spacing_hint(self, unknown: Sequence[str]) -> str:
        """A hint when an unknown word is made of tokens written together ("713" for "7 1 3")."""
        if self.level != "word":
            return ""
        for piece in unknown:
            if len(piece) > 1 and all(c in self.ids for c in piece):
                return f" Write {piece!r} as separate tokens: {' '.join(piece)!r}."
        return ""

    def encode(self, text_or_tokens: str | Sequence[str]) -> list[int]:
        return [self.ids[t] for t in self.tokens(text_or_tokens)]

    def decode(self, ids: Sequence[int]) -> str:
        for i in ids:
            if not 0 <= int(i) < len(self.vocab):
                raise TokenError(f"Token id {i} is outside the vocabulary (0..{len(self.vocab) - 1}).")
        sep = "" if self.level == "char" else " "
        return sep.join(self.vocab[int(i)] for i in ids)

    @classmethod
    def build_vocab(cls, corpus: str, level: str = "word", unk: bool = True) -> tuple[str, ...]:
        """A vocabulary of every distinct piece of `corpus`, in order of first appearance."""
        pieces = corpus.split() if level == "word" else list(corpus)
        return ((UNK,) if unk else ()) + tuple(dict.fromkeys(p for p in pieces if p != UNK))
