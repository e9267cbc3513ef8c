"""Small painting helpers shared by the hand-drawn diagrams."""

from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtGui import QPainter, QPolygonF


def visible_char(ch: str) -> str:
    """A character as a diagram shows it: a space, a newline or a tab would be invisible."""
    return {"\n": "↵", " ": "␣", "\t": "→"}.get(ch, ch)


def visible_text(text: str) -> str:
    """A character as visible_char shows it; a longer text on one line, its newlines as ↵."""
    return visible_char(text) if len(text) == 1 else text.replace("\n", "↵")


def draw_arrow(p: QPainter, a: QPointF, b: QPointF, head: float = 8.0) -> None:
    """A line from `a` to `b` with a filled head at `b`, in the painter's pen colour."""
    p.drawLine(a, b)
    d = b - a
    length = max((d.x() ** 2 + d.y() ** 2) ** 0.5, 1e-6)
    ux, uy = d.x() / length, d.y() / length
    left = QPointF(b.x() - ux * head - uy * head * 0.5, b.y() - uy * head + ux * head * 0.5)
    right = QPointF(b.x() - ux * head + uy * head * 0.5, b.y() - uy * head - ux * head * 0.5)
    p.save()
    p.setBrush(p.pen().color())
    p.drawPolygon(QPolygonF([b, left, right]))
    p.restore()
