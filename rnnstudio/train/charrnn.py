"""Training a char-RNN by truncated backpropagation through time.

`CharRNNTrainer.step()` runs one iteration (a batch of windows of `seq_len` characters,
forward, backward through those steps only, an Adam update) and returns plain numbers.
`CharRNNLoop` is a run of it (rnnstudio.train.loop): validation on its schedule and the
app's timeline samples; the app's worker steps it between interactive requests (pausing is
simply not stepping), `rnnstudio train charrnn` runs it to the end (`charrnn_loop`).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from rnnstudio.data.text import Corpus, Vocab
from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig
from rnnstudio.train.accel import FLOAT32
from rnnstudio.train.defaults import CharRNNDefaults
from rnnstudio.train.distributed import Run
from rnnstudio.train.loop import cosine_learning_rate, TrainingLoop
from rnnstudio.train.progress import TimelineSample


BATCH_RNG_KEY = "batch_rng.state"  # saved beside Adam's moments, so that resuming is exact


@dataclass(frozen=True)
class TrainSettings:
    seq_len: int = CharRNNDefaults.seq_len  # the BPTT window: gradients flow back at most this many characters
    batch_size: int = CharRNNDefaults.batch_size  # windows trained on at once
    lr: float = CharRNNDefaults.lr  # Adam's learning rate
    steps: int = CharRNNDefaults.steps  # iterations planned; the learning rate decays to lr/10 over them
    grad_clip: float = 5.0  # largest gradient norm, against exploding gradients
    seed: int = CharRNNDefaults.seed
    valid_windows: int = 64  # validation estimate: this many windows of seq_len * 4

    def __post_init__(self):
        if self.seq_len < 1 or self.batch_size < 1 or self.steps < 1:
            raise ValueError("sequence length, batch size and steps must be positive")
        if not self.lr > 0:
            raise ValueError("the learning rate must be positive")


class CharRNNTrainer:
    def __init__(
        self,
        corpus: Corpus,
        config: CharRNNConfig,
        settings: TrainSettings,
        device: torch.device | str = "cpu",
        vocab: list[str] | None = None,
        model: CharRNN | None = None,
        trained: dict | None = None,
        optimizer_tensors: dict[str, torch.Tensor] | None = None,
    ):
        self.device = torch.device(device)
        self.settings = settings
        self.corpus_name = corpus.name
        self.vocab = Vocab(vocab if vocab is not None else corpus.vocab())
        train_idx = self.vocab.encode_points(corpus.train)
        valid_idx = self.vocab.encode_points(corpus.valid)
        if (train_idx < 0).any() or (valid_idx < 0).any():
            bad = np.concatenate([corpus.train[train_idx < 0], corpus.valid[valid_idx < 0]])
            shown = ", ".join(repr(chr(int(p))) for p in np.unique(bad)[:8])
            from rnnstudio.errors import TextFileError

            raise TextFileError(
                f"{corpus.name} has characters the model was not built for: {shown}; "
                f"train a new model on this text instead of continuing the old one"
            )
        min_len = settings.seq_len + 2
        if len(train_idx) < min_len or len(valid_idx) < 2:
            from rnnstudio.errors import TextFileError

            raise TextFileError(
                f"{corpus.name} is too short for a sequence length of {settings.seq_len}; "
                f"use a longer text or a shorter sequence length"
            )
        dtype = np.uint8 if len(self.vocab) <= 256 else np.int16  # 1-2 bytes a character
        self.train_data = torch.from_numpy(train_idx.astype(dtype)).to(self.device)
        self.valid_data = torch.from_numpy(valid_idx.astype(dtype)).to(self.device)
        if model is None:
            config = CharRNNConfig.from_dict({**config.to_dict(), "vocab_size": len(self.vocab)})
            model = CharRNN(config)
        self.model = model.to(self.device)
        self.train_model = self.model  # what step() runs: the model, or DDP around it (train.accel.prepare)
        self.precision = FLOAT32  # float32, or mixed precision (train.accel)
        self.config = self.model.config
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.lr)
        self.iteration = int((trained or {}).get("steps", 0))
        self.chars_seen = int((trained or {}).get("chars", 0))
        if optimizer_tensors:
            self._load_optimizer_tensors(optimizer_tensors)
        self.generator = torch.Generator(device="cpu").manual_seed(settings.seed + self.iteration)
        saved_rng = (optimizer_tensors or {}).get(BATCH_RNG_KEY)
        if saved_rng is not None and saved_rng.dtype == torch.uint8:
            try:  # where the run's batch sampler was: the next batches are the ones it would draw
                self.generator.set_state(saved_rng.cpu().contiguous())
            except RuntimeError:
                pass  # not a state this torch understands: keep the seeded generator
        self.last_valid_loss: float | None = (trained or {}).get("metrics", {}).get("valid_nats_per_char")
        self.last_train_loss: float | None = None

    # --- one iteration ------------------------------------------------------------------

    def _batch(self, data: torch.Tensor, batch: int, length: int, generator: torch.Generator):
        starts = torch.randint(0, len(data) - length - 1, (batch,), generator=generator)  # (B,)
        offsets = torch.arange(length + 1)  # (T+1,)
        windows = data[(starts[:, None] + offsets[None, :]).to(data.device)].long()  # (B, T+1)
        return windows[:, :-1], windows[:, 1:]  # inputs (B, T), targets (B, T)

    def learning_rate(self) -> float:
        return cosine_learning_rate(self.settings.lr, self.iteration, self.settings.steps)

    def step(self) -> dict:
        """One training iteration. Returns {'iteration', 'loss', 'chars', 'seconds', 'lr'}."""
        t0 = time.perf_counter()
        s = self.settings
        self.model.train()
        x, y = self._batch(self.train_data, s.batch_size, s.seq_len, self.generator)
        lr = self.learning_rate()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with self.precision.autocast():
            logits, _ = self.train_model(x)  # (B, T, V)
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        self.optimizer.zero_grad(set_to_none=True)
        self.precision.backward(loss)
        self.precision.step(self.optimizer, self.model.parameters(), s.grad_clip)  # clips, then steps
        self.iteration += 1
        self.chars_seen += x.numel()
        self.last_train_loss = loss.item()
        return {
            "iteration": self.iteration,
            "loss": self.last_train_loss,
            "chars": x.numel(),
            "seconds": time.perf_counter() - t0,
            "lr": lr,
        }

    @torch.no_grad()
    def validate(self) -> float:
        """Mean loss in nats per character on fixed windows of the validation text."""
        s = self.settings
        length = min(s.seq_len * 4, len(self.valid_data) - 2)
        fixed = torch.Generator(device="cpu").manual_seed(1234)  # the same windows every time
        x, y = self._batch(self.valid_data, s.valid_windows, length, fixed)
        self.model.eval()
        logits, _ = self.model(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        self.last_valid_loss = float(loss)
        return self.last_valid_loss

    # --- what a model file keeps ----------------------------------------------------------

    def trained_info(self) -> dict:
        metrics = {}
        if self.last_valid_loss is not None:
            metrics["valid_nats_per_char"] = round(self.last_valid_loss, 4)
        if self.last_train_loss is not None:
            metrics["train_nats_per_char"] = round(self.last_train_loss, 4)
        return {
            "steps": self.iteration,
            "chars": self.chars_seen,
            "corpus": self.corpus_name,
            "settings": asdict(self.settings),
            "metrics": metrics,
        }

    def optimizer_tensors(self) -> dict[str, torch.Tensor]:
        """Adam's moments by parameter name, so that training resumes exactly from a file."""
        out = {}
        names = dict(self.model.named_parameters())
        for name, param in names.items():
            state = self.optimizer.state.get(param)
            if not state:
                continue
            out[f"{name}.exp_avg"] = state["exp_avg"].detach().cpu()
            out[f"{name}.exp_avg_sq"] = state["exp_avg_sq"].detach().cpu()
            out[f"{name}.step"] = torch.as_tensor(state["step"], dtype=torch.float32).reshape(1).cpu()
        if out:
            out[BATCH_RNG_KEY] = self.generator.get_state()  # uint8; without it a resumed run draws other batches
        return out

    def _load_optimizer_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        for name, param in self.model.named_parameters():
            keys = [f"{name}.exp_avg", f"{name}.exp_avg_sq", f"{name}.step"]
            if not all(k in tensors for k in keys):
                continue
            if tensors[keys[0]].shape != param.shape or tensors[keys[1]].shape != param.shape:
                continue
            self.optimizer.state[param] = {
                "step": torch.tensor(float(tensors[keys[2]].reshape(-1)[0])),
                "exp_avg": tensors[keys[0]].to(self.device, param.dtype).clone(),
                "exp_avg_sq": tensors[keys[1]].to(self.device, param.dtype).clone(),
            }


@torch.no_grad()
def evaluate_text(model: CharRNN, indices: np.ndarray, device="cpu", streams: int = 16, chunk: int = 256) -> float:
    """Mean negative log-likelihood in nats per character of a whole text.

    Every character after the first is predicted from all that precedes it within its
    stream: the text is cut into `streams` contiguous pieces run side by side, the state
    carried from chunk to chunk.
    """
    model.eval()
    data = torch.from_numpy(np.asarray(indices)).long()
    streams = max(1, min(streams, (len(data) - 1) // 2))
    per = (len(data) - 1) // streams
    if per < 1:
        raise ValueError("the text must have at least two characters")
    x_all = data[: per * streams].view(streams, per).to(device)  # (S, L)
    y_all = data[1 : per * streams + 1].view(streams, per).to(device)  # (S, L)
    total, count, state = 0.0, 0, None
    for start in range(0, per, chunk):
        logits, state = model(x_all[:, start : start + chunk], state)
        y = y_all[:, start : start + chunk]
        flat = logits.reshape(-1, logits.shape[-1])
        total += float(nn.functional.cross_entropy(flat, y.reshape(-1), reduction="sum"))
        count += y.numel()
    return total / count


# --- a run ------------------------------------------------------------------------------------


class CharRNNLoop(TrainingLoop):
    """A run of a CharRNNTrainer, `steps` iterations on from where it is (rnnstudio.train.loop).

    The validation loss is measured every `eval_every` iterations of the run, at each timeline
    sample and at the end (an Evaluation each); `sample_at` (iterations within the run) are the
    app's timeline samples, each a TimelineSample. Iteration numbers count from the model's
    first training step, so a continued model goes on from where it was.
    """

    rate_key = "chars"
    totals = ("chars_seen",)

    def __init__(self, trainer: CharRNNTrainer, steps: int, run: Run | None = None, seed: int = 0,
                 eval_every: int = CharRNNDefaults.eval_every, sample_at: tuple[int, ...] = (),
                 sample_length: int = CharRNNDefaults.sample_length,
                 sample_temperature: float = CharRNNDefaults.sample_temperature):
        super().__init__(trainer, steps, run, seed)
        self.eval_every = eval_every
        self.sample_length = sample_length
        self.sample_temperature = sample_temperature
        self._sample_at = {self.first + k for k in sample_at}
        self.full_valid: float | None = None  # nats per character on all of the held-out text (finish)

    def measure(self, info: dict) -> list:
        it = info["iteration"]
        if (it - self.first) % self.eval_every and it not in self._sample_at and not self.done:
            return []
        train = self.run.mean(info["loss"])  # every process, at the same steps
        if not self.run.is_main:
            return []
        valid = self.trainer.validate()
        self.validated(it, valid)
        line = (f"iter {it:6d}  train {train:.3f}  valid {valid:.3f} nats/char  "
                f"{self.units_per_second():,.0f} chars/s")
        events = [self.evaluation(line, train=train, valid=valid)]
        if it in self._sample_at:
            events.append(self.timeline_sample(it))
        return events

    def timeline_sample(self, iteration: int) -> TimelineSample:
        model = self.trainer.model
        model.eval()
        try:
            vocab = self.trainer.vocab
            generator = torch.Generator(device="cpu").manual_seed(self.seed + iteration)
            prime = vocab.encode("\n") if "\n" in vocab.chars else []
            indices = list(model.generate(prime, self.sample_length, self.sample_temperature, 0, generator))
        finally:
            model.train()
        return TimelineSample(iteration, vocab.decode(indices), self.trainer.last_valid_loss)

    def describe(self) -> str:
        t, c = self.trainer, self.trainer.config
        return (f"{t.corpus_name}: {len(t.train_data):,} training and {len(t.valid_data):,} validation characters, "
                f"{len(t.vocab)} symbols; {c.arch} {c.layers} x {c.hidden} on {self.run.describe()}{self.speed_note()}")

    def finish(self) -> list[str]:
        """The loss on all of the held-out text, in nats and bits per character."""
        t = self.trainer
        self.full_valid = evaluate_text(t.model, t.valid_data.cpu().numpy(), device=t.device)
        self.metrics["valid_nats_per_char"] = round(self.full_valid, 4)
        self.metrics["valid_bits_per_char"] = round(self.full_valid / math.log(2), 4)
        return []

    def closing_line(self, out) -> str:
        return f"validation on all of the held-out text: {self.full_valid:.4f} nats/char; wrote {out}"

    def save_to(self, path, trained: dict) -> None:
        from rnnstudio.nn.charrnn import save_charrnn

        save_charrnn(path, self.trainer.model, self.trainer.vocab.chars, trained)


def charrnn_loop(options: CharRNNDefaults, run: Run | None = None) -> CharRNNLoop:
    """A new model trained as `options` say, in this process of `run`: `rnnstudio train charrnn`."""
    from rnnstudio.data.text import load_corpus

    run = run if run is not None else Run(torch.device("cpu"))
    corpus = load_corpus(options.corpus)
    config = CharRNNConfig(vocab_size=1, arch=options.arch, layers=options.layers, hidden=options.hidden,
                           embed=options.embed, dropout=options.dropout)
    settings = TrainSettings(  # each process draws its own windows: rank 0 keeps the seed
        seq_len=options.seq_len, batch_size=options.batch_size, lr=options.lr, steps=options.steps,
        seed=run.seed(options.seed),
    )
    torch.manual_seed(options.seed)
    trainer = CharRNNTrainer(corpus, config, settings, device=run.device)
    return CharRNNLoop(trainer, options.steps, run, seed=options.seed, eval_every=options.eval_every)
