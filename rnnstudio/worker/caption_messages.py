"""What the captioning panel asks of the worker, and what comes back. Plain data: no Qt, no torch.

Handled in rnnstudio.worker.caption_work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnnstudio.worker.protocol import Request

HANDLED_IN = "rnnstudio.worker.caption_work"


@dataclass(frozen=True)
class CaptionModelInfo:
    path: str | None
    encoder: str
    vocab_size: int
    input_size: int
    trained: dict


@dataclass(frozen=True)
class LoadCaptionModelRequest(Request):
    handled_in = HANDLED_IN
    answers = CaptionModelInfo

    path: str | None = None  # None: the shipped shapes captioner

    def describe(self) -> str:
        return "loading the captioner"


@dataclass(frozen=True)
class CaptionResult:
    frame_index: int
    image: Any  # the frame that was captioned (H, W, 3) uint8, for freeze and overlays
    words: list[str]
    probabilities: list[float]  # P(word | words before it, image), one a word
    attention: Any  # (words, grid, grid) float32, each map summing to 1
    nbest: list[tuple[str, float]]  # (caption, total log-probability), best first
    grade: str | None  # "without errors" ... "unrelated", for frames whose truth is known
    f1: float | None
    seconds: float  # from request start to caption on the worker

    @property
    def caption(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class CaptionRequest(Request):
    """Caption one frame. The panel sends the newest frame only when the last one is done."""

    handled_in = HANDLED_IN
    answers = CaptionResult

    image: Any = None  # (H, W, 3) uint8 RGB
    beam: int = 3
    frame_index: int = 0
    truth: Any = None  # the Scene of a generated frame, to grade the caption

    def describe(self) -> str:
        return "captioning"
