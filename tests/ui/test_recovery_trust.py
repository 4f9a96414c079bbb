"""A recovery file is trusted no more than any other file, and killed saves leave no debris."""
from __future__ import annotations

import errno
import os
import time

import pytest
from PySide6.QtWidgets import QFileDialog

import simulator
from simulator import Transformer
from simulator.cli import trace_main
from ui.files.recovery import RecoveryManager, file_digest, offer_restore, remove_debris
from ui.main_window import MainWindow
from ui.preferences import Preferences

from .test_recovery import dead_pid


@pytest.fixture
def window(make_window):
    return make_window(size=None, show=False)


def crafted(tmp_path, **extra) -> os.PathLike:
    """A recovery file of a dead instance, with `extra` as its metadata."""
    folder = tmp_path / "rec"
    folder.mkdir(exist_ok=True)
    path = folder / f"session-{dead_pid()}-1.npz"
    model = Transformer(seed=5)
    simulator.save(path, model, model.tokens("the dog ran"), extra={"saved_at": "2026-05-12T14:03:00", **extra})
    return path


def restore(window, tmp_path) -> RecoveryManager:
    manager = RecoveryManager(window.session_bridge, window.undo_stack, folder=tmp_path / "rec", delay_ms=50)
    assert offer_restore(window, manager, ask=lambda *a: True)
    return manager


def test_a_crafted_document_path_is_not_trusted_and_save_asks(window, tmp_path, monkeypatch):
    victim = tmp_path / "precious.npz"
    victim.write_bytes(b"the teacher's work")
    crafted(tmp_path, document=str(victim), document_sha256="0" * 64)
    manager = restore(window, tmp_path)
    assert window.files.path is None
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: asked.append(a) or ("", ""))
    window.files.save()  # Ctrl+S
    assert asked and victim.read_bytes() == b"the teacher's work"
    manager.discard()


def test_a_document_path_without_a_digest_is_not_trusted(window, tmp_path):
    victim = tmp_path / "precious.npz"
    simulator.save(victim, Transformer(), "the cat")
    crafted(tmp_path, document=str(victim))
    manager = restore(window, tmp_path)
    assert window.files.path is None
    manager.discard()


def test_the_file_that_was_open_is_trusted_until_it_changes(window, tmp_path):
    mine = tmp_path / "mine.npz"
    simulator.save(mine, Transformer(), "the cat")
    crafted(tmp_path, document=str(mine), document_sha256=file_digest(mine))
    manager = restore(window, tmp_path)
    assert window.files.path == str(mine)
    manager.discard()
    window.undo_stack.setClean()

    other = MainWindow(settings=Preferences(tmp_path / "s2.json"))
    try:
        crafted(tmp_path, document=str(mine), document_sha256=file_digest(mine))
        simulator.save(mine, Transformer(seed=9), "the dog")  # changed since the autosave
        manager = restore(other, tmp_path)
        assert other.files.path is None
        manager.discard()
    finally:
        other.undo_stack.setClean()
        other.close()


def test_autosave_records_the_digest_of_the_open_file(window, tmp_path, qtbot):
    manager = RecoveryManager(window.session_bridge, window.undo_stack, folder=tmp_path / "rec", delay_ms=50,
                              document=lambda: window.files.path)
    assert window.files.save_as(str(tmp_path / "lesson.npz"))
    assert manager.save_now()
    meta, zf = simulator.io.load_meta(manager.path)
    zf.close()
    assert meta["extra"]["document_sha256"] == file_digest(tmp_path / "lesson.npz")
    manager.discard()


@pytest.mark.parametrize("view, why, field", [
    ({"head": 99, "step": "blocks.0.hook_mlp_out"}, "head 99 does not exist", "head"),
    ({"temperature": 5e-324, "step": "blocks.0.hook_mlp_out"}, "at least 0.01", "temperature"),
    ({"cell": ["probs", [0, 999]], "step": "blocks.0.hook_mlp_out"}, "does not exist", "cell"),
    ({"step": "<a href='x'>y</a>"}, "no step called", "step"),
    ({"granularity": "word", "step": "blocks.0.hook_mlp_out"}, "granularity must be one of", "granularity"),
])
def test_view_fields_go_through_the_view_rules(window, tmp_path, view, why, field):
    crafted(tmp_path, **view)
    manager = restore(window, tmp_path)
    bridge = window.session_bridge
    assert bridge.session.tokens == ["the", "dog", "ran"]  # the session itself is restored
    shown = {"head": bridge.head, "temperature": bridge.session.temperature, "cell": bridge.cell,
             "step": bridge.stepper.name, "granularity": bridge.stepper.granularity}
    assert shown[field] != view[field]  # the field that does not fit is not applied
    assert bridge.stepper.index == 0  # nor is any other field of that view: it opens at the first step
    assert why in window.statusBar().currentMessage()
    manager.discard()


def test_a_good_view_is_applied(window, tmp_path):
    crafted(tmp_path, step="blocks.0.hook_mlp_out", head=1, granularity="sublayer", temperature=0.5)
    manager = restore(window, tmp_path)
    bridge = window.session_bridge
    assert bridge.stepper.name == "blocks.0.hook_mlp_out" and bridge.head == 1
    assert bridge.session.temperature == 0.5
    manager.discard()


# --- debris ---

def old(path, seconds=3600):
    path.write_bytes(b"half a file")
    os.utime(path, (time.time() - seconds, time.time() - seconds))
    return path


def test_half_written_files_are_removed_at_the_next_start(window, tmp_path):
    rec = tmp_path / "rec"
    rec.mkdir()
    manager = RecoveryManager(window.session_bridge, window.undo_stack, folder=rec, delay_ms=50)
    dead_autosave = old(rec / f".session-{dead_pid()}-5.npz.abcd_123.tmp", seconds=0)
    live_autosave = old(rec / f".{manager.path.name}.x1y2z3w4.tmp", seconds=0)  # this instance is running
    docs = tmp_path / "docs"
    docs.mkdir()
    killed_save = old(docs / ".lesson.npz.q1w2e3r4.tmp")
    fresh_save = old(docs / ".lesson.npz.a1s2d3f4.tmp", seconds=5)  # another window saving right now
    not_ours = [old(docs / name) for name in (".lesson.npz.tmp", "lesson.npz.q1w2e3r4.tmp", ".notes.txt.q1w2e3r4.tmp",
                                               ".lesson.npz.q1w2e3r4.tmp.bak")]
    removed = remove_debris(manager, [docs])
    assert sorted(removed) == sorted([dead_autosave, killed_save])
    assert not dead_autosave.exists() and not killed_save.exists()
    assert live_autosave.exists() and fresh_save.exists() and all(p.exists() for p in not_ours)
    manager.discard()


# --- stepformer trace --json ---

def test_trace_json_is_written_atomically_and_a_full_disk_is_one_line(tmp_path, monkeypatch, capsys):
    out = tmp_path / "trace.json"
    assert trace_main(["the cat sat", "--json", str(out)]) == 0
    before = out.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(simulator.io.os, "fsync", full)
    capsys.readouterr()
    assert trace_main(["the dog ran", "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the disk is full" in err and "previous file is unchanged" in err
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trace.json"]
