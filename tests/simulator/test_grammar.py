"""The grammar behind text-words: the repeated phrase can only be continued by finding where its
current word stood before, which is the job of a previous-token head and an induction head."""
import numpy as np

from simulator import grammar


def _repeats(n: int) -> list[grammar.Sentence]:
    rng = np.random.default_rng(5)
    return [grammar.sentence(rng, "repeat") for _ in range(n)]


def test_the_repeated_phrase_is_continued_by_the_word_after_its_earlier_match():
    for s in _repeats(300):
        before = s.words[: s.answer]
        cue = before[-1]
        verbs = (1, s.words.index(".") + 2)  # "lost" is a verb there and an adjective elsewhere
        earlier = [j for j in range(len(before) - 1) if before[j] == cue and j not in verbs]
        assert len(earlier) == 1, s.words  # the cue word stood exactly once before in a phrase
        assert s.words[earlier[0] + 1] == s.words[s.answer]


def test_the_adjectives_of_a_phrase_vary_in_number_and_order():
    adjectives = set(grammar.ADJECTIVES)
    lengths, orders = set(), set()
    for s in _repeats(300):
        first = s.words[3: s.words.index("near") - 1]  # "name past the ADJ… THING near"
        assert first and set(first) <= adjectives
        lengths.add(len(first))
        if len(first) == 2:
            orders.add(first[0] < first[1])
        told = [w for w in s.words[2: s.words.index(".")] if w in adjectives]  # word 1 is a verb ("lost")
        assert len(told) == len(set(told)), s.words  # no adjective twice: each cue is unambiguous
    assert lengths == {1, 2, 3} and orders == {True, False}


def test_every_word_a_sentence_writes_is_in_the_vocabulary():
    vocab = set(grammar.vocabulary())
    rng = np.random.default_rng(6)
    for _ in range(500):
        assert set(grammar.sentence(rng).words) <= vocab


def test_a_clause_told_twice_is_continued_by_the_word_after_its_earlier_match():
    rng = np.random.default_rng(7)
    for _ in range(200):
        s = grammar.sentence(rng, "echo")
        half = len(s.words) // 2
        assert s.words[:half][2:] == s.words[half:][2:] and s.words[1] == s.words[half + 1] == "said"
        assert s.words[0] != s.words[half]  # told by two people
        cue = s.words[s.answer - 1]
        earlier = [j for j in range(s.answer - 1) if s.words[j] == cue]
        assert len(earlier) == 1, s.words  # the cue stood once before, so copying the word after it is right
        assert s.words[earlier[0] + 1] == s.words[s.answer]
