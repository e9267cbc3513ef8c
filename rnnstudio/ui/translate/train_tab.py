"""The Train tab: a translator trained on the worker as its job (as the char-RNN is), with the
training loss and the validation loss and BLEU drawn live, and pause, resume and stop. The
model it trains becomes "trained in the app" in the Translate tab's model list."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from rnnstudio.train.progress import Evaluation, TrainingProgress
from rnnstudio.ui.theme import LEGEND_BRUSH
from rnnstudio.ui.widgets import EmptyPlotNote, float_spin_box, spin_box, wrapping_label
from rnnstudio.worker.jobs import TrainingControlRequest
from rnnstudio.worker.translate_messages import (
    StartTranslateTrainingRequest, TranslateTrainingStarted, TranslateTrainSpec,
)

REDRAW_MS = 250  # at most four redraws a second: each takes the GIL from training
LOSS_COLOR = (70, 130, 200)
VALID_COLOR = (230, 120, 20)
BLEU_COLOR = (30, 140, 60)


class TrainTab(QWidget):
    title = "Train"

    def __init__(self, panel):
        super().__init__()
        self.panel = panel
        self.state = "idle"  # idle | starting | running | paused | stopped | finished
        self.iterations: list[int] = []
        self.losses: list[float] = []
        self.valid: list[tuple[int, float, float]] = []  # (iteration, loss, BLEU)
        self.progress: TrainingProgress | None = None  # the newest report
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.redraw)
        d = TranslateTrainSpec()
        v = QVBoxLayout(self)
        form = QFormLayout()
        self.attention_combo = QComboBox()
        self.attention_combo.addItem("additive (Bahdanau)", "additive")
        self.attention_combo.addItem("none (the bottleneck)", "none")
        self.cell_combo = QComboBox()
        for cell in ("gru", "lstm"):
            self.cell_combo.addItem(cell.upper(), cell)
        self.steps_spin = spin_box(10, 100_000, d.steps, 100)
        self.hidden_spin = spin_box(16, 1024, d.hidden, 16)
        self.forcing_spin = float_spin_box(0.0, 1.0, d.teacher_forcing, 0.1, 2)
        self.pairs_spin = spin_box(0, 1_000_000, d.train_pairs, 1000)
        self.pairs_spin.setSpecialValueText("all")
        self.attention_combo.setToolTip("Additive attention lets the decoder look back at every French word; "
                                        "none squeezes the sentence into one vector")
        self.cell_combo.setToolTip("The recurrent cell of the encoder and the decoder")
        self.steps_spin.setToolTip("Training steps (batches) to run")
        self.hidden_spin.setToolTip("Hidden units of the encoder and the decoder")
        self.forcing_spin.setToolTip("Teacher forcing: how often the decoder is fed the reference's previous word "
                                     "instead of its own guess")
        self.pairs_spin.setToolTip("Train on the first pairs only, for a quick run; all: every training pair")
        for label, widget in (("Attention:", self.attention_combo), ("Cell:", self.cell_combo),
                              ("Steps:", self.steps_spin), ("Hidden units:", self.hidden_spin),
                              ("Teacher forcing:", self.forcing_spin), ("Training pairs:", self.pairs_spin)):
            form.addRow(label, widget)
        settings = QWidget()
        settings.setLayout(form)
        settings.setMaximumWidth(settings.fontMetrics().horizontalAdvance("M") * 32)  # not stretched across
        top = QHBoxLayout()
        top.addWidget(settings)
        buttons = QVBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self.pause_or_resume)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(lambda: self.control("stop"))
        self.train_button.setToolTip("Train a new translator with these settings, in the background")
        self.pause_button.setToolTip("Pause the training, or resume it")
        self.stop_button.setToolTip("Stop the training; the model trained so far stays for translating")
        for b in (self.train_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        top.addLayout(buttons)
        top.addStretch(1)
        v.addLayout(top)
        self.status = wrapping_label("Not trained yet. Choose the network, then press Train.")
        v.addWidget(self.status)
        self.loss_plot = pg.PlotWidget(background="w")
        self.loss_plot.setLabel("bottom", "iteration")
        self.loss_plot.setLabel("left", "loss (nats per English token)")
        self.loss_plot.addLegend(offset=(-10, 10), brush=LEGEND_BRUSH)
        self.loss_curve = self.loss_plot.plot(name="training batch", pen=pg.mkPen(LOSS_COLOR, width=1))
        self.valid_curve = self.loss_plot.plot(name="validation", pen=pg.mkPen(VALID_COLOR, width=2.5), symbol="o",
                                               symbolBrush=VALID_COLOR, symbolPen=None)
        self.bleu_plot = pg.PlotWidget(background="w")
        self.bleu_plot.setLabel("bottom", "iteration")
        self.bleu_plot.setLabel("left", "validation BLEU (greedy)")
        self.bleu_curve = self.bleu_plot.plot(pen=pg.mkPen(BLEU_COLOR, width=2.5), symbol="o",
                                              symbolBrush=BLEU_COLOR, symbolPen=None)
        self.empty = EmptyPlotNote(self.loss_plot, "Press Train: the loss of each batch appears here.")
        self.empty.show()
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot, 1)
        plots.addWidget(self.bleu_plot, 1)
        v.addLayout(plots, 1)
        self._update_buttons()

    def spec(self) -> TranslateTrainSpec:
        return TranslateTrainSpec(attention=self.attention_combo.currentData(), cell=self.cell_combo.currentData(),
                                  steps=self.steps_spin.value(), hidden=self.hidden_spin.value(),
                                  teacher_forcing=self.forcing_spin.value(), train_pairs=self.pairs_spin.value(),
                                  **self.panel.train_overrides)

    def start(self) -> None:
        self.iterations.clear(), self.losses.clear(), self.valid.clear()
        self.state = "starting"
        self.status.setText("Reading the pairs and building the model…")
        self.panel.worker.submit(StartTranslateTrainingRequest(spec=self.spec()), slot="translate.train",
                                 on_partial=self._partial, on_result=self._ended, on_error=self._failed)
        self._update_buttons()

    def pause_or_resume(self) -> None:
        self.control("resume" if self.state == "paused" else "pause")

    def control(self, action: str) -> None:
        self.panel.worker.submit(TrainingControlRequest(action=action), on_result=self._controlled,
                                 on_error=self.panel.on_worker_error)

    def _controlled(self, state: str) -> None:
        if state in ("running", "paused", "stopped", "finished"):
            self.state = state
        self._update_buttons()

    def _partial(self, item) -> None:
        if isinstance(item, TranslateTrainingStarted):
            self.state = "running"
            self.status.setText(item.description)
            self.panel.trained_model_started()
        elif isinstance(item, TrainingProgress):
            self.iterations.extend(item.iterations)
            self.losses.extend(item.losses)
            self.state = item.state
            self.progress = item
        elif isinstance(item, Evaluation):
            self.valid.append((item.iteration, item.figures["valid_loss"], item.figures["valid_bleu"]))
            self.status.setText(item.line)
        self._update_buttons()
        if not self._timer.isActive():
            self._timer.start(REDRAW_MS)

    def _ended(self, p: TrainingProgress) -> None:
        self.state = p.state
        self._update_buttons()
        self.redraw()

    def _failed(self, error) -> None:
        self.state = "stopped"
        self._update_buttons()
        self.panel.on_worker_error(error)

    def redraw(self) -> None:
        if self.iterations:
            self.empty.hide()
        self.loss_curve.setData(self.iterations, self.losses)
        self.valid_curve.setData([i for i, _l, _b in self.valid], [loss for _i, loss, _b in self.valid])
        self.bleu_curve.setData([i for i, _l, _b in self.valid], [b for _i, _l, b in self.valid])

    def _update_buttons(self) -> None:
        busy = self.state in ("starting", "running", "paused")
        self.train_button.setEnabled(not busy and self.panel.worker.device_name is not None)
        self.pause_button.setEnabled(self.state in ("running", "paused"))
        self.pause_button.setText("Resume" if self.state == "paused" else "Pause")
        self.stop_button.setEnabled(self.state in ("running", "paused"))

    def set_presenter(self, on: bool) -> None:
        self.loss_curve.setPen(pg.mkPen(LOSS_COLOR, width=2 if on else 1))
        for curve, colour in ((self.valid_curve, VALID_COLOR), (self.bleu_curve, BLEU_COLOR)):
            curve.setPen(pg.mkPen(colour, width=5 if on else 2.5))
