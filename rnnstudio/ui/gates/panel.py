"""The LSTM internals lab: every gate and state of a char-RNN, live, on any text; or of a
sentiment model, one word a step (sent here by the sentiment panel's *Open in LSTM internals*,
or chosen in the model list).

Qt only. The worker reads the text; the newest reading, the layer, the unit followed and the
step are one GatesCursor, which each inner tab draws and moves: the heatmaps and saturation
(maps_tab), one unit over the text with the hypothesis search and interventions (unit_tab),
the recurrence step by step (step_tab), the gradient flow (gradient_tab), and the forget gate
with the gradient it lets through (memory_tab).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QTextEdit,
    QWidget,
)

from rnnstudio.panels import CHARRNN, GATES
from rnnstudio.ui.gates.cursor import GatesCursor
from rnnstudio.ui.gates.gradient_tab import GradientTab
from rnnstudio.ui.gates.maps_tab import MapsTab
from rnnstudio.ui.gates.memory_tab import MemoryTab
from rnnstudio.ui.gates.step_tab import StepTab
from rnnstudio.ui.gates.unit_tab import UnitTab
from rnnstudio.ui.lessons import Lesson
from rnnstudio.ui.panel import Panel
from rnnstudio.ui.theme import presenter_size
from rnnstudio.ui.widgets import TEXT_FILES, give_shortcut, monospace_font, wrapping_label
from rnnstudio.worker.charrnn_messages import SHIPPED, TRAINING
from rnnstudio.worker.gates_messages import MAX_GATES_CHARS, GatesRequest, GatesResult, GatesSource
from rnnstudio.worker.protocol import ReadFileRequest

DEFAULT_TEXT = (
    "KING RICHARD III:\n"
    "Now is the winter of our discontent\n"
    "Made glorious summer by this sun of York;\n"
    "And all the clouds that lour'd upon our house\n"
    "In the deep bosom of the ocean buried.\n"
)
UNKNOWN_CHAR_BACKGROUND = QColor(255, 120, 120)
TURN_WORDS = ("not", "n't", "never", "no", "but", "although", "though")  # where a sentiment model's gates turn
SENTIMENT_PREFIX = "sentiment:"  # the model list's data for a sentiment model: "sentiment:lstm"
CHAR_TEXT_TIP = "The text the model reads, one character per step"
WORD_TEXT_TIP = ("The text the sentiment model reads, one word per step (its own tokeniser: lower case, "
                 "“n't” apart); words it does not know are read as <unk> and marked")


def first_turn(words: list[str]) -> int:
    """The step of the first negation or "but" of a word model's reading (0 without one)."""
    return next((k for k, w in enumerate(words) if w in TURN_WORDS), 0)


class GatesPanel(Panel):
    """Look inside the network: gates and states per step and per unit."""

    entry = GATES
    shape_note = "the char-RNN's gates and states at every step."
    gates_ready = Signal(object)  # GatesResult, for tests and screenshots

    def __init__(self, worker, parent=None):
        super().__init__(worker, parent)
        self.cursor = GatesCursor(self)
        self.latest_sample = ""
        self.follow_longest_memory_when_read = False  # set by a lesson: pick the unit once the text is read
        self.follow_unit_when_read: int | None = None  # set by open_from: the unit another panel sent
        self.outer.addWidget(self._build_source())
        self.maps = MapsTab(self.cursor)
        self.unit_text = UnitTab(self.cursor, self)
        self.step_through = StepTab(self.cursor, self)
        self.gradient_flow = GradientTab(self)
        self.memory = MemoryTab(self.cursor)
        self.tabs = QTabWidget()
        for tab in self.inner_tabs():
            self.tabs.addTab(tab, tab.title)
        self.outer.addWidget(self.tabs, 1)
        self.cursor.result_changed.connect(self._on_layers_changed)
        self.cursor.layer_changed.connect(self._on_layers_changed)
        self.cursor.unit_changed.connect(self._show_unit)

    def inner_tabs(self) -> tuple[QWidget, ...]:
        return self.maps, self.unit_text, self.step_through, self.gradient_flow, self.memory

    def show_tab(self, tab: QWidget) -> None:
        self.tabs.setCurrentWidget(tab)

    def _build_source(self) -> QWidget:
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.text_edit = QPlainTextEdit(DEFAULT_TEXT)
        self.text_edit.setFont(monospace_font())
        self.text_edit.setMaximumHeight(90)
        self.text_edit.setToolTip(CHAR_TEXT_TIP)
        grid.addWidget(self.text_edit, 0, 0, 2, 1)
        row = QHBoxLayout()
        self.sample_button = QPushButton("Latest sample")
        self.sample_button.setToolTip("Take the char-RNN panel's latest sample as the text")
        self.sample_button.clicked.connect(self.use_latest_sample)
        self.sample_button.setEnabled(False)
        open_button = QPushButton("Open text…")
        open_button.setToolTip("Read a UTF-8 text file into the box above")
        open_button.clicked.connect(self._open_text_dialog)
        self.model_combo = QComboBox()
        self.model_combo.addItem("Opened model", SHIPPED)
        self.model_combo.addItem("Model in training", TRAINING)
        self.model_combo.addItem("Sentiment LSTM (words)", SENTIMENT_PREFIX + "lstm")
        self.model_combo.setToolTip("Which model reads the text: the opened char-RNN, the one in training, or a "
                                    "sentiment model, one word a step")
        self.model_combo.currentIndexChanged.connect(self._on_model_chosen)
        row.addWidget(self.sample_button)
        row.addWidget(open_button)
        row.addWidget(self.model_combo)
        grid.addLayout(row, 0, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("Layer"))
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("The layer whose gates and states are shown")
        self.layer_combo.currentIndexChanged.connect(self.cursor.set_layer)
        row.addWidget(self.layer_combo)
        row.addWidget(QLabel("Unit"))
        self.unit_spin = QSpinBox()
        self.unit_spin.setRange(0, 0)
        self.unit_spin.setToolTip("The unit followed in the text and the step-through; click a heatmap to pick one")
        self.unit_spin.valueChanged.connect(self.cursor.set_unit)
        row.addWidget(self.unit_spin)
        self.read_button = QPushButton("Read text")
        self.read_button.setDefault(True)
        self.read_button.setToolTip("Run the model over the text and record every gate and state")
        self.read_button.clicked.connect(self.compute)
        self.read_button.setEnabled(False)
        give_shortcut(self.read_button, "Ctrl+Return", "Read the text through the model")
        row.addWidget(self.read_button)
        grid.addLayout(row, 1, 1)
        self.source_label = wrapping_label("Press Read text: the text above is read through the opened char-RNN, "
                                           "one character a step.")
        self.source_label.setToolTip("Which model read which text: every tab below shows this reading")
        grid.addWidget(self.source_label, 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        return box

    def model_role(self) -> str:
        """The char-RNN that reads, samples and lends its layer: the opened model (SHIPPED) or the
        one in training (the opened one while a sentiment model is chosen)."""
        data = self.model_combo.currentData()
        return SHIPPED if data.startswith(SENTIMENT_PREFIX) else data

    def sentiment_model(self) -> str | None:
        """The sentiment model chosen to read the text word by word ("lstm", "training", ...), or None."""
        data = self.model_combo.currentData()
        return data.removeprefix(SENTIMENT_PREFIX) if data.startswith(SENTIMENT_PREFIX) else None

    def choose_sentiment_model(self, name: str, title: str = "") -> None:
        """Choose a sentiment model in the model list, adding it if it is not there yet."""
        index = self.model_combo.findData(SENTIMENT_PREFIX + name)
        if index < 0:
            self.model_combo.addItem(f"{title or 'Sentiment ' + name} (words)", SENTIMENT_PREFIX + name)
            index = self.model_combo.count() - 1
        self.model_combo.setCurrentIndex(index)

    def _on_model_chosen(self) -> None:
        self.text_edit.setToolTip(WORD_TEXT_TIP if self.sentiment_model() else CHAR_TEXT_TIP)

    # --- the cursor's layer and unit in the controls above the tabs --------------------------------

    def _on_layers_changed(self) -> None:
        c = self.cursor
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for k in range(c.layers()):
            self.layer_combo.addItem(f"{k + 1} of {c.layers()}", k)
        self.layer_combo.setCurrentIndex(c.layer)
        self.layer_combo.blockSignals(False)
        self.unit_spin.blockSignals(True)
        self.unit_spin.setRange(0, c.units() - 1)
        self.unit_spin.blockSignals(False)
        self._show_unit()

    def _show_unit(self) -> None:
        if self.unit_spin.value() != self.cursor.unit:
            self.unit_spin.blockSignals(True)
            self.unit_spin.setValue(self.cursor.unit)
            self.unit_spin.blockSignals(False)

    # --- reading the text ------------------------------------------------------------------------

    def on_worker_ready(self, _device: str) -> None:
        self.read_button.setEnabled(True)
        self.gradient_flow.on_worker_ready()

    def compute(self) -> None:
        self.message.dismiss()
        self.text_edit.setExtraSelections([])
        self.worker.submit(
            GatesRequest(role=self.model_role(), text=self.text_edit.toPlainText(), sentiment=self.sentiment_model()),
            slot="gates.compute", on_result=self._on_gates, on_error=self.on_worker_error,
        )

    def _on_gates(self, result: GatesResult) -> None:
        self.cursor.set_result(result)
        if self.follow_longest_memory_when_read:
            self.follow_longest_memory_when_read = False
            self.follow_longest_memory()
        if self.follow_unit_when_read is not None:
            unit, self.follow_unit_when_read = self.follow_unit_when_read, None
            self.cursor.set_layer(self.cursor.layers() - 1)  # the sentiment unit is the top layer's
            self.cursor.set_unit(unit)
            self.cursor.set_step(first_turn(result.step_labels()))
        if result.is_words:
            unknown = [result.spans[k] for k, known in enumerate(result.known) if not known]
            self._mark_spans(unknown)
            said = f"{result.length:,} words (one per step)"
            if unknown:
                said += f"; {len(unknown)} unknown, read as <unk> and marked in red"
        else:
            said = f"{result.length:,} characters (one per step)"
        one_line = " ".join(result.text.split())  # newlines and runs of spaces as one space: one line
        excerpt = one_line if len(one_line) <= 60 else one_line[:57] + "…"
        self.source_label.setText(f"Read {said} through {html.escape(result.model_title or result.arch.upper())}: "
                                  f"“{html.escape(excerpt)}”")
        self.status_message.emit(f"read {said} through {result.model_title or result.arch.upper()}")
        self.gates_ready.emit(result)

    def open_from(self, source: GatesSource) -> None:
        """Read what another panel sent (its text, through its sentiment model) and follow its unit."""
        if not isinstance(source, GatesSource):
            raise TypeError(f"the LSTM internals lab opens a GatesSource, not {type(source).__name__}")
        if source.sentiment is not None:
            self.choose_sentiment_model(source.sentiment, source.model_title)
        self.text_edit.setPlainText(source.text)
        self.follow_unit_when_read = source.unit
        self.show_tab(self.unit_text)
        self.compute()

    def follow_longest_memory(self) -> None:
        """Follow the unit that carries the gradient furthest back along its memory."""
        unit = self.memory.longest_memory_unit() if self.cursor.result is not None else None
        if unit is not None:
            self.cursor.set_unit(unit)

    def on_worker_error(self, error) -> None:
        super().on_worker_error(error)
        unknown = (error.details or {}).get("unknown_characters") if isinstance(error.details, dict) else None
        if unknown:
            self._mark_characters(set(unknown))

    def _mark_characters(self, chars: set[str]) -> None:
        """Mark characters the model does not know in the text box, so none is dropped silently."""
        self._mark_spans([(i, i + 1) for i, ch in enumerate(self.text_edit.toPlainText()) if ch in chars])

    def _mark_spans(self, spans) -> None:
        """Mark [start, end) spans of the text box: characters or words the model does not know."""
        selections = []
        fmt = QTextCharFormat()
        fmt.setBackground(UNKNOWN_CHAR_BACKGROUND)
        length = len(self.text_edit.toPlainText())
        for start, end in spans:
            if not 0 <= start < end <= length:
                continue  # the text changed since it was read
            sel = QTextEdit.ExtraSelection()
            cursor = QTextCursor(self.text_edit.document())
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            sel.cursor = cursor
            sel.format = fmt
            selections.append(sel)
        self.text_edit.setExtraSelections(selections)

    # --- where the text comes from -------------------------------------------------------------------

    def connect_panels(self, panels: dict) -> None:
        charrnn = panels.get(CHARRNN.key)
        if charrnn is not None:
            charrnn.sample_finished.connect(lambda result: self.set_latest_sample(result.prime + result.text))

    def set_latest_sample(self, text: str) -> None:
        self.latest_sample = text
        self.sample_button.setEnabled(bool(text))

    def use_latest_sample(self) -> None:
        if self.latest_sample:
            self.text_edit.setPlainText(self.latest_sample)

    def _open_text_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a text to read", "", TEXT_FILES)
        if path:
            self.open_text(path)

    def open_text(self, path: str) -> None:
        """Read the start of a text file on the worker, and put it in the text box when it
        comes: the GUI thread never waits on a file (a named pipe would freeze it for good)."""
        from rnnstudio.data.text import read_text_start

        def on_read(payload) -> None:
            text, more = payload
            if more:
                self.show_info(f"Only the first {MAX_GATES_CHARS:,} characters of {path} are read.")
            else:
                self.message.dismiss()
            self.text_edit.setPlainText(text)

        self.worker.submit(ReadFileRequest(fn=read_text_start, args=(path, MAX_GATES_CHARS), what="a text"),
                           slot="gates.open", on_result=on_read, on_error=self.on_worker_error)

    # --- settings, presenter mode, screenshot ---------------------------------------------------------

    def settings(self) -> dict:
        return {"tab": self.tabs.currentWidget().key}

    def apply_settings(self, saved: dict) -> None:
        tab = next((t for t in self.inner_tabs() if t.key == saved.get("tab")), None)
        if tab is not None:
            self.show_tab(tab)

    def set_presenter(self, on: bool) -> None:
        self.gradient_flow.set_presenter(on)
        self.memory.view.set_pen_width(4 if on else 2)
        font = monospace_font(presenter_size(18) if on else None)
        for view in (self.text_edit, self.step_through.equations):
            view.setFont(font)
        self.unit_text.set_presenter_fonts(font, monospace_font(presenter_size(20) if on else 13))

    def prepare_screenshot(self, app, window) -> None:
        """Read the default text through the shipped model; follow its most saturated unit."""
        from rnnstudio.ui.screenshot import wait_until

        window.panels[CHARRNN.key].wait_for_shipped_model(app)
        got = []
        self.gates_ready.connect(got.append)
        self.compute()
        wait_until(app, lambda: bool(got), 120, "the gates")
        self.cursor.set_step(len(got[0].text) // 2)
        closed, opened = got[0].saturation[0]["f"]
        self.cursor.set_unit(int((opened - closed).argmax()))

    # --- lessons --------------------------------------------------------------------------------------

    def _read_on(self, tab: QWidget) -> None:
        self.show_tab(tab)
        self.compute()

    def _lesson_forget_gate(self) -> None:
        self.follow_longest_memory_when_read = True
        self._read_on(self.memory)

    def _lesson_gradients(self, singular_value: float, forget_bias: float = 0.0) -> None:
        self.show_tab(self.gradient_flow)
        self.gradient_flow.set_network(singular_value, forget_bias)

    lessons = (
        Lesson("The recurrence, one step at a time", "recurrence",
               "Press Next: the same weights at every step, h_t computed from h_(t-1) and x_t.",
               lambda panel: panel._read_on(panel.step_through)),
        # Forget bias 2 (f near 0.88): the LSTM's curve levels off near 1e-2 while the RNN's falls
        # to 1e-9 at 200 steps. At 1 (f near 0.73) the LSTM's gradient vanishes as fast as the RNN's.
        Lesson("Vanishing gradients: RNN against LSTM", "vanishing-exploding-gradients",
               "Largest singular value 0.9: the RNN's gradient shrinks tenfold every 20 steps back; "
               "the LSTM's, its forget gate near 1, levels off.",
               lambda panel: panel._lesson_gradients(0.9, forget_bias=2.0)),
        Lesson("Exploding gradients", "vanishing-exploding-gradients",
               "Largest singular value 1.3: the vanilla RNN's gradient grows with every step back.",
               lambda panel: panel._lesson_gradients(1.3)),
        Lesson("Inside the LSTM: gates and the memory cell", "lstm-cell",
               "Gates between 0 and 1 decide what c_t keeps; click a unit to follow it over the text.",
               lambda panel: panel._read_on(panel.maps)),
        Lesson("The forget gate carries the gradient back", "forget-gate-gradient",
               "The unit whose forget gate is open longest: the gradient from the last character falls only where "
               "f_t dips. Click a unit in the heatmaps to compare.",
               lambda panel: panel._lesson_forget_gate()),
    )
