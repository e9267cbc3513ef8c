"""The beam as a tree: a column per decoding step, each hypothesis the beam kept at that step
as its newest token and its total log-probability, a line to the hypothesis it extends; the
winner's path in green and bold, finished hypotheses (<eos>) boxed, forced tokens in grey."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QWidget

WINNER = QColor(30, 140, 60)
OTHER = QColor(90, 90, 90)
FORCED = QColor(150, 150, 150)
EDGE = QColor(185, 185, 185)


class BeamTree(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.steps: list = []  # of lists of BeamNodeView
        self.scale = 1.0
        self.setMinimumHeight(160)

    def show_beam(self, steps) -> None:
        self.steps = [list(step) for step in steps]
        self.updateGeometry()
        self.update()

    def set_presenter(self, on: bool) -> None:
        self.scale = 1.6 if on else 1.0
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(640, 220)

    def node_rects(self) -> list[list[QRectF]]:
        """Where each node is drawn: the columns share the width, a column's nodes its height."""
        font = self._font()
        fm = QFontMetricsF(font)
        line = fm.height()
        columns = max(len(self.steps), 1)
        col_w = self.width() / columns
        rects = []
        for k, step in enumerate(self.steps):
            rows = max(len(step), 1)
            row_h = self.height() / rows
            h = min(row_h * 0.9, line * 2.3)
            w = min(col_w * 0.62, fm.horizontalAdvance("<unk>") * 2.2)  # room between columns for the lines
            left = k * col_w + (col_w - w) / 2
            rects.append([QRectF(left, j * row_h + (row_h - h) / 2, w, h) for j in range(len(step))])
        return rects

    def _font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * self.scale)
        return font

    def paintEvent(self, event) -> None:
        if not self.steps:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        rects = self.node_rects()
        for k in range(1, len(self.steps)):
            for j, node in enumerate(self.steps[k]):
                if 0 <= node.parent < len(rects[k - 1]):
                    a, b = rects[k - 1][node.parent], rects[k][j]
                    pen = QPen(WINNER if node.winner else EDGE, (3 if node.winner else 1) * self.scale)
                    p.setPen(pen)
                    p.drawLine(QPointF(a.right(), a.center().y()), QPointF(b.left(), b.center().y()))
        font = self._font()
        bold = QFont(font)
        bold.setBold(True)
        for k, step in enumerate(self.steps):
            for j, node in enumerate(step):
                r = rects[k][j]
                colour = WINNER if node.winner else FORCED if node.forced else OTHER
                if node.finished:
                    p.setPen(QPen(colour, 1.5 * self.scale))
                    p.drawRoundedRect(r, 4, 4)
                p.setPen(colour)
                p.setFont(bold if node.winner else font)
                top, bottom = QRectF(r.x(), r.y(), r.width(), r.height() / 2), QRectF(r.x(), r.center().y(),
                                                                                     r.width(), r.height() / 2)
                p.drawText(top, Qt.AlignmentFlag.AlignCenter, node.token)
                p.setFont(font)
                p.drawText(bottom, Qt.AlignmentFlag.AlignCenter, f"{node.logprob:.2f}")
        p.end()
