"""The QApplication: its identity (names the config and data folders), a readable base font, the default
session, and an exception hook that reports a bug in a dialog instead of quitting.
"""
from __future__ import annotations

import sys
import traceback
from types import TracebackType

from PySide6.QtCore import QMessageLogContext, Qt, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from simulator import ModelConfig, Session, Transformer
from ui import messages

APP_NAME = "Stepformer"
ORG_NAME = "Stepformer"
DEFAULT_TEXT = "the cat sat on the mat"
BASE_POINT_SIZE = 12  # readable from the back of a lecture room on a projector


# What Qt says that tells a user nothing: the offscreen platform (screenshots, handouts) has no
# window manager to pass size hints to, and says so for every window and dialog.
HARMLESS_QT_MESSAGES = frozenset({"This plugin does not support propagateSizeHints()"})
_qt_message_handler = None  # kept referenced while installed


def quiet_harmless_qt_messages() -> None:
    """Drop HARMLESS_QT_MESSAGES; every other Qt message still reaches stderr (or the previous handler)."""
    global _qt_message_handler
    if _qt_message_handler is not None:
        return

    def handler(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
        if message in HARMLESS_QT_MESSAGES:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            sys.stderr.write(message + "\n")

    _qt_message_handler = handler
    previous = qInstallMessageHandler(handler)


def default_model(config: ModelConfig | None = None, seed: int = 0) -> tuple[Transformer, object]:
    """A new seeded model and its tokens: "the cat sat on the mat" (both sides for an encoder-decoder)."""
    model = Transformer(config or ModelConfig(), seed=seed)
    words = DEFAULT_TEXT.split()[: model.config.n_ctx]
    text = " ".join(words) if model.config.tokenization == "word" else DEFAULT_TEXT[: model.config.n_ctx]
    try:
        tokens = model.tokens((text, text) if model.config.arch == "encoder-decoder" else text)
    except ValueError:  # a vocabulary without these words and without <unk>
        first = list(model.config.vocab[: model.config.n_ctx])
        tokens = (first, first) if model.config.arch == "encoder-decoder" else first
    return model, tokens


def default_session(config: ModelConfig | None = None, seed: int = 0) -> Session:
    """A session on `default_model`: the classroom model unless a config is given."""
    return Session(*default_model(config, seed))


def start_session() -> Session:
    """The session the app opens with: the text-words preset, which writes English, on DEFAULT_TEXT.

    Falls back to the classroom model if that preset is not installed.
    """
    from simulator.io import ModelFileError
    from simulator.presets import load_preset

    try:
        model, _tokens, _info = load_preset("text-words")
    except ModelFileError:
        return default_session()
    return Session(model, model.tokens(DEFAULT_TEXT))


def create_app(argv: list[str] | None = None) -> QApplication:
    """The application object (reused if one exists, e.g. under pytest-qt)."""
    app = QApplication.instance()
    if app is None:
        quiet_harmless_qt_messages()
        app = QApplication(sys.argv[:1] if argv is None else argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationDisplayName(APP_NAME)
    font = QFont(app.font())
    if font.pointSizeF() < BASE_POINT_SIZE:
        font.setPointSizeF(BASE_POINT_SIZE)
        app.setFont(font)
    return app


class ErrorReporter:
    """A `sys.excepthook` that shows unexpected errors in a (non-blocking) dialog.

    The event loop keeps running and the session is untouched, so a student can carry on.
    Errors arriving while the dialog is open are appended to it rather than stacking dialogs.
    """

    def __init__(self, parent: QWidget | None = None):
        self.parent = parent
        self.dialog: QMessageBox | None = None
        self.count = 0
        self._previous = sys.excepthook

    def install(self) -> "ErrorReporter":
        sys.excepthook = self
        return self

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self._previous

    def __call__(self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        details = "".join(traceback.format_exception(kind, exc, tb))
        sys.stderr.write(details)
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        self.count += 1
        try:
            self._show(f"{kind.__name__}: {exc}", details)
        except Exception:  # the report itself failed: stderr already has the details
            pass

    def _show(self, summary: str, details: str) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.setDetailedText(self.dialog.detailedText() + "\n" + details)
            self.dialog.setInformativeText(f"{self.count} errors so far; the latest: {summary}")
            messages.make_plain(self.dialog)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Something went wrong",
                          "Stepformer hit an unexpected error. Your model and tokens are unchanged; "
                          "you can keep working.", QMessageBox.StandardButton.Ok, self.parent)
        box.setInformativeText(summary)
        box.setDetailedText(details)
        messages.make_plain(box)  # the summary quotes an exception, which may quote a file
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(self._forget)
        self.dialog = box
        box.show()

    def _forget(self) -> None:
        self.dialog = None
