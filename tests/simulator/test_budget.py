"""The memory budget: every model and every run is sized from its config before anything is allocated."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from simulator import budget
from simulator.budget import BudgetError, check_run, estimate, max_tokens
from simulator.config import ModelConfig
from simulator.model import Transformer
from simulator.params import param_shapes

CONFIGS = [
    {}, {"arch": "encoder", "attention": "full"}, {"arch": "encoder-decoder"}, {"residual": "attnres"},
    {"residual": "block_attnres"}, {"residual": "denseformer"}, {"positional": "rope"},
    {"positional": "learned"}, {"norm": "post"}, {"attention": "window"},
]


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()) or "default")
def test_estimate_is_the_real_size_of_a_trace(kw):
    cfg = ModelConfig(**kw)
    model = Transformer(cfg)
    if cfg.arch == "encoder-decoder":
        toks, sizes = (["the", "cat", "sat"], ["a", "dog", "ran", "on", "mat"]), (3, 5)
    else:
        toks, sizes = ["the", "cat", "sat", "on", "mat"], (5,)
    trace = model.run(toks)
    est = estimate(cfg, *sizes)
    assert est.trace == sum(trace[n.name].nbytes for n in trace.graph.nodes)
    assert est.weights == sum(p.nbytes for p in model.params.values())
    assert est.largest == max(trace[n.name].nbytes for n in trace.graph.nodes)


def test_attention_grows_with_the_square_of_the_tokens():
    cfg = ModelConfig(n_ctx=64)
    a, b = estimate(cfg, 16), estimate(cfg, 32)
    assert b.attention == 4 * a.attention
    # four [head, q, k] steps a layer: raw, scaled and masked scores, and the pattern
    assert a.attention == cfg.n_layers * 4 * cfg.n_heads * 16 * 16 * 8


def test_max_tokens_is_the_largest_run_that_fits(monkeypatch):
    cfg = ModelConfig(n_ctx=4096)
    monkeypatch.setattr(budget, "MEMORY_BYTES", 50_000_000)
    n = max_tokens(cfg)
    assert 0 < n < 4096
    check_run(cfg, ["the"] * n)
    with pytest.raises(BudgetError, match=f"at most {n:,} tokens"):
        check_run(cfg, ["the"] * (n + 1))


def test_the_budget_is_adjustable_for_scripts(monkeypatch):
    model = Transformer(ModelConfig(n_ctx=64))
    model.run(["the"] * 64)
    monkeypatch.setattr(budget, "MEMORY_BYTES", 100_000)
    with pytest.raises(BudgetError, match="the limit is 100.0 kB"):
        model.run(["the"] * 64)
    with pytest.raises(BudgetError, match="weights would take"):
        Transformer(ModelConfig(d_model=256, d_mlp=1024))


def test_rerun_with_new_tokens_is_checked_and_changes_nothing(monkeypatch):
    model = Transformer(ModelConfig(n_ctx=64))
    trace = model.run(["the", "cat"])
    monkeypatch.setattr(budget, "MEMORY_BYTES", 200_000)
    with pytest.raises(BudgetError):
        model.rerun(trace, tokens=["the"] * 64)
    assert trace.tokens == ["the", "cat"]


def test_weights_are_refused_before_they_are_allocated(monkeypatch):
    big = ModelConfig(vocab=tuple(f"t{i}" for i in range(1000)), d_model=512, d_mlp=2048, n_heads=8, n_layers=12)
    assert budget.weight_bytes(big) == 8 * sum(np.prod(s) for s in param_shapes(big).values())
    monkeypatch.setattr(budget, "MEMORY_BYTES", budget.weight_bytes(big) - 1)
    monkeypatch.setattr("simulator.model.init_params", lambda *a, **k: pytest.fail("allocated"))
    with pytest.raises(BudgetError, match="This model's weights would take 310.8 MB"):
        Transformer(big)


# The issue's examples, each in a process that cannot allocate more than 1.5 GB: without the
# budget they allocate tens of gigabytes (and would be killed); with it they are refused.
EXAMPLES = {
    "long input": """
        model = Transformer(ModelConfig(n_ctx=100_000, vocab=("a", "b")))
        model.run(["a"] * 12_000)
    """,
    "deep and wide": """
        model = Transformer(ModelConfig(n_layers=256, n_heads=64, d_model=64, d_mlp=64, n_ctx=1024))
        model.run(["the"] * 8)  # small inputs still run
        print("small ok", flush=True)
        model.run(["the"] * 1024)
    """,
    "dialog-sized model": """
        model = Transformer(ModelConfig(n_layers=48, n_heads=64, d_model=128, n_ctx=1024))
        model.run(["the"] * 1024)
    """,
}


def run_capped(code: str, cap: int = 1_500_000_000) -> subprocess.CompletedProcess:
    src = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
        from simulator.config import ModelConfig
        from simulator.model import Transformer
        from simulator.budget import BudgetError
        try:
            exec({textwrap.dedent(code)!r})
        except BudgetError as exc:
            print("REFUSED:", exc)
    """)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_issue_examples_are_refused_under_a_memory_cap(name):
    result = run_capped(EXAMPLES[name])
    assert result.returncode == 0, result.stderr
    assert "REFUSED: Running this model on" in result.stdout
    assert "the limit is 1.1 GB" in result.stdout  # 1 GiB
    assert "To fit, use at most" in result.stdout
    assert "attention grids" in result.stdout


def test_the_cap_would_catch_an_unchecked_run(monkeypatch):
    """Control: with the budget raised, the same run breaks the memory cap instead of being refused."""
    result = run_capped("""
        import simulator.budget
        simulator.budget.MEMORY_BYTES = 1 << 50
        simulator.budget.WORK_MADDS = 10 ** 20
        model = Transformer(ModelConfig(n_ctx=100_000, vocab=("a", "b")))
        model.run(["a"] * 12_000)
    """)
    assert "REFUSED" not in result.stdout
    assert "MemoryError" in result.stderr


def _arrays_bytes(*mappings) -> int:
    return sum(a.nbytes for m in mappings for a in m.values())


@pytest.mark.parametrize("kw", [{}, {"arch": "encoder-decoder"}, {"residual": "attnres"}],
                         ids=["default", "encoder-decoder", "attnres"])
def test_the_backward_estimate_covers_what_a_backward_pass_keeps(kw):
    cfg = ModelConfig(**kw)
    model = Transformer(cfg)
    if cfg.arch == "encoder-decoder":
        toks, targets, sizes = (["the", "cat", "sat"], ["a", "dog", "ran"]), ["dog", "ran", "on"], (3, 3)
    else:
        toks, targets, sizes = ["the", "cat", "sat", "on"], ["cat", "sat", "on", "mat"], (4,)
    trace = model.run(toks)
    _, grads = model.loss_and_grads(toks, targets)
    kept = _arrays_bytes(model.params, grads.params, grads.activations) + sum(
        trace[n.name].nbytes for n in trace.graph.nodes)
    assert kept <= budget.backward_bytes(cfg, *sizes) <= 1.5 * kept


def test_gradients_too_large_for_the_budget_are_refused_before_they_are_computed(monkeypatch):
    model = Transformer(ModelConfig())
    toks = ["the", "cat", "sat", "on", "mat"]
    # the forward pass fits, its gradients do not
    monkeypatch.setattr(budget, "MEMORY_BYTES", estimate(model.config, 5).total)
    model.run(toks)
    import simulator.backward
    monkeypatch.setattr(simulator.backward, "forward_values", lambda *a, **k: pytest.fail("computed anyway"))
    with pytest.raises(BudgetError, match="The backward pass of this model on 5 tokens, .* gradient .* "
                                          "would keep .*use fewer tokens"):
        model.loss_and_grads(toks, toks[1:] + ["mat"])


def test_a_training_run_too_large_for_the_budget_is_refused_and_changes_nothing(monkeypatch):
    from simulator.tasks import get_task
    from simulator.train import train

    task = get_task("reverse")
    model = Transformer(task.config, seed=0)
    before = {n: v.copy() for n, v in model.params.items()}
    n = task.config.n_ctx
    # a backward pass fits, but not the weights' gradients and Adam's moments as well
    monkeypatch.setattr(budget, "MEMORY_BYTES", budget.backward_bytes(model.config, n))
    assert budget.training_bytes(model.config, n) > budget.MEMORY_BYTES
    need = budget.size_text(budget.training_bytes(model.config, n))
    with pytest.raises(BudgetError, match=f"Training this model on sequences of {n} tokens, .*Adam's moments, "
                                          f"would keep {need}"):
        train(model, task, steps=1, batch_size=1)
    assert all(np.array_equal(model.params[k], v) for k, v in before.items())
    monkeypatch.setattr(budget, "MEMORY_BYTES", budget.training_bytes(model.config, n))
    budget.check_training(model.config, n)  # the figure itself fits: the limit is inclusive
