"""The subcommands of `stepformer` (see ui/cli.py): each takes its arguments, returns the exit code.

Errors are one line on stderr, "stepformer COMMAND: what is wrong", and exit code 2.
The first line of each function's docstring is its entry in `stepformer --help`.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from simulator.cli import open_model, parse_text, trace_main
from simulator.engine import GRANULARITIES


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (plus the exit code), not a usage block."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def trace(argv: list[str]) -> int:
    """Print every step of a forward pass (name, shape, formula, values), or write it as JSON."""
    return trace_main(argv)


def presets(argv: list[str]) -> int:
    """List the shipped trained models (for --preset)."""
    OneLineParser(prog="stepformer presets", description=presets.__doc__).parse_args(argv)
    from simulator.presets import list_presets

    infos = list_presets()
    if not infos:
        print("No presets are installed.")
    for info in infos:
        print(f"{info['name']:<24} {info.get('title') or info['description']}")
    return 0


def model_source(parser: argparse.ArgumentParser, model_help: str) -> None:
    """--preset NAME or --model FILE (what FILE may be: `model_help`), not both."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", metavar="NAME", help="a shipped trained model (see `stepformer presets`)")
    source.add_argument("--model", metavar="FILE", help=model_help)


def export_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="stepformer export",
        description="Run the model on TEXT and render the whole forward pass as a handout, without opening "
                    "a window: one page per step with its picture, its formula and its explanation.",
        epilog="Example: stepformer export --text \"the cat sat on the mat\" --out handout.pdf; "
               "stepformer export --lesson assets/lessons/01_one_attention_head.json --out slides.pdf")
    model_source(parser, "a model or scenario file saved by Stepformer (.npz)")
    parser.add_argument("--text", help="the input (default: the model's own example; encoder-decoder: "
                                       "'SOURCE => TARGET')")
    parser.add_argument("--out", required=True, metavar="PATH",
                        help="handout.pdf for a PDF, or a folder name for one PNG per page")
    parser.add_argument("--head", type=int, default=0, help="the attention head the pictures show (default 0)")
    parser.add_argument("--granularity", choices=GRANULARITIES, default="operation",
                        help="a page for every operation (default) or one per sublayer")
    parser.add_argument("--temperature", type=float, default=1.0, help="softmax temperature of the output")
    parser.add_argument("--lesson", metavar="FILE",
                        help="render this lesson as slides instead (a PDF: one page per stop, a question's "
                             "answer on the page after it)")
    parser.add_argument("--size", metavar="WxH", default="1280x800",
                        help="the projector the slides are made for (default 1280x800)")
    return parser


def _slides(args) -> int:
    """`export --lesson`: the lesson as slides (see ui.classroom.slides)."""
    from simulator.lessons import load_lesson

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 1280x800, not {args.size!r}.") from None
    if not (320 <= width <= 8000 and 240 <= height <= 8000):
        raise ValueError(f"--size {args.size} is not a screen size.")
    if not args.out.lower().endswith(".pdf"):
        raise ValueError("slides are written as a PDF: give --out a name ending in .pdf.")
    lesson = load_lesson(args.lesson)  # a LessonError is a ValueError naming the mistake
    from PySide6.QtCore import QSize
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from ui.app import create_app
    from ui.classroom.slides import write_slides

    create_app()
    return write_slides(lesson, args.out, QSize(width, height))


def export_main(argv: list[str]) -> int:
    """Render a handout without a window: one page per step, as a PDF or a folder of PNGs."""
    args = export_parser().parse_args(argv)
    if args.lesson is not None:
        try:
            pages = _slides(args)
        except (ValueError, OSError) as exc:
            print(f"stepformer export: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {pages} slides to {args.out}")
        return 0
    try:
        model, tokens = open_model(args.preset, args.model)
        if args.text is not None:
            tokens = parse_text(model, args.text)
        if not 0 <= args.head < model.config.n_heads:
            raise ValueError(f"--head {args.head} does not exist (the model has {model.config.n_heads} heads).")
        if os.path.isfile(args.out) and not args.out.lower().endswith(".pdf"):
            raise ValueError(f"{args.out} is a file: give a name ending in .pdf, or a folder for PNGs.")
        from simulator import Session

        session = Session(model, tokens, temperature=args.temperature)
        from PySide6.QtWidgets import QApplication

        if QApplication.instance() is None:
            os.environ["QT_QPA_PLATFORM"] = "offscreen"  # must be set before the application exists
        from ui.app import create_app
        from ui.classroom.handout import render_handout

        create_app()
        pages = render_handout(session, args.out, head=args.head, granularity=args.granularity)
    except (ValueError, KeyError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"stepformer export: {message}", file=sys.stderr)
        return 2
    print(f"wrote {pages} pages to {args.out}")
    return 0


def generate(argv: list[str]) -> int:
    """Continue a prompt token by token (temperature, top-k, top-p, seed) and print the new text."""
    from ui.cli_generate import generate_main

    return generate_main(argv)


COMMANDS: dict[str, Callable[[list[str]], int]] = {"trace": trace, "export": export_main, "presets": presets,
                                                   "generate": generate}
