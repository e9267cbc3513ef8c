"""What the LSTM internals lab looks at: the newest reading of a text (a GatesResult, one step
per character, or per word for a sentiment model), the layer, the unit followed and the step. Every inner tab draws from this one cursor and moves
it; each change is a signal, so a unit clicked in a heatmap is followed in every tab."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal


class GatesCursor(QObject):
    result_changed = Signal()  # a new text was read: everything is drawn anew
    layer_changed = Signal()  # another layer (and the unit kept within its size)
    unit_changed = Signal()
    step_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.result = None  # the newest GatesResult, or None before a text is read
        self.layer = 0
        self.unit = 0
        self.step = 0

    # --- what the tabs read ------------------------------------------------------------------

    @property
    def arch(self) -> str | None:
        return self.result.arch if self.result is not None else None

    def layer_values(self) -> dict:
        """name -> (T, H) values of every gate and state of the chosen layer."""
        return self.result.layers[self.layer]

    def unit_values(self, name: str) -> np.ndarray:
        """The followed unit's values of gate or state `name` at every step, (T,)."""
        return self.layer_values()[name][:, self.unit]

    def layers(self) -> int:
        return len(self.result.layers) if self.result is not None else 0

    def units(self) -> int:
        """Units of the chosen layer."""
        return next(iter(self.layer_values().values())).shape[1] if self.result is not None else 0

    def steps(self) -> int:
        """Steps read: characters, or a word model's words."""
        return self.result.length if self.result is not None else 0

    def step_labels(self) -> list[str]:
        """What was read at each step: the characters, or a word model's words."""
        return self.result.step_labels() if self.result is not None else []

    @property
    def is_words(self) -> bool:
        return self.result is not None and self.result.is_words

    # --- moving it ---------------------------------------------------------------------------

    def set_result(self, result) -> None:
        """A new reading: the layer, unit and step are kept where the new text has them."""
        self.result = result
        self.layer = min(self.layer, self.layers() - 1)
        self.unit = min(self.unit, self.units() - 1)
        self.step = min(self.step, self.steps() - 1)
        self.result_changed.emit()

    def set_layer(self, layer: int) -> None:
        if self.result is None or not 0 <= layer < self.layers() or layer == self.layer:
            return
        self.layer = int(layer)
        self.unit = min(self.unit, self.units() - 1)
        self.layer_changed.emit()

    def set_unit(self, unit: int) -> None:
        if self.result is None:
            return
        unit = int(np.clip(unit, 0, self.units() - 1))
        if unit != self.unit:
            self.unit = unit
            self.unit_changed.emit()

    def set_step(self, step: int) -> None:
        if self.result is None:
            return
        step = int(np.clip(step, 0, self.steps() - 1))
        if step != self.step:
            self.step = step
            self.step_changed.emit()

    def move_step(self, by: int) -> None:
        self.set_step(self.step + by)
