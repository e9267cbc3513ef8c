"""The video panel's "Train" box: a small LRCN trained on the worker (a few generated clips, a few
steps), its loss as it goes, stop, and reading clips with it once it ends."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QPushButton

from rnnstudio.train.progress import Evaluation, TrainingProgress
from rnnstudio.ui.widgets import spin_box, wrapping_label
from rnnstudio.worker.jobs import TrainingControlRequest
from rnnstudio.worker.video_messages import StartVideoTrainingRequest, VideoTrainingStarted, VideoTrainSpec

DEFAULTS = VideoTrainSpec()


class TrainBox(QGroupBox):
    def __init__(self, panel):
        super().__init__("Train a small one")
        self.panel = panel
        self.state = "none"  # none | starting | running | paused | stopped | finished
        self.last_loss: float | None = None
        self.clips = spin_box(16, 2000, DEFAULTS.clips, 16)
        self.steps = spin_box(1, 5000, DEFAULTS.steps, 50)
        self.hidden = spin_box(8, 512, DEFAULTS.hidden, 16)
        self.clips.setToolTip("Generated clips to train on, each rendered and encoded once")
        self.steps.setToolTip("Training steps, each on a batch of clips")
        self.hidden.setToolTip("LSTM units: the rows of the state heatmap")
        form = QFormLayout(self)
        form.addRow("Clips", self.clips)
        form.addRow("Steps", self.steps)
        form.addRow("LSTM units", self.hidden)
        self.train_button = QPushButton("Train")
        self.stop_button = QPushButton("Stop")
        self.use_button = QPushButton("Read with it")
        self.train_button.setToolTip("Train a new LRCN from scratch on the worker (the captioner's encoder, frozen)")
        self.stop_button.setToolTip("Stop training; what is trained so far can be read with")
        self.use_button.setToolTip("Read the clips with the model trained here instead of the shipped one")
        self.train_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(lambda: self.panel.worker.submit(
            TrainingControlRequest(action="stop"), on_error=self.panel.on_worker_error))
        self.use_button.clicked.connect(self.panel.use_trained_model)
        row = QHBoxLayout()
        for button in (self.train_button, self.stop_button, self.use_button):
            row.addWidget(button)
        form.addRow(row)
        self.progress_label = wrapping_label("Not trained yet.")
        form.addRow(self.progress_label)
        self._update_buttons()

    def spec(self) -> VideoTrainSpec:
        return VideoTrainSpec(clips=self.clips.value(), steps=self.steps.value(), hidden=self.hidden.value())

    def start(self) -> None:
        self.state, self.last_loss = "starting", None
        self.progress_label.setText("Building the model and rendering the first clips …")
        self._update_buttons()
        self.panel.worker.submit(StartVideoTrainingRequest(spec=self.spec()), on_partial=self._on_partial,
                                 on_result=self._on_progress, on_error=self._on_error)

    def _on_error(self, error) -> None:
        self.state = "stopped"
        self._update_buttons()
        self.panel.on_worker_error(error)

    def _on_partial(self, payload) -> None:
        if isinstance(payload, VideoTrainingStarted):
            self.state = "running"
            self.progress_label.setText(f"Training {payload.parameters:,} parameters on {payload.clips} clips …")
        elif isinstance(payload, TrainingProgress):
            self._on_progress(payload)
        elif isinstance(payload, Evaluation):
            self.last_loss = payload.figures.get("loss")
        self._update_buttons()

    def _on_progress(self, p: TrainingProgress) -> None:
        self.state = p.state
        if p.losses:
            self.last_loss = sum(p.losses) / len(p.losses)
        loss = f" · loss {self.last_loss:.3f}" if self.last_loss is not None else ""
        self.progress_label.setText(f"<b>{p.state}</b>: step {p.iteration:,} of {p.planned:,}{loss}")
        self._update_buttons()

    def _update_buttons(self) -> None:
        active = self.state in ("starting", "running", "paused")
        self.train_button.setEnabled(not active)
        self.stop_button.setEnabled(self.state in ("running", "paused"))
        self.use_button.setEnabled(self.state in ("stopped", "finished"))
