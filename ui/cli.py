"""`stepformer`: open the window, or render it to a PNG, or run a subcommand.

    stepformer                                  the window with the classroom model
    stepformer --model lesson.npz               the window with a saved model
    stepformer --model ~/models/gpt2            the window with a checkpoint folder (GPT-2, BERT)
    stepformer --screenshot out.png --step blocks.0.attn.hook_pattern --size 1280x800
    stepformer trace "the cat sat"              a subcommand (see below)

Subcommands: `stepformer NAME ARGS...` runs `COMMANDS[NAME](ARGS)` from the module
`ui/cli_commands.py`, where `COMMANDS: dict[str, Callable[[list[str]], int]]` maps each
name ("trace", "export", …) to a function taking the remaining arguments and returning
the exit code. Adding a subcommand means adding one entry there; this file stays as is.
Subcommands never import Qt unless they need it.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import time
from collections.abc import Callable

COMMANDS_MODULE = "ui.cli_commands"
SCREENSHOT_SIZE = (1280, 800)  # --screenshot without --size


def subcommands() -> dict[str, Callable[[list[str]], int]]:
    """The subcommands `ui/cli_commands.py` offers (none until that module exists)."""
    if importlib.util.find_spec(COMMANDS_MODULE) is None:
        return {}
    return dict(importlib.import_module(COMMANDS_MODULE).COMMANDS)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x800; got {text!r}") from None
    if not (200 <= w <= 8000 and 200 <= h <= 8000):
        raise argparse.ArgumentTypeError(f"size must be between 200x200 and 8000x8000; got {text!r}")
    return w, h


def build_parser(commands: dict) -> argparse.ArgumentParser:
    # one line per command: the first line of its function's docstring
    lines = [f"  {name:<9} {(fn.__doc__ or '').strip().splitlines()[0] if fn.__doc__ else ''}"
             for name, fn in sorted(commands.items())]
    parser = argparse.ArgumentParser(
        prog="stepformer", description="Step through a tiny Transformer's forward pass, one operation at a time.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands (stepformer COMMAND --help for each):\n" + "\n".join(lines) if commands else None)
    parser.add_argument("--model", metavar="FILE", help="open a model file saved by Stepformer (.npz)")
    parser.add_argument("--screenshot", metavar="FILE", help="render the window to a PNG file and exit")
    parser.add_argument("--step", metavar="NAME", help="the step to show, e.g. blocks.0.attn.hook_pattern")
    parser.add_argument("--size", type=_size, metavar="WxH", help="window size, e.g. 1280x800")
    parser.add_argument("--present", action="store_true",
                        help="start in presentation mode (F5 toggles it, Esc leaves; PgDown/PgUp step, B blanks)")
    parser.add_argument("--lesson", metavar="FILE", help="open a lesson file (assets/lessons/*.json or your own)")
    parser.add_argument("--scenario", metavar="FILE", help="open a scenario saved with File ▸ Save scenario")
    parser.add_argument("--quit-after-paint", action="store_true",
                        help="print the time to the first painted window and exit (for benchmarks)")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # a reader that left shows up here, not in Python's flush at exit
        return code
    except BrokenPipeError:
        # The reader went away (`stepformer trace … | head`): nothing left to say, and saying it
        # at exit would fail again. Point stdout at /dev/null so the final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv: list[str] | None) -> int:
    started = time.perf_counter()
    # The matrices are small (≤ 256 wide): one BLAS thread is as fast, and spare threads spinning
    # on a busy classroom laptop made one edit of the large model 10× slower. Set before numpy loads.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    argv = sys.argv[1:] if argv is None else list(argv)
    commands = subcommands() if argv and not argv[0].startswith("-") else {}
    if argv and not argv[0].startswith("-"):
        if argv[0] not in commands:
            known = f" Commands: {', '.join(sorted(commands))}." if commands else ""
            print(f"stepformer: unknown command {argv[0]!r}.{known} See stepformer --help.", file=sys.stderr)
            return 2
        return commands[argv[0]](argv[1:])
    wants_help = bool({"-h", "--help"} & set(argv))  # listing the commands imports them: only for help
    args = build_parser(subcommands() if wants_help else {}).parse_args(argv)
    if args.screenshot and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ui.qt_libraries import problem

    missing = problem()  # before Qt loads: it would abort with a message about its plugin instead
    if missing:
        print(missing, file=sys.stderr)
        return 1
    return _run_window(args, started)


def _run_window(args: argparse.Namespace, started: float) -> int:
    import simulator
    from simulator.cli import is_checkpoint
    from ui.app import ErrorReporter, create_app, start_session
    from ui.files.model_file import open_model_folder
    from ui.files.recovery import install as install_recovery
    from ui.main_window import MainWindow

    app = create_app()
    folder = bool(args.model) and is_checkpoint(args.model)
    note = ""  # what the status bar says of a checkpoint's weights
    try:
        if folder:
            model, tokens, note = open_model_folder(args.model)
            session = simulator.Session(model, tokens)
        else:
            session = simulator.Session(*simulator.load(args.model)) if args.model else start_session()
    except (ValueError, OSError) as exc:
        print(f"stepformer: {exc}", file=sys.stderr)
        return 2
    if args.step:
        try:
            session.stepper.jump(args.step)
        except KeyError:
            print(f"stepformer: this model has no step called {args.step!r}.", file=sys.stderr)
            return 2
    window = MainWindow(session)
    if args.model and not folder:  # a checkpoint folder is not a file to save back to
        path = os.path.abspath(args.model)
        window.files.set_path(path)
        window.files.add_recent(path)
    elif note:
        window.statusBar().showMessage(note, 15000)
    if not _open_classroom_files(window, args):
        _discard(window)
        return 2
    if args.size:
        window.resize(*args.size)
    if args.screenshot:
        if args.present:
            _present_for_screenshot(window, args.size or SCREENSHOT_SIZE)
        try:
            return _screenshot(app, window, args.screenshot, args.size)
        finally:
            _discard(window)
    if args.quit_after_paint:
        _quit_after_first_paint(app, window, started)
    reporter = ErrorReporter(window).install()
    if not args.quit_after_paint:  # a benchmark must not wait on the restore question
        window.recovery = install_recovery(window, app)
    if args.size:
        window.show()
    else:
        from ui.window_size import show_fitting

        show_fitting(window)
    if args.present:
        window.presentation.enter()
    elif not args.quit_after_paint:
        from ui.welcome import show_welcome

        window.welcome = show_welcome(window, window.preferences)  # until dismissed for good
    try:
        return app.exec()
    finally:
        reporter.uninstall()


def _discard(window) -> None:
    """A window that was only rendered (or could not be used) goes away now rather than whenever
    Python frees it: hidden at once and deleted by Qt at a safe point, never in a later paint."""
    window.presentation.leave()  # it sets the application's font
    window.hide()
    window.deleteLater()


def _open_classroom_files(window, args: argparse.Namespace) -> bool:
    """--scenario and --lesson; False (after one line on stderr) when a file cannot be used."""
    from simulator.lessons import load_lesson
    from ui.files.scenario import open_scenario

    try:
        if args.scenario:
            open_scenario(args.scenario, window.session_bridge, window.set_model)
        if args.lesson:
            window.lesson_player.open_lesson(load_lesson(args.lesson))
    except (ValueError, OSError) as exc:  # LessonError and ModelFileError are ValueErrors
        print(f"stepformer: {exc}", file=sys.stderr)
        return False
    return True


def _present_for_screenshot(window, size: tuple[int, int]) -> None:
    """Presentation mode as a projector of `size` shows it: its type scale and layout, at that size
    rather than the full (possibly virtual) screen's."""
    presentation = window.presentation
    presentation.fixed_scale = presentation.fixed_scale or presentation.scale_for(size[1])
    window.resize(*size)
    window.show()  # presenting hides what is visible (menus, toolbars, docks): they must be shown first
    presentation.enter()
    window.showNormal()
    window.resize(*size)


def _screenshot(app, window, path: str, size: tuple[int, int] | None) -> int:
    if size is None:
        window.resize(*SCREENSHOT_SIZE)
    window.show()
    for _ in range(3):  # layouts settle over a few passes (docks, wrapped chips, plots)
        app.processEvents()
    if not window.grab().save(path, "PNG"):
        print(f"stepformer: could not write {path}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def _quit_after_first_paint(app, window, started: float) -> None:
    from PySide6.QtCore import QEvent, QObject, QTimer

    class FirstPaint(QObject):
        """Prints the time of the window's first paint event, then ends the event loop."""

        done = False

        def eventFilter(self, obj, event) -> bool:
            if event.type() == QEvent.Type.Paint and not self.done:
                self.done = True
                print(f"first paint after {time.perf_counter() - started:.3f} s (from cli.main)", flush=True)
                QTimer.singleShot(0, app.quit)
            return False

    window.installEventFilter(FirstPaint(window))  # the window owns the filter
