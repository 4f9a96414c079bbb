"""Slides: `stepformer export --lesson FILE --out slides.pdf` writes one page per stop (a
question's answer on the page after it), with the numbers of the pictures as PDF text."""
import shutil
import subprocess

import numpy as np
import pytest
from PySide6.QtCore import QSize

from simulator.lessons import LESSON_DIR, load_lesson
from ui.classroom.slides import write_slides
from ui.cli_commands import export_main
from ui.pictures.cell_text import format_compact, format_value

LESSON_1 = LESSON_DIR / "01_one_attention_head.json"
needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                     reason="pdftotext (poppler-utils) reads the PDF back")


def _page_text(pdf, page: int) -> str:
    out = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"],
                         capture_output=True, text=True, check=True)
    return out.stdout


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    from ui.app import create_app
    create_app()
    out = tmp_path_factory.mktemp("slides") / "lesson1.pdf"
    pages = write_slides(load_lesson(LESSON_1), out, QSize(1280, 800))
    return out, pages


def test_one_page_per_stop_and_one_more_per_answer(slides):
    out, pages = slides
    lesson = load_lesson(LESSON_1)
    assert pages == len(lesson.stops) + sum(1 for s in lesson.stops if s.question and s.answer)
    assert out.read_bytes().startswith(b"%PDF")
    # drawn as text and lines (1.8 MB for these 11 slides when each picture was a JPEG)
    assert out.stat().st_size < 60_000 * pages, f"{out.stat().st_size / 1e6:.2f} MB for {pages} slides"


@needs_pdftotext
@pytest.mark.parametrize("stop, step, head_axis", [
    (3, "blocks.0.attn.hook_q", 1), (4, "blocks.0.attn.hook_k", 1),
    (5, "blocks.0.attn.hook_scores_raw", 0), (8, "blocks.0.attn.hook_pattern", 0),
])
def test_lesson_1_slides_carry_the_numbers_as_text(slides, stop, step, head_axis):
    out, _ = slides
    lesson = load_lesson(LESSON_1)
    model, tokens = lesson.open_stop(stop - 1)
    values = np.take(model.run(tokens)[step], 0, axis=head_axis)  # the one head
    # pages before this stop: one each, two for a stop with a question and its answer
    page = 1 + sum(1 + bool(s.question and s.answer) for s in lesson.stops[:stop - 1])
    words = set(_page_text(out, page).split())
    missing = [float(v) for v in values.ravel()
               if np.isfinite(v) and format_value(float(v)) not in words and format_compact(float(v)) not in words]
    assert not missing, f"stop {stop}: numbers not in the PDF text: {missing[:5]}"


@needs_pdftotext
def test_a_question_is_on_one_page_and_its_answer_on_the_next(slides):
    out, _ = slides
    lesson = load_lesson(LESSON_1)
    i = next(i for i, s in enumerate(lesson.stops) if s.question and s.answer)
    page = 1 + sum(1 + bool(s.question and s.answer) for s in lesson.stops[:i])
    first = " ".join(_page_text(out, page).split())
    second = " ".join(_page_text(out, page + 1).split())
    answer_start = " ".join(lesson.stops[i].answer.split()[:4])
    assert "Question" in first and answer_start not in first
    assert "Question" in second and answer_start in second


def test_the_cli_refuses_a_bad_lesson_or_size(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{\"title\": \"x\"}")
    assert export_main(["--lesson", str(bad), "--out", str(tmp_path / "s.pdf")]) == 2
    assert "stops" in capsys.readouterr().err
    assert export_main(["--lesson", str(LESSON_1), "--out", str(tmp_path / "s.pdf"), "--size", "big"]) == 2
    assert "--size" in capsys.readouterr().err
    assert not (tmp_path / "s.pdf").exists()


def test_no_slide_shows_a_widget(qapp):
    from PySide6.QtWidgets import QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QWidget

    from ui.classroom.slides import lesson_slides

    kinds = (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox)
    for n, slide in enumerate(lesson_slides(load_lesson(LESSON_1)), 1):
        view = slide.picture
        shown = [w for w in view.findChildren(QWidget) if isinstance(w, kinds) and w.isVisibleTo(view)]
        assert not shown, f"slide {n} paints {shown}"
