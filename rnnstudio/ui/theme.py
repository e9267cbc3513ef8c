"""Look and feel: the normal style, and presenter mode for a projector."""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

_base_point_size: float | None = None

PRESENTER_POINT_SIZE = 17


def apply_presenter(app: QApplication, on: bool) -> None:
    """Large fonts everywhere, for the back of a lecture hall; off restores the default."""
    global _base_point_size
    font = QFont(app.font())
    if _base_point_size is None:
        _base_point_size = font.pointSizeF()
    font.setPointSizeF(PRESENTER_POINT_SIZE if on else _base_point_size)
    app.setFont(font)
