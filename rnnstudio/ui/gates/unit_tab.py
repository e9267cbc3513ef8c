"""The lab's "One unit over the text" tab: the followed unit colours each character (each word,
for a sentiment model); a span selected in it is searched for the units that fire inside it;
chosen units are held at a value while a char model writes, beside a sample as trained."""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from rnnstudio.ui.drawing import visible_text
from rnnstudio.ui.gates.views import MAP_INFO, StepStrip
from rnnstudio.ui.widgets import hint_label, monospace_font, wrapping_label
from rnnstudio.worker.gates_messages import HypothesisRequest, HypothesisResult, InterventionRequest, InterventionResult

SAMPLE_LENGTH = 300  # characters of each sample, with and without the units held
SAMPLE_SEED = 1234  # one seed for both samples: they differ by the held units alone
PRIME_CHARS = 200  # the sample continues at most this much of the text read, up to the step
CHAR_HINT = ("Blue is negative, red positive. Hover a character for every value and the model's top 5 guesses for "
             "the next one; drag over a span to search for units that fire inside it.")
WORD_HINT = ("One cell per word, as the sentiment model reads them (a red frame: a word it does not know, read as "
             "<unk>). Blue is negative, red positive. Hover a word for every value and p(positive) after it; drag "
             "over words to search for units that fire inside them.")
WORD_INTERVENTION = ("Holding units while the model writes needs a char model: a sentiment model reads, it does "
                     "not write. Choose a char-RNN above to sample with units held.")


class UnitTab(QWidget):
    title = "One unit over the text"
    key = "unit"

    def __init__(self, cursor, lab, parent=None):
        """`lab`: the GatesPanel, for the worker, the model chosen and the messages."""
        super().__init__(parent)
        self.cursor = cursor
        self.lab = lab
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._build_strip())
        split.addWidget(self._build_search_and_intervention())
        split.setSizes([850, 390])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(split, 3)
        outer.addLayout(self._build_comparison(), 2)
        cursor.result_changed.connect(self._on_result)
        cursor.layer_changed.connect(self._draw_strip)
        cursor.unit_changed.connect(self._draw_strip)
        cursor.step_changed.connect(lambda: self.strip.set_lit(cursor.step))

    def _build_strip(self) -> QWidget:
        left = QWidget()
        v = QVBoxLayout(left)
        v.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Colour the text by"))
        self.state_combo = QComboBox()
        self.state_combo.setToolTip("Which gate or state colours the text")
        self.state_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # never squeezed
        self.state_combo.currentIndexChanged.connect(self._draw_strip)
        row.addWidget(self.state_combo)
        self.unit_caption = wrapping_label()
        row.addWidget(self.unit_caption, 1)
        v.addLayout(row)
        self.strip = StepStrip()
        self.strip.tooltip_for = self.tooltip_for
        self.strip.clicked.connect(self.cursor.set_step)
        self.strip.selection_changed.connect(self._on_selection)
        scroll = QScrollArea()
        scroll.setWidget(self.strip)
        scroll.setWidgetResizable(True)
        v.addWidget(scroll, 1)
        self.strip_hint = hint_label(CHAR_HINT)
        v.addWidget(self.strip_hint)
        return left

    def _build_search_and_intervention(self) -> QWidget:
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(4, 0, 0, 0)
        search = QGroupBox("Hypothesis search")
        form = QFormLayout(search)
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(-1.0, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setValue(0.5)
        self.threshold_spin.setToolTip("A unit counts as on above this value")
        form.addRow("On above", self.threshold_spin)
        self.search_button = QPushButton("Find units for the selection")
        self.search_button.setToolTip("Units on inside the selected span and off just around it, best first")
        self.search_button.clicked.connect(self.search_units)
        form.addRow(self.search_button)
        self.units_list = QListWidget()
        self.units_list.itemClicked.connect(lambda item: self.cursor.set_unit(item.data(Qt.ItemDataRole.UserRole)))
        form.addRow(self.units_list)
        self.matches_label = hint_label("Select a span of the text, then search: the other places where the best "
                                        "units fire together are underlined.")
        form.addRow(self.matches_label)
        rv.addWidget(search)

        inter = self.intervention_box = QGroupBox("Intervention")
        form = QFormLayout(inter)
        self.intervention_note = hint_label(WORD_INTERVENTION)
        self.intervention_note.hide()
        form.addRow(self.intervention_note)
        self.clamp_units_edit = QLineEdit()
        self.clamp_units_edit.setPlaceholderText("units of this layer, e.g. 12, 40")
        self.clamp_units_edit.setToolTip("Units of the chosen layer to force, separated by commas")
        form.addRow("Units", self.clamp_units_edit)
        self.clamp_value_spin = QDoubleSpinBox()
        self.clamp_value_spin.setRange(-1.0, 1.0)
        self.clamp_value_spin.setSingleStep(0.1)
        self.clamp_value_spin.setToolTip("The value the units are held at: 0 switches them off")
        form.addRow("Hold at", self.clamp_value_spin)
        self.clamp_state_combo = QComboBox()
        self.clamp_state_combo.setToolTip("Which state the chosen units are held at while sampling")
        self.clamp_state_combo.addItem("hidden state h", "h")
        self.clamp_state_combo.addItem("memory cell c", "c")
        form.addRow("In", self.clamp_state_combo)
        self.intervene_button = QPushButton("Sample with and without")
        self.intervene_button.setToolTip("Two samples from the same seed: as the model is, and with the units held")
        self.intervene_button.clicked.connect(self.intervene)
        form.addRow(self.intervene_button)
        rv.addWidget(inter)
        rv.addStretch(1)
        return right

    def _build_comparison(self) -> QHBoxLayout:
        compare = QHBoxLayout()
        self.samples = []  # the widgets of the comparison, hidden for a word model (it does not write)
        self.plain_sample = QPlainTextEdit()
        self.intervened_sample = QPlainTextEdit()
        self.plain_sample.setPlaceholderText("Name units under Intervention and press “Sample with and without”: "
                                             "a sample of the model as trained appears here…")
        self.intervened_sample.setPlaceholderText(
            "…and here the same sample, from the same seed, with those units held.")
        for title, view in (("As trained", self.plain_sample), ("With the units held", self.intervened_sample)):
            view.setReadOnly(True)
            view.setFont(monospace_font())
            col = QVBoxLayout()
            heading = QLabel(f"<b>{title}</b>")
            col.addWidget(heading)
            col.addWidget(view)
            self.samples += [heading, view]
            compare.addLayout(col)
        return compare

    # --- drawing ---------------------------------------------------------------------------------

    def _on_result(self) -> None:
        r = self.cursor.result
        combo = self.state_combo
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        for name in r.layers[0]:
            combo.addItem(MAP_INFO[name][0], name)
        combo.setCurrentIndex(next((i for i in map(combo.findData, [current, "h"]) if i >= 0), 0))
        combo.blockSignals(False)
        self.clamp_state_combo.model().item(1).setEnabled(r.arch == "lstm")  # only an LSTM has a cell c
        # A sentiment model does not write: the intervention's controls stay, greyed, with why.
        for widget in self.intervention_box.findChildren(QWidget):
            if widget is not self.intervention_note:
                widget.setEnabled(not r.is_words)
        self.intervention_note.setVisible(r.is_words)
        for widget in self.samples:
            widget.setVisible(not r.is_words)
        self.strip_hint.setText(WORD_HINT if r.is_words else CHAR_HINT)
        self.strip.set_steps(r.step_labels() if r.is_words else r.text, r.is_words)
        if r.is_words and r.known is not None:
            self.strip.set_flagged([k for k, known in enumerate(r.known) if not known])
        self._draw_strip()

    def _draw_strip(self) -> None:
        c = self.cursor
        if c.result is None:
            return
        name = self.state_combo.currentData() or "h"
        lo, hi = MAP_INFO[name][1]
        self.strip.set_values(c.unit_values(name), lo, hi)
        self.strip.set_lit(c.step)
        caption = f"layer {c.layer + 1}, unit {c.unit}: {MAP_INFO[name][0]} (scale {lo:g} to {hi:g})"
        unit = c.result.sentiment_unit
        if unit is not None and c.unit == unit["index"] and c.layer == c.layers() - 1:
            side = "red" if unit["sign"] > 0 else "blue"
            caption += (f". <b>The sentiment unit</b>: its final h alone gets {unit['accuracy']:.0%} of the training "
                        f"labels right ({side} says positive)")
        self.unit_caption.setText(caption)

    def tooltip_for(self, index: int) -> str:
        """Every value of the followed unit at step `index`, and the five likeliest next characters
        (a sentiment model: p(positive) after the word)."""
        c = self.cursor
        r = c.result
        if r is None or index >= r.length:
            return ""
        if r.is_words:
            word = html.escape(r.steps[index])
            unknown = "" if r.known is None or r.known[index] else " (unknown: read as &lt;unk&gt;)"
            rows = [f"<b>{word}</b>{unknown} — word {index + 1}, layer {c.layer + 1}, unit {c.unit}"]
        else:
            ch = {"\n": "↵ (newline)", " ": "␣ (space)"}.get(r.text[index], r.text[index])
            rows = [f"<b>{html.escape(ch)}</b> — step {index + 1}, layer {c.layer + 1}, unit {c.unit}"]
        for name, values in c.layer_values().items():
            rows.append(f"{name} = {values[index, c.unit]:+.3f}")
        if r.is_words:
            rows.append(f"p(positive) after it: {float(r.probs[index, 0]):.2f}")
            return "<br>".join(rows)
        top = np.argsort(r.probs[index])[::-1][:5]
        guesses = ", ".join(f"{visible_text(r.vocab[k])} {r.probs[index][k]:.0%}" for k in top)
        rows.append(f"next: {guesses}")
        return "<br>".join(rows)

    # --- hypothesis search -----------------------------------------------------------------------

    def _on_selection(self, start: int, end: int) -> None:
        labels = self.cursor.step_labels()[start:end]
        span = (" ".join(labels) if self.cursor.is_words else visible_text("".join(labels)))[:40]
        self.matches_label.setText(f"Selected “{span}” (steps {start + 1} to {end}).")

    def search_units(self) -> None:
        if self.cursor.result is None:
            self.lab.show_error("Read a text first, then select a span of it.")
            return
        selection = self.strip.selection()
        if selection is None:
            self.lab.show_error("Select a span of the text first (drag over it): the units on inside it are searched.")
            return
        name = self.state_combo.currentData() or "h"
        self.lab.worker.submit(
            HypothesisRequest(values=self.cursor.layer_values()[name], start=selection[0], end=selection[1],
                              threshold=self.threshold_spin.value()),
            slot="gates.search", on_result=self._on_search_result, on_error=self.lab.on_worker_error,
        )

    def _on_search_result(self, result: HypothesisResult) -> None:
        self.units_list.clear()
        for unit, score in result.ranked:
            item = QListWidgetItem(f"unit {unit}   score {score:.2f}")
            item.setData(Qt.ItemDataRole.UserRole, unit)
            self.units_list.addItem(item)
        if not result.ranked:
            self.matches_label.setText("No unit is on inside the selection and off around it; try a lower threshold.")
            self.strip.set_underlines([])
            return
        self.cursor.set_unit(result.ranked[0][0])
        self.strip.set_underlines(result.matches)
        units = ", ".join(str(u) for u in result.units)
        self.matches_label.setText(f"Units {units} fire together in {len(result.matches)} places, underlined.")
        self.clamp_units_edit.setText(units)

    # --- intervention -----------------------------------------------------------------------------

    def clamp_units(self) -> list[int]:
        units = []
        for part in self.clamp_units_edit.text().replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                raise ValueError(f"“{part}” is not a unit number")
            units.append(int(part))
        return units

    def intervene(self) -> None:
        try:
            units = self.clamp_units()
        except ValueError as e:
            self.lab.show_error(f"{e}; list unit numbers separated by commas, e.g. 12, 40.")
            return
        if not units:
            self.lab.show_error("Name the units to hold, e.g. 12, 40 (or find some with the hypothesis search).")
            return
        c = self.cursor
        if c.is_words:
            self.lab.show_error(WORD_INTERVENTION)
            return
        value = self.clamp_value_spin.value()
        prime = c.result.text[: c.step + 1] if c.result is not None else ""
        self.plain_sample.setPlainText("…")
        self.intervened_sample.setPlainText("…")
        self.lab.worker.submit(
            InterventionRequest(
                role=self.lab.model_role(), prime=prime[-PRIME_CHARS:], length=SAMPLE_LENGTH,
                seed=SAMPLE_SEED, clamps=tuple((c.layer, u, value) for u in units),
                state=self.clamp_state_combo.currentData(),
            ),
            slot="gates.intervene", on_result=self._on_intervention, on_error=self.lab.on_worker_error,
        )

    def _on_intervention(self, result: InterventionResult) -> None:
        self.plain_sample.setPlainText(result.plain)
        self.intervened_sample.setPlainText(result.intervened)

    def set_presenter_fonts(self, text_font, strip_font) -> None:
        for view in (self.plain_sample, self.intervened_sample):
            view.setFont(text_font)
        self.strip.setFont(strip_font)
