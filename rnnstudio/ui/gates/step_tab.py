"""The lab's "Step through" tab: the recurrence one step (a character, or a sentiment model's
word) at a time, the cell's equations filled in with the followed unit's numbers, and the
network unrolled over the last steps (The recurrence and The unrolled computational graph,
docs/LECTURE-MAP.md)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QTextEdit, QVBoxLayout, QWidget

from rnnstudio.nn.explain import step_equations
from rnnstudio.ui.drawing import visible_text
from rnnstudio.ui.gates.views import UnrolledGraph
from rnnstudio.ui.widgets import give_panel_shortcut, hint_label, monospace_font

GRAPH_STEPS = 6  # steps drawn in the unrolled graph


class StepTab(QWidget):
    title = "Step through"
    key = "step"

    def __init__(self, cursor, lab, parent=None):
        """`lab`: the GatesPanel, whose keys move the step on every inner tab."""
        super().__init__(parent)
        self.cursor = cursor
        v = QVBoxLayout(self)
        row = QHBoxLayout()
        self.prev_button = QPushButton("◀ Previous")
        self.prev_button.setToolTip("One character back")
        self.next_button = QPushButton("Next ▶")
        self.next_button.setToolTip("Read one more character and show the equations with its numbers")
        self.prev_button.clicked.connect(lambda: cursor.move_step(-1))
        self.next_button.clicked.connect(lambda: cursor.move_step(+1))
        # On every inner tab: the step is also the cursor on the heatmaps and in the text.
        give_panel_shortcut(lab, "Alt+Left", "One character back", lambda: cursor.move_step(-1),
                            buttons=[self.prev_button])
        give_panel_shortcut(lab, "Alt+Right", "One character on", lambda: cursor.move_step(+1),
                            buttons=[self.next_button])
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("The character being read; drag to jump")
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(cursor.set_step)
        self.label = QLabel()
        row.addWidget(self.prev_button)
        row.addWidget(self.slider, 1)
        row.addWidget(self.next_button)
        row.addWidget(self.label)
        v.addLayout(row)
        self.graph = UnrolledGraph()
        v.addWidget(self.graph, 3)
        self.equations = QTextEdit()
        self.equations.setReadOnly(True)
        self.equations.setFont(monospace_font())
        v.addWidget(self.equations, 2)
        v.addWidget(hint_label("The same weights W are used at every step; only the state h (and c) carries the "
                               "past forward."))
        cursor.result_changed.connect(self._on_result)
        for changed in (cursor.layer_changed, cursor.unit_changed, cursor.step_changed):
            changed.connect(self._draw)

    def _on_result(self) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, self.cursor.steps() - 1)
        self.slider.blockSignals(False)
        self._draw()

    def _draw(self) -> None:
        c = self.cursor
        r = c.result
        if r is None:
            return
        t = c.step
        if self.slider.value() != t:
            self.slider.setValue(t)
        labels = c.step_labels()
        self.label.setText(f"step {t + 1} of {len(labels)}: read “{visible_text(labels[t])}”")
        first = max(0, t - GRAPH_STEPS + 1)
        steps = range(first, min(len(labels), first + GRAPH_STEPS))
        h = c.unit_values("h")
        if r.is_words:  # a sentiment model's readout after each word: p(positive)
            outputs = [f"{float(r.probs[k, 0]):.2f}" for k in steps]
        else:
            outputs = [r.vocab[int(np.argmax(r.probs[k]))] for k in steps]
        self.graph.unit_name = str(c.unit)
        self.graph.set_words(r.is_words)
        self.graph.set_steps(first, [labels[k] for k in steps], outputs, [float(h[k]) for k in steps], t)
        lines = step_equations(r.arch, c.layer_values(), r.preacts[c.layer], t, c.unit)
        width = max(len(line.lhs + " = " + line.formula) for line in lines)
        x_is = f"the embedding of “{labels[t]}”" if r.is_words else f"“{visible_text(labels[t])}”"
        body = [f"Step {t + 1}, layer {c.layer + 1}, unit {c.unit}; x_t = {x_is}", ""]
        for line in lines:
            left = f"{line.lhs} = {line.formula}".ljust(width)
            body.append(f"{left}  = {line.numbers} = {line.value:+.4f}")
        self.equations.setPlainText("\n".join(body))
