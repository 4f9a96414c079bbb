"""The cost view: its curves are the closed forms for the current model, the measurement runs on a
worker thread with a progress bar, and the current input's cells are counted from its masks."""
import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from simulator import ModelConfig, Session, Transformer
from simulator.cost import curves
from ui.bridge import SessionBridge
from ui.views import cost_view
from ui.views.cost_view import LENGTHS, CostView


@pytest.fixture
def view(qtbot, monkeypatch):
    monkeypatch.setattr(cost_view, "TIMED", (16, 32, 64))  # keep the measurement short
    monkeypatch.setattr(cost_view, "REPEATS", 2)
    cfg = ModelConfig(attention="window", window=2)
    bridge = SessionBridge(Session(Transformer(cfg, seed=0), "the cat sat on the mat"))
    v = CostView(bridge)
    qtbot.addWidget(v)
    yield v
    v.shutdown()


def test_curves_are_the_closed_forms_for_the_model(view):
    cfg = view.bridge.model.config
    want = curves(cfg, LENGTHS, causal=True)
    got = view.cost_curves()
    assert set(got) == {"causal", "window", "strided", "global", "bigbird", "linear"}
    for name in got:
        np.testing.assert_array_equal(got[name], want[name]["qk"])
    view.quantity.setCurrentIndex(view.quantity.findData("memory"))
    assert view.cost_curves()["causal"][0] == cfg.n_heads * 16 * 17 // 2
    assert LENGTHS[0] == 16 and LENGTHS[-1] >= 4096
    items = view.cost_plot.getPlotItem().listDataItems()
    assert len(items) == len(got) + 2  # one curve a pattern, and the n² and n guides


def test_the_measurement_runs_in_the_background_with_progress(qtbot, view):
    if view._thread is not None:  # the first refresh started one: let it finish
        qtbot.waitSignal(view.sigTimed, timeout=60_000).wait()
    with qtbot.waitSignal(view.sigTimed, timeout=60_000) as blocker:
        view.measure()
        # measure() returned at once: the timing runs on its own thread, the button waits for it
        assert view._thread is not None and not view.measure_button.isEnabled()
        assert view.progress.maximum() == 3 * 3 and view.progress.value() == 0
    result = blocker.args[0]
    assert set(result) == {"causal", "window", "linear"}
    assert [n for n, _ in result["causal"]] == [16, 32, 64] and all(t > 0 for _, t in result["window"])
    assert view._thread is None and view.measure_button.isEnabled()
    assert len(view.time_plot.getPlotItem().listDataItems()) == 3
    assert "Median of 2 runs" in view.time_note.text()
    assert view.progress.value() == 9 and view.progress.isHidden()  # the bar followed every measurement


def test_the_current_input_cells_and_the_derivation(view):
    text = view.cells.text()
    # window 2, 6 tokens: 6 + 5 = 11 of 36 cells kept, 69 % thrown away
    assert "layer 0: 6×6 = 36 cells per head, 11 kept, 69% thrown away" in text
    assert "K = n·w − w(w − 1)/2" in view.formulas.text() and "n(n + 1)/2" in view.formulas.text()
    view.bridge.session.set_model(Transformer(ModelConfig(attention="linear"), seed=0))
    view.refresh()
    assert "layer 1: no score grid; a 8×8 state per head" in view.cells.text()


def test_the_main_window_has_the_cost_tab(qtbot, monkeypatch):
    from ui.main_window import MainWindow
    monkeypatch.setattr(cost_view, "TIMED", (16,))
    window = MainWindow()
    qtbot.addWidget(window)
    index = [window.tabs.tabText(i) for i in range(window.tabs.count())].index("Cost of attention")
    window.tabs.setCurrentIndex(index)
    view = window.current_view()
    assert isinstance(view, CostView)
    view.shutdown()


def test_an_encoder_decoder_lists_each_attention_by_stack_and_kind(view):
    model = Transformer(ModelConfig(arch="encoder-decoder", n_layers=1), seed=0)
    view.bridge.session.set_model(model, (["the", "cat", "sat"], ["a", "dog"]))
    view.refresh()
    lines = view.cells.text().splitlines()[1:]
    assert lines == ["encoder layer 0: 3×3 = 9 cells per head, 9 kept, 0% thrown away",
                     "decoder layer 0: 2×2 = 4 cells per head, 3 kept, 25% thrown away",
                     "decoder layer 0, cross-attention: 2×3 = 6 cells per head, 6 kept, 0% thrown away"]


def test_the_log_axes_label_powers_of_ten_only(view, qtbot, drawn_ticks):
    """pyqtgraph labels the minor ticks of a log axis spanning two decades (2·10¹ … 9·10¹), which run into
    each other at projector type; the cost and time plots label the decades only."""
    view.resize(900, 700)
    view.show()
    qtbot.waitExposed(view)
    plot = view.cost_plot.getPlotItem()
    plot.setYRange(0, 2, padding=0)  # two decades: where pyqtgraph would label the minor ticks
    texts = [text for _, text in drawn_ticks(plot.getAxis("left"))]
    assert texts and all(t.startswith("10") or t in ("1", "10", "100") for t in texts), texts


def test_the_cost_tab_describes_its_picture_under_it(make_window):
    w = make_window()
    w.tabs.setCurrentIndex(w.tab_titles().index("Cost of attention"))
    assert w.explain_panel.description.text() == w.current_view().ABOUT
    assert not w.explain_panel.cell.isVisible()  # no cells of its own to explain: no empty box
    w.current_view().shutdown()  # its timing thread
    w.tabs.setCurrentIndex(0)
    assert w.explain_panel.cell.isVisible()


def test_presenting_at_1280x800_the_cost_page_needs_no_scrolling(make_window, qtbot):
    """The derivation's long text scrolls on its own page; it once made the plots' page as tall as itself."""
    w = make_window()
    w.tabs.setCurrentIndex(w.tab_titles().index("Cost of attention"))
    w.presentation.enter()
    w.showNormal()  # the offscreen screen is one size: present in a window of the size wanted
    w.resize(1280, 800)
    qtbot.waitUntil(lambda: w.size().width() == 1280)
    for _ in range(5):
        QApplication.processEvents()
    scroll = w.tabs.currentWidget()
    try:
        assert scroll.verticalScrollBar().maximum() == 0 and scroll.horizontalScrollBar().maximum() == 0
    finally:
        w.current_view().shutdown()
