"""Where each piece of a step picture goes, so matrix cells stay near square.

A box layout would stretch every heatmap to the same height whatever its shape; a
[16 × 64] weight matrix next to an [8 × 8] pattern then gets cells ten times wider than
tall. Here all heatmaps in a line share one cell size, the line is centred, and a line
whose cells would be too small is wrapped in two at an operation symbol. Attention lines
and next-token bars stand in a column at the right of their row, as tall as the row.

`fit_labels` decides how a heatmap's token labels fit its cells: smaller, staggered, or
(only when nothing else works) every k-th.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QRectF

MAX_ASPECT = 2.6  # cells may be this much wider than tall: numbers are wide, rows are few
USEFUL_CELL = 60.0  # wider cells add nothing; do not trade height for them
WRAP_GAIN = 1.3  # wrap only when it makes cells clearly larger
SPACING = 6.0
MIN_CELL = 4.0  # a heatmap whose cells would be smaller than this does not fit (see `fits`)
LEAST_CELL = 0.5  # where nothing fits (a long vocabulary in a narrow view), cells may shrink to this
COLUMN_SHRINK = 0.6  # a column (lines, bars) narrows to this share of its width before the picture shrinks
MIN_LABEL_SCALE = 0.75  # token labels shrink down to this before some are left out
COMFORTABLE_LABELS = 0.85  # below this, staggering column labels is preferred to shrinking them
ROW_LABEL_SHARE = 0.9  # of a label's line height that a row needs to itself


@dataclass
class Piece:
    """One thing to place: a heatmap (`rows`, `cols` > 0) or a fixed-size item."""

    width: float  # fixed part: labels, colour bar, frame (the whole width for non-heatmaps)
    height: float  # fixed part (the whole height for non-heatmaps; 0 = take the line's height)
    rows: int = 0
    cols: int = 0
    weight: float = 1.0  # cell size multiplier (an emphasised heatmap may be drawn larger)
    breakable: bool = False  # a line may wrap before this piece (operation symbols)
    min_width: float = 0.0  # e.g. room for a heatmap's title
    column: bool = False  # stands at the right end of its row, as tall as the row (not a heatmap)

    @property
    def grid(self) -> bool:
        return self.rows > 0


def _cells(lines: list[list[Piece]], width: float, height: float, label_h: float) -> tuple[float, float]:
    """One cell width and height for all heatmaps of a row wrapped into `lines`: no taller
    than wide, except as far as a row needs for its label (`label_h`) beside many columns."""
    cws, need_fixed, need_rows = [], 0.0, 0.0
    for line in lines:
        grids = [p for p in line if p.grid]
        if not grids:
            continue
        fixed = sum(p.width for p in line) + SPACING * (len(line) - 1)
        cws.append((width - fixed) / sum(p.cols * p.weight for p in grids))
        need_fixed += max(p.height for p in grids)
        need_rows += max(p.rows * p.weight for p in grids)
    if not cws:
        return 0.0, 0.0
    cw = max(min(cws), LEAST_CELL)
    ch = max((height - SPACING * (len(lines) - 1) - need_fixed) / need_rows, 1.0)
    ch = min(ch, max(cw, label_h))
    return min(cw, MAX_ASPECT * ch), ch


def _need(line: list[Piece]) -> float:
    """The narrowest `line` can be: fixed parts, titles, and MIN_CELL-wide cells."""
    return sum(max(p.min_width, p.width + p.cols * p.weight * MIN_CELL) for p in line) + SPACING * (len(line) - 1)


def _score(lines: list[list[Piece]], width: float, height: float, label_h: float) -> float:
    over = max(_need(line) for line in lines) - width
    if over > 0:
        return -over  # a layout wider than the room loses to any that fits, and to any less wide
    cw, ch = _cells(lines, width, height, label_h)
    return min(cw, USEFUL_CELL) * ch


def _wrap(row: list[Piece], width: float, height: float, label_h: float) -> list[list[Piece]]:
    """The row as one line, or as two or three lines split before symbols if that is clearly better."""
    best, best_score = [row], _score([row], width, height, label_h)
    cuts = [i for i, p in enumerate(row) if p.breakable and 0 < i < len(row) - 1]
    splits = [(i,) for i in cuts] + [(i, j) for i in cuts for j in cuts if i < j]
    for split in splits:
        bounds = (0, *split, len(row))
        lines = [row[a:b] for a, b in zip(bounds, bounds[1:])]
        if not all(any(q.grid for q in line) for line in lines):
            continue
        s = _score(lines, width, height, label_h)
        if (s > best_score * WRAP_GAIN) if best_score > 0 else s > best_score:
            best, best_score = lines, s
    return best


def place(rows: list[list[Piece]], width: float, height: float,
          small: dict[int, float] | None = None, label_h: float = 0.0) -> list[QRectF]:
    """Rectangles for every piece, in order; `small` maps row index → its fixed height;
    `label_h` is the height of a row label (cells may be that tall however narrow)."""
    small = small or {}
    rest = height - sum(small.values()) - SPACING * (len(rows) - 1)
    n_free = sum(1 for i in range(len(rows)) if i not in small)
    rects: list[QRectF] = []
    y = 0.0
    for i, row in enumerate(rows):
        row_h = small.get(i, rest / max(n_free, 1))
        n_body = len(row)
        while n_body and row[n_body - 1].column:
            n_body -= 1
        body, columns = row[:n_body], row[n_body:]
        col_w = sum(p.width for p in columns)
        if columns and body:
            # the body's narrowest layout (wrapped if it may be); columns give way to it, down to COLUMN_SHRINK
            lines = [body] if i in small else _wrap(body, width - col_w, row_h, label_h)
            room = width - max(_need(line) for line in lines) - SPACING * len(columns)
            floor = max(COLUMN_SHRINK * col_w, sum(p.min_width for p in columns))  # controls keep their room
            col_w = max(floor, min(col_w, room))
        widths = [p.width * col_w / max(sum(q.width for q in columns), 1.0) for p in columns]
        body_w = width - sum(w + SPACING for w in widths)
        rects += _place_body(body, body_w, y, row_h, i in small, label_h)
        x = body_w + SPACING
        for w in widths:
            rects.append(QRectF(x, y, w, row_h))
            x += w + SPACING
        y += row_h + SPACING
    return rects


def _place_body(row: list[Piece], width: float, y: float, row_h: float, fixed: bool,
                label_h: float) -> list[QRectF]:
    """Rectangles for the pieces of one row (wrapped into lines if that helps) within `row_h`."""
    if not row:
        return []
    # a strip of fixed height stays one line: wrapped, it would push the rows below out of view
    lines = [row] if fixed else _wrap(row, width, row_h, label_h)
    cw, ch = _cells(lines, width, row_h, label_h)
    # each line as tall as its tallest heatmap; what is left is shared out evenly
    needs = [max((p.height + p.rows * p.weight * ch for p in line if p.grid), default=0.0)
             for line in lines]
    room = row_h - SPACING * (len(lines) - 1)
    slack = max(0.0, room - sum(needs)) / len(lines)
    # fixed parts taller than the row (tiny windows): every line gives up its share
    shrink = min(1.0, room / sum(needs)) if sum(needs) > 0 else 1.0
    rects = []
    for line, need in zip(lines, needs):
        line_h = need * shrink + slack
        sizes = [(max(p.min_width, p.width + p.cols * p.weight * cw), (p.height + p.rows * p.weight * ch)
                  if p.grid else (p.height or line_h)) for p in line]
        total = sum(w for w, _ in sizes) + SPACING * (len(line) - 1)
        x = max(0.0, (width - total) / 2)
        for w, h in sizes:
            h = min(h, line_h)
            rects.append(QRectF(x, y + (line_h - h) / 2, w, h))
            x += w + SPACING
        y += line_h + SPACING
    return rects


def fits(pieces: list[Piece], rects: list[QRectF], width: float, height: float) -> bool:
    """Whether every piece lies inside the width × height view, no two overlap, and each
    heatmap has room for its fixed parts and cells of at least MIN_CELL (else it would clip)."""
    eps = 0.5
    if not inside(rects, width, height):
        return False
    for p, r in zip(pieces, rects):
        if p.grid and (r.width() + eps < max(p.min_width, p.width + p.cols * p.weight * MIN_CELL)
                       or r.height() + eps < p.height + p.rows * p.weight * MIN_CELL):
            return False
        if not p.grid and not p.column and r.height() + eps < p.height:
            return False
    return True


def inside(rects: list[QRectF], width: float, height: float) -> bool:
    """Whether every rectangle lies inside the width × height view and no two overlap."""
    eps = 0.5
    if any(r.left() < -eps or r.top() < -eps or r.right() > width + eps or r.bottom() > height + eps
           for r in rects):
        return False
    return not any(a.intersected(b).width() > eps and a.intersected(b).height() > eps
                   for i, a in enumerate(rects) for b in rects[i + 1:])


@dataclass(frozen=True)
class LabelFit:
    """How a heatmap shows its token labels (see `fit_labels`)."""

    scale: float = 1.0  # column label font relative to the usual tick font
    stagger: bool = False  # every other column label one line up
    rows_every: int = 1  # show every k-th row label
    cols_every: int = 1  # show every k-th column label
    row_scale: float = 1.0  # row label font relative to the usual tick font


def fit_labels(cell_w: float, cell_h: float, line_h: float, label_w: float,
               token_rows: bool = True, token_cols: bool = True) -> LabelFit:
    """Every token label if at all possible: a smaller font first (each axis as small as it
    needs), then staggered column labels, and every k-th label only when even the smallest
    font does not fit. Index labels (0, 1, 2, …) are simply thinned at full size: the numbers
    in between are easy to infer.

    `line_h` is a label's line height and `label_w` the widest column label's width (with
    some gap), both at the usual font; `cell_w`, `cell_h` the cell size in pixels.
    """
    # A line's height includes leading that neighbouring labels may share (as in the attention
    # lines); steps of 1/20, so resizing the window does not re-lay out the axes at every pixel.
    line_h *= ROW_LABEL_SHARE
    rows_s, cols_s = (math.floor(20 * x) / 20 for x in (cell_h / line_h, cell_w / max(label_w, 1.0)))
    rows = max(MIN_LABEL_SCALE, min(1.0, rows_s)) if token_rows else 1.0
    cols = min(1.0, cols_s) if token_cols else 1.0
    stagger = False
    if cols < COMFORTABLE_LABELS and token_cols and min(1.0, 2 * cols_s) >= MIN_LABEL_SCALE:
        cols, stagger = min(1.0, 2 * cols_s), True  # staggering doubles the columns' room
    cols = max(MIN_LABEL_SCALE, cols) if token_cols else 1.0
    return LabelFit(cols, stagger, max(1, math.ceil(rows * line_h / cell_h - 1e-9)),
                    1 if stagger else max(1, math.ceil(cols * label_w / cell_w - 1e-9)), rows)
