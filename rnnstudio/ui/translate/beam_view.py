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
        """Thicker lines; the text follows the application's font, which presenter mode enlarges."""
        self.scale = 2.0 if on else 1.0
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(640, 220)

    def node_rects(self) -> list[list[QRectF]]:
        """Where each node is drawn: the columns share the width, a column's nodes its height.
        A node is its token over its log-probability where the height allows, else both on one line."""
        fm = QFontMetricsF(self.font())
        line = fm.height()
        col_w = self.width() / max(len(self.steps), 1)
        rows = max((len(step) for step in self.steps), default=1)
        two_lines = self.height() / rows >= 2.2 * line
        widest = fm.horizontalAdvance("<unk> -00.00")
        rects = []
        for k, step in enumerate(self.steps):
            row_h = self.height() / max(len(step), 1)
            h = min(row_h * 0.9, line * (2.3 if two_lines else 1.2))
            w = min(col_w * 0.62, widest) if two_lines else min(col_w * 0.95, widest * 1.15)
            left = k * col_w + (col_w - w) / 2
            rects.append([QRectF(left, j * row_h + (row_h - h) / 2, w, h) for j in range(len(step))])
        return rects

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
        font = self.font()
        line = QFontMetricsF(font).height()
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
                if r.height() < 2 * line:  # too little room for two lines
                    p.drawText(r, Qt.AlignmentFlag.AlignCenter, f"{node.token} {node.logprob:.2f}")
                    continue
                top = QRectF(r.x(), r.y(), r.width(), r.height() / 2)
                bottom = QRectF(r.x(), r.center().y(), r.width(), r.height() / 2)
                p.drawText(top, Qt.AlignmentFlag.AlignCenter, node.token)
                p.setFont(font)
                p.drawText(bottom, Qt.AlignmentFlag.AlignCenter, f"{node.logprob:.2f}")
        p.end()
