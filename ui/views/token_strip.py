"""The token strip: the input as chips with their ids, a line to type a sentence, and the
vocabulary as clickable chips. An encoder-decoder gets two rows, source and target.

Edits are proposed, never applied here: the strip checks them against the model and
either emits `sigTokensRequested` with valid tokens or shows, in red under the strip, why
nothing changed (an unknown word, too many tokens, an empty input).
"""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRectF, QSize, QStringListModel, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QKeySequence, QPainter, QPen, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCompleter,
    QGridLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QRadioButton,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from simulator import budget
from simulator.vision import patch_images
from ui.bridge import SessionBridge
from ui.messages import plain
from ui.pictures.frame import ErrorLabel, error_colour
from ui.pictures.next_token import find_token
from ui.pictures.paper import paper_of
from ui.pictures.slicing import MAX_VOCAB, shown  # a space token as "␣", on chips as on the pictures' axes

ID_ROLE = Qt.ItemDataRole.UserRole  # the token id shown beside the token
TOKEN_ROLE = Qt.ItemDataRole.UserRole + 1  # the token string itself (the display text may differ)
PATCH_ROLE = Qt.ItemDataRole.UserRole + 2  # an image model's patch [row, col] of 0–16, drawn on its chip
TOKEN_PT = 15.0
VOCAB_PT = 13.0
ID_PT = 11.0
CHIP_PAD = 10  # chip height beyond the text
CHIP_ROWS = 3  # rows of chips the strip may take in all (input rows first, then the vocabulary)


def check_tokens(model, proposal) -> str | None:
    """Why `proposal` (token list, or (source, target) lists) cannot be the input, or None if it can.

    Pieces outside the vocabulary are refused even when it has <unk>: a student who typed
    a word should learn that the model does not know it, not see it silently replaced.
    """
    sides = proposal if isinstance(proposal, tuple) else (proposal,)
    ids = model.tokenizer.ids
    unknown = list(dict.fromkeys(p for side in sides for p in side if p not in ids))
    if unknown:
        words = ", ".join(f"“{shown(u)}”" for u in unknown[:5])
        verb = "is" if len(unknown) == 1 else "are"
        return (f"{words} {verb} not in the vocabulary, so nothing changed. The model only knows the "
                f"{len(ids)} tokens listed under Vocabulary; click one to add it.")
    try:
        budget.check_run(model.config, model.tokens(proposal))
    except ValueError as exc:  # TokenError and BudgetError are ValueErrors
        return f"{exc} Nothing changed."
    return None


def typed_text(model, tokens: list[str]) -> str:
    """The text a checkpoint's tokens read as, without the marks its tokenizer adds itself ([CLS],
    [SEP]): typed back in, it gives the same tokens."""
    ids = [model.tokenizer.ids[t] for t in tokens if t in model.tokenizer.ids]
    hf = getattr(model.tokenizer, "hf", None)  # simulator.pretrained.CheckpointTokenizer's own
    return hf.decode(ids, skip_special_tokens=True) if hf is not None else model.tokenizer.decode(ids)


class ChipDelegate(QStyledItemDelegate):
    """Paints an item as a rounded chip: the token in bold, its id in grey after it."""

    def __init__(self, point_size: float, fill: tuple[QColor, QColor], parent=None):
        super().__init__(parent)
        self.font = QFont()
        self.font.setPointSizeF(point_size)
        self.font.setBold(True)
        self.id_font = QFont()
        self.id_font.setPointSizeF(ID_PT)
        self.fill = fill  # on light paper, on dark paper
        self._fm, self._id_fm = QFontMetrics(self.font), QFontMetrics(self.id_font)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        text, tid = index.data(Qt.ItemDataRole.DisplayRole), str(index.data(ID_ROLE))
        width = self._fm.horizontalAdvance(text) + self._id_fm.horizontalAdvance(tid) + 26
        if index.data(PATCH_ROLE) is not None:
            width += self._fm.height() + 6
        return QSize(width, self._fm.height() + CHIP_PAD)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(option.rect).adjusted(1.5, 1.5, -1.5, -1.5)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        # the paper the list lies on (the list's own palette is styled transparent)
        view = self.parent()
        dark = view is not None and view.parentWidget() is not None and paper_of(view.parentWidget()).dark
        fill = self.fill[dark]
        painter.setBrush((fill.lighter(125) if dark else fill.darker(115)) if hovered else fill)
        edge = ("#9db8ff" if dark else "#1f3b73") if selected else "#7d8aa5"
        painter.setPen(QPen(QColor(edge), 3 if selected else 1))
        painter.drawRoundedRect(rect, 8, 8)
        text, tid = index.data(Qt.ItemDataRole.DisplayRole), str(index.data(ID_ROLE))
        inner = rect.adjusted(9, 0, -8, 0)
        painter.setPen(QColor("#f0f0f0" if dark else "#111111"))
        painter.setFont(self.font)
        painter.drawText(inner, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
        painter.setPen(QColor("#b4b4b4" if dark else "#5a5a5a"))
        painter.setFont(self.id_font)
        painter.drawText(inner, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, tid)
        patch = index.data(PATCH_ROLE)
        if patch is not None:  # the patch itself, dark ink on white, at the chip's right end
            side = self._fm.height()
            cell = side / len(patch)
            x0, y0 = inner.right() - side, inner.center().y() - side / 2
            for r, row in enumerate(patch):
                for c, v in enumerate(row):
                    g = int(255 * (1 - v / 16))
                    painter.fillRect(QRectF(x0 + c * cell, y0 + r * cell, cell, cell), QColor(g, g, g))
            painter.setPen(QPen(QColor("#7d8aa5"), 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(x0, y0, side, side))
        painter.restore()


class ChipList(QListWidget):
    """A wrapping flow of chips, as tall as its rows up to `max_rows` (then it scrolls)."""

    sigFitted = Signal()  # the rows it needs (`rows`) were counted again

    def __init__(self, point_size: float, fill: tuple[str, str], max_rows: int):
        super().__init__()
        self.max_rows = max_rows
        self.rows = 1  # rows the chips need at the current width (more than max_rows scroll)
        self.setItemDelegate(ChipDelegate(point_size, (QColor(fill[0]), QColor(fill[1])), self))
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSpacing(3)
        self.setMouseTracking(True)
        self.setFrameShape(QListWidget.Shape.NoFrame)
        self.setStyleSheet("QListWidget { background: transparent; }")
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._row_height = QFontMetrics(self.itemDelegate().font).height() + CHIP_PAD + 2 * self.spacing()
        self.fit()

    def fit(self) -> None:
        """As many chip rows as the contents need, up to `max_rows` (then it scrolls)."""
        rows = 1
        if self.count():
            option = QStyleOptionViewItem()
            delegate = self.itemDelegate()
            widths = [delegate.sizeHint(option, self.indexFromItem(self.item(i))).width() + 2 * self.spacing()
                      for i in range(self.count())]
            available, x = max(1, self.viewport().width() - 4), 0
            for w in widths:
                if x and x + w > available:
                    rows, x = rows + 1, 0
                x += w
        self.rows = rows
        self.setFixedHeight(min(rows, self.max_rows) * self._row_height + 4)
        self.sigFitted.emit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()

    def set_tokens(self, tokens: list[str], ids: dict[str, int]) -> None:
        self.clear()
        for tok in tokens:
            item = QListWidgetItem(shown(tok))
            item.setData(ID_ROLE, ids.get(tok, ""))  # an image's [CLS] and patches have no id
            item.setData(TOKEN_ROLE, tok)
            item.setToolTip(f"token {shown(tok)!r}, id {ids[tok]}" if tok in ids else f"token {shown(tok)}")
            self.addItem(item)
        self.fit()

    def tokens(self) -> list[str]:
        return [self.item(i).data(TOKEN_ROLE) for i in range(self.count())]


class _Side:
    """One input row: its chips and its line edit (source, target, or the only input).

    With two rows the title is a radio button: it picks the row vocabulary clicks add to.
    """

    def __init__(self, title: str, choosable: bool):
        self.title = title
        self.label = QRadioButton(title) if choosable else QLabel(title)
        if choosable:
            self.label.setToolTip(f"Clicks on the vocabulary add to the {title.lower()}")
            self.label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.chips = ChipList(TOKEN_PT, ("#dbe7ff", "#2d4573"), max_rows=2)
        self.chips.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.chips.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(f"Type the {title.lower()} and press Enter")
        self.edit.setMinimumWidth(260)
        # only a click puts the cursor here, so Space and the arrows keep stepping otherwise
        self.edit.setFocusPolicy(Qt.FocusPolicy.ClickFocus)


class TokenStrip(QWidget):
    """The input tokens and the vocabulary; see the module docstring."""

    sigTokensRequested = Signal(object)  # list[str], or (source, target) lists: valid new input

    def __init__(self, bridge: SessionBridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.sides: list[_Side] = []
        self._config = None
        self._shown_tokens = None

        self.grid = QGridLayout()
        self.grid.setContentsMargins(6, 4, 6, 0)
        self.grid.setHorizontalSpacing(8)
        self.grid.setVerticalSpacing(2)
        self.vocab = ChipList(VOCAB_PT, ("#eeeeee", "#3c3c42"), max_rows=2)
        self.vocab.setToolTip("The vocabulary: click a token to add it to the end of the input")
        self.vocab.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.vocab.itemClicked.connect(lambda item: self.add_token(item.data(TOKEN_ROLE)))
        # a checkpoint's 30,000 tokens are too many chips: a token is found by typing part of it
        self.find = QLineEdit()
        self.find.setPlaceholderText("Find a token to add (type part of it) and press Enter")
        self.find.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self._find_list = QStringListModel(self)
        completer = QCompleter(self._find_list, self.find)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.find.setCompleter(completer)
        self.find.returnPressed.connect(lambda: self.add_found(self.find.text()))
        self.find.hide()
        self.choice_group = QButtonGroup(self)  # source / target: where vocabulary clicks go
        self.message = plain(ErrorLabel(bold=True))  # names a typed token: never HTML
        self.message.hide()

        # exactly as tall as its rows: the dock must not keep height the chips gave back
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 2)
        outer.setSpacing(0)
        outer.addLayout(self.grid)
        outer.addWidget(self.message)
        self.message.setContentsMargins(10, 0, 10, 2)

        bridge.sigTraceChanged.connect(self._on_trace)
        self._on_trace()

    # --- edits (each one a proposal, checked before it is emitted) ---

    def propose(self, side: int, tokens: list[str]) -> bool:
        """Ask for `tokens` on one side; shows why not and returns False when they cannot be used."""
        current = self.bridge.session.tokens
        if isinstance(current, tuple):
            proposal = tuple(tokens if i == side else list(current[i]) for i in range(2))
        else:
            proposal = list(tokens)
        error = check_tokens(self.bridge.model, proposal)
        if error:
            self.show_error(error)
            return False
        self.show_error("")
        if proposal != current:
            self.sigTokensRequested.emit(proposal)
        return True

    def type_text(self, side: int, text: str) -> bool:
        """What pressing Enter in a side's line edit does: a checkpoint's own tokenizer cuts the
        text into its subword tokens ("Ġcat", "##ing"); a tiny model splits it into words or characters."""
        model = self.bridge.model
        if model.config.tokenization != "subword":
            return self.propose(side, model.tokenizer.split(text))
        try:
            pieces = model.tokenize(text)
        except ValueError as exc:  # TokenError
            self.show_error(f"{exc} Nothing changed.")
            return False
        return self.propose(side, pieces)

    def add_token(self, token: str) -> bool:
        """A vocabulary chip was clicked: append it to the chosen side."""
        side = self.choice_group.checkedId() if len(self.sides) == 2 else 0
        return self.propose(side, self.side_tokens(side) + [token])

    def add_found(self, text: str) -> bool:
        """A token typed in the find box of a long vocabulary: append it (as `add_token`)."""
        vocab = self.bridge.model.config.vocab
        i = find_token(text, [shown(t) for t in vocab])
        if i is None:
            self.show_error(f"No token “{text}” in the vocabulary, so nothing changed.")
            return False
        if self.add_token(vocab[i]):
            self.find.clear()
            return True
        return False

    def delete(self, side: int, pos: int) -> bool:
        toks = self.side_tokens(side)
        return self.propose(side, toks[:pos] + toks[pos + 1:])

    def insert(self, side: int, pos: int, token: str) -> bool:
        toks = self.side_tokens(side)
        return self.propose(side, toks[:pos] + [token] + toks[pos:])

    def replace(self, side: int, pos: int, token: str) -> bool:
        toks = self.side_tokens(side)
        return self.propose(side, toks[:pos] + [token] + toks[pos + 1:])

    def move(self, side: int, pos: int, offset: int) -> bool:
        toks = self.side_tokens(side)
        dest = pos + offset
        if not (0 <= pos < len(toks) and 0 <= dest < len(toks)):
            return False
        toks[pos], toks[dest] = toks[dest], toks[pos]
        return self.propose(side, toks)

    def side_tokens(self, side: int) -> list[str]:
        current = self.bridge.session.tokens
        return list(current[side] if isinstance(current, tuple) else current)

    def show_error(self, text: str) -> None:
        self.message.say(text)

    def error_text(self) -> str:
        return self.message.text() if self.message.isVisible() else ""

    # --- following the session ---

    def _on_trace(self) -> None:
        config = self.bridge.model.config
        if config != self._config:
            self._config = config
            self._build_rows(2 if config.arch == "encoder-decoder" else 1)
            image = config.arch == "vit"
            self._image_rows(image)
            ids = self.bridge.model.tokenizer.ids
            long = len(config.vocab) > MAX_VOCAB
            self.vocab.set_tokens([] if long else list(config.vocab), ids)
            self._find_list.setStringList([shown(t) for t in config.vocab] if long else [])
            self.vocab.setVisible(not long and not image)
            self.find.setVisible(long and not image)
            self._shown_tokens = None
        tokens = self.bridge.session.tokens
        if tokens != self._shown_tokens:
            self._shown_tokens = tokens
            sides = tokens if isinstance(tokens, tuple) else (tokens,)
            ids = self.bridge.model.tokenizer.ids
            sep = " " if config.tokenization == "word" else ""
            for side, toks in zip(self.sides, sides):
                side.chips.set_tokens(list(toks), ids)
                side.edit.setText(typed_text(self.bridge.model, list(toks)) if config.tokenization == "subword"
                                  else sep.join(toks))
                side.edit.setStyleSheet("")
        if config.arch == "vit":  # the labels stay, the patches change with the image
            self._show_patches()

    def _show_patches(self) -> None:
        chips = self.sides[0].chips
        patches = patch_images(self.bridge.session.input, self.bridge.model.config)
        for i, patch in enumerate(patches, start=1):
            chips.item(i).setData(PATCH_ROLE, patch.tolist())

    def _build_rows(self, n: int) -> None:
        for button in self.choice_group.buttons():
            self.choice_group.removeButton(button)
        while self.grid.count():
            widget = self.grid.takeAt(0).widget()
            if widget is not None and widget not in (self.vocab, self.find):
                widget.deleteLater()
        titles = ("Source", "Target") if n == 2 else ("Tokens",)
        self.sides = [_Side(t, choosable=n == 2) for t in titles]
        for row, side in enumerate(self.sides):
            self._wire(row, side)
            if n == 2:
                self.choice_group.addButton(side.label, row)
            self.grid.addWidget(side.label, row, 0)
            self.grid.addWidget(side.chips, row, 1)
            self.grid.addWidget(side.edit, row, 2, Qt.AlignmentFlag.AlignTop)
        if n == 2:
            self.sides[1].label.setChecked(True)
        self.grid.addWidget(QLabel("Vocabulary"), n, 0)
        self.grid.addWidget(self.vocab, n, 1, 1, 2)
        self.grid.addWidget(self.find, n, 1, 1, 2)
        self.grid.setColumnStretch(1, 1)

    def _image_rows(self, image: bool) -> None:
        """An image model's input is a picture, not words: its [CLS] and patch chips get all
        CHIP_ROWS rows, and what cannot make a picture (the text field, the class names offered
        as vocabulary, moving or replacing a chip) steps aside. Draw changes the image."""
        side = self.sides[0]
        side.chips.max_rows = CHIP_ROWS if image else 2
        side.edit.setVisible(not image)
        self.grid.itemAtPosition(len(self.sides), 0).widget().setVisible(not image)  # "Vocabulary"
        if image:
            side.chips.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
            side.chips.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
            side.chips.setToolTip("The image's tokens: [CLS], then the patches row by row. Draw changes the image.")
        side.chips.fit()

    def _share_rows(self) -> None:
        """A long input wraps onto two rows; the vocabulary then gets fewer (and scrolls), so
        the strip stays CHIP_ROWS rows tall and the picture below keeps its room."""
        used = sum(min(side.chips.rows, side.chips.max_rows) for side in self.sides)
        budget = max(1, CHIP_ROWS - used)
        if budget != self.vocab.max_rows:
            self.vocab.max_rows = budget
            self.vocab.fit()

    def _wire(self, row: int, side: _Side) -> None:
        side.chips.sigFitted.connect(self._share_rows)
        side.edit.returnPressed.connect(lambda: self._typed(row))
        side.edit.textEdited.connect(lambda _: self.show_error(""))
        side.chips.customContextMenuRequested.connect(lambda pos: self._chip_menu(row, pos))
        side.chips.model().rowsMoved.connect(lambda *_: self.propose(row, side.chips.tokens()))
        delete = QShortcut(QKeySequence.StandardKey.Delete, side.chips, context=Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(lambda: side.chips.currentRow() >= 0 and self.delete(row, side.chips.currentRow()))

    def _typed(self, row: int) -> None:
        side = self.sides[row]
        if self.type_text(row, side.edit.text()):
            side.edit.clearFocus()  # hand the keys back to stepping (Space, arrows)
        else:
            side.edit.setStyleSheet(f"QLineEdit {{ border: 2px solid {error_colour(paper_of(self))}; }}")

    def _chip_menu(self, row: int, pos) -> None:
        chips = self.sides[row].chips
        item = chips.itemAt(pos)
        if item is None:
            return
        i = chips.row(item)
        vocab = list(self.bridge.model.config.vocab)
        menu = QMenu(self)
        menu.addAction("Delete", lambda: self.delete(row, i))
        for title, act in (("Insert before", self.insert), ("Replace with", self.replace)):
            if len(vocab) > MAX_VOCAB:  # no menu of 30,000 tokens: the find box adds one
                break
            sub = menu.addMenu(title)
            for tok in vocab:
                sub.addAction(shown(tok), lambda act=act, tok=tok: act(row, i, tok))
        left = menu.addAction("Move left", lambda: self.move(row, i, -1))
        right = menu.addAction("Move right", lambda: self.move(row, i, +1))
        left.setEnabled(i > 0)
        right.setEnabled(i < chips.count() - 1)
        menu.exec(chips.viewport().mapToGlobal(pos))
        menu.deleteLater()  # one menu a right-click, with an action per vocabulary token: not kept

