"""A small English grammar whose sentences give attention heads visible jobs.

The word-level preset `text-words` is trained on sentences drawn from these templates. Each
template has one word that can only be predicted by looking back at a particular earlier word,
so a class can find the head that does the looking:

* agreement across a relative clause: "the keys that the man holds are …" (are, not is: the
  verb agrees with "keys", five words back, not with the nearer "man");
* a pronoun and its antecedent: "mary found the key , then she …" (she, because of "mary");
* name copying: "mary gave the book to john . john thanked mary" (the name that is not repeated);
* repeating a phrase: "anna saw the red cup near the big old hat . she took the big old hat"
  (old after "big", hat after "old", because that is what followed them before: a head in the
  first layer writes into each word which word came before it, a previous-token head, and a head
  in the second layer finds the word that came after an earlier "old"). The one to three
  adjectives of a phrase come in a random order, so nothing but the earlier phrase tells which
  word is next;
* a sentence said twice: "mary said the dogs were tired so they slept . leo said the dogs were
  tired so they slept ." Every word of the second telling can be read off the first by the same
  two heads, so the previous-token head is needed after every kind of word, not only inside a
  noun phrase (a head that only looks back after some words is not a previous-token head a class
  can see);
* plain word order ("the cat sat on the mat"), where a previous-token head helps too.

Every sentence is assigned for good to the training or the held-out side by a hash of its text
(`tasks.is_heldout`), so the probes a test checks are sentences the model never saw.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NAMES_F = ("mary", "anna", "emma", "lucy", "sara", "julia", "kate", "rose", "alice", "nora")
NAMES_M = ("john", "tom", "peter", "paul", "james", "david", "mark", "sam", "jack", "leo")
NAMES = NAMES_F + NAMES_M
# (singular, plural) nouns that can do things
AGENTS = (("man", "men"), ("woman", "women"), ("dog", "dogs"), ("cat", "cats"), ("boy", "boys"),
          ("girl", "girls"), ("bird", "birds"), ("teacher", "teachers"), ("farmer", "farmers"),
          ("child", "children"), ("horse", "horses"), ("king", "kings"), ("queen", "queens"),
          ("friend", "friends"))
THINGS = (("key", "keys"), ("book", "books"), ("box", "boxes"), ("car", "cars"), ("apple", "apples"),
          ("door", "doors"), ("letter", "letters"), ("ball", "balls"), ("cup", "cups"), ("hat", "hats"),
          ("coin", "coins"), ("map", "maps"), ("ring", "rings"))
NOUNS = AGENTS + THINGS
# (third person singular, plural) present-tense transitive verbs
VERBS = (("holds", "hold"), ("sees", "see"), ("likes", "like"), ("finds", "find"), ("wants", "want"),
         ("carries", "carry"), ("knows", "know"), ("follows", "follow"), ("watches", "watch"),
         ("needs", "need"))
PAST = ("found", "saw", "liked", "wanted", "carried", "opened", "lost", "took")
INTRANSITIVE = ("smiled", "laughed", "waited", "left", "sang", "slept", "danced", "sighed")
ADJECTIVES = ("big", "small", "old", "new", "red", "green", "happy", "tired", "heavy", "quiet", "lost",
              "broken", "warm", "cold")
PLACES = ("mat", "chair", "floor", "bed", "table", "rug", "wall", "step")
GIFTS = ("book", "apple", "key", "letter", "ball", "cup", "hat", "coin", "map", "ring")
REPLIES = ("thanked", "hugged", "paid", "called")
FUNCTION_WORDS = ("the", "that", "is", "are", "sat", "on", "near", "gave", "to", ",", "then", "she", "he",
                  "they", "it", "was", "were", "so", ".", "said")


def vocabulary() -> tuple[str, ...]:
    """Every word the grammar can write, each once, in a fixed order."""
    words = list(FUNCTION_WORDS) + list(NAMES)
    for pair in NOUNS + VERBS:
        words += pair
    words += list(PAST) + list(INTRANSITIVE) + list(ADJECTIVES) + list(PLACES) + list(GIFTS) + list(REPLIES)
    return tuple(dict.fromkeys(words))


@dataclass(frozen=True)
class Sentence:
    words: tuple[str, ...]
    job: str  # agreement | pronoun | copy | repeat | echo | order
    answer: int  # index of the word only the job's head can predict (it is predicted from answer − 1)


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def agreement(rng: np.random.Generator) -> Sentence:
    """'the keys that the man holds are red .': the verb agrees with the first noun."""
    n1, n2 = _pick(rng, NOUNS), _pick(rng, AGENTS)
    p1, p2 = int(rng.integers(2)), int(rng.integers(2))
    verb = _pick(rng, VERBS)[p2]
    be = ("is", "are")[p1]
    words = ("the", n1[p1], "that", "the", n2[p2], verb, be, _pick(rng, ADJECTIVES), ".")
    return Sentence(words, "agreement", 6)


def attractor(rng: np.random.Generator) -> Sentence:
    """'the dogs near the box are old .': agreement past a nearer noun of the other number."""
    n1, n2 = _pick(rng, NOUNS), _pick(rng, NOUNS)
    p1, p2 = int(rng.integers(2)), int(rng.integers(2))
    words = ("the", n1[p1], "near", "the", n2[p2], ("is", "are")[p1], _pick(rng, ADJECTIVES), ".")
    return Sentence(words, "agreement", 5)


def pronoun(rng: np.random.Generator) -> Sentence:
    """'mary found the key , then she smiled .': the pronoun goes back to the name."""
    name = _pick(rng, NAMES)
    thing = _pick(rng, THINGS)[int(rng.integers(2))]
    pron = "she" if name in NAMES_F else "he"
    words = (name, _pick(rng, PAST), "the", thing, ",", "then", pron, _pick(rng, INTRANSITIVE), ".")
    return Sentence(words, "pronoun", 6)


def plural_pronoun(rng: np.random.Generator) -> Sentence:
    """'the dogs were tired so they slept .': they / it / she / he from the subject."""
    noun, p = _pick(rng, AGENTS), int(rng.integers(2))
    pron = "they" if p else "it" if noun[0] in ("dog", "cat", "bird", "horse") else None
    if pron is None:
        pron = {"man": "he", "boy": "he", "king": "he", "woman": "she", "girl": "she", "queen": "she"}.get(
            noun[0], "they" if p else None)
    if pron is None:  # teacher, farmer, child, friend: no gender given, use the plural
        p, pron = 1, "they"
    words = ("the", noun[p], ("was", "were")[p], _pick(rng, ADJECTIVES), "so", pron,
             _pick(rng, INTRANSITIVE), ".")
    return Sentence(words, "pronoun", 5)


def copy(rng: np.random.Generator) -> Sentence:
    """'mary gave the book to john . john thanked mary .': the giver is named again."""
    i, j = rng.choice(len(NAMES), 2, replace=False)
    a, b = NAMES[int(i)], NAMES[int(j)]
    words = (a, "gave", "the", _pick(rng, GIFTS), "to", b, ".", b, _pick(rng, REPLIES), a, ".")
    return Sentence(words, "copy", 9)


def repeat(rng: np.random.Generator) -> Sentence:
    """'anna saw the red cup near the old hat . she took the old hat .': the phrase comes back.

    Each phrase has one to three adjectives in a random order ("the big old red cup"), so the
    only way to say which word comes next in the repeated phrase is to find where the current
    word stood before and copy the word after it.
    """
    name = _pick(rng, NAMES)
    sizes = rng.integers(1, 4, size=2)
    adjs = [ADJECTIVES[int(i)] for i in rng.choice(len(ADJECTIVES), int(sizes.sum()), replace=False)]
    adjs = [tuple(adjs[: sizes[0]]), tuple(adjs[sizes[0]:])]
    k, m = rng.choice(len(THINGS), 2, replace=False)
    things = [THINGS[int(k)][int(rng.integers(2))], THINGS[int(m)][int(rng.integers(2))]]
    back = int(rng.integers(2))  # which of the two phrases comes back
    pron = "she" if name in NAMES_F else "he"
    words = (name, _pick(rng, PAST), "the", *adjs[0], things[0], "near", "the", *adjs[1], things[1], ".",
             pron, _pick(rng, PAST), "the", *adjs[back], things[back], ".")
    return Sentence(words, "repeat", len(words) - 2)


def echo(rng: np.random.Generator) -> Sentence:
    """'mary said the dogs were tired so they slept . leo said the dogs …': a clause told twice.

    The clause is one of the short sentences above; its last word, told the second time, is the
    answer: it comes once before, right after the word that precedes it now.
    """
    i, j = rng.choice(len(NAMES), 2, replace=False)
    clause = _pick(rng, (agreement, attractor, plural_pronoun))(rng).words[:-1]  # without its "."
    words = (NAMES[int(i)], "said", *clause, ".", NAMES[int(j)], "said", *clause, ".")
    return Sentence(words, "echo", len(words) - 2)


def order(rng: np.random.Generator) -> Sentence:
    """'the cat sat on the mat .': plain word order."""
    noun, p = _pick(rng, AGENTS), int(rng.integers(2))
    return Sentence(("the", noun[p], "sat", "on", "the", _pick(rng, PLACES), "."), "order", 2)


TEMPLATES = {agreement: "agreement", attractor: "agreement", pronoun: "pronoun", plural_pronoun: "pronoun",
             copy: "copy", repeat: "repeat", echo: "echo", order: "order"}  # template -> the job it tests
JOBS = ("agreement", "pronoun", "copy", "repeat")
# A repeated phrase is drawn three times as often as the other templates: the heads that copy it
# (a previous-token head, then one that looks for the word after an earlier match) only form when
# it is common enough to pay for them. A clause told twice, twice as often: it asks the previous-token
# head to look back after every kind of word.
WEIGHT = {repeat: 3, echo: 2}


def sentence(rng: np.random.Generator, job: str | None = None) -> Sentence:
    """A random sentence (of one job, if given)."""
    templates = [t for t, j in TEMPLATES.items() if job is None or j == job for _ in range(WEIGHT.get(t, 1))]
    return _pick(rng, templates)(rng)


__all__ = ["JOBS", "NAMES_F", "NAMES_M", "TEMPLATES", "Sentence", "sentence", "vocabulary"]
