"""Linear attention (Katharopoulos et al., 2020): softmax(q·k) replaced by φ(q)·φ(k), φ(x) = elu(x) + 1.

    out_i = φ(q_i)·S_i ÷ φ(q_i)·z_i,   S_i = Σ_{j≤i} φ(k_j) v_jᵀ,   z_i = Σ_{j≤i} φ(k_j)

(all j for an encoder). The running sums S and z grow one token at a time, so a decoder can be
read as a recurrent network whose state is (S, z): no n×n grid is ever formed. The same numbers
come out of the quadratic form, weights A_ij = φ(q_i)·φ(k_j) ÷ Σ_j' φ(q_i)·φ(k_j') times V,
which the graph computes beside the recurrent one so the two can be shown equal.

Forward ops have the signature of `simulator.ops` (f(xs, ps, attrs) -> array); backward rules
that of `simulator.backward` (g, xs, ps, attrs, out) -> (grads_xs, grads_ps). Shapes:
q, k, v, φ(q), φ(k), z [pos, head, d_head]; S [pos, head, d_head·d_head] (row i holds S_i row by
row, so the state reads as one growing heatmap per head); the quadratic weights [head, q_pos, k_pos].
"""
from __future__ import annotations

import numpy as np


def feature_map(x: np.ndarray) -> np.ndarray:
    """φ(x) = elu(x) + 1: x + 1 for x > 0, exp(x) otherwise; always positive."""
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def running(x: np.ndarray, causal: bool) -> np.ndarray:
    """Σ_{j≤i} x_j along positions (axis 0), or the sum over all positions at every i."""
    if causal:
        return np.cumsum(x, axis=0)
    return np.broadcast_to(x.sum(0, keepdims=True), x.shape).copy()


def running_back(g: np.ndarray, causal: bool) -> np.ndarray:
    """The gradient of `running`: Σ_{i≥j} g_i (or the sum over all i)."""
    if causal:
        return np.cumsum(g[::-1], axis=0)[::-1]
    return np.broadcast_to(g.sum(0, keepdims=True), g.shape).copy()


def outer(phi_k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """φ(k_j) v_jᵀ for every position and head, flattened row by row  # [pos, head, d_k·d_v]"""
    return (phi_k[..., :, None] * v[..., None, :]).reshape(*phi_k.shape[:2], -1)


def weights(phi_q: np.ndarray, phi_k: np.ndarray, causal: bool) -> np.ndarray:
    """The quadratic form's weights φ(q_i)·φ(k_j) ÷ Σ_j' φ(q_i)·φ(k_j')  # [head, q_pos, k_pos]"""
    u = phi_q.transpose(1, 0, 2) @ phi_k.transpose(1, 2, 0)  # [head, q_pos, k_pos]
    if causal:
        u = np.tril(u)
    return u / u.sum(-1, keepdims=True)


# --- forward ---

def _feature(xs, ps, a):
    return feature_map(xs[0])


def _kv_state(xs, ps, a):
    phi_k, v = xs
    return running(outer(phi_k, v), a["causal"])


def _k_sum(xs, ps, a):
    return running(xs[0], a["causal"])


def _linear_out(xs, ps, a):
    phi_q, s, z = xs
    p, h, d = phi_q.shape
    num = np.einsum("phd,phde->phe", phi_q, s.reshape(p, h, d, -1))  # [pos, head, d_v]
    den = np.einsum("phd,phd->ph", phi_q, z)  # [pos, head], > 0 because φ > 0
    return num / den[..., None]


def _linear_weights(xs, ps, a):
    return weights(xs[0], xs[1], a["causal"])


FORWARD = {"feature_map": _feature, "kv_state": _kv_state, "k_sum": _k_sum, "linear_out": _linear_out,
           "linear_weights": _linear_weights}


# --- backward ---

def _feature_back(g, xs, ps, a, out):
    return [g * np.where(xs[0] > 0, 1.0, out)], []  # d/dx exp(x) = exp(x) = φ(x) where x ≤ 0


def _kv_state_back(g, xs, ps, a, out):
    phi_k, v = xs
    p, h, d = phi_k.shape
    gs = running_back(g, a["causal"]).reshape(p, h, d, -1)  # ∂L/∂(φ(k_j) v_jᵀ)  [pos, head, d_k, d_v]
    return [np.einsum("phde,phe->phd", gs, v), np.einsum("phde,phd->phe", gs, phi_k)], []


def _k_sum_back(g, xs, ps, a, out):
    return [running_back(g, a["causal"])], []


def _linear_out_back(g, xs, ps, a, out):
    phi_q, s, z = xs
    p, h, d = phi_q.shape
    s4 = s.reshape(p, h, d, -1)
    den = np.einsum("phd,phd->ph", phi_q, z)[..., None]  # [pos, head, 1]
    g_num = g / den  # out = num / den
    g_den = -(g * out).sum(-1, keepdims=True) / den  # [pos, head, 1]
    g_phi_q = np.einsum("phe,phde->phd", g_num, s4) + g_den * z
    g_s = (phi_q[..., :, None] * g_num[..., None, :]).reshape(s.shape)
    return [g_phi_q, g_s, g_den * phi_q], []


def _linear_weights_back(g, xs, ps, a, out):
    phi_q, phi_k = xs
    u = phi_q.transpose(1, 0, 2) @ phi_k.transpose(1, 2, 0)
    if a["causal"]:
        u = np.tril(u)
    r = u.sum(-1, keepdims=True)
    g_u = (g - (g * out).sum(-1, keepdims=True)) / r  # out = u / r
    if a["causal"]:
        g_u = np.tril(g_u)
    g_phi_q = (g_u @ phi_k.transpose(1, 0, 2)).transpose(1, 0, 2)
    g_phi_k = (g_u.transpose(0, 2, 1) @ phi_q.transpose(1, 0, 2)).transpose(1, 0, 2)
    return [g_phi_q, g_phi_k], []


BACKWARD = {"feature_map": _feature_back, "kv_state": _kv_state_back, "k_sum": _k_sum_back,
            "linear_out": _linear_out_back, "linear_weights": _linear_weights_back}


__all__ = ["BACKWARD", "FORWARD", "feature_map", "outer", "running", "running_back", "weights"]
