"""The sentiment panel's Minimal pairs tab: one small edit of the typed sentence ("not" in or
out, the halves around "but" swapped, the negation moved k words away from its target) and
what each model says before and after; and the gradient reach, |d p / d x_t| for each word
against its distance from the end, vanilla RNN against LSTM."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from rnnstudio.ui.sentiment.read_tab import COLORS, TITLES, model_pen, word_axis_plot
from rnnstudio.ui.theme import apply_presenter_to, presenter_on
from rnnstudio.ui.widgets import EmptyPlotNote, FlowLayout, hint_label, side_by_side, spin_box, wrapping_label
from rnnstudio.worker.sentiment_messages import (
    VADER,
    GradientReachRequest,
    GradientReachResult,
    MinimalPairRequest,
    MinimalPairResult,
)


class PairsTab(QWidget):
    title = "Minimal pairs and reach"

    def __init__(self, panel):
        super().__init__()
        self.panel = panel
        self.pair: MinimalPairResult | None = None
        self.reach: GradientReachResult | None = None
        buttons = FlowLayout()  # wraps in presenter mode's large type
        self.not_button = QPushButton("Insert or remove “not”")
        self.but_button = QPushButton("Swap the halves around “but”")
        self.move_button = QPushButton("Move the negation k = 0 … K words away")
        self.k_spin = spin_box(1, 20, 6)
        self.reach_button = QPushButton("Gradient reach")
        self.not_button.clicked.connect(lambda: self.edit("not"))
        self.but_button.clicked.connect(lambda: self.edit("but"))
        self.move_button.clicked.connect(lambda: self.edit("move"))
        self.reach_button.clicked.connect(self.measure_reach)
        self.not_button.setToolTip("Put “not” into the sentence, or take it out, and compare each model's "
                                   "p(positive) before and after")
        self.but_button.setToolTip("Swap the parts before and after “but”: a model that reads order should "
                                   "swap its label too")
        self.move_button.setToolTip("Move the negation 0 to K words away from what it negates and see how "
                                    "far each model still feels it")
        self.k_spin.setToolTip("K: the farthest distance, in words, the negation is moved")
        self.reach_button.setToolTip("How much the final prediction still depends on each word, by its "
                                     "distance from the end (the gradient of p with respect to that word)")
        for widget in (self.not_button, self.but_button, side_by_side(self.move_button, QLabel("K"), self.k_spin),
                       self.reach_button):
            buttons.addWidget(widget)
        self.texts = wrapping_label("")
        self.pair_plot = word_axis_plot("p(positive)")
        self.pair_plot.setYRange(0, 1, padding=0.02)
        self.pair_empty = EmptyPlotNote(self.pair_plot, "Press an edit: each model's p(positive) before and after.")
        self.pair_empty.show()
        self.reach_plot = pg.PlotWidget(background="w")
        self.reach_plot.setLabel("bottom", "words from the end of the sentence")
        self.reach_plot.setLabel("left", "|d p / d x_t|")
        self.reach_plot.setLogMode(y=True)
        self.reach_plot.addLegend(offset=(-10, 10))
        self.reach_empty = EmptyPlotNote(self.reach_plot, "Press Gradient reach: how much the prediction still "
                                                          "feels each word, by its distance from the end.")
        self.reach_empty.show()
        plots = QHBoxLayout()
        plots.addWidget(self.pair_plot, 1)
        plots.addWidget(self.reach_plot, 1)
        v = QVBoxLayout(self)
        v.addWidget(hint_label("The edits work on the sentence typed on the Read tab. A model that reads order "
                               "flips with “not” and follows the half after “but”; a bag of words cannot."))
        v.addLayout(buttons)
        v.addWidget(self.texts)
        v.addLayout(plots, 1)

    def models(self) -> tuple[str, ...]:
        return self.panel.reading.chosen()

    def edit(self, kind: str) -> None:
        request = MinimalPairRequest(text=self.panel.reading.text_box.text(), edit=kind, max_k=self.k_spin.value(),
                                     models=self.models())
        self.panel.worker.submit(request, slot="sentiment.pair", on_result=self._on_pair,
                                 on_error=self.panel.on_worker_error)

    def _on_pair(self, r: MinimalPairResult) -> None:
        self.panel.message.dismiss()
        self.pair = r
        self.pair_empty.hide()
        self.pair_plot.clear()
        self.pair_plot.addLegend(offset=(-10, 10))
        labels = [f"k={k}" for k in r.ks] if r.ks else ["as typed", "edited"]
        x = np.arange(len(r.texts))
        for name, p in r.p.items():
            self.pair_plot.plot(x, p, name=TITLES[name], pen=model_pen(name), symbol="o", symbolSize=8,
                                symbolBrush=COLORS[name], symbolPen=None)
        self.pair_plot.getAxis("bottom").setTicks([[(n, label) for n, label in enumerate(labels)]])
        self.pair_plot.setRange(xRange=(-0.3, len(r.texts) - 0.7), yRange=(0, 1), padding=0.02)
        if presenter_on():
            apply_presenter_to(self.pair_plot, True)  # the rebuilt legend in large type
        self.texts.setText("<br>".join(f"<b>{label}</b>: {text}" for label, text in zip(labels, r.texts)))

    def measure_reach(self) -> None:
        models = tuple(name for name in self.models() if name != VADER) or ("rnn", "lstm")
        self.panel.worker.submit(GradientReachRequest(text=self.panel.reading.text_box.text(), models=models),
                                 slot="sentiment.reach", on_result=self._on_reach, on_error=self.panel.on_worker_error)

    def _on_reach(self, r: GradientReachResult) -> None:
        self.reach = r
        self.reach_empty.hide()
        self.reach_plot.clear()
        self.reach_plot.addLegend(offset=(-10, 10))
        for name, reach in r.reach.items():
            floor = np.maximum(reach, 1e-12)  # a log axis: a zero gradient is drawn at the bottom
            self.reach_plot.plot(r.distance, floor, name=TITLES[name], pen=model_pen(name), symbol="o",
                                 symbolSize=6, symbolBrush=COLORS[name], symbolPen=None)
        self.reach_plot.getViewBox().invertX(True)  # the first word on the left, as it is read
        if presenter_on():
            apply_presenter_to(self.reach_plot, True)

    def set_presenter(self, on: bool) -> None:
        if self.pair is not None:
            self._on_pair(self.pair)
        if self.reach is not None:
            self._on_reach(self.reach)
