"""Small GPT-2 and BERT checkpoints made for the tests, and a numpy forward of each from the papers.

The checkpoints are random weights in the Hugging Face layout, written with `safetensors.numpy.save_file`,
and a tokenizer trained with `tokenizers` on a few sentences. The reference forwards below read the
checkpoint's own tensors (Conv1D [in, out] for GPT-2, nn.Linear [out, in] for BERT) and share no code
with Stepformer: GPT-2 as in Radford et al. (2019), BERT as in Devlin et al. (2019).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

SENTENCES = [
    "The cat sat on the mat.", "A dog ran in the park!", "The small cat and the big dog are friends.",
    "Transformers read every token at once.", "Attention weighs the words that matter.",
    "Birds sing in the morning, cats sleep all day.", "Hello world, hello class.",
]
GPT2_SIZES = dict(n_layer=2, n_head=2, n_embd=16, n_positions=32)
BERT_SIZES = dict(num_hidden_layers=2, num_attention_heads=2, hidden_size=16, intermediate_size=40,
                  max_position_embeddings=32, type_vocab_size=2)


def gpt2_tokenizer(vocab_size: int = 300):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(SENTENCES, trainer)
    return tok


def bert_tokenizer(vocab_size: int = 120):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, show_progress=False,
                                        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(SENTENCES, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    return tok


def gpt2_weights(v: int, seed: int = 0, prefix: str = "") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    d, L, n = GPT2_SIZES["n_embd"], GPT2_SIZES["n_layer"], GPT2_SIZES["n_positions"]

    def r(*shape, scale=0.3):
        return (scale * rng.standard_normal(shape)).astype(np.float32)
    w = {"wte.weight": r(v, d), "wpe.weight": r(n, d), "ln_f.weight": 1 + r(d, scale=0.1), "ln_f.bias": r(d)}
    for i in range(L):
        h = f"h.{i}."
        w |= {h + "ln_1.weight": 1 + r(d, scale=0.1), h + "ln_1.bias": r(d), h + "ln_2.weight": 1 + r(d, scale=0.1),
              h + "ln_2.bias": r(d), h + "attn.c_attn.weight": r(d, 3 * d), h + "attn.c_attn.bias": r(3 * d),
              h + "attn.c_proj.weight": r(d, d), h + "attn.c_proj.bias": r(d), h + "mlp.c_fc.weight": r(d, 4 * d),
              h + "mlp.c_fc.bias": r(4 * d), h + "mlp.c_proj.weight": r(4 * d, d), h + "mlp.c_proj.bias": r(d)}
    return {prefix + k: x for k, x in w.items()}


def bert_weights(v: int, seed: int = 0, mlm: bool = True, prefix: str = "") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    d, L, m = BERT_SIZES["hidden_size"], BERT_SIZES["num_hidden_layers"], BERT_SIZES["intermediate_size"]
    n, t = BERT_SIZES["max_position_embeddings"], BERT_SIZES["type_vocab_size"]

    def r(*shape, scale=0.3):
        return (scale * rng.standard_normal(shape)).astype(np.float32)
    e = "embeddings."
    w = {e + "word_embeddings.weight": r(v, d), e + "position_embeddings.weight": r(n, d),
         e + "token_type_embeddings.weight": r(t, d), e + "LayerNorm.weight": 1 + r(d, scale=0.1),
         e + "LayerNorm.bias": r(d), e + "position_ids": np.arange(n, dtype=np.int64)[None]}
    for i in range(L):
        c = f"encoder.layer.{i}."
        for name in ("query", "key", "value"):
            w |= {c + f"attention.self.{name}.weight": r(d, d), c + f"attention.self.{name}.bias": r(d)}
        w |= {c + "attention.output.dense.weight": r(d, d), c + "attention.output.dense.bias": r(d),
              c + "attention.output.LayerNorm.weight": 1 + r(d, scale=0.1), c + "attention.output.LayerNorm.bias": r(d),
              c + "intermediate.dense.weight": r(m, d), c + "intermediate.dense.bias": r(m),
              c + "output.dense.weight": r(d, m), c + "output.dense.bias": r(d),
              c + "output.LayerNorm.weight": 1 + r(d, scale=0.1), c + "output.LayerNorm.bias": r(d)}
    w = {prefix + k: x for k, x in w.items()}
    if mlm:
        t = "cls.predictions."
        w |= {t + "transform.dense.weight": r(d, d), t + "transform.dense.bias": r(d),
              t + "transform.LayerNorm.weight": 1 + r(d, scale=0.1), t + "transform.LayerNorm.bias": r(d),
              t + "bias": r(v)}
    return w


def write_gpt2(folder: Path, extra_vocab: int = 0, **config) -> dict[str, np.ndarray]:
    """A GPT-2 checkpoint folder (tokenizer.json); returns its weights."""
    from safetensors.numpy import save_file
    folder.mkdir(parents=True, exist_ok=True)
    tok = gpt2_tokenizer()
    v = tok.get_vocab_size() + extra_vocab
    weights = gpt2_weights(v, **{k: config.pop(k) for k in ("seed", "prefix") if k in config})
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "vocab_size": v, **GPT2_SIZES, **config}))
    save_file(weights, str(folder / "model.safetensors"))
    tok.save(str(folder / "tokenizer.json"))
    return weights


def write_bert(folder: Path, mlm: bool = True, **config) -> dict[str, np.ndarray]:
    from safetensors.numpy import save_file
    folder.mkdir(parents=True, exist_ok=True)
    tok = bert_tokenizer()
    v = tok.get_vocab_size()
    weights = bert_weights(v, mlm=mlm, **{k: config.pop(k) for k in ("seed", "prefix") if k in config})
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": v, "layer_norm_eps": 1e-12,
                                                    "hidden_act": "gelu", **BERT_SIZES, **config}))
    save_file(weights, str(folder / "model.safetensors"))
    tok.save(str(folder / "tokenizer.json"))
    return weights


def to_bfloat16(x: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), as the uint16 bit patterns."""
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    bits = bits + 0x7FFF + ((bits >> 16) & 1)
    return (bits >> 16).astype(np.uint16)


def save_safetensors(tensors: dict[str, tuple[str, tuple[int, ...], bytes]], path: Path) -> None:
    """A safetensors file written byte by byte: {name: (dtype, shape, little-endian data)}.

    The format: an 8-byte little-endian header length, the JSON header (dtype, shape and
    data_offsets of each tensor, offsets counted from the end of the header), then the data.
    The safetensors package's numpy API cannot write bfloat16: numpy has no such type.
    """
    header, at = {}, 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [at, at + len(data)]}
        at += len(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)  # the writers align the data to 8 bytes
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"".join(t[2] for t in tensors.values()))


def save_bfloat16(weights: dict[str, np.ndarray], path: Path, keep=()) -> None:
    """Every float weight rounded to bfloat16 and stored as BF16 (those named in `keep` stay F32)."""
    tensors = {}
    for name, w in weights.items():
        if w.dtype == np.float32 and name not in keep:
            tensors[name] = ("BF16", w.shape, to_bfloat16(w).astype("<u2").tobytes())
        else:
            kind = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[w.dtype]
            tensors[name] = (kind, w.shape, w.astype(w.dtype.newbyteorder("<")).tobytes())
    save_safetensors(tensors, path)


def from_bfloat16(bits: np.ndarray) -> np.ndarray:
    """uint16 bfloat16 patterns as float32, built byte by byte (not as the loader does it): a
    little-endian float32 whose two low bytes are zero and whose two high bytes are the pattern."""
    import struct
    data = b"".join(b"\x00\x00" + struct.pack("<H", int(b)) for b in np.ravel(bits))
    return np.frombuffer(data, "<f4").astype(np.float32).reshape(np.shape(bits))


# --- the reference forwards, float64 throughout unless the weights say otherwise ---

def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_erf(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)).astype(x.dtype))


def attention(q, k, v, n_heads, causal):
    """Multi-head scaled dot-product attention  # q, k, v [pos, d] -> [pos, d]"""
    n, d = q.shape
    dh = d // n_heads
    q, k, v = (a.reshape(n, n_heads, dh).transpose(1, 0, 2) for a in (q, k, v))  # [head, pos, d_head]
    s = q @ k.transpose(0, 2, 1) / math.sqrt(dh)
    if causal:
        s = np.where(np.tril(np.ones((n, n), bool)), s, -np.inf)
    return (softmax(s) @ v).transpose(1, 0, 2).reshape(n, d)


def gpt2_forward(w: dict, ids, n_heads: int, eps: float = 1e-5, dtype=np.float64):
    """(hidden states [embedding, after block 0, …], ln_f output, logits)."""
    w = {k: x.astype(dtype) for k, x in w.items()}
    x = w["wte.weight"][ids] + w["wpe.weight"][: len(ids)]
    hidden = [x]
    i = 0
    while f"h.{i}.ln_1.weight" in w:
        h = f"h.{i}."
        a = layer_norm(x, w[h + "ln_1.weight"], w[h + "ln_1.bias"], eps)
        q, k, v = np.split(a @ w[h + "attn.c_attn.weight"] + w[h + "attn.c_attn.bias"], 3, axis=-1)
        x = x + attention(q, k, v, n_heads, True) @ w[h + "attn.c_proj.weight"] + w[h + "attn.c_proj.bias"]
        a = layer_norm(x, w[h + "ln_2.weight"], w[h + "ln_2.bias"], eps)
        x = x + gelu_tanh(a @ w[h + "mlp.c_fc.weight"] + w[h + "mlp.c_fc.bias"]) @ w[h + "mlp.c_proj.weight"] \
            + w[h + "mlp.c_proj.bias"]
        hidden.append(x)
        i += 1
    final = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    return hidden, final, final @ w["wte.weight"].T


def bert_forward(w: dict, ids, types, n_heads: int, eps: float = 1e-12, dtype=np.float64):
    """(hidden states [embedding LN, after block 0, …], MLM logits or None)."""
    w = {k: x.astype(dtype) for k, x in w.items() if x.dtype.kind == "f"}
    e = "embeddings."
    x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][: len(ids)] \
        + w[e + "token_type_embeddings.weight"][types]
    x = layer_norm(x, w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"], eps)
    hidden = [x]
    i = 0

    def dense(name, a):
        return a @ w[name + ".weight"].T + w[name + ".bias"]
    while f"encoder.layer.{i}.output.dense.weight" in w:
        c = f"encoder.layer.{i}."
        q, k, v = (dense(c + f"attention.self.{n}", x) for n in ("query", "key", "value"))
        x = layer_norm(x + dense(c + "attention.output.dense", attention(q, k, v, n_heads, False)),
                       w[c + "attention.output.LayerNorm.weight"], w[c + "attention.output.LayerNorm.bias"], eps)
        x = layer_norm(x + dense(c + "output.dense", gelu_erf(dense(c + "intermediate.dense", x))),
                       w[c + "output.LayerNorm.weight"], w[c + "output.LayerNorm.bias"], eps)
        hidden.append(x)
        i += 1
    t = "cls.predictions."
    if t + "bias" not in w:
        return hidden, None
    h = layer_norm(gelu_erf(dense(t + "transform.dense", x)), w[t + "transform.LayerNorm.weight"],
                   w[t + "transform.LayerNorm.bias"], eps)
    return hidden, h @ w[e + "word_embeddings.weight"].T + w[t + "bias"]


def rel(a, b) -> float:
    """‖a − b‖ / ‖b‖ over a whole array."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))
