"""What the translation panel asks of the worker, and what comes back. Plain data: no Qt, no torch.

Handled in rnnstudio.worker.translate_work. Models are named by their role: "attention" (the
shipped model with additive attention), "plain" (the shipped one without: the bottleneck) and
"trained" (the one trained in the app).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rnnstudio.train.progress import Evaluation, TrainingProgress
from rnnstudio.worker.protocol import Request

HANDLED_IN = "rnnstudio.worker.translate_work"
ROLES = ("attention", "plain", "trained")
PLAIN_MODEL_FILE = "fr-en-plain.safetensors"  # shipped beside the attention model, once it is trained


@dataclass(frozen=True)
class TranslatorSummary:
    role: str
    path: str | None
    attention: bool
    cell: str
    trained: dict


@dataclass(frozen=True)
class TranslatorsInfo:
    models: dict  # role -> TranslatorSummary of the models open
    missing: dict  # role -> why it is not open (the plain model not shipped yet, say)
    test_pairs: list  # (French, English) pairs of the test split, for the panel to pick from


@dataclass(frozen=True)
class LoadTranslatorsRequest(Request):
    """Open the shipped models (or `path` as the attention role's model); the plain one is optional."""

    handled_in = HANDLED_IN
    answers = TranslatorsInfo

    path: str | None = None
    test_pairs: int = 400  # how many test pairs to send for picking, spread over the split's lengths

    def describe(self) -> str:
        return "loading the translation models"


@dataclass(frozen=True)
class BeamNodeView:
    """One hypothesis the beam kept at a step (rnnstudio.nn.translation.BeamNode, as plain data)."""

    token: str
    logprob: float
    score: float
    parent: int  # its node in the previous step; -1 at the first step
    finished: bool
    forced: bool
    winner: bool


@dataclass(frozen=True)
class Translation:
    role: str
    source: str
    source_tokens: list[str]  # the French tokens as typed
    unknown_positions: list[int]  # those the model does not know
    tokens: list[str]  # the English tokens of the best translation
    words: list[str]  # each as written in `translation`
    translation: str
    attention: Any  # (len(tokens), len(source_tokens)) float32, or None without attention
    token_logprobs: list[float]  # log P of each English token (then <eos>'s)
    nbest: list[tuple[str, float, float]]  # (translation, logprob, score), best first
    beam: list[list[BeamNodeView]]  # every hypothesis kept, step by step
    width: int
    length_penalty: float
    forced: int  # English tokens forced (a what-if), at the start of `tokens`
    reference: str | None
    sentence_bleu: float | None  # against the reference, when there is one
    seconds: float
    json: dict  # what `rnnstudio translate --json` prints for it


@dataclass(frozen=True)
class TranslateRequest(Request):
    """Translate a French text with one model by beam search (width 1: greedy)."""

    handled_in = HANDLED_IN
    answers = Translation

    text: str = ""
    role: str = "attention"
    width: int = 5
    length_penalty: float = 0.0
    nbest: int = 5
    forced_prefix: tuple[str, ...] = ()  # English tokens the translation must start with (a what-if)
    reference: str | None = None  # a test pair's English: the translation is graded with sentence BLEU

    def describe(self) -> str:
        return "translating"


@dataclass(frozen=True)
class NextWords:
    position: int
    choices: list[tuple[str, float]]  # (English token, probability), likeliest first


@dataclass(frozen=True)
class NextWordsRequest(Request):
    """The decoder's likeliest tokens at `position`, after the translation's tokens before it."""

    handled_in = HANDLED_IN
    answers = NextWords

    text: str = ""
    role: str = "attention"
    prefix: tuple[str, ...] = ()
    k: int = 5

    def describe(self) -> str:
        return "asking the decoder for its next words"


@dataclass(frozen=True)
class Forcing:
    role: str
    reference: list[str]  # the reference's tokens, then <eos>
    teacher_forced_nll: list[float]
    free_tokens: list[str]
    free_running_nll: list[float]
    diverges_at: int | None


@dataclass(frozen=True)
class ForcingRequest(Request):
    """A pair read teacher forced and free running: each step's loss, and where they part."""

    handled_in = HANDLED_IN
    answers = Forcing

    french: str = ""
    english: str = ""
    role: str = "attention"

    def describe(self) -> str:
        return "comparing teacher forcing and free running"


@dataclass(frozen=True)
class CurvesProgress:
    role: str
    done: int
    total: int


@dataclass(frozen=True)
class LengthCurves:
    curves: dict  # role -> [(length label, pairs, BLEU)]
    bleu: dict  # role -> corpus BLEU (greedy) on the test split
    pairs: int


@dataclass(frozen=True)
class LengthCurvesRequest(Request):
    """BLEU by French sentence length on the test split, greedy, for each model open."""

    handled_in = HANDLED_IN
    answers = LengthCurves
    partials = (CurvesProgress,)

    roles: tuple[str, ...] = ("attention", "plain")
    limit: int = 0  # 0: the whole test split; else its first `limit` pairs

    def describe(self) -> str:
        return "measuring BLEU by sentence length"


@dataclass(frozen=True)
class TranslateTrainSpec:
    """The app's training choices. The defaults are rnnstudio.train.translation.TranslateSettings'
    (a test checks), fewer steps: a class watches the first minutes, not the whole run."""

    attention: str = "additive"
    cell: str = "gru"
    hidden: int = 256
    embed: int = 128
    steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-3
    teacher_forcing: float = 1.0
    eval_every: int = 100
    valid_pairs: int = 200
    seed: int = 0
    train_pairs: int = 0  # 0: every training pair; else the first ones only (a quick run)


@dataclass(frozen=True)
class TranslateTrainingStarted:
    description: str


@dataclass(frozen=True)
class StartTranslateTrainingRequest(Request):
    """Train a new translator as the worker's job; it becomes the "trained" model."""

    handled_in = HANDLED_IN
    answers = TrainingProgress
    partials = (TranslateTrainingStarted, TrainingProgress, Evaluation)

    spec: TranslateTrainSpec = field(default_factory=TranslateTrainSpec)

    def describe(self) -> str:
        return "preparing translation training"
