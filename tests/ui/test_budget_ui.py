"""The settings dialog and the token strip keep every run within the memory budget.

The issue's example: the dialog accepts 48 layers × 64 heads with n_ctx 1,024, then 1,024 typed
tokens would need about 100 GB of attention grids. The whole window runs in a process that cannot
allocate more than 2.5 GB, so a run that slipped past the budget would fail there, not here.
"""
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = """
import resource
resource.setrlimit(resource.RLIMIT_AS, (2_500_000_000, 2_500_000_000))
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox
app = QApplication([])
from ui.main_window import MainWindow
from ui.views.settings_dialog import SettingsDialog

def accept_big(dialog):
    for name, value in {"n_layers": 48, "n_heads": 64, "d_model": 128, "d_mlp": 128, "n_ctx": 1024}.items():
        dialog.editors[name].setValue(value)
    print("SUMMARY:", dialog.summary.text())
    return QDialog.DialogCode.Accepted

SettingsDialog.exec = accept_big
QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard)
w = MainWindow(KWARGS)
assert w.open_settings()
model = w.session_bridge.model
print("MODEL:", model.config.n_layers, model.config.n_heads, model.config.n_ctx)
before = list(w.session_bridge.session.tokens)
ok = w.token_strip.type_text(0, " ".join(["the"] * 1024))
print("ACCEPTED:", ok)
print("ERROR:", w.token_strip.message.text())
print("UNCHANGED:", w.session_bridge.session.tokens == before and w.session_bridge.model is model)
"""


@pytest.mark.slow
def test_a_dialog_sized_model_refuses_1024_typed_tokens(tmp_path):
    script = SCRIPT.replace("KWARGS", "")
    env = dict(os.environ, STEPFORMER_CONFIG_DIR=str(tmp_path), QT_QPA_PLATFORM="offscreen",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                            timeout=300, env=env, cwd=tmp_path)
    out = result.stdout
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MODEL: 48 64 1024" in out
    assert "inputs of at most" in out and "tokens fit in memory" in out
    assert "ACCEPTED: False" in out
    assert "ERROR: Running this model on 1,024 tokens would keep" in out
    assert "the limit is 1.1 GB" in out and "Nothing changed." in out
    assert "UNCHANGED: True" in out

