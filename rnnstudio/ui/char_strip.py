"""A text drawn one character per cell, each cell coloured by a value.

The view of Karpathy, Johnson and Fei-Fei (2015): pick one unit of a recurrent network
and colour every character by that unit's value after reading it. Newlines are drawn as
a visible '↵' cell and then wrap. The strip also lets the user select a span (drag),
marks spans (underline), marks characters (red frame), and lights one character.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from rnnstudio.ui.widgets import monospace_font

NEG = np.array([49, 105, 188], dtype=float)  # value at the bottom of the scale: blue
MID = np.array([250, 250, 250], dtype=float)
POS = np.array([214, 69, 48], dtype=float)  # value at the top: red


def value_colors(values: np.ndarray, lo: float, hi: float) -> list[QColor]:
    """Blue through white to red across [lo, hi] (white at the middle of the scale)."""
    t = np.clip((np.asarray(values, dtype=float) - lo) / (hi - lo), 0.0, 1.0)[:, None]  # (T, 1)
    below = MID + (NEG - MID) * (1 - 2 * np.minimum(t, 0.5))
    above = MID + (POS - MID) * (2 * np.maximum(t, 0.5) - 1)
    rgb = np.where(t < 0.5, below, above).astype(int)
    return [QColor(int(r), int(g), int(b)) for r, g, b in rgb]


class CharStrip(QWidget):
    hovered = Signal(int)  # character index under the mouse, -1 when none
    clicked = Signal(int)
    selection_changed = Signal(int, int)  # [start, end)

    def __init__(self, parent=None):
        self._text = ""
        self._colors: list[QColor] | None = None
        self._underlines: list[tuple[int, int]] = []
        self._flagged: set[int] = set()
        self._lit = -1
        self._selection: tuple[int, int] | None = None
        self._drag_from: int | None = None
        self._cells: list[QRect] = []
        self.tooltip_for = None  # optional function index -> tooltip text
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setFont(monospace_font(13))

    # --- content ------------------------------------------------------------------------

    def set_text(self, text: str) -> None:
        self._text = text
        self._colors = None
        self._underlines = []
        self._flagged = set()
        self._selection = None
        self._lit = -1
        self._relayout()

    def text(self) -> str:
        return self._text

    def set_values(self, values: np.ndarray | None, lo: float = -1.0, hi: float = 1.0) -> None:
        self._colors = None if values is None else value_colors(values, lo, hi)
        self.update()

    def set_underlines(self, spans: list[tuple[int, int]]) -> None:
        self._underlines = list(spans)
        self.update()

    def set_flagged(self, indices) -> None:
        self._flagged = set(indices)
        self.update()

    def set_lit(self, index: int) -> None:
        self._lit = index
        self.update()

    def cell_rect(self, index: int) -> QRect | None:
        return self._cells[index] if 0 <= index < len(self._cells) else None

    def selection(self) -> tuple[int, int] | None:
        return self._selection

    def set_selection(self, start: int, end: int) -> None:
        self._selection = (start, end) if end > start else None
        self.update()

    # --- layout and painting -------------------------------------------------------------

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        self._relayout()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._relayout()

    def _cell_size(self) -> QSize:
        fm = QFontMetrics(self.font())
        return QSize(fm.horizontalAdvance("M") + 2, fm.height() + 6)

    def _relayout(self) -> None:
        cell = self._cell_size()
        per_row = max(10, (self.width() - 8) // cell.width())
        cells, x, y = [], 0, 0
        for ch in self._text:
            if x >= per_row:
                x, y = 0, y + 1
            cells.append(QRect(4 + x * cell.width(), 4 + y * cell.height(), cell.width(), cell.height()))
            x += 1
            if ch == "\n":
                x, y = 0, y + 1
        self._cells = cells
        rows = (y + 1) if self._text else 1
        self.setMinimumHeight(8 + rows * cell.height())
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(600, self.minimumHeight())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        painter.setFont(self.font())
        visible = event.rect()
        sel = self._selection
        for i, (ch, rect) in enumerate(zip(self._text, self._cells)):
            if not rect.intersects(visible):
                continue
            background = self._colors[i] if self._colors is not None else None
            if background is not None:
                painter.fillRect(rect, background)
            if sel and sel[0] <= i < sel[1]:
                painter.fillRect(rect, QColor(255, 215, 0, 110))
            dark = background is not None and background.lightness() < 120
            painter.setPen(QColor("white") if dark else self.palette().text().color())
            shown = "↵" if ch == "\n" else ("·" if ch == " " and background is None else ch)
            if ch == "\n" or ch == "\t":
                painter.setPen(QColor(150, 150, 150))
                shown = "↵" if ch == "\n" else "→"
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, shown)
            if i in self._flagged:
                painter.setPen(QPen(QColor(200, 0, 0), 2))
                painter.drawRect(rect.adjusted(1, 1, -1, -1))
            if i == self._lit:
                painter.setPen(QPen(QColor(0, 0, 0), 3))
                painter.drawRect(rect.adjusted(1, 1, -1, -1))
        if self._underlines:
            painter.setPen(QPen(QColor(20, 20, 20), 3))
            for start, end in self._underlines:
                for i in range(max(0, start), min(end, len(self._cells))):
                    r = self._cells[i]
                    painter.drawLine(r.left(), r.bottom() - 1, r.right(), r.bottom() - 1)
        painter.end()

    # --- mouse ---------------------------------------------------------------------------

    def index_at(self, pos: QPoint) -> int:
        for i, rect in enumerate(self._cells):
            if rect.contains(pos):
                return i
        return -1

    def mousePressEvent(self, event) -> None:
        i = self.index_at(event.position().toPoint())
        self._drag_from = i if i >= 0 else None
        if i >= 0:
            self._selection = None
            self.update()

    def mouseMoveEvent(self, event) -> None:
        pos = event.position().toPoint()
        i = self.index_at(pos)
        if self._drag_from is not None and i >= 0 and i != self._drag_from:
            a, b = sorted((self._drag_from, i))
            self._selection = (a, b + 1)
            self.update()
        self.hovered.emit(i)
        if i >= 0 and self.tooltip_for is not None:
            QToolTip.showText(event.globalPosition().toPoint(), self.tooltip_for(i), self)

    def mouseReleaseEvent(self, event) -> None:
        i = self.index_at(event.position().toPoint())
        if self._selection is not None:
            self.selection_changed.emit(*self._selection)
        elif i >= 0 and i == self._drag_from:
            self.clicked.emit(i)
        self._drag_from = None

    def leaveEvent(self, event) -> None:
        self.hovered.emit(-1)
        super().leaveEvent(event)
