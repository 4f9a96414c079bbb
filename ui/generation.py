"""Appending tokens from the app: sample the next token, push it as one undoable edit.

The controller keeps the sampling settings (temperature, top-k, top-p, seed) and a random
generator started from the seed, so the same seed writes the same text. Each appended token is
one `SetTokens` command ("Append 'cat'"): undo removes it, and the trace is again the one before
bit for bit (a causal model's rows never depend on later tokens; simulator/kv_cache.py).
The appended run reuses the cached rows of a causal model, so it costs one row per step.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from simulator.generate import END, START, decoded_side, extended
from simulator.kv_cache import cacheable
from simulator.sampling import Sampling, check_settings, sample
from ui.bridge import SessionBridge
from ui.commands import SetTokens


class GenerationController(QObject):
    sigSettingsChanged = Signal()  # temperature, top-k, top-p or seed changed

    def __init__(self, bridge: SessionBridge, undo_stack, parent: QObject | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.undo_stack = undo_stack
        self.temperature, self.top_k, self.top_p, self.seed = 1.0, None, None, 0
        self.rng = np.random.default_rng(self.seed)
        self.last: Sampling | None = None  # the sampling of the latest append (until the next edit)

    def set_settings(self, temperature: float, top_k: int | None, top_p: float | None, seed: int) -> str | None:
        """New settings, or the reason they are refused (nothing changes then)."""
        try:
            check_settings(temperature, top_k, top_p)
        except ValueError as exc:
            return str(exc)
        if int(seed) != self.seed:
            self.rng = np.random.default_rng(int(seed))
        self.temperature, self.top_k, self.top_p, self.seed = float(temperature), top_k, top_p, int(seed)
        self.sigSettingsChanged.emit()
        return None

    def preview(self, greedy: bool = False) -> Sampling:
        """The sampling the next Append would make now (the same draw: the generator is not advanced)."""
        rng = np.random.default_rng()
        rng.bit_generator.state = self.rng.bit_generator.state
        return self._sample(rng, greedy)

    def _sample(self, rng, greedy: bool) -> Sampling:
        logits = self.bridge.trace["logits"][-1]
        if greedy:
            return sample(logits, self.temperature, 1, None, rng)
        return sample(logits, self.temperature, self.top_k, self.top_p, rng)

    def why_not(self) -> str | None:
        """Why no token can be appended now, or None."""
        session = self.bridge.session
        cfg = session.model.config
        if cfg.arch == "encoder":
            return "An encoder predicts no next token: appending needs a decoder or an encoder-decoder."
        side = decoded_side(session.trace)
        if side and side[-1] == END:
            return f"The text has ended with {END}: remove it to write on."
        if len(side) >= cfg.n_ctx:
            return f"The input is n_ctx = {cfg.n_ctx} tokens long, the most this model takes."
        return None

    def append(self, greedy: bool = False) -> str | None:
        """Sample one token (the most likely with `greedy`) and append it; or say why not."""
        why = self.why_not()
        if why:
            return why
        session = self.bridge.session
        s = self._sample(self.rng, greedy)
        token = session.model.config.vocab[s.token]
        old = session.tokens
        new = extended(session.trace, token)
        shown = "␣" if token == " " else token
        self.last = s  # before the new trace is announced: the views show how its last token was picked
        self.undo_stack.push(SetTokens(session, old, new, f"Append '{shown}'"))
        return None

    def generate(self, n: int) -> str | None:
        """Append up to `n` tokens, each its own undoable edit; stops early at an end or n_ctx."""
        for _ in range(int(n)):
            why = self.append()
            if why:
                return why
            if decoded_side(self.bridge.session.trace)[-1] == END:
                return None
        return None

    def cache_note(self) -> str:
        """What the KV cache keeps and what it saves, for the current trace."""
        model = self.bridge.session.model
        cfg = model.config
        why = cacheable(model)
        n = len(decoded_side(self.bridge.session.trace))
        if why:
            return f"No KV cache here: {why}. Each appended token runs the whole model again."
        kv = f"{cfg.n_layers} layer{'s' if cfg.n_layers > 1 else ''} × {cfg.n_heads} heads"
        side = "target" if cfg.arch == "encoder-decoder" else "input"
        extra = (" The encoder ran once; its keys and values for cross-attention are reused as they are."
                 if cfg.arch == "encoder-decoder" else "")
        return (f"KV cache: the keys and values of the {n} {side} tokens are kept ({kv}, each a table of "
                f"{n} rows × d_head = {cfg.d_head}). Appending a token computes one new row of K and V and one "
                f"new row of every other step, instead of all {n + 1} rows: about 1/{n + 1} of a full rerun's "
                f"work for the projections and the MLP. The new query still compares itself with all "
                f"{n + 1} keys.{extra}")


__all__ = ["GenerationController", "START", "END"]
