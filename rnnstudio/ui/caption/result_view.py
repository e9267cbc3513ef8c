"""What the captioning panel shows of a caption: the frame (dimmed except where the model
looked while writing the word pointed at), the caption word by word coloured by its
probability, its grade against a generated scene, and the beam's best captions."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QListWidget, QVBoxLayout, QWidget

from rnnstudio.ui.frame_view import FrameView, qimage_from_rgb
from rnnstudio.ui.widgets import FlowLayout, wrapping_label
from rnnstudio.ui.word_label import WordLabel, fit_word_labels

GRADE_COLORS = {
    "without errors": "#1b7a2f",
    "minor errors": "#8a6d00",
    "somewhat related": "#b05a00",
    "unrelated": "#b00020",
}
SAVED_FRAME_HEIGHT = 480  # a saved frame is scaled up by whole pixels to at least this height
WORDS_LEAST_HEIGHT = 64


class CaptionView(QWidget):
    word_pointed = Signal(int)  # the index of a word hovered or clicked

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        self.view = FrameView()
        v.addWidget(self.view, 1)
        self.words_row = FlowLayout()  # a long caption wraps instead of widening the window
        self.words_holder = QWidget()
        self.words_holder.setLayout(self.words_row)
        self.words_holder.setMinimumHeight(WORDS_LEAST_HEIGHT)
        v.addWidget(self.words_holder)
        self.grade_label = wrapping_label()
        self.grade_label.setTextFormat(Qt.TextFormat.RichText)
        v.addWidget(self.grade_label)
        self.nbest_list = QListWidget()
        self.nbest_list.setMaximumHeight(110)
        self.nbest_list.setToolTip("The beam's best captions with their total log-probabilities")
        v.addWidget(wrapping_label("<b>Best captions of the beam</b> (log-probability)"))
        v.addWidget(self.nbest_list)
        self._word_labels: list[WordLabel] = []  # the caption's words, in words_row

    def show_caption(self, result) -> None:
        """A CaptionResult's words, grade and beam (the frame and attention are the panel's to set)."""
        self._show_words(result.words, result.probabilities)
        # Keep the tallest height needed so far, so the picture above does not jump at each caption.
        width = self.words_holder.width()
        if self.words_holder.isVisible() and width >= self.words_row.minimumSize().width():  # laid out
            needed = self.words_row.heightForWidth(width)
            self.words_holder.setMinimumHeight(max(self.words_holder.minimumHeight(), needed))
        best = [f"{logprob:8.2f}   {caption}" for caption, logprob in result.nbest]
        if best != [self.nbest_list.item(k).text() for k in range(self.nbest_list.count())]:
            self.nbest_list.clear()
            self.nbest_list.addItems(best)
        if result.grade is not None:
            color = GRADE_COLORS.get(result.grade, "#333")
            self.grade_label.setText(
                f"Graded against the generated scene: <b style='color:{color}'>{result.grade}</b> "
                f"(objects named: F1 {result.f1:.2f})"
            )
        else:
            self.grade_label.setText("")

    def _show_words(self, words: list[str], probabilities: list[float]) -> None:
        """One label per word, kept from one caption to the next and changed only where the
        caption differs: rebuilding 15 styled labels for every caption, 30 times a second, cost
        the GUI thread 9 ms a caption in layout and style work (measured), for the same words."""
        fit_word_labels(self._word_labels, self.words_row, len(words), self._new_word_label)
        for label, word, p in zip(self._word_labels, words, probabilities):
            label.set_word(word, p)

    def _new_word_label(self, index: int) -> WordLabel:
        label = WordLabel(index, "", 0.0)
        label.hovered.connect(self.word_pointed)
        return label


def frame_with_caption(image: np.ndarray, caption: str, font: QFont) -> QImage:
    """The frame scaled up by whole pixels, with its caption written under it, word-wrapped."""
    frame = qimage_from_rgb(image)
    scale = max(1, -(-SAVED_FRAME_HEIGHT // max(1, frame.height())))  # whole pixels, at least this tall
    frame = frame.scaled(frame.width() * scale, frame.height() * scale)
    font = QFont(font)
    font.setPixelSize(max(14, frame.height() // 18))
    margin = font.pixelSize() // 2
    flags = Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap
    text_width = frame.width() - 2 * margin
    text_height = QFontMetrics(font).boundingRect(0, 0, text_width, 10_000, flags, caption).height()
    out = QImage(frame.width(), frame.height() + text_height + 2 * margin, QImage.Format.Format_RGB888)
    out.fill(QColor("white"))
    painter = QPainter(out)
    painter.drawImage(0, 0, frame)
    painter.setFont(font)
    painter.setPen(QColor("black"))
    painter.drawText(QRectF(margin, frame.height() + margin, text_width, text_height), flags, caption)
    painter.end()
    return out
