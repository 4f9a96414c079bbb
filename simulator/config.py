"""The model's configuration: one frozen, validated dataclass."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace

ARCHS = ("decoder", "encoder", "encoder-decoder", "vit")
POSITIONALS = ("sinusoidal", "learned", "rope", "none")
NORMS = ("pre", "post", "none")
ACTIVATIONS = ("relu", "gelu", "gelu_exact")
ATTENTIONS = ("causal", "full", "window", "strided", "global", "bigbird", "linear")
RESIDUALS = ("standard", "none", "denseformer", "attnres", "block_attnres")
DEPTH_MODES = ("denseformer", "attnres", "block_attnres")  # the ones that mix across depth
TOKENIZATIONS = ("word", "char", "subword")
HEADS = ("unembed", "mlm", "none")
DTYPES = ("float64", "float32")
MAX_TOKEN_TYPES = 16

DEFAULT_VOCAB = ("<unk>", "the", "a", "cat", "dog", "sat", "ran", "on", "mat", "big", "small", "and", ".")


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes a model's shape and wiring.

    The defaults are the classroom model: 2 layers, 2 heads, d_model 16, 8 tokens.
    """

    vocab: tuple[str, ...] = DEFAULT_VOCAB  # token strings; a token's id is its index
    n_layers: int = 2
    n_heads: int = 2
    d_model: int = 16
    d_mlp: int = 64
    n_ctx: int = 8  # the longest input the model accepts
    arch: str = "decoder"  # decoder | encoder | encoder-decoder
    positional: str = "sinusoidal"  # sinusoidal | learned | rope | none
    norm: str = "pre"  # pre | post | none
    activation: str = "gelu"  # relu | gelu (tanh approximation) | gelu_exact (with erf, as BERT)
    attention: str = "causal"  # causal | full | window | strided | global | bigbird | linear (see patterns.py)
    window: int = 3  # window, strided, global, bigbird: the band of nearest keys each query sees
    stride: int = 2  # strided: a query also sees the keys a multiple of `stride` away
    n_global: int = 1  # global, bigbird: the first n_global positions see and are seen by every token
    n_random: int = 1  # bigbird: random keys per query
    random_seed: int = 0  # bigbird: seeds the random keys (query i's generator is seeded with (seed, i))
    residual: str = "standard"  # standard | none | denseformer | attnres | block_attnres
    depth_blocks: int = 2  # block_attnres only: how many blocks the sublayers are grouped into
    norm_eps: float = 1e-5
    tokenization: str = "word"  # word (split on whitespace) | char (one per character) | subword (a checkpoint's)
    init_scale: float = 1.0  # multiplies every random initial weight
    image_size: int = 8  # vit only: the side of the square grey image, in pixels
    patch: int = 2  # vit only: the side of one square patch (one token), in pixels
    n_classes: int = 10  # vit only: how many classes the head scores (the vocabulary names them)
    allow_future: bool = False  # let a decoder use full attention: it sees the future (a demonstration)
    # what real checkpoints need (simulator.pretrained): GPT-2 and BERT
    embed_norm: bool = False  # a LayerNorm on the embedding sum before block 0 (BERT)
    n_token_types: int = 0  # token-type (segment) embeddings added to the input (BERT: 2); 0 = none
    tied_unembed: bool = False  # the read-out is W_Eᵀ, the token embedding itself (GPT-2, BERT's MLM head)
    head: str = "unembed"  # unembed | mlm (BERT's dense + GELU + LayerNorm, then the read-out) | none
    dtype: str = "float64"  # float64 | float32: the precision weights and steps are computed in
    bias: bool = True  # the linear layers' biases (b_Q, b_K, b_V, b_O, b_in, b_out, b_U); LayerNorm keeps its b

    def __post_init__(self) -> None:
        object.__setattr__(self, "vocab", tuple(self.vocab))
        if self.arch == "vit" and isinstance(self.n_classes, int) and isinstance(self.image_size, int) \
                and isinstance(self.patch, int) and self.patch >= 1:
            # an image model's "vocabulary" is its class names, and its length is [CLS] + the patches
            if self.vocab == DEFAULT_VOCAB:
                object.__setattr__(self, "vocab", tuple(str(i) for i in range(self.n_classes)))
            object.__setattr__(self, "n_ctx", self.n_patches + 1)
        self._validate()

    @property
    def n_patches(self) -> int:
        """vit only: how many patches (tokens besides [CLS]) one image is cut into."""
        return (self.image_size // self.patch) ** 2

    @property
    def patch_pixels(self) -> int:
        """vit only: the length of one flattened patch, patch × patch."""
        return self.patch * self.patch

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @property
    def d_vocab(self) -> int:
        return len(self.vocab)

    @property
    def n_sublayers(self) -> int:
        """Attention and MLP sublayers of one stack, numbered 1..2L in the depth modes."""
        return 2 * self.n_layers

    def _validate(self) -> None:
        for name, choices in (
            ("arch", ARCHS), ("positional", POSITIONALS), ("norm", NORMS), ("activation", ACTIVATIONS),
            ("attention", ATTENTIONS), ("residual", RESIDUALS), ("tokenization", TOKENIZATIONS),
            ("head", HEADS), ("dtype", DTYPES),
        ):
            value = getattr(self, name)
            if value not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
        for name in ("n_layers", "n_heads", "d_model", "d_mlp", "n_ctx", "window", "depth_blocks", "stride",
                     "n_global", "n_random", "random_seed", "image_size", "patch", "n_classes", "n_token_types"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be a whole number; got {value!r}.")
        if self.n_layers < 1:
            raise ValueError("n_layers must be at least 1: a Transformer needs at least one layer.")
        if self.n_heads < 1:
            raise ValueError("n_heads must be at least 1.")
        if self.d_model < 1 or self.d_mlp < 1:
            raise ValueError("d_model and d_mlp must be at least 1.")
        if self.n_ctx < 1:
            raise ValueError("n_ctx must be at least 1: the model has to accept at least one token.")
        if self.window < 1:
            raise ValueError("window must be at least 1: each token must see at least itself.")
        if self.stride < 1 or self.n_global < 0 or self.n_random < 0 or self.random_seed < 0:
            raise ValueError("stride must be at least 1, and n_global, n_random and random_seed at least 0.")
        if self.attention == "strided" and self.stride < 2:
            raise ValueError("A stride of 1 keeps every key (that is causal or full attention): "
                             "strided attention needs stride ≥ 2.")
        if self.attention in ("global", "bigbird") and not 1 <= self.n_global < self.n_ctx:
            raise ValueError(f"{self.attention} attention needs 1 ≤ n_global < n_ctx ({self.n_ctx}): with no "
                             "global token it is window attention, with every token global it is full attention.")
        if self.attention == "bigbird" and self.n_random < 1:
            raise ValueError("BigBird adds random keys to the global pattern: n_random must be at least 1 "
                             "(with none, choose global attention).")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads}): "
                "each head gets an equal slice d_head = d_model / n_heads."
            )
        if self.positional in ("sinusoidal", "rope") and self.d_model % 2:
            raise ValueError("sinusoidal encodings pair dimensions (sin, cos): d_model must be even.")
        if self.positional == "rope" and self.d_head % 2:
            raise ValueError("rotary encodings rotate pairs of dimensions: d_head must be even.")
        if not self.vocab:
            raise ValueError("The vocabulary is empty: give at least one token.")
        bad = [t for t in self.vocab if not isinstance(t, str) or not t]
        if bad:
            raise ValueError(f"Every token must be a non-empty string; got {bad[:3]!r}.")
        seen, dupes = set(), []
        for t in self.vocab:
            if t in seen:
                dupes.append(t)
            seen.add(t)
        if dupes:
            raise ValueError(f"The vocabulary lists these tokens twice: {', '.join(map(repr, dupes))}.")
        if self.tokenization == "word" and any(ch.isspace() for t in self.vocab for ch in t):
            raise ValueError("Word tokens cannot contain spaces: the text is split on whitespace.")
        if self.tokenization == "char" and any(len(t) != 1 for t in self.vocab if t != "<unk>"):
            raise ValueError("A character vocabulary holds single characters (and optionally <unk>).")
        if not isinstance(self.allow_future, bool):
            raise ValueError(f"allow_future must be true or false; got {self.allow_future!r}.")
        if self.arch == "decoder" and self.attention == "full" and not self.allow_future:
            raise ValueError("A decoder predicts the next token, so it must not see later ones: "
                             "use causal attention or a pattern (window, strided, global, bigbird, linear: each "
                             "takes its causal form in a decoder), or choose the encoder architecture "
                             "(allow_future=True builds one anyway, to show why).")
        if self.arch == "encoder" and self.attention == "causal":
            raise ValueError("An encoder reads the whole input at once: use full attention or a pattern "
                             "(window, strided, global, bigbird, linear: each takes its symmetric form), "
                             "or choose the decoder architecture.")
        if self.arch == "encoder-decoder" and self.attention == "full":
            raise ValueError("The decoder of an encoder-decoder is causal: use causal attention or a pattern "
                             "(window, strided, global, bigbird, linear): the decoder takes its causal form, the "
                             "encoder its symmetric form, and causal leaves the encoder full attention.")
        if self.arch == "vit":
            self._validate_vit()
        self._validate_checkpoint_fields()
        if self.residual in DEPTH_MODES:
            if self.norm != "pre":
                raise ValueError(f"The {self.residual} residual mode mixes sublayer outputs before each norm, "
                                 "so it needs norm='pre'.")
            if self.arch == "encoder-decoder":
                raise ValueError(f"The {self.residual} residual mode is available for single-stack models "
                                 "(decoder or encoder), not encoder-decoder.")
        if self.residual == "block_attnres" and not 1 <= self.depth_blocks <= self.n_sublayers:
            raise ValueError(f"depth_blocks must be between 1 and the number of sublayers "
                             f"({self.n_sublayers}); got {self.depth_blocks}.")
        if not (isinstance(self.norm_eps, (int, float)) and 0 <= self.norm_eps < 1):
            raise ValueError(f"norm_eps must be a small number ≥ 0; got {self.norm_eps!r}.")
        if not (isinstance(self.init_scale, (int, float)) and 0 <= self.init_scale <= 100):
            raise ValueError(f"init_scale must be between 0 and 100; got {self.init_scale!r}.")

    def _validate_checkpoint_fields(self) -> None:
        """The fields real checkpoints need (GPT-2, BERT): where each one makes sense."""
        for name in ("embed_norm", "tied_unembed", "bias"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false; got {getattr(self, name)!r}.")
        single = self.arch in ("decoder", "encoder")
        if not 0 <= self.n_token_types <= MAX_TOKEN_TYPES:
            raise ValueError(f"n_token_types must be between 0 and {MAX_TOKEN_TYPES}: BERT uses 2 (sentence A and "
                             f"sentence B); got {self.n_token_types}.")
        if self.n_token_types and not single:
            raise ValueError("Token types (segments A and B) are added to a text model's embedding: they need the "
                             "decoder or encoder architecture.")
        if self.embed_norm and not single:
            raise ValueError("embed_norm (a LayerNorm on the embedding, as BERT has) is for the decoder or encoder "
                             "architecture.")
        if self.tied_unembed and not single:
            raise ValueError("tied_unembed reads the output through W_Eᵀ, the token embedding: it needs one "
                             "vocabulary for input and output (the decoder or encoder architecture).")
        if self.head != "unembed" and self.arch != "encoder":
            raise ValueError(f"head={self.head!r} is for an encoder (BERT): a {self.arch} ends with the "
                             "unembedding that scores the next token (head='unembed').")
        if self.head == "none" and self.tied_unembed:
            raise ValueError("With head='none' the model ends at its final hidden states: there is no read-out "
                             "to tie to W_E (tied_unembed must be false).")
        if self.tokenization == "subword" and self.arch not in ("decoder", "encoder"):
            raise ValueError("Subword tokens come from a checkpoint's own tokenizer (GPT-2, BERT): the decoder or "
                             "encoder architecture.")

    def _validate_vit(self) -> None:
        """The Vision Transformer's own rules (Dosovitskiy et al., 2021)."""
        if not 2 <= self.image_size <= 64:
            raise ValueError(f"image_size must be between 2 and 64 pixels; got {self.image_size}.")
        if not 1 <= self.patch <= self.image_size or self.image_size % self.patch:
            raise ValueError(f"patch ({self.patch}) must divide image_size ({self.image_size}): the image is cut "
                             "into equal square patches with nothing left over.")
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be at least 2: a classifier chooses between classes; "
                             f"got {self.n_classes}.")
        if len(self.vocab) != self.n_classes:
            raise ValueError(f"An image model names its {self.n_classes} classes in vocab; "
                             f"got {len(self.vocab)} names.")
        if self.attention not in ("full", "window"):
            raise ValueError("A Vision Transformer sees the whole image at once: there is no 'later' patch to "
                             "hide, so use attention='full' (or 'window').")
        if self.positional != "learned":
            raise ValueError("This Vision Transformer learns one position vector per patch (positional='learned'), "
                             "as Dosovitskiy et al. (2021) do: that is how it finds the 2-D layout by itself.")
        if self.norm != "pre":
            raise ValueError("This Vision Transformer is pre-LN (norm='pre'): its head reads the final "
                             "LayerNorm of [CLS].")
        if self.residual != "standard":
            raise ValueError("The Vision Transformer uses the standard residual stream (residual='standard').")
    @property
    def warning(self) -> str:
        """A warning to show with this model ('' if none)."""
        if self.arch == "decoder" and self.attention == "full":
            return ("This decoder can see the future: nothing is masked, so it learns to copy the next token "
                    "instead of predicting it, and the text it generates is garbage.")
        return ""

    def replace(self, **changes) -> "ModelConfig":
        """A copy with some fields changed (validated like a new config)."""
        return replace(self, **changes)

    def to_json(self) -> str:
        data = asdict(self)
        data["vocab"] = list(self.vocab)
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        """Parse a config written by `to_json`, checking every field's type."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"The model's configuration is not valid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise ValueError("The model's configuration must be a JSON object.")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"Unknown configuration fields: {', '.join(unknown)}.")
        if "vocab" in data:
            if not isinstance(data["vocab"], list):
                raise ValueError("vocab must be a list of token strings.")
            data["vocab"] = tuple(data["vocab"])
        for name, value in data.items():
            expected = type(getattr(cls(), name)) if name != "vocab" else tuple
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                continue
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ValueError(f"Configuration field {name} must be {expected.__name__}; got {value!r}.")
        return cls(**data)


__all__ = ["ModelConfig", "DEFAULT_VOCAB"]
