"""A lesson as slides: one PDF page per stop, the picture as the class sees it in presentation
mode, the stop's words beside it; a question on one page and its answer on the next.

The picture comes from a private step view at presentation type (like the handout's, it
never touches the window), drawn into the PDF as lines and text: a slide's numbers can be
searched, copied and checked, and a page costs tens of kilobytes.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRect, QSize, QSizeF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPageLayout, QPageSize, QPainter, QPdfWriter
from PySide6.QtWidgets import QApplication, QWidget

from simulator import Session
from simulator.lessons import Lesson
from ui.bridge import SessionBridge
from ui.classroom.export import paint_vector
from ui.classroom.handout import page_font, write_pages
from ui.classroom.presentation import DOCK_SHARE, EXPLAIN_SHARE, PresentationController
from ui.pictures.step_pictures import step_title
from ui.views.step_view import StepView

DPI = 96  # one slide pixel per screen pixel at the presentation size
TITLE_PT, TEXT_PT, SMALL_PT = 20.0, 15.0, 10.0


@dataclass
class Slide:
    title: str  # the lesson's title
    where: str  # "Stop 3 of 9 · Layer 0 · Queries Q"
    text: str
    question: str
    answer: str  # shown ("" on the question's own page)
    picture: QWidget  # the stop's step view: valid until the next stop's slides are made


def slide_count(lesson: Lesson) -> int:
    """One slide a stop, two for a stop with a question and its answer."""
    return sum(1 + bool(stop.question and stop.answer) for stop in lesson.stops)


def lesson_slides(lesson: Lesson, size: QSize = QSize(1280, 800)) -> Iterator[Slide]:
    """The slides of `lesson` for a projector of `size` (a question stop gives two), made one
    stop at a time: draw each before asking for the next."""
    scale = PresentationController.scale_for(size.height())
    picture = QSize(round(size.width() * (1 - DOCK_SHARE)), round(size.height() * (1 - EXPLAIN_SHARE)))
    view = None
    try:
        n = len(lesson.stops)
        for i, stop in enumerate(lesson.stops):
            model, tokens = lesson.open_stop(i)
            session = Session(model, tokens)
            bridge = SessionBridge(session)
            if view is not None:
                view.close()
                view.deleteLater()
            view = StepView(bridge)
            view.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
            view.set_font_scale(scale)
            view.next_token().set_controls_visible(False)  # no widgets on paper
            view.resize(picture)
            view.show()
            node = session.trace.graph.node(stop.step)
            if node.name not in session.stepper.names:
                session.stepper.set_granularity("operation")
            session.stepper.jump(stop.step)
            bridge.set_head(stop.head)
            for _ in range(3):
                QApplication.processEvents()  # let the pictures lay out at their final size
            where = f"Stop {i + 1} of {n} · {step_title(session.trace, stop.step)}"
            question = f"Question: {stop.question}" if stop.question else ""
            yield Slide(lesson.title, where, stop.text, question, "", view)
            if stop.question and stop.answer:
                yield Slide(lesson.title, where, stop.text, question, stop.answer, view)
    finally:
        if view is not None:
            view.close()
            view.deleteLater()


def paint_slide(p: QPainter, area: QRect, slide: Slide, number: int, count: int) -> None:
    """The picture on the left (as large as fits), the words in a column on the right."""
    column_w = round(area.width() * DOCK_SHARE)
    pic_box = QRect(area.left(), area.top(), area.width() - column_w - 12, area.height())
    target = slide.picture.size().scaled(pic_box.size(), Qt.AspectRatioMode.KeepAspectRatio)
    pic = QRect(pic_box.left(), pic_box.top() + (pic_box.height() - target.height()) // 2,
                target.width(), target.height())
    paint_vector(slide.picture, p, pic)
    flags = int(Qt.TextFlag.TextWordWrap)
    x, y, w = area.right() - column_w, area.top(), column_w
    device = p.device()
    blocks = [(page_font(TITLE_PT, True), slide.title, QColor(0, 0, 0)),
              (page_font(SMALL_PT), slide.where, QColor(90, 90, 90)),
              (page_font(TEXT_PT), slide.text, QColor(20, 20, 20)),
              (page_font(TEXT_PT, True), slide.question, QColor(0, 0, 0)),
              (page_font(TEXT_PT), slide.answer, QColor(16, 32, 48)),
              (page_font(SMALL_PT), f"{number} / {count}", QColor(130, 130, 130))]
    for font, text, colour in blocks:
        if not text:
            continue
        h = QFontMetrics(font, device).boundingRect(QRect(0, 0, w, 10 ** 6), flags, text).height()
        rect = QRect(x, y, w, h)
        if text is slide.answer:
            p.fillRect(rect.adjusted(-6, -4, 6, 4), QColor("#e8f4fb"))
        p.setFont(font)
        p.setPen(colour)
        p.drawText(rect, flags, text)
        y += h + round(area.height() * 0.03)


def write_slides(lesson: Lesson, path: str | Path, size: QSize = QSize(1280, 800)) -> int:
    """`lesson` as a PDF of slides of `size` pixels, written atomically; returns the page count."""
    count = slide_count(lesson)

    def setup(writer: QPdfWriter) -> None:
        writer.setResolution(DPI)
        inches = QSizeF(size.width() / DPI, size.height() / DPI)
        writer.setPageSize(QPageSize(inches, QPageSize.Unit.Inch, "slide"))
        writer.setPageOrientation(QPageLayout.Orientation.Portrait)
        writer.setPageMargins(QMarginsF(0, 0, 0, 0))
        writer.setTitle(lesson.title)

    def draw(painter: QPainter, writer: QPdfWriter, slide, n: int) -> None:
        page = writer.pageLayout().paintRectPixels(DPI)
        margin = round(0.03 * page.height())
        painter.fillRect(page, QColor("white"))
        paint_slide(painter, page.adjusted(margin, margin, -margin, -margin), slide, n, count)
    return write_pages(path, setup, lesson_slides(lesson, size), draw)
