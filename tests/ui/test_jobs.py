"""The background-job helper: work runs off the GUI thread, its progress and result arrive in it."""
import threading

from ui.jobs import BackgroundJob


def test_progress_and_result_arrive_in_the_gui_thread(qtbot):
    ran_in, seen = [], []

    def work(job):
        ran_in.append(threading.current_thread())
        for i in range(3):
            job.report(i)
        return "done"

    job = BackgroundJob(work, "test-job")
    job.sigProgress.connect(lambda value: seen.append((value, threading.current_thread())))
    with qtbot.waitSignal(job.sigDone, timeout=5000) as done:
        job.start()
    job.wait()
    assert done.args == ["done"]
    assert ran_in[0] is not threading.main_thread()
    assert [v for v, _ in seen] == [0, 1, 2] and all(t is threading.main_thread() for _, t in seen)


def test_an_expected_error_ends_the_job_with_its_message(qtbot):
    def work(job):
        raise ValueError("the task does not fit this model")

    job = BackgroundJob(work, "test-job")
    with qtbot.waitSignal(job.sigDone, timeout=5000) as done:
        job.start()
    job.wait()
    assert done.args == ["the task does not fit this model"]
