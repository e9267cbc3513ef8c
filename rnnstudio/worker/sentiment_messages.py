"""What the sentiment panel asks of the worker, and what comes back. Plain data: no Qt, no torch.

Models are named by their architecture ("rnn", "gru", "lstm", "bow"), one open model each;
"training" names the model of the app's training run, and "vader" the rule-based baseline.

Handled in rnnstudio.worker.sentiment_work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rnnstudio.train.progress import Evaluation, TrainingProgress
from rnnstudio.worker.protocol import Request

HANDLED_IN = "rnnstudio.worker.sentiment_work"
VADER = "vader"
TRAINING = "training"
READERS = ("rnn", "gru", "lstm", "bow", VADER)  # the curves a panel may ask for, in this order
MAX_TEXT_WORDS = 1_000  # the models' own limit (rnnstudio.nn.sentiment.MAX_READ_TOKENS)


@dataclass(frozen=True)
class SentimentModelInfo:
    name: str  # rnn | gru | lstm | bow | training
    title: str  # "LSTM", "vanilla RNN", ...
    path: str | None
    trained: dict
    cloud: Any  # (N, 2) float32 training sentences' final states in the fitted projection, or None
    cloud_labels: Any  # (N,) int8: 1 positive, 0 negative
    sentiment_unit: dict | None  # {"index", "sign", "threshold", "accuracy", ...}


@dataclass(frozen=True)
class SentimentModelsInfo:
    models: list[SentimentModelInfo]
    missing: list[str]  # architectures with no shipped file


@dataclass(frozen=True)
class LoadSentimentModelsRequest(Request):
    """Open the shipped models (models/sentiment-<arch>.safetensors), or the files given."""

    handled_in = HANDLED_IN
    answers = SentimentModelsInfo

    paths: tuple[str, ...] = ()  # empty: every shipped sentiment model

    def describe(self) -> str:
        return "opening the sentiment models"


@dataclass(frozen=True)
class TrainingModelRequest(Request):
    """The model of the app's training run as the Read tab draws it: its cloud of training
    sentences' final states in a 2-D projection, and its sentiment unit, fitted on the worker
    for its present weights (the run fits them itself when it ends; a stopped or paused run's
    are fitted on asking)."""

    handled_in = HANDLED_IN
    answers = SentimentModelInfo

    def describe(self) -> str:
        return "projecting the training sentences through the trained model"


@dataclass(frozen=True)
class WordReading:
    """One model's reading of the text (T tokens)."""

    name: str
    p_positive: Any  # (T,) float32 after each token
    p_start: float  # before any token (None for VADER: 0.5)
    contributions: Any  # (T,) p_t - p_(t-1)
    salience: Any  # (T,) integrated gradients of the last p on each token; None unless asked (salience_of)
    known: Any  # (T,) bool
    path_2d: Any  # (T, 2) the states in the model's projection, or None
    unit: Any  # (T,) the sentiment unit's value after each token, or None


@dataclass(frozen=True)
class SentimentReadResult:
    text: str
    words: list[str]  # the tokens as the models read them (lower case)
    spans: list[tuple[int, int]]  # each token's [start, end) in `text`
    unknown: list[str]  # tokens no open model knows
    readings: dict[str, WordReading]  # by model name, VADER's too when asked
    refused: dict[str, str]  # model name -> why it could not read the text
    seconds: float


@dataclass(frozen=True)
class SentimentReadRequest(Request):
    """Every chosen model's p(positive) after each word, and what each word did."""

    handled_in = HANDLED_IN
    answers = SentimentReadResult

    text: str = ""
    models: tuple[str, ...] = ("rnn", "lstm", VADER)
    salience_of: str | None = "lstm"  # the one model whose integrated gradients are computed (the rest: none)
    ig_steps: int = 8  # the integral on 8 intervals: 16 took ~40 ms for four models on one core (PERFORMANCE.md)

    def describe(self) -> str:
        return "reading a sentence"


@dataclass(frozen=True)
class GradientReachResult:
    words: list[str]
    distance: Any  # (T,) tokens from the end
    reach: dict[str, Any]  # model name -> (T,) |d p_T / d x_t|


@dataclass(frozen=True)
class GradientReachRequest(Request):
    handled_in = HANDLED_IN
    answers = GradientReachResult

    text: str = ""
    models: tuple[str, ...] = ("rnn", "lstm")

    def describe(self) -> str:
        return "measuring how far back the prediction feels each word"


@dataclass(frozen=True)
class MinimalPairResult:
    edit: str
    texts: list[str]  # the original first, then the edited texts (one per k for "move")
    ks: list[int]  # for "move": the distance of each edited text; else empty
    p: dict[str, list[float]]  # model name -> p(positive) of each text


@dataclass(frozen=True)
class MinimalPairRequest(Request):
    """A one-edit change of the text: "not" (insert or take out), "but" (swap the halves), or
    "move" (the negation moved k = 0 .. max_k words away from its target)."""

    handled_in = HANDLED_IN
    answers = MinimalPairResult

    text: str = ""
    edit: str = "not"
    max_k: int = 6
    models: tuple[str, ...] = ("rnn", "lstm", VADER)

    def describe(self) -> str:
        return "reading a minimal pair"


@dataclass(frozen=True)
class SentimentExample:
    source: str
    text: str
    rating: float
    label: str  # positive | negative
    p_positive: float


@dataclass(frozen=True)
class SentimentExamplesResult:
    model: str
    by_source: dict[str, list[SentimentExample]]  # the most wrong first


@dataclass(frozen=True)
class SentimentExamplesRequest(Request):
    """The test split's sentences the model gets most wrong, by source."""

    handled_in = HANDLED_IN
    answers = SentimentExamplesResult

    model: str = "lstm"
    per_source: int = 20

    def describe(self) -> str:
        return "finding the sentences the model gets most wrong"


@dataclass(frozen=True)
class SentimentTrainSpec:
    arch: str = "lstm"
    steps: int = 1500
    hidden: int = 64
    eval_every: int = 100
    probe: str = "The movie had slow parts, but overall was worth watching"
    probe_every: int = 50
    seed: int = 0
    min_words: int = 0  # train and validate on the sentences of at least this many words only (0: all)


@dataclass(frozen=True)
class SentimentTrainingStarted:
    arch: str
    train_sentences: int
    valid_sentences: int
    parameters: int


@dataclass(frozen=True)
class ProbeCurve:
    """The probe sentence read by the model in training."""

    iteration: int
    words: list[str]
    p_positive: Any  # (T,)


@dataclass(frozen=True)
class StartSentimentTrainingRequest(Request):
    """Train a sentiment model on the worker as its job (rnnstudio.worker.jobs); its events come
    as partial results: Evaluation (figures: train/valid loss and accuracy), ProbeCurve."""

    handled_in = HANDLED_IN
    answers = TrainingProgress
    partials = (SentimentTrainingStarted, TrainingProgress, Evaluation, ProbeCurve)

    spec: SentimentTrainSpec = field(default_factory=SentimentTrainSpec)

    def describe(self) -> str:
        return f"training a sentiment {self.spec.arch}"
