"""The sentiment panel's Read tab: type, and after every word each chosen model's p(positive)
is drawn along the words; the words are coloured by how much each moved one model's
prediction; the hidden state's path runs through the training sentences' cloud; the LSTM's
sentiment unit is coloured over the text, and *Open in LSTM internals* takes the sentence and the
model to the lab, one word a step."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from rnnstudio.panels import GATES
from rnnstudio.ui.char_strip import CharStrip
from rnnstudio.ui.theme import LEGEND_BRUSH, apply_presenter_to, presenter_on
from rnnstudio.ui.widgets import EmptyPlotNote, hint_label, wrapping_label
from rnnstudio.worker.gates_messages import GatesSource
from rnnstudio.worker.sentiment_messages import (
    READERS,
    TRAINING,
    VADER,
    SentimentReadRequest,
    SentimentReadResult,
    TrainingModelRequest,
)

TITLES = {"rnn": "vanilla RNN", "gru": "GRU", "lstm": "LSTM", "bow": "bag of words", VADER: "VADER (rules)",
          TRAINING: "in training"}
COLORS = {"rnn": (230, 120, 20), "gru": (40, 150, 70), "lstm": (200, 40, 60), "bow": (130, 130, 130),
          VADER: (30, 30, 30), TRAINING: (70, 110, 210)}
MEASURES = {"contribution": "the change when it is read",
            "salience": "integrated gradients of the final p"}
MEASURE_TIPS = {"contribution": "p(positive) after the word minus p(positive) before it",
                "salience": "Integrated gradients of the final p(positive); baseline: every word blanked; 8 steps"}
CHECK_TIPS = {"rnn": "Draw the vanilla RNN's p(positive) after every word",
              "gru": "Draw the GRU's p(positive) after every word",
              "lstm": "Draw the LSTM's p(positive) after every word",
              "bow": "Draw the bag of words' p(positive): it ignores word order, a baseline for the RNNs",
              VADER: "Draw VADER's score: hand-written word rules, no learning, for comparison",
              TRAINING: "Draw the p(positive) of the model training on the Train tab, as it is now"}
LABELLED_WORDS = {"not", "n't", "no", "never", "but", "although", "though"}  # and the first and last word
RECURRENT = ("lstm", "gru", "rnn", TRAINING)  # the models the LSTM internals lab can read (not the bag of words)
POSITIVE_COLOR, NEGATIVE_COLOR = (214, 69, 48, 70), (49, 105, 188, 70)


def in_prose(name: str) -> str:
    """A model's name inside a sentence: "the LSTM", "the model trained on the Train tab"."""
    return "model trained on the Train tab" if name == TRAINING else TITLES[name]


def model_pen(name: str):
    """The pen of a model's curves, twice as thick in presenter mode."""
    width = 5.0 if presenter_on() else 2.5
    return pg.mkPen(COLORS[name], width=width, style=Qt.PenStyle.DashLine if name == VADER else Qt.PenStyle.SolidLine)


def word_axis_plot(left: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setLabel("left", left)
    plot.getAxis("left").enableAutoSIPrefix(False)  # probabilities, never "x0.001"
    plot.showGrid(x=False, y=True, alpha=0.25)
    plot.addLegend(offset=(-10, 10), brush=LEGEND_BRUSH)
    return plot


def set_word_ticks(plot: pg.PlotWidget, words: list[str]) -> None:
    plot.getAxis("bottom").setTicks([[(n, w) for n, w in enumerate(words)]])


def spread_over_chars(text: str, spans, values) -> np.ndarray:
    """A value per character: each token's on its characters, 0 (white) between tokens."""
    out = np.zeros(len(text), dtype=np.float32)
    for (start, end), v in zip(spans, values):
        out[start:end] = v
    return out


class ReadTab(QWidget):
    title = "Read"
    read = Signal(object)  # a SentimentReadResult, once drawn

    def __init__(self, panel):
        super().__init__()
        self.panel = panel
        self.result: SentimentReadResult | None = None
        self.open_models: dict[str, object] = {}  # name -> SentimentModelInfo
        self.text_box = QLineEdit()
        self.text_box.setPlaceholderText("Type a sentence: the curves follow every word")
        self.text_box.setToolTip("The sentence the models read: every curve is redrawn as you type each word")
        self.text_box.textChanged.connect(self.submit)
        self.checks: dict[str, QCheckBox] = {}
        choose = QHBoxLayout()
        choose.addWidget(QLabel("Curves:"))
        for name in (*READERS, TRAINING):
            check = QCheckBox(TITLES[name])
            check.setChecked(name in ("rnn", "lstm", VADER))
            check.setEnabled(name == VADER)
            check.setVisible(name != TRAINING)
            check.setToolTip(CHECK_TIPS[name])
            check.toggled.connect(self.submit)
            self.checks[name] = check
            choose.addWidget(check)
        choose.addStretch(1)
        self.colour_model = QComboBox()  # whose reading colours the words, the path and the unit
        self.colour_model.setToolTip("The model whose reading colours the words, draws the path and shows its "
                                     "sentiment unit")
        self.colour_model.currentIndexChanged.connect(self.submit)  # its integrated gradients are computed
        self.colour_model.currentIndexChanged.connect(self._on_colour_model)
        self.measure = QComboBox()
        for key, text in MEASURES.items():
            self.measure.addItem(text, key)
            self.measure.setItemData(self.measure.count() - 1, MEASURE_TIPS[key], Qt.ItemDataRole.ToolTipRole)
        self.measure.setToolTip("How each word is coloured: how much reading it moved p(positive), or how much "
                                "the final prediction depends on it")
        self.measure.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.measure.setMinimumContentsLength(18)  # its long entries are elided, not widening the window
        self.measure.currentIndexChanged.connect(self.redraw)
        colour_row = QHBoxLayout()
        colour_row.addWidget(QLabel("Colour the words by"))
        colour_row.addWidget(self.measure)
        colour_row.addWidget(QLabel("of the"))
        colour_row.addWidget(self.colour_model)
        colour_row.addStretch(1)

        self.curves = word_axis_plot("p(positive)")
        self.curves.setYRange(0, 1, padding=0.02)
        self.curves.addItem(pg.InfiniteLine(0.5, angle=0, pen=pg.mkPen((150, 150, 150), style=Qt.PenStyle.DotLine)))
        self.curve_items: dict[str, pg.PlotDataItem] = {}
        self.empty = EmptyPlotNote(self.curves, "Type above: each model's p(positive) after every word appears here.")
        self.empty.show()
        self.words = CharStrip()
        self.words.setFont(self.font())
        self.measure_label = wrapping_label("")
        self.projection = pg.PlotWidget(background="w")
        self.projection.setLabel("bottom", "1st principal direction of the final states")
        self.projection.setLabel("left", "2nd")
        self.projection.addLegend(offset=(10, 10), brush=LEGEND_BRUSH)
        self.cloud_items = [self.projection.plot(pen=None, symbol="o", symbolSize=4, symbolPen=None,
                                                 symbolBrush=color, name=name)
                            for color, name in ((NEGATIVE_COLOR, "negative training sentences (end)"),
                                                (POSITIVE_COLOR, "positive training sentences (end)"))]
        self.path = self.projection.plot(pen=pg.mkPen((20, 20, 20), width=2), symbol="o", symbolSize=7,
                                         symbolBrush=(20, 20, 20), name="the typed sentence, word by word")
        self.path_labels: list[pg.TextItem] = []
        self.unit_label = wrapping_label("")
        self.open_lab_button = QPushButton("Open in LSTM internals")
        self.open_lab_button.setToolTip("Read this sentence in the LSTM internals lab through the model that colours "
                                        "the words (the LSTM for the bag of words), one word a step, its sentiment "
                                        "unit followed: every gate at “not” and “but”")
        self.open_lab_button.clicked.connect(self.open_in_lab)
        self.open_lab_button.setEnabled(False)
        self.unit_strip = CharStrip()
        self.unit_strip.setFont(self.font())
        self.timing = hint_label("")

        grid = QGridLayout()
        grid.addWidget(self.curves, 0, 0)
        grid.addWidget(self.projection, 0, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        v = QVBoxLayout(self)
        v.addWidget(self.text_box)
        v.addLayout(choose)
        v.addLayout(grid, 1)
        v.addLayout(colour_row)
        v.addWidget(self.words)
        v.addWidget(self.measure_label)
        unit_row = QHBoxLayout()
        unit_row.addWidget(self.unit_label, 1)
        unit_row.addWidget(self.open_lab_button)
        v.addLayout(unit_row)
        v.addWidget(self.unit_strip)
        v.addWidget(self.timing)

    # --- models -------------------------------------------------------------------------------------

    def add_models(self, models) -> None:
        for info in models:
            self.open_models[info.name] = info
            self.checks[info.name].setEnabled(True)
            self.checks[info.name].setVisible(True)
            if self.colour_model.findData(info.name) < 0:
                self.colour_model.addItem(TITLES[info.name], info.name)
        lstm = self.colour_model.findData("lstm")
        if lstm >= 0:
            self.colour_model.setCurrentIndex(lstm)
        self._update_lab_button()
        self.submit()

    def lab_model(self) -> str | None:
        """The model the LSTM internals lab would read with: the one colouring the words if it is
        recurrent, else the LSTM if open; None when there is none."""
        name = self.colour_model.currentData()
        if name in RECURRENT and name in self.open_models:
            return name
        return next((n for n in RECURRENT if n in self.open_models), None)

    def open_in_lab(self) -> None:
        """Send the sentence and the model to the LSTM internals lab, with the sentiment unit to follow."""
        name = self.lab_model()
        text = self.text_box.text()
        if name is None or not text.strip():
            self.panel.show_error("Type a sentence, and open or train a recurrent model: the lab reads its gates.")
            return
        info = self.open_models[name]
        unit = info.sentiment_unit["index"] if info.sentiment_unit else None
        title = "Sentiment model in training" if name == TRAINING else f"Sentiment {TITLES[name]}"
        self.panel.open_in.emit(GATES.key, GatesSource(text=text, sentiment=name, model_title=title, unit=unit))

    def _update_lab_button(self) -> None:
        self.open_lab_button.setEnabled(self.lab_model() is not None and bool(self.text_box.text().strip()))

    # --- the model of the Train tab's run -----------------------------------------------------------

    def refresh_training_model(self) -> None:
        """Ask the worker for the trained model's cloud and sentiment unit (fitted there for its
        present weights), to draw its path and unit as the shipped models'."""
        if TRAINING in self.open_models:
            self.panel.worker.submit(TrainingModelRequest(), slot="sentiment.training_model",
                                     on_result=self._on_training_model, on_error=self._on_error)

    def _on_training_model(self, info) -> None:
        if TRAINING in self.open_models:  # not reset since it was asked
            self.open_models[TRAINING] = info
            self.submit()

    def _on_colour_model(self) -> None:
        self._update_lab_button()
        info = self.open_models.get(self.colour_model.currentData())
        if info is not None and info.name == TRAINING and info.cloud is None:
            self.refresh_training_model()

    def chosen(self) -> tuple[str, ...]:
        return tuple(name for name, check in self.checks.items() if check.isChecked() and check.isEnabled())

    # --- reading -------------------------------------------------------------------------------------

    def set_text(self, text: str) -> None:
        self.text_box.setText(text)
        self.submit()

    def submit(self, *_args) -> None:
        """Read the text with the chosen models; the newest text wins (slot)."""
        text = self.text_box.text()
        wanted = self.chosen()
        self._update_lab_button()
        if not text.strip() or not self.open_models or not set(wanted) - {VADER}:
            return
        request = SentimentReadRequest(text=text, models=wanted, salience_of=self.colour_model.currentData())
        self.panel.worker.submit(request, slot="sentiment.read",
                                 on_result=self._on_read, on_error=self._on_error)

    def _on_error(self, error) -> None:
        self.panel.show_error(error.message)

    def _on_read(self, result: SentimentReadResult) -> None:
        self.panel.message.dismiss()
        self.result = result
        self.redraw()
        self.read.emit(result)

    def redraw(self, *_args) -> None:
        r = self.result
        if r is None:
            return
        self.empty.hide()
        for name, item in list(self.curve_items.items()):
            if name not in r.readings:
                self.curves.removeItem(item)
                del self.curve_items[name]
        x = np.arange(len(r.words))
        added = False
        for name, reading in r.readings.items():
            if name not in self.curve_items:
                self.curve_items[name] = self.curves.plot(name=TITLES[name], pen=model_pen(name), symbol="o",
                                                          symbolSize=6, symbolBrush=COLORS[name], symbolPen=None)
                added = True
            self.curve_items[name].setData(x, reading.p_positive)
        if added and presenter_on():
            apply_presenter_to(self.curves, True)  # the new legend entries in large type too
        set_word_ticks(self.curves, r.words)
        self.curves.setRange(xRange=(-0.5, max(len(r.words) - 0.5, 0.5)), yRange=(0, 1), padding=0.02)
        said = [f"{TITLES[n]} {w.p_positive[-1]:.2f}" for n, w in r.readings.items()]
        refused = [f"{TITLES[n]}: {why}" for n, why in r.refused.items()]
        unknown = f" · words no model knows (read as <unk>): {', '.join(r.unknown)}" if r.unknown else ""
        self.timing.setText(f"p(positive) at the end: {', '.join(said)}{unknown} · read by every model in "
                            f"{r.seconds * 1000:.1f} ms" + (" · " + "; ".join(refused) if refused else ""))
        self._colour_words(r)

    def _colour_words(self, r: SentimentReadResult) -> None:
        name = self.colour_model.currentData()
        reading = r.readings.get(name)
        self.words.set_text(r.text)
        self.unit_strip.set_text(r.text)
        if reading is None:
            self.measure_label.setText("")
            return
        key = self.measure.currentData()
        values = reading.salience if key == "salience" and reading.salience is not None else reading.contributions
        scale = max(float(np.abs(values).max()), 1e-6)
        self.words.set_values(spread_over_chars(r.text, r.spans, values), -scale, scale)
        top = int(np.argmax(np.abs(values)))
        self.measure_label.setText(f"Red: the word pushed the {in_prose(name)} towards positive, blue: towards "
                                   f"negative ({MEASURES[key]}). "
                                   f"The strongest: “{r.words[top]}”, {values[top]:+.2f}.")
        self._draw_path(name, r, reading)
        info = self.open_models.get(name)
        unit = info.sentiment_unit if info is not None else None
        if reading.unit is None or unit is None:
            self.unit_label.setText("This model has no sentiment unit (fitted at the end of training).")
            self.unit_strip.set_values(None)
            return
        spread = max(float(np.abs(reading.unit).max()), 1e-6)
        self.unit_strip.set_values(spread_over_chars(r.text, r.spans, unit["sign"] * reading.unit), -spread, spread)
        self.unit_label.setText(
            f"<b>The sentiment unit</b>: unit {unit['index']} of the {in_prose(name)}, whose final value alone gets "
            f"{unit['accuracy']:.0%} of the training labels right; its value after each word (red: positive side).")

    def _draw_path(self, name: str, r: SentimentReadResult, reading) -> None:
        info = self.open_models.get(name)
        for item in self.path_labels:
            self.projection.removeItem(item)
        self.path_labels = []
        if info is None or info.cloud is None or reading.path_2d is None:
            self.path.setData([], [])
            for item in self.cloud_items:
                item.setData([], [])
            return
        for label, item in enumerate(self.cloud_items):
            points = info.cloud[info.cloud_labels == label]
            item.setData(points[:, 0], points[:, 1])
        path = reading.path_2d
        self.path.setData(path[:, 0], path[:, 1])
        marked = {0, len(r.words) - 1} | {n for n, w in enumerate(r.words) if w in LABELLED_WORDS}
        for n in sorted(marked)[:40]:  # every word's label would hide the path
            label = pg.TextItem(r.words[n], color=(20, 20, 20), anchor=(0, 1))
            label.setPos(float(path[n, 0]), float(path[n, 1]))
            self.projection.addItem(label)
            self.path_labels.append(label)

    def set_presenter(self, on: bool) -> None:
        for name, item in self.curve_items.items():
            item.setPen(model_pen(name))
        self.path.setPen(pg.mkPen((20, 20, 20), width=4 if on else 2))
        for strip in (self.words, self.unit_strip):
            strip.setFont(self.font())
