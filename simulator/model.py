"""The Transformer: parameters, a forward pass that records every step, and edits."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

import numpy as np

from . import budget
from .config import ModelConfig
from .graph import Graph, build_graph
from .ops import FORWARD
from .params import check_size, init_params, param_shapes
from .tokenizer import TokenError, Tokenizer
from .trace import Changes, Trace
from .vision import check_image, patch_labels

MIN_TEMPERATURE = 0.01  # below it the probabilities are one-hot to 16 digits: nothing more to see
MAX_ABS_WEIGHT = 1e6  # larger weights overflow float64 after a few products (1e6 · 1e6 · … per layer)


class NumericOverflowError(ValueError):
    """A forward pass whose numbers left float64's range; `step` names where it happened."""

    def __init__(self, step: str):
        super().__init__(f"The numbers at {step} grow beyond what float64 can hold (±1.8e308), so it "
                         "cannot be computed: use smaller weights, a norm, or fewer layers.")
        self.step = step


def _overflowed(op: str, v: np.ndarray) -> bool:
    """Whether `v` holds NaN or ±inf (for mask: NaN or +inf). Call with overflow warnings off."""
    if op == "mask":  # masked keys are -inf by design
        return not np.max(v) < np.inf  # NaN compares False too
    # one pass and no temporary in the usual case: any NaN or inf makes the sum non-finite
    return not math.isfinite(np.add.reduce(v, axis=None)) and not np.isfinite(v).all()


def _frozen(a: np.ndarray, dtype: str = "float64") -> np.ndarray:
    a = np.asarray(a, dtype=dtype)  # callers hand over fresh arrays (check_param copies): no second copy
    a.flags.writeable = False
    return a


def input_tokens(config: ModelConfig, tokenizer: Tokenizer, text) -> list[str] | tuple[list[str], list[str]]:
    """`text` as the token strings a model of `config` takes (checked without building the model)."""
    def one_side(side, what: str) -> list[str]:
        toks = tokenizer.tokens(side)
        if not toks:
            raise TokenError(f"The {what} is empty: type at least one token.")
        if len(toks) > config.n_ctx:
            raise TokenError(f"The {what} has {len(toks)} tokens but the model takes at most "
                             f"n_ctx = {config.n_ctx}.")
        return toks

    if config.arch == "encoder-decoder":
        if not (isinstance(text, (tuple, list)) and len(text) == 2
                and all(isinstance(t, (str, list, tuple)) for t in text)):
            raise TokenError("An encoder-decoder model needs a (source, target) pair of inputs.")
        return (one_side(text[0], "source"), one_side(text[1], "target"))
    return one_side(text, "input")


def token_types(toks: Sequence[str], n_types: int) -> np.ndarray:
    """BERT's segment of each token: 0 up to and including the first [SEP], then 1 (capped at n_types − 1)."""
    types = np.zeros(len(toks), dtype=np.int64)
    if "[SEP]" in toks:
        types[list(toks).index("[SEP]") + 1:] = min(1, n_types - 1)
    return types


class Transformer:
    """A tiny Transformer in numpy: float64, or float32 when `config.dtype` says so (checkpoints).

    >>> model = Transformer(ModelConfig(), seed=0)
    >>> trace = model.run("the cat sat on the mat")
    >>> trace["blocks.0.attn.hook_pattern"].shape   # [head, q_pos, k_pos]
    (2, 6, 6)
    """

    def __init__(self, config: ModelConfig | None = None, seed: int = 0,
                 params: Mapping[str, np.ndarray] | None = None, tokenizer: Tokenizer | None = None):
        """`tokenizer` replaces the one the config describes (a checkpoint brings its own, see
        `simulator.pretrained`); it must know exactly the config's vocabulary."""
        self.config = config or ModelConfig()
        check_size(self.config)
        budget.check_model(self.config)
        self.graph: Graph = build_graph(self.config)
        if tokenizer is not None and tuple(tokenizer.vocab) != self.config.vocab:
            raise ValueError("The tokenizer's vocabulary is not the model's: each token id must name the same "
                             "token in both.")
        self.tokenizer = tokenizer or Tokenizer(self.config.vocab, self.config.tokenization)
        self.shapes = param_shapes(self.config)
        self.seed = seed
        if params is None:
            params = init_params(self.config, seed)
        self._params: dict[str, np.ndarray] = {}
        self.replace_params(params)

    # --- parameters ---

    @property
    def params(self) -> Mapping[str, np.ndarray]:
        """Every parameter by name (read-only arrays: change them with `set_param`)."""
        return MappingProxyType(self._params)

    def check_param(self, name: str, value, index=None) -> np.ndarray:
        """The full new array that `set_param(name, value, index)` would store; raises ValueError if bad."""
        if name not in self.shapes:
            raise KeyError(f"No parameter called {name!r}.")
        shape = self.shapes[name]
        if index is None:
            try:
                new = np.array(value, dtype=self.config.dtype)
            except (TypeError, ValueError):
                raise ValueError(f"{name} needs numbers; got {value!r}.") from None
            if new.shape != shape:
                raise ValueError(f"{name} has shape {list(shape)}; the new value has shape {list(new.shape)}.")
        else:
            index = tuple(np.atleast_1d(index).tolist()) if not isinstance(index, tuple) else index
            if len(index) != len(shape) or any(
                    not isinstance(i, (int, np.integer)) or isinstance(i, bool) or not 0 <= i < n
                    for i, n in zip(index, shape)):
                raise ValueError(f"{name} has shape {list(shape)}; index {list(index)} is outside it.")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{name}{list(index)} needs a number; got {value!r}.") from None
            new = self._params[name].copy()
            new[index] = number
        if not np.all(np.isfinite(new)):
            raise ValueError(f"{name} must be finite: NaN and infinity are not allowed.")
        if new.size and np.max(np.abs(new)) > MAX_ABS_WEIGHT:
            raise ValueError(f"{name}: values beyond ±{MAX_ABS_WEIGHT:g} are refused: they overflow "
                             "float64 in the products of the forward pass.")
        return new

    def set_param(self, name: str, value, index=None) -> np.ndarray:
        """Set a whole parameter, or one element of it; returns the previous array.

        The name, shape and finiteness are checked first; on any error the model is unchanged.
        """
        new = self.check_param(name, value, index)
        old = self._params[name]
        self._params[name] = _frozen(new, self.config.dtype)
        return old

    def replace_params(self, params: Mapping[str, np.ndarray]) -> None:
        """Swap in a complete set of parameters (all checked before any is stored)."""
        missing = sorted(set(self.shapes) - set(params))
        extra = sorted(set(params) - set(self.shapes))
        if missing or extra:
            raise ValueError("Parameters do not match the config: "
                             + (f"missing {', '.join(missing[:5])}" if missing else "")
                             + ("; " if missing and extra else "")
                             + (f"unexpected {', '.join(extra[:5])}" if extra else "") + ".")
        checked = {name: self.check_param(name, params[name]) for name in self.shapes}
        self._params = {name: _frozen(v, self.config.dtype) for name, v in checked.items()}

    def randomize(self, seed: int) -> None:
        """Fresh random weights from `seed` (same scale as a new model)."""
        self.replace_params(init_params(self.config, seed))
        self.seed = seed

    def copy(self) -> "Transformer":
        return Transformer(self.config, self.seed, self._params, self.tokenizer)

    # --- tokens ---

    def tokens(self, text) -> list[str] | tuple[list[str], list[str]]:
        """Normalise input to token strings; encoder-decoder input is a (source, target) pair.

        An image model's tokens are [CLS] and its patches (the image itself is checked first).
        """
        if self.config.arch == "vit":
            check_image(text, self.config)
            return patch_labels(self.config)
        return input_tokens(self.config, self.tokenizer, text)

    def tokenize(self, text) -> list[str] | tuple[list[str], list[str]]:
        """The model's own tokens for `text`: a checkpoint's subword strings (e.g. GPT-2's "Ġcat"), or the
        words or characters of a tiny model."""
        return self.tokens(text)

    def checked_input(self, x):
        """The input as the model keeps it: token strings, or a read-only image array for a vit."""
        return check_image(x, self.config) if self.config.arch == "vit" else self.tokens(x)

    def encode(self, x, temperature: float = 1.0) -> tuple[list[str] | tuple[list[str], list[str]], dict]:
        """(token strings, the values fed into the graph) for an input: a text, or an image for a vit."""
        if self.config.arch == "vit":
            image = check_image(x, self.config)
            toks = patch_labels(self.config)
            return toks, {"image": image, "temperature": self._inputs([], temperature)["temperature"]}
        toks = self.tokens(x)
        return toks, self._inputs(toks, temperature)

    def _inputs(self, toks, temperature: float) -> dict[str, np.ndarray]:
        try:
            t = float(temperature)
        except (TypeError, ValueError):
            t = float("nan")  # refused just below, with the same message as 0 or -1
        if not (np.isfinite(t) and t >= MIN_TEMPERATURE):
            raise ValueError(f"The temperature must be a positive number of at least {MIN_TEMPERATURE:g}; "
                             f"got {temperature!r}.")
        ids = self.tokenizer.ids
        if isinstance(toks, tuple):
            values = {"encoder.input_ids": np.array([ids[x] for x in toks[0]]),
                      "decoder.input_ids": np.array([ids[x] for x in toks[1]])}
        else:
            values = {"input_ids": np.array([ids[x] for x in toks])}
            if self.config.n_token_types:
                values["token_type_ids"] = token_types(toks, self.config.n_token_types)
        values["temperature"] = np.float64(t)
        return values

    # --- forward ---

    def run(self, tokens, target=None, temperature: float = 1.0, ablate: Mapping[str, str] | None = None,
            hooks: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None) -> Trace:
        """Run the forward pass and record every step.

        `tokens` is a text or a list of token strings; an encoder-decoder model takes the
        source as `tokens` and the target as `target` (or a (source, target) pair).
        `ablate` switches components off, e.g. {"blocks.1.attn.head0": "zero", "blocks.0.mlp":
        "mean"} (see `simulator.interp.ablation_hooks`); `hooks` maps a step's name to a function
        that replaces its value once computed (how activation patching is done).
        Raises NumericOverflowError rather than return a step holding NaN or ±inf
        (apart from the -inf of masked attention scores), and `budget.BudgetError`, before
        anything is computed, for a run too large for the memory budget.
        """
        toks, values = self.encode(tokens if target is None else (tokens, target), temperature)
        budget.check_run(self.config, toks)
        params = self._params
        ablate = _checked_ablation(ablate)
        overrides = self._overrides(ablate, hooks)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, by step
            for node in self.graph.nodes:
                v = FORWARD[node.op]([values[i] for i in node.inputs], [params[p] for p in node.params],
                                     node.attrs)
                if node.name in overrides:
                    v = overrides[node.name](v)
                if _overflowed(node.op, v):
                    raise NumericOverflowError(node.name)
                v.flags.writeable = False
                values[node.name] = v
        return Trace(self.graph, values, MappingProxyType(dict(params)), toks, ablate)

    def _overrides(self, ablate, hooks) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
        if not ablate and not hooks:
            return {}  # the usual run: nothing to look up
        from .interp import ablation_hooks  # interp reads models; the model only borrows its hooks
        overrides = ablation_hooks(self.graph, self.config.n_heads, ablate)
        for name, hook in (hooks or {}).items():
            if name not in self.graph.index and name not in self.graph.aliases:
                raise KeyError(f"No step called {name!r} to hook.")
            real = self.graph.aliases.get(name, name)
            first = overrides.get(real)
            overrides[real] = hook if first is None else (lambda v, f=first, h=hook: h(f(v)))
        return overrides

    def generate(self, tokens, n: int, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, seed: int = 0) -> list[str]:
        """Up to `n` new tokens after `tokens`, sampled with temperature, top-k and top-p (see
        `simulator.generate`); an encoder-decoder takes its source and writes its target from <bos>."""
        from .generate import generate
        return generate(self, tokens, n, temperature, top_k, top_p, seed)

    def _append_one(self, trace: Trace, toks) -> tuple[Trace, Changes] | None:
        """`rerun` for one appended token of a causal model: the KV cache (None when it does not apply)."""
        from .kv_cache import CacheMiss, append
        try:
            new = append(self, trace, toks)
        except CacheMiss:
            return None
        changed = {n: (new._values[n], trace._values[n]) for n in new.names
                   if new._values[n] is not trace._values[n]}
        return new, Changes(changed)

    def loss_and_grads(self, tokens, targets, mask=None, label_smoothing: float = 0.0):
        """Cross-entropy of the next-token predictions, and ∂loss/∂ every parameter and step.

        Returns (loss, grads): `grads[name]` for any parameter or step name (see `simulator.backward`).
        """
        from .backward import loss_and_grads  # the backward module reads the model, not the reverse
        return loss_and_grads(self, tokens, targets, mask, label_smoothing)

    def rerun(self, trace: Trace, params: Sequence[str] = (), tokens=None, temperature: float | None = None,
              ablate: Mapping[str, str] | None = None) -> tuple[Trace, Mapping[str, np.ndarray]]:
        """Recompute only what an edit touched.

        `params` names the parameters changed since `trace` was made; `tokens` and
        `temperature`, when given, replace the inputs. Returns the new trace and a mapping
        (`trace.Changes`) giving, for every step whose value changed, the absolute change per
        cell (same shape; a step whose shape changed is compared where old and new overlap, and
        its new cells report an infinite delta). Unchanged steps keep their very array from `trace`.
        `ablate`, when given, replaces the trace's ablations (`{}` switches every component back on).
        Raises NumericOverflowError like `run`.
        """
        temp = trace.temperature if temperature is None else temperature
        if self.config.arch == "vit":  # a new image, or the trace's own
            toks, new_inputs = self.encode(trace.input("image") if tokens is None else tokens, temp)
        else:
            toks = trace.tokens if tokens is None else self.tokens(tokens)
            new_inputs = self._inputs(toks, temp)
        if tokens is not None:
            budget.check_run(self.config, toks)
        ablate = trace.ablate if ablate is None else _checked_ablation(ablate)
        if tokens is not None and not params and temp == trace.temperature and not ablate and not trace.ablate:
            appended = self._append_one(trace, toks)
            if appended is not None:
                return appended
        if trace.graph is not self.graph:
            fresh = self.run(toks, temperature=temp, ablate=ablate)
            return fresh, {n: np.full(np.shape(fresh[n]), np.inf) for n in fresh}
        values = dict(trace._values)
        dirty = {k for k, v in new_inputs.items() if not np.array_equal(v, values.get(k))}
        values.update(new_inputs)
        dirty_params = set(params)
        p = self._params
        overrides = self._overrides(ablate, None)
        old_overrides = self._overrides(trace.ablate, None) if ablate != trace.ablate else overrides
        # a step whose ablation changed is recomputed even when its inputs did not move
        forced = {n for n in set(overrides) | set(old_overrides)
                  if _node_ablation(ablate, n, self) != _node_ablation(trace.ablate, n, self)}
        changed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for node in self.graph.nodes:
            if dirty_params.isdisjoint(node.params) and dirty.isdisjoint(node.inputs) and node.name not in forced:
                continue
            with np.errstate(over="ignore", invalid="ignore"):
                v = FORWARD[node.op]([values[i] for i in node.inputs], [p[q] for q in node.params], node.attrs)
                if node.name in overrides:
                    v = overrides[node.name](v)
                overflowed = _overflowed(node.op, v)
            if overflowed:
                raise NumericOverflowError(node.name)
            v.flags.writeable = False
            old = values[node.name]
            if old.shape == v.shape and np.array_equal(v, old):
                continue  # keep the old array: views can tell "unchanged" by identity
            values[node.name] = v
            dirty.add(node.name)
            changed[node.name] = (v, old)
        return Trace(self.graph, values, MappingProxyType(dict(p)), toks, ablate), Changes(changed)


def _checked_ablation(ablate) -> Mapping[str, str]:
    """A read-only copy of an ablation spec ({} for none)."""
    if ablate is None:
        return MappingProxyType({})
    if not isinstance(ablate, Mapping):
        raise ValueError("ablate must map component names to 'zero' or 'mean'.")
    return MappingProxyType(dict(ablate))


def _node_ablation(ablate: Mapping[str, str], node: str, model: "Transformer") -> list:
    """The ablations that act on one step, to tell whether an edit changed them."""
    from .interp import component_node
    return sorted((c, m) for c, m in ablate.items()
                  if component_node(model.graph, model.config.n_heads, c)[0] == node)
