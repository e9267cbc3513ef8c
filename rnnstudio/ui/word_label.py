"""A written word shown with its probability: the caption's words and a video clip's sentence."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsOpacityEffect, QLabel, QLayout


def probability_color(p: float) -> QColor:
    """Red for an unsure word, through amber, to green for a sure one."""
    p = float(np.clip(p, 0.0, 1.0))
    if p < 0.5:
        return QColor(215, int(60 + 300 * p), 60)
    return QColor(int(215 - 330 * (p - 0.5)), 190, 70)


class WordLabel(QLabel):
    """One written word, coloured by its probability; hovering or clicking it says which (`hovered`)."""

    hovered = Signal(int)

    def __init__(self, index: int, word: str, p: float, given: str = "the words before it, the image", parent=None):
        super().__init__(parent)
        self.index = index
        self.given = given  # what the word's probability is conditioned on, for its tool tip
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._style = ""
        self._unwritten = QGraphicsOpacityEffect(self)  # enabled: the word is not written yet
        self._unwritten.setOpacity(0.0)
        self._unwritten.setEnabled(False)
        self.setGraphicsEffect(self._unwritten)
        self.set_word(word, p)

    def set_word(self, word: str, p: float, note: str = "", written: bool = True) -> None:
        """Show `word` at probability p, changing only what differs from what is shown: the
        same caption comes back for frame after frame of one scene, and a new style sheet
        costs a re-polish. The colour is that of the percentage shown; `note` ends the tool tip.

        Not yet `written`: laid out at its size but not drawn (fully transparent), so that writing
        it later repaints this label alone: a new style sheet or a label added would lay out and
        paint the window again."""
        text = f"{word}<br><small>{p:.0%}</small>"
        if text != self.text():
            self.setText(text)
        style = (f"QLabel {{ background: {probability_color(round(p, 2)).name()}; color: white; border-radius: 5px;"
                 f" padding: 4px 8px; font-size: 150%; font-weight: bold; }}")
        if style != self._style:
            self._style = style
            self.setStyleSheet(style)
        tip = f"P({word} | {self.given}) = {p:.3f}" + (f"\n{note}" if note else "")
        self.setToolTip(tip if written else "")
        if self._unwritten.isEnabled() == written:
            self._unwritten.setEnabled(not written)

    def enterEvent(self, event) -> None:
        self.hovered.emit(self.index)
        super().enterEvent(event)

    def mousePressEvent(self, event) -> None:
        self.hovered.emit(self.index)


def fit_word_labels(labels: list[WordLabel], row: QLayout, count: int,
                    new_label: Callable[[int], WordLabel]) -> None:
    """Make `labels`, laid out in `row` in order, `count` long: the last ones removed, or
    `new_label(k)` added. Labels are kept from one sentence to the next, since building styled
    labels anew each time costs layout and style work. The list, not `findChildren`, is the
    truth: a label removed lives on until `deleteLater` runs."""
    while len(labels) > count:
        label = labels.pop()
        row.removeWidget(label)
        label.deleteLater()
    while len(labels) < count:
        labels.append(new_label(len(labels)))
        row.addWidget(labels[-1])
