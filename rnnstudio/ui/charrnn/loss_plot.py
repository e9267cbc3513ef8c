"""The char-RNN panel's loss plot: the loss of each training batch and on held-out text, drawn
live from a timer (never per training step), with a line on the run's progress above it."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

from rnnstudio.ui.theme import LEGEND_BRUSH
from rnnstudio.ui.widgets import EmptyPlotNote, wrapping_label
from rnnstudio.train.progress import TrainingProgress

REDRAW_MS = 250  # the loss plot redraws at most 4 times a second: each redraw takes the GIL from training
LOSS_AXIS_LABEL = "loss (nats per character)"
PRESENTER_LOSS_AXIS_LABEL = "nats/char"  # in large type the long label is taller than the plot and gets cut off
TRAIN_COLOR = (70, 130, 200)
VALID_COLOR = (230, 120, 20)
NOT_TRAINED = "Not trained yet. Choose a corpus and a network, then press Train."
STATES = {"running": "training", "paused": "paused", "stopped": "stopped", "finished": "finished"}


class LossPlot(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.iterations: list[int] = []
        self.losses: list[float] = []
        self.valid_iterations: list[int] = []
        self.valid_losses: list[float] = []
        self.progress: TrainingProgress | None = None  # the newest report
        self._dirty = False
        self._view_set: list | None = None  # the plot's view range as _fit_view last set it
        self._view_wanted: tuple | None = None  # the ranges _fit_view last asked for
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.redraw)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "iteration")
        self.plot.setLabel("left", LOSS_AXIS_LABEL)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.addLegend(offset=(-10, 10), brush=LEGEND_BRUSH)  # readable where it lies over a curve
        self.train_curve = self.plot.plot(name="training batch", pen=pg.mkPen(TRAIN_COLOR, width=1))
        self.valid_curve = self.plot.plot(
            name="validation (held-out text)", pen=pg.mkPen(VALID_COLOR, width=2.5),
            symbol="o", symbolSize=6, symbolBrush=VALID_COLOR, symbolPen=None,
        )
        for curve in (self.train_curve, self.valid_curve):
            curve.setClipToView(True)
        self.train_curve.setDownsampling(auto=True, method="peak")
        self.empty = EmptyPlotNote(self.plot, "Press Train: the loss of each batch and on held-out text appears here.")
        self.empty.show()
        # A wide antialiased pen over every point costs ~86 ms a redraw at 20,000 iterations
        # (measured); one peak sample per pixel and a 1 px pen keep it under 5 ms.
        self.train_curve.opts["autoDownsampleFactor"] = 1.0
        self.progress_label = wrapping_label(NOT_TRAINED)
        v.addWidget(self.progress_label)
        v.addWidget(self.plot, 1)

    def say(self, text: str) -> None:
        """A line on the run instead of its figures: starting, stopped, not trained."""
        self.progress_label.setText(text)

    def add(self, p: TrainingProgress) -> None:
        """A batch of iterations; drawn at the next redraw, at most every REDRAW_MS."""
        self.iterations.extend(p.iterations)
        self.losses.extend(p.losses)
        for iteration, loss in p.valid:
            self.valid_iterations.append(iteration)
            self.valid_losses.append(loss)
        self.progress = p
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start(REDRAW_MS)

    def clear(self) -> None:
        for series in (self.iterations, self.losses, self.valid_iterations, self.valid_losses):
            series.clear()
        self.progress = None
        self._dirty = True
        self._view_set = self._view_wanted = None  # a new run's view fits its own curve
        self.redraw()

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        (self.empty.hide if self.iterations else self.empty.show)()
        iters, losses = np.asarray(self.iterations, dtype=float), np.asarray(self.losses, dtype=float)
        valid_losses = np.asarray(self.valid_losses, dtype=float)
        self.train_curve.setData(iters, losses)
        self.valid_curve.setData(np.asarray(self.valid_iterations, dtype=float), valid_losses)
        if self.iterations:
            self._fit_view(iters[0], iters[-1], np.concatenate([losses, valid_losses]))
        p = self.progress
        if p is not None:
            valid = f"validation {self.valid_losses[-1]:.3f}" if self.valid_losses else "validation —"
            train = f"batch loss {self.losses[-1]:.3f}" if self.losses else ""
            self.progress_label.setText(
                f"<b>{STATES.get(p.state, p.state)}</b>: iteration {p.iteration:,} of {p.planned:,} · {train} · "
                f"{valid} nats/char · {p.chars_per_second:,.0f} characters/s · learning rate {p.learning_rate:.2g}"
            )

    def _fit_view(self, first: float, last: float, losses: np.ndarray) -> None:
        """Keep every point in sight, with ranges that grow in round steps instead of following
        each new point: pyqtgraph redraws an axis's ticks and labels whenever its range moves,
        which was two thirds of a redraw (3.5 of 5.5 ms of GUI time, measured). A student's
        zoom or pan, or pyqtgraph's auto-range button, is left alone until the next run."""
        view = self.plot.getViewBox()
        if self._view_set is not None and not np.allclose(view.viewRange(), self._view_set):
            return
        finite = losses[np.isfinite(losses)]
        if finite.size == 0:
            return
        x_range = (first, first + round_up(last - first + 1))
        y_range = stepped_range(float(finite.min()), float(finite.max()))
        if (x_range, y_range) != self._view_wanted:
            self._view_wanted = (x_range, y_range)
            self.plot.setRange(xRange=x_range, yRange=y_range, padding=0.02)
            self._view_set = view.viewRange()

    def set_presenter(self, on: bool) -> None:
        scale = 2.0 if on else 1.0
        self.train_curve.setPen(pg.mkPen(TRAIN_COLOR, width=1 * scale))
        self.valid_curve.setPen(pg.mkPen(VALID_COLOR, width=2.5 * scale))
        self.valid_curve.setSymbolSize(6 * scale)
        self.plot.setLabel("left", PRESENTER_LOSS_AXIS_LABEL if on else LOSS_AXIS_LABEL)
        for axis in ("bottom", "left"):
            self.plot.getAxis(axis).setStyle(tickFont=self.font())
            self.plot.getAxis(axis).label.setFont(self.font())


def round_up(value: float) -> float:
    """The first of 1, 2, 5, 10, 20, 50, ... at or above `value` (at least 1)."""
    value = max(float(value), 1.0)
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def stepped_range(low: float, high: float) -> tuple[float, float]:
    """[low, high] widened to multiples of a round step, half a power of ten below the span:
    losses from 1.62 to 4.2 give (1.5, 4.5), which holds until a loss leaves it."""
    step = 10.0 ** math.floor(math.log10(max(high - low, 1e-6))) / 2
    # min and max: a step's multiple can round to just inside the value it was meant to enclose
    return min(math.floor(low / step) * step, low), max(math.ceil(high / step) * step, high)
