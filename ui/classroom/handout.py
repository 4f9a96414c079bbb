"""A whole forward pass as a handout: one page per step with its picture, formula and explanation.

The pictures come from a private step view (a fixed-size offscreen widget over its own
session), so making a handout never moves the window's cursor. Pages are A4 landscape,
as a PDF (`QPdfWriter`) or as a folder of PNG files that look the same.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, QMarginsF, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter
from PySide6.QtWidgets import QApplication, QFileDialog, QProgressDialog, QWidget

from simulator import Session
from simulator.io import atomic_write
from ui import messages
from ui.bridge import SessionBridge
from ui.classroom.export import paint_vector, render_image
from ui.pictures.step_pictures import step_title
from ui.views.step_view import StepView

PICTURE_SIZE = QSize(1440, 900)  # the step view's size when drawing a page's picture
PICTURE_FONT_SCALE = 1.3  # cell numbers come out near 9 pt on paper
DPI = 150  # page resolution: sharp enough for print, small enough for a quick PNG folder
# A PDF page's units: the picture's widgets are drawn into it as vectors, and their point-sized
# fonts only keep their size relative to the cells at the screen's 96 pixels an inch.
PDF_DPI = 96
HEADING_PT, FORMULA_PT, TEXT_PT, FOOTER_PT = 22.0, 17.0, 14.0, 10.0
MARGIN_MM = 10.0

Progress = Callable[[int, int], bool]  # (pages done, pages in all) -> False to cancel


class Cancelled(Exception):
    """The progress callback asked to stop: no PDF is written; a PNG folder keeps the pages done."""


@dataclass
class HandoutPage:
    number: int  # 1-based
    count: int
    name: str  # the step's name, e.g. blocks.0.attn.hook_pattern
    title: str  # "Layer 0 · Attention · softmax"
    formula: str
    description: str
    picture: QImage  # the step view at PICTURE_SIZE
    footer: str
    view: QWidget | None = None  # the step view showing this page, drawn as vectors into a PDF (valid until
    # the next page is made; None: the picture is drawn)


def describe_input(session: Session) -> str:
    tokens = session.tokens
    if isinstance(tokens, tuple):
        return f"{' '.join(tokens[0])} ⇒ {' '.join(tokens[1])}"
    return " ".join(tokens)


def describe_model(session: Session) -> str:
    c = session.model.config
    return (f"{c.arch}, {c.n_layers} layer{'s' * (c.n_layers != 1)}, {c.n_heads} head{'s' * (c.n_heads != 1)}, "
            f"d_model {c.d_model}")


def step_pages(session: Session, head: int = 0, granularity: str = "operation",
               size: QSize = PICTURE_SIZE) -> Iterator[HandoutPage]:
    """Every step of `session`'s forward pass as a page (the session itself is not touched)."""
    own = Session(session.model, session.tokens, session.temperature)
    own.stepper.set_granularity(granularity)
    bridge = SessionBridge(own)
    bridge.set_head(head)
    view = StepView(bridge)
    view.set_font_scale(PICTURE_FONT_SCALE)
    view.next_token().set_controls_visible(False)  # no widgets on paper
    view.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
    view.resize(size)
    view.show()
    footer = f"Stepformer · {describe_model(session)} · input: {describe_input(session)}"
    try:
        stepper = own.stepper
        for i in range(len(stepper)):
            stepper.go(i)
            for _ in range(3):  # let the pictures lay out at their final size: a single pass leaves
                QApplication.processEvents()  # some axes labelled for the size before (labels dropped)
            step = stepper.step
            yield HandoutPage(i + 1, len(stepper), step.name, step_title(own.trace, step.name),
                              step.formula or step.op, step.description, render_image(view), footer, view)
    finally:
        view.close()
        view.deleteLater()


def page_font(pt: float, bold: bool = False) -> QFont:
    """A printed page's font of `pt` points (handouts and slides)."""
    font = QFont()
    font.setPointSizeF(pt)
    font.setBold(bold)
    return font


def paint_page(p: QPainter, area: QRect, page: HandoutPage, vector: bool = False) -> None:
    """Lay out one page inside `area` (device pixels of the painter's device); `vector` draws the
    picture from the page's live view as lines and text (a PDF) rather than as its image."""
    device = p.device()
    flags = int(Qt.TextFlag.TextWordWrap)
    blocks = []  # (font, text, colour) from the top, then from the bottom
    top = [(page_font(HEADING_PT, bold=True), f"Step {page.number} of {page.count}: {page.title}", QColor(0, 0, 0)),
           (page_font(TEXT_PT), page.name, QColor(90, 90, 90))]
    bottom = [(page_font(FORMULA_PT, bold=True), page.formula, QColor(0, 0, 0)),
              (page_font(TEXT_PT), page.description, QColor(20, 20, 20)),
              (page_font(FOOTER_PT), f"{page.footer} · page {page.number} of {page.count}", QColor(110, 110, 110))]
    gap = round(area.height() * 0.012)

    def height(font: QFont, text: str) -> int:
        return QFontMetrics(font, device).boundingRect(QRect(0, 0, area.width(), 10**6), flags, text).height()

    y = area.top()
    for font, text, colour in top:
        h = height(font, text)
        blocks.append((QRect(area.left(), y, area.width(), h), font, text, colour))
        y += h + gap
    bottom_h = sum(height(f, t) + gap for f, t, _ in bottom if t)
    picture_box = QRect(area.left(), y, area.width(), area.bottom() - bottom_h - y)
    yb = picture_box.bottom() + gap
    for font, text, colour in bottom:
        if text:
            h = height(font, text)
            blocks.append((QRect(area.left(), yb, area.width(), h), font, text, colour))
            yb += h + gap

    target = page.picture.size().scaled(picture_box.size(), Qt.AspectRatioMode.KeepAspectRatio)
    x = picture_box.left() + (picture_box.width() - target.width()) // 2
    box = QRect(x, picture_box.top(), target.width(), target.height())
    if vector and page.view is not None:
        paint_vector(page.view, p, box)
    else:
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(box, page.picture)
    p.setPen(QColor(200, 200, 200))
    p.drawRect(QRect(x, picture_box.top(), target.width(), target.height()))
    for rect, font, text, colour in blocks:
        p.setFont(font)
        p.setPen(colour)
        p.drawText(rect, flags, text)


def _page_layout() -> QPageLayout:
    return QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Landscape,
                       QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM), QPageLayout.Unit.Millimeter)


def _check(progress: Progress | None, done: int, count: int) -> None:
    if progress is not None and progress(done, count) is False:
        raise Cancelled()


def write_pages(path: str | Path, setup: Callable[[QPdfWriter], None], pages: Iterable,
                draw: Callable[[QPainter, QPdfWriter, object, int], None]) -> int:
    """A PDF of `pages`, each drawn by `draw(painter, writer, page, number from 1)` on a writer that
    `setup` has given its page size and title; written atomically. Returns the number of pages."""
    folder = Path(path).parent
    if not folder.is_dir():  # before drawing forty pages for nothing
        raise OSError(f"The folder {folder} does not exist.")
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setCreator("Stepformer")
    setup(writer)
    painter = QPainter()
    n = 0
    try:
        for page in pages:
            if n == 0:
                painter.begin(writer)
            elif not writer.newPage():
                raise OSError("The PDF writer could not start a new page.")
            n += 1
            draw(painter, writer, page, n)
    finally:
        if painter.isActive():
            painter.end()
    buffer.close()
    data = bytes(buffer.data())
    atomic_write(path, lambda f: f.write(data))
    return n


def write_pdf(pages: Iterator[HandoutPage], path: str | Path, progress: Progress | None = None) -> int:
    """One PDF page per handout page, written atomically; returns the number of pages."""
    def setup(writer: QPdfWriter) -> None:
        writer.setResolution(PDF_DPI)
        writer.setPageLayout(_page_layout())
        writer.setTitle("Stepformer handout")

    def draw(painter: QPainter, writer: QPdfWriter, page: HandoutPage, n: int) -> None:
        paint_page(painter, writer.pageLayout().paintRectPixels(PDF_DPI), page, vector=True)
        _check(progress, n, page.count)
    return write_pages(path, setup, pages, draw)


def page_image(page: HandoutPage) -> QImage:
    """The page as a picture with the PDF's layout (A4 landscape at DPI)."""
    layout = _page_layout()
    image = QImage(layout.fullRectPixels(DPI).size(), QImage.Format.Format_RGB32)
    dpm = round(DPI / 0.0254)
    image.setDotsPerMeterX(dpm)
    image.setDotsPerMeterY(dpm)
    image.fill(QColor("white"))
    painter = QPainter(image)
    paint_page(painter, layout.paintRectPixels(DPI), page)
    painter.end()
    return image


def write_pngs(pages: Iterator[HandoutPage], folder: str | Path, progress: Progress | None = None) -> int:
    """One PNG per page in `folder` (created if needed): step-01-embed.png, …; returns the count."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for page in pages:
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not page_image(page).save(buffer, "PNG"):
            raise OSError(f"Page {page.number} could not be encoded as PNG.")
        data = bytes(buffer.data())
        safe = "".join(c if c.isalnum() else "-" for c in page.name)
        atomic_write(folder / f"step-{page.number:02d}-{safe}.png", lambda f: f.write(data))
        n += 1
        _check(progress, n, page.count)
    return n


def render_handout(session: Session, out: str | Path, head: int = 0, granularity: str = "operation",
                   progress: Progress | None = None) -> int:
    """Write the handout to `out`: a .pdf file, or else a folder of PNGs. Returns the page count."""
    pages = step_pages(session, head, granularity)
    if str(out).lower().endswith(".pdf"):
        return write_pdf(pages, out, progress)
    return write_pngs(pages, out, progress)


def ask_export_handout(parent: QWidget, session: Session, head: int = 0, granularity: str = "operation",
                       as_pdf: bool = True) -> str | None:
    """Ask for a PDF file (or a folder for PNGs), render with a progress bar; returns the path written."""
    if as_pdf:
        out, _ = QFileDialog.getSaveFileName(parent, "Export handout as PDF", str(Path.home() / "handout.pdf"),
                                             "PDF document (*.pdf)")
        if out and not out.lower().endswith(".pdf"):
            out += ".pdf"
    else:
        out = QFileDialog.getExistingDirectory(parent, "Export handout as PNG pictures: choose a folder",
                                               str(Path.home()))
    if not out:
        return None
    dialog = QProgressDialog("Drawing the handout…", "Cancel", 0, 0, parent)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)

    def progress(done: int, count: int) -> bool:
        dialog.setMaximum(count)
        dialog.setValue(done)
        dialog.setLabelText(f"Drawing page {done} of {count}…")
        return not dialog.wasCanceled()

    try:
        render_handout(session, out, head, granularity, progress)
    except Cancelled:
        return None
    except (OSError, ValueError) as exc:
        messages.refuse(parent, "Could not export the handout", str(exc))
        return None
    finally:
        dialog.close()
    return out
