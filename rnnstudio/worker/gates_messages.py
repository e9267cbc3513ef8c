"""What the LSTM internals lab asks of the worker, and what comes back. Plain data: no Qt, no torch.

Handled in rnnstudio.worker.gates_work, on the char-RNN panel's models (roles SHIPPED and TRAINING).
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
class GatesRequest(Request):
    """Every gate and state of every layer for `text`, read from a zero state."""

    handled_in = HANDLED_IN
    answers = GatesResult

    role: str = SHIPPED
    text: str = ""

    def describe(self) -> str:
        return "computing gates"


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

