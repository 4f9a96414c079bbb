"""ModelConfig: defaults, derived sizes, validation with readable messages, JSON round trip."""
import json
from dataclasses import FrozenInstanceError

import pytest

from simulator import ModelConfig, Transformer
from simulator.config import DEFAULT_VOCAB


def test_defaults_are_the_classroom_model():
    cfg = ModelConfig()
    assert (cfg.n_layers, cfg.n_heads, cfg.d_model, cfg.d_mlp, cfg.n_ctx) == (2, 2, 16, 64, 8)
    assert (cfg.arch, cfg.positional, cfg.norm, cfg.attention, cfg.residual) == (
        "decoder", "sinusoidal", "pre", "causal", "standard")
    assert cfg.d_head == 8 and cfg.d_vocab == len(DEFAULT_VOCAB) == 13
    assert cfg.vocab[0] == "<unk>"


def test_config_is_frozen_and_vocab_becomes_a_tuple():
    cfg = ModelConfig(vocab=["x", "y"], n_ctx=4)
    assert cfg.vocab == ("x", "y")
    with pytest.raises(FrozenInstanceError):
        cfg.d_model = 4


@pytest.mark.parametrize("kw, match", [
    (dict(d_model=10, n_heads=3), r"d_model \(10\) must be divisible by n_heads \(3\)"),
    (dict(n_layers=0), "n_layers must be at least 1"),
    (dict(n_ctx=0), "n_ctx must be at least 1"),
    (dict(n_heads=0), "n_heads must be at least 1"),
    (dict(d_model=0), "d_model and d_mlp"),
    (dict(window=0), "window must be at least 1"),
    (dict(vocab=()), "vocabulary is empty"),
    (dict(vocab=("a", "b", "a", "c", "b")), "twice: 'a', 'b'"),
    (dict(vocab=("a", "")), "non-empty string"),
    (dict(vocab=("a b", "c")), "cannot contain spaces"),
    (dict(vocab=("ab", "c"), tokenization="char"), "single characters"),
    (dict(arch="transformer"), "arch must be one of decoder, encoder, encoder-decoder, vit; got 'transformer'"),
    (dict(positional="alibi"), "positional must be one of"),
    (dict(norm="rms"), "norm must be one of"),
    (dict(activation="swish"), "activation must be one of"),
    (dict(attention="sparse"), "attention must be one of"),
    (dict(residual="highway"), "residual must be one of"),
    (dict(tokenization="bpe"), "tokenization must be one of"),
    (dict(n_layers=2.0), "n_layers must be a whole number"),
    (dict(n_heads=True), "n_heads must be a whole number"),
    (dict(d_model=6, n_heads=2, positional="rope"), "d_head must be even"),
    (dict(d_model=3, n_heads=1, positional="sinusoidal"), "d_model must be even"),
    (dict(attention="full"), "decoder .* must not see later ones"),
    (dict(arch="encoder", attention="causal"), "encoder reads the whole input"),
    (dict(arch="encoder-decoder", attention="full"), "decoder of an encoder-decoder is causal"),
    (dict(residual="attnres", norm="post"), "needs norm='pre'"),
    (dict(residual="denseformer", arch="encoder-decoder"), "single-stack"),
    (dict(residual="block_attnres", depth_blocks=5), "depth_blocks must be between 1 and"),
    (dict(norm_eps=-1e-5), "norm_eps"),
    (dict(init_scale=1000), "init_scale"),
])
def test_invalid_configs_are_refused_with_a_clear_message(kw, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kw)


def test_replace_validates_and_leaves_the_original_alone():
    cfg = ModelConfig()
    assert cfg.replace(n_layers=3).n_layers == 3
    with pytest.raises(ValueError, match="divisible"):
        cfg.replace(n_heads=5)
    assert cfg.n_heads == 2


@pytest.mark.parametrize("cfg", [
    ModelConfig(),
    ModelConfig(vocab=("<unk>", "é", "ß", " "), tokenization="char", arch="encoder", attention="window", window=2,
                norm_eps=0.0, init_scale=0.5),
    ModelConfig(arch="encoder-decoder", positional="rope", norm="post", activation="relu"),
    ModelConfig(residual="block_attnres", depth_blocks=3),
])
def test_json_round_trip(cfg):
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    assert json.loads(cfg.to_json())["vocab"] == list(cfg.vocab)


@pytest.mark.parametrize("text, match", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"d_modl": 16}', "Unknown configuration fields: d_modl"),
    ('{"d_model": "16"}', "d_model must be int"),
    ('{"n_layers": true}', "n_layers must be int"),
    ('{"vocab": "abc"}', "vocab must be a list"),
    ('{"norm_eps": "small"}', "norm_eps must be float"),
    ('{"n_layers": 0}', "at least 1"),
])
def test_from_json_refuses_bad_fields(text, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig.from_json(text)


def test_from_json_accepts_an_int_for_a_float_field_and_partial_configs():
    cfg = ModelConfig.from_json('{"norm_eps": 0, "n_layers": 3}')
    assert cfg.norm_eps == 0 and cfg.n_layers == 3 and cfg.d_model == 16


def test_every_valid_combination_builds_a_model():
    """The config's own rules are the only ones: whatever it accepts, the model can build and run."""
    for arch, attention in (("decoder", "causal"), ("encoder", "full"), ("encoder-decoder", "window")):
        for residual in ("standard", "none", "denseformer", "attnres", "block_attnres"):
            if residual not in ("standard", "none") and arch == "encoder-decoder":
                continue
            for norm in (("pre",) if residual not in ("standard", "none") else ("pre", "post", "none")):
                cfg = ModelConfig(arch=arch, attention=attention, residual=residual, norm=norm, n_layers=1)
                m = Transformer(cfg)
                t = m.run(("the cat", "a dog") if arch == "encoder-decoder" else "the cat")
                assert t["probs"].shape == (2, 13)


def test_a_model_too_large_to_build_is_refused_before_allocating():
    from simulator import Transformer

    with pytest.raises(ValueError, match="too many"):
        Transformer(ModelConfig(n_layers=10**9))
    with pytest.raises(ValueError, match="at most 50,000,000"):
        Transformer(ModelConfig(d_model=4096, d_mlp=16384, n_layers=8, n_heads=8))


def test_a_decoder_sees_the_future_only_when_asked_and_is_warned_about():
    import pytest as _pytest

    from simulator.config import ModelConfig as _Config
    from simulator.model import Transformer as _Transformer

    with _pytest.raises(ValueError, match="allow_future"):
        _Config(arch="decoder", attention="full")
    cfg = _Config(arch="decoder", attention="full", allow_future=True)
    assert "can see the future" in cfg.warning and _Config().warning == ""
    trace = _Transformer(cfg, seed=0).run("the cat sat")
    assert (trace["blocks.0.attn.hook_attn_scores"] > -float("inf")).all()  # nothing masked
    assert "can see the future" in trace.step("blocks.0.attn.hook_attn_scores").description
    assert _Config.from_json(cfg.to_json()) == cfg
