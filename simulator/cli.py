"""`stepformer trace`: print or write every step of a forward pass, without a window."""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

import numpy as np

from .io import atomic_write, load
from .model import Transformer
from .trace import Trace


def trace_to_json(trace: Trace) -> dict:
    """Every step as name, shape, formula, description and values (nested lists; −∞ as null)."""
    def values(a: np.ndarray):
        return np.where(np.isfinite(a), a, np.nan).tolist() if not np.isfinite(a).all() else a.tolist()

    steps = [{"name": s.name, "shape": list(s.value.shape), "formula": s.formula,
              "description": s.description, "inputs": list(s.inputs),
              "values": values(s.value)} for s in trace.steps]
    tokens = trace.tokens
    return {"tokens": {"source": tokens[0], "target": tokens[1]} if isinstance(tokens, tuple) else tokens,
            "temperature": trace.temperature, "steps": steps}


def steps_from_json(data: dict) -> dict[str, np.ndarray]:
    """The arrays of a document written by `trace_to_json` (null cells read back as −∞)."""
    out = {}
    for step in data["steps"]:
        arr = np.array(step["values"], dtype=np.float64).reshape(step["shape"])
        out[step["name"]] = np.where(np.isnan(arr), -np.inf, arr)
    return out


CHECKPOINT_EXAMPLE = "The cat sat on the mat."  # what a checkpoint first shows


def is_checkpoint(path: str) -> bool:
    """Whether --model names a checkpoint folder (or "minilm", the demonstration model) rather than a file."""
    from .pretrained import MINILM_NAMES  # only names: the checkpoint libraries are imported when one opens

    return str(path).lower() in MINILM_NAMES or Path(path).is_dir()


def open_model(preset: str | None, model_file: str | None) -> tuple[Transformer, object]:
    """The model named on the command line: a preset, a model file, or the default classroom model."""
    if preset and model_file:
        raise ValueError("Give either --preset or --model, not both.")
    if preset:
        from .presets import load_preset

        model, tokens, _info = load_preset(preset)
        return model, tokens
    if model_file and is_checkpoint(model_file):
        from .pretrained import load_pretrained

        model = load_pretrained(model_file)
        return model, model.tokens(CHECKPOINT_EXAMPLE)
    if model_file:
        return load(model_file)
    model = Transformer()
    return model, model.tokens("the cat sat on the mat")


def parse_text(model: Transformer, text: str):
    """The token input for TEXT; an encoder-decoder takes 'SOURCE => TARGET'."""
    if model.config.arch == "encoder-decoder":
        if "=>" not in text:
            raise ValueError("This is an encoder-decoder model: write the input as 'SOURCE => TARGET'.")
        source, target = text.split("=>", 1)
        return model.tokens((source.strip(), target.strip()))
    return model.tokens(text)


def trace_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="stepformer trace",
                                     description="Run the model on TEXT and print every step of the forward pass.")
    parser.add_argument("text", help="the input (encoder-decoder: 'SOURCE => TARGET')")
    parser.add_argument("--preset", help="a shipped trained model (see `stepformer presets`)")
    parser.add_argument("--model", help="a model file saved by Stepformer (.npz), or a checkpoint folder "
                        "(GPT-2, BERT; \"minilm\": the demonstration model)")
    parser.add_argument("--json", metavar="FILE", help="write every step with its values as JSON to FILE")
    parser.add_argument("--temperature", type=float, default=1.0)
    args = parser.parse_args(argv)
    try:
        model, _tokens = open_model(args.preset, args.model)
        trace = model.run(parse_text(model, args.text), temperature=args.temperature)
        if args.json:
            text = json.dumps(trace_to_json(trace)).encode("utf-8")
            atomic_write(args.json, lambda f: f.write(text))  # a full disk leaves no half file
            print(f"wrote {len(trace.steps)} steps to {args.json}")
            return 0
        with np.printoptions(precision=3, suppress=True, linewidth=120, threshold=200):
            for k, step in enumerate(trace.steps, start=1):
                print(f"[{k}/{len(trace.steps)}] {step.name}  {list(step.value.shape)}  {step.formula}")
                print(textwrap.indent(np.array2string(step.value), "    "))
    except BrokenPipeError:
        raise  # the reader closed the pipe: `stepformer` ends quietly (ui/cli.py)
    except (ValueError, KeyError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"stepformer trace: {' '.join(str(message).split())}", file=sys.stderr)  # one line
        return 2
    return 0
