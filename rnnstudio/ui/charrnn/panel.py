"""The char-RNN panel: train a character-level model live and sample from it.

Qt only. All model work is a request to the device worker; this panel sends the requests and
hands what comes back to its parts: the training settings (settings_box), the loss plot
(loss_plot), the timeline of samples (timeline) and the sampler (sampler).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget

from rnnstudio.panels import CHARRNN
from rnnstudio.ui.charrnn.loss_plot import NOT_TRAINED, LossPlot
from rnnstudio.ui.charrnn.sampler import Sampler
from rnnstudio.ui.charrnn.settings_box import TrainingSettings
from rnnstudio.ui.charrnn.timeline import Timeline
from rnnstudio.ui.lessons import Lesson
from rnnstudio.ui.panel import PageExport, Panel
from rnnstudio.ui.sequence_shapes import shape_group
from rnnstudio.ui.shape_diagram import next_character_steps
from rnnstudio.ui.theme import presenter_size
from rnnstudio.ui.widgets import give_shortcut, monospace_font
from rnnstudio.train.progress import TimelineSample, TrainingProgress
from rnnstudio.worker.charrnn_messages import (
    SHIPPED,
    TRAINING,
    CharRNNModelInfo,
    CharRNNTrainingStarted,
    LoadCharRNNRequest,
    SampleResult,
    SaveCharRNNRequest,
    StartCharRNNTrainingRequest,
    TextChunk,
)
from rnnstudio.worker.jobs import TrainingControlRequest

CONTROLS_WIDTH = 380  # the left column of settings, in pixels
PRESENTER_CONTROLS_WIDTH = 520  # the same in presenter mode's large type


class CharRNNPanel(Panel):
    """Many-to-many: a char-RNN reads characters and predicts the next one, at every step."""

    entry = CHARRNN
    shape_note = "at every character it predicts the next one."
    page_exports = (PageExport("Export the sample &timeline (HTML)…", "sample-timeline.html", "export_timeline"),)
    sample_finished = Signal(object)  # SampleResult; for the lab, tests and screenshots

    def __init__(self, worker, parent=None):
        super().__init__(worker, parent)
        self._training_id: int | None = None
        self._training_state = "none"  # none | starting | running | paused | stopped | finished
        self._sample_id: int | None = None
        self._models: dict[str, CharRNNModelInfo] = {}  # by role: the opened model, the one in training
        self.training = TrainingSettings()
        self.loss_plot = LossPlot()
        self.timeline = Timeline()
        self.sampler = Sampler()
        self.sampler.sample_button.clicked.connect(self.sample)
        self.sampler.stop_button.clicked.connect(self.stop_sampling)
        self.columns = QSplitter(Qt.Orientation.Horizontal)
        self.outer.addWidget(self.columns, 1)
        self.columns.addWidget(self._build_controls())
        right = QSplitter(Qt.Orientation.Vertical)
        for part, stretch in ((self.loss_plot, 3), (self.timeline, 3), (self.sampler, 4)):
            right.addWidget(part)
            right.setStretchFactor(right.count() - 1, stretch)
        right.setSizes([300, 220, 300])
        self.columns.addWidget(right)
        self.columns.setStretchFactor(0, 0)
        self.columns.setStretchFactor(1, 1)
        self.columns.setSizes([CONTROLS_WIDTH, 900])
        self._set_ready(False)

    def _build_controls(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 0, 6, 0)
        shape_box, self.shape_diagram = shape_group(
            CHARRNN, "At every step it reads a character and predicts the next, its state h carried along. "
            "After a sample: the last characters it wrote.")
        v.addWidget(shape_box)
        v.addWidget(self.training)
        v.addStretch(1)
        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.reset_button = QPushButton("Reset")
        self.train_button.setToolTip("Start training a new model with these settings")
        self.pause_button.setToolTip("Pause or resume; nothing is lost while paused")
        self.stop_button.setToolTip("End the run; the model stays for sampling and saving")
        self.reset_button.setToolTip("Forget the trained model and clear the plots")
        give_shortcut(self.train_button, "Ctrl+T", "Train a new model")
        give_shortcut(self.pause_button, "Ctrl+P", "Pause or resume training")
        give_shortcut(self.stop_button, "Ctrl+Shift+T", "Stop training")
        for b in (self.train_button, self.pause_button, self.stop_button, self.reset_button):
            buttons.addWidget(b)
        self.train_button.clicked.connect(self.start_training)
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.stop_button.clicked.connect(lambda: self._control("stop"))
        self.reset_button.clicked.connect(self.reset_training)
        scroll = QScrollArea()
        scroll.setWidget(box)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # The settings scroll; the buttons that start and stop training stay in sight below them.
        column = QWidget()
        cv = QVBoxLayout(column)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addWidget(scroll, 1)
        buttons.setContentsMargins(0, 0, 6, 0)
        cv.addLayout(buttons)
        column.setMinimumWidth(360)
        return column

    # --- state -----------------------------------------------------------------------------------

    def _set_ready(self, ready: bool) -> None:
        self.train_button.setEnabled(ready)
        self.sampler.set_ready(ready)
        self._update_training_buttons()

    def on_worker_ready(self, _device: str) -> None:
        self._set_ready(True)
        self.open_model(None)

    def _update_training_buttons(self) -> None:
        state = self._training_state
        active = state in ("running", "paused")
        self.pause_button.setEnabled(active)
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(active)
        self.reset_button.setEnabled(state != "none")

    # --- corpus and models -------------------------------------------------------------------------

    def set_corpus_file(self, path: str) -> None:
        """Use a text file as the corpus (File → Open text); it is read when training starts."""
        self.training.set_corpus_file(path)

    def open_model(self, path: str | None) -> None:
        """Open a model file (None: the shipped one) to sample from."""
        self.worker.submit(LoadCharRNNRequest(path=path), slot="charrnn.load",
                           on_result=self._on_model_loaded, on_error=self.on_worker_error)

    def _on_model_loaded(self, info: CharRNNModelInfo) -> None:
        self._models[info.role] = info
        name = Path(info.path).name if info.path else "model"
        steps = info.trained.get("steps")
        valid = info.trained.get("metrics", {}).get("valid_nats_per_char")
        detail = f"{info.arch.upper()} {info.layers} × {info.hidden}, {info.parameters:,} parameters"
        if steps:
            detail += f", trained {steps:,} iterations"
        if valid is not None:
            detail += f", validation {valid:.3f} nats/char"
        self.sampler.name_opened_model(name, detail)
        self.status_message.emit(f"opened {name}")

    def wait_for_shipped_model(self, app) -> None:
        """For screenshots: until the shipped model is open; a UserError saying why it is not."""
        from rnnstudio.errors import UserError
        from rnnstudio.ui.screenshot import wait_until

        wait_until(app, lambda: self.worker.device_name is not None, 120, "PyTorch to load")
        wait_until(app, lambda: SHIPPED in self._models or self.message.kind == "error", 60, "the shipped model")
        if self.message.kind == "error":
            raise UserError(f"the shipped char-RNN model could not be opened: {self.message.label.text()}")

    def save_model(self, path: str) -> None:
        role = TRAINING if self._training_state != "none" else SHIPPED
        self.worker.submit(SaveCharRNNRequest(path=path, role=role), on_result=self._on_saved,
                           on_error=self.on_worker_error)

    def _on_saved(self, path: str) -> None:
        self.show_info(f"Saved {path}.")
        self.status_message.emit(f"saved {path}")

    # --- training ------------------------------------------------------------------------------------

    def start_training(self) -> None:
        problem = self.training.sample_iterations_problem()
        if problem:
            self.show_error(problem)
            return
        self.message.dismiss()
        self._clear_training_view()
        self._training_state = "starting"
        self._update_training_buttons()
        self.loss_plot.say("Reading the corpus and building the network…")
        continued = SHIPPED if self.training.continue_check.isChecked() else None
        self._training_id = self.worker.submit(
            StartCharRNNTrainingRequest(spec=self.training.train_spec(), continue_role=continued), slot="charrnn.train",
            on_partial=self._on_training_partial, on_result=self._on_training_ended,
            on_error=self._on_training_error,
        )

    def _on_training_partial(self, payload) -> None:
        if isinstance(payload, CharRNNTrainingStarted):
            self._training_state = "running"
            self._models[TRAINING] = payload.model
            self.sampler.source_combo.setCurrentIndex(1)
            self.status_message.emit(
                f"training on {payload.corpus}: {payload.train_chars:,} characters, "
                f"{payload.model.parameters:,} parameters"
            )
        elif isinstance(payload, TrainingProgress):
            self._add_progress(payload)
        elif isinstance(payload, TimelineSample):
            self.timeline.add(payload)
        self._update_training_buttons()

    def _on_training_ended(self, progress: TrainingProgress) -> None:
        self._add_progress(progress)
        self._update_training_buttons()

    def _on_training_error(self, error) -> None:
        self._training_state = "stopped" if TRAINING in self._models else "none"
        self._update_training_buttons()
        self.loss_plot.say("Training stopped.")
        self.on_worker_error(error)

    def _add_progress(self, p: TrainingProgress) -> None:
        self._training_state = p.state
        self.loss_plot.add(p)

    def _clear_training_view(self) -> None:
        self.loss_plot.clear()
        self.timeline.clear()

    def _on_pause_clicked(self) -> None:
        self._control("resume" if self._training_state == "paused" else "pause")

    def _control(self, action: str) -> None:
        self.worker.submit(TrainingControlRequest(action=action), on_error=self.on_worker_error)

    def reset_training(self) -> None:
        self.worker.submit(TrainingControlRequest(action="reset"), on_error=self.on_worker_error)
        self._training_id = None
        self._training_state = "none"
        self._models.pop(TRAINING, None)
        self._clear_training_view()
        self.loss_plot.say(NOT_TRAINED)
        self.sampler.source_combo.setCurrentIndex(0)
        self._update_training_buttons()

    # --- sampling ------------------------------------------------------------------------------------

    def sample(self) -> None:
        request = self.sampler.request()
        self.message.dismiss()
        self.sampler.start(request.prime)
        self._sample_id = self.worker.submit(
            request, slot="charrnn.sample", on_partial=self._on_sample_chunk, on_result=self._on_sample_done,
            on_error=self._on_sample_error, on_cancelled=lambda _payload: self.sampler.ended("Stopped."),
        )

    def stop_sampling(self) -> None:
        if self._sample_id is not None:
            self.worker.cancel(self._sample_id)

    def _on_sample_chunk(self, chunk: TextChunk) -> None:
        self.sampler.append(chunk.text)

    def _on_sample_done(self, result: SampleResult) -> None:
        steps = next_character_steps(result.prime + result.text)
        if steps:  # a one-character sample has no step to draw: keep the last drawing
            self.shape_diagram.set_steps(steps)
        self.sampler.ended(f"{len(result.text):,} characters at {result.chars_per_second:,.0f} characters/s.")
        self.sample_finished.emit(result)

    def _on_sample_error(self, error) -> None:
        self.sampler.ended("")
        self.on_worker_error(error)

    def export_timeline(self, path: str) -> None:
        """The samples of the timeline as one self-contained HTML page."""
        from rnnstudio.ui.export import timeline_html, write_page

        write_page(Path(path), "A char-RNN learns to write",
                   timeline_html(self.timeline.samples(), self.training.corpus_name(),
                                 loss_curve=self.loss_plot.plot.grab().toImage()))

    # --- settings, presenter mode, screenshot -----------------------------------------------------------

    def settings(self) -> dict:
        return self.training.settings()

    def apply_settings(self, saved: dict) -> None:
        self.training.apply_settings(saved)

    def set_presenter(self, on: bool) -> None:
        controls, rest = self.columns.sizes()  # in large type the controls need a wider column
        width = presenter_size(PRESENTER_CONTROLS_WIDTH) if on else CONTROLS_WIDTH
        self.columns.setSizes([width, max(controls + rest - width, 0)])
        self.loss_plot.set_presenter(on)
        font = monospace_font(presenter_size(18) if on else None)
        self.sampler.set_text_font(font)
        self.timeline.set_text_font(font)

    def prepare_screenshot(self, app, window) -> None:
        """Train a small model for a few hundred iterations, then sample the shipped model."""
        from rnnstudio.ui.screenshot import wait_until

        self.wait_for_shipped_model(app)
        self.training.steps_spin.setValue(400)
        self.training.sample_at_edit.setText("50, 150, 400")
        self.start_training()
        wait_until(app, lambda: self._training_state == "finished", 300, "training to finish")
        sampler = self.sampler
        sampler.source_combo.setCurrentIndex(0)
        sampler.prime_edit.setText("ROMEO:")
        sampler.random_seed_check.setChecked(False)
        sampler.seed_spin.setValue(7)
        sampler.length_spin.setValue(500)
        done = []
        self.sample_finished.connect(done.append)
        self.sample()
        wait_until(app, lambda: bool(done), 120, "a sample")
        self.loss_plot.redraw()

    # --- lessons --------------------------------------------------------------------------------------

    def _train_a_new(self, arch: str, layers: int, hidden: int, seq_len: int, steps: int | None = None,
                     sample_at: str | None = None) -> None:
        """A new network trained on Shakespeare, as a person would set it up and press Train."""
        t = self.training
        t.choose_corpus("shakespeare")
        t.arch_combo.setCurrentIndex(t.arch_combo.findData(arch))
        t.layers_spin.setValue(layers)
        t.hidden_spin.setValue(hidden)
        t.seq_spin.setValue(seq_len)
        if steps is not None:
            t.steps_spin.setValue(steps)
        if sample_at is not None:
            t.sample_at_edit.setText(sample_at)
        t.continue_check.setChecked(False)
        self.start_training()

    lessons = (
        # A short BPTT window: what a vanilla RNN can still learn through.
        Lesson("A vanilla RNN learns Shakespeare", "vanilla-rnn",
               "The simplest cell, h = tanh(W_hh h + W_xh x), trained through a 16-character window.",
               lambda panel: panel._train_a_new("rnn", layers=1, hidden=128, seq_len=16)),
        Lesson("Samples at 100 / 300 / 700 / 2000 iterations", "samples-improve",
               "Watch the timeline: gibberish at 100, words at 300, phrases at 700, lines at 2000.",
               lambda panel: panel._train_a_new("lstm", layers=2, hidden=128, seq_len=64, steps=2000,
                                                sample_at="100, 300, 700, 2000")),
    )
