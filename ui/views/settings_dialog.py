"""The model settings dialog: one editor per ModelConfig field, plus the random seed.

Every change is checked by building a ModelConfig; its ValueError message is shown in
the dialog and OK stays disabled until the settings are valid again.
"""
from __future__ import annotations

from dataclasses import fields

import numpy as np
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from simulator import ModelConfig, Transformer, budget
from simulator import config as cfg
from simulator.params import check_size, param_shapes
from ui.messages import plain
from ui.pictures.frame import ErrorLabel

CHOICES = {"arch": cfg.ARCHS, "positional": cfg.POSITIONALS, "norm": cfg.NORMS, "activation": cfg.ACTIVATIONS,
           "attention": cfg.ATTENTIONS, "residual": cfg.RESIDUALS, "tokenization": cfg.TOKENIZATIONS,
           "head": cfg.HEADS, "dtype": cfg.DTYPES}
INT_RANGES = {"n_layers": (1, 48), "n_heads": (1, 64), "d_model": (1, 4096), "d_mlp": (1, 16384),
              "n_ctx": (1, 1024), "window": (1, 1024), "depth_blocks": (1, 96), "stride": (1, 1024),
              "n_global": (0, 1024), "n_random": (0, 1024), "random_seed": (0, 2**31 - 1)}
# which attention choices read each pattern field (the editor is greyed out for the others)
PATTERN_FIELDS = {"window": ("window", "strided", "global", "bigbird"), "stride": ("strided",),
                  "n_global": ("global", "bigbird"), "n_random": ("bigbird",), "random_seed": ("bigbird",)}
HELP = {
    "vocab": "The tokens the model knows, separated by spaces (for characters, write a space as ␣)",
    "n_layers": "How many Transformer blocks are stacked",
    "n_heads": "Attention heads per layer; d_model must divide evenly among them",
    "d_model": "The width of the residual stream: numbers per token",
    "d_mlp": "The width of the MLP's hidden layer",
    "n_ctx": "The longest input the model accepts",
    "arch": "decoder (predicts the next token), encoder (reads all at once) or encoder-decoder",
    "positional": "How positions are marked: sinusoidal, learned, rotary (rope) or none",
    "norm": "LayerNorm before each sublayer (pre), after the residual add (post), or none",
    "activation": "The MLP's non-linearity",
    "attention": "Which keys a query may see: earlier ones (causal), all (full), a local window, a window plus "
                 "strided keys (strided), plus global tokens (global), plus random keys (bigbird); or linear "
                 "attention (no n×n grid). A decoder uses each pattern's causal form, an encoder its symmetric form",
    "window": "window, strided, global, bigbird: how many nearest keys each query sees",
    "stride": "strided: a query also sees every key a multiple of stride away",
    "n_global": "global, bigbird: the first n_global tokens see and are seen by every token",
    "n_random": "bigbird: random keys per query",
    "random_seed": "bigbird: the seed of the random keys (the same keys every run)",
    "residual": "How sublayer outputs are combined across depth",
    "depth_blocks": "block_attnres only: the number of blocks the sublayers are grouped into",
    "norm_eps": "Added to the variance in LayerNorm so it never divides by zero",
    "tokenization": "Split the text into words or into single characters",
    "init_scale": "Multiplies every random initial weight",
    "allow_future": "Let a decoder use full attention: it sees the future (to show why the mask matters)",
    "embed_norm": "A LayerNorm on the embedding before the first block (as BERT has)",
    "n_token_types": "Segment embeddings added to the input (BERT: 2, sentence A and B); 0 for none",
    "tied_unembed": "Read the output through W_E transposed: the token embedding also scores the next token",
    "head": "What ends an encoder: the unembedding, BERT's masked-LM head (mlm), or nothing (the hidden states)",
    "bias": "Whether the linear layers add a bias (b_Q, b_K, b_V, b_O, b_in, b_out, b_U) after their weights",
    "dtype": "The precision of weights and steps: float64 (tiny models), float32 (half the memory)",
}
SPIN_MAX = 2**31 - 1  # the largest number a QSpinBox holds
LEFT = ("arch", "tokenization", "n_layers", "n_heads", "d_model", "d_mlp", "n_ctx", "init_scale")
SPACE = "␣"  # how a space token is written in the vocabulary line


def vocab_to_text(vocab: tuple[str, ...]) -> str:
    return " ".join(SPACE if t == " " else t for t in vocab)


def text_to_vocab(text: str) -> tuple[str, ...]:
    return tuple(" " if t == SPACE else t for t in text.split())


def tokens_for(model: Transformer, old_tokens, old_tokenization: str):
    """The current input re-tokenised for `model`, or its first vocabulary tokens; never more than
    n_ctx, nor more than fit the memory budget."""
    n_ctx = min(model.config.n_ctx, budget.max_tokens(model.config))
    sides = old_tokens if isinstance(old_tokens, tuple) else (old_tokens,)
    sep = " " if old_tokenization == "word" else ""
    texts = [sep.join(side) for side in sides]
    if model.config.arch == "encoder-decoder":
        texts = (texts * 2)[:2]
    else:
        texts = texts[:1]
    try:
        pieces = [model.tokenizer.tokens(t)[:n_ctx] for t in texts]
        tokens = tuple(pieces) if len(pieces) == 2 else pieces[0]
        return model.tokens(tokens)
    except ValueError:
        first = list(model.config.vocab[:n_ctx])
        return (first, first) if model.config.arch == "encoder-decoder" else first


class SettingsDialog(QDialog):
    def __init__(self, config: ModelConfig, seed: int = 0, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Model settings")
        self.editors: dict[str, QWidget] = {}
        self._config: ModelConfig | None = config

        self.vocab_edit = QLineEdit(vocab_to_text(config.vocab))
        self.editors["vocab"] = self.vocab_edit
        self.vocab_edit.textChanged.connect(self.validate)
        columns = QGridLayout()
        forms = (QFormLayout(), QFormLayout())
        for f in fields(ModelConfig):
            if f.name == "vocab":
                continue
            editor = self._editor(f.name, getattr(config, f.name))
            self.editors[f.name] = editor
            editor.setToolTip(HELP.get(f.name, ""))
            forms[f.name not in LEFT].addRow(f.name, editor)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, SPIN_MAX)
        self._seed_note = ""  # why the model's own seed is not the one shown, until another is chosen
        if 0 <= int(seed) <= SPIN_MAX:
            self.seed_spin.setValue(int(seed))
        else:
            self._seed_note = (f"The model's seed ({int(seed):,}) is beyond what this dialog holds "
                               f"(0 to {SPIN_MAX:,}): choose a seed for the new model.")
        self.seed_spin.valueChanged.connect(self._seed_chosen)
        self.seed_spin.setToolTip("The random seed for the new model's weights")
        forms[0].addRow("seed", self.seed_spin)
        for col, (title, form) in enumerate(zip(("Size", "Wiring"), forms)):
            box = QGroupBox(title)
            box.setLayout(form)
            columns.addWidget(box, 0, col)

        self.vocab_edit.setToolTip(HELP["vocab"])
        self.message = plain(ErrorLabel(bold=True))  # may quote a vocabulary token
        self.summary = QLabel()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        note = QLabel("OK builds a new model with fresh random weights (you can undo it).")
        note.setWordWrap(True)

        layout = QVBoxLayout(self)
        vocab_form = QFormLayout()
        vocab_form.addRow("vocab", self.vocab_edit)
        layout.addLayout(vocab_form)
        layout.addLayout(columns)
        layout.addWidget(self.summary)
        layout.addWidget(self.message)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
        self.validate()

    def _editor(self, name: str, value) -> QWidget:
        if name in CHOICES:
            editor = QComboBox()
            editor.addItems(list(CHOICES[name]))
            editor.setCurrentText(value)
            editor.currentTextChanged.connect(self.validate)
        elif isinstance(value, bool):  # allow_future: a decoder that sees the future, on purpose
            editor = QCheckBox()
            editor.setChecked(value)
            editor.toggled.connect(self.validate)
        elif isinstance(value, int) and abs(value) > SPIN_MAX:  # shown as it is, and refused by validate
            editor = QLineEdit(str(value))
            editor.textChanged.connect(self.validate)
        elif isinstance(value, int):
            # the range includes a loaded value outside the dialog's own limits, so that the real
            # value is shown; validate() then says why OK is off
            lo, hi = INT_RANGES.get(name, (0, 10**6))
            editor = QSpinBox()
            editor.setRange(min(lo, value), max(hi, value))
            editor.setValue(value)
            editor.valueChanged.connect(self.validate)
        elif name == "init_scale":
            editor = QDoubleSpinBox()
            editor.setRange(0.0, 100.0)
            editor.setDecimals(3)
            editor.setSingleStep(0.1)
            editor.setValue(value)
            editor.valueChanged.connect(self.validate)
        else:  # a small float such as norm_eps reads best as typed: 1e-05
            editor = QLineEdit(repr(value))
            editor.textChanged.connect(self.validate)
        return editor

    def values(self) -> dict:
        """The editors' contents as ModelConfig keyword arguments (floats may be unparsed text)."""
        out: dict = {}
        for name, editor in self.editors.items():
            if name == "vocab":
                out[name] = text_to_vocab(editor.text())
            elif isinstance(editor, QComboBox):
                out[name] = editor.currentText()
            elif isinstance(editor, QCheckBox):
                out[name] = editor.isChecked()
            elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                out[name] = editor.value()
            else:
                out[name] = editor.text()
        return out

    def validate(self, *_) -> ModelConfig | None:
        """Check the settings; show why they are invalid and disable OK, or enable it."""
        values = self.values()
        for name, users in PATTERN_FIELDS.items():
            self.editors[name].setEnabled(values["attention"] in users)
        try:
            for name, value in values.items():
                if isinstance(value, str) and name not in CHOICES:
                    try:
                        values[name] = int(value) if name in INT_RANGES else float(value)
                    except ValueError:
                        raise ValueError(f"{name} must be a number; got {value!r}.") from None
            config = ModelConfig(**values)
            for name, (lo, hi) in INT_RANGES.items():
                if not lo <= getattr(config, name) <= hi:
                    raise ValueError(f"{name} is {getattr(config, name):,}, outside what this dialog builds "
                                     f"({lo} to {hi:,}): choose a value in that range.")
            if self._seed_note:
                raise ValueError(self._seed_note)
            check_size(config)
            budget.check_model(config)
            fit = budget.max_tokens(config)
            if not fit:
                raise budget.BudgetError("Not even one token fits the memory budget with this model: "
                                         "make it smaller (fewer layers or heads, a smaller d_model or d_mlp).")
        except ValueError as exc:
            config = None
            self.message.setText(str(exc))
            self.summary.setText("")
        else:
            n_params = sum(int(np.prod(s)) for s in param_shapes(config).values())
            self.message.setText("")
            self.summary.setText(f"d_head = {config.d_head}   ·   {config.d_vocab} tokens   ·   "
                                 f"{n_params:,} parameters"
                                 + (f"   ·   inputs of at most {fit:,} tokens fit in memory"
                                    if fit < config.n_ctx else ""))
        self._config = config
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(config is not None)
        return config

    def _seed_chosen(self, *_) -> None:
        self._seed_note = ""
        self.validate()

    def config(self) -> ModelConfig | None:
        """The valid configuration shown, or None while the settings are invalid."""
        return self._config

    def seed(self) -> int:
        return self.seed_spin.value()

    def build(self, old_tokens, old_tokenization: str) -> tuple[Transformer, object]:
        """The new seeded model and the current input re-tokenised for it."""
        if self._config is None:
            raise ValueError(self.message.text())
        model = Transformer(self._config, seed=self.seed())
        return model, tokens_for(model, old_tokens, old_tokenization)
