"""The char-RNN panel: train a character-level model live and sample from it.

Qt only. All model work is a request to the device worker; this panel keeps the newest
results and draws them from a timer, never per training step.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QPalette, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from rnnstudio.ui.sequence_shapes import next_character_steps, shape_group
from rnnstudio.ui.settings import choose, set_number
from rnnstudio.ui.theme import LEGEND_BRUSH, presenter_size
from rnnstudio.ui.widgets import (
    EmptyPlotNote,
    FittingGroupBox,
    FlowLayout,
    add_explained_row,
    give_shortcut,
    wrapping_label,
    hint_label,
    monospace_font,
    side_by_side,
    panel_layout,
    when_worker_ready,
)
from rnnstudio.train.defaults import CharRNNDefaults
from rnnstudio.train.progress import TimelineSample, TrainingProgress
from rnnstudio.worker.charrnn_messages import (
    SHIPPED,
    TRAINING,
    CharRNNModelInfo,
    CharRNNTrainSpec,
    CharRNNTrainingStarted,
    LoadCharRNNRequest,
    SampleRequest,
    SampleResult,
    SaveCharRNNRequest,
    StartCharRNNTrainingRequest,
    TextChunk,
)
from rnnstudio.worker.jobs import TrainingControlRequest

CORPORA = [("Shakespeare (all plays but The Tempest)", "shakespeare"), ("Python standard library", "python")]
ARCHS = [("LSTM", "lstm"), ("GRU", "gru"), ("Vanilla RNN", "rnn")]
REDRAW_MS = 250  # the loss plot redraws at most 4 times a second: each redraw takes the GIL from training

CONTROLS_WIDTH = 380  # the left column of settings, in pixels
PRESENTER_CONTROLS_WIDTH = 520  # the same in presenter mode's large type
TIMELINE_CARD_WIDTH = 190  # a timeline card's least width, in pixels
SAMPLE_LINES_IN_SIGHT = 4  # the sample view's least height once it holds a sample, in lines of its type
TIMELINE_LINES_IN_SIGHT = 3  # the same for each timeline card's text
LOSS_AXIS_LABEL = "loss (nats per character)"
TRAIN_COLOR = (70, 130, 200)
VALID_COLOR = (230, 120, 20)


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


class CharRNNPanel(QWidget):
    """Many-to-many: a char-RNN reads characters and predicts the next one, at every step."""

    title = "Char-RNN"
    status_message = Signal(str)
    sample_finished = Signal(object)  # SampleResult; for the main window, tests and screenshots

    def __init__(self, worker, parent=None):
        super().__init__(parent)
        self.worker = worker
        self._corpus_path: str | None = None
        self._training_id: int | None = None
        self._training_state = "none"  # none | starting | running | paused | stopped | finished
        self._sample_id: int | None = None
        self._models: dict[str, CharRNNModelInfo] = {}
        self._iters: list[int] = []
        self._losses: list[float] = []
        self._valid_iters: list[int] = []
        self._valid_losses: list[float] = []
        self._plot_dirty = False
        self._view_set: list | None = None  # the loss plot's view range as _fit_view last set it
        self._view_wanted: tuple | None = None  # the ranges _fit_view last asked for
        self._progress: TrainingProgress | None = None
        self._has_sample = False  # a sample has been written (or is being written) in the view
        self._build()
        self._keep_lines_in_sight()
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.timeout.connect(self._redraw)
        self._set_ready(False)
        when_worker_ready(worker, self._on_worker_ready)

    # --- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        outer, self.message = panel_layout(self)
        split = self.columns = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(split, 1)
        split.addWidget(self._build_controls())
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self._build_plot())
        right.addWidget(self._build_timeline())
        right.addWidget(self._build_sampler())
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 3)
        right.setStretchFactor(2, 4)
        right.setSizes([300, 220, 300])
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([CONTROLS_WIDTH, 900])

    def _build_controls(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 0, 6, 0)

        shape_box, self.shape_diagram = shape_group(
            "charrnn", "At every step it reads a character and predicts the next, its state h carried along. "
            "After a sample: the last characters it wrote.")
        v.addWidget(shape_box)

        data = QGroupBox("Text to learn from")
        form = QFormLayout(data)
        self.corpus_combo = QComboBox()
        for label, key in CORPORA:
            self.corpus_combo.addItem(label, key)
        self.corpus_combo.addItem("Text file…", "file")
        self.corpus_combo.activated.connect(self._on_corpus_activated)
        add_explained_row(form, "Corpus", self.corpus_combo, "The model learns to predict the next character of this text.")
        v.addWidget(data)

        model = QGroupBox("Network")
        form = QFormLayout(model)
        self.arch_combo = QComboBox()
        for label, key in ARCHS:
            self.arch_combo.addItem(label, key)
        add_explained_row(form, "Cell", self.arch_combo, "Vanilla RNN: h = tanh(W_hh h + W_xh x); LSTM and GRU add gates.")
        self.layers_spin = _spin(1, 4, CharRNNDefaults.layers)
        add_explained_row(form, "Layers", self.layers_spin, "Stacked recurrent layers; each reads the one below.")
        self.hidden_spin = _spin(8, 1024, CharRNNDefaults.hidden, step=32)
        add_explained_row(form, "Hidden size", self.hidden_spin, "Numbers in the state h_t: the network's memory.")
        self.dropout_spin = _dspin(0.0, 0.9, CharRNNDefaults.dropout, 0.05, 2)
        add_explained_row(form, "Dropout", self.dropout_spin, "Zeroes this fraction between layers in training, against overfitting.",
                          advanced=True)
        v.addWidget(model)

        train = QGroupBox("Training")
        form = QFormLayout(train)
        self.seq_spin = _spin(4, 1000, CharRNNDefaults.seq_len, step=8)
        add_explained_row(form, "Sequence length", self.seq_spin,
                          "The BPTT window: gradients flow back through at most this many characters.")
        self.batch_spin = _spin(1, 512, CharRNNDefaults.batch_size, step=8)
        add_explained_row(form, "Batch size", self.batch_spin, "Text windows trained on at once, averaged in one step.",
                          advanced=True)
        self.lr_spin = _dspin(1e-5, 1.0, CharRNNDefaults.lr, 5e-4, 4)
        add_explained_row(form, "Learning rate", self.lr_spin, "Adam's step size; it decays to a tenth by the last iteration.",
                          advanced=True)
        self.steps_spin = _spin(10, 1_000_000, CharRNNDefaults.steps, step=100)
        add_explained_row(form, "Iterations", self.steps_spin, "Training steps to run, one batch each.")
        self.sample_at_edit = QLineEdit(", ".join(map(str, CharRNNDefaults.sample_at)))
        add_explained_row(form, "Samples at", self.sample_at_edit,
                          "Iterations at which a sample is kept in the timeline.")
        self.continue_check = QCheckBox("Continue the opened model")
        self.continue_check.setToolTip(
            "Train the opened model further, with its own network and saved optimizer state, instead of a new one"
        )
        self.continue_check.toggled.connect(self._on_continue_toggled)
        self.continue_check.setProperty("advanced", True)  # presenter mode tucks it away
        form.addRow(self.continue_check)
        v.addWidget(train)

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
        v.addStretch(1)

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

    def _build_plot(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "iteration")
        self.plot.setLabel("left", LOSS_AXIS_LABEL)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.addLegend(offset=(-10, 10), brush=LEGEND_BRUSH)  # readable where it lies over a curve
        self.train_curve = self.plot.plot(name="training batch", pen=pg.mkPen(TRAIN_COLOR, width=1))
        self.valid_curve = self.plot.plot(
            name="validation (held-out text)", pen=pg.mkPen(VALID_COLOR, width=2.5),
            symbol="o", symbolSize=6, symbolBrush=VALID_COLOR, symbolPen=None,
        )
        for curve in (self.train_curve, self.valid_curve):
            curve.setClipToView(True)
        self.train_curve.setDownsampling(auto=True, method="peak")
        self.loss_empty = EmptyPlotNote(self.plot, "Press Train: the loss of each batch and on held-out text appears here.")
        self.loss_empty.show()
        # A wide antialiased pen over every point costs ~86 ms a redraw at 20,000 iterations
        # (measured); one peak sample per pixel and a 1 px pen keep it under 5 ms.
        self.train_curve.opts["autoDownsampleFactor"] = 1.0
        self.progress_label = wrapping_label("Not trained yet. Choose a corpus and a network, then press Train.")
        v.addWidget(self.progress_label)
        v.addWidget(self.plot, 1)
        return box

    def _build_timeline(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(wrapping_label("<b>Timeline</b> — samples taken while the model trains, oldest on the left, "
                                   "each with its validation loss in nats per character"))
        self.timeline_row = QHBoxLayout()
        self.timeline_row.setContentsMargins(0, 0, 0, 0)
        self.timeline_row.addStretch(1)
        holder = QWidget()
        holder.setLayout(self.timeline_row)
        self.timeline_scroll = QScrollArea()
        self.timeline_scroll.setWidget(holder)
        self.timeline_scroll.setWidgetResizable(True)
        self.timeline_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.timeline_empty = hint_label("Samples appear here at the iterations chosen under “Samples at”.")
        v.addWidget(self.timeline_empty)
        v.addWidget(self.timeline_scroll, 1)
        self.timeline_cards: list[TimelineCard] = []
        return box

    def _build_sampler(self) -> QWidget:
        box = FittingGroupBox("Sample")  # its controls flow onto more lines in presenter type
        v = QVBoxLayout(box)
        row = QHBoxLayout()
        self.source_combo = QComboBox()
        self.source_combo.addItem("Shipped model", SHIPPED)
        self.source_combo.addItem("Model in training", TRAINING)
        self.source_combo.setToolTip("Which model writes: the opened one, or the one training now")
        row.addWidget(QLabel("From"))
        row.addWidget(self.source_combo)
        row.addWidget(QLabel("Prime"))
        self.prime_edit = QLineEdit()
        self.prime_edit.setPlaceholderText("text the model reads first, e.g. ROMEO:")
        self.prime_edit.setToolTip("The model reads this text first, then continues it")
        row.addWidget(self.prime_edit, 1)
        v.addLayout(row)

        self.temperature_slider = QSlider(Qt.Orientation.Horizontal)
        self.temperature_slider.setRange(0, 200)
        self.temperature_slider.setValue(80)
        self.temperature_slider.setToolTip("Divides the scores before the softmax: low is safe and repetitive, high is wild; 0 always takes the likeliest")
        self.temperature_label = QLabel()
        self.temperature_label.setMinimumWidth(40)
        self.temperature_slider.setMinimumWidth(160)  # a flow layout gives no stretch
        self.temperature_slider.valueChanged.connect(self._on_temperature_changed)
        self._on_temperature_changed(self.temperature_slider.value())
        self.topk_spin = _spin(0, 1000, 0)
        self.topk_spin.setSpecialValueText("all")
        self.topk_spin.setToolTip("Sample only among the k likeliest characters; 'all' for no limit")
        self.length_spin = _spin(1, 100_000, 600, step=100)
        self.length_spin.setToolTip("Characters to write")
        self.seed_spin = _spin(0, 2**31 - 1, 42)
        self.seed_spin.setToolTip("The same seed, model and settings give the same sample")
        self.random_seed_check = QCheckBox("random")
        self.random_seed_check.setToolTip('A new seed every time; untick it to get the same text again from the same seed')
        self.random_seed_check.setChecked(True)
        self.random_seed_check.toggled.connect(lambda on: self.seed_spin.setEnabled(not on))
        self.seed_spin.setEnabled(False)
        self.sample_button = QPushButton("Sample")
        self.sample_button.setToolTip('Write text from the chosen model, character by character')
        self.sample_button.setDefault(True)
        self.sample_button.clicked.connect(self.sample)
        self.stop_sample_button = QPushButton("Stop")
        self.stop_sample_button.setToolTip('Stop writing; the text so far stays')
        self.stop_sample_button.clicked.connect(self.stop_sampling)
        self.stop_sample_button.setEnabled(False)
        give_shortcut(self.sample_button, "Ctrl+Return", "Sample text")
        give_shortcut(self.stop_sample_button, "Esc", "Stop sampling")
        flow = FlowLayout()  # not one long row: in presenter mode's large type it wraps to fit a projector
        flow.addWidget(side_by_side(QLabel("Temperature"), self.temperature_slider, self.temperature_label))
        flow.addWidget(side_by_side(QLabel("Top-k"), self.topk_spin))
        flow.addWidget(side_by_side(QLabel("Length"), self.length_spin))
        flow.addWidget(side_by_side(QLabel("Seed"), self.seed_spin, self.random_seed_check))
        flow.addWidget(side_by_side(self.sample_button, self.stop_sample_button))
        v.addLayout(flow)

        self.sample_view = QPlainTextEdit()
        self.sample_view.setReadOnly(True)
        self.sample_view.setFont(monospace_font())
        self.sample_view.setPlaceholderText("Loading PyTorch and the shipped model…")
        # A scroll bar that paints its own background: otherwise each streamed chunk, which moves
        # it, repaints the box behind it too, through FittingGroupBox's Python event() (the GIL
        # the sampling worker needs): 0.54 ms of GUI time a chunk instead of 0.35 (measured).
        self.sample_view.verticalScrollBar().setAutoFillBackground(True)
        v.addWidget(self.sample_view, 1)
        self.sample_status = wrapping_label()
        v.addWidget(self.sample_status)
        return box

    # --- state ---------------------------------------------------------------------------

    def _set_ready(self, ready: bool) -> None:
        for w in (self.train_button, self.sample_button):
            w.setEnabled(ready)
        self._update_training_buttons()

    def _on_worker_ready(self, device: str) -> None:
        self._set_ready(True)
        self.sample_view.setPlaceholderText("Press Sample to let the model write.")
        self.sample_view.viewport().update()  # Qt does not repaint an empty editor for a new placeholder
        self.open_model(None)

    def _on_continue_toggled(self, on: bool) -> None:
        # The opened model fixes the network; only the training settings apply.
        for w in (self.arch_combo, self.layers_spin, self.hidden_spin, self.dropout_spin):
            w.setEnabled(not on)

    def _update_training_buttons(self) -> None:
        state = self._training_state
        active = state in ("running", "paused")
        self.pause_button.setEnabled(active)
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(active)
        self.reset_button.setEnabled(state != "none")

    def show_error(self, message: str) -> None:
        self.message.show_message(message, "error")
        self.status_message.emit(message)

    def _on_error(self, error) -> None:
        self.show_error(error.message)

    # --- corpus and models -------------------------------------------------------------------

    def _on_corpus_activated(self, index: int) -> None:
        if self.corpus_combo.itemData(index) == "file":
            path, _ = QFileDialog.getOpenFileName(self, "Open a text to learn from", "", "Text files (*.txt *.md *.py);;All files (*)")
            if path:
                self.set_corpus_file(path)
            else:
                self.corpus_combo.setCurrentIndex(0)

    def set_corpus_file(self, path: str) -> None:
        """Use a text file as the corpus; it is read and checked when training starts."""
        self._corpus_path = path
        index = self.corpus_combo.findData("file")
        self.corpus_combo.setItemText(index, f"File: {Path(path).name}")
        self.corpus_combo.setCurrentIndex(index)
        self.corpus_combo.setToolTip(path)

    def corpus_spec(self) -> str:
        key = self.corpus_combo.currentData()
        return self._corpus_path if key == "file" and self._corpus_path else key if key != "file" else "shakespeare"

    def open_model(self, path: str | None) -> None:
        """Open a model file (None: the shipped one) to sample from."""
        self.worker.submit(LoadCharRNNRequest(path=path), slot="charrnn.load",
                           on_result=self._on_model_loaded, on_error=self._on_error)

    def _on_model_loaded(self, info: CharRNNModelInfo) -> None:
        self._models[info.role] = info
        name = Path(info.path).name if info.path else "model"
        self.source_combo.setItemText(0, f"Opened: {name}")
        steps = info.trained.get("steps")
        valid = info.trained.get("metrics", {}).get("valid_nats_per_char")
        detail = f"{info.arch.upper()} {info.layers} × {info.hidden}, {info.parameters:,} parameters"
        if steps:
            detail += f", trained {steps:,} iterations"
        if valid is not None:
            detail += f", validation {valid:.3f} nats/char"
        self.source_combo.setItemData(0, detail, Qt.ItemDataRole.ToolTipRole)
        self.sample_status.setText(f"Opened {name}: {detail}.")
        self.status_message.emit(f"opened {name}")

    def save_model(self, path: str) -> None:
        role = TRAINING if self._training_state != "none" else SHIPPED
        self.worker.submit(SaveCharRNNRequest(path=path, role=role), on_result=self._on_saved, on_error=self._on_error)

    def _on_saved(self, path: str) -> None:
        self.message.show_message(f"Saved {path}.", "info")
        self.status_message.emit(f"saved {path}")

    # --- training --------------------------------------------------------------------------

    def train_spec(self) -> CharRNNTrainSpec:
        return CharRNNTrainSpec(
            corpus=self.corpus_spec(),
            arch=self.arch_combo.currentData(),
            layers=self.layers_spin.value(),
            hidden=self.hidden_spin.value(),
            dropout=self.dropout_spin.value(),
            seq_len=self.seq_spin.value(),
            batch_size=self.batch_spin.value(),
            lr=self.lr_spin.value(),
            steps=self.steps_spin.value(),
            eval_every=CharRNNDefaults.curve_eval_every(self.steps_spin.value()),
            sample_at=self._sample_iterations(),
        )

    def _sample_iterations(self) -> tuple[int, ...]:
        values = []
        for part in self.sample_at_edit.text().replace(";", ",").split(","):
            part = part.strip()
            if part.isdigit() and int(part) > 0:
                values.append(int(part))
        return tuple(sorted(set(values)))

    def start_training(self) -> None:
        bad = [p for p in self.sample_at_edit.text().replace(";", ",").split(",") if p.strip() and not p.strip().isdigit()]
        if bad:
            self.show_error(f"“Samples at” takes whole numbers separated by commas; “{bad[0].strip()}” is not one.")
            return
        self.message.dismiss()
        self._clear_training_view()
        self._training_state = "starting"
        self._update_training_buttons()
        self.progress_label.setText("Reading the corpus and building the network…")
        self._training_id = self.worker.submit(
            StartCharRNNTrainingRequest(
                spec=self.train_spec(), continue_role=SHIPPED if self.continue_check.isChecked() else None
            ),
            slot="charrnn.train",
            on_partial=self._on_training_partial, on_result=self._on_training_ended,
            on_error=self._on_training_error,
        )

    def _on_training_partial(self, payload) -> None:
        if isinstance(payload, CharRNNTrainingStarted):
            self._training_state = "running"
            self._models[TRAINING] = payload.model
            self.source_combo.setCurrentIndex(1)
            self.status_message.emit(
                f"training on {payload.corpus}: {payload.train_chars:,} characters, "
                f"{payload.model.parameters:,} parameters"
            )
        elif isinstance(payload, TrainingProgress):
            self._add_progress(payload)
        elif isinstance(payload, TimelineSample):
            self._add_timeline_card(payload)
        self._update_training_buttons()

    def _on_training_ended(self, progress: TrainingProgress) -> None:
        self._add_progress(progress)
        self._update_training_buttons()

    def _on_training_error(self, error) -> None:
        self._training_state = "stopped" if TRAINING in self._models else "none"
        self._update_training_buttons()
        self.progress_label.setText("Training stopped.")
        self._on_error(error)

    def _add_progress(self, p: TrainingProgress) -> None:
        self._iters.extend(p.iterations)
        self._losses.extend(p.losses)
        for it, loss in p.valid:
            self._valid_iters.append(it)
            self._valid_losses.append(loss)
        self._progress = p
        self._training_state = p.state
        self._plot_dirty = True
        if not self._redraw_timer.isActive():
            self._redraw_timer.start(REDRAW_MS)

    def _redraw(self) -> None:
        if not self._plot_dirty:
            return
        self._plot_dirty = False
        (self.loss_empty.hide if self._iters else self.loss_empty.show)()
        iters, losses = np.asarray(self._iters, dtype=float), np.asarray(self._losses, dtype=float)
        valid_losses = np.asarray(self._valid_losses, dtype=float)
        self.train_curve.setData(iters, losses)
        self.valid_curve.setData(np.asarray(self._valid_iters, dtype=float), valid_losses)
        if self._iters:
            self._fit_view(iters[0], iters[-1], np.concatenate([losses, valid_losses]))
        p = self._progress
        if p is not None:
            valid = f"validation {self._valid_losses[-1]:.3f}" if self._valid_losses else "validation —"
            train = f"batch loss {self._losses[-1]:.3f}" if self._losses else ""
            state = {"running": "training", "paused": "paused", "stopped": "stopped", "finished": "finished"}.get(p.state, p.state)
            self.progress_label.setText(
                f"<b>{state}</b>: iteration {p.iteration:,} of {p.planned:,} · {train} · {valid} nats/char · "
                f"{p.chars_per_second:,.0f} characters/s · learning rate {p.learning_rate:.2g}"
            )

    def _fit_view(self, first: float, last: float, losses: np.ndarray) -> None:
        """Keep every point in sight, with ranges that grow in round steps instead of following
        each new point: pyqtgraph redraws an axis's ticks and labels whenever its range moves,
        which was two thirds of a redraw (3.5 of 5.5 ms of GUI time, measured). A student's
        zoom or pan, or pyqtgraph's auto-range button, is left alone until the next run."""
        view = self.plot.getViewBox()
        if self._view_set is not None and not np.allclose(view.viewRange(), self._view_set):
            return
        finite = losses[np.isfinite(losses)]
        if finite.size == 0:
            return
        x_range = (first, first + round_up(last - first + 1))
        y_range = stepped_range(float(finite.min()), float(finite.max()))
        if (x_range, y_range) != self._view_wanted:
            self._view_wanted = (x_range, y_range)
            self.plot.setRange(xRange=x_range, yRange=y_range, padding=0.02)
            self._view_set = view.viewRange()

    def _add_timeline_card(self, sample: TimelineSample) -> None:
        card = TimelineCard(sample)
        card.text.setFont(self.sample_view.font())  # presenter mode's size, if it is on
        self.timeline_cards.append(card)
        self.timeline_row.insertWidget(self.timeline_row.count() - 1, card, 1)
        self.timeline_empty.hide()
        self._keep_lines_in_sight()

    def _clear_training_view(self) -> None:
        self._iters.clear()
        self._losses.clear()
        self._valid_iters.clear()
        self._valid_losses.clear()
        self._progress = None
        self._plot_dirty = True
        self._view_set = self._view_wanted = None  # a new run's view fits its own curve
        self._redraw()
        for card in self.timeline_cards:
            card.setParent(None)
            card.deleteLater()
        self.timeline_cards.clear()
        self.timeline_empty.show()
        self._keep_lines_in_sight()

    def _on_pause_clicked(self) -> None:
        self._control("resume" if self._training_state == "paused" else "pause")

    def _control(self, action: str) -> None:
        self.worker.submit(TrainingControlRequest(action=action), on_error=self._on_error)

    def reset_training(self) -> None:
        self.worker.submit(TrainingControlRequest(action="reset"), on_error=self._on_error)
        self._training_id = None
        self._training_state = "none"
        self._models.pop(TRAINING, None)
        self._clear_training_view()
        self.progress_label.setText("Not trained yet. Choose a corpus and a network, then press Train.")
        self.source_combo.setCurrentIndex(0)
        self._update_training_buttons()

    # --- sampling ----------------------------------------------------------------------------

    def _on_temperature_changed(self, value: int) -> None:
        self.temperature_label.setText(f"{value / 100:.2f}")

    def sample(self) -> None:
        seed = random.randrange(2**31) if self.random_seed_check.isChecked() else self.seed_spin.value()
        self.seed_spin.setValue(seed)
        request = SampleRequest(
            role=self.source_combo.currentData(),
            prime=self.prime_edit.text().replace("\\n", "\n"),
            length=self.length_spin.value(),
            temperature=self.temperature_slider.value() / 100,
            top_k=self.topk_spin.value(),
            seed=seed,
        )
        self.message.dismiss()
        self.sample_view.setPlainText(request.prime)
        self._has_sample = True
        self._keep_lines_in_sight()
        self.sample_status.setText("Writing…")
        self.stop_sample_button.setEnabled(True)
        self._sample_id = self.worker.submit(
            request, slot="charrnn.sample", on_partial=self._on_sample_chunk, on_result=self._on_sample_done,
            on_error=self._on_sample_error, on_cancelled=self._on_sample_cancelled,
        )

    def stop_sampling(self) -> None:
        if self._sample_id is not None:
            self.worker.cancel(self._sample_id)

    def _on_sample_chunk(self, chunk: TextChunk) -> None:
        cursor = self.sample_view.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(chunk.text)
        self.sample_view.setTextCursor(cursor)
        self.sample_view.ensureCursorVisible()

    def _on_sample_done(self, result: SampleResult) -> None:
        self.stop_sample_button.setEnabled(False)
        steps = next_character_steps(result.prime + result.text)
        if steps:  # a one-character sample has no step to draw: keep the last drawing
            self.shape_diagram.set_steps(steps)
        self.sample_status.setText(f"{len(result.text):,} characters at {result.chars_per_second:,.0f} characters/s.")
        self.sample_finished.emit(result)

    def _on_sample_cancelled(self, _payload) -> None:
        self.stop_sample_button.setEnabled(False)
        self.sample_status.setText("Stopped.")

    def _on_sample_error(self, error) -> None:
        self.stop_sample_button.setEnabled(False)
        self.sample_status.setText("")
        self._on_error(error)

    def export_timeline(self, path: str) -> None:
        """The samples of the timeline as one self-contained HTML page."""
        from rnnstudio.ui.export import timeline_html, write_page

        write_page(Path(path), "A char-RNN learns to write",
                   timeline_html([card.sample for card in self.timeline_cards], self.corpus_combo.currentText(),
                                 loss_curve=self.plot.grab().toImage()))

    # --- settings kept between runs ---------------------------------------------------------------

    def settings(self) -> dict:
        return {
            "corpus": self.corpus_combo.currentData(), "corpus_file": self._corpus_path,
            "arch": self.arch_combo.currentData(), "layers": self.layers_spin.value(),
            "hidden": self.hidden_spin.value(), "dropout": self.dropout_spin.value(), "seq_len": self.seq_spin.value(),
            "batch": self.batch_spin.value(), "lr": self.lr_spin.value(), "steps": self.steps_spin.value(),
            "sample_at": self.sample_at_edit.text(),
        }

    def apply_settings(self, saved: dict) -> None:
        if saved.get("corpus") == "file" and isinstance(saved.get("corpus_file"), str) and Path(saved["corpus_file"]).is_file():
            self.set_corpus_file(saved["corpus_file"])
        elif saved.get("corpus") != "file":
            choose(self.corpus_combo, saved.get("corpus"))
        choose(self.arch_combo, saved.get("arch"))
        for spin, key in ((self.layers_spin, "layers"), (self.hidden_spin, "hidden"), (self.dropout_spin, "dropout"),
                          (self.seq_spin, "seq_len"), (self.batch_spin, "batch"), (self.lr_spin, "lr"),
                          (self.steps_spin, "steps")):
            set_number(spin, saved.get(key))
        if isinstance(saved.get("sample_at"), str):
            self.sample_at_edit.setText(saved["sample_at"])

    # --- presenter mode ----------------------------------------------------------------------

    def _keep_lines_in_sight(self) -> None:
        """What the class reads keeps a few lines in sight, however the splitter shares the
        column: the timeline's samples once there are any, the sample once one is written. In
        presenter type on a 768-pixel screen each had shrunk to one or two lines; an empty one
        gives its room to the other."""
        view = self.sample_view
        lines = SAMPLE_LINES_IN_SIGHT if self._has_sample else 1
        view.setMinimumHeight(_lines_height(view, lines))
        cards = self.timeline_cards
        for card in cards:
            card.text.setMinimumHeight(_lines_height(card.text, TIMELINE_LINES_IN_SIGHT))
        scroll = self.timeline_scroll
        scroll.setMinimumHeight(max((card.minimumSizeHint().height() for card in cards), default=0)
                                + 2 * scroll.frameWidth() + scroll.horizontalScrollBar().sizeHint().height())

    def set_presenter(self, on: bool) -> None:
        scale = 2.0 if on else 1.0
        controls, rest = self.columns.sizes()  # in large type the controls need a wider column
        width = presenter_size(PRESENTER_CONTROLS_WIDTH) if on else CONTROLS_WIDTH
        self.columns.setSizes([width, max(controls + rest - width, 0)])
        self.train_curve.setPen(pg.mkPen(TRAIN_COLOR, width=1 * scale))
        self.valid_curve.setPen(pg.mkPen(VALID_COLOR, width=2.5 * scale))
        self.valid_curve.setSymbolSize(6 * scale)
        font = monospace_font(presenter_size(18) if on else None)
        self.sample_view.setFont(font)
        for card in self.timeline_cards:
            card.text.setFont(font)
        self._keep_lines_in_sight()
        # In large type the long label is taller than the plot and gets cut off.
        self.plot.setLabel("left", "nats/char" if on else LOSS_AXIS_LABEL)
        for axis in ("bottom", "left"):
            self.plot.getAxis(axis).setStyle(tickFont=self.font())
            self.plot.getAxis(axis).label.setFont(self.font())


def round_up(value: float) -> float:
    """The first of 1, 2, 5, 10, 20, 50, ... at or above `value` (at least 1)."""
    value = max(float(value), 1.0)
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def stepped_range(low: float, high: float) -> tuple[float, float]:
    """[low, high] widened to multiples of a round step, half a power of ten below the span:
    losses from 1.62 to 4.2 give (1.5, 4.5), which holds until a loss leaves it."""
    step = 10.0 ** math.floor(math.log10(max(high - low, 1e-6))) / 2
    # min and max: a step's multiple can round to just inside the value it was meant to enclose
    return min(math.floor(low / step) * step, low), max(math.ceil(high / step) * step, high)


def _lines_height(view: QPlainTextEdit, lines: int) -> int:
    """The height a text view needs to show `lines` lines of its font."""
    text = QFontMetrics(view.font()).lineSpacing() * lines
    return text + 2 * view.frameWidth() + 2 * round(view.document().documentMargin())


def _spin(lo: int, hi: int, value: int, step: int = 1) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setValue(value)
    s.setSingleStep(step)
    return s


def _dspin(lo: float, hi: float, value: float, step: float, decimals: int) -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setDecimals(decimals)
    s.setRange(lo, hi)
    s.setValue(value)
    s.setSingleStep(step)
    return s
