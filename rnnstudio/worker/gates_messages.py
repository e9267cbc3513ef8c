"""What the LSTM internals lab asks of the worker, and what comes back. Plain data: no Qt, no torch.

Handled in rnnstudio.worker.gates_work, on the char-RNN panel's models (roles SHIPPED and TRAINING),
one character a step, or on the sentiment panel's word-level models (GatesRequest.sentiment),
one word a step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnnstudio.worker.charrnn_messages import SHIPPED
from rnnstudio.worker.protocol import Request

HANDLED_IN = "rnnstudio.worker.gates_work"

# The longest text the LSTM lab reads. One uninterruptible pass over it must end well within
# the 2 s the app gives itself to close: 5,000 characters through the shipped 2 x 256 LSTM take
# about 1 s on 2 CPU cores (20,000 took 3.9 s); the views are made for about 2,000.
MAX_GATES_CHARS = 5_000


CHAR, WORD = "char", "word"  # what one step of a reading is


@dataclass(frozen=True)
class GatesResult:
    text: str
    arch: str
    vocab: list[str]  # a char model's characters (the columns of probs); empty for a word model
    layers: list[dict]  # per layer: name -> (T, H) float32 array
    preacts: list[dict]  # per layer: the x and h parts of each pre-activation, (T, H)
    probs: Any  # (T, V) next-character distribution after each character; a word model: (T, 1) p(positive)
    saturation: list[dict]  # per layer: gate name -> (left (H,), right (H,)) fractions
    level: str = CHAR  # CHAR: one step per character of text; WORD: one per token of `steps`
    steps: list[str] | None = None  # a word model's tokens, as it read them (lower case); None: the characters
    spans: list[tuple[int, int]] | None = None  # each token's [start, end) in `text`
    known: Any = None  # (T,) bool: False where a word model read <unk>; None for a char model
    model_title: str = ""  # which model read it, in words: "the sentiment LSTM (sentiment-lstm.safetensors)"
    sentiment_unit: dict | None = None  # a sentiment model's unit whose final value best predicts the label

    def step_labels(self) -> list[str]:
        """What was read at each step: the characters, or a word model's tokens."""
        return list(self.steps) if self.steps is not None else list(self.text)

    @property
    def length(self) -> int:
        return len(self.steps) if self.steps is not None else len(self.text)

    @property
    def is_words(self) -> bool:
        return self.level == WORD

    def p_positive(self):
        """A word model's p(positive) after each word, (T,); None for a char model."""
        return self.probs[:, 0] if self.is_words else None


@dataclass(frozen=True)
class GatesRequest(Request):
    """Every gate and state of every layer for `text`, read from a zero state."""

    handled_in = HANDLED_IN
    answers = GatesResult

    role: str = SHIPPED
    text: str = ""
    # A sentiment model's name instead ("lstm", "gru", "rnn", or "training" for the sentiment
    # panel's run): `text` is read through it one word a step, with the sentiment tokeniser.
    sentiment: str | None = None

    def describe(self) -> str:
        return "computing gates"


@dataclass(frozen=True)
class GatesSource:
    """What another panel sends the lab to read (Panel.open_in): a text, and the sentiment
    model to read it with (None: the char-RNN chosen in the lab)."""

    text: str
    sentiment: str | None = None  # a sentiment model's name, as in GatesRequest
    model_title: str = ""  # its name in the lab's model list: "sentiment LSTM"
    unit: int | None = None  # the unit to follow once read (the sentiment unit)


@dataclass(frozen=True)
class HypothesisResult:
    ranked: list[tuple[int, float]]  # (unit, score), best first
    matches: list[tuple[int, int]]  # spans where the best units are on together
    units: list[int]  # the units the matches are for


@dataclass(frozen=True)
class HypothesisRequest(Request):
    """Units on inside [start, end) of the last gates text and off around it."""

    handled_in = HANDLED_IN
    answers = HypothesisResult

    values: Any = None  # (T, H) array of the state searched
    start: int = 0
    end: int = 0
    threshold: float = 0.5
    top: int = 10

    def describe(self) -> str:
        return "searching units"


@dataclass(frozen=True)
class InterventionResult:
    plain: str
    intervened: str


@dataclass(frozen=True)
class InterventionRequest(Request):
    """Sample twice from the same seed: as is, and with chosen units clamped."""

    handled_in = HANDLED_IN
    answers = InterventionResult

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
class GradientResult:
    curves: dict  # arch -> (steps,) array of norms at distance 1..steps
    explanation: str
    request: GradientRequest | None = None  # what was asked: a later change of the controls may be on its way


@dataclass(frozen=True)
class GradientRequest(Request):
    """The norm of dE/dh_t against the distance from the loss, for each architecture."""

    handled_in = HANDLED_IN
    answers = GradientResult

    archs: tuple[str, ...] = ("rnn", "gru", "lstm")
    hidden: int = 64
    steps: int = 200
    singular_value: float | None = 1.0
    forget_bias: float | None = None
    role: str | None = None  # a loaded model's first layer instead of fresh ones
    seed: int = 0

    def describe(self) -> str:
        return "computing gradient flow"

