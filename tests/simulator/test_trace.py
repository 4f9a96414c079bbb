"""The Trace mapping (names, aliases, steps, labels) and `explain`, which writes out one number."""
import math
import re

import numpy as np
import pytest

from simulator import ModelConfig, Transformer
from simulator.explain import fmt
from simulator.ops import FORWARD

TEXT = "the cat sat on the big mat"

CONFIGS = {
    "default": ModelConfig(),
    "rope-learned-relu-window": ModelConfig(positional="rope", attention="window", window=2, activation="relu"),
    "learned": ModelConfig(positional="learned", norm="post"),
    "encoder-window": ModelConfig(arch="encoder", attention="window", window=2, positional="none", norm="none"),
    "encoder-decoder": ModelConfig(arch="encoder-decoder", n_layers=1),
    "denseformer": ModelConfig(residual="denseformer"),
    "attnres": ModelConfig(residual="attnres"),
    "block_attnres": ModelConfig(residual="block_attnres", depth_blocks=2, n_layers=2),
    "linear": ModelConfig(attention="linear", positional="rope"),
    "encoder-linear": ModelConfig(arch="encoder", attention="linear", n_layers=1),
    "bigbird": ModelConfig(arch="encoder", attention="bigbird", window=2, n_global=1, n_random=2),
}


def run(cfg: ModelConfig, seed: int = 3):
    m = Transformer(cfg, seed=seed)
    return m.run(("the cat sat", "a dog ran on") if cfg.arch == "encoder-decoder" else TEXT, temperature=0.8)


def final_number(text: str) -> str:
    """The number after the last '=' (the result of the calculation)."""
    return text.rsplit("= ", 1)[1].split()[0].rstrip(":")


def sample_indices(shape: tuple[int, ...], rng, n: int = 6) -> list[tuple[int, ...]]:
    first, last = tuple(0 for _ in shape), tuple(s - 1 for s in shape)
    return [first, last] + [tuple(int(rng.integers(0, s)) for s in shape) for _ in range(n - 2)]


# --- explain ---

def test_the_configs_cover_every_operation():
    ops = {s.op for cfg in CONFIGS.values() for s in run(cfg).steps}
    vit = ModelConfig(arch="vit", attention="full", positional="learned")
    ops |= {s.op for s in Transformer(vit).run(np.full((8, 8), 4.0)).steps}  # an image model's own steps
    assert ops == set(FORWARD)


# Small enough that every sum an explanation writes out is written out whole (at most 4 terms).
SMALL = dict(d_model=4, n_heads=2, d_mlp=4, n_ctx=4)
NUMBER = re.compile(r"−?\d+(?:\.\d+)?(?:e[+\-−]\d+)?")


def _rounding(token: str) -> float:
    """How far the true number may be from `token`, as `fmt` prints it."""
    if "." not in token and "e" not in token:
        return 0.0  # an index, a position, a size: exact
    if "e" in token:
        return 0.005 * abs(float(token.replace("−", "-")))  # three significant digits
    return 0.0005  # three decimals


def recompute(expr: str) -> tuple[float, float]:
    """Evaluate the arithmetic an explanation prints, and how far rounding of its numbers may move it."""
    numbers = [m.group() for m in NUMBER.finditer(expr)]
    code = NUMBER.sub(lambda m, c=iter(range(len(numbers))): f"v[{next(c)}]", expr)
    for a, b in (("−", "-"), ("×", "*"), ("·", "*"), ("÷", "/"), ("√", "sqrt"), ("^", "**"), ("½", "0.5")):
        code = code.replace(a, b)
    values = np.array([float(n.replace("−", "-")) for n in numbers])
    env = {"sqrt": math.sqrt, "exp": math.exp, "sin": math.sin, "cos": math.cos, "max": max}
    f = lambda v: eval(code, {"__builtins__": {}}, {**env, "v": v})  # noqa: E731, S307
    value = f(values)
    bound = 0.0
    for i, token in enumerate(numbers):
        d = _rounding(token)
        if d:
            moved = values.copy()
            moved[i] += d
            bound += abs(f(moved) - value)
    return value, bound


def gelu_reference(x: float) -> float:
    return 0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def check_explanation(model, trace, step, index) -> None:
    """Redo the explanation's arithmetic from the numbers it prints; the result must be the step's value."""
    text = trace.explain(step.name, index)
    want = step.value[index]
    assert final_number(text) == fmt(want)
    parts = text.split(" = ")
    op = step.node.op
    if op == "mask" and want == -np.inf:
        assert "−∞:" in text
        return
    if op == "mask":  # an allowed cell passes its scaled score through
        h, i, j = map(int, re.findall(r"\d+", parts[1]))
        assert (h, i, j) == index
        got, bound = trace[step.node.inputs[0]][index], 0.0
    elif op in ("embed", "pos_learned"):
        row, col = map(int, re.findall(r"\d+", parts[1].split("(")[0])[:2])
        if op == "embed":
            assert row == model.tokenizer.ids[trace.token_labels(step.name)[index[0]]]
        got, bound = model.params[step.node.params[0]][row, col], 0.0
    elif op == "concat":
        p, h, e = map(int, re.findall(r"\d+", parts[1].split("(")[0]))
        got, bound = trace[step.node.inputs[0]][p, h, e], 0.0
    elif op == "act" and step.node.attrs["fn"] == "gelu":
        x = float(parts[1][5:-1].replace("−", "-"))
        got, bound = gelu_reference(x), 0.0005 * 1.2  # GELU's slope is below 1.2
    elif op == "pos_sinusoidal":
        got, bound = recompute(parts[1])  # sin(p / 10000^(2i/d)): exact integers
    else:
        expr = parts[-2].split(": ")[-1]
        assert "…" not in expr, "a sum cut short cannot be redone: keep the model small"
        got, bound = recompute(expr)
    assert abs(got - want) <= 2 * bound + 1e-9 * max(1.0, abs(want)), (step.name, index, text, got)


@pytest.mark.parametrize("key", CONFIGS)
def test_explain_arithmetic_redone_from_its_printed_numbers_gives_the_value(key):
    cfg = CONFIGS[key].replace(**SMALL, n_layers=1 if "attnres" in key else 2)
    model = Transformer(cfg, seed=3)
    trace = model.run(("the cat sat", "a dog ran on") if cfg.arch == "encoder-decoder" else "the cat sat on",
                      temperature=0.8)
    rng = np.random.default_rng(0)
    for step in trace.steps:
        for index in sample_indices(step.value.shape, rng):
            check_explanation(model, trace, step, index)


def test_the_recomputation_catches_a_wrong_explanation(monkeypatch):
    """A control: an explanation whose printed terms do not give its value fails the check."""
    import simulator.explain
    model = Transformer(CONFIGS["default"].replace(**SMALL), seed=3)
    trace = model.run("the cat sat on")
    step = trace.step("blocks.0.hook_resid_mid")
    check_explanation(model, trace, step, (1, 2))
    honest = simulator.explain.EXPLAIN["add"]
    monkeypatch.setitem(simulator.explain.EXPLAIN, "add", lambda t: honest(t).replace(" + ", " − ", 2))
    with pytest.raises(AssertionError):
        check_explanation(model, trace, step, (1, 2))


def test_explain_scale_shows_raw_score_and_root_of_d_head():
    trace = run(CONFIGS["default"])
    raw = trace["blocks.0.attn.hook_scores_raw"][1, 4, 2]
    text = trace.explain("blocks.0.attn.hook_scores_scaled", (1, 4, 2))
    # d_head = 16 / 2 = 8: scaled = raw ÷ √8 = raw ÷ 2.828
    assert text.startswith("scores_scaled[h1, 4, 2] = scores_raw[h1, 4, 2] ÷ √d_head")
    assert f"= {fmt(raw)} ÷ 2.828 = {fmt(raw / math.sqrt(8))}" in text


def test_explain_scores_writes_out_the_dot_product():
    trace = run(CONFIGS["default"])
    q, k = trace["blocks.1.attn.hook_q"][3, 0], trace["blocks.1.attn.hook_k"][1, 0]
    text = trace.explain("blocks.1.attn.hook_scores_raw", (0, 3, 1))
    assert text.startswith("scores_raw[h0, 3, 1] = q₃·k₁ = ")
    first = f"{fmt(q[0])}×{fmt(k[0])}".replace("−", "")  # signs are bracketed: compare magnitudes
    assert first in text.replace("(", "").replace(")", "").replace("−", "")
    # d_head 8: a sum of up to eight terms is written out in full
    products = text.split(" = ")[2].split(" + ")
    assert len(products) == 8 and "more" not in text
    last = f"{fmt(q[7])}×{fmt(k[7])}".replace("−", "")
    assert products[-1].replace("(", "").replace(")", "").replace("−", "") == last


def test_explain_layernorm_shows_mean_and_variance():
    trace = run(CONFIGS["default"])
    row = trace["blocks.0.hook_resid_pre"][2]
    text = trace.explain("blocks.0.ln1.hook_normalized", (2, 5))
    assert fmt(row.mean()).lstrip("−") in text
    assert f"√({fmt(row.var())} + 1e-05)" in text


def test_explain_softmax_shows_the_exponentials_and_their_sum():
    trace = run(CONFIGS["default"])
    masked = trace["blocks.0.attn.hook_attn_scores"][0, 1]  # query 1 sees keys 0 and 1
    e = np.exp(masked[:2] - masked[:2].max())
    text = trace.explain("blocks.0.attn.hook_pattern", (0, 1, 0))
    assert f"= {fmt(e[0])} / {fmt(e.sum())} = " in text
    assert "0.000" in text  # the hidden keys contribute exp(−∞) = 0
    assert f"with max = {fmt(masked[:2].max())} (the largest in the row" in text


def test_explain_gelu_writes_out_the_tanh_term():
    trace = run(CONFIGS["default"])
    x = float(trace["blocks.0.mlp.hook_pre"][1, 2])
    text = trace.explain("blocks.0.mlp.hook_post", (1, 2))
    inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
    assert "tanh(√(2/π)·(x + 0.044715·x³))" in text
    t = fmt(math.tanh(inner))
    assert f"tanh({fmt(inner)})" in text and f"(1 + {f'({t})' if math.tanh(inner) < 0 else t})" in text
    assert text.endswith(fmt(trace["blocks.0.mlp.hook_post"][1, 2]))


def test_explain_embed_add_linear_and_probs_name_their_inputs():
    trace = run(CONFIGS["default"])
    assert trace.explain("hook_embed", (1, 0)).startswith("embed[1, 0] = W_E[3, 0] (token id 3 at position 1)")
    assert "sin(2 / 10000^(4/16))" in trace.explain("hook_pos_embed", (2, 4))
    assert "cos(2 / 10000^(4/16))" in trace.explain("hook_pos_embed", (2, 5))
    add = trace.explain("blocks.0.hook_resid_mid", (0, 0))
    assert add.startswith("resid_mid[0, 0] = resid_pre[0, 0] + attn_out[0, 0] = ")
    lin = trace.explain("blocks.0.hook_mlp_out", (0, 3))
    assert "Σᵢ post[0, i]·W_out[i, 3] + b[3]" in lin and "(56 more)" in lin
    probs = trace.explain("probs", (0, 2))
    assert f"/{fmt(0.8)}" in probs


@pytest.mark.parametrize("key, index, why", [
    ("default", (0, 1, 3), "key 3 comes after query 1"),
    ("rope-learned-relu-window", (0, 4, 1), "key 1 is outside the window of query 4"),
    ("encoder-window", (0, 1, 4), "key 4 is outside the window of query 1"),
    ("encoder-window", (0, 4, 1), "key 1 is outside the window of query 4"),
])
def test_explain_a_masked_cell_says_why_it_is_hidden(key, index, why):
    trace = run(CONFIGS[key])
    name = "blocks.0.attn.hook_attn_scores"
    assert trace[name][index] == -np.inf
    text = trace.explain(name, index)
    assert why in text and "−∞" in text


def test_an_old_trace_explains_with_the_weights_it_was_computed_with():
    m = Transformer(ModelConfig(), seed=3)
    old = m.run(TEXT)
    before = old.explain("blocks.0.attn.hook_q", (0, 0, 0))
    m.set_param("blocks.0.attn.b_Q", 5.0, index=(0, 0))
    assert old.explain("blocks.0.attn.hook_q", (0, 0, 0)) == before
    new = m.run(TEXT).explain("blocks.0.attn.hook_q", (0, 0, 0))
    assert new != before and new.split(" = ")[-2].endswith("+ 5.000")


def test_explain_refuses_bad_names_and_indices():
    trace = run(CONFIGS["default"])
    with pytest.raises(KeyError, match="No intermediate called 'blocks.7.hook_resid_pre'"):
        trace.explain("blocks.7.hook_resid_pre", (0, 0))
    with pytest.raises(IndexError, match=r"shape \[7, 16\]; index \[7, 0\]"):
        trace.explain("blocks.0.hook_resid_pre", (7, 0))
    with pytest.raises(IndexError):
        trace.explain("blocks.0.hook_resid_pre", (0,))
    with pytest.raises(IndexError):
        trace.explain("blocks.0.hook_resid_pre", (-1, 0))


def test_fmt_is_readable():
    assert fmt(0.12345) == "0.123"
    assert fmt(-2.5) == "−2.500"
    assert fmt(0) == "0.000"
    assert fmt(1.5e-7) == "1.5e−07"
    assert fmt(-np.inf) == "−∞"


# --- the mapping ---

def test_trace_is_an_ordered_read_only_mapping():
    trace = run(CONFIGS["default"])
    assert list(trace) == trace.names and len(trace) == len(trace.names)
    assert trace.names[0] == "hook_embed" and trace.names[-2:] == ["logits", "probs"]
    seen = set(trace.graph.inputs)
    for step in trace.steps:  # every step reads only what came before it
        assert set(step.inputs) <= seen, step.name
        seen.add(step.name)
    with pytest.raises(ValueError):
        trace["logits"][0, 0] = 1.0
    with pytest.raises(KeyError, match="No intermediate called 'blocks.0.hook_q'"):
        trace["blocks.0.hook_q"]
    assert "blocks.0.hook_q" not in trace and 3 not in trace


def test_aliases_are_the_same_tensor_as_their_step():
    trace = run(CONFIGS["default"])
    assert "blocks.1.hook_resid_pre" in trace and "blocks.1.hook_resid_pre" not in trace.names
    assert trace["blocks.1.hook_resid_pre"] is trace["blocks.0.hook_resid_post"]
    assert trace.step("blocks.1.hook_resid_pre").name == "blocks.0.hook_resid_post"
    post = run(CONFIGS["learned"])
    assert post["blocks.0.hook_resid_mid"] is post["blocks.0.ln1.hook_normalized"]
    none = run(ModelConfig(residual="none", norm="none"))
    assert none["blocks.0.hook_resid_mid"] is none["blocks.0.hook_attn_out"]


def test_steps_carry_their_node_description():
    trace = run(CONFIGS["default"])
    step = trace.step("blocks.1.attn.hook_pattern")
    assert step.value is trace["blocks.1.attn.hook_pattern"]
    assert (step.op, step.layer, step.sublayer, step.stack, step.major) == ("softmax", 1, "attn", "", False)
    assert step.inputs == ("blocks.1.attn.hook_attn_scores",)
    assert step.head is None
    assert "softmax" in step.formula and step.description
    assert trace.step("blocks.0.attn.hook_q").params == ("blocks.0.attn.W_Q", "blocks.0.attn.b_Q")
    majors = [s.name for s in trace.steps if s.major]
    assert majors == ["blocks.0.hook_resid_pre", "blocks.0.hook_attn_out", "blocks.0.hook_resid_mid",
                      "blocks.0.hook_mlp_out", "blocks.0.hook_resid_post", "blocks.1.hook_attn_out",
                      "blocks.1.hook_resid_mid", "blocks.1.hook_mlp_out", "blocks.1.hook_resid_post",
                      "ln_final.hook_normalized", "logits", "probs"]
    assert all(s.formula and s.description for s in trace.steps)


def test_inputs_tokens_temperature_and_labels():
    trace = run(CONFIGS["default"])
    assert trace.tokens == TEXT.split()
    assert trace.input("input_ids").tolist() == [1, 3, 5, 7, 1, 9, 8]
    assert trace.temperature == 0.8
    assert trace.token_labels("blocks.0.attn.hook_q") == TEXT.split()
    ed = run(CONFIGS["encoder-decoder"])
    assert ed.tokens == (["the", "cat", "sat"], ["a", "dog", "ran", "on"])
    assert ed.token_labels("encoder.blocks.0.hook_resid_pre") == ["the", "cat", "sat"]
    assert ed.token_labels("decoder.blocks.0.cross_attn.hook_q") == ["a", "dog", "ran", "on"]
    assert ed.token_labels("logits") == ["a", "dog", "ran", "on"]
    assert ed["decoder.blocks.0.cross_attn.hook_pattern"].shape == (2, 4, 3)  # [head, target, source]


def test_graph_names_follow_transformerlens_and_every_op_is_known():
    m = Transformer(ModelConfig(positional="rope", norm="post"))
    names = m.graph.index
    for n in ("blocks.0.attn.hook_rot_q", "blocks.0.attn.hook_rot_k", "blocks.1.hook_sum_mid",
              "blocks.1.hook_sum_post", "blocks.1.ln2.hook_normalized"):
        assert n in names
    assert "ln_final.hook_normalized" not in names  # post-LN has no final norm
    assert all(n.op in FORWARD for n in m.graph.nodes)
    assert all(re.fullmatch(r"[a-z_]+(\.[A-Za-z0-9_]+)*", n.name) for n in m.graph.nodes)
