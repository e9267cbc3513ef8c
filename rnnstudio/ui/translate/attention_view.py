"""The attention matrix: French tokens along the bottom, English tokens down the side, one cell
per (English token, French token) with the weight the decoder gave that French token while it
wrote that English one. Hover a cell for its number; click a row (or an English word in the
translation) to light the French words that row looked at."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from rnnstudio.ui.widgets import EmptyPlotNote, wrapping_label

ATTENTION_MAP = pg.ColorMap([0.0, 1.0], [(255, 255, 255), (180, 20, 20)])  # no attention is the page, much is ink
MAX_NUMBERED = 12 * 16  # cells: up to this many, each shows its weight (a projector cannot show hover)
HIGHLIGHT_PEN = (20, 90, 200)
LIT_SHARE = 0.15  # a French word "lit" by a row: at least this share of its attention


class AttentionView(QWidget):
    row_clicked = Signal(int)  # an English token's row

    def __init__(self, parent=None):
        super().__init__(parent)
        self.attention: np.ndarray | None = None
        self.source: list[str] = []
        self.target: list[str] = []
        self.selected: int | None = None
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.invertY(True)
        self.plot.setLabel("bottom", "French (read)")
        self.plot.setLabel("left", "English (written)")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(ATTENTION_MAP.getLookupTable(0.0, 1.0, 256))
        self.image.setLevels((0.0, 1.0))
        self.plot.addItem(self.image)
        self.numbers = CellNumbers()
        self.plot.addItem(self.numbers)
        self.row_box = pg.QtWidgets.QGraphicsRectItem()
        self.row_box.setPen(pg.mkPen(HIGHLIGHT_PEN, width=3))
        self.row_box.setVisible(False)
        self.plot.addItem(self.row_box)
        self.column_boxes: list = []  # the lit French words' columns
        self.empty = EmptyPlotNote(self.plot, "Translate a sentence: where each English word looked appears here.")
        self.empty.show()
        self.hover = QLabel("Hover a cell for its weight; click a row to light its French words.")
        self.lit = wrapping_label("")
        v.addWidget(self.plot, 1)
        v.addWidget(self.hover)
        v.addWidget(self.lit)
        self.plot.scene().sigMouseMoved.connect(self._on_move)
        self.plot.scene().sigMouseClicked.connect(self._on_click)

    def show_attention(self, attention, source: list[str], target: list[str]) -> None:
        """attention (len(target), len(source)), or None for a model without attention."""
        self.attention = None if attention is None else np.asarray(attention, dtype=np.float32)
        self.source, self.target = list(source), list(target)
        self.selected = None
        self.row_box.setVisible(False)
        self._light_columns([])
        self.lit.setText("")
        if self.attention is None or self.attention.size == 0:
            self.image.clear()
            self.numbers.set_values(None)
            self.empty.item.setText("This model has no attention: every English word sees the same summary "
                                    "of the French sentence (the bottleneck).")
            self.empty.show()
            return
        self.empty.hide()
        self.image.setImage(self.attention, levels=(0.0, 1.0), autoLevels=False)
        self.image.setRect(0, 0, len(source), len(target))
        self.numbers.set_values(self.attention if self.attention.size <= MAX_NUMBERED else None)
        self.plot.getAxis("bottom").setTicks([[(i + 0.5, t) for i, t in enumerate(source)]])
        left = self.plot.getAxis("left")
        left.setTicks([[(j + 0.5, t) for j, t in enumerate(target)]])
        widest = max((QFontMetrics(left.font()).horizontalAdvance(t) for t in target), default=0)
        left.setWidth(widest + 2 * QFontMetrics(left.font()).height() + 8)  # room for the words and the label
        self.plot.setRange(xRange=(0, len(source)), yRange=(0, len(target)), padding=0.0)

    def cell_at(self, scene_pos) -> tuple[int, int] | None:
        if self.attention is None:
            return None
        point = self.plot.getViewBox().mapSceneToView(scene_pos)
        row, col = int(np.floor(point.y())), int(np.floor(point.x()))
        if 0 <= row < self.attention.shape[0] and 0 <= col < self.attention.shape[1]:
            return row, col
        return None

    def _on_move(self, scene_pos) -> None:
        cell = self.cell_at(scene_pos)
        if cell is not None:
            row, col = cell
            self.hover.setText(f"writing <b>{self.target[row]}</b>, it looked at <b>{self.source[col]}</b> "
                               f"with weight {self.attention[row, col]:.3f}")

    def _on_click(self, event) -> None:
        cell = self.cell_at(event.scenePos())
        if cell is not None:
            self.select_row(cell[0])
            self.row_clicked.emit(cell[0])

    def select_row(self, row: int) -> None:
        """Frame an English token's row and name the French words it looked at most."""
        if self.attention is None or not 0 <= row < self.attention.shape[0]:
            return
        self.selected = row
        self.row_box.setRect(0, row, len(self.source), 1)
        self.row_box.setVisible(True)
        weights = self.attention[row]
        order = self.lit_words()
        self._light_columns(order)
        words = ", ".join(f"<b>{self.source[i]}</b> ({weights[i]:.0%})" for i in order)
        self.lit.setText(f"“{self.target[row]}” looked at {words}")

    def lit_words(self) -> list[int]:
        """The French positions the selected row lights."""
        if self.selected is None:
            return []
        weights = self.attention[self.selected]
        return [int(i) for i in np.argsort(-weights) if weights[i] >= LIT_SHARE] or [int(np.argmax(weights))]

    def _light_columns(self, columns: list[int]) -> None:
        """A dashed frame round each lit French word's column (no fill: the weights' colours stay true)."""
        for box in self.column_boxes:
            self.plot.removeItem(box)
        self.column_boxes = []
        rows = 0 if self.attention is None else self.attention.shape[0]
        for col in columns:
            box = pg.QtWidgets.QGraphicsRectItem(col, 0, 1, rows)
            box.setPen(pg.mkPen(HIGHLIGHT_PEN, width=2, style=Qt.PenStyle.DashLine))
            self.plot.addItem(box)
            self.column_boxes.append(box)

    def set_presenter(self, on: bool) -> None:
        self.row_box.setPen(pg.mkPen(HIGHLIGHT_PEN, width=6 if on else 3))


class CellNumbers(pg.GraphicsObject):
    """Each cell's weight written in it, in the application's font (so presenter mode enlarges
    it), drawn in one paint: a text item per cell cost 50 ms of GUI time per sentence (measured)."""

    def __init__(self):
        super().__init__()
        self.values: np.ndarray | None = None

    def set_values(self, values: np.ndarray | None) -> None:
        self.prepareGeometryChange()
        self.values = values
        self.update()

    def boundingRect(self) -> QRectF:
        if self.values is None:
            return QRectF()
        return QRectF(0, 0, self.values.shape[1], self.values.shape[0])

    def paint(self, p, *_args) -> None:
        if self.values is None:
            return
        to_pixels = p.transform()
        p.resetTransform()  # text in pixels, not stretched to a cell
        p.setFont(QApplication.font())
        dark, light = QColor(60, 60, 60), QColor(255, 255, 255)
        for (row, col), weight in np.ndenumerate(self.values):
            centre = to_pixels.map(QPointF(col + 0.5, row + 0.5))
            p.setPen(light if weight > 0.5 else dark)
            p.drawText(QRectF(centre.x() - 50, centre.y() - 20, 100, 40), Qt.AlignmentFlag.AlignCenter, f"{weight:.2f}")
