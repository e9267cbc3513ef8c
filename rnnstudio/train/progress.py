"""What a training loop (rnnstudio.train.loop) reports while it runs. Plain data: no torch, no
Qt, so that the app's GUI thread can import it before torch is loaded."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrainingProgress:
    """Iterations since the last report, batched so the GUI is not flooded."""

    iterations: list[int]
    losses: list[float]
    valid: list[tuple[int, float]]  # (iteration, validation loss) measured in this batch
    chars_per_second: float  # what the task trains on per second: characters for a char-RNN, pictures otherwise
    learning_rate: float
    iteration: int
    planned: int
    state: str  # running | paused | stopped | finished


@dataclass(frozen=True)
class TimelineSample:
    """A char-RNN's sample taken at one of the run's chosen iterations."""

    iteration: int
    text: str
    valid_loss: float | None


@dataclass(frozen=True)
class Evaluation:
    """A measurement a loop made on its schedule: `line` is what `rnnstudio train` logs for it."""

    iteration: int
    line: str
    figures: dict[str, float] = field(default_factory=dict)  # what was measured, by name
