"""What the char-RNN panel asks of the worker, and what comes back. Plain data: no Qt, no torch.

Handled in rnnstudio.worker.charrnn_work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnstudio.train.defaults import CharRNNDefaults
from rnnstudio.train.progress import Evaluation, TimelineSample, TrainingProgress
from rnnstudio.worker.protocol import Request

# Where char-RNN models live on the worker, by role.
SHIPPED = "shipped"  # the model opened from a file (the shipped one at start)
TRAINING = "training"  # the model being trained

HANDLED_IN = "rnnstudio.worker.charrnn_work"


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CharRNNModelInfo:
    role: str
    path: str | None
    arch: str
    layers: int
    hidden: int
    vocab: list[str]
    trained: dict
    parameters: int


@dataclass(frozen=True)
class TextChunk:
    """Part of a streamed sample."""

    text: str


@dataclass(frozen=True)
class SampleResult:
    prime: str
    text: str
    chars_per_second: float
    cancelled: bool = False


@dataclass(frozen=True)
class CharRNNTrainingStarted:
    model: CharRNNModelInfo
    corpus: str
    train_chars: int
    valid_chars: int
    resumed_from: int  # iteration the run starts at


# --- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadCharRNNRequest(Request):
    handled_in = HANDLED_IN
    answers = CharRNNModelInfo

    path: str | None = None  # None: the shipped char-RNN model

    def describe(self) -> str:
        return "loading a model"


@dataclass(frozen=True)
class SaveCharRNNRequest(Request):
    handled_in = HANDLED_IN
    answers = str  # the path saved to

    path: str
    role: str = TRAINING

    def describe(self) -> str:
        return "saving a model"


@dataclass(frozen=True)
class SampleRequest(Request):
    """Stream a sample from the model in `role`."""

    handled_in = HANDLED_IN
    answers = SampleResult
    partials = (TextChunk,)  # about 30 a second

    role: str = SHIPPED
    prime: str = ""
    length: int = 500
    temperature: float = 0.8
    top_k: int = 0
    seed: int | None = None

    def describe(self) -> str:
        return f"sampling from the {self.role} model"


# Everything that defines a training run, as the panel's controls set it: the task's one
# dataclass of settings and defaults, shared with the command line and the trainer.
CharRNNTrainSpec = CharRNNDefaults


@dataclass(frozen=True)
class StartCharRNNTrainingRequest(Request):
    """Start a new run (or continue the model in `continue_role` on the new corpus). The run is the
    worker's job: it answers this request with progress until it ends (see rnnstudio.worker.jobs)."""

    handled_in = HANDLED_IN
    answers = TrainingProgress  # the last progress, once the run has finished or stopped
    partials = (CharRNNTrainingStarted, TrainingProgress, TimelineSample, Evaluation)

    spec: CharRNNTrainSpec = field(default_factory=CharRNNTrainSpec)
    continue_role: str | None = None

    def describe(self) -> str:
        return "preparing training"
