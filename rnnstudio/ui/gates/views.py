"""Views of the LSTM internals lab: stacked heatmaps, the unrolled graph, the memory path."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QWidget

from rnnstudio.nn.explain import memory_reach
from rnnstudio.ui.char_strip import CharStrip
from rnnstudio.ui.drawing import draw_arrow, visible_char
from rnnstudio.ui.theme import apply_presenter_to, presenter_on, small_axis_font

# What each gate and state is, for titles, and its fixed colour scale.
MAP_INFO = {
    "i": ("input gate i", (0.0, 1.0)),
    "f": ("forget gate f", (0.0, 1.0)),
    "g": ("candidate g", (-1.0, 1.0)),
    "o": ("output gate o", (0.0, 1.0)),
    "c": ("memory cell c", (-1.0, 1.0)),
    "h": ("hidden state h", (-1.0, 1.0)),
    "r": ("reset gate r", (0.0, 1.0)),
    "z": ("update gate z", (0.0, 1.0)),
    "n": ("candidate n", (-1.0, 1.0)),
}
# A gradient below this is not drawn: float64 goes on to 1e-308, and the plot would squash the
# other curves to fit it. (A curve drawn at a clamped floor would look like a plateau.)
GRADIENT_FLOOR = 1e-30
MAX_WORD_TICKS = 40  # words written under the heatmaps' columns; a longer reading is numbered
GATE_MAP = pg.colormap.get("viridis")
GATE_RANGE = (-0.12, 1.12)  # a gate's plot: 0 to 1 with room for the axis's end numbers
STATE_MAP = pg.colormap.get("CET-D1")


class HeatmapStack(pg.GraphicsLayoutWidget):
    """One time x unit heatmap per gate or state, with a colour bar each, time axes linked."""

    picked = Signal(int, int)  # (step, unit) clicked

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self._plots: dict[str, tuple[pg.PlotItem, pg.ImageItem]] = {}
        self._cursor_lines: list[pg.InfiniteLine] = []
        self._steps = 0  # the text's length: the time axis shows all of it until someone zooms
        self._whole_text = True
        self.step_name = "character"  # what one step reads: "character", or "word" for a word model
        self.step_labels: list[str] | None = None  # a word model's words, written under their columns
        self.scene().sigMouseClicked.connect(self._on_click)
        # Until a text is read: what will appear here (the first set_maps clears it away).
        self.addLabel("Press <b>Read text</b> (Ctrl+Return): every gate and state of the model appears here,<br>"
                      "one row per unit, one column per character read.", color="#6e6e6e", size="11pt")

    def set_maps(self, maps: dict[str, np.ndarray]) -> None:
        """maps: name -> (T, H) array. Rebuilds the plots only when the names change."""
        if list(maps) != list(self._plots):
            self._rebuild(list(maps))
        for name, values in maps.items():
            plot, image = self._plots[name]
            lo, hi = MAP_INFO[name][1]
            # row-major: rows are units (y), columns are steps (x).
            image.setImage(np.ascontiguousarray(values.T), autoLevels=False, levels=(lo, hi))
            plot.setLimits(xMin=0, xMax=values.shape[0], yMin=0, yMax=values.shape[1])
            plot.setRange(xRange=(0, values.shape[0]), yRange=(0, values.shape[1]), padding=0)
        self._steps = next(iter(maps.values())).shape[0] if maps else 0
        self._whole_text = True

    def _show_whole_text(self, *_args) -> None:
        """After a resize (the first layout included): the linked time axes drift while the
        plots are laid out one by one, and would hide the text's first and last characters."""
        if self._whole_text and self._steps and self._plots:
            first = next(iter(self._plots.values()))[0]
            first.setXRange(0, self._steps, padding=0)

    def _on_zoomed(self, *_args) -> None:
        self._whole_text = False  # a person zoomed or panned: leave their view alone

    def _rebuild(self, names: list[str]) -> None:
        self.clear()
        self._plots.clear()
        self._cursor_lines.clear()
        first = None
        for row, name in enumerate(names):
            title, (lo, hi) = MAP_INFO[name]
            plot = self.addPlot(row=row, col=0)
            plot.setLabel("left", f"<b>{name}</b>", **{"font-size": "15pt"})
            plot.setTitle(title, size="10pt")
            plot.setMenuEnabled(False)
            plot.hideButtons()
            image = pg.ImageItem(axisOrder="row-major")
            image.setAutoDownsample(True)
            plot.addItem(image)
            colormap = GATE_MAP if lo == 0.0 else STATE_MAP
            bar = pg.ColorBarItem(values=(lo, hi), colorMap=colormap, interactive=False, width=14)
            bar.setImageItem(image, insert_in=plot)
            for axis in (plot.getAxis("left"), bar.getAxis("right")):
                small_axis_font(axis)  # thin strips: the numbers stay small, even in presenter mode
            # The ends and the middle only: pyqtgraph's five or six numbers overlap on a short strip.
            mid = (lo + hi) / 2
            bar.getAxis("right").setTicks([[(v, f"{v:g}") for v in (lo, mid, hi)], []])
            plot.getViewBox().sigResized.connect(self._show_whole_text)
            plot.getViewBox().sigRangeChangedManually.connect(self._on_zoomed)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            line = pg.InfiniteLine(angle=90, pen=pg.mkPen((0, 0, 0), width=1.5))
            line.setVisible(False)
            plot.addItem(line)
            self._cursor_lines.append(line)
            self._plots[name] = (plot, image)
        for name in names[:-1]:
            self._plots[name][0].hideAxis("bottom")  # the time axes are linked: one is enough
        if names:
            self._plots[names[-1]][0].setLabel("bottom", f"step ({self.step_name} read)")
            self._label_steps()
        if presenter_on():  # these plots are new: presenter mode was applied to their predecessors
            apply_presenter_to(self, True)

    def set_step_name(self, name: str) -> None:
        """What one step reads ("character" or "word"), for the time axis."""
        self.step_name = name
        if self._plots:
            list(self._plots.values())[-1][0].setLabel("bottom", f"step ({name} read)")

    def set_step_labels(self, labels: list[str] | None) -> None:
        """Write each word under its column (a word model's reading), or number the steps (None)."""
        self.step_labels = labels
        self._label_steps()

    def _label_steps(self) -> None:
        if self._plots:
            label_steps(list(self._plots.values())[-1][0].getAxis("bottom"), self.step_labels)

    def set_step(self, step: int | None) -> None:
        for line in self._cursor_lines:
            line.setVisible(step is not None)
            if step is not None:
                line.setValue(step + 0.5)

    def _on_click(self, event) -> None:
        for plot, image in self._plots.values():
            if plot.sceneBoundingRect().contains(event.scenePos()):
                point = plot.vb.mapSceneToView(event.scenePos())
                step, unit = int(np.floor(point.x())), int(np.floor(point.y()))
                if image.image is not None and 0 <= unit < image.image.shape[0] and 0 <= step < image.image.shape[1]:
                    self.picked.emit(step, unit)
                return

    def plot_names(self) -> list[str]:
        return list(self._plots)


class UnrolledGraph(QWidget):
    """The network unrolled over the last few steps: x_t below, h_t in the middle, y_t above.

    Every arrow h_{t-1} -> h_t carries the same W_hh: the recurrence reuses its weights.
    The current step is lit.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setProperty("drawing", True)  # exported with the plots (File → Export)
        self.setMinimumHeight(220)
        self._inputs: list[str] = []
        self._outputs: list[str] = []
        self._values: list[float] = []
        self._first_step = 0
        self._current = -1
        self.unit_name = "h"
        # The rows' names: a char model's, or a word model's (set_words)
        self.input_title = "x_t: the character\nread at step t"
        self.output_title = "y_t: likeliest\nnext character"

    def set_words(self, words: bool) -> None:
        """Name the rows for a word-level sentiment model (x_t a word, y_t p(positive)) or a char model."""
        self.input_title = "x_t: the word\nread at step t" if words else "x_t: the character\nread at step t"
        self.output_title = "y_t: p(positive)\nafter the word" if words else "y_t: likeliest\nnext character"
        self.update()

    def set_steps(self, first_step: int, inputs: list[str], outputs: list[str], values: list[float],
                  current: int) -> None:
        self._first_step = first_step
        self._inputs, self._outputs, self._values = inputs, outputs, values
        self._current = current
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        text_color = self.palette().text().color()
        n = len(self._inputs)
        if n == 0:
            p.setPen(text_color)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Read a text to see the network unrolled over it.")
            return
        w, h = self.width(), self.height()
        margin = min(190.0, w * 0.16)  # a column on the left names the rows
        col = (w - margin) / n
        node = min(col * 0.42, h * 0.2)  # circles for x_t and y_t
        box_w, box_h = min(col * 0.62, node * 1.9), node * 1.05  # boxes for h_t
        rows = {"y": h * 0.16, "h": h * 0.47, "x": h * 0.78}
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, node * 0.3))
        small = QFont(self.font())
        small.setPointSizeF(max(8.0, node * 0.2))
        lit = QColor(242, 163, 58)
        grey = QColor(120, 120, 120)
        p.setFont(small)
        p.setPen(text_color)
        for row, label in (("y", self.output_title), ("h", f"h_t: the state,\nunit {self.unit_name}"),
                           ("x", self.input_title)):
            p.drawText(QRectF(4, rows[row] - node, margin - 8, 2 * node), Qt.AlignmentFlag.AlignVCenter, label)
        for k in range(n):
            cx = margin + col * (k + 0.5)
            step = self._first_step + k
            current = step == self._current
            p.setPen(QPen(grey, 2))
            draw_arrow(p, QPointF(cx, rows["x"] - node / 2), QPointF(cx, rows["h"] + box_h / 2))
            draw_arrow(p, QPointF(cx, rows["h"] - box_h / 2), QPointF(cx, rows["y"] + node / 2))
            if k > 0:
                p.setPen(QPen(lit if current else grey, 3 if current else 2))
                draw_arrow(p, QPointF(cx - col + box_w / 2, rows["h"]), QPointF(cx - box_w / 2, rows["h"]))
                p.setFont(small)
                p.setPen(text_color)
                p.drawText(QRectF(cx - col + box_w / 2, rows["h"] - node * 0.75, col - box_w, node * 0.6),
                           Qt.AlignmentFlag.AlignCenter, "W_hh")
            value = self._values[k]
            shade = QColor(214, 69, 48) if value > 0 else QColor(49, 105, 188)
            shade.setAlphaF(min(1.0, abs(value)) * 0.8)
            box = QRectF(cx - box_w / 2, rows["h"] - box_h / 2, box_w, box_h)
            p.setBrush(QBrush(shade))
            p.setPen(QPen(lit if current else QColor(60, 60, 60), 5 if current else 1.5))
            p.drawRoundedRect(box, 8, 8)
            p.setFont(font)
            p.setPen(QColor("white") if abs(value) > 0.6 else text_color)
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, f"{value:+.2f}")
            for row, label in (("x", visible_char(self._inputs[k])), ("y", visible_char(self._outputs[k]))):
                r = QRectF(cx - node / 2, rows[row] - node / 2, node, node)
                p.setBrush(QBrush(QColor(255, 244, 214) if current else QColor(240, 240, 240)))
                p.setPen(QPen(lit if current else QColor(150, 150, 150), 3 if current else 1))
                p.drawEllipse(r)
                p.setPen(text_color)
                if len(label) > 1:  # a word, or a probability: as much as fits a little wider than the circle
                    label = QFontMetrics(p.font()).elidedText(label, Qt.TextElideMode.ElideRight, int(col * 0.95))
                    r = QRectF(cx - col * 0.48, r.top(), col * 0.96, r.height())
                p.drawText(r, Qt.AlignmentFlag.AlignCenter, label)
            p.setFont(small)
            p.drawText(QRectF(cx - col / 2, rows["x"] + node * 0.6, col, node * 0.6), Qt.AlignmentFlag.AlignCenter,
                       f"t = {step + 1}")
        p.end()


class MemoryPathView(pg.GraphicsLayoutWidget):
    """The forget gate carrying the gradient (docs/LECTURE-MAP.md), on the real model: one unit's
    keep gate over the text (the LSTM's forget gate f_t, the GRU's update gate z_t), and under
    it how much of the gradient from the last character still reaches each step along the
    memory path: the product of the gates in between. Where the gate falls toward 0, the unit
    forgets and the curve drops."""

    GATE_PEN = (49, 105, 188)
    REACH_PEN = (214, 69, 48)
    picked = Signal(int)  # a step clicked

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.text = ""
        self.gate = ""
        self.keep: np.ndarray | None = None
        self.gate_plot = self.addPlot(row=0, col=0)
        # Room above 1 and below 0: the axis drops a number that would stick out of it, as the
        # top "1.0" in presenter mode's large type did.
        self.gate_plot.setLimits(yMin=GATE_RANGE[0], yMax=GATE_RANGE[1])
        self.gate_plot.setYRange(*GATE_RANGE, padding=0)
        self.gate_plot.setLabel("left", "gate value")
        self.gate_plot.showGrid(x=True, y=True, alpha=0.2)
        self.gate_curve = self.gate_plot.plot(pen=pg.mkPen(self.GATE_PEN, width=2))
        self.reach_plot = self.addPlot(row=1, col=0)
        self.reach_plot.setLogMode(x=False, y=True)
        self.reach_plot.setLabel("left", "gradient kept (log scale)")
        self.reach_plot.setLabel("bottom", "step (character read)")  # set_step_name changes it
        self.reach_plot.showGrid(x=True, y=True, alpha=0.2)
        self.reach_plot.setXLink(self.gate_plot)
        self.reach_curve = self.reach_plot.plot(pen=pg.mkPen(self.REACH_PEN, width=2))
        self.cursors = []
        for plot in (self.gate_plot, self.reach_plot):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            line = pg.InfiniteLine(angle=90, pen=pg.mkPen((0, 0, 0), width=1.5))
            line.setVisible(False)
            plot.addItem(line)
            self.cursors.append(line)
        self.reach: np.ndarray | None = None
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_click)

    def set_step_name(self, name: str) -> None:
        """What one step reads ("character" or "word"), for the time axis."""
        self.reach_plot.setLabel("bottom", f"step ({name} read)")

    def show_unit(self, text, gate_title: str, gate: str, keep: np.ndarray, layer: int, unit: int) -> None:
        """`keep`: the unit's gate value at each step of `text` (T,), a str of characters or a
        word model's list of words; `gate_title` names it, ending in its symbol `gate`
        ("forget gate f")."""
        keep = np.asarray(keep, dtype=np.float64)
        self.text, self.gate, self.keep = text, gate, keep
        for plot in (self.gate_plot, self.reach_plot):
            label_steps(plot.getAxis("bottom"), text if isinstance(text, list) else None)
        steps = np.arange(len(keep)) + 0.5  # the middle of each step's column, as in the heatmaps
        self.reach = memory_reach(keep)
        self.gate_curve.setData(steps, keep)
        shown = np.where(self.reach >= GRADIENT_FLOOR, self.reach, np.nan)  # ends there, not flat along it
        self.reach_curve.setData(steps, shown, connect="finite")
        self.gate_plot.setTitle(f"{gate_title}<sub>t</sub>, layer {layer + 1}, unit {unit}", size="10pt")
        self.reach_plot.setTitle(
            f"what reaches step t of the gradient from the last step, along the memory: "
            f"{gate}<sub>t+1</sub> × … × {gate}<sub>T</sub>", size="10pt")
        self.gate_plot.setXRange(0, len(keep), padding=0)
        self.gate_plot.setYRange(*GATE_RANGE, padding=0)  # fixed, so units compare at a glance
        if presenter_on():  # the titles were set anew: presenter mode's sizes again
            apply_presenter_to(self, True)

    def step_at(self, scene_pos) -> int | None:
        """The step under a point of the scene, if it is over either plot and the text."""
        for plot in (self.gate_plot, self.reach_plot):
            if plot.sceneBoundingRect().contains(scene_pos):
                step = int(np.floor(plot.vb.mapSceneToView(scene_pos).x()))
                return step if self.keep is not None and 0 <= step < len(self.keep) else None
        return None

    def describe_step(self, step: int) -> str:
        """What a tooltip says of one step: the character, the gate, what the gradient keeps."""
        return (f"step {step + 1}: read “{visible_char(self.text[step])}”\n"
                f"{self.gate}_t = {self.keep[step]:.3f}\n"
                f"gradient from the last step kept here: {self.reach[step]:.2g}")

    def _on_mouse_moved(self, scene_pos) -> None:
        step = self.step_at(scene_pos)
        self.setToolTip(self.describe_step(step) if step is not None else "")

    def _on_click(self, event) -> None:
        step = self.step_at(event.scenePos())
        if step is not None:
            self.picked.emit(step)

    def set_step(self, step: int | None) -> None:
        for line in self.cursors:
            line.setVisible(step is not None)
            if step is not None:
                line.setValue(step + 0.5)

    def set_pen_width(self, width: float) -> None:
        self.gate_curve.setPen(pg.mkPen(self.GATE_PEN, width=width))
        self.reach_curve.setPen(pg.mkPen(self.REACH_PEN, width=width))


class StepStrip(CharStrip):
    """The text a unit colours, one cell per step: a character a cell (CharStrip's layout), or,
    for a word model, a word a cell, each as wide as its word (set_steps)."""

    def __init__(self, parent=None):
        self._words = False
        super().__init__(parent)

    def set_steps(self, steps, words: bool) -> None:
        """`steps`: the text (one cell per character), or a word model's list of words."""
        self._words = words
        self.set_text(list(steps) if words else steps)

    def _relayout(self) -> None:
        if not self._words:
            super()._relayout()
            return
        fm = QFontMetrics(self.font())
        height = fm.height() + 6
        pad = fm.horizontalAdvance(" ")
        cells, x, y = [], 4, 4
        for word in self._text:
            width = fm.horizontalAdvance(word) + 2 * pad
            if x > 4 and x + width > self.width() - 4:
                x, y = 4, y + height + 3
            cells.append(QRect(x, y, width, height))
            x += width + 3
        self._cells = cells
        self.setMinimumHeight(y + height + 8)
        self.updateGeometry()
        self.update()


def label_steps(axis: pg.AxisItem, words: list[str] | None) -> None:
    """Write a word model's words under their steps' columns (step k spans k to k + 1), or
    number the steps (None). Past MAX_WORD_TICKS words they would overlap: numbered too."""
    if words and len(words) <= MAX_WORD_TICKS:
        axis.setTicks([[(k + 0.5, word) for k, word in enumerate(words)]])
    else:
        axis.setTicks(None)
