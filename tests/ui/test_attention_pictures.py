"""The pictures of the attention patterns: hidden cells are exactly the pattern's hidden cells (the heatmap
hatches every −∞ cell), and the operation's note names the pattern's numbers."""
import numpy as np
import pytest

from simulator import ModelConfig, Transformer
from simulator.patterns import allowed
from ui.pictures.picture_items import Panel, Symbol
from ui.pictures.step_pictures import build_picture


@pytest.mark.parametrize("attention, kw, note", [
    ("strided", {"stride": 3}, "multiple\nof 3 away"),
    ("global", {"n_global": 2}, "+ 2 global"),
    ("bigbird", {"n_global": 1, "n_random": 2, "random_seed": 4}, "+ 2 random (seed 4)"),
])
@pytest.mark.parametrize("arch", ["decoder", "encoder"])
def test_the_mask_picture_hides_exactly_the_patterns_cells(attention, kw, note, arch):
    model = Transformer(ModelConfig(arch=arch, attention=attention, window=2, n_ctx=8, **kw), seed=0)
    trace = model.run("the cat sat on the mat and the")
    name = "blocks.0.attn.hook_attn_scores"
    picture = build_picture(trace, model, {}, name, head=1)
    big = picture.rows[1]
    current = next(p for p in big if isinstance(p, Panel) and p.current)
    kind = model.graph.node(name).attrs["kind"]
    want = allowed(kind, 8, 8, 2, kw.get("stride", 2), kw.get("n_global", 1), kw.get("n_random", 1),
                   kw.get("random_seed", 0))
    np.testing.assert_array_equal(np.isfinite(current.values), want)
    symbol = next(s for s in big if isinstance(s, Symbol))
    assert note in symbol.note
    assert ("hide the future" in symbol.note) == (arch == "decoder")


def test_linear_attention_steps_have_their_own_pictures():
    model = Transformer(ModelConfig(attention="linear"), seed=0)
    trace = model.run("the cat sat on the mat")
    a = "blocks.0.attn."
    kinds = {n: build_picture(trace, model, {}, a + n, head=1) for n in
             ("hook_phi_q", "hook_kv_state", "hook_k_sum", "hook_z", "hook_linear_weights", "hook_z_quadratic")}
    assert {p.kind for p in kinds.values()} == {"linear_attention"}
    state = kinds["hook_kv_state"].rows[0]
    rows = next(p for p in state if isinstance(p, Panel) and p.current)
    np.testing.assert_array_equal(rows.values, trace[a + "hook_kv_state"][:, 1])  # one row per token
    assert rows.rows == ["the", "cat", "sat", "on", "the", "mat"] and rows.cols[:3] == ["0,0", "0,1", "0,2"]
    square = kinds["hook_kv_state"].rows[1][-1]  # the last row as the d_head × d_head memory
    np.testing.assert_array_equal(square.values, trace[a + "hook_kv_state"][5, 1].reshape(8, 8))
    check = kinds["hook_z_quadratic"].rows[0]
    note = next(s for s in check if isinstance(s, Symbol) and "difference" in s.note).note
    assert float(note.rsplit(" ", 1)[-1]) < 1e-12
    weights = next(p for p in kinds["hook_linear_weights"].rows[0] if isinstance(p, Panel) and p.current)
    assert weights.kind == "prob" and (np.triu(weights.values, 1) == 0).all()
    assert "Linear attention" in kinds["hook_kv_state"].title
