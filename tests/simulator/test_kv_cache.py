"""The KV cache: appending a token computes its row only, and equals a full rerun bit for bit."""
import numpy as np
import pytest

from simulator import ops
from simulator.config import ModelConfig
from simulator.kv_cache import CacheMiss, append
from simulator.model import Transformer
from simulator.presets import load_preset

TEXT = "abcdefghijjihgfedcbaacegibdfhjabcdefghijab"


def _appends_equal_reruns(model, start: int, end: int) -> None:
    """Append TEXT's characters start+1 … end one at a time: every step equals a full rerun, bit for bit."""
    trace = model.run(TEXT[:start])
    for n in range(start + 1, end + 1):
        trace = append(model, trace, TEXT[:n])
        full = model.run(TEXT[:n])
        for name in full:
            assert np.array_equal(full[name], trace[name]), (n, name)


@pytest.mark.parametrize("kw", [{}, {"positional": "rope"}, {"positional": "learned"},
                                {"attention": "window", "window": 3}, {"residual": "denseformer"},
                                {"norm": "post"}, {"residual": "none"}, {"positional": "none"},
                                {"attention": "strided", "window": 2, "stride": 3},
                                {"attention": "global", "window": 2, "n_global": 2},
                                {"attention": "bigbird", "window": 2, "n_global": 1, "n_random": 2},
                                {"dtype": "float32"}, {"dtype": "float32", "positional": "rope"}])
def test_every_step_equals_a_full_rerun_bit_for_bit(kw):
    cfg = ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", n_ctx=40, d_model=32, n_heads=4,
                      d_mlp=64, **kw)
    model = Transformer(cfg, seed=1)
    _appends_equal_reruns(model, 1, 40)


def test_encoder_decoder_target_grows_from_the_cache():
    model, (src, tgt), _ = load_preset("translate")
    trace = model.run(src, tgt[:1])
    for n in range(2, len(tgt) + 1):
        before = trace
        trace = append(model, trace, (src, tgt[:n]))
        full = model.run(src, tgt[:n])
        for name in full:
            assert np.array_equal(full[name], trace[name]), (n, name)
        assert trace["encoder.blocks.0.attn.hook_k"] is before["encoder.blocks.0.attn.hook_k"]


@pytest.mark.parametrize("n_ctx", [5, 16, 17, 40])
def test_key_tiles_of_any_width_match_a_full_rerun(n_ctx):
    """Tiles of min(KEY_BLOCK, n_ctx) keys: one tile, exactly one, one and a bit, several and a part."""
    cfg = ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", n_ctx=n_ctx, d_model=24, n_heads=3, d_mlp=48,
                      n_layers=1)
    _appends_equal_reruns(Transformer(cfg, seed=2), 1, n_ctx)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scores_of_a_slice_from_a_tile_boundary_are_those_cells_of_the_whole_grid(dtype):
    rng = np.random.default_rng(0)
    q, k = (rng.standard_normal((45, 3, 8)).astype(dtype) for _ in range(2))
    whole = ops.dot_scores(q, k, 16)
    assert whole.dtype == dtype and whole.flags.c_contiguous
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(whole, np.einsum("ihd,jhd->hij", q, k), rtol=tol, atol=tol)
    for q0 in (0, ops.QUERY_BLOCK, 40 - 40 % ops.QUERY_BLOCK):
        for k0 in (0, 16, 32):
            assert np.array_equal(ops.dot_scores(q[q0:], k[k0:], 16), whole[:, q0:, k0:]), (q0, k0)
            assert np.array_equal(ops.dot_scores(q[q0:q0 + 1], k[k0:k0 + 1], 16), whole[:, q0:q0 + 1, k0:k0 + 1])


@pytest.fixture
def blocks_only(monkeypatch):
    """As on a BLAS whose rows are not stable: every product in fixed-shape blocks and tiles."""
    monkeypatch.setattr(ops, "stable_rows", lambda *a: 0)
    monkeypatch.setattr(ops, "scores_stable", lambda *a: False)
    ops._row_block.cache_clear()  # it remembers what stable_rows said
    yield
    ops._row_block.cache_clear()


def _counted(n: int):
    """(model, multiply-adds of an append after n tokens, of a full run of n + 1) for the bench's model."""
    cfg = ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", n_ctx=n + 1, d_model=64, n_heads=4, d_mlp=256,
                      n_layers=3)
    model = Transformer(cfg, seed=0)
    text = (TEXT * 4)[: n + 1]
    trace = model.run(text[:n])
    with ops.counting_madds() as appended:
        append(model, trace, text)
    with ops.counting_madds() as full:
        model.run(text)
    return model, appended[0], full[0]


def _up(x: int, b: int) -> int:
    return -(-x // b) * b  # x rounded up to a whole number of blocks


@pytest.mark.parametrize("n", [64, 128])
def test_an_append_costs_two_rows_of_every_product_where_blas_rows_are_stable(n):
    """Counted multiply-adds, each product's rows and padding included. On this machine's BLAS (OpenBLAS)
    every product of this model is row-stable, so an append computes two rows (the new one and a row of
    zeros) of every product, and the new key's column as two rows of the swapped product."""
    model, appended, full = _counted(n)
    cfg, n1 = model.config, n + 1
    weights = [ops.product_weight(node.op, [model.params[p] for p in node.params], node.attrs)
               for node in model.graph.nodes if node.op in ("linear", "proj_heads")]
    assert all(ops.row_block(w) == 1 for w in weights), "this BLAS's rows are not stable for these shapes"
    assert ops.score_blocks(cfg.n_ctx, n1, cfg.d_head, np.float64) == (1, 1)
    assert ops.mix_block(cfg.n_ctx, cfg.d_head, np.float64) == 1
    lanes = ops.LANES
    per_row = sum(w.shape[0] * _up(w.shape[1], lanes) for w in weights)  # zero columns up to whole lanes
    heads = cfg.n_layers * cfg.n_heads * cfg.d_head  # a dot product of d_head in every head of every layer
    assert full == n1 * per_row + heads * (n1 * _up(n1, lanes) + n1 * cfg.n_ctx)  # Q·Kᵀ, then pattern·V
    # two rows of every product; the new query against every key; the new key against every earlier query
    # (keys as rows); pattern·V for two rows
    assert appended == 2 * per_row + heads * (2 * _up(n1, lanes) + 2 * _up(n, lanes) + 2 * cfg.n_ctx)
    # 2/(n + 1) of every product but Q·Kᵀ, where the new key's column is a second pair of rows: 2.1/n of a full
    # run at n = 64, 2.2/n at 128, against a goal of 2/n (README "Generation speed"); blocks gave 5–6/n
    assert appended * n <= 2.3 * full


@pytest.mark.parametrize("n", [64, 128])
def test_without_stable_rows_an_append_computes_a_block_of_rows_and_one_tile_of_the_new_keys_column(n, blocks_only):
    model, appended, full = _counted(n)
    cfg = model.config
    weights = [model.params[node.params[0]] for node in model.graph.nodes if node.op in ("linear", "proj_heads")]
    per_row = sum(w.size for w in weights)
    heads = cfg.n_layers * cfg.n_heads * cfg.d_head
    block, rows, keys = ops.ROW_BLOCK, _up(n + 1, ops.ROW_BLOCK), _up(n + 1, ops.KEY_BLOCK)
    queries = _up(n + 1, ops.QUERY_BLOCK)
    assert full == rows * per_row + heads * (queries * keys + rows * cfg.n_ctx)  # Q·Kᵀ, then pattern·V
    # one block of rows; the new query's tiles of Q·Kᵀ (against every key); the earlier queries against one
    # tile of keys (the new key's column); pattern·V for one block of rows
    assert appended == block * per_row + heads * (ops.QUERY_BLOCK * keys + n * ops.KEY_BLOCK + block * cfg.n_ctx)
    assert appended * n < 7 * full  # 5–6/n of a full run


@pytest.mark.parametrize("positional", ["learned", "rope"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_blocks_and_tiles_still_match_a_full_rerun_bit_for_bit(blocks_only, positional, dtype):
    cfg = ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", n_ctx=40, d_model=32, n_heads=2, d_mlp=64,
                      n_layers=2, positional=positional, dtype=dtype)
    _appends_equal_reruns(Transformer(cfg, seed=5), 1, 40)


def test_an_append_computes_one_block_of_rows(monkeypatch):
    model = Transformer(ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", n_ctx=40), seed=0)
    trace = model.run(TEXT[:30])
    rows = []
    real = ops.rows_matmul
    monkeypatch.setattr(ops, "rows_matmul", lambda x, w: rows.append(len(x)) or real(x, w))
    append(model, trace, TEXT[:31])
    assert rows and max(rows) <= ops.ROW_BLOCK
    rows.clear()
    model.run(TEXT[:31])
    assert max(rows) == 31


def test_earlier_rows_are_the_cached_arrays_values():
    model = Transformer(ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", n_ctx=40), seed=0)
    old = model.run(TEXT[:10])
    new = append(model, old, TEXT[:11])
    for name in ("blocks.0.attn.hook_k", "blocks.1.attn.hook_v", "logits"):
        assert new[name].shape[0] == 11 and np.array_equal(new[name][:10], old[name])
    assert np.all(new["blocks.0.attn.hook_pattern"][:, :10, 10] == 0)


def test_rerun_of_an_appended_token_uses_the_cache(monkeypatch):
    model = Transformer(ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", n_ctx=40), seed=0)
    old = model.run(TEXT[:12])
    rows = []
    real = ops.rows_matmul
    monkeypatch.setattr(ops, "rows_matmul", lambda x, w: rows.append(len(x)) or real(x, w))
    new, changes = model.rerun(old, tokens=TEXT[:13])
    assert max(rows) <= ops.ROW_BLOCK and "logits" in changes
    assert np.array_equal(new["logits"], model.run(TEXT[:13])["logits"])


def test_what_cannot_be_cached_is_refused():
    model = Transformer(ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", n_ctx=40), seed=0)
    trace = model.run(TEXT[:5])
    with pytest.raises(CacheMiss):
        append(model, trace, TEXT[:7])  # two tokens
    with pytest.raises(CacheMiss):
        append(model, trace, "j" + TEXT[1:6])  # an earlier token changed
    enc = Transformer(ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", arch="encoder",
                                  attention="full"), seed=0)
    with pytest.raises(CacheMiss, match="encoder"):
        append(enc, enc.run("abc"), "abcd")


def test_big_weights_in_bigger_blocks_still_match_bit_for_bit(blocks_only):
    cfg = ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", n_ctx=40, d_model=64, n_heads=2, d_mlp=1056,
                      n_layers=1)
    assert ops.row_block(np.zeros((64, 1056))) == ops.BIG_BLOCK
    model = Transformer(cfg, seed=4)
    _appends_equal_reruns(model, 30, 40)


def test_linear_attention_says_it_has_no_cache_and_an_append_still_equals_a_full_run():
    cfg = ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", n_ctx=40, attention="linear")
    model = Transformer(cfg, seed=1)
    trace = model.run(TEXT[:5])
    with pytest.raises(CacheMiss, match="running state S"):
        append(model, trace, TEXT[:6])
    grown, _ = model.rerun(trace, tokens=TEXT[:6])
    full = model.run(TEXT[:6])
    assert all(np.array_equal(full[name], grown[name]) for name in full)


def test_attention_grids_grow_in_place_and_a_branch_leaves_the_other_trace_alone():
    model = Transformer(ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", n_ctx=40), seed=0)
    a = append(model, model.run(TEXT[:10]), TEXT[:11])  # the first append moves the rows into buffers
    b = append(model, a, TEXT[:12])
    for name in ("blocks.0.attn.hook_scores_raw", "blocks.0.attn.hook_pattern", "blocks.1.attn.hook_k"):
        assert np.shares_memory(a[name], b[name]), name  # the earlier cells are not copied
    c = append(model, a, TEXT[:11] + "j")  # after an undo: another token in place of b's
    d = append(model, append(model, c, TEXT[:11] + "ja"), TEXT[:11] + "jab")  # and more appends after it
    for trace, text in ((a, TEXT[:11]), (b, TEXT[:12]), (c, TEXT[:11] + "j"), (d, TEXT[:11] + "jab")):
        full = model.run(text)
        for name in full:
            assert np.array_equal(full[name], trace[name]), (text, name)
    assert not np.shares_memory(b["blocks.0.attn.hook_pattern"], c["blocks.0.attn.hook_pattern"])


def test_grids_grow_by_a_quarter_not_to_n_ctx_at_once():
    model = Transformer(ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", n_ctx=400), seed=0)
    trace = append(model, model.run(TEXT[:40]), TEXT[:41])
    buf = trace["blocks.0.attn.hook_scores_raw"].base
    assert buf.shape[1:] == (50, 50)  # the 40 it held and a quarter more, not room for 400
    assert trace["blocks.0.attn.hook_k"].base.shape[0] == 400  # rows are small: room for n_ctx at once


def test_a_product_that_settles_late_pads_a_lone_row_to_where_it_settles():
    """OpenBLAS sums over 1,024 numbers with another kernel below some rows (here 16 rows of 64 columns):
    the MLP read-out's lone new row is computed beside zero rows up to that size, still bit for bit."""
    cfg = ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", n_ctx=40, d_model=64, n_heads=2, d_mlp=1024,
                      n_layers=1)
    least = ops.stable_rows(1024, 64, np.dtype(np.float64).str)
    assert 2 < least <= ops.MOST_PADDED_ROWS, least  # what this machine's BLAS does (see the docstring)
    model = Transformer(cfg, seed=4)
    _appends_equal_reruns(model, 1, 40)

def test_an_append_pads_each_product_to_the_rows_it_settles_at(monkeypatch):
    cfg = ModelConfig(vocab=tuple("abcdefghij"), tokenization="char", n_ctx=40, d_model=64, n_heads=2, d_mlp=1024,
                      n_layers=1)
    model = Transformer(cfg, seed=4)
    trace = model.run(TEXT[:20])
    calls = []
    real = ops._blocks_product
    monkeypatch.setattr(ops, "_blocks_product", lambda a, b, out=None: calls.append((a.shape, b.shape)) or
                        real(a, b, out))
    append(model, trace, TEXT[:21])
    rows = {b[-2:]: a[-2] for a, b in calls if len(a) == 2}  # weight shape -> rows of the (2-D) product
    least = ops.stable_rows(1024, 64, np.dtype(np.float64).str)
    assert rows[(1024, 64)] == least  # the MLP read-out: a lone row beside zero rows up to where it settles
    assert rows[(64, 1024)] == 2 and rows[(64, 16)] == 2  # the others: beside one row of zeros
