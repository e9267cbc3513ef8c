"""What the visual question answering panel asks of the worker, and what comes back. Plain data:
no Qt, no torch.

Handled in rnnstudio.worker.vqa_work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnnstudio.worker.protocol import Request

HANDLED_IN = "rnnstudio.worker.vqa_work"


@dataclass(frozen=True)
class VQAModelInfo:
    path: str | None
    answers: list[str]
    vocab: list[str]  # the words the question encoder knows
    image_size: int
    trained: dict


@dataclass(frozen=True)
class LoadVQAModelRequest(Request):
    handled_in = HANDLED_IN
    answers = VQAModelInfo

    path: str | None = None  # None: the shipped easy-VQA + shapes-world model

    def describe(self) -> str:
        return "loading the question-answering model"


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
class VQAQuestionRequest(Request):
    """Answer a question about a picture. The picture's features are computed once per
    `image_key` and reused for every later question about it."""

    handled_in = HANDLED_IN
    answers = VQAResult

    image_key: str = ""
    image: Any = None  # (H, W, 3) uint8 RGB; the worker crops the centre square
    question: str = ""
    topk: int = 5

    def describe(self) -> str:
        return "answering a question"


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


@dataclass(frozen=True)
class VQAEvalRequest(Request):
    """Every question of an easy-VQA split, in cancellable steps of pictures."""

    handled_in = HANDLED_IN
    answers = VQAEvalResult
    partials = (VQAEvalProgress,)

    split: str = "test"  # easy-VQA's split

    def describe(self) -> str:
        return f"evaluating on easy-VQA's {self.split} split"
