"""The lab's "Gradient flow" tab: ‖dE/dh_t‖ against the distance from the loss for a vanilla
RNN, a GRU and an LSTM, with the largest singular value of W_hh and the LSTM's forget-gate
bias as sliders (Vanishing and exploding gradients, docs/LECTURE-MAP.md)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QFormLayout, QGroupBox, QHBoxLayout, QSlider, QSpinBox, QVBoxLayout, QWidget

from rnnstudio.ui.gates.views import GRADIENT_FLOOR
from rnnstudio.ui.theme import LEGEND_BRUSH
from rnnstudio.ui.widgets import hint_label, wrapping_label
from rnnstudio.worker.gates_messages import GradientRequest, GradientResult

ARCH_COLORS = {"rnn": (214, 69, 48), "gru": (60, 160, 80), "lstm": (49, 105, 188)}
ARCH_NAMES = {"rnn": "vanilla RNN", "gru": "GRU", "lstm": "LSTM"}
SIDE_WIDTH = 460  # the controls and the explanation beside the plot, in pixels
RECOMPUTE_AFTER_MS = 150  # a slider is dragged: recompute once it rests


class GradientTab(QWidget):
    title = "Gradient flow"
    key = "gradient"
    gradients_ready = Signal(object)  # GradientResult, for tests and screenshots

    def __init__(self, lab, parent=None):
        """`lab`: the GatesPanel, for the worker, the model chosen and the messages."""
        super().__init__(parent)
        self.lab = lab
        self._shown_once = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.compute)
        h = QHBoxLayout(self)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLogMode(x=False, y=True)
        self.plot.setLabel("bottom", "distance from the loss (steps back in time)")
        self.plot.setLabel("left", "‖dE/dh_t‖ (log scale)")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.addLegend(offset=(-10, 10), brush=LEGEND_BRUSH)  # readable over a curve
        self.curves = {arch: self.plot.plot(name=ARCH_NAMES[arch], pen=arch_pen(arch)) for arch in ARCH_COLORS}
        h.addWidget(self.plot, 1)
        right = QVBoxLayout()  # the controls, and under them why the curves look as they do
        right.addWidget(self._build_controls())
        self.explanation = wrapping_label()
        self.explanation.setMaximumWidth(SIDE_WIDTH)
        self.explanation.setAlignment(Qt.AlignmentFlag.AlignTop)
        right.addWidget(self.explanation, 1)
        h.addLayout(right)
        self._on_control(schedule=False)

    def _build_controls(self) -> QGroupBox:
        controls = QGroupBox("Controls")
        form = QFormLayout(controls)
        self.radius_slider = QSlider(Qt.Orientation.Horizontal)
        self.radius_slider.setToolTip("Rescale W_hh to this largest singular value: below 1 gradients vanish, "
                                      "above 1 they explode")
        self.radius_slider.setRange(50, 150)
        self.radius_slider.setValue(100)
        self.radius_label = wrapping_label()
        self.radius_slider.valueChanged.connect(self._on_control)
        form.addRow("Largest singular\nvalue of W_hh", self.radius_slider)
        form.addRow("", self.radius_label)
        self.forget_slider = QSlider(Qt.Orientation.Horizontal)
        self.forget_slider.setToolTip("The LSTM's forget-gate bias: higher keeps f_t near 1 and the gradient alive")
        self.forget_slider.setRange(-50, 50)
        self.forget_slider.setValue(0)
        self.forget_label = wrapping_label()
        self.forget_slider.valueChanged.connect(self._on_control)
        form.addRow("LSTM forget-gate\nbias b_f", self.forget_slider)
        form.addRow("", self.forget_label)
        self.hidden_spin = QSpinBox()
        self.hidden_spin.setToolTip("Hidden units of the fresh networks the gradients flow through")
        self.hidden_spin.setRange(8, 512)
        self.hidden_spin.setValue(64)
        self.hidden_spin.valueChanged.connect(self._on_control)
        form.addRow("Hidden size", self.hidden_spin)
        self.loaded_check = QCheckBox("Use the opened char-RNN's first layer")
        self.loaded_check.setToolTip("Its own trained W_hh instead of fresh random networks (the char-RNN chosen above, "
                                     "or the opened one while a sentiment model is chosen)")
        self.loaded_check.toggled.connect(self._on_control)
        form.addRow(self.loaded_check)
        form.addRow(hint_label("Fresh networks of each kind, with W_hh rescaled to the chosen largest singular value."))
        controls.setMaximumWidth(SIDE_WIDTH)
        return controls

    def set_network(self, singular_value: float, forget_bias: float = 0.0) -> None:
        """Fresh networks at this largest singular value and forget-gate bias, as the sliders set them."""
        self.loaded_check.setChecked(False)
        self.forget_slider.setValue(round(forget_bias * 10))
        self.radius_slider.setValue(round(singular_value * 100))  # recomputes the curves

    def _on_control(self, *_args, schedule: bool = True) -> None:
        radius = self.radius_slider.value() / 100
        bias = self.forget_slider.value() / 10
        regime = "vanishing" if radius < 1 else "exploding" if radius > 1 else "the edge"
        self.radius_label.setText(f"{radius:.2f}  ({regime} for a vanilla RNN)")
        self.forget_label.setText(f"{bias:+.1f}  (sigmoid: f ≈ {1 / (1 + np.exp(-bias)):.2f})")
        self.radius_slider.setEnabled(not self.loaded_check.isChecked())
        if schedule:
            self._timer.start(RECOMPUTE_AFTER_MS)

    # --- computing, once the tab is first looked at ----------------------------------------------

    def showEvent(self, event) -> None:
        # The curves are computed when first looked at, not at start-up: the worker has the
        # shipped models to load then.
        super().showEvent(event)
        if not self._shown_once and self.lab.worker.device_name is not None:
            self.compute()

    def on_worker_ready(self) -> None:
        if self.isVisible() and not self._shown_once:
            self.compute()

    def compute(self) -> None:
        self._shown_once = True
        loaded = self.loaded_check.isChecked()
        self.lab.worker.submit(
            GradientRequest(
                hidden=self.hidden_spin.value(),
                singular_value=None if loaded else self.radius_slider.value() / 100,
                forget_bias=self.forget_slider.value() / 10,
                role=self.lab.model_role() if loaded else None,
            ),
            slot="gates.gradients", on_result=self._on_gradients, on_error=self.lab.on_worker_error,
        )

    def _on_gradients(self, result: GradientResult) -> None:
        for arch, curve in self.curves.items():
            norms = result.curves.get(arch)
            if norms is None:
                curve.setData([], [])
            else:
                shown = np.where(norms >= GRADIENT_FLOOR, norms, np.nan)  # ends there, not flat along it
                curve.setData(np.arange(1, len(norms) + 1), shown, connect="finite")
        self.explanation.setText(result.explanation)
        self.gradients_ready.emit(result)

    def set_presenter(self, on: bool) -> None:
        for arch, curve in self.curves.items():
            curve.setPen(arch_pen(arch, width=6 if on else 3))


def arch_pen(arch: str, width: float = 3):
    """The GRU's curve dashed: told apart by red and green alone, it fails colour-blind eyes."""
    style = Qt.PenStyle.DashLine if arch == "gru" else Qt.PenStyle.SolidLine
    return pg.mkPen(ARCH_COLORS[arch], width=width, style=style)
