"""The handout: one PDF page per step, the first page visibly drawn; a PNG folder alike;
cancelling writes no PDF; making a handout never moves the window's own cursor."""
import re
import shutil
import subprocess

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QWidget,
)

from simulator import ModelConfig, Session, Transformer
from ui.classroom import handout

SMALL = ModelConfig(n_layers=1)  # a handout of the 1-layer model keeps the test quick


@pytest.fixture
def session(qapp):
    model = Transformer(SMALL, seed=1)
    return Session(model, model.tokens("the cat sat on the mat"))


def pdf_page_count(path) -> int:
    # QPdfWriter writes every page object uncompressed as "/Type /Page" (the tree root is "/Pages").
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", path.read_bytes()))


def ink(image: QImage) -> float:
    """Share of pixels that are not white."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    a = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(image.height(), image.bytesPerLine() // 4, 4)
    return float((a[:, :image.width(), :3] < 235).any(axis=2).mean())


@pytest.mark.slow
def test_the_pdf_has_one_page_per_step_and_a_drawn_first_page(session, tmp_path):
    out = tmp_path / "handout.pdf"
    n = handout.render_handout(session, out)
    assert out.read_bytes()[:5] == b"%PDF-"
    assert n == len(session.stepper) == pdf_page_count(out)
    first = next(handout.step_pages(session))
    assert first.number == 1 and first.name == session.stepper.names[0]
    assert ink(first.picture) > 0.05  # the picture itself is drawn, not blank
    assert ink(handout.page_image(first)) > 0.05
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm is not installed: the PDF's rendering was not checked")
    subprocess.run(["pdftoppm", "-png", "-r", "30", "-f", "1", "-l", "1", str(out), str(tmp_path / "p")],
                   check=True, timeout=60)
    rendered = QImage(str(next(tmp_path.glob("p*.png"))))
    assert rendered.width() > rendered.height()  # landscape
    assert ink(rendered) > 0.05


@pytest.mark.slow
def test_a_png_folder_has_one_picture_per_sublayer_step(session, tmp_path):
    session.stepper.set_granularity("sublayer")
    n = handout.render_handout(session, tmp_path / "pages", granularity="sublayer")
    files = sorted((tmp_path / "pages").glob("*.png"))
    assert n == len(files) == len(session.stepper)
    assert files[0].name.startswith("step-01-") and files[-1].name.endswith("-probs.png")
    assert ink(QImage(str(files[0]))) > 0.05


def test_cancelling_writes_no_pdf_and_the_cursor_stays(session, tmp_path):
    session.stepper.go(3)
    with pytest.raises(handout.Cancelled):
        handout.render_handout(session, tmp_path / "h.pdf", progress=lambda done, count: done < 2)
    assert not (tmp_path / "h.pdf").exists()
    assert session.stepper.index == 3


def test_pages_carry_the_formula_and_the_explanation(session):
    page = next(p for p in handout.step_pages(session) if p.name == "blocks.0.attn.hook_pattern")
    step = session.trace.step("blocks.0.attn.hook_pattern")
    assert page.formula == step.formula and page.description == step.description
    assert "the cat sat on the mat" in page.footer


def test_file_export_handout_writes_the_windows_model(make_window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    w = make_window(size=None, show=False)
    model = Transformer(SMALL, seed=5)
    w.set_model(model, model.tokens("a big dog"), "small model")
    w.session_bridge.stepper.set_granularity("sublayer")
    w.session_bridge.stepper.go(2)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "h"), ""))
    assert handout.ask_export_handout(w, w.session_bridge.session, granularity="sublayer") == str(tmp_path / "h.pdf")
    assert pdf_page_count(tmp_path / "h.pdf") == len(w.session_bridge.stepper)
    assert w.session_bridge.stepper.index == 2


INPUT_WIDGETS = (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit)


def visible_inputs(view) -> list:
    """Input widgets a render of `view` would paint (QWidget.render paints only visible children)."""
    return [w for w in view.findChildren(QWidget) if isinstance(w, INPUT_WIDGETS) and w.isVisibleTo(view)]


def test_no_page_shows_a_widget(session):
    seen_bars = False
    for page in handout.step_pages(session):
        assert page.view is not None
        assert not visible_inputs(page.view), f"page {page.number} ({page.name}) paints a widget"
        seen_bars |= page.view.next_token().isVisible()
    assert seen_bars  # the next-token page, with its combo box, slider and buttons, was among them


def test_the_control_check_can_fail(session):
    page = next(handout.step_pages(session))
    page.view.next_token().set_controls_visible(True)
    page.view.next_token().show()
    assert visible_inputs(page.view)


@pytest.mark.slow
def test_the_pdf_is_drawn_as_vectors_and_stays_small(tmp_path):
    model = Transformer(ModelConfig(), seed=0)  # the full default size: 2 layers, a page a step
    session = Session(model, model.tokens("the cat sat on the mat"))
    out = tmp_path / "handout.pdf"
    n = handout.render_handout(session, out)
    size = out.stat().st_size
    # 14.6 MB for 40 pages when every picture was a JPEG; now text and lines, the cells tiny images
    assert size <= 3_000_000 * n / 40, f"{size / 1e6:.1f} MB for {n} pages"
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed: the PDF's text was not checked")
    text = subprocess.run(["pdftotext", "-f", "12", "-l", "12", str(out), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    assert "pattern" in text and "the" in text.split()  # the picture's titles and token labels are text


def test_a_page_is_drawn_once_its_picture_has_settled(qapp):
    """A page drawn before the layout settled kept axis labels from the size before (the next-token
    bars lost most of their token names); a page's picture is what the settled view shows."""
    from ui.app import default_session
    from ui.classroom.export import render_image

    session = default_session()
    for page in handout.step_pages(session):
        if page.name in ("blocks.0.attn.hook_v", "logits", "probs"):
            for _ in range(3):
                qapp.processEvents()
            assert page.picture == render_image(page.view), f"page {page.number} ({page.name}) changed after"
