"""The operations of the forward pass, one small numpy function each.

Every function has the signature ``f(xs, ps, attrs) -> array``: `xs` are the input
activations, `ps` the parameters, `attrs` the node's fixed settings. The graph
(`simulator.graph`) names which activations and parameters each node reads; the
backward pass (`simulator.backward`) mirrors this table.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

from . import linear_attention
from .patterns import allowed_for
from .vision import patchify

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_C = 0.044715  # the cubic term of GELU's tanh approximation
INV_SQRT_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
POSITION_BASE = 10000.0  # the longest wavelength of sinusoidal and rotary positions, in tokens / 2π


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax(x)_i = exp(x_i − max x) / Σ_j exp(x_j − max x) along `axis`.

    −∞ entries get weight exactly 0; +∞ entries share all of it.
    """
    m = np.max(x, axis=axis, keepdims=True)
    if np.isfinite(m).all():  # the usual case, in as few numpy calls as possible
        e = x - m
        np.exp(e, out=e)  # exp(−∞) = 0 exactly: masked keys get no weight
        e /= np.add.reduce(e, axis=axis, keepdims=True)
        return e
    infinite = np.isposinf(m)
    m[~np.isfinite(m)] = 0.0
    e = x - m
    # exp(-inf) takes numpy's slow path; masked cells are set to exactly 0 instead
    np.exp(e, out=e, where=e > -np.inf)
    e[e == -np.inf] = 0.0
    if not infinite.any():
        e /= np.sum(e, axis=axis, keepdims=True)
        return e
    # the limit as those entries grow without bound (logits / a tiny temperature)
    top = x == np.inf
    with np.errstate(invalid="ignore"):  # inf / inf in the rows replaced here
        e /= np.sum(e, axis=axis, keepdims=True)
    return np.where(infinite, top / np.maximum(np.sum(top, axis=axis, keepdims=True), 1), e)


def layernorm_stats(x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(x − mean, √(var + ε)) of each row  # [..., d], [..., 1]

    The forward and backward pass both read LayerNorm's statistics here. A constant row with
    ε = 0 has spread 0; it is read as 1, so the row normalises to 0 (output b) and its
    gradient, g − mean(g), stays finite. (Rows large enough for y·y to overflow cannot occur:
    weights are bounded, so a normed stream stays below ~1e30.)
    """
    n = x.shape[-1]
    # add.reduce / n is what mean() computes (same bits) without its Python overhead
    y = x - np.add.reduce(x, axis=-1, keepdims=True) / n
    var = np.add.reduce(y * y, axis=-1, keepdims=True) / n
    scale = np.sqrt(var + eps)
    if eps == 0:
        scale[scale == 0] = 1.0  # a constant row, whose y is all 0
    return y, scale


def layernorm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    """LN(x) = (x − mean) / √(var + ε) · w + b, row by row (biased variance)."""
    y, scale = layernorm_stats(x, eps)
    y /= scale
    y *= w
    y += b
    return y


def rms(x: np.ndarray, eps: float) -> np.ndarray:
    """√(mean(x²) + ε) of each vector, a zero vector's read as 1 (it normalises to 0)  # [..., 1]"""
    r = np.sqrt((x * x).mean(-1, keepdims=True) + eps)
    return np.where(r > 0, r, 1.0)


def rmsnorm(x: np.ndarray, eps: float) -> np.ndarray:
    """RMSNorm(x) = x / √(mean(x²) + ε), with no learned scale."""
    return x / rms(x, eps)


def _floating(x) -> np.ndarray:
    """`x` as a float32 or float64 array (a float32 model computes in float32; anything else in float64)."""
    x = np.asarray(x)
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU(x) ≈ ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), the approximation of Hendrycks & Gimpel (2016)."""
    # in place, in the same order as 0.5·x·(1 + tanh(c·(x + GELU_C·x³))): same bits, fewer temporaries
    x = _floating(x)
    y = np.multiply(x, x, out=np.empty(x.shape, x.dtype))  # an array even for a single number, so `out=` works
    y *= x
    y *= GELU_C
    y += x
    y *= SQRT_2_OVER_PI
    np.tanh(y, out=y)
    y += 1.0
    y *= x
    y *= 0.5
    return y


def erf(x: np.ndarray) -> np.ndarray:
    """The error function erf(x) = 2/√π ∫₀ˣ e^(−t²) dt, element by element (same dtype as x).

    SciPy's vectorised erf when SciPy is installed (the checkpoints extra brings it); otherwise
    Python's `math.erf` one number at a time: exact to the last bit as well, only slower.
    """
    x = _floating(x)
    try:
        from scipy.special import erf as vectorised
    except ImportError:
        return np.frompyfunc(math.erf, 1, 1)(x).astype(x.dtype)
    return vectorised(x)


def gelu_exact(x: np.ndarray) -> np.ndarray:
    """GELU(x) = x·Φ(x) = ½·x·(1 + erf(x/√2)), the exact form BERT uses (Hendrycks & Gimpel, 2016)."""
    x = _floating(x)
    y = erf(x * INV_SQRT_2)
    y += 1.0
    y *= x
    y *= 0.5
    return y


def gelu_exact_slope(x: np.ndarray) -> np.ndarray:
    """d/dx of x·Φ(x): Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π) the normal density."""
    return 0.5 * (1.0 + erf(x * INV_SQRT_2)) + x * np.exp(-0.5 * x * x) * INV_SQRT_2PI


def gelu_slope(x: np.ndarray) -> np.ndarray:
    """GELU′(x) of the same approximation: ½(1 + t) + ½·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)."""
    x2 = x * x
    t = np.tanh(SQRT_2_OVER_PI * (x + GELU_C * x2 * x))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * x2)


def relu(x: np.ndarray) -> np.ndarray:
    """ReLU(x) = max(x, 0)."""
    return np.maximum(x, 0.0)


ACTIVATIONS = {"gelu": gelu, "relu": relu, "gelu_exact": gelu_exact}


def frequencies(d: int) -> np.ndarray:
    """θ_i = POSITION_BASE^(−2i/d) for i = 0 … d/2 − 1: the angle per position of pair i  # [d/2]"""
    return POSITION_BASE ** (-np.arange(0, d, 2, dtype=np.float64) / d)


@lru_cache(maxsize=32)
def sinusoidal_table(n_pos: int, d_model: int) -> np.ndarray:
    """PE[p, 2i] = sin(p·θ_i), PE[p, 2i+1] = cos(p·θ_i), θ_i = 10000^(−2i/d_model)  # [pos, d_model]"""
    pos = np.arange(n_pos, dtype=np.float64)[:, None]
    freq = frequencies(d_model)
    table = np.zeros((n_pos, d_model))
    table[:, 0::2] = np.sin(pos * freq)
    table[:, 1::2] = np.cos(pos * freq)
    table.flags.writeable = False
    return table


@lru_cache(maxsize=32)
def rope_angles(n_pos: int, d_head: int) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of the rotation angle p·θ_i, θ_i = 10000^(-2i/d_head)  # each [pos, 1, d_head/2]"""
    ang = np.arange(n_pos, dtype=np.float64)[:, None] * frequencies(d_head)
    return np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]


def rope(x: np.ndarray, inverse: bool = False, start: int = 0) -> np.ndarray:
    """RoPE(x)[p, 2i : 2i+2] = R(p·θ_i)·x[p, 2i : 2i+2], each pair of every head rotated (Su et al., 2021).

    `inverse` rotates by −p·θ_i instead: a rotation's transpose, which carries a gradient back.
    The rows of `x` are positions start, start + 1, … (a KV cache rotates only its new rows).
    """
    cos, sin = rope_angles(start + x.shape[0], x.shape[-1])
    cos, sin = cos[start:], sin[start:]
    if inverse:
        sin = -sin
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


# Each position's numbers must not depend on how many positions are computed with it, bit for bit, so
# that a KV cache (simulator.kv_cache) that computes only a new token's row matches a full rerun exactly.
# BLAS picks its kernels by matrix shape, and a row's last bits can change with the number of rows it is
# computed alongside. Two ways to rule that out, chosen for each product's shape and precision:
# * One pass, where this machine's BLAS gives every row the same bits for any number of rows from 2 up
#   (`stable_rows`, `scores_stable` try it once: typically where each sum is short enough for one pass,
#   and with a whole number of LANES columns, since BLAS's few edge columns sum in another order). A
#   product is then one call; a lone row goes beside a row of zeros (one row would take BLAS's
#   matrix-vector path, whose last bits differ), so a new token costs two rows of every product, and
#   the new key's column of Q·Kᵀ two rows of the product with the roles of queries and keys swapped.
# * Blocks elsewhere: every product is made of calls of one fixed shape (blocks of rows, tiles of Q·Kᵀ),
#   and a new token costs a whole block.
ROW_BLOCK = 4  # positions per matrix product: a new token costs one block, not the whole sequence
BIG_WEIGHT, BIG_BLOCK = 65536, 32  # BLAS repacks the weight for every product: big ones get bigger blocks
QUERY_BLOCK, KEY_BLOCK = 8, 16  # a tile of Q·Kᵀ: a new query costs one row of tiles, a new key one column
CHUNK = 256  # rows (and keys) per call where BLAS is row-stable: the most `stable_rows` checks
PROBE_SIZES = (2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 96, 127, 128, 129,
               192, 255, 256)  # the row counts `stable_rows` tries: each kernel's block edges
PROBED_WEIGHT = 1 << 18  # the largest weight `stable_rows` tries (the large preset's MLP: 256 × 1024)
MOST_PADDED_ROWS = 16  # a product that settles later than this goes in blocks
LANES = 8  # one-pass products have a whole number of LANES columns: BLAS's edge columns sum differently

_madds: list[list[int]] = []  # the open `counting_madds` tallies


@contextmanager
def counting_madds() -> Iterator[list[int]]:
    """Counts the multiply-adds of the matrix products computed inside the block  # yields [count]

    Every product of a cacheable model goes through `rows_matmul`, `dot_scores` or `mix_rows`; each
    counts the calls it makes, padding included: the work done, not the work needed. A KV cache's
    append and a full run are compared with it (bench/bench_generate.py). Not thread-safe: products
    computed in another thread meanwhile are counted too.
    """
    tally = [0]
    _madds.append(tally)
    try:
        yield tally
    finally:
        _madds.remove(tally)


def _blocks_product(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """a @ b, one product or a stack of them (counted when `counting_madds` is open)."""
    out = a @ b if out is None else np.matmul(a, b, out=out)
    for tally in _madds:
        tally[0] += out.size * a.shape[-1]  # each output number is a sum of d_in products
    return out


@lru_cache(maxsize=None)
def stable_rows(d_in: int, d_out: int, dtype: str) -> int:
    """From how many rows on a product x·w (x [rows, d_in], w [d_in, d_out], both in C order) gives every
    row the same bits whatever the number of rows, up to CHUNK; 0 if it never settles. Tried on random
    numbers at each of PROBE_SIZES, the bits compared exactly: a kernel switch at some size shows at every
    size past it, and block edges show near the powers of two. BLAS often takes another kernel below some
    size (a sum over 1,024 numbers in OpenBLAS: below 4 rows of 256 columns), so fewer rows are padded with
    zeros up to the answer. Once per shape and precision (lru_cache). Weights over PROBED_WEIGHT numbers
    are not tried (a checkpoint's would take a second): they get blocks.
    """
    if d_in * d_out > PROBED_WEIGHT:
        return 0
    rng = np.random.default_rng(d_in * 1_000_003 + d_out)
    x = rng.standard_normal((CHUNK, d_in)).astype(dtype)
    w = rng.standard_normal((d_in, d_out)).astype(dtype)
    whole = x @ w  # every row, computed in one call
    settled = 0
    for m in PROBE_SIZES:  # the first rows and the last, m at a time
        if not all(np.array_equal(x[r0:r0 + m] @ w, whole[r0:r0 + m]) for r0 in (0, CHUNK - m)):
            settled = 0
        elif not settled:
            settled = m
    return settled if settled and settled <= MOST_PADDED_ROWS else 0


def _up(n: int, block: int) -> int:
    return -(-n // block) * block


def _one_pass_scores(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Q·Kᵀ in one product a head, queries as rows (at least 2) and keys as columns (a whole number of
    LANES)  # q [q_pos, head, d], k [k_pos, head, d] -> [head, q_pos, k_pos]"""
    nq, nk = len(q), len(k)
    qh = np.ascontiguousarray(padded(q, 2, 0).transpose(1, 0, 2))  # [head, query, d]
    kt = np.ascontiguousarray(padded(k, _up(nk, LANES), 0).transpose(1, 2, 0))  # [head, d, key]
    s = _blocks_product(qh, kt)
    return s if s.shape[1:] == (nq, nk) else np.ascontiguousarray(s[:, :nq, :nk])


@lru_cache(maxsize=None)
def scores_stable(d_head: int, dtype: str) -> bool:
    """Whether `_one_pass_scores` gives each score the same bits whether its query is computed alone (a new
    query's row), its key alone with the roles swapped (a new key's column: keys as rows, queries as
    columns; a sum of the same products in the same order), or all at once; for n queries and n keys at
    each of PROBE_SIZES, the first and last of each. Once per d_head and precision."""
    rng = np.random.default_rng(d_head)
    for n in PROBE_SIZES:
        q, k = (rng.standard_normal((n, 1, d_head)).astype(dtype) for _ in range(2))
        whole = _one_pass_scores(q, k)[0]
        for i in (0, n - 1):
            if not (np.array_equal(_one_pass_scores(q[i:i + 1], k)[0, 0], whole[i])
                    and np.array_equal(_one_pass_scores(k[i:i + 1], q)[0, 0], whole[:, i])):
                return False
    return True


def row_block(w: np.ndarray) -> int:
    """Rows per product with weight `w` [d_in, d_out]: 1 (any row alone, beside rows of zeros; the weight
    in C order with zero columns up to whole LANES) where BLAS is row-stable for that shape, else a fixed
    block (bigger for big weights)."""
    return _row_block(w.shape[0], w.shape[1], w.dtype.str)


@lru_cache(maxsize=None)
def _row_block(d_in: int, d_out: int, dtype: str) -> int:
    if stable_rows(d_in, _up(d_out, LANES), dtype):
        return 1
    return ROW_BLOCK if d_in * d_out <= BIG_WEIGHT else BIG_BLOCK


def step_row_block(op: str, ps: list[np.ndarray], a: dict) -> int:
    """`row_block` of the matrix a `proj_heads` or `linear` step multiplies by (see `product_weight`),
    from the shapes alone: a KV cache asks this for every such step of every append."""
    w = ps[0]
    if op == "proj_heads":
        return _row_block(w.shape[1], w.shape[0] * w.shape[2], w.dtype.str)
    if a.get("transposed"):
        return _row_block(w.shape[1], w.shape[0], w.dtype.str)
    return _row_block(w.size // w.shape[-1], w.shape[-1], w.dtype.str)


def product_weight(op: str, ps: list[np.ndarray], a: dict) -> np.ndarray:
    """The [d_in, d_out] matrix a `proj_heads` or `linear` step multiplies its rows by."""
    w = ps[0]
    if op == "proj_heads":  # all heads in one product: W [head, d_model, d_head] -> [d_model, head·d_head]
        n_heads, d_model, d_head = w.shape
        return w.transpose(1, 0, 2).reshape(d_model, n_heads * d_head)
    # a per-head W [head, d_head, d_model] acts as [head·d_head, d_model]; a tied read-out uses W_Eᵀ
    return w.T if a.get("transposed") else w.reshape(-1, w.shape[-1])


def _chunked(x: np.ndarray, w: np.ndarray, least: int) -> np.ndarray:
    """x·w, CHUNK rows per call, fewer than `least` rows beside rows of zeros (see `stable_rows`)."""
    n = len(x)
    if least <= n <= CHUNK:
        return _blocks_product(x, w)
    if n < least:
        return _blocks_product(padded(x, least, 0), w)[:n]
    return np.concatenate([_chunked(x[i:i + CHUNK], w, least) for i in range(0, n, CHUNK)])


def rows_matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x·w computed so that each row's bits never depend on the others (see `row_block`)
    # x [pos, d_in], w [d_in, d_out] -> [pos, d_out]"""
    x = np.ascontiguousarray(x)
    block = row_block(w)
    n, d_out = x.shape[0], w.shape[1]
    if block == 1:
        least = stable_rows(w.shape[0], _up(d_out, LANES), w.dtype.str)
        if d_out % LANES or not w.flags.c_contiguous:  # a small copy (bigger weights are never tried)
            wide = padded(np.ascontiguousarray(w), _up(d_out, LANES), 1)
            return np.ascontiguousarray(_chunked(x, wide, least)[:, :d_out])
        return _blocks_product(x, w) if least <= n <= CHUNK else _chunked(x, w, least)
    m = _up(n, block)
    if m != n:
        x = padded(x, m, 0)
    return _blocks_product(x.reshape(m // block, block, -1), w).reshape(m, -1)[:n]


def padded(x: np.ndarray, width: int, axis: int, fill: float = 0.0) -> np.ndarray:
    """`x` extended along `axis` to `width` entries of `fill` (unchanged if already that wide)."""
    if x.shape[axis] >= width:
        return x
    shape = list(x.shape)
    shape[axis] = width
    out = np.zeros(shape, x.dtype) if fill == 0 else np.full(shape, fill, x.dtype)
    out[(slice(None),) * (axis % x.ndim) + (slice(0, x.shape[axis]),)] = x
    return out


def score_blocks(n_keys: int, nk: int, d_head: int, dtype) -> tuple[int, int]:
    """(queries, keys) per tile of Q·Kᵀ for a model of `n_keys` key slots with `nk` keys now: (1, 1) (any
    row or column alone) where BLAS is stable for the shape (`scores_stable`), else QUERY_BLOCK × KEY_BLOCK
    (all the slots, if fewer); an encoder (n_keys 0) has no cache and takes all its keys in one product."""
    if not n_keys:
        return QUERY_BLOCK, nk
    if scores_stable(d_head, np.dtype(dtype).str):
        return 1, 1
    return QUERY_BLOCK, min(KEY_BLOCK, n_keys)


def dot_scores(q: np.ndarray, k: np.ndarray, n_keys: int) -> np.ndarray:
    """Q·Kᵀ, each score computed the same whatever else is computed with it
    # q [q_pos, head, d], k [k_pos, head, d] -> [head, q_pos, k_pos]

    Queries from a multiple of the tile's height on, or keys from a multiple of its width on (see
    `score_blocks`), give exactly those cells of the whole grid: a KV cache computes a new query's row
    alone where BLAS allows (and a new key's column with `key_columns`), else a row and a column of tiles.
    """
    nq, n_heads, d_head = q.shape
    nk = len(k)
    rows, tile = score_blocks(n_keys, nk, d_head, q.dtype)
    if rows == 1:
        if nq <= CHUNK and nk <= CHUNK:  # the usual case: one product a head
            return _one_pass_scores(q, k)
        s = np.empty((n_heads, nq, nk), q.dtype)
        for i in range(0, nq, CHUNK):
            for j in range(0, nk, CHUNK):
                s[:, i:i + CHUNK, j:j + CHUNK] = _one_pass_scores(q[i:i + CHUNK], k[j:j + CHUNK])
        return s
    m, w = _up(nq, rows), _up(nk, tile)
    qt = padded(q, m, 0).transpose(1, 0, 2).reshape(n_heads, m // rows, 1, rows, d_head)
    kt = padded(k, w, 0).transpose(1, 2, 0).reshape(n_heads, d_head, w // tile, tile)
    s = np.empty((n_heads, m, w), q.dtype)
    # each tile's product is written straight to its place in the grid (no reordering copy afterwards)
    tiles = s.reshape(n_heads, m // rows, rows, w // tile, tile).transpose(0, 1, 3, 2, 4)
    _blocks_product(qt, kt.transpose(0, 2, 1, 3)[:, None], out=tiles)  # [head, q_tile, k_tile, query, key]
    # a contiguous copy of the real cells: the pictures hand arrays to Qt, which wants them contiguous
    return s if (m, w) == (nq, nk) else np.ascontiguousarray(s[:, :nq, :nk])


def key_columns(q: np.ndarray, k: np.ndarray, n_keys: int) -> np.ndarray:
    """The scores of keys `k` (the tail of the keys, from the start of a tile) against every query `q`,
    the same bits as `dot_scores` gives them in the whole grid  # -> [head, q_pos, k_pos]

    Where the one-pass product is stable, each new key is a row of Kᵀ's product with Q (the roles
    swapped): two rows of work rather than a strip of LANES columns."""
    rows, _ = score_blocks(n_keys, len(k), q.shape[2], q.dtype)
    if rows != 1:
        return dot_scores(q, k, n_keys)
    return np.ascontiguousarray(dot_scores(k, q, n_keys).transpose(0, 2, 1))


def pattern_rows(s: np.ndarray, n_keys: int) -> np.ndarray:
    """Softmax of each row of masked scores, summed over `n_keys` slots  # [head, q, k] -> [head, q, k]"""
    m = np.max(s, axis=-1, keepdims=True)
    if not np.isfinite(m).all():  # rare (a fully masked row): the general softmax, padded the same way
        return softmax(padded(s, n_keys, 2, -np.inf), -1)[:, :, : s.shape[2]]
    e = s - m
    np.exp(e, out=e)  # masked keys: exp(−∞) = 0 exactly
    e /= np.add.reduce(padded(e, n_keys, 2), axis=-1, keepdims=True)  # the padding adds zeros, as masked keys do
    return e


def mix_block(n_keys: int, d_head: int, dtype) -> int:
    """Query rows per product of pattern·V over `n_keys` slots: 1 where BLAS is row-stable, else ROW_BLOCK."""
    return 1 if n_keys and stable_rows(n_keys, d_head, np.dtype(dtype).str) else ROW_BLOCK


def mix_rows(pattern: np.ndarray, v: np.ndarray, n_keys: int) -> np.ndarray:
    """pattern·V over `n_keys` key slots (zeros beyond the real keys)  # [head, q, k], [k, head, d] -> [q, head, d]"""
    n_heads, nq, nk = pattern.shape
    d_head = v.shape[2]
    width = max(n_keys, nk)
    vs = np.ascontiguousarray(padded(v.transpose(1, 0, 2), width, 1))  # [head, k_slots, d_head]
    block = mix_block(n_keys, d_head, v.dtype)
    if block == 1 and nq <= CHUNK:
        least = stable_rows(n_keys, d_head, np.dtype(v.dtype).str)
        p = np.ascontiguousarray(padded(padded(pattern, width, 2), least, 1))  # [head, q (`least` at least), k_slots]
        z = _blocks_product(p, vs)[:, :nq]  # [head, q, d_head]
        return np.ascontiguousarray(z.transpose(1, 0, 2))
    block = CHUNK if block == 1 else block  # a long sequence: CHUNK rows at a time
    m = _up(nq, block)
    p = padded(padded(pattern, width, 2), m, 1)  # [head, q_slots, k_slots]
    z = _blocks_product(p.reshape(n_heads, m // block, block, width), vs[:, None])  # [head, block, row, d_head]
    return np.ascontiguousarray(z.reshape(n_heads, m, -1)[:, :nq].transpose(1, 0, 2))


def groups_sum(vs: list[np.ndarray], groups: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """source_s = Σ_{i in groups[s]} v_i, stacked  # [source, pos, d_model]"""
    return np.stack([vs[g[0]] if len(g) == 1 else sum(vs[i] for i in g) for g in groups])


# --- the forward table: op name -> f(xs, ps, attrs) ---

def _embed(xs, ps, a):
    """embed[p] = W_E[token_id[p]]  # [pos, d_model]"""
    return ps[0][xs[0]]


def _pos_sinusoidal(xs, ps, a):
    """pos[p] = PE[p], the fixed sine/cosine table  # [pos, d_model]"""
    table = sinusoidal_table(len(xs[0]), a["d_model"])
    return table if a.get("dtype", "float64") == "float64" else table.astype(a["dtype"])


def _pos_learned(xs, ps, a):
    """pos[p] = W_pos[p]  # [pos, d_model]"""
    return ps[0][: len(xs[0])]


def _add(xs, ps, a):
    """out = x₀ + x₁ + …"""
    out = xs[0] + xs[1]
    for x in xs[2:]:
        out = out + x
    return out


def _layernorm(xs, ps, a):
    """out = LN(x) = (x − mean) / √(var + ε) · w + b"""
    return layernorm(xs[0], ps[0], ps[1], a["eps"])


def _proj_heads(xs, ps, a):
    """q[p, h] = x[p]·W[h] + b[h]  # [pos, head, d_head]"""
    # all heads in one product: W [head, d_model, d_head] -> [d_model, head·d_head]
    x, b = xs[0], ps[-1]
    n_heads, _, d_head = ps[0].shape
    out = rows_matmul(x, product_weight("proj_heads", ps, a))  # [pos, head·d_head]
    if len(ps) > 1:  # a model without biases passes the weight alone
        out += b.reshape(-1)
    return out.reshape(len(x), n_heads, d_head)  # [pos, head, d_head]


def _rope(xs, ps, a):
    """out = RoPE(x): each pair rotated by p·θ_i"""
    return rope(xs[0])


def _scores(xs, ps, a):
    """scores[h, i, j] = q[i, h]·k[j, h]  # [head, q_pos, k_pos]"""
    q, k = xs
    return dot_scores(q, k, a.get("n_keys", 0))


def _scale(xs, ps, a):
    """scaled = scores / √d_head"""
    return xs[0] / a["sqrt_d"]


def _mask(xs, ps, a):
    """masked[h, i, j] = scaled[h, i, j] where key j is allowed for query i, else −∞"""
    s = xs[0]
    return np.where(allowed_for(a, s.shape[1], s.shape[2]), s, -np.inf)


def _softmax(xs, ps, a):
    """out = softmax(x) along `axis` (the keys for a pattern, the sources over depth)"""
    if "n_keys" in a:  # attention rows: summed over the same number of key slots whatever the length
        return pattern_rows(xs[0], a["n_keys"])
    return softmax(xs[0], a.get("axis", -1))


def _mix(xs, ps, a):
    """z[i, h] = Σ_j pattern[h, i, j]·v[j, h]  # [q_pos, head, d_head]"""
    pattern, v = xs
    return mix_rows(pattern, v, a.get("n_keys", 0))  # [q_pos, head, d_head], position-major


def _concat(xs, ps, a):
    """concat[p] = [z[p, 0] | z[p, 1] | …]  # [pos, head·d_head]"""
    z = xs[0]
    return z.reshape(z.shape[0], -1)


def _linear(xs, ps, a):
    """out = x·W + b (a per-head W [head, d_head, d_model] acts as [head·d_head, d_model]);
    with `transposed`, out = x·Wᵀ + b: a tied read-out through the embedding W_E [vocab, d_model]"""
    out = rows_matmul(xs[0], product_weight("linear", ps, a))
    if len(ps) > 1:  # a model without biases passes the weight alone
        out += ps[1]
    return out


def _act(xs, ps, a):
    """out = GELU(x) or ReLU(x), elementwise"""
    return ACTIVATIONS[a["fn"]](xs[0])


def _probs(xs, ps, a):
    """probs = softmax(logits / T), computed as softmax((logits − max) / T)"""
    x = xs[0]
    # Shifting first keeps the largest logit at exactly 0 whatever T is; a tiny T then sends the
    # others to −∞ (weight 0) instead of every logit to ±∞: the limit T → 0 is all the weight on
    # the largest logit, shared evenly by ties.
    with np.errstate(over="ignore"):
        return softmax((x - np.max(x, axis=-1, keepdims=True)) / float(xs[1]))


def _depth_logits(xs, ps, a):
    """logit[s, p] = w · RMSNorm(Σ_{i in group s} v_i[p])  # [source, pos]"""
    sources = groups_sum(xs, a["groups"])  # [source, pos, d_model]
    return rmsnorm(sources, a["eps"]) @ ps[0]  # [source, pos]


def _depth_mix(xs, ps, a):
    """h[p] = Σ_s α[s, p] · Σ_{i in group s} v_i[p]  # [pos, d_model]"""
    weights, vs = xs[0], xs[1:]
    sources = groups_sum(vs, a["groups"])
    return np.einsum("sp,spd->pd", weights, sources)


def _dwa(xs, ps, a):
    """Y = Σ_j α_j · X_j  # [pos, d_model]"""
    alpha = ps[0]
    out = alpha[0] * xs[0]
    for j in range(1, len(xs)):
        out = out + alpha[j] * xs[j]
    return out


def _patchify(xs, ps, a):
    """patch[i] = the pixels of square i, row by row, ÷ pixel_max  # [patch, pixel]"""
    return (patchify(xs[0], a["patch"]) / a["pixel_max"]).astype(a.get("dtype", "float64"), copy=False)


def _prepend_cls(xs, ps, a):
    """tokens = [cls ; embed]: the learned [CLS] vector, then one row per patch  # [pos, d_model]"""
    return np.concatenate([ps[0][None, :], xs[0]])


def _take_cls(xs, ps, a):
    """cls = x[0:1]: the [CLS] row alone  # [1, d_model]"""
    return xs[0][:1].copy()


FORWARD = {
    "embed": _embed, "pos_sinusoidal": _pos_sinusoidal, "pos_learned": _pos_learned, "add": _add,
    "layernorm": _layernorm, "proj_heads": _proj_heads, "rope": _rope, "scores": _scores,
    "scale": _scale, "mask": _mask, "softmax": _softmax, "mix": _mix, "concat": _concat,
    "linear": _linear, "act": _act, "probs": _probs, "depth_logits": _depth_logits,
    "depth_mix": _depth_mix, "dwa": _dwa, "patchify": _patchify, "prepend_cls": _prepend_cls,
    "take_cls": _take_cls,
}
FORWARD.update(linear_attention.FORWARD)  # the recurrent and quadratic forms of linear attention
