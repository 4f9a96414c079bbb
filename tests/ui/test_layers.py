"""The folders show the layers: pictures know nothing of the session or the app, views know
nothing of the window or its file and classroom features (like test_no_qt for the engine)."""
import ast
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "ui"
# what each layer may import from ui/ (anything else is a layer above it)
ALLOWED = {
    "pictures": ("ui.pictures", "ui.typography", "ui.messages"),
    "views": ("ui.views", "ui.pictures", "ui.typography", "ui.messages", "ui.bridge", "ui.lazy", "ui.jobs",
              "ui.actions"),
}


def ui_imports(source: str) -> set[str]:
    """Every ui module `source` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names if node.module == "ui")
    return {name for name in found if name == "ui" or name.startswith("ui.")} - {"ui"}


def wrong_way(layer: str, source: str) -> set[str]:
    return {name for name in ui_imports(source)
            if not any(name == ok or name.startswith(ok + ".") for ok in ALLOWED[layer])}


def test_pictures_import_neither_the_bridge_nor_views_nor_app_features():
    files = sorted((UI / "pictures").glob("*.py"))
    assert len(files) > 10
    bad = {f.name: wrong_way("pictures", f.read_text()) for f in files}
    assert not any(bad.values()), {k: v for k, v in bad.items() if v}


def test_views_import_nothing_of_the_window_files_or_classroom():
    files = sorted((UI / "views").glob("*.py"))
    assert len(files) > 10
    bad = {f.name: wrong_way("views", f.read_text()) for f in files}
    assert not any(bad.values()), {k: v for k, v in bad.items() if v}


def test_the_check_would_notice_a_wrong_way_import():
    """The same check flags a picture that imports the bridge, even inside a function (so the tests can fail)."""
    assert wrong_way("pictures", "from ui.bridge import SessionBridge\n") == {"ui.bridge"}
    assert wrong_way("pictures", "def f():\n    from ui.classroom import export\n") == {"ui.classroom"}
    assert wrong_way("views", "import ui.main_window\n") == {"ui.main_window"}
    assert wrong_way("pictures", "from ui.pictures import heatmap\nfrom ui.typography import TICK_PT\n") == set()
