"""Sentiment classification on the worker thread: the open models (one per architecture, and
the model of a training run), reading a typed text with all of them, gradient reach, minimal
pairs, the test split's worst mistakes, and training as the worker's job. The handlers here
serve the requests of rnnstudio.worker.sentiment_messages."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnstudio.data import sentiment as sd
from rnnstudio.errors import UserError
from rnnstudio.nn.sentiment import (
    ARCH_TITLES,
    ARCHS,
    LoadedSentiment,
    SentimentTextError,
    compound_to_p,
    load_sentiment,
    vader_compound,
    vader_p_positive,
)
from rnnstudio.paths import models_dirs
from rnnstudio.train.sentiment import SentimentSettings, SentimentTrainer
from rnnstudio.train.sentiment_loop import SentimentLoop
from rnnstudio.worker.jobs import StartsJob
from rnnstudio.worker.protocol import WorkContext, handles
from rnnstudio.worker.sentiment_messages import (
    TRAINING,
    VADER,
    GradientReachRequest,
    GradientReachResult,
    LoadSentimentModelsRequest,
    MinimalPairRequest,
    MinimalPairResult,
    ProbeCurve,
    SentimentExample,
    SentimentExamplesRequest,
    SentimentExamplesResult,
    SentimentModelInfo,
    SentimentModelsInfo,
    SentimentReadRequest,
    SentimentReadResult,
    SentimentTrainingStarted,
    SentimentTrainSpec,
    StartSentimentTrainingRequest,
    TrainingModelRequest,
    WordReading,
)

EDITS = ("not", "but", "move")
MAX_K = 20


def shipped_sentiment_files() -> dict[str, Path]:
    """arch -> models/sentiment-<arch>.safetensors, the first found in the models folders."""
    found: dict[str, Path] = {}
    for folder in models_dirs():
        for arch in ARCHS:
            candidate = folder / f"sentiment-{arch}.safetensors"
            if arch not in found and candidate.is_file():
                found[arch] = candidate
    return found


def model_info(name: str, loaded: LoadedSentiment) -> SentimentModelInfo:
    p = loaded.projection
    title = ARCH_TITLES[loaded.arch] + (" (training)" if name == TRAINING else "")
    return SentimentModelInfo(
        name=name, title=title, path=str(loaded.path) if loaded.path else None, trained=dict(loaded.trained),
        cloud=None if p is None else p.cloud, cloud_labels=None if p is None else p.cloud_labels,
        sentiment_unit=loaded.sentiment_unit)


@dataclass
class CurveReading:
    """What typing needs of every model but one: the attributes of a SentimentReading that one
    forward pass gives (no salience)."""

    tokens: list
    known: np.ndarray
    unknown: list[str]
    p_positive: np.ndarray
    p_start: float
    contributions: np.ndarray
    states: np.ndarray
    path_2d: np.ndarray | None
    salience: None = None


def curve_only(loaded: LoadedSentiment, text: str) -> CurveReading:
    """A reading without gradients: one forward pass gives the curve, the contributions and the
    states. Typing asks every model for this and one model for its integrated gradients, which
    cost several times as much (docs/PERFORMANCE.md)."""
    model = loaded.model
    tokens, ids, unknown = model.tokens_for(text)
    was_training = model.training  # the model of a training run: no dropout while it is read
    model.eval()
    try:
        with torch.no_grad():
            logits, states = model(torch.tensor([ids], dtype=torch.long, device=model.head.weight.device))
    finally:
        model.train(was_training)
    curve = torch.sigmoid(logits[0]).float().cpu().numpy()  # (T,)
    rows = states[0].float().cpu().numpy()  # (T, S)
    p_start = model.p_start()
    projection = loaded.projection
    return CurveReading(
        tokens=tokens, known=np.array([i != model.vocabulary.unk for i in ids], dtype=bool), unknown=unknown,
        p_positive=curve, p_start=p_start, contributions=np.diff(curve, prepend=np.float32(p_start)).astype(np.float32),
        states=rows, path_2d=projection.project(rows) if projection is not None else None)


class SentimentWorkspace:
    def __init__(self, device: torch.device):
        self.device = device
        self.models: dict[str, LoadedSentiment] = {}
        self._data = None  # the rated sentences, read once

    def data(self):
        if self._data is None:
            self._data = sd.load_sentiment_data()
        return self._data

    def sentences_of(self, min_words: int):
        """The rated sentences, or only those of at least `min_words` words (a new vocabulary)."""
        data = self.data()
        if min_words <= 0:
            return data
        kept = [s for s, words in zip(data.sentences, data.words) if len(words) >= min_words]
        labelled = {split: sum(s.split == split and s.label is not None for s in kept) for split in sd.SPLITS}
        if min(labelled["train"], labelled["valid"]) < 100:
            raise UserError(f"only {labelled['train']} training sentences have {min_words} words or more; "
                            f"choose fewer words")
        return sd.load_sentiment_data(sentences=kept)

    def load(self, request: LoadSentimentModelsRequest) -> SentimentModelsInfo:
        files = {}
        if request.paths:
            for path in request.paths:
                loaded = load_sentiment(path, self.device)
                files[loaded.arch] = loaded
        else:
            files = {arch: load_sentiment(path, self.device) for arch, path in shipped_sentiment_files().items()}
        if not files:
            raise UserError("no sentiment model was found (models/sentiment-lstm.safetensors); reinstall RNN Studio, "
                            "or train one on the Train tab or with `rnnstudio train sentiment --out FILE`")
        self.models.update(files)
        return SentimentModelsInfo(models=[model_info(name, m) for name, m in files.items()],
                                   missing=[a for a in ARCHS if a not in self.models])

    def readers(self, names, job) -> dict[str, LoadedSentiment]:
        """The open models of `names` (in that order), the training run's model under "training"."""
        out = {}
        for name in names:
            if name == TRAINING and isinstance(job, SentimentRun):
                out[name] = job.loaded()
            elif name in self.models:
                out[name] = self.models[name]
        return out

    # --- one text -------------------------------------------------------------------------------

    def read(self, request: SentimentReadRequest, job) -> SentimentReadResult:
        t0 = time.perf_counter()
        readings, refused, tokens, unknown = {}, {}, None, None
        for name, loaded in self.readers(request.models, job).items():
            try:
                if name == request.salience_of:
                    r = loaded.read(request.text, ig_steps=request.ig_steps)
                else:
                    r = curve_only(loaded, request.text)
            except SentimentTextError as e:
                refused[name] = str(e)
                continue
            tokens = r.tokens
            unknown = [w for w in r.unknown if unknown is None or w in unknown]  # unknown to every model
            unit = loaded.sentiment_unit
            readings[name] = WordReading(
                name=name, p_positive=r.p_positive, p_start=r.p_start, contributions=r.contributions,
                salience=r.salience, known=r.known, path_2d=r.path_2d,
                unit=None if unit is None else r.states[:, unit["index"]].copy())
        if tokens is None:
            if refused:
                raise SentimentTextError(next(iter(refused.values())))
            raise UserError("no sentiment model is open; wait for the shipped ones, or train one on the Train tab")
        if VADER in request.models:
            p = vader_p_positive(request.text, tokens)
            readings[VADER] = WordReading(
                name=VADER, p_positive=p, p_start=0.5, contributions=np.diff(p, prepend=np.float32(0.5)),
                salience=None, known=np.ones(len(tokens), dtype=bool), path_2d=None, unit=None)
        return SentimentReadResult(
            text=request.text, words=[t.text for t in tokens], spans=[(t.start, t.end) for t in tokens],
            unknown=unknown or [], readings=readings, refused=refused, seconds=time.perf_counter() - t0)

    def reach(self, request: GradientReachRequest, job) -> GradientReachResult:
        reach, tokens, distance = {}, [], np.zeros(0, dtype=int)
        for name, loaded in self.readers(request.models, job).items():
            r = loaded.model.gradient_reach(request.text)
            reach[name], tokens, distance = r.reach, r.tokens, r.distance
        if not reach:
            raise UserError("gradient reach needs an open vanilla RNN or LSTM model")
        return GradientReachResult(words=[t.text for t in tokens], distance=distance, reach=reach)

    def minimal_pair(self, request: MinimalPairRequest, job) -> MinimalPairResult:
        if request.edit not in EDITS:
            raise UserError(f"the edit must be one of {', '.join(EDITS)}")
        if not request.text.strip():
            raise UserError("type a sentence first; the edits change it")
        ks: list[int] = []
        if request.edit == "not":
            texts = [request.text, sd.insert_not(request.text)]
        elif request.edit == "but":
            texts = [request.text, sd.swap_but(request.text)]
        else:
            texts = []
            for k in range(min(max(request.max_k, 0), MAX_K) + 1):
                moved = sd.move_negation(request.text, k)
                if texts and moved == texts[-1]:
                    break  # k is clamped at the first word: no further text
                texts.append(moved)
                ks.append(k)
        p = {}
        for name, loaded in self.readers(request.models, job).items():
            model = loaded.model
            ids = [model.vocabulary.encode(t.text for t in sd.tokenize(text)) for text in texts]
            p[name] = [float(x) for x in model.predict_ids(ids)[0]]
        if VADER in request.models:
            p[VADER] = [float(compound_to_p(vader_compound(text))) for text in texts]
        return MinimalPairResult(edit=request.edit, texts=texts, ks=ks, p=p)

    def examples(self, request: SentimentExamplesRequest, job) -> SentimentExamplesResult:
        readers = self.readers((request.model,), job)
        if not readers:
            raise UserError(f"no {request.model} model is open")
        model = readers[request.model].model
        data = self.data()
        rows = data.indices("test")
        p, _ = model.predict_ids([model.vocabulary.encode(data.words[n]) for n in rows])
        by_source: dict[str, list[SentimentExample]] = {s: [] for s in sd.SOURCES}
        for n in np.argsort(-np.abs(p - np.array([data.sentences[r].label for r in rows]))):
            s = data.sentences[rows[n]]
            if len(by_source[s.source]) < request.per_source:
                by_source[s.source].append(SentimentExample(s.source, s.text, s.rating, sd.LABEL_NAMES[s.label],
                                                            float(p[n])))
        return SentimentExamplesResult(model=request.model, by_source=by_source)

    def training_model(self, job) -> SentimentModelInfo:
        if not isinstance(job, SentimentRun):
            raise UserError("no sentiment model has been trained in this session; train one on the Train tab")
        if not job.view_is_current():
            job.fit_view()
        return model_info(TRAINING, job.loaded())

    def start_training(self, request: StartSentimentTrainingRequest):
        spec = request.spec
        try:
            settings = SentimentSettings(arch=spec.arch, hidden=spec.hidden, steps=spec.steps,
                                         eval_every=spec.eval_every, seed=spec.seed)
        except ValueError as e:
            raise UserError(f"these training settings do not work: {e}") from None
        trainer = SentimentTrainer(settings, self.device, self.sentences_of(spec.min_words))
        run = SentimentRun(trainer, spec)
        yield SentimentTrainingStarted(arch=spec.arch, train_sentences=len(trainer.train_rows),
                                       valid_sentences=len(trainer.valid_rows),
                                       parameters=sum(p.numel() for p in trainer.model.parameters()))
        return StartsJob(run)


class SentimentRun(SentimentLoop):
    """A training run stepped by the worker: the probe sentence re-read every `probe_every` steps."""

    def __init__(self, trainer: SentimentTrainer, spec: SentimentTrainSpec):
        super().__init__(trainer, spec.steps, spec.eval_every, seed=spec.seed)
        self.spec = spec

    def loaded(self) -> LoadedSentiment:
        return LoadedSentiment(model=self.trainer.model, trained={}, projection=self.projection,
                               sentiment_unit=self.sentiment_unit, label_threshold=sd.LABEL_THRESHOLD)

    def measure(self, info: dict) -> list:
        events = super().measure(info)
        it = info["iteration"]
        if (it - self.first) % self.spec.probe_every == 0 or self.done:
            try:
                r = self.trainer.model.read(self.spec.probe, ig_steps=1)
                events.append(ProbeCurve(it, [t.text for t in r.tokens], r.p_positive))
            except SentimentTextError:
                pass  # a probe of unknown words has no curve
        if self.done:
            self.finish()
        return events


# --- handlers -----------------------------------------------------------------------------------


def _workspace(context: WorkContext) -> SentimentWorkspace:
    return context.state(SentimentWorkspace)


@handles(LoadSentimentModelsRequest)
def _load(request, context: WorkContext) -> SentimentModelsInfo:
    return _workspace(context).load(request)


@handles(SentimentReadRequest)
def _read(request, context: WorkContext) -> SentimentReadResult:
    return _workspace(context).read(request, context.job)


@handles(GradientReachRequest)
def _reach(request, context: WorkContext) -> GradientReachResult:
    return _workspace(context).reach(request, context.job)


@handles(MinimalPairRequest)
def _pair(request, context: WorkContext) -> MinimalPairResult:
    return _workspace(context).minimal_pair(request, context.job)


@handles(SentimentExamplesRequest)
def _examples(request, context: WorkContext) -> SentimentExamplesResult:
    return _workspace(context).examples(request, context.job)


@handles(TrainingModelRequest)
def _training_model(request, context: WorkContext) -> SentimentModelInfo:
    return _workspace(context).training_model(context.job)


@handles(StartSentimentTrainingRequest)
def _train(request, context: WorkContext):
    started = yield from _workspace(context).start_training(request)
    return started  # the run answers this request with progress until it ends
