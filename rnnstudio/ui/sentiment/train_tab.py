"""The sentiment panel's Train tab: a classifier trained on the worker, as the char-RNN is:
loss and accuracy on training and validation sentences drawn at each evaluation, pause,
resume, stop, and a probe sentence's p(positive) curve redrawn as the model learns."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from rnnstudio.train.progress import Evaluation, TrainingProgress
from rnnstudio.ui.sentiment.read_tab import TITLES, model_pen, set_word_ticks, word_axis_plot
from rnnstudio.ui.theme import presenter_on
from rnnstudio.ui.widgets import EmptyPlotNote, spin_box, wrapping_label
from rnnstudio.worker.jobs import TrainingControlRequest
from rnnstudio.worker.sentiment_messages import (
    TRAINING,
    ProbeCurve,
    SentimentTrainingStarted,
    SentimentTrainSpec,
    StartSentimentTrainingRequest,
)

TRAIN_COLOR, VALID_COLOR = (70, 130, 200), (230, 120, 20)
DEFAULTS = SentimentTrainSpec()


class TrainTab(QWidget):
    title = "Train"

    def __init__(self, panel):
        super().__init__()
        self.panel = panel
        self.state = "none"  # none | starting | running | paused | stopped | finished
        self.evaluations: list[Evaluation] = []
        self.probes: list[ProbeCurve] = []
        self.arch = QComboBox()
        for arch in ("rnn", "gru", "lstm", "bow"):
            self.arch.addItem(TITLES[arch], arch)
        self.arch.setCurrentIndex(self.arch.findData(DEFAULTS.arch))
        self.steps = spin_box(10, 20_000, DEFAULTS.steps, 100)
        self.hidden = spin_box(4, 512, DEFAULTS.hidden, 16)
        self.min_words = spin_box(0, 60, DEFAULTS.min_words, 5)
        self.min_words.setSpecialValueText("all sentences")
        self.probe = QLineEdit(DEFAULTS.probe)
        self.arch.setToolTip("The network to train: vanilla RNN, GRU, LSTM, or a bag of words that ignores order")
        self.steps.setToolTip("How many training steps, each on a batch of 64 sentences")
        self.hidden.setToolTip("The size of the network's hidden state (its memory of the sentence so far)")
        self.min_words.setToolTip("Train and validate only on sentences this long or longer, to test long-range "
                                  "memory")
        self.probe.setToolTip("A sentence read after every evaluation: its p(positive) curve shows what the "
                              "model has learned so far")
        form = QFormLayout()
        form.addRow("Network", self.arch)
        form.addRow("Iterations (64 sentences each)", self.steps)
        form.addRow("Hidden units", self.hidden)
        form.addRow("Only sentences of at least (words)", self.min_words)
        form.addRow("Probe sentence", self.probe)
        self.train_button = QPushButton("Train")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.train_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(lambda: self.control("resume" if self.state == "paused" else "pause"))
        self.stop_button.clicked.connect(lambda: self.control("stop"))
        self.train_button.setToolTip("Start training the chosen network from scratch with these settings")
        self.pause_button.setToolTip("Pause training, or resume it where it stopped; nothing is lost")
        self.stop_button.setToolTip("Stop training; the model trained so far stays readable on the Read tab")
        buttons = QHBoxLayout()
        for button in (self.train_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.progress_label = wrapping_label("Not trained yet. Choose a network, then press Train.")
        self.loss_plot, self.loss_curves = self._figure_plot("loss (cross-entropy)", "loss")
        self.accuracy_plot, self.accuracy_curves = self._figure_plot("accuracy", "accuracy")
        self.probe_plot = word_axis_plot("p(positive) of the probe")
        self.probe_plot.setYRange(0, 1, padding=0.02)
        self.probe_curve = self.probe_plot.plot(name="now", pen=model_pen(TRAINING), symbol="o", symbolSize=6)
        self.probe_first = self.probe_plot.plot(name="first", pen=pg.mkPen((180, 180, 180), width=1.5))
        self.notes = [EmptyPlotNote(plot, "Press Train.") for plot in (self.loss_plot, self.accuracy_plot,
                                                                       self.probe_plot)]
        for note in self.notes:
            note.show()
        plots = QHBoxLayout()
        for plot in (self.loss_plot, self.accuracy_plot, self.probe_plot):
            plots.addWidget(plot, 1)
        v = QVBoxLayout(self)
        v.addLayout(form)
        v.addLayout(buttons)
        v.addWidget(self.progress_label)
        v.addLayout(plots, 1)
        self._update_buttons()

    def _figure_plot(self, left: str, figure: str):
        plot = pg.PlotWidget(background="w")
        plot.setLabel("bottom", "iteration")
        plot.setLabel("left", left)
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.addLegend(offset=(-10, 10))
        width = 5 if presenter_on() else 2.5
        curves = {f"train_{figure}": plot.plot(name="training sentences", pen=pg.mkPen(TRAIN_COLOR, width=width),
                                               symbol="o", symbolSize=5, symbolBrush=TRAIN_COLOR),
                  f"valid_{figure}": plot.plot(name="validation sentences", pen=pg.mkPen(VALID_COLOR, width=width),
                                               symbol="o", symbolSize=5, symbolBrush=VALID_COLOR)}
        return plot, curves

    def _update_buttons(self) -> None:
        active = self.state in ("running", "paused")
        self.train_button.setEnabled(self.state not in ("starting", "running", "paused"))
        self.pause_button.setEnabled(active)
        self.pause_button.setText("Resume" if self.state == "paused" else "Pause")
        self.stop_button.setEnabled(active)

    def spec(self) -> SentimentTrainSpec:
        return SentimentTrainSpec(arch=self.arch.currentData(), steps=self.steps.value(), hidden=self.hidden.value(),
                                  eval_every=max(self.steps.value() // 15, 10), probe=self.probe.text(),
                                  probe_every=max(self.steps.value() // 60, 5), min_words=self.min_words.value())

    def start(self) -> None:
        self.evaluations, self.probes = [], []
        for note in self.notes:
            note.show()
        self.state = "starting"
        self.progress_label.setText("Reading the rated sentences and building the model …")
        self._update_buttons()
        self.panel.worker.submit(StartSentimentTrainingRequest(spec=self.spec()), on_partial=self._on_partial,
                                 on_result=self._on_progress, on_error=self._on_error)

    def control(self, action: str) -> None:
        self.panel.worker.submit(TrainingControlRequest(action=action), on_error=self.panel.on_worker_error)

    def _on_error(self, error) -> None:
        self.state = "stopped"
        self._update_buttons()
        self.panel.on_worker_error(error)

    def _on_partial(self, payload) -> None:
        if isinstance(payload, SentimentTrainingStarted):
            self.state = "running"
            self.progress_label.setText(f"Training a {TITLES[payload.arch]} of {payload.parameters:,} parameters on "
                                        f"{payload.train_sentences:,} sentences …")
            self.panel.training_started()
        elif isinstance(payload, TrainingProgress):
            self._on_progress(payload)
        elif isinstance(payload, Evaluation):
            self.evaluations.append(payload)
            self._draw_figures()
        elif isinstance(payload, ProbeCurve):
            self.probes.append(payload)
            self._draw_probe()
        self._update_buttons()

    def _on_progress(self, p: TrainingProgress) -> None:
        self.state = p.state
        last = self.evaluations[-1].figures if self.evaluations else None
        figures = (f" · validation accuracy {last['valid_accuracy']:.3f}, training {last['train_accuracy']:.3f}"
                   if last else "")
        self.progress_label.setText(f"<b>{p.state}</b>: iteration {p.iteration:,} of {p.planned:,}{figures} · "
                                    f"{p.chars_per_second:,.0f} sentences/s")
        self._update_buttons()
        if p.state == "finished":
            self.panel.training_finished()
        if p.state in ("finished", "stopped"):  # its cloud and sentiment unit, fitted on the worker
            self.panel.reading.refresh_training_model()

    def _draw_figures(self) -> None:
        its = [e.iteration for e in self.evaluations]
        for curves in (self.loss_curves, self.accuracy_curves):
            for key, curve in curves.items():
                curve.setData(its, [e.figures[key] for e in self.evaluations])
        self.notes[0].hide()
        self.notes[1].hide()

    def _draw_probe(self) -> None:
        first, now = self.probes[0], self.probes[-1]
        self.notes[2].hide()
        self.probe_curve.setData(range(len(now.words)), now.p_positive)
        self.probe_first.setData(range(len(first.words)), first.p_positive)
        set_word_ticks(self.probe_plot, now.words)
        self.probe_plot.setRange(xRange=(-0.5, len(now.words) - 0.5), yRange=(0, 1), padding=0.02)
        self.probe_plot.setTitle(f"iteration {now.iteration:,}")

    def set_presenter(self, on: bool) -> None:
        width = 5 if on else 2.5
        for curves in (self.loss_curves, self.accuracy_curves):
            for key, curve in curves.items():
                curve.setPen(pg.mkPen(TRAIN_COLOR if key.startswith("train") else VALID_COLOR, width=width))
        self.probe_curve.setPen(model_pen(TRAINING))
