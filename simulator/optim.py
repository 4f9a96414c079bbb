"""The optimiser of "Attention Is All You Need" (Vaswani et al., 2017, §5.3).

Adam with β1 = 0.9, β2 = 0.98, ε = 1e-9, and a learning rate that rises linearly for
`warmup` steps, then falls with the inverse square root of the step:

    lrate = factor · d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def noam_lr(step: int, d_model: int, warmup: int, factor: float = 1.0) -> float:
    """The learning rate at `step` (counted from 1); the peak is at step = warmup."""
    if step < 1:
        raise ValueError(f"Steps are counted from 1; got {step}.")
    if warmup < 1:
        raise ValueError(f"warmup must be at least 1 step; got {warmup}.")
    return factor * d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


class Adam:
    """Adam (Kingma & Ba, 2015) over a dict of named arrays, with bias correction.

    `step(params, grads, lr)` returns the new parameters and leaves the inputs untouched.
    """

    def __init__(self, beta1: float = 0.9, beta2: float = 0.98, eps: float = 1e-9):
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1 and eps > 0):
            raise ValueError("Adam needs 0 ≤ β1, β2 < 1 and ε > 0.")
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.m: dict[str, np.ndarray] = {}  # running mean of the gradients
        self.v: dict[str, np.ndarray] = {}  # running mean of their squares

    def step(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray],
             lr: float) -> dict[str, np.ndarray]:
        self.t += 1
        b1, b2, t = self.beta1, self.beta2, self.t
        new = {}
        for name, p in params.items():
            g = grads.get(name)
            if g is None:  # a parameter the loss does not reach keeps its value
                new[name] = p
                continue
            m = self.m[name] = b1 * self.m.get(name, 0.0) + (1 - b1) * g
            v = self.v[name] = b2 * self.v.get(name, 0.0) + (1 - b2) * g * g
            # The means start at 0; dividing by 1 - β^t removes that bias in the first steps.
            m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
            new[name] = p - lr * m_hat / (np.sqrt(v_hat) + self.eps)
        return new


__all__ = ["noam_lr", "Adam"]
