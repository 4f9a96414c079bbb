"""Saving what is on screen: any view as a PNG or SVG picture, any matrix or tensor as CSV or .npy.

Every heatmap's context menu (right click) offers its picture and its numbers; the File
menu saves the whole current view and the whole current step's tensor. Writes are atomic
(a failed save leaves an older file untouched) and a failure is reported in a message box.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QIODevice, QPoint, QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from simulator.io import atomic_write
from ui import messages
from ui.pictures.cell_overlay import no_outlines
from ui.pictures.paper import light_paper

PICTURE_FILTERS = {"PNG image (*.png)": ".png", "SVG drawing (*.svg)": ".svg"}
ARRAY_FILTERS = {"CSV table (*.csv)": ".csv", "NumPy array (*.npy)": ".npy"}


def paint_widget(widget: QWidget, painter: QPainter) -> None:
    """Paint the widget with its children, then end the painter. Change outlines are left out:
    they mark the last edit on screen, and mean nothing on a slide or on paper; and the picture is
    on light paper whatever the window's theme."""
    try:
        with no_outlines(), light_paper(widget):
            # QWidget's own render: a QGraphicsView (every heatmap) hides it behind one that draws only its scene.
            QWidget.render(widget, painter, QPoint())
    finally:
        painter.end()


def paint_vector(widget: QWidget, painter: QPainter, target: QRect) -> None:
    """Draw the widget into `target` of a vector device (a PDF page), scaled to fill it: lines and
    text stay lines and text, and only each heatmap's cells are an image (one pixel a cell), so a
    page costs tens of kilobytes where a picture of it costs hundreds. The painter stays open."""
    painter.save()
    try:
        painter.translate(target.topLeft())
        painter.scale(target.width() / max(widget.width(), 1), target.height() / max(widget.height(), 1))
        painter.setClipRect(QRect(QPoint(), widget.size()))
        with no_outlines(), light_paper(widget):
            QWidget.render(widget, painter, QPoint())
    finally:
        painter.restore()


def render_image(widget: QWidget) -> QImage:
    """The widget as it looks on screen, on white (not transparent: it goes on slides and paper)."""
    # At 1:1 only: the heatmaps paint their numbers in device pixels, which a scaled painter would misplace.
    image = QImage(widget.size(), QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    paint_widget(widget, QPainter(image))
    return image


def picture_bytes(widget: QWidget, suffix: str) -> bytes:
    """The widget as PNG or SVG file contents."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if suffix == ".png":
        if not render_image(widget).save(buffer, "PNG"):
            raise OSError("The picture could not be encoded as PNG.")
    elif suffix == ".svg":
        svg = QSvgGenerator()
        svg.setOutputDevice(buffer)
        svg.setSize(widget.size())
        svg.setViewBox(QRect(0, 0, widget.width(), widget.height()))
        svg.setResolution(widget.logicalDpiX())  # else point-sized text and pixel geometry disagree
        svg.setTitle(widget.windowTitle() or "Stepformer")
        svg.setDescription("Exported from Stepformer")
        paint_widget(widget, QPainter(svg))
    else:
        raise ValueError(f"Pictures are saved as .png or .svg, not {suffix or 'a file without extension'}.")
    buffer.close()
    return bytes(buffer.data())


def save_picture(widget: QWidget, path: str | Path) -> None:
    """Write the widget as a picture; the extension (.png or .svg) picks the format."""
    path = Path(path)
    data = picture_bytes(widget, path.suffix.lower())
    atomic_write(path, lambda f: f.write(data))


def table_text(values: np.ndarray, row_labels: Sequence[str] | None = None,
               col_labels: Sequence[str] | None = None) -> str:
    """CSV text: a matrix with its labels; a tensor of 3+ axes as one row per leading index.

    Numbers are written in full precision; masked cells are "-inf" (as numpy reads them back).
    """
    a = np.asarray(values, dtype=np.float64)
    a = a.reshape(1, -1) if a.ndim <= 1 else a
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    lead = a.shape[:-1]  # [*lead, cols]
    cols = list(col_labels) if col_labels is not None else [str(j) for j in range(a.shape[-1])]
    if a.ndim == 2:
        rows = list(row_labels) if row_labels is not None else [str(i) for i in range(a.shape[0])]
        writer.writerow(["", *cols])
        for label, row in zip(rows, a):
            writer.writerow([label, *map(repr, row.tolist())])
    else:
        writer.writerow([f"axis {k}" for k in range(len(lead))] + cols)
        for index in np.ndindex(*lead):
            writer.writerow([*index, *map(repr, a[index].tolist())])
    return out.getvalue()


def save_array(values: np.ndarray, path: str | Path, row_labels: Sequence[str] | None = None,
               col_labels: Sequence[str] | None = None) -> None:
    """Write numbers as .csv (with labels) or .npy (the float64 array, exactly)."""
    path = Path(path)
    suffix = path.suffix.lower()
    a = np.asarray(values, dtype=np.float64)
    if suffix == ".csv":
        data = table_text(a, row_labels, col_labels).encode("utf-8")
        atomic_write(path, lambda f: f.write(data))
    elif suffix == ".npy":
        atomic_write(path, lambda f: np.save(f, a, allow_pickle=False))
    else:
        raise ValueError(f"Numbers are saved as .csv or .npy, not {suffix or 'a file without extension'}.")


# --- asking and reporting -----------------------------------------------------------------

def ask_save_path(parent: QWidget | None, title: str, filters: dict[str, str], name: str) -> str | None:
    """A save dialog; the extension of the chosen type is added when the name has none of them."""
    path, chosen = QFileDialog.getSaveFileName(parent, title, str(Path.home() / name), ";;".join(filters))
    if not path:
        return None
    if Path(path).suffix.lower() not in filters.values():
        path += filters.get(chosen, next(iter(filters.values())))
    return path


def _safe_name(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "._-" else "_" for c in text).strip("_")
    return keep or "stepformer"


def _report(parent: QWidget | None, what: str, exc: Exception) -> None:
    messages.refuse(parent, f"Could not save the {what}", str(exc))


def export_picture(widget: QWidget, parent: QWidget | None = None, name: str = "picture") -> str | None:
    """Ask where, then save `widget` as PNG or SVG; returns the path written (None if not)."""
    path = ask_save_path(parent or widget, "Save picture", PICTURE_FILTERS, _safe_name(name) + ".png")
    if path is None:
        return None
    try:
        save_picture(widget, path)
    except (OSError, ValueError) as exc:
        _report(parent or widget, "picture", exc)
        return None
    return path


def export_array(values: np.ndarray, parent: QWidget | None = None, name: str = "tensor",
                 row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None) -> str | None:
    """Ask where, then save numbers as CSV or .npy; returns the path written (None if not)."""
    path = ask_save_path(parent, "Save numbers", ARRAY_FILTERS, _safe_name(name) + ".csv")
    if path is None:
        return None
    try:
        save_array(values, path, row_labels, col_labels)
    except (OSError, ValueError) as exc:
        _report(parent, "numbers", exc)
        return None
    return path


def heatmap_menu(heatmap) -> QMenu:
    """The context menu of a `Heatmap`: its picture and its numbers (deleted once closed)."""
    menu = QMenu(heatmap)
    menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    title = heatmap.title() or "heatmap"
    rows, cols = heatmap.labels()
    menu.addAction("Save picture as PNG or SVG…", lambda: export_picture(heatmap, heatmap, title))
    menu.addAction(f"Save numbers ({' × '.join(map(str, heatmap.values().shape))}) as CSV or .npy…",
                   lambda: export_array(heatmap.values(), heatmap, title, rows, cols))
    return menu


def export_step(parent: QWidget | None, bridge) -> str | None:
    """Save the current step's whole tensor (every head, every position) as CSV or .npy."""
    name = bridge.stepper.name
    value = bridge.trace[name]
    rows = None
    if value.ndim == 2:
        labels = list(bridge.trace.token_labels(name))
        rows = labels if len(labels) == value.shape[0] else None  # the first axis is the positions
    return export_array(value, parent, name, rows)
