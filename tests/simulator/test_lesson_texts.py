"""Lesson texts checked: no known slips, every head and layer a lesson names exists in its model,
and a stop that tells the class to open a tab opens it itself."""
import re

import pytest

from simulator.lessons import list_lessons, load_lesson

# the mistakes a lecturer found in earlier lesson texts and step explanations
KNOWN_MISTAKES = [
    (r"\b1 (heads|layers|tokens|keys)\b", "a count of 1 with a plural noun"),
    (r"\bkeys? 1\s*[–-]\s*\d", "heads are numbered from 0, and so are their keys"),
    (r"\bheads? 1\s*[–-]\s*\d+\b(?! of)", "heads are numbered from 0"),
    (r"\b([a-z]+) \1\b", "a doubled word"),
    (r"\bcross-attention\b[^.]*\binput x\b", "the cross-attention keys and values come from the encoder output"),
]
# the tabs a stop can choose, as a lesson text names them
TAB_NAMES = {"residual stream": "residual", "depth attention": "depth", "compare": "compare",
             "compare residuals": "compare", "training": "training", "gradients": "gradients",
             "backward pass": "backward", "cost of attention": "cost", "tiled attention": "tiled",
             "sampling": "sampling", "image": "image", "draw": "draw"}
LOOK_INSIDE = {"model view": "model-view", "logit lens": "logit-lens", "attribution": "attribution",
               "patching": "patching"}
LESSONS = list_lessons()


def _texts(stop):
    return [t for t in (stop.text, stop.question, stop.answer) if t]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_no_known_mistake_in_a_lesson_or_the_explanations_it_shows(path):
    lesson = load_lesson(path)
    shown = [lesson.title, lesson.summary, lesson.next]
    for i, stop in enumerate(lesson.stops):
        model, _ = lesson.open_stop(i)
        shown += _texts(stop)
        shown += [t for node in model.graph.nodes for t in (node.formula, node.text)]  # every step's words
    for text in shown:
        for pattern, why in KNOWN_MISTAKES:
            found = re.search(pattern, text, flags=re.IGNORECASE)
            assert not found, f"{path.name}: {why}: …{text[max(0, found.start() - 30):found.end() + 30]}…"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_nothing_is_called_masked_where_nothing_is_masked_nor_input_x_what_the_encoder_gave(path):
    lesson = load_lesson(path)
    for i, _stop in enumerate(lesson.stops):
        model, _ = lesson.open_stop(i)
        for node in model.graph.nodes:
            if node.role == "pattern" and model.graph.node(node.inputs[0]).attrs.get("kind") == "full":
                assert "softmax(masked)" not in node.formula and "nothing is masked" in node.formula, node.name
            if node.sublayer == "cross_attn" and node.role in ("k", "v"):  # made from the encoder output
                assert "x·W" not in node.formula and "encoder output" in node.formula, node.name


def _named_heads(text: str) -> list[tuple[int | None, int]]:
    """(layer or None, head) of every head a text names: "layer 1, head 0", "L1 H1", "head 2", "heads 0 and 1"."""
    out = [(int(layer), int(head)) for layer, head in re.findall(r"\bL(\d+) H(\d+)\b", text)]
    out += [(int(layer), int(head)) for layer, head in
            re.findall(r"\b[Ll]ayer (\d+),? (?:its )?head (\d+)\b", text)]
    out += [(int(layer), int(head)) for head, layer in re.findall(r"\bhead (\d+) of layer (\d+)\b", text)]
    out += [(None, int(h)) for h in re.findall(r"\bhead (\d+)\b", text)]
    for pair in re.findall(r"\bheads (\d+(?:, \d+)*(?:,? and \d+)?)", text):
        out += [(None, int(h)) for h in re.findall(r"\d+", pair)]
    return out


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_head_and_layer_a_lesson_names_exists_in_its_model(path):
    lesson = load_lesson(path)
    for i, stop in enumerate(lesson.stops):
        cfg = lesson.open_stop(i)[0].config
        for text in _texts(stop):
            for layer, head in _named_heads(text):
                assert head < cfg.n_heads, f"{path.name} stop {i + 1} names head {head}; the model has {cfg.n_heads}"
                assert layer is None or layer < cfg.n_layers, f"{path.name} stop {i + 1} names layer {layer}"
            for layer in re.findall(r"\b[Ll]ayer (\d+)\b", text):
                assert int(layer) < cfg.n_layers, f"{path.name} stop {i + 1} names layer {layer}"


def test_the_head_checks_can_fail():
    assert _named_heads("Layer 1, head 3 and L0 H2; heads 0 and 5") == [(0, 2), (1, 3), (None, 3), (None, 0),
                                                                          (None, 5)]
    assert re.search(KNOWN_MISTAKES[0][0], "The 1 heads", flags=re.IGNORECASE)
    assert re.search(KNOWN_MISTAKES[1][0], "keys 1–4 show the heads")
    assert re.findall(r"\b[Oo]pen (?:the )?([A-Z][\w ]*?) tab\b", "Open the Residual stream tab to see") == [
        "Residual stream"]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_a_stop_that_says_open_a_tab_opens_it(path):
    lesson = load_lesson(path)
    for i, stop in enumerate(lesson.stops):
        for text in _texts(stop):
            for name in re.findall(r"\b[Oo]pen (?:the )?([A-Z][\w ]*?) tab\b", text):
                assert TAB_NAMES.get(name.lower()) == stop.view, f"{path.name} stop {i + 1}: 'open the {name} tab'"
            for name in re.findall(r"Look inside ▸ ([A-Z][a-z]+(?: [a-z]+)?)", text):
                assert LOOK_INSIDE.get(name.lower()) == stop.view, f"{path.name} stop {i + 1}: Look inside ▸ {name}"
            for name in re.findall(r"\b(?:open|in) (?:the )?(model view|logit lens|attribution|patching)\b",
                                   text, flags=re.IGNORECASE):
                assert LOOK_INSIDE[name.lower()] == stop.view, f"{path.name} stop {i + 1}: {name}"



def test_every_preset_a_lesson_sends_the_class_to_is_in_the_presets_menu():
    from simulator.presets import list_presets

    titles = [info.get("title", info["name"]) for info in list_presets()]
    named = 0
    for path in LESSONS:
        lesson = load_lesson(path)
        for text in [lesson.next, *(t for stop in lesson.stops for t in _texts(stop))]:
            for at in re.finditer("Presets ▸ ", text):
                rest = text[at.end():]
                assert any(rest.startswith(t) for t in titles), f"{path.name}: no preset titled '{rest[:30]}…'"
                named += 1
    assert named >= 3  # lessons 2, 5 and 6 send the class to their presets
