"""The char-RNN panel's timeline: the samples taken while the model trains, oldest on the left
(A char-RNN's samples improve with training, docs/LECTURE-MAP.md)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QScrollArea, QVBoxLayout, QWidget

from rnnstudio.ui.widgets import hint_label, lines_height, monospace_font, wrapping_label
from rnnstudio.train.progress import TimelineSample

TIMELINE_CARD_WIDTH = 190  # a timeline card's least width, in pixels
TIMELINE_LINES_IN_SIGHT = 3  # each card's text keeps this many lines of its type in sight


class TimelineCard(QFrame):
    """One sample taken during training, labelled with its iteration and validation loss."""

    def __init__(self, sample: TimelineSample, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("TimelineCard")
        # The base colour by palette, not by a style sheet: a widget with a style sheet no longer
        # follows the application's font, so presenter mode would miss the card's title.
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self.setAutoFillBackground(True)
        # Narrow enough for the four samples of the default "samples at" to stand side by side
        # on a 1280-pixel screen (at 250 the last one was scrolled out of sight).
        self.setMinimumWidth(TIMELINE_CARD_WIDTH)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        # Two short lines, the unit in the timeline's heading: on one line the loss ran off the
        # card's edge; a third line took a line of the sample in presenter type. Not word-wrapped:
        # a wrapping label asks for the height of a narrow column, and the timeline grew a scroll bar.
        loss = f"<br>validation {sample.valid_loss:.2f}" if sample.valid_loss is not None else ""
        title = QLabel(f"<b>iteration {sample.iteration:,}</b>{loss}")
        self.text = QPlainTextEdit(sample.text)
        self.text.setReadOnly(True)
        self.text.setFont(monospace_font())
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        layout.addWidget(title)
        layout.addWidget(self.text, 1)
        self.iteration = sample.iteration
        self.sample = sample


class Timeline(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.cards: list[TimelineCard] = []
        self._font = monospace_font()  # the samples' type: presenter mode's size, when it is on
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(wrapping_label("<b>Timeline</b> — samples taken while the model trains, oldest on the left, "
                                   "each with its validation loss in nats per character"))
        self.row = QHBoxLayout()
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.addStretch(1)
        holder = QWidget()
        holder.setLayout(self.row)
        self.scroll = QScrollArea()
        self.scroll.setWidget(holder)
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.empty = hint_label("Samples appear here at the iterations chosen under “Samples at”.")
        v.addWidget(self.empty)
        v.addWidget(self.scroll, 1)
        self.keep_lines_in_sight()

    def add(self, sample: TimelineSample) -> None:
        card = TimelineCard(sample)
        card.text.setFont(self._font)
        self.cards.append(card)
        self.row.insertWidget(self.row.count() - 1, card, 1)
        self.empty.hide()
        self.keep_lines_in_sight()

    def clear(self) -> None:
        for card in self.cards:
            card.setParent(None)
            card.deleteLater()
        self.cards.clear()
        self.empty.show()
        self.keep_lines_in_sight()

    def samples(self) -> list[TimelineSample]:
        return [card.sample for card in self.cards]

    def set_text_font(self, font) -> None:
        self._font = font
        for card in self.cards:
            card.text.setFont(font)
        self.keep_lines_in_sight()

    def keep_lines_in_sight(self) -> None:
        """Each card keeps a few lines of its sample in sight, however the panel's splitter
        shares the column (in presenter type on a 768-pixel screen they had shrunk to one)."""
        for card in self.cards:
            card.text.setMinimumHeight(lines_height(card.text, TIMELINE_LINES_IN_SIGHT))
        scroll = self.scroll
        scroll.setMinimumHeight(max((card.minimumSizeHint().height() for card in self.cards), default=0)
                                + 2 * scroll.frameWidth() + scroll.horizontalScrollBar().sizeHint().height())
