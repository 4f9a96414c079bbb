"""Work that would freeze the window (training, measuring many models) runs here, off the GUI thread.

`BackgroundJob` runs one function on a daemon thread (quitting mid-run can neither hang nor
abort the app) and hands back its progress and result as Qt signals, which Qt queues to the
GUI thread because they are emitted from another one.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal


class BackgroundJob(QObject):
    """Runs `work(job)` on its own thread once `start` is called.

    `work` may call `job.report(value)` as it goes (sigProgress) and returns the result
    (sigDone). An error of one of the kinds in `errors` ends it with its message instead
    (sigDone with a str), for the view to show.
    """

    sigProgress = Signal(object)  # whatever `work` reported
    sigDone = Signal(object)  # the result of `work`, or the message (str) of the error that ended it

    def __init__(self, work: Callable[[BackgroundJob], object], name: str,
                 errors: tuple[type[Exception], ...] = (ValueError,)):
        super().__init__()
        self._work = work
        self._errors = errors
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def report(self, value) -> None:
        self.sigProgress.emit(value)

    def _run(self) -> None:
        try:
            result = self._work(self)
        except self._errors as exc:
            self.sigDone.emit(str(exc))
            return
        self.sigDone.emit(result)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (right after sigDone, it ends at once)."""
        self._thread.join(timeout)

    def abandon(self, timeout: float = 10) -> None:
        """On quit: nobody wants the result any more; wait a little for the thread to end."""
        try:
            self.sigDone.disconnect()
            self.sigProgress.disconnect()
        except (RuntimeError, TypeError):  # nothing was connected
            pass
        self._thread.join(timeout)
