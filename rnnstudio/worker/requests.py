"""What panels ask of the worker, and what comes back. Plain data: no Qt, no torch.

Every request is a frozen dataclass. The worker gives each a growing id when it is
submitted; every response carries that id, so a panel can drop a response to a request
it no longer cares about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Made in rnnstudio.train, named here for the GUI, which imports nothing of rnnstudio.train itself.
from rnnstudio.train.defaults import CharRNNDefaults  # noqa: F401
from rnnstudio.train.progress import TimelineSample, TrainingProgress  # noqa: F401

# Where models live on the worker, by role.
SHIPPED = "shipped"  # the model opened from a file (the shipped one at start)
TRAINING = "training"  # the model being trained


@dataclass(frozen=True)
class Request:
    """Base class. `interactive` requests go ahead of training steps."""

    @property
    def interactive(self) -> bool:
        return True

    def describe(self) -> str:
        return type(self).__name__.removesuffix("Request").lower()


@dataclass(frozen=True)
class LoadModelRequest(Request):
    path: str | None = None  # None: the shipped char-RNN model

    def describe(self) -> str:
        return "loading a model"


@dataclass(frozen=True)
class SaveModelRequest(Request):
    path: str
    role: str = TRAINING

    def describe(self) -> str:
        return "saving a model"


@dataclass(frozen=True)
class SampleRequest(Request):
    role: str = SHIPPED
    prime: str = ""
    length: int = 500
    temperature: float = 0.8
    top_k: int = 0
    seed: int | None = None

    def describe(self) -> str:
        return f"sampling from the {self.role} model"


@dataclass(frozen=True)
class TrainSpec:
    """Everything that defines a training run, as the panel's controls set it."""

    corpus: str = "shakespeare"  # shakespeare | python | a file path
    arch: str = "lstm"
    layers: int = 2
    hidden: int = 128
    embed: int = 64
    dropout: float = 0.0
    seq_len: int = 64
    batch_size: int = 32
    lr: float = 2e-3
    steps: int = 2000
    seed: int = 0
    eval_every: int = 100
    sample_at: tuple[int, ...] = (100, 300, 700, 2000)
    sample_length: int = 200
    sample_temperature: float = 0.8


@dataclass(frozen=True)
class StartTrainingRequest(Request):
    """Start a new run (or continue the model in `continue_role` on the new corpus)."""

    spec: TrainSpec = field(default_factory=TrainSpec)
    continue_role: str | None = None

    def describe(self) -> str:
        return "preparing training"


@dataclass(frozen=True)
class TrainingControlRequest(Request):
    action: str = "pause"  # pause | resume | stop | reset

    def describe(self) -> str:
        return f"training: {self.action}"


@dataclass(frozen=True)
class CallRequest(Request):
    """Run a plain function on the worker thread (tests, benchmarks, fault injection)."""

    fn: Any = None
    args: tuple = ()


@dataclass(frozen=True)
class ReadFileRequest(CallRequest):
    """Read a file the user chose on the worker thread: `fn(*args)` reads it and returns what
    was read. The GUI thread never waits on a file: a large picture takes seconds to decode,
    and a file on a slow or stalled disk, or a named pipe, would freeze the window."""

    what: str = "a file"  # for the status bar: "reading a picture"

    def describe(self) -> str:
        return f"reading {self.what}"


# A request handler returns this when its request stays open after the handler ends: a
# training run answers its StartTrainingRequest with progress until it finishes.
STAYS_OPEN = object()


# --- responses --------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    request_id: int
    request: Request
    payload: Any = None


@dataclass(frozen=True)
class ModelInfo:
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
class TrainingStarted:
    model: ModelInfo
    corpus: str
    train_chars: int
    valid_chars: int
    resumed_from: int  # iteration the run starts at


@dataclass(frozen=True)
class ErrorInfo:
    message: str
    user_error: bool  # True: bad input; False: an internal failure (a bug)
    details: Any = None  # what a panel may show beside the message, e.g. the unknown characters


# --- the LSTM internals lab --------------------------------------------------------------


# The longest text the LSTM lab reads. One uninterruptible pass over it must end well within
# the 2 s the app gives itself to close: 5,000 characters through the shipped 2 x 256 LSTM take
# about 1 s on 2 CPU cores (20,000 took 3.9 s); the views are made for about 2,000.
MAX_GATES_CHARS = 5_000


@dataclass(frozen=True)
class GatesRequest(Request):
    """Every gate and state of every layer for `text`, read from a zero state."""

    role: str = SHIPPED
    text: str = ""

    def describe(self) -> str:
        return "computing gates"


@dataclass(frozen=True)
class GatesResult:
    text: str
    arch: str
    vocab: list[str]
    layers: list[dict]  # per layer: name -> (T, H) float32 array
    preacts: list[dict]  # per layer: the x and h parts of each pre-activation, (T, H)
    probs: Any  # (T, V) next-character distribution after each character
    saturation: list[dict]  # per layer: gate name -> (left (H,), right (H,)) fractions


@dataclass(frozen=True)
class HypothesisRequest(Request):
    """Units on inside [start, end) of the last gates text and off around it."""

    values: Any = None  # (T, H) array of the state searched
    start: int = 0
    end: int = 0
    threshold: float = 0.5
    top: int = 10

    def describe(self) -> str:
        return "searching units"


@dataclass(frozen=True)
class HypothesisResult:
    ranked: list[tuple[int, float]]  # (unit, score), best first
    matches: list[tuple[int, int]]  # spans where the best units are on together
    units: list[int]  # the units the matches are for


@dataclass(frozen=True)
class InterventionRequest(Request):
    """Sample twice from the same seed: as is, and with chosen units clamped."""

    role: str = SHIPPED
    prime: str = ""
    length: int = 300
    temperature: float = 0.8
    seed: int = 0
    clamps: tuple[tuple[int, int, float], ...] = ()  # (layer, unit, value)
    state: str = "h"  # h, or c for an LSTM's memory cell

    def describe(self) -> str:
        return "sampling with an intervention"


@dataclass(frozen=True)
class InterventionResult:
    plain: str
    intervened: str


@dataclass(frozen=True)
class GradientRequest(Request):
    """The norm of dE/dh_t against the distance from the loss, for each architecture."""

    archs: tuple[str, ...] = ("rnn", "gru", "lstm")
    hidden: int = 64
    steps: int = 200
    singular_value: float | None = 1.0
    forget_bias: float | None = None
    role: str | None = None  # a loaded model's first layer instead of fresh ones
    seed: int = 0

    def describe(self) -> str:
        return "computing gradient flow"


@dataclass(frozen=True)
class GradientResult:
    curves: dict  # arch -> (steps,) array of norms at distance 1..steps
    explanation: str
    request: GradientRequest | None = None  # what was asked: a later change of the controls may be on its way


# --- captioning -------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadCaptionModelRequest(Request):
    path: str | None = None  # None: the shipped shapes captioner

    def describe(self) -> str:
        return "loading the captioner"


@dataclass(frozen=True)
class CaptionModelInfo:
    path: str | None
    encoder: str
    vocab_size: int
    input_size: int
    trained: dict


@dataclass(frozen=True)
class CaptionRequest(Request):
    """Caption one frame. The panel sends the newest frame only when the last one is done."""

    image: Any = None  # (H, W, 3) uint8 RGB
    beam: int = 3
    frame_index: int = 0
    truth: Any = None  # the Scene of a generated frame, to grade the caption

    def describe(self) -> str:
        return "captioning"


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


# --- visual question answering -------------------------------------------------------------


@dataclass(frozen=True)
class LoadVQAModelRequest(Request):
    path: str | None = None  # None: the shipped easy-VQA + shapes-world model

    def describe(self) -> str:
        return "loading the question-answering model"


@dataclass(frozen=True)
class VQAModelInfo:
    path: str | None
    answers: list[str]
    vocab: list[str]  # the words the question encoder knows
    image_size: int
    trained: dict


@dataclass(frozen=True)
class VQAQuestionRequest(Request):
    """Answer a question about a picture. The picture's features are computed once per
    `image_key` and reused for every later question about it."""

    image_key: str = ""
    image: Any = None  # (H, W, 3) uint8 RGB; the worker crops the centre square
    question: str = ""
    topk: int = 5

    def describe(self) -> str:
        return "answering a question"


@dataclass(frozen=True)
class VQAResult:
    image_key: str
    question: str
    words: list[str]  # the question's words as the model read them
    unknown_words: list[str]  # words the model does not know: read as <unk>, shown to the user
    answers: list[tuple[str, float]]  # top k (answer, probability), most likely first
    all_answers: list[tuple[str, float]]  # the whole distribution, most likely first
    hidden: Any  # (words, hidden) float32: the question LSTM's h after each word
    glimpses: Any  # (2, grid, grid) float32: where the model looked
    features_cached: bool  # the picture's features came from the cache
    seconds: float


@dataclass(frozen=True)
class VQAEvalRequest(Request):
    split: str = "test"  # easy-VQA's split

    def describe(self) -> str:
        return f"evaluating on easy-VQA's {self.split} split"


@dataclass(frozen=True)
class VQAEvalProgress:
    pictures_done: int
    pictures: int


@dataclass(frozen=True)
class VQAEvalResult:
    split: str
    metrics: dict  # {"accuracy", "questions", "by_type", "confusion": {"answers", "matrix"}}
    questions: list[str]
    truth: list[str]
    predicted: list[str]
    image_paths: list[str]  # the picture of each question
