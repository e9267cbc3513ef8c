"""The lab's "Gates and states" tab: one time x unit heatmap per gate and state of the layer,
and beside them how saturated each unit of a gate is (The LSTM cell, docs/LECTURE-MAP.md)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from rnnstudio.ui.gates.views import MAP_INFO, HeatmapStack
from rnnstudio.ui.widgets import hint_label, wrapping_label

KEEP_GATES = ("f", "z")  # shown first in the saturation plot: the LSTM's forget gate, the GRU's update gate


class MapsTab(QSplitter):
    title = "Gates and states"
    key = "maps"  # its name in the settings file

    def __init__(self, cursor, parent=None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.cursor = cursor
        self.heatmaps = HeatmapStack()
        self.heatmaps.picked.connect(self._on_heatmap_picked)
        self.addWidget(self.heatmaps)
        side = QWidget()
        v = QVBoxLayout(side)
        v.setContentsMargins(4, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("<b>Saturation</b> of gate"))
        self.saturation_combo = QComboBox()
        self.saturation_combo.setToolTip("Which gate's saturation the scatter plot shows")
        self.saturation_combo.currentIndexChanged.connect(self._draw_saturation)
        row.addWidget(self.saturation_combo, 1)
        v.addLayout(row)
        self.saturation_view = QWidget()  # the plot and its hint; a vanilla RNN gets a note instead
        plot_and_hint = QVBoxLayout(self.saturation_view)
        plot_and_hint.setContentsMargins(0, 0, 0, 0)
        self.saturation_plot = pg.PlotWidget(background="w")
        self.saturation_plot.setLabel("bottom", "share of steps closed (below 0.1)")
        self.saturation_plot.setLabel("left", "share of steps open (above 0.9)")
        self.saturation_plot.setRange(xRange=(0, 1), yRange=(0, 1))
        self.saturation_plot.plot([0, 1], [1, 0], pen=pg.mkPen((180, 180, 180), style=Qt.PenStyle.DashLine))
        self.saturation_points = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(49, 105, 188, 160), pen=None)
        self.saturation_points.sigClicked.connect(self._on_saturation_clicked)
        self.saturation_plot.addItem(self.saturation_points)
        self.saturation_selected = pg.ScatterPlotItem(size=16, brush=None, pen=pg.mkPen((214, 69, 48), width=3))
        self.saturation_plot.addItem(self.saturation_selected)
        plot_and_hint.addWidget(self.saturation_plot, 1)
        plot_and_hint.addWidget(hint_label(
            "Each dot is one unit. Units on the dashed line are switches, always either open or closed; "
            "top left: mostly open; bottom right: mostly closed; bottom left: in between. Click one to follow it."
        ))
        v.addWidget(self.saturation_view, 1)
        self.no_gates_label = wrapping_label(
            "A vanilla RNN has no gates to open or close: its state is simply "
            "h_t = tanh(W_hh h_(t-1) + W_xh x_t). Read the text through an LSTM or a GRU to see them."
        )
        self.no_gates_label.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.no_gates_label.hide()
        v.addWidget(self.no_gates_label, 1)
        self.addWidget(side)
        self.setSizes([900, 340])
        cursor.result_changed.connect(self._on_result)
        cursor.layer_changed.connect(self._draw_layer)
        cursor.unit_changed.connect(self._draw_saturation_selection)
        cursor.step_changed.connect(lambda: self.heatmaps.set_step(cursor.step))

    def _on_result(self) -> None:
        r = self.cursor.result
        combo = self.saturation_combo
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        for name in r.saturation[0]:
            combo.addItem(MAP_INFO[name][0], name)
        combo.setCurrentIndex(next((i for i in map(combo.findData, [current, *KEEP_GATES]) if i >= 0), 0))
        combo.blockSignals(False)
        self.heatmaps.set_step_name("word" if r.is_words else "character")
        self.heatmaps.set_step_labels(r.step_labels() if r.is_words else None)
        has_gates = bool(r.saturation[0])
        combo.setEnabled(has_gates)
        self.saturation_view.setVisible(has_gates)
        self.no_gates_label.setVisible(not has_gates)
        self._draw_layer()

    def _draw_layer(self) -> None:
        self.heatmaps.set_maps(self.cursor.layer_values())
        self.heatmaps.set_step(self.cursor.step)
        self._draw_saturation()

    def _saturation(self):
        """(closed share, open share) of each unit for the chosen gate of the layer, or None."""
        gate = self.saturation_combo.currentData()
        r = self.cursor.result
        if r is None or gate is None or gate not in r.saturation[self.cursor.layer]:
            return None
        return r.saturation[self.cursor.layer][gate]

    def _draw_saturation(self) -> None:
        shares = self._saturation()
        if shares is None:
            self.saturation_points.setData([], [])
        else:
            closed, opened = shares
            self.saturation_points.setData(x=closed, y=opened, data=np.arange(len(closed)))
        self._draw_saturation_selection()

    def _draw_saturation_selection(self) -> None:
        shares = self._saturation()
        if shares is None:
            self.saturation_selected.setData([], [])
            return
        closed, opened = shares
        unit = self.cursor.unit
        self.saturation_selected.setData(x=[closed[unit]], y=[opened[unit]])

    def _on_saturation_clicked(self, _item, points, *_) -> None:
        if len(points):
            self.cursor.set_unit(int(points[0].data()))

    def _on_heatmap_picked(self, step: int, unit: int) -> None:
        self.cursor.set_step(step)
        self.cursor.set_unit(unit)
