"""Train a model on a toy task: the library loop the app uses, and a command-line trainer.

    python -m simulator.train --task reverse --seed 0 --out reverse.npz

The same seed gives the same weights: the model's initial weights, the training batches
and the dropout masks all come from it.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import budget
from .backward import batch_loss_and_grads
from .config import RESIDUALS
from .io import atomic_write, save
from .model import Transformer
from .optim import Adam, noam_lr
from .tasks import TASKS, Task, get_task, token_accuracy

EVAL_SEED = 1_000_003  # held-out examples watched during training (tests draw others)
FINAL_EVAL_SEED = 2_000_003
RESIDUAL_TITLES = {"none": "no residual", "denseformer": "DenseFormer", "attnres": "attention over depth",
                   "block_attnres": "block attention over depth"}  # a preset's title says how it was wired
Callback = Callable[[int, float, "float | None", Mapping[str, np.ndarray]], None]


@dataclass
class TrainResult:
    steps: int = 0  # optimiser steps taken
    losses: list[float] = field(default_factory=list)  # the batch loss of every step
    accuracies: list[tuple[int, float]] = field(default_factory=list)  # (step, held-out accuracy)
    stopped: bool = False  # ended early by should_stop or by reaching target_accuracy
    seconds: float = 0.0

    @property
    def accuracy(self) -> float | None:
        return self.accuracies[-1][1] if self.accuracies else None


def check_fits(model: Transformer, task: Task) -> None:
    """Raise ValueError, saying why, if `model` cannot learn `task` (other vocabulary, architecture…)."""
    want, have = task.config, model.config
    if have.vocab != want.vocab:
        raise ValueError(f"The {task.title} task needs the vocabulary {' '.join(want.vocab)}; "
                         "this model has another one.")
    if (have.arch == "encoder-decoder") != (want.arch == "encoder-decoder"):
        raise ValueError(f"The {task.title} task needs a {want.arch} model; this one is a {have.arch}.")
    if have.arch == "encoder":
        raise ValueError("An encoder sees the whole input, so it cannot learn to predict the next token.")
    if have.n_ctx < want.n_ctx:
        raise ValueError(f"The {task.title} task needs n_ctx ≥ {want.n_ctx}; this model has {have.n_ctx}.")


def check_budget(model: Transformer, task: Task) -> None:
    """Raise `budget.BudgetError` if training `model` on `task` would not fit the memory budget
    (weights, gradients, Adam's moments and a sequence's trace with its gradient)."""
    n_ctx = task.config.n_ctx  # the longest sequence of the task (each side of an encoder-decoder)
    budget.check_training(model.config, n_ctx, n_ctx if model.config.arch == "encoder-decoder" else None)


def train(model: Transformer, task: Task, steps: int, batch_size: int = 32, lr_factor: float = 1.0,
          warmup: int = 100, seed: int = 0, label_smoothing: float = 0.0, dropout: float = 0.0,
          callback: Callback | None = None, should_stop: Callable[[], bool] | None = None,
          every: int = 10, eval_every: int = 100, eval_size: int = 200,
          target_accuracy: float | None = None) -> TrainResult:
    """Train `model` in place with Adam and the warm-up / inverse-square-root schedule.

    Every `every` steps (and at the end) `callback(step, loss, accuracy, params)` gets the
    mean batch loss since its previous call, the held-out token accuracy (measured every
    `eval_every` steps, else None) and the current parameters (a fresh dict of arrays that
    are never changed later). `should_stop()` is asked before each step; returning True
    ends training, keeping the weights reached. With `target_accuracy`, training also ends
    once the held-out accuracy reaches it. The batches and dropout masks come from `seed`;
    the model's own seed fixed its initial weights. A run too large for the memory budget is
    refused (`check_budget`) before anything is allocated.
    """
    check_fits(model, task)
    check_budget(model, task)
    if dropout and model.config.arch == "vit":
        raise ValueError("Dropout is not available for the image model: train it without --dropout.")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("warmup", warmup),
                        ("every", every), ("eval_every", eval_every), ("eval_size", eval_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a whole number ≥ 1; got {value!r}.")
    if not (np.isfinite(lr_factor) and lr_factor > 0):
        raise ValueError(f"The learning-rate factor must be a positive number; got {lr_factor!r}.")
    data_rng = np.random.default_rng([seed, 1])
    drop_rng = np.random.default_rng([seed, 2])
    heldout = task.heldout(eval_size, EVAL_SEED)
    adam = Adam(beta1=0.9, beta2=0.98, eps=1e-9)
    params = dict(model.params)
    result = TrainResult()
    reported = 0  # steps already summarised for the callback
    start = time.perf_counter()
    for step in range(1, steps + 1):
        if should_stop is not None and should_stop():
            result.stopped = True
            if callback is not None and result.steps > reported:  # hand over the weights reached
                callback(result.steps, float(np.mean(result.losses[reported:])), None, params)
            break
        batch = task.batch(batch_size, data_rng)
        loss, grads = batch_loss_and_grads(model, [e.tokens for e in batch], [e.targets for e in batch],
                                           [e.mask for e in batch], label_smoothing=label_smoothing,
                                           dropout=dropout, rng=drop_rng)
        if not np.isfinite(loss):
            raise FloatingPointError(f"The loss became {loss} at step {step}: lower the learning rate.")
        params = adam.step(params, grads, noam_lr(step, model.config.d_model, warmup, lr_factor))
        model.replace_params(params)
        params = dict(model.params)
        result.steps = step
        result.losses.append(loss)
        last = step == steps
        accuracy = None
        if step % eval_every == 0 or last:
            accuracy = token_accuracy(model, heldout)
            result.accuracies.append((step, accuracy))
        reached = accuracy is not None and target_accuracy is not None and accuracy >= target_accuracy
        if callback is not None and (step % every == 0 or last or reached):
            callback(step, float(np.mean(result.losses[reported:])), accuracy, params)
            reported = step
        if reached:
            result.stopped = True
            break
    result.seconds = time.perf_counter() - start
    return result


def write_sidecar(path: Path, info: dict) -> None:
    """Write the preset's JSON description, keeping hand-written notes of an earlier version."""
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        for key in ("description", "look_for"):
            if old.get(key):
                info[key] = old[key]
    text = json.dumps(info, indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python -m simulator.train", description=__doc__.split("\n")[0])
    ap.add_argument("--task", required=True, choices=list(TASKS))
    ap.add_argument("--seed", type=int, default=0, help="fixes the initial weights and the batches")
    ap.add_argument("--out", help="write the trained model here (.npz), its description beside it (.json)")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr-factor", type=float, default=1.0)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--until", type=float, default=None, metavar="ACC",
                    help="stop once the held-out token accuracy reaches ACC (e.g. 0.99)")
    ap.add_argument("--residual", choices=RESIDUALS, default=None,
                    help="train the task's model with this residual stream instead of the standard one "
                         "(the depth modes: DenseFormer, Attention Residuals)")
    args = ap.parse_args(argv)
    task = get_task(args.task)
    config = task.config if args.residual is None else task.config.replace(residual=args.residual)
    try:
        model = Transformer(config, seed=args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def report(step, loss, accuracy, params):
        if accuracy is not None:
            print(f"step {step:5d}  loss {loss:.4f}  held-out accuracy {100 * accuracy:6.2f} %", flush=True)

    try:
        result = train(model, task, args.steps, args.batch_size, args.lr_factor, args.warmup, args.seed,
                       args.label_smoothing, args.dropout, callback=report, target_accuracy=args.until)
    except (ValueError, FloatingPointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    final = task.heldout(1000, FINAL_EVAL_SEED)
    accuracy = token_accuracy(model, final)
    print(f"{result.steps} steps in {result.seconds:.1f} s; held-out token accuracy "
          f"{100 * accuracy:.2f} % on {len(final)} fresh examples")
    if args.out:
        out = Path(args.out)
        command = "python -m simulator.train " + shlex.join(argv)
        info = {"name": out.stem, "task": task.name, "title": task.title, "command": command,
                "accuracy": round(accuracy, 4), "steps": result.steps, "seed": args.seed,
                "description": task.description, "look_for": ""}
        if args.residual not in (None, "standard"):  # an extra preset of the task, wired another way
            info.update(title=f"{task.title} ({RESIDUAL_TITLES[args.residual]})", residual=args.residual)
        try:
            save(out, model, task.demo_tokens(), extra={k: info[k] for k in ("task", "command", "accuracy")})
            write_sidecar(out.with_suffix(".json"), info)
        except OSError as exc:
            print(f"error: cannot write {out}: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
