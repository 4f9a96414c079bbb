"""A generated corpus of hostile lessons, scenarios, recovery files and settings files.

Each goes through the real entry point of the running window (Lessons ▸ Open, File ▸ Open scenario,
the start-up restore, the preferences) in a process that cannot allocate more than 3 GB. Each must
be refused with its own clear message within a few seconds, and the open model must be untouched.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

import simulator
from simulator import ModelConfig, Transformer

STEP = "blocks.0.attn.hook_pattern"


def lesson(**top) -> str:
    doc = {"title": "t", "tokens": "the cat", "stops": [{"step": STEP, "text": "x"}]}
    doc.update(top)
    return json.dumps(doc, separators=(",", ":"))


LESSONS = {
    "tokens-a-number": (lesson(tokens=5), '"tokens" must be a text'),
    "deep-nesting": ("[" * 100_000 + "]" * 100_000, "nested more than 64 levels"),
    "5000-digit-head": (lesson().replace('"text":"x"', '"text":"x","head":' + "7" * 5000), "5,000 digits"),
    "nan-title": (lesson().replace('"t"', "NaN", 1), "NaN, which is not a number JSON allows"),
    "huge-seed": (lesson(model={"seed": 2**40}), '"seed" must be a whole number from 0'),
    "31764-stops": (lesson(stops=[{"step": "probs", "text": "x"}] * 31_764), "31,764 stops is too many"),
    "long-input": (lesson(model={"config": {"n_ctx": 100_000, "vocab": ["a", "b"]}}, tokens=["a"] * 12_000),
                   "Running this model on 12,000 tokens would keep"),
    "deep-and-wide": (lesson(model={"config": {"n_layers": 256, "n_heads": 64, "d_model": 64, "d_mlp": 64,
                                               "n_ctx": 1024}}, tokens=["the"] * 1024), "the limit is 1.1 GB"),
    "markup-step": (lesson(stops=[{"step": '<img src="/dev/zero">', "text": "x"}]),
                    '"<img src="/dev/zero">" is not a step of this model'),
    "not-utf8": ("\udcff", "not UTF-8"),
}


def write_model(path, model: Transformer, tokens, view=None, **extra) -> None:
    if view is not None:
        extra = {"scenario": 1, "view": view, **extra}
    simulator.save(path, model, tokens, extra=extra or None)


def make_corpus(folder) -> list[dict]:
    folder.mkdir(exist_ok=True)
    items = []
    for name, (text, expect) in LESSONS.items():
        path = folder / f"{name}.json"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        items.append({"kind": "lesson", "path": str(path), "expect": expect})
    (folder / "fifo.json").unlink(missing_ok=True)
    os.mkfifo(folder / "fifo.json")
    (folder / "zero.json").symlink_to("/dev/zero")
    items += [{"kind": "lesson", "path": str(folder / n), "expect": "not an ordinary file"}
              for n in ("fifo.json", "zero.json")]

    small = Transformer(ModelConfig(), seed=3)
    toks = small.tokens("the cat sat")
    long_model = Transformer(ModelConfig(n_ctx=100_000, vocab=("a", "b")))
    models = {  # (model, tokens, view, extra) -> the expected message
        "head-99": ((small, toks, {"head": 99}), "head 99 does not exist"),
        "cell-outside": ((small, toks, {"cell": [STEP, [0, 0, 99]]}), "does not exist"),
        "tiny-temperature": ((small, toks, {"temperature": 5e-324}), "at least 0.01"),
        "markup-step": ((small, toks, {"step": "<a href='https://example.com'>x</a>"}),
                        "this model has no step called \"<a href='https://example.com'>x</a>\""),
        "long-input": ((long_model, ["a"] * 12_000, None), "Running this model on 12,000 tokens would keep"),
        "deep-and-wide": ((Transformer(ModelConfig(n_layers=256, n_heads=64, d_model=64, d_mlp=64, n_ctx=1024)),
                           ["the"] * 1024, None), "the limit is 1.1 GB"),
    }
    for name, ((model, tokens, view), expect) in models.items():
        path = folder / f"{name}.stepformer.npz"
        write_model(path, model, tokens, view)
        items.append({"kind": "scenario", "path": str(path), "expect": expect})
        # the same damage in a recovery file (a crashed instance's, found at start-up)
        rec = folder / f"rec-{name}"
        rec.mkdir()
        extra = dict(view or {}, saved_at="2026-05-12T14:03:00")
        write_model(rec / "session-999999999-1.npz", model, tokens, None, **extra)
        items.append({"kind": "recovery", "path": str(rec), "expect": expect})
    rec = folder / "rec-steals-a-path"
    rec.mkdir()
    victim = folder / "victim.npz"
    write_model(victim, small, toks)
    write_model(rec / "session-999999999-2.npz", small, toks, None, document=str(victim), document_sha256="f" * 64)
    items.append({"kind": "recovery-path", "path": str(rec), "expect": str(victim)})

    settings = {
        "pickle-conf-is-ignored": ("[General]\nrecentFiles="
                                   "@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x18PySide::PyObjectWrapper)\n"),
        "wrong-kinds": json.dumps({"recentFiles": {"a": 1}, "theme": ["dark"], "maps/sequential": 3}),
        "nested": "[" * 100_000,
        "nan": '{"theme": NaN}',
        "huge": json.dumps({"recentFiles": ["x" * 100] * 5000}),
        "binary": "\x00\x01\x02",
    }
    for name, text in settings.items():
        path = folder / f"settings-{name}.json"
        path.write_text(text)
        items.append({"kind": "settings", "path": str(path), "expect": "defaults"})
    return items


CHILD = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (3_000_000_000, 3_000_000_000))
import numpy as np
from PySide6.QtWidgets import QApplication, QMessageBox
app = QApplication([])
from ui import messages
from ui.files.recovery import RecoveryManager, offer_restore
from ui.files.scenario import open_scenario
from ui.main_window import MainWindow
from ui.preferences import Preferences

QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard)
refused = []
messages.refuse = lambda parent, title, text: refused.append(text)
window = MainWindow(settings=Preferences(sys.argv[2]))
bridge = window.session_bridge

def snapshot():
    return ({n: v.tobytes() for n, v in bridge.model.params.items()}, bridge.session.tokens,
            bridge.model.config)

before = snapshot()
for item in json.load(open(sys.argv[1])):
    start, message, extra = time.perf_counter(), "", None
    kind, path = item["kind"], item["path"]
    if kind == "lesson":
        refused.clear()
        ok = window.lesson_player.open_file(path)
        message = " | ".join(refused) if not ok else "opened"
    elif kind == "scenario":
        try:
            open_scenario(path, bridge, window.set_model)
            message = "opened"
        except (ValueError, OSError) as exc:
            message = str(exc)
    elif kind in ("recovery", "recovery-path"):
        manager = RecoveryManager(bridge, window.undo_stack, folder=path, delay_ms=10**6)
        restored = offer_restore(window, manager, ask=lambda *a: True)
        message = window.statusBar().currentMessage() if kind == "recovery" else str(window.files.path)
        extra = restored
        if restored:
            window.undo_stack.undo()
        manager.discard()
    elif kind == "settings":
        prefs = Preferences(path)
        message = "defaults" if (prefs.value("theme", "system") == "system"
                                 and prefs.value("recentFiles", []) == []
                                 and prefs.value("maps/sequential", "viridis") == "viridis") else "odd value kept"
    item.update(message=message, seconds=time.perf_counter() - start, restored=extra,
                untouched=snapshot() == before)
    print(json.dumps(item), flush=True)
window.undo_stack.setClean()
"""


def test_every_hostile_file_is_refused_quickly_under_a_memory_cap(tmp_path):
    items = make_corpus(tmp_path / "corpus")
    manifest = tmp_path / "corpus.json"
    manifest.write_text(json.dumps(items))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", CHILD, str(manifest), str(tmp_path / "prefs.json")],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    done = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(done) == len(items) >= 30
    for item in done:
        where = f"{item['kind']} {os.path.basename(item['path'])}: {item['message']!r}"
        if item["kind"] == "recovery-path":  # restored, but not tied to the file it names
            assert item["restored"] and item["message"] == "None", where
        else:
            assert item["expect"] in item["message"], where
            assert "Something went wrong" not in item["message"] and "Error:" not in item["message"], where
        assert item["seconds"] < 5, where
        assert item["untouched"], where


def test_the_corpus_files_are_what_they_claim(tmp_path):
    """Control: the scenario corpus is made of readable model files, damaged only where intended."""
    items = make_corpus(tmp_path / "corpus")
    scenarios = [i for i in items if i["kind"] == "scenario"]
    meta, zf = simulator.io.load_meta(scenarios[0]["path"])
    zf.close()
    assert meta["extra"]["view"] == {"head": 99}
    assert np.isfinite(simulator.load(scenarios[0]["path"])[0].params["unembed.W_U"]).all()
