"""The training loop and the command-line trainer: deterministic for a seed, and it learns."""
import json

import numpy as np
import pytest

from simulator import Transformer, load
from simulator.backward import batch_loss_and_grads
from simulator.tasks import get_task
from simulator.train import check_fits, main, train

TASK = get_task("reverse")


def _run(seed, steps=4, **kw):
    model = Transformer(TASK.config, seed=seed)
    result = train(model, TASK, steps=steps, batch_size=4, seed=seed, warmup=10, eval_size=5, **kw)
    return model, result


def test_same_seed_same_weights_other_seed_other_weights():
    a, ra = _run(0)
    b, rb = _run(0)
    c, _ = _run(1)
    assert ra.losses == rb.losses
    assert all(np.array_equal(a.params[n], b.params[n]) for n in a.params)
    assert not np.array_equal(a.params["embed.W_E"], c.params["embed.W_E"])
    assert not np.array_equal(a.params["embed.W_E"], Transformer(TASK.config, seed=0).params["embed.W_E"])


def _heldout_loss(model, examples):
    return batch_loss_and_grads(model, [e.tokens for e in examples], [e.targets for e in examples],
                                [e.mask for e in examples])[0]


def test_a_short_run_lowers_the_loss():
    examples = TASK.heldout(20, seed=5)
    model = Transformer(TASK.config, seed=0)
    before = _heldout_loss(model, examples)
    result = train(model, TASK, steps=25, batch_size=8, warmup=10, seed=0, eval_size=5)
    assert result.steps == 25
    assert _heldout_loss(model, examples) < 0.8 * before


def test_callback_gets_snapshots_and_stop_keeps_the_weights():
    seen = []
    asked = []

    def stop():
        asked.append(1)
        return len(asked) > 6  # stop before the 7th step

    model, result = _run(0, steps=50, callback=lambda *a: seen.append(a), should_stop=stop, every=3,
                         eval_every=6)
    assert result.stopped and result.steps == 6
    assert [s[0] for s in seen] == [3, 6]
    assert seen[0][2] is None and 0 <= seen[1][2] <= 1  # accuracy only where it was measured
    step, loss, acc, params = seen[-1]
    assert np.isfinite(loss) and all(np.array_equal(params[n], model.params[n]) for n in params)
    assert not np.array_equal(seen[0][3]["unembed.W_U"], params["unembed.W_U"])  # snapshots are not shared


def test_stopping_between_callbacks_still_hands_over_the_weights_reached():
    seen, asked = [], []

    def stop():
        asked.append(1)
        return len(asked) == 5  # asked before each step: stop after 4

    model, result = _run(0, steps=50, callback=lambda *a: seen.append(a), every=3, should_stop=stop)
    assert [s[0] for s in seen] == [3, 4] and result.steps == 4
    assert all(np.array_equal(seen[-1][3][n], model.params[n]) for n in model.params)


def test_a_model_that_does_not_fit_is_refused_and_untouched():
    model = Transformer(seed=0)  # the classroom vocabulary, not digits
    before = dict(model.params)
    with pytest.raises(ValueError, match="vocabulary"):
        train(model, TASK, steps=2)
    with pytest.raises(ValueError, match="n_ctx"):
        check_fits(Transformer(get_task("induction").config.replace(n_ctx=8)), get_task("induction"))
    with pytest.raises(ValueError, match="batch_size"):
        train(Transformer(TASK.config), TASK, steps=2, batch_size=0)
    assert all(model.params[n] is before[n] for n in before)


def test_label_smoothing_and_dropout_are_seeded():
    a, ra = _run(3, label_smoothing=0.1, dropout=0.1)
    b, rb = _run(3, label_smoothing=0.1, dropout=0.1)
    _, rc = _run(3)
    assert ra.losses == rb.losses and ra.losses != rc.losses


def test_command_line_writes_the_model_and_its_description(tmp_path, capsys):
    out = tmp_path / "rev.npz"
    args = ["--task", "reverse", "--seed", "2", "--steps", "3", "--batch-size", "4", "--warmup", "10",
            "--out", str(out)]
    assert main(args) == 0
    model, tokens = load(out)
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["command"] == "python -m simulator.train " + " ".join(args)
    assert info["task"] == "reverse" and 0 <= info["accuracy"] <= 1
    assert tokens == TASK.demo_tokens()
    same = Transformer(TASK.config, seed=2)
    train(same, TASK, steps=3, batch_size=4, warmup=10, seed=2, eval_size=5)
    assert all(np.array_equal(model.params[n], same.params[n]) for n in same.params)
    assert "held-out token accuracy" in capsys.readouterr().out


def test_command_line_reports_bad_settings(capsys):
    assert main(["--task", "reverse", "--steps", "0"]) == 2
    assert "steps" in capsys.readouterr().err
