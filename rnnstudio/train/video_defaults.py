"""The settings of a video (LRCN) training run, with their defaults (see rnnstudio.train.defaults).

Plain data with no torch; `rnnstudio train video`, the trainer and, later, the app's controls
read their defaults from here. docs/COMMAND-LINE.md documents these values: change both together.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoDefaults:
    """An LRCN run on shapes-world clips: the frozen captioner encoder's features are cached once."""

    clips: int = 3000  # training clips, generated and encoded once (half plain, half camera look)
    steps: int = 3000
    batch_size: int = 64
    lr: float = 2e-3
    hidden: int = 256
    delta: bool = True  # the LSTM also reads each frame's change from the one before
    encoder: str | None = None  # a caption model file whose small encoder is used; None: the shipped one
    eval_clips: int = 400  # unseen clips of each look measured at the end
    log_every: int = 100
    seed: int = 0
