"""The dark theme darkens the pictures and the architecture map, not only the frame; text on them
keeps its contrast; exports stay on light paper."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from ui.classroom.export import render_image
from ui.pictures import colormaps
from ui.pictures.paper import paper_of


def luminance(c: QColor) -> float:
    """WCAG relative luminance."""
    rgb = np.array(c.getRgbF()[:3])
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(lin @ np.array([0.2126, 0.7152, 0.0722]))


def contrast(a: QColor, b: QColor) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def ground_share(image: QImage, dark: bool) -> float:
    """Share of pixels that are dark (lightness < 70) or, for `dark=False`, light (> 230), sampled on a grid."""
    hits = n = 0
    for x in range(2, image.width() - 2, max(1, image.width() // 40)):
        for y in range(2, image.height() - 2, max(1, image.height() // 40)):
            light = image.pixelColor(x, y).lightness()
            hits += (light < 70) if dark else (light > 230)
            n += 1
    return hits / n


def go_dark(window) -> None:
    window.theme.set_theme("dark")
    QApplication.processEvents()  # the application palette reaches the widgets by posted events
    QApplication.processEvents()


@pytest.fixture
def dark_window(make_window):
    window = make_window()
    window.session_bridge.stepper.jump("blocks.0.attn.hook_pattern")
    go_dark(window)
    return window


def test_pictures_and_the_arch_map_are_dark(dark_window):
    w = dark_window
    step = w.step_view.grab().toImage()
    assert ground_share(step, dark=True) > 0.3, "the step picture kept a light ground"
    corner = step.pixelColor(3, step.height() - 3)
    assert corner.lightness() < 60
    for box in w.step_view._shown:
        if hasattr(box, "heatmap"):
            image = box.heatmap.grab().toImage()
            # the heatmap's own ground (its top-left corner, beside the title) is dark
            assert image.pixelColor(1, 1).lightness() < 60
    arch = w.arch_map.grab().toImage()
    assert ground_share(arch, dark=True) > 0.5, "the architecture map kept a light ground"
    assert arch.pixelColor(2, 2).lightness() < 60


def test_plots_are_dark_too(dark_window):
    w = dark_window
    w.tabs.setCurrentWidget(w.training_panel)
    QApplication.processEvents()
    image = w.training_panel.loss_plot.grab().toImage()
    assert ground_share(image, dark=True) > 0.5


def test_text_on_dark_pictures_has_contrast(dark_window):
    w = dark_window
    heatmap = w.step_view.current_heatmap()
    paper = paper_of(heatmap)
    assert paper.dark
    assert contrast(paper.ink, paper.ground) >= 7  # titles, axes and token labels
    assert contrast(paper.muted, paper.ground) >= 4.5  # the step's code name, notes
    axis = heatmap._plot.getAxis("left")
    assert axis.textPen().color() == paper.ink
    lines = w.step_view.attention_lines()
    assert paper_of(lines).dark
    # a cell's number takes black or white by its cell's colour, not by the ground
    lut = colormaps.lookup_table(heatmap.maps.sequential)
    for rgba in lut[::16]:
        white = bool(colormaps.is_dark(rgba))
        cell = QColor(*rgba[:3].tolist())
        text = QColor("white") if white else QColor("black")
        assert contrast(text, cell) >= 4.5


def test_the_light_theme_gives_white_paper_back(dark_window):
    w = dark_window
    w.theme.set_theme("light")
    QApplication.processEvents()
    QApplication.processEvents()
    image = w.step_view.grab().toImage()
    assert image.pixelColor(3, image.height() - 3).lightness() > 240
    assert w.arch_map.grab().toImage().pixelColor(2, 2).lightness() > 240


def test_exports_stay_on_light_paper(dark_window):
    w = dark_window
    image = render_image(w.step_view)
    assert ground_share(image, dark=False) > 0.3
    assert image.pixelColor(3, image.height() - 3).lightness() > 240
    # and the window is dark again afterwards
    assert paper_of(w.step_view.current_heatmap()).dark
    assert w.step_view.grab().toImage().pixelColor(3, w.step_view.height() - 3).lightness() < 60


def test_handout_pages_are_light_in_the_dark_theme(dark_window):
    from ui.classroom.handout import step_pages

    page = next(step_pages(dark_window.session_bridge.session))
    assert ground_share(page.picture, dark=False) > 0.3


def test_the_note_cards_turn_dark_with_the_theme_and_keep_their_contrast(make_window):
    w = make_window()
    w.tabs.setCurrentIndex(w.tab_titles().index("KV cache"))
    cards = [w.explain_panel.cell, w.current_view().savings]

    def colours(card):
        image = card.grab().toImage()
        ground = image.pixelColor(image.width() // 2, 2)  # the padding: no text there
        return ground, card.palette().color(card.foregroundRole())

    for card in cards:
        ground, ink = colours(card)
        assert ground.lightness() > 200 and contrast(ground, ink) > 7
    go_dark(w)
    for card in cards:
        ground, ink = colours(card)
        assert ground.lightness() < 80 and contrast(ground, ink) > 7, card
    w.theme.set_theme("light")
    QApplication.processEvents()
    QApplication.processEvents()
    assert all(colours(card)[0].lightness() > 200 for card in cards)


def test_the_token_chips_turn_dark_with_the_theme(make_window):
    w = make_window()

    def chip_fill(chips):
        rect = chips.visualItemRect(chips.item(0))
        image = chips.viewport().grab().toImage()
        return image.pixelColor(rect.left() + 5, rect.center().y())  # inside the chip, left of its text

    strip = w.token_strip
    lists = (strip.sides[0].chips, strip.vocab)
    assert all(chip_fill(c).lightness() > 200 for c in lists)
    go_dark(w)
    assert all(chip_fill(c).lightness() < 90 for c in lists)


def test_refusal_messages_turn_light_red_in_the_dark_theme_and_keep_their_contrast(make_window):
    """The Append widgets' messages (next-token panel, Sampling, KV cache) and the token strip's: a dark red
    on light paper, a light one on dark paper, each ≥ 4.5:1 against what it lies on, recoloured in place."""
    from ui.app import start_session

    w = make_window(start_session())
    w.session_bridge.stepper.jump("probs")
    labels = [w.step_view.next_token().append_buttons.message, w.token_strip.message]
    for title in ("Sampling", "KV cache"):
        w.tabs.setCurrentIndex(w.tab_titles().index(title))
        labels.append(w.current_view().append_buttons.message)
    for label in labels:
        label.say("Refused.")

    def colours(label):
        ground = label.parentWidget().grab().toImage().pixelColor(label.geometry().topRight())
        return ground, label.palette().color(label.foregroundRole())

    def check(dark: bool) -> list[QColor]:
        inks = []
        for label in labels:
            ground, ink = colours(label)
            assert (ground.lightness() < 80) == dark, label.parentWidget()
            red = ink.hslHue() <= 15 or ink.hslHue() >= 345
            assert red and contrast(ground, ink) >= 4.5, (label.parentWidget(), ink.name())
            inks.append(ink)
        return inks

    light = check(dark=False)
    go_dark(w)
    dark = check(dark=True)
    assert all(a.lightness() < b.lightness() for a, b in zip(light, dark))
    w.theme.set_theme("light")
    QApplication.processEvents()
    QApplication.processEvents()
    assert [i.name() for i in check(dark=False)] == [i.name() for i in light]


def test_a_refused_token_frames_its_field_in_the_theme_s_red(make_window):
    from ui.pictures.frame import ERROR_DARK, ERROR_LIGHT

    w = make_window()
    edit = w.token_strip.sides[0].edit
    for dark, red in ((False, ERROR_LIGHT), (True, ERROR_DARK)):
        if dark:
            go_dark(w)
        edit.setText("the " + "x" * 3000)  # no such token
        edit.returnPressed.emit()
        assert red in edit.styleSheet() and w.token_strip.error_text()


def test_the_status_bar_warnings_keep_their_contrast_in_both_themes(make_window):
    """"This decoder can see the future" (red) and "Random weights — untrained" (amber), on the status bar."""
    w = make_window()  # the classroom model: random weights
    w.warning_label.setText("This decoder can see the future.")
    labels = (w.warning_label, w.weights_label)
    assert all(label.isVisible() for label in labels)

    def inks() -> list[QColor]:
        ground = w.statusBar().palette().color(w.statusBar().backgroundRole())
        out = [label.palette().color(label.foregroundRole()) for label in labels]
        assert all(contrast(ground, ink) >= 4.5 for ink in out), [(ground.name(), i.name()) for i in out]
        return out

    light = inks()
    go_dark(w)
    dark = inks()
    assert all(a.lightness() < b.lightness() for a, b in zip(light, dark))
    red, amber = dark
    assert red.hslHue() < 15 and 20 < amber.hslHue() < 50


def test_the_kv_cache_tables_are_dark_too(make_window):
    from ui.app import start_session

    w = make_window(start_session())
    w.tabs.setCurrentIndex(w.tab_titles().index("KV cache"))
    w.generation.append(greedy=True)
    tables = w.current_view().tables
    assert tables.grab().toImage().pixelColor(2, 2).lightness() > 240
    go_dark(w)
    assert tables.grab().toImage().pixelColor(2, 2).lightness() < 60
    assert contrast(paper_of(tables).ink, paper_of(tables).ground) >= 7  # the token labels


def test_the_kv_caches_new_row_text_reads_on_either_paper(dark_window):
    """'← computed now' and the new token's label were pure orange: 2.9:1 on white paper."""
    from ui.pictures.paper import Paper, paper_of
    from ui.views.kv_cache_view import NEW_ROW, new_row_ink

    white = Paper(QColor("white"), QColor("black"), QColor("grey"), QColor("lightgrey"))
    assert contrast(NEW_ROW, white.ground) < 4.5  # what it was
    dark = paper_of(dark_window.step_view)
    assert dark.dark
    for paper in (white, dark):
        ink = new_row_ink(paper)
        assert contrast(ink, paper.ground) >= 4.5, paper
        assert ink.red() > ink.blue() + 60  # still the new row's orange, not the ink
