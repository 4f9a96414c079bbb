"""Lessons 11 and 12 say what the shipped word models do: each head a stop names looks where its text
says, the predictions it names are the model's, and the losses it quotes are the presets' own."""
import numpy as np
import pytest

from simulator.lessons import LESSON_DIR, load_lesson
from simulator.presets import list_presets

HEADS = LESSON_DIR / "11_heads_in_a_sentence.json"
CHEATS = LESSON_DIR / "12_a_decoder_that_cheats.json"

# (stop number, the token the last row attends to, the next word the model predicts) in lesson 11
LOOKS = [(2, "mary", "mary"), (3, "keys", "are"), (5, "mary", "she"), (6, "cup", "cup")]


@pytest.mark.parametrize("stop, token, next_word", LOOKS)
def test_each_named_head_looks_where_lesson_11_says(stop, token, next_word):
    les = load_lesson(HEADS)
    s = les.stops[stop - 1]
    model, tokens = les.open_stop(stop - 1)
    trace = model.run(tokens)
    row = trace[s.step][s.head][-1]  # [key_pos] of the last word
    assert tokens[int(np.argmax(row))] == token and row.max() > 0.9, (stop, row)
    assert model.config.vocab[int(np.argmax(trace["logits"][-1]))] == next_word
    said = (s.text or "") + (s.question or "") + (s.answer or "")
    assert f"head {s.head}" in said and f"'{token}'" in said


def test_changing_keys_to_key_flips_the_verb_and_the_head_stays():
    les = load_lesson(HEADS)
    model, tokens = les.open_stop(2)
    head = les.stops[2].head
    other = ["key" if t == "keys" else t for t in tokens]
    for toks, verb in ((tokens, "are"), (other, "is")):
        trace = model.run(toks)
        assert model.config.vocab[int(np.argmax(trace["logits"][-1]))] == verb
        assert int(np.argmax(trace["blocks.1.attn.hook_pattern"][head][-1])) == 1


def test_the_previous_token_stop_names_the_presets_previous_token_head():
    les = load_lesson(HEADS)
    s = les.stops[-1]
    info = {i["name"]: i for i in list_presets()}["text-words"]
    head = info["previous_token_head"]
    assert s.step == f"blocks.{head['layer']}.attn.hook_pattern" and s.head == head["head"]
    model, tokens = les.open_stop(len(les.stops) - 1)
    pattern = model.run(tokens)[s.step][s.head]
    shares = np.diagonal(pattern, offset=-1)
    assert "about nine tenths" in s.text and 0.85 < shares.mean() < 0.95


def test_lesson_12_quotes_the_presets_losses():
    les = load_lesson(CHEATS)
    info = {i["name"]: i for i in list_presets()}
    honest, cheat = info["text-words"]["heldout_bits_per_token"], info["text-words-cheat"]["heldout_bits_per_token"]
    assert f"{honest:.2f} bits per word" in les.stops[0].text
    assert f"{cheat:.2f} bits per word" in les.stops[3].text
    assert f"about {round(honest / cheat)} times lower" in les.stops[3].text
    model, tokens = les.open_stop(2)
    pattern = model.run(tokens)[les.stops[2].step][les.stops[2].head]
    assert np.diagonal(pattern, offset=1).mean() > 0.8  # one word ahead, as the answer says
