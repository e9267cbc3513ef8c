"""The lab's "Forget gate and gradient" tab: the followed unit's forget gate over the text and
how much of the gradient from the last character reaches each step along the memory cell
(The forget gate carries the gradient, docs/LECTURE-MAP.md)."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QVBoxLayout, QWidget

from rnnstudio.nn.explain import KEEP_GATE
from rnnstudio.ui.gates.views import MAP_INFO, MemoryPathView
from rnnstudio.ui.widgets import EmptyPlotNote, wrapping_label

# Under the plots: why the lower curve is the product of the gates.
EXPLANATIONS = {
    "lstm": "c_t = f_t · c_(t−1) + i_t · g_t, so along the memory cell each step back multiplies the gradient by "
            "that step's forget gate: dE/dc_(t−1) = f_t · dE/dc_t (the path through the cell alone; more flows through "
            "h and the gates). Where f_t falls toward 0 the unit forgets, and the gradient stops there. Units in the "
            "saturation plot's top left, their forget gate mostly open, carry it furthest.",
    "gru": "h_t = (1 − z_t) · n_t + z_t · h_(t−1), so along the state each step back multiplies the gradient by that "
           "step's update gate z_t (the direct path alone; more flows through n_t and the gates). Where z_t falls "
           "toward 0 the unit overwrites its memory, and the gradient stops there.",
}


class MemoryTab(QWidget):
    title = "Forget gate and gradient"
    key = "memory"

    def __init__(self, cursor, parent=None):
        super().__init__(parent)
        self.cursor = cursor
        v = QVBoxLayout(self)
        self.view = MemoryPathView()
        self.view.picked.connect(cursor.set_step)
        self.empty = EmptyPlotNote(self.view.gate_plot,
                                   "Press Read text: the forget gate of the unit you follow appears here,\n"
                                   "and below it how much of the gradient from the last character each step keeps.")
        self.empty.show()
        v.addWidget(self.view, 1)
        self.explanation = wrapping_label(EXPLANATIONS["lstm"])
        v.addWidget(self.explanation)
        self.no_memory_label = wrapping_label(
            "A vanilla RNN has no gate on its memory: its gradient goes back only through W_hh and tanh "
            "(the Gradient flow tab). Read the text through an LSTM or a GRU to see a gate carry it.")
        self.no_memory_label.hide()
        v.addWidget(self.no_memory_label)
        for changed in (cursor.result_changed, cursor.layer_changed, cursor.unit_changed):
            changed.connect(self._draw)
        cursor.step_changed.connect(lambda: self.view.set_step(cursor.step))

    def _draw(self) -> None:
        c = self.cursor
        gate = KEEP_GATE.get(c.arch)
        self.view.setVisible(gate is not None)
        self.no_memory_label.setVisible(gate is None)
        if gate is None:
            return
        self.empty.hide()
        self.view.set_step_name("word" if c.is_words else "character")
        self.view.show_unit(c.step_labels(), MAP_INFO[gate][0], gate, c.unit_values(gate), c.layer, c.unit)
        self.view.set_step(c.step)
        self.explanation.setText(EXPLANATIONS[c.arch])

    def longest_memory_unit(self) -> int | None:
        """The unit of the layer whose keep gate (forget f, or the GRU's z) is open on the most
        steps: the one that carries the gradient furthest back; None without such a gate."""
        c = self.cursor
        gate = KEEP_GATE.get(c.arch)
        if gate is None:
            return None
        _closed, open_share = c.result.saturation[c.layer][gate]
        return int(np.argmax(open_share))
