"""The settings of a video (LRCN) training run, with their defaults (see rnnstudio.train.defaults).

Plain data with no torch; `rnnstudio train video`, the trainer and, later, the app's controls
read their defaults from here. docs/COMMAND-LINE.md documents these values: change both together.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoDefaults:
    """An LRCN run on shapes-world clips: the frozen captioner encoder's features are cached once."""

    clips: int = 5000  # training clips, generated and encoded once (half plain, half camera look)
    steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-3
    hidden: int = 256
    delta: bool = True  # the LSTM also reads each frame's change from the one before
    since: bool = True  # ... and its change since the clip's first frame
    pool: int = 8  # the encoder's 8 x 8 grid averaged to pool x pool (8: the whole grid)
    cell: int = 32  # a 1x1 conv with ReLU codes each grid cell in this many channels (0: none)
    mix: int = 32  # a second 1x1 conv with ReLU on each cell's codes and their changes (0: none)
    dropout: float = 0.3  # on the per-frame vector
    smoothing: float = 0.0  # label smoothing of the motion and object losses
    object_every_frame: bool = True  # the object's loss after every frame (as the motion's), not only the last
    decoder: int = 128  # the sentence decoder's word LSTM units (0: no decoder, the template describes)
    word_size: int = 32  # its word embedding
    encoder: str | None = None  # a caption model file whose small encoder is used; None: the shipped one
    eval_clips: int = 400  # unseen clips of each look measured at the end
    log_every: int = 100
    seed: int = 0
