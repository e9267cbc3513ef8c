"""The char-RNN work done on the device thread: loading, sampling, training, saving.

Plain Python and torch, no Qt. The handlers registered here serve the requests of
rnnstudio.worker.charrnn_messages on the `CharRNNWorkspace`, the char-RNN models the worker
holds. Training is a `TrainingRun` that the handler of StartCharRNNTrainingRequest makes the
worker's job: the worker steps it one iteration at a time, between interactive requests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from rnnstudio.data.text import Vocab, load_corpus
from rnnstudio.errors import UserError
from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig, load_charrnn, save_charrnn
from rnnstudio.paths import shipped_model
from rnnstudio.train.charrnn import CharRNNLoop, CharRNNTrainer, TrainSettings
from rnnstudio.worker.charrnn_messages import (
    SHIPPED,
    TRAINING,
    CharRNNModelInfo,
    CharRNNTrainingStarted,
    CharRNNTrainSpec,
    LoadCharRNNRequest,
    SampleRequest,
    SampleResult,
    SaveCharRNNRequest,
    StartCharRNNTrainingRequest,
    TextChunk,
)
from rnnstudio.worker.jobs import StartsJob
from rnnstudio.worker.protocol import WorkContext, handles

STREAM_INTERVAL_S = 0.03  # send streamed sample text about 30 times a second


@dataclass
class LoadedModel:
    model: CharRNN
    vocab: Vocab
    trained: dict
    path: str | None


def model_info(role: str, loaded: LoadedModel) -> CharRNNModelInfo:
    c = loaded.model.config
    return CharRNNModelInfo(
        role=role,
        path=loaded.path,
        arch=c.arch,
        layers=c.layers,
        hidden=c.hidden,
        vocab=list(loaded.vocab.chars),
        trained=dict(loaded.trained),
        parameters=sum(p.numel() for p in loaded.model.parameters()),
    )


class CharRNNWorkspace:
    """The char-RNN models the worker holds, by role, and the training run if any."""

    def __init__(self, device: torch.device):
        self.device = device
        self.models: dict[str, LoadedModel] = {}
        self.training: TrainingRun | None = None

    def model(self, role: str) -> LoadedModel:
        if role == TRAINING and self.training is not None:
            t = self.training.trainer
            return LoadedModel(t.model, t.vocab, t.trained_info(), None)
        if role not in self.models:
            what = "no model is being trained; start training first" if role == TRAINING else "no model is open"
            raise UserError(what)
        return self.models[role]

    def load(self, request: LoadCharRNNRequest) -> CharRNNModelInfo:
        path = request.path or str(shipped_model("charrnn"))
        loaded = load_charrnn(path, self.device)
        self.models[SHIPPED] = LoadedModel(loaded.model, Vocab(loaded.vocab), loaded.trained, str(path))
        self._opened_optimizer = loaded.optimizer_tensors
        return model_info(SHIPPED, self.models[SHIPPED])

    def sample(self, request: SampleRequest):
        """Stream a sample; yields TextChunk about 30 times a second, returns SampleResult."""
        if request.length < 1:
            raise UserError("the sample length must be at least 1 character")
        loaded = self.model(request.role)
        prime = loaded.vocab.encode(request.prime)
        generator = None
        if request.seed is not None:
            generator = torch.Generator(device="cpu").manual_seed(request.seed)
        model = loaded.model
        was_training = model.training
        model.eval()
        pieces: list[str] = []
        pending: list[str] = []
        t0 = last = time.perf_counter()
        try:
            for idx in model.generate(prime, request.length, request.temperature, request.top_k, generator):
                pending.append(loaded.vocab.chars[idx])
                now = time.perf_counter()
                if now - last >= STREAM_INTERVAL_S:
                    pieces.extend(pending)
                    yield TextChunk("".join(pending))
                    pending.clear()
                    last = now
        finally:
            if was_training:
                model.train()
        pieces.extend(pending)
        if pending:
            yield TextChunk("".join(pending))
        seconds = max(time.perf_counter() - t0, 1e-9)
        return SampleResult(prime=request.prime, text="".join(pieces), chars_per_second=request.length / seconds)

    def save(self, request: SaveCharRNNRequest) -> str:
        if request.role == TRAINING and self.training is not None:
            t = self.training.trainer
            save_charrnn(request.path, t.model, t.vocab.chars, t.trained_info(), t.optimizer_tensors())
        else:
            loaded = self.model(request.role)
            save_charrnn(request.path, loaded.model, loaded.vocab.chars, loaded.trained)
        return request.path

    def start_training(self, request: StartCharRNNTrainingRequest, request_id: int = 0):
        """Read the corpus and build the run; yields CharRNNTrainingStarted, returns the run (now `training`)."""
        spec = request.spec
        if spec.sample_length < 1:
            raise UserError("the timeline sample length must be at least 1")
        already = self.model(request.continue_role).trained.get("steps", 0) if request.continue_role else 0
        try:
            settings = TrainSettings(  # `steps` counts from the start of the model's training
                seq_len=spec.seq_len, batch_size=spec.batch_size, lr=spec.lr, steps=already + spec.steps,
                seed=spec.seed,
            )
            config = CharRNNConfig(
                vocab_size=1, arch=spec.arch, layers=spec.layers, hidden=spec.hidden, embed=spec.embed,
                dropout=spec.dropout,
            )
        except ValueError as e:
            raise UserError(str(e)) from None
        corpus = load_corpus(spec.corpus)
        yield None  # reading a corpus takes a moment: a chance to be cancelled
        if request.continue_role is not None:
            base = self.model(request.continue_role)
            model = CharRNN(base.model.config)
            model.load_state_dict(base.model.state_dict())
            optimizer = getattr(self, "_opened_optimizer", None) if request.continue_role == SHIPPED else None
            trainer = CharRNNTrainer(
                corpus, model.config, settings, self.device, vocab=base.vocab.chars, model=model,
                trained=base.trained, optimizer_tensors=optimizer,
            )
        else:
            torch.manual_seed(spec.seed)
            trainer = CharRNNTrainer(corpus, config, settings, self.device)
        self.training = TrainingRun(trainer, spec, request_id)
        info = model_info(TRAINING, self.model(TRAINING))
        yield CharRNNTrainingStarted(
            model=info, corpus=corpus.name, train_chars=len(corpus.train), valid_chars=len(corpus.valid),
            resumed_from=trainer.iteration,
        )
        return self.training


# --- handlers -----------------------------------------------------------------------------------


def workspace(context: WorkContext) -> CharRNNWorkspace:
    """The worker's char-RNN workspace. Its training run is the worker's job (the worker steps,
    stops and resets it), so the model in training is the job's while the job is a char-RNN run."""
    ws = context.state(CharRNNWorkspace)
    ws.training = context.job if isinstance(context.job, TrainingRun) else None
    return ws


@handles(LoadCharRNNRequest)
def load(request: LoadCharRNNRequest, context: WorkContext) -> CharRNNModelInfo:
    return workspace(context).load(request)


@handles(SaveCharRNNRequest)
def save(request: SaveCharRNNRequest, context: WorkContext) -> str:
    return workspace(context).save(request)


@handles(SampleRequest)
def sample(request: SampleRequest, context: WorkContext):
    return workspace(context).sample(request)


@handles(StartCharRNNTrainingRequest)
def start_training(request: StartCharRNNTrainingRequest, context: WorkContext):
    run = yield from workspace(context).start_training(request)
    return StartsJob(run)  # the run answers this request with progress until it ends


class TrainingRun(CharRNNLoop):
    """A training run stepped by the worker: the char-RNN loop of rnnstudio.train.charrnn (the one
    `rnnstudio train charrnn` runs), with the spec it was started from and the request it answers.
    Pausing is not stepping: nothing is lost. `spec.steps` and `spec.sample_at` count within this run."""

    def __init__(self, trainer: CharRNNTrainer, spec: CharRNNTrainSpec, request_id: int):
        super().__init__(trainer, spec.steps, seed=spec.seed, eval_every=spec.eval_every, sample_at=spec.sample_at,
                         sample_length=spec.sample_length, sample_temperature=spec.sample_temperature)
        self.spec = spec
        self.request_id = request_id
