"""What the VQA model made of a question: its answers as bars with their probabilities, and the
question encoder's state after each word as a heatmap."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from rnnstudio.ui.theme import presenter_size
from rnnstudio.ui.widgets import EmptyPlotNote, RowLabels, hint_label, wrapping_label

BAR_COLOR = (40, 110, 200)
TRUE_COLOR = (30, 150, 60)
ROW_LABEL_PX = 13  # the largest answer and word labels, in pixels (smaller where rows are short)
PRESENTER_ROW_LABEL_PX = 24
HIDDEN_MAP = pg.colormap.get("CET-D1")
PERCENT_AT_MOST = 0.86  # a bar's percentage is written right of it, but never past this probability


class AnswersView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.result = None  # the VQAResult shown
        self.truth: str | None = None  # its true answer, where known
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(QLabel("<b>Answers</b>, most likely first"))
        head.addStretch(1)
        self.all_check = QCheckBox("All answers")
        self.all_check.setToolTip("Show the whole distribution over the answers the model knows")
        self.all_check.toggled.connect(lambda _on: self._draw_answers())
        head.addWidget(self.all_check)
        v.addLayout(head)
        self.answer_plot = _still_plot()
        self.answer_plot.setLabel("bottom", "probability")
        self.answer_plot.setXRange(0, 1, padding=0.02)
        self.answer_labels = RowLabels(self.answer_plot, ROW_LABEL_PX)
        self.answers_empty = EmptyPlotNote(self.answer_plot, "Ask a question: the model's answers appear here.")
        self.answers_empty.show()
        v.addWidget(self.answer_plot, 2)
        self.truth_label = wrapping_label()
        v.addWidget(self.truth_label)
        v.addWidget(wrapping_label("<b>The question encoder's state h after each word</b> "
                                   "(LSTM hidden units, -1 to 1)"))
        self.hidden_plot = _still_plot()
        self.hidden_plot.setLabel("bottom", "hidden unit")
        self.word_labels = RowLabels(self.hidden_plot, ROW_LABEL_PX)
        self.hidden_image = pg.ImageItem(axisOrder="row-major")
        self.hidden_plot.addItem(self.hidden_image)
        bar = pg.ColorBarItem(values=(-1, 1), colorMap=HIDDEN_MAP, interactive=False, width=12)
        bar.setImageItem(self.hidden_image, insert_in=self.hidden_plot.getPlotItem())
        self.hidden_plot.getAxis("bottom").enableAutoSIPrefix(False)  # unit numbers, never "x0.001"
        self.hidden_empty = EmptyPlotNote(self.hidden_plot, "…and here how the LSTM read it, word by word.")
        self.hidden_empty.show()
        v.addWidget(self.hidden_plot, 2)
        self.timing_label = hint_label("")
        v.addWidget(self.timing_label)

    def clear(self) -> None:
        """A new picture: no answer about it yet."""
        self.result = None
        self.truth_label.setText("")

    def show_result(self, result, truth: str | None) -> None:
        self.result, self.truth = result, truth
        self._draw_answers()
        self._draw_hidden()
        if truth is not None:
            right = result.answers[0][0] == truth
            colour = "#1e963c" if right else "#c0392b"
            self.truth_label.setText(f"The true answer is <b>{html.escape(truth)}</b>: the model is "
                                     f"<b style='color:{colour}'>{'right' if right else 'wrong'}</b>.")
        else:
            self.truth_label.setText("")
        reuse = "picture features reused" if result.features_cached else "picture features computed"
        self.timing_label.setText(f"Answered in {1000 * result.seconds:.0f} ms on the worker ({reuse}).")

    def _draw_answers(self) -> None:
        plot = self.answer_plot
        plot.clear()
        r = self.result
        if r is None:
            self.answers_empty.show()
            return
        self.answers_empty.hide()
        rows = r.all_answers if self.all_check.isChecked() else r.answers
        probs = [p for _, p in rows]
        brushes = [pg.mkBrush(TRUE_COLOR if a == self.truth else BAR_COLOR) for a, _ in rows]
        plot.addItem(pg.BarGraphItem(x0=0, y=np.arange(len(rows)), height=0.7, width=probs, brushes=brushes))
        percentages = []
        for k, (_answer, p) in enumerate(rows):
            label = pg.TextItem(f"{p:.1%}", color=(20, 20, 20), anchor=(0, 0.5))
            label.setPos(min(p, PERCENT_AT_MOST) + 0.01, k)
            plot.addItem(label)
            percentages.append(label)
        plot.getAxis("left").setTicks([[(k, a) for k, (a, _) in enumerate(rows)]])
        self.answer_labels.set_rows(len(rows), percentages)
        plot.setXRange(0, 1, padding=0.02)
        plot.setYRange(-0.6, len(rows) - 0.4, padding=0)

    def _draw_hidden(self) -> None:
        r = self.result
        h = np.asarray(r.hidden, dtype=np.float32)  # (words, hidden)
        self.hidden_image.setImage(h, autoLevels=False, levels=(-1, 1))
        self.hidden_empty.hide()
        self.hidden_plot.getAxis("left").setTicks([[(k + 0.5, w) for k, w in enumerate(r.words)]])
        self.word_labels.set_rows(len(r.words))
        self.hidden_plot.setLimits(xMin=0, xMax=h.shape[1], yMin=0, yMax=max(1, h.shape[0]))
        self.hidden_plot.setRange(xRange=(0, h.shape[1]), yRange=(0, max(1, h.shape[0])), padding=0)

    def set_presenter(self, on: bool) -> None:
        # The bottom axes are styled with every plot's by theme.apply_presenter_to.
        for labels in (self.answer_labels, self.word_labels):
            labels.set_largest(presenter_size(PRESENTER_ROW_LABEL_PX) if on else ROW_LABEL_PX)


def _still_plot() -> pg.PlotWidget:
    """A plot that is read, not explored: no menu, no zoom, rows from the top down."""
    plot = pg.PlotWidget(background="w")
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.setMouseEnabled(False, False)
    plot.getViewBox().invertY(True)
    return plot
