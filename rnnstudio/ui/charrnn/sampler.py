"""The char-RNN panel's sampler: which model writes, from what prime, at what temperature,
top-k, length and seed, and the text it writes, streamed in as it comes."""

from __future__ import annotations

import random

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
)

from rnnstudio.ui.widgets import (
    FittingGroupBox,
    FlowLayout,
    give_shortcut,
    lines_height,
    monospace_font,
    side_by_side,
    spin_box,
    wrapping_label,
)
from rnnstudio.worker.charrnn_messages import SHIPPED, TRAINING, SampleRequest

SAMPLE_LINES_IN_SIGHT = 4  # the sample view's least height once it holds a sample, in lines of its type


class Sampler(FittingGroupBox):  # its controls flow onto more lines in presenter type
    def __init__(self, parent=None):
        super().__init__("Sample", parent)
        self.has_sample = False  # a sample has been written (or is being written) in the view
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
        column = QVBoxLayout(self)
        column.addLayout(row)
        column.addLayout(self._build_controls())
        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setFont(monospace_font())
        self.view.setPlaceholderText("Loading PyTorch and the shipped model…")
        # A scroll bar that paints its own background: otherwise each streamed chunk, which moves
        # it, repaints the box behind it too, through FittingGroupBox's Python event() (the GIL
        # the sampling worker needs): 0.54 ms of GUI time a chunk instead of 0.35 (measured).
        self.view.verticalScrollBar().setAutoFillBackground(True)
        column.addWidget(self.view, 1)
        self.status = wrapping_label()
        column.addWidget(self.status)
        self.keep_lines_in_sight()

    def _build_controls(self) -> FlowLayout:
        self.temperature_slider = QSlider(Qt.Orientation.Horizontal)
        self.temperature_slider.setRange(0, 200)
        self.temperature_slider.setValue(80)
        self.temperature_slider.setToolTip("Divides the scores before the softmax: low is safe and repetitive, "
                                           "high is wild; 0 always takes the likeliest")
        self.temperature_label = QLabel()
        self.temperature_label.setMinimumWidth(40)
        self.temperature_slider.setMinimumWidth(160)  # a flow layout gives no stretch
        self.temperature_slider.valueChanged.connect(lambda value: self.temperature_label.setText(f"{value / 100:.2f}"))
        self.temperature_label.setText(f"{self.temperature_slider.value() / 100:.2f}")
        self.topk_spin = spin_box(0, 1000, 0)
        self.topk_spin.setSpecialValueText("all")
        self.topk_spin.setToolTip("Sample only among the k likeliest characters; 'all' for no limit")
        self.length_spin = spin_box(1, 100_000, 600, step=100)
        self.length_spin.setToolTip("Characters to write")
        self.seed_spin = spin_box(0, 2**31 - 1, 42)
        self.seed_spin.setToolTip("The same seed, model and settings give the same sample")
        self.random_seed_check = QCheckBox("random")
        self.random_seed_check.setToolTip("A new seed every time; untick it to get the same text again from "
                                          "the same seed")
        self.random_seed_check.setChecked(True)
        self.random_seed_check.toggled.connect(lambda on: self.seed_spin.setEnabled(not on))
        self.seed_spin.setEnabled(False)
        self.sample_button = QPushButton("Sample")
        self.sample_button.setToolTip("Write text from the chosen model, character by character")
        self.sample_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop writing; the text so far stays")
        self.stop_button.setEnabled(False)
        give_shortcut(self.sample_button, "Ctrl+Return", "Sample text")
        give_shortcut(self.stop_button, "Esc", "Stop sampling")
        flow = FlowLayout()  # not one long row: in presenter mode's large type it wraps to fit a projector
        flow.addWidget(side_by_side(QLabel("Temperature"), self.temperature_slider, self.temperature_label))
        flow.addWidget(side_by_side(QLabel("Top-k"), self.topk_spin))
        flow.addWidget(side_by_side(QLabel("Length"), self.length_spin))
        flow.addWidget(side_by_side(QLabel("Seed"), self.seed_spin, self.random_seed_check))
        flow.addWidget(side_by_side(self.sample_button, self.stop_button))
        return flow

    def request(self) -> SampleRequest:
        """What the controls ask for; a random seed is drawn now and shown, so it can be written again."""
        seed = random.randrange(2**31) if self.random_seed_check.isChecked() else self.seed_spin.value()
        self.seed_spin.setValue(seed)
        return SampleRequest(
            role=self.source_combo.currentData(),
            prime=self.prime_edit.text().replace("\\n", "\n"),
            length=self.length_spin.value(),
            temperature=self.temperature_slider.value() / 100,
            top_k=self.topk_spin.value(),
            seed=seed,
        )

    # --- the text written ----------------------------------------------------------------------

    def start(self, prime: str) -> None:
        self.view.setPlainText(prime)
        self.has_sample = True
        self.keep_lines_in_sight()
        self.status.setText("Writing…")
        self.stop_button.setEnabled(True)

    def append(self, text: str) -> None:
        cursor = self.view.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self.view.setTextCursor(cursor)
        self.view.ensureCursorVisible()

    def ended(self, status: str) -> None:
        self.stop_button.setEnabled(False)
        self.status.setText(status)

    def set_ready(self, ready: bool) -> None:
        self.sample_button.setEnabled(ready)
        if ready:
            self.view.setPlaceholderText("Press Sample to let the model write.")
            self.view.viewport().update()  # Qt does not repaint an empty editor for a new placeholder

    def name_opened_model(self, name: str, detail: str) -> None:
        self.source_combo.setItemText(0, f"Opened: {name}")
        self.source_combo.setItemData(0, detail, Qt.ItemDataRole.ToolTipRole)
        self.status.setText(f"Opened {name}: {detail}.")

    def set_text_font(self, font) -> None:
        self.view.setFont(font)
        self.keep_lines_in_sight()

    def keep_lines_in_sight(self) -> None:
        """The sample keeps a few lines in sight once there is one, however the panel's splitter
        shares the column; an empty view gives its room to the timeline."""
        self.view.setMinimumHeight(lines_height(self.view, SAMPLE_LINES_IN_SIGHT if self.has_sample else 1))

