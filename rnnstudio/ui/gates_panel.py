"""The LSTM internals lab: every gate and state of a char-RNN, live, on any text.

Qt only. The worker computes; this panel keeps the newest GatesResult and draws it.
Sub-tabs: the heatmaps with the saturation plot; one unit coloured over the text with
the hypothesis search and interventions; a step-through with the equations and the
unrolled graph; and the gradient flow plot.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from rnnstudio.nn.explain import KEEP_GATE, step_equations
from rnnstudio.ui.char_strip import CharStrip
from rnnstudio.ui.drawing import visible_char
from rnnstudio.ui.gates_views import GRADIENT_FLOOR, MAP_INFO, HeatmapStack, MemoryPathView, UnrolledGraph
from rnnstudio.ui.theme import LEGEND_BRUSH, presenter_size
from rnnstudio.ui.widgets import (
    EmptyPlotNote,
    give_panel_shortcut,
    give_shortcut,
    wrapping_label,
    hint_label,
    monospace_font,
    panel_layout,
    when_worker_ready,
)
from rnnstudio.worker.charrnn_messages import SHIPPED, TRAINING
from rnnstudio.worker.gates_messages import (
    MAX_GATES_CHARS,
    GatesRequest,
    GatesResult,
    GradientRequest,
    GradientResult,
    HypothesisRequest,
    HypothesisResult,
    InterventionRequest,
    InterventionResult,
)
from rnnstudio.worker.protocol import ReadFileRequest

DEFAULT_TEXT = (
    "KING RICHARD III:\n"
    "Now is the winter of our discontent\n"
    "Made glorious summer by this sun of York;\n"
    "And all the clouds that lour'd upon our house\n"
    "In the deep bosom of the ocean buried.\n"
)
GRAPH_STEPS = 6  # steps drawn in the unrolled graph
ARCH_COLORS = {"rnn": (214, 69, 48), "gru": (60, 160, 80), "lstm": (49, 105, 188)}
ARCH_NAMES = {"rnn": "vanilla RNN", "gru": "GRU", "lstm": "LSTM"}
GRADIENT_TAB = 3  # the index of the "Gradient flow" tab
MEMORY_TAB = 4  # the index of the "Forget gate and gradient" tab
# Under the forget gate tab: why the lower curve is the product of the gates (LECTURE.md row 9).
MEMORY_EXPLANATIONS = {
    "lstm": "c_t = f_t · c_(t−1) + i_t · g_t, so along the memory cell each step back multiplies the gradient by "
            "that step's forget gate: dE/dc_(t−1) = f_t · dE/dc_t (the path through the cell alone; more flows through "
            "h and the gates). Where f_t falls toward 0 the unit forgets, and the gradient stops there. Units in the "
            "saturation plot's top left, their forget gate mostly open, carry it furthest.",
    "gru": "h_t = (1 − z_t) · n_t + z_t · h_(t−1), so along the state each step back multiplies the gradient by that "
           "step's update gate z_t (the direct path alone; more flows through n_t and the gates). Where z_t falls "
           "toward 0 the unit overwrites its memory, and the gradient stops there.",
}
GRADIENT_SIDE_WIDTH = 460  # the controls and the explanation beside the gradient plot, in pixels


class GatesPanel(QWidget):
    """Look inside the network: gates and states per step and per unit."""

    title = "LSTM internals"
    status_message = Signal(str)
    gates_ready = Signal(object)  # GatesResult, for tests and screenshots
    gradients_ready = Signal(object)

    def __init__(self, worker, parent=None):
        super().__init__(parent)
        self.worker = worker
        self.result: GatesResult | None = None
        self.layer = 0
        self.unit = 0
        self.step = 0
        self.latest_sample = ""
        self._gradients_shown = False
        self.follow_longest_memory_when_read = False  # set by a lesson: pick the unit once the text is read
        self._build()
        self._gradient_timer = QTimer(self)
        self._gradient_timer.setSingleShot(True)
        self._gradient_timer.timeout.connect(self.compute_gradients)
        when_worker_ready(worker, self._on_worker_ready)

    # --- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        outer, self.message = panel_layout(self)
        outer.addWidget(self._build_source())
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_maps_tab(), "Gates and states")
        self.tabs.addTab(self._build_units_tab(), "One unit over the text")
        self.tabs.addTab(self._build_step_tab(), "Step through")
        self.tabs.addTab(self._build_gradient_tab(), "Gradient flow")
        self.tabs.addTab(self._build_memory_tab(), "Forget gate and gradient")
        self.tabs.currentChanged.connect(self._on_tab_changed)
        outer.addWidget(self.tabs, 1)

    def _build_source(self) -> QWidget:
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.text_edit = QPlainTextEdit(DEFAULT_TEXT)
        self.text_edit.setFont(monospace_font())
        self.text_edit.setMaximumHeight(90)
        self.text_edit.setToolTip("The text the model reads, one character per step")
        grid.addWidget(self.text_edit, 0, 0, 2, 1)
        row = QHBoxLayout()
        self.sample_button = QPushButton("Latest sample")
        self.sample_button.setToolTip("Take the char-RNN panel's latest sample as the text")
        self.sample_button.clicked.connect(self.use_latest_sample)
        self.sample_button.setEnabled(False)
        open_button = QPushButton("Open text…")
        open_button.setToolTip('Read a UTF-8 text file into the box above')
        open_button.clicked.connect(self._open_text)
        self.model_combo = QComboBox()
        self.model_combo.setToolTip('Which model reads the text: the opened one or the one in training')
        self.model_combo.addItem("Opened model", SHIPPED)
        self.model_combo.addItem("Model in training", TRAINING)
        self.model_combo.setToolTip("Which char-RNN reads the text")
        row.addWidget(self.sample_button)
        row.addWidget(open_button)
        row.addWidget(self.model_combo)
        grid.addLayout(row, 0, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("Layer"))
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip('Which layer of the network the heatmaps show')
        self.layer_combo.setToolTip("The layer whose gates are shown")
        self.layer_combo.currentIndexChanged.connect(self._on_layer_changed)
        row.addWidget(self.layer_combo)
        row.addWidget(QLabel("Unit"))
        self.unit_spin = QSpinBox()
        self.unit_spin.setRange(0, 0)
        self.unit_spin.setToolTip("The unit followed in the text and the step-through; click a heatmap to pick one")
        self.unit_spin.valueChanged.connect(self.set_unit)
        row.addWidget(self.unit_spin)
        self.read_button = QPushButton("Read text")
        self.read_button.setDefault(True)
        self.read_button.setToolTip("Run the model over the text and record every gate and state")
        self.read_button.clicked.connect(self.compute)
        self.read_button.setEnabled(False)
        give_shortcut(self.read_button, "Ctrl+Return", "Read the text through the model")
        row.addWidget(self.read_button)
        grid.addLayout(row, 1, 1)
        grid.setColumnStretch(0, 1)
        return box

    def _build_maps_tab(self) -> QWidget:
        split = QSplitter(Qt.Orientation.Horizontal)
        self.heatmaps = HeatmapStack()
        self.heatmaps.picked.connect(self._on_heatmap_picked)
        split.addWidget(self.heatmaps)
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
        split.addWidget(side)
        split.setSizes([900, 340])
        return split

    def _build_units_tab(self) -> QWidget:
        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        v = QVBoxLayout(left)
        v.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Colour the text by"))
        self.strip_state_combo = QComboBox()
        self.strip_state_combo.setToolTip('Which gate or state colours the text')
        self.strip_state_combo.currentIndexChanged.connect(self._draw_strip)
        row.addWidget(self.strip_state_combo)
        self.unit_caption = wrapping_label()
        row.addWidget(self.unit_caption, 1)
        v.addLayout(row)
        self.strip = CharStrip()
        self.strip.tooltip_for = self._tooltip_for
        self.strip.clicked.connect(self.set_step)
        self.strip.selection_changed.connect(self._on_strip_selection)
        scroll = QScrollArea()
        scroll.setWidget(self.strip)
        scroll.setWidgetResizable(True)
        v.addWidget(scroll, 1)
        v.addWidget(hint_label(
            "Blue is negative, red positive. Hover a character for every value and the model's top 5 "
            "guesses for the next one; drag over a span to search for units that fire inside it."
        ))
        split.addWidget(left)

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
        self.units_list.itemClicked.connect(lambda item: self.set_unit(item.data(Qt.ItemDataRole.UserRole)))
        form.addRow(self.units_list)
        self.matches_label = hint_label("Select a span of the text, then search: the other places where the best units fire together are underlined.")
        form.addRow(self.matches_label)
        rv.addWidget(search)

        inter = QGroupBox("Intervention")
        form = QFormLayout(inter)
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
        self.clamp_state_combo.setToolTip('Which state the chosen units are held at while sampling')
        self.clamp_state_combo.addItem("hidden state h", "h")
        self.clamp_state_combo.addItem("memory cell c", "c")
        form.addRow("In", self.clamp_state_combo)
        self.intervene_button = QPushButton("Sample with and without")
        self.intervene_button.setToolTip("Two samples from the same seed: as the model is, and with the units held")
        self.intervene_button.clicked.connect(self.intervene)
        form.addRow(self.intervene_button)
        rv.addWidget(inter)
        rv.addStretch(1)
        split.addWidget(right)
        split.setSizes([850, 390])

        box = QWidget()
        outer = QVBoxLayout(box)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(split, 3)
        compare = QHBoxLayout()
        self.plain_sample = QPlainTextEdit()
        self.intervened_sample = QPlainTextEdit()
        self.plain_sample.setPlaceholderText("Name units under Intervention and press “Sample with and without”: "
                                             "a sample of the model as trained appears here…")
        self.intervened_sample.setPlaceholderText("…and here the same sample, from the same seed, with those units held.")
        for title, view in (("As trained", self.plain_sample), ("With the units held", self.intervened_sample)):
            view.setReadOnly(True)
            view.setFont(monospace_font())
            col = QVBoxLayout()
            col.addWidget(QLabel(f"<b>{title}</b>"))
            col.addWidget(view)
            compare.addLayout(col)
        outer.addLayout(compare, 2)
        return box

    def _build_step_tab(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        row = QHBoxLayout()
        self.prev_button = QPushButton("◀ Previous")
        self.prev_button.setToolTip('One character back')
        self.next_button = QPushButton("Next ▶")
        self.next_button.setToolTip('Read one more character and show the equations with its numbers')
        self.prev_button.clicked.connect(lambda: self.set_step(self.step - 1))
        self.next_button.clicked.connect(lambda: self.set_step(self.step + 1))
        # On every inner tab: the step is also the cursor on the heatmaps and in the text.
        give_panel_shortcut(self, "Alt+Left", "One character back", lambda: self.set_step(self.step - 1),
                            buttons=[self.prev_button])
        give_panel_shortcut(self, "Alt+Right", "One character on", lambda: self.set_step(self.step + 1),
                            buttons=[self.next_button])
        self.step_slider = QSlider(Qt.Orientation.Horizontal)
        self.step_slider.setToolTip('The character being read; drag to jump')
        self.step_slider.setRange(0, 0)
        self.step_slider.valueChanged.connect(self.set_step)
        self.step_label = QLabel()
        row.addWidget(self.prev_button)
        row.addWidget(self.step_slider, 1)
        row.addWidget(self.next_button)
        row.addWidget(self.step_label)
        v.addLayout(row)
        self.graph = UnrolledGraph()
        v.addWidget(self.graph, 3)
        self.equations = QTextEdit()
        self.equations.setReadOnly(True)
        self.equations.setFont(monospace_font())
        v.addWidget(self.equations, 2)
        v.addWidget(hint_label("The same weights W are used at every step; only the state h (and c) carries the past forward."))
        return box

    def _build_gradient_tab(self) -> QWidget:
        box = QWidget()
        h = QHBoxLayout(box)
        left = QVBoxLayout()
        self.gradient_plot = pg.PlotWidget(background="w")
        self.gradient_plot.setLogMode(x=False, y=True)
        self.gradient_plot.setLabel("bottom", "distance from the loss (steps back in time)")
        self.gradient_plot.setLabel("left", "‖dE/dh_t‖ (log scale)")
        self.gradient_plot.showGrid(x=True, y=True, alpha=0.25)
        self.gradient_plot.addLegend(offset=(-10, 10), brush=LEGEND_BRUSH)  # readable over a curve
        self.gradient_curves = {arch: self.gradient_plot.plot(name=ARCH_NAMES[arch], pen=_arch_pen(arch))
                                for arch in ARCH_COLORS}
        left.addWidget(self.gradient_plot, 1)
        h.addLayout(left, 1)
        right = QVBoxLayout()  # the controls, and under them why the curves look as they do

        controls = QGroupBox("Controls")
        form = QFormLayout(controls)
        self.radius_slider = QSlider(Qt.Orientation.Horizontal)
        self.radius_slider.setToolTip('Rescale W_hh to this largest singular value: below 1 gradients vanish, above 1 they explode')
        self.radius_slider.setRange(50, 150)
        self.radius_slider.setValue(100)
        self.radius_label = wrapping_label()
        self.radius_slider.valueChanged.connect(self._on_gradient_control)
        form.addRow("Largest singular\nvalue of W_hh", self.radius_slider)
        form.addRow("", self.radius_label)
        self.forget_slider = QSlider(Qt.Orientation.Horizontal)
        self.forget_slider.setToolTip("The LSTM's forget-gate bias: higher keeps f_t near 1 and the gradient alive")
        self.forget_slider.setRange(-50, 50)
        self.forget_slider.setValue(0)
        self.forget_label = wrapping_label()
        self.forget_slider.valueChanged.connect(self._on_gradient_control)
        form.addRow("LSTM forget-gate\nbias b_f", self.forget_slider)
        form.addRow("", self.forget_label)
        self.gradient_hidden_spin = QSpinBox()
        self.gradient_hidden_spin.setToolTip('Hidden units of the fresh networks the gradients flow through')
        self.gradient_hidden_spin.setRange(8, 512)
        self.gradient_hidden_spin.setValue(64)
        self.gradient_hidden_spin.valueChanged.connect(self._on_gradient_control)
        form.addRow("Hidden size", self.gradient_hidden_spin)
        self.gradient_loaded_check = QCheckBox("Use the opened model's first layer")
        self.gradient_loaded_check.setToolTip("Its own trained W_hh instead of fresh random networks")
        self.gradient_loaded_check.toggled.connect(self._on_gradient_control)
        form.addRow(self.gradient_loaded_check)
        form.addRow(hint_label("Fresh networks of each kind, with W_hh rescaled to the chosen largest singular value."))
        controls.setMaximumWidth(GRADIENT_SIDE_WIDTH)
        right.addWidget(controls)
        self.gradient_explanation = wrapping_label()
        self.gradient_explanation.setMaximumWidth(GRADIENT_SIDE_WIDTH)
        self.gradient_explanation.setAlignment(Qt.AlignmentFlag.AlignTop)
        right.addWidget(self.gradient_explanation, 1)
        h.addLayout(right)
        self._on_gradient_control(schedule=False)
        return box

    def _build_memory_tab(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        self.memory_view = MemoryPathView()
        self.memory_view.picked.connect(self.set_step)
        self.memory_empty = EmptyPlotNote(self.memory_view.gate_plot,
                                          "Press Read text: the forget gate of the unit you follow appears here,\n"
                                          "and below it how much of the gradient from the last character each step keeps.")
        self.memory_empty.show()
        v.addWidget(self.memory_view, 1)
        self.memory_explanation = wrapping_label(MEMORY_EXPLANATIONS["lstm"])
        v.addWidget(self.memory_explanation)
        self.no_memory_label = wrapping_label(
            "A vanilla RNN has no gate on its memory: its gradient goes back only through W_hh and tanh "
            "(the Gradient flow tab). Read the text through an LSTM or a GRU to see a gate carry it.")
        self.no_memory_label.hide()
        v.addWidget(self.no_memory_label)
        return box

    # --- state -----------------------------------------------------------------------------

    def _on_worker_ready(self, _device: str) -> None:
        self.read_button.setEnabled(True)
        if self.tabs.currentIndex() == GRADIENT_TAB:
            self.compute_gradients()

    def _on_tab_changed(self, index: int) -> None:
        # The gradient curves are computed when first looked at, not at start-up: the worker
        # has the shipped models to load then.
        if index == GRADIENT_TAB and not self._gradients_shown and self.worker.device_name is not None:
            self.compute_gradients()

    def show_error(self, message: str) -> None:
        self.message.show_message(message, "error")
        self.status_message.emit(message)

    def _on_error(self, error) -> None:
        self.show_error(error.message)
        unknown = (error.details or {}).get("unknown_characters") if isinstance(error.details, dict) else None
        if unknown:
            self._mark_characters(set(unknown))

    def _mark_characters(self, chars: set[str]) -> None:
        """Mark characters the model does not know in the text box, so none is dropped silently."""
        selections = []
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(255, 120, 120))
        text = self.text_edit.toPlainText()
        for i, ch in enumerate(text):
            if ch in chars:
                sel = QTextEdit.ExtraSelection()
                cursor = QTextCursor(self.text_edit.document())
                cursor.setPosition(i)
                cursor.setPosition(i + 1, QTextCursor.MoveMode.KeepAnchor)
                sel.cursor = cursor
                sel.format = fmt
                selections.append(sel)
        self.text_edit.setExtraSelections(selections)

    def set_latest_sample(self, text: str) -> None:
        self.latest_sample = text
        self.sample_button.setEnabled(bool(text))

    def use_latest_sample(self) -> None:
        if self.latest_sample:
            self.text_edit.setPlainText(self.latest_sample)

    def _open_text(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a text to read", "", "Text files (*.txt *.md *.py);;All files (*)")
        if path:
            self.open_text(path)

    def open_text(self, path: str) -> None:
        """Read the start of a text file on the worker, and put it in the text box when it
        comes: the GUI thread never waits on a file (a named pipe would freeze it for good)."""
        from rnnstudio.data.text import read_text_start

        def on_read(payload) -> None:
            text, more = payload
            if more:
                self.message.show_message(f"Only the first {MAX_GATES_CHARS:,} characters of {path} are read.", "info")
            else:
                self.message.dismiss()
            self.text_edit.setPlainText(text)

        self.worker.submit(ReadFileRequest(fn=read_text_start, args=(path, MAX_GATES_CHARS), what="a text"),
                           slot="gates.open", on_result=on_read, on_error=self._on_error)

    # --- computing -------------------------------------------------------------------------

    def compute(self) -> None:
        self.message.dismiss()
        self.text_edit.setExtraSelections([])
        text = self.text_edit.toPlainText()
        self.worker.submit(
            GatesRequest(role=self.model_combo.currentData(), text=text), slot="gates.compute",
            on_result=self._on_gates, on_error=self._on_error,
        )

    def _on_gates(self, result: GatesResult) -> None:
        self.result = result
        layers = len(result.layers)
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for k in range(layers):
            self.layer_combo.addItem(f"{k + 1} of {layers}", k)
        self.layer = min(self.layer, layers - 1)
        self.layer_combo.setCurrentIndex(self.layer)
        self.layer_combo.blockSignals(False)
        names = list(result.layers[0])
        for combo, choices in ((self.strip_state_combo, names), (self.saturation_combo, list(result.saturation[0]))):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for name in choices:
                combo.addItem(MAP_INFO[name][0], name)
            preferred = [current] + (["h"] if combo is self.strip_state_combo else ["f", "z"])  # z: the GRU's keep gate
            combo.setCurrentIndex(next((i for i in map(combo.findData, preferred) if i >= 0), 0))
            combo.blockSignals(False)
        has_gates = bool(result.saturation[0])
        self.saturation_combo.setEnabled(has_gates)
        self.saturation_view.setVisible(has_gates)
        self.no_gates_label.setVisible(not has_gates)
        self.clamp_state_combo.model().item(1).setEnabled(result.arch == "lstm")
        self.strip.set_text(result.text)
        self.step_slider.setRange(0, len(result.text) - 1)
        self.step = min(self.step, len(result.text) - 1)
        self._on_layer_changed(self.layer)
        if self.follow_longest_memory_when_read:
            self.follow_longest_memory_when_read = False
            self.follow_longest_memory()
        self.status_message.emit(f"read {len(result.text):,} characters through the {result.arch.upper()}")
        self.gates_ready.emit(result)

    def _on_layer_changed(self, index: int) -> None:
        if self.result is None or index < 0:
            return
        self.layer = index
        maps = self.result.layers[index]
        hidden = next(iter(maps.values())).shape[1]
        self.unit_spin.blockSignals(True)
        self.unit_spin.setRange(0, hidden - 1)
        self.unit = min(self.unit, hidden - 1)
        self.unit_spin.setValue(self.unit)
        self.unit_spin.blockSignals(False)
        self.heatmaps.set_maps(maps)
        self._draw_saturation()
        self._draw_unit()

    def set_unit(self, unit: int) -> None:
        if self.result is None:
            return
        self.unit = int(unit)
        if self.unit_spin.value() != self.unit:
            self.unit_spin.setValue(self.unit)
        self._draw_unit()

    def set_step(self, step: int) -> None:
        if self.result is None:
            return
        self.step = int(np.clip(step, 0, len(self.result.text) - 1))
        if self.step_slider.value() != self.step:
            self.step_slider.setValue(self.step)
        self._draw_step()

    def _on_heatmap_picked(self, step: int, unit: int) -> None:
        self.set_step(step)
        self.set_unit(unit)

    # --- drawing ---------------------------------------------------------------------------

    def _layer_values(self) -> dict:
        return self.result.layers[self.layer]

    def _draw_unit(self) -> None:
        self._draw_strip()
        self._draw_saturation_selection()
        self._draw_memory()
        self._draw_step()

    def _draw_memory(self) -> None:
        r = self.result
        gate = KEEP_GATE.get(r.arch)
        self.memory_view.setVisible(gate is not None)
        self.no_memory_label.setVisible(gate is None)
        if gate is None:
            return
        self.memory_empty.hide()
        self.memory_view.show_unit(r.text, MAP_INFO[gate][0], gate, self._layer_values()[gate][:, self.unit],
                                   self.layer, self.unit)
        self.memory_explanation.setText(MEMORY_EXPLANATIONS[r.arch])

    def follow_longest_memory(self) -> None:
        """Follow the unit of this layer whose keep gate (forget f, or the GRU's z) is open on
        the most steps: the one that carries the gradient furthest back."""
        gate = KEEP_GATE.get(self.result.arch) if self.result is not None else None
        if gate is not None:
            _closed, open_share = self.result.saturation[self.layer][gate]
            self.set_unit(int(np.argmax(open_share)))

    def _draw_strip(self) -> None:
        if self.result is None:
            return
        name = self.strip_state_combo.currentData() or "h"
        values = self._layer_values()[name][:, self.unit]
        lo, hi = MAP_INFO[name][1]
        self.strip.set_values(values, lo, hi)
        self.unit_caption.setText(f"layer {self.layer + 1}, unit {self.unit}: {MAP_INFO[name][0]} (scale {lo:g} to {hi:g})")

    def _tooltip_for(self, index: int) -> str:
        r = self.result
        if r is None or index >= len(r.text):
            return ""
        ch = {"\n": "↵ (newline)", " ": "␣ (space)"}.get(r.text[index], r.text[index])
        rows = [f"<b>{ch}</b> — step {index + 1}, layer {self.layer + 1}, unit {self.unit}"]
        for name, values in self._layer_values().items():
            rows.append(f"{name} = {values[index, self.unit]:+.3f}")
        top = np.argsort(r.probs[index])[::-1][:5]
        guesses = ", ".join(f"{_shown(r.vocab[k])} {r.probs[index][k]:.0%}" for k in top)
        rows.append(f"next: {guesses}")
        return "<br>".join(rows)

    def _draw_saturation(self) -> None:
        if self.result is None:
            return
        gate = self.saturation_combo.currentData()
        sat = self.result.saturation[self.layer]
        if gate is None or gate not in sat:
            self.saturation_points.setData([], [])
            return
        left, right = sat[gate]
        self.saturation_points.setData(x=left, y=right, data=np.arange(len(left)))
        self._draw_saturation_selection()

    def _draw_saturation_selection(self) -> None:
        gate = self.saturation_combo.currentData()
        if self.result is None or gate is None or gate not in self.result.saturation[self.layer]:
            self.saturation_selected.setData([], [])
            return
        left, right = self.result.saturation[self.layer][gate]
        self.saturation_selected.setData(x=[left[self.unit]], y=[right[self.unit]])

    def _on_saturation_clicked(self, _item, points, *_) -> None:
        if len(points):
            self.set_unit(int(points[0].data()))

    def _draw_step(self) -> None:
        r = self.result
        if r is None:
            return
        t = self.step
        self.heatmaps.set_step(t)
        self.memory_view.set_step(t)
        self.strip.set_lit(t)
        self.step_label.setText(f"step {t + 1} of {len(r.text)}: read “{_shown(r.text[t])}”")
        first = max(0, t - GRAPH_STEPS + 1)
        steps = range(first, min(len(r.text), first + GRAPH_STEPS))
        h = self._layer_values()["h"][:, self.unit]
        outputs = [r.vocab[int(np.argmax(r.probs[k]))] for k in steps]
        self.graph.unit_name = str(self.unit)
        self.graph.set_steps(first, [r.text[k] for k in steps], outputs, [float(h[k]) for k in steps], t)
        lines = step_equations(r.arch, self._layer_values(), r.preacts[self.layer], t, self.unit)
        width = max(len(line.lhs + " = " + line.formula) for line in lines)
        body = [f"Step {t + 1}, layer {self.layer + 1}, unit {self.unit}; x_t = “{_shown(r.text[t])}”", ""]
        for line in lines:
            left = f"{line.lhs} = {line.formula}".ljust(width)
            body.append(f"{left}  = {line.numbers} = {line.value:+.4f}")
        self.equations.setPlainText("\n".join(body))

    # --- hypothesis search and interventions -----------------------------------------------

    def _on_strip_selection(self, start: int, end: int) -> None:
        self.matches_label.setText(f"Selected “{_shown(self.result.text[start:end])[:40]}” (steps {start + 1} to {end}).")

    def search_units(self) -> None:
        if self.result is None:
            self.show_error("Read a text first, then select a span of it.")
            return
        selection = self.strip.selection()
        if selection is None:
            self.show_error("Select a span of the text first (drag over it): the units on inside it are searched.")
            return
        name = self.strip_state_combo.currentData() or "h"
        self.worker.submit(
            HypothesisRequest(values=self._layer_values()[name], start=selection[0], end=selection[1],
                              threshold=self.threshold_spin.value()),
            slot="gates.search", on_result=self._on_search_result, on_error=self._on_error,
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
        self.set_unit(result.ranked[0][0])
        self.strip.set_underlines(result.matches)
        units = ", ".join(str(u) for u in result.units)
        self.matches_label.setText(f"Units {units} fire together in {len(result.matches)} places, underlined.")
        self.clamp_units_edit.setText(units)

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
            self.show_error(f"{e}; list unit numbers separated by commas, e.g. 12, 40.")
            return
        if not units:
            self.show_error("Name the units to hold, e.g. 12, 40 (or find some with the hypothesis search).")
            return
        value = self.clamp_value_spin.value()
        prime = self.result.text[: self.step + 1] if self.result is not None else ""
        self.plain_sample.setPlainText("…")
        self.intervened_sample.setPlainText("…")
        self.worker.submit(
            InterventionRequest(
                role=self.model_combo.currentData(), prime=prime[-200:], length=300,
                seed=1234, clamps=tuple((self.layer, u, value) for u in units),
                state=self.clamp_state_combo.currentData(),
            ),
            slot="gates.intervene", on_result=self._on_intervention, on_error=self._on_error,
        )

    def _on_intervention(self, result: InterventionResult) -> None:
        self.plain_sample.setPlainText(result.plain)
        self.intervened_sample.setPlainText(result.intervened)

    # --- gradient flow ------------------------------------------------------------------------

    def _on_gradient_control(self, *_args, schedule: bool = True) -> None:
        radius = self.radius_slider.value() / 100
        bias = self.forget_slider.value() / 10
        self.radius_label.setText(f"{radius:.2f}  ({'vanishing' if radius < 1 else 'exploding' if radius > 1 else 'the edge'} for a vanilla RNN)")
        self.forget_label.setText(f"{bias:+.1f}  (sigmoid: f ≈ {1 / (1 + np.exp(-bias)):.2f})")
        loaded = self.gradient_loaded_check.isChecked()
        self.radius_slider.setEnabled(not loaded)
        if schedule:
            self._gradient_timer.start(150)  # recompute once the slider rests

    def compute_gradients(self) -> None:
        loaded = self.gradient_loaded_check.isChecked()
        self.worker.submit(
            GradientRequest(
                hidden=self.gradient_hidden_spin.value(),
                singular_value=None if loaded else self.radius_slider.value() / 100,
                forget_bias=self.forget_slider.value() / 10,
                role=self.model_combo.currentData() if loaded else None,
            ),
            slot="gates.gradients", on_result=self._on_gradients, on_error=self._on_error,
        )

    def _on_gradients(self, result: GradientResult) -> None:
        self._gradients_shown = True
        for arch, curve in self.gradient_curves.items():
            norms = result.curves.get(arch)
            if norms is None:
                curve.setData([], [])
            else:
                shown = np.where(norms >= GRADIENT_FLOOR, norms, np.nan)  # ends there, not flat along it
                curve.setData(np.arange(1, len(norms) + 1), shown, connect="finite")
        self.gradient_explanation.setText(result.explanation)
        self.gradients_ready.emit(result)

    # --- presenter mode -------------------------------------------------------------------------

    def settings(self) -> dict:
        return {"tab": self.tabs.currentIndex()}

    def apply_settings(self, saved: dict) -> None:
        if isinstance(saved.get("tab"), int):
            self.tabs.setCurrentIndex(saved["tab"])

    def set_presenter(self, on: bool) -> None:
        scale = 2 if on else 1
        for arch, curve in self.gradient_curves.items():
            curve.setPen(_arch_pen(arch, width=3 * scale))
        self.memory_view.set_pen_width(2 * scale)
        font = monospace_font(presenter_size(18) if on else None)
        for view in (self.text_edit, self.equations, self.plain_sample, self.intervened_sample):
            view.setFont(font)
        self.strip.setFont(monospace_font(presenter_size(20) if on else 13))


def _arch_pen(arch: str, width: float = 3):
    """The GRU's curve dashed: told apart by red and green alone, it fails colour-blind eyes."""
    style = Qt.PenStyle.DashLine if arch == "gru" else Qt.PenStyle.SolidLine
    return pg.mkPen(ARCH_COLORS[arch], width=width, style=style)


def _shown(text: str) -> str:
    return visible_char(text) if len(text) == 1 else text.replace("\n", "↵")
