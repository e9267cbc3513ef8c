"""What the video panel asks of the worker, and what comes back. Plain data: no Qt, no torch.

Handled in rnnstudio.worker.video_work. A clip is read frame by frame, in order, with the
LSTM's state kept on the worker between requests (`VideoFramesRequest.new_clip` starts again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnnstudio.train.progress import Evaluation, TrainingProgress
from rnnstudio.worker.protocol import Request

HANDLED_IN = "rnnstudio.worker.video_work"


@dataclass(frozen=True)
class VideoModelInfo:
    path: str | None  # None: the model trained in the app
    image_size: int  # frames are fit to this square
    hidden: int  # LSTM units: the rows of the hidden state's heatmap
    motions: tuple[str, ...]
    objects: tuple[str, ...]
    trained: dict
    decoder: bool = False  # a sentence decoder writes the description (else the template of the answers)


@dataclass(frozen=True)
class LoadVideoModelRequest(Request):
    handled_in = HANDLED_IN
    answers = VideoModelInfo

    path: str | None = None  # None: the shipped shapes-world video model

    def describe(self) -> str:
        return "loading the video model"


@dataclass(frozen=True)
class UseTrainedVideoModelRequest(Request):
    """Read clips with the model the worker's video training job holds (finished or stopped)."""

    handled_in = HANDLED_IN
    answers = VideoModelInfo

    def describe(self) -> str:
        return "switching to the trained video model"


@dataclass(frozen=True)
class FrameRead:
    """The model's reading of the clip after one more frame (rnnstudio.nn.video.FrameReading)."""

    index: int  # frames read in this clip, this one included (1 after the first)
    motion_p: Any  # (motions,) P(motion | frames so far)
    object_p: Any  # (objects,) P(acting shape | frames so far)
    hidden: Any  # (hidden,) the LSTM's h_t
    baseline_motion_p: Any  # (motions,) the single-frame baseline on this frame alone
    motion: str  # the LSTM's most likely motion so far
    obj: str | None  # the acting shape it names, None where nothing moves
    guess: str  # the two in words, "the red circle moves left", "nothing moves": the answer so far
    baseline_motion: str  # the baseline's guess from this frame alone


@dataclass(frozen=True)
class VideoFramesResult:
    clip: int  # the clip these frames belong to (the panel's count)
    readings: list[FrameRead]  # one a frame, in order
    seconds: float  # on the worker, all the frames


@dataclass(frozen=True)
class VideoFramesRequest(Request):
    """Read the next frames of a clip, in order. The panel sends what arrived since its last request."""

    handled_in = HANDLED_IN
    answers = VideoFramesResult

    frames: tuple = ()  # (H, W, 3) uint8 RGB each, any size: fit to the model's square on the worker
    new_clip: bool = False  # forget the clip read so far (the LSTM starts from zero)
    clip: int = 0

    def describe(self) -> str:
        return "reading video frames"


@dataclass(frozen=True)
class ClipWord:
    """A word of a clip's sentence as the decoder wrote it (rnnstudio.nn.video.WrittenWord)."""

    word: str
    p: float  # P(word | the clip, the words before it)
    alternatives: tuple  # ((word, p), ...) the next likeliest at this step


@dataclass(frozen=True)
class ClipDescription:
    clip: int  # the panel's clip it describes
    words: list[ClipWord]
    written: bool  # by the sentence decoder; False: the template of the two answers (a model without one)

    @property
    def sentence(self) -> str:
        return " ".join(w.word for w in self.words)


@dataclass(frozen=True)
class DescribeClipRequest(Request):
    """Write the sentence of a clip that has been read, from the LSTM's state after its last frame."""

    handled_in = HANDLED_IN
    answers = ClipDescription

    clip: int = 0
    hidden: Any = None  # (hidden,) the LSTM's h after the clip's last frame (its last FrameRead's)
    motion: str = "still"  # the heads' final answer: the template of a model without a decoder
    obj: str | None = None

    def describe(self) -> str:
        return "writing the clip's sentence"


@dataclass(frozen=True)
class VideoTrainSpec:
    """A small LRCN run in the app: few clips, few steps (rnnstudio.train.video_defaults for the full one)."""

    clips: int = 64
    steps: int = 100
    hidden: int = 64


@dataclass(frozen=True)
class VideoTrainingStarted:
    clips: int
    parameters: int


@dataclass(frozen=True)
class StartVideoTrainingRequest(Request):
    handled_in = HANDLED_IN
    answers = TrainingProgress
    partials = (VideoTrainingStarted, TrainingProgress, Evaluation)

    spec: VideoTrainSpec = VideoTrainSpec()

    def describe(self) -> str:
        return "training a video model"
