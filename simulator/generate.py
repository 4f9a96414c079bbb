"""Writing text one token at a time: run, sample the next token, append it, run again.

A decoder continues its input. An encoder-decoder reads its source once and writes its target
from the start token `<bos>`, stopping after an end token (`<eos>`) or when the target is n_ctx
long. In a causal model each appended token reuses the cached rows (`simulator.kv_cache`); when
a decoder's input fills n_ctx, its oldest token is dropped and the shorter window runs in full
(positions shift, so nothing can be reused for that step).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .kv_cache import CacheMiss, append
from .sampling import Sampling, check_settings, sample
from .trace import Trace

START, END = "<bos>", "<eos>"


@dataclass(frozen=True)
class GenStep:
    trace: Trace  # the trace the token was sampled from
    sampling: Sampling
    token: str
    cached: bool  # whether `trace` was made by the KV cache


def decoded_side(trace: Trace) -> list[str]:
    """The tokens that grow: the input of a decoder, the target of an encoder-decoder."""
    return list(trace.tokens[1] if isinstance(trace.tokens, tuple) else trace.tokens)


def extended(trace: Trace, token: str):
    """`trace`'s tokens with `token` appended on the growing side."""
    if isinstance(trace.tokens, tuple):
        return (list(trace.tokens[0]), list(trace.tokens[1]) + [token])
    return list(trace.tokens) + [token]


def next_trace(model, trace: Trace, tokens, use_cache: bool = True) -> tuple[Trace, bool]:
    """The trace of `tokens` (= trace's tokens + one): from the cache when it can, else in full."""
    if use_cache:
        try:
            return append(model, trace, tokens), True
        except CacheMiss:
            pass
    if isinstance(tokens, tuple):
        return model.run(tokens[0], tokens[1], temperature=trace.temperature), False
    return model.run(tokens, temperature=trace.temperature), False


def steps(model, tokens, n: int, temperature: float = 1.0, top_k: int | None = None,
          top_p: float | None = None, seed: int = 0, use_cache: bool = True,
          should_stop: Callable[[], bool] | None = None):
    """Yield a `GenStep` for each of up to `n` new tokens (see `generate`)."""
    check_settings(temperature, top_k, top_p)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"The number of tokens to write must be a whole number ≥ 0; got {n!r}.")
    rng = np.random.default_rng(seed)
    cfg = model.config
    vocab = cfg.vocab
    if cfg.arch == "encoder":
        raise ValueError("An encoder sees its whole input at once and predicts no next token: "
                         "generation needs a decoder or an encoder-decoder.")
    if cfg.arch == "encoder-decoder":
        if START not in vocab:
            raise ValueError(f"This encoder-decoder has no start token {START} to begin its target with.")
        source, prefix = tokens if isinstance(tokens, tuple) else (tokens, [])
        prefix = model.tokenizer.tokens(prefix)
        trace = model.run(source, prefix if prefix[:1] == [START] else [START] + prefix)
    else:
        trace = model.run(tokens)
    cached = False
    for _ in range(n):
        if should_stop is not None and should_stop():
            return
        s = sample(trace["logits"][-1], temperature, top_k, top_p, rng)
        token = vocab[s.token]
        yield GenStep(trace, s, token, cached)
        side = decoded_side(trace)
        if token == END or (cfg.arch == "encoder-decoder" and len(side) >= cfg.n_ctx):
            return
        if len(side) >= cfg.n_ctx:  # a decoder's window is full: drop the oldest token
            trace, cached = model.run(side[1:] + [token], temperature=trace.temperature), False
        else:
            trace, cached = next_trace(model, trace, extended(trace, token), use_cache)


def generate(model, tokens, n: int, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, seed: int = 0, use_cache: bool = True) -> list[str]:
    """Up to `n` new tokens continuing `tokens`.

    An encoder-decoder takes its source, or (source, start of the target); its target begins with <bos>.

    The same seed gives the same tokens. Bad settings raise ValueError before anything runs.
    """
    return [step.token for step in steps(model, tokens, n, temperature, top_k, top_p, seed, use_cache)]


__all__ = ["END", "START", "GenStep", "decoded_side", "extended", "generate", "next_trace", "steps"]
