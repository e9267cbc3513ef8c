"""Training the sentiment classifiers, measuring them, and the whole run the command line makes.

`SentimentTrainer.step()` runs one iteration (a batch of training sentences, the loss on
each sentence's last readout, backward through every word, an Adam update) and returns
plain numbers; `validate()` measures the validation split and keeps the best weights so
far.

The loss is the cross-entropy of p_T against a target q for each sentence:

    L = -[q log p_T + (1 - q) log(1 - p_T)]
    q = sigmoid(k * rating)     with soft_targets k > 0 (the default, k = 1.5): every training
                                sentence, neutral ones too; a rating of +0.5 asks for 0.68,
                                +2 for 0.95, 0 for 0.5
    q = the label (1 or 0)      with soft_targets 0: positive and negative sentences only

Accuracy is always measured against the labels (positive above +0.5, negative below
-0.5). With `average`, the weights measured and kept are an exponential moving average of
the trained ones (Polyak averaging, decay 0.999: about the last 1,000 steps), which
wobble less from one evaluation to the next. `evaluate_test` gives the figures of models/README.md: accuracy overall,
per source and on the sentences where the order of the words matters, and the Pearson
correlation with the raters' mean, for a model and for VADER on the same sentences.
`train_sentiment` is the whole run of `rnnstudio train sentiment`.

Batches are drawn epoch by epoch: the training sentences shuffled (from the seed), cut
into pools of BUCKET_BATCHES batches, each pool sorted by length before it is cut into
batches (little padding), the batches shuffled again.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from rnnstudio.data.sentiment import (
    LABEL_THRESHOLD,
    SOURCES,
    SentimentData,
    load_sentiment_data,
    order_subsets,
)
from rnnstudio.nn.sentiment import (
    ARCHS,
    SentimentClassifier,
    SentimentConfig,
    compound_to_p,
    find_sentiment_unit,
    fit_projection,
    pad_batch,
    save_sentiment,
    unit_accuracy,
    vader_compound,
)
from rnnstudio.errors import UserError
from rnnstudio.train.loop import cosine_learning_rate
from rnnstudio.train.defaults import SentimentDefaults

BUCKET_BATCHES = 50  # batches per length-sorted pool


@dataclass(frozen=True)
class SentimentSettings(SentimentDefaults):
    """A sentiment training run's settings (their defaults in rnnstudio.train.defaults), checked."""

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, not {self.arch!r}")
        if min(self.embed, self.hidden, self.layers, self.batch_size, self.steps, self.eval_every, self.min_count) < 1:
            raise ValueError("sizes, batch size, steps, eval_every and min_count must be positive")
        if not self.lr > 0 or self.weight_decay < 0 or not self.grad_clip > 0:
            raise ValueError("the learning rate and gradient clip must be positive, weight decay at least 0")
        if not 0 <= self.dropout < 1 or not 0 <= self.word_dropout < 1:
            raise ValueError("dropout and word_dropout must be in [0, 1)")
        if self.soft_targets < 0:
            raise ValueError("soft_targets must be at least 0")
        if not 0 <= self.average < 1:
            raise ValueError("average (the moving average's decay) must be in [0, 1)")
        if not 0 <= self.label_threshold < 4:
            raise ValueError("the label threshold must be in [0, 4): ratings run from -4 to +4")

    def config(self, vocab_size: int) -> SentimentConfig:
        return SentimentConfig(vocab_size=vocab_size, arch=self.arch, embed=self.embed, hidden=self.hidden,
                               layers=self.layers, dropout=self.dropout)


class SentimentTrainer:
    def __init__(self, settings: SentimentSettings, device: torch.device | str = "cpu",
                 data: SentimentData | None = None):
        self.settings = s = settings
        self.device = torch.device(device)
        if data is None:
            data = load_sentiment_data(s.label_threshold, s.min_count)
        self.data = data
        self.train_rows = data.indices("train", labelled=not s.soft_targets)
        self.valid_rows = data.indices("valid")
        if not self.train_rows or not self.valid_rows:
            raise UserError(f"no {'training' if not self.train_rows else 'validation'} sentence has a mean rating "
                            f"beyond +-{s.label_threshold:g}; choose a lower label threshold (ratings run from "
                            f"-4 to +4)")
        self.labels = torch.tensor([data.sentences[i].label if data.sentences[i].label is not None else -1
                                    for i in range(len(data.sentences))], dtype=torch.float32)
        if s.soft_targets:
            ratings = torch.tensor([x.rating for x in data.sentences], dtype=torch.float32)
            self.targets = torch.sigmoid(s.soft_targets * ratings)
        else:
            self.targets = self.labels
        torch.manual_seed(s.seed)
        self.model = SentimentClassifier(s.config(len(data.vocab)), data.vocab.words).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
        # Polyak averaging: the average of the last ~1 / (1 - decay) steps' weights wobbles less than the last.
        self.averaged = copy.deepcopy(self.model).requires_grad_(False) if s.average else None
        self.generator = torch.Generator().manual_seed(s.seed)
        self.iteration = 0
        self.items_seen = 0
        self.epoch = 0
        self._batches: list[list[int]] = []
        self.last_train_loss: float | None = None
        self.last_valid: dict | None = None
        self.best: dict | None = None  # {"accuracy", "loss", "iteration"} of the best validation so far
        self._best_state: dict | None = None

    # --- one iteration ------------------------------------------------------------------------

    def _next_batch(self) -> list[int]:
        if not self._batches:
            s = self.settings
            order = [self.train_rows[i] for i in torch.randperm(len(self.train_rows), generator=self.generator)]
            pool = s.batch_size * BUCKET_BATCHES
            batches = []
            for start in range(0, len(order), pool):
                chunk = sorted(order[start : start + pool], key=lambda n: len(self.data.ids[n]))
                batches += [chunk[i : i + s.batch_size] for i in range(0, len(chunk), s.batch_size)]
            self._batches = [batches[i] for i in torch.randperm(len(batches), generator=self.generator)]
            self.epoch += 1
        return self._batches.pop()

    def learning_rate(self) -> float:
        return cosine_learning_rate(self.settings.lr, self.iteration, self.settings.steps)

    def step(self) -> dict:
        """One training iteration. Returns {'iteration', 'loss', 'items', 'seconds', 'lr'}."""
        t0 = time.perf_counter()
        s = self.settings
        rows = self._next_batch()
        ids, lengths = pad_batch([self.data.ids[n] for n in rows], self.data.vocab.unk)
        if s.word_dropout > 0:
            dropped = (torch.rand(ids.shape, generator=self.generator) < s.word_dropout) & (ids > 0)
            ids = ids.masked_fill(dropped, self.data.vocab.unk)
        ids, y = ids.to(self.device), self.targets[rows].to(self.device)  # (B, T), (B,)
        lr = self.learning_rate()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        logits, _ = self.model.final_logits(ids, lengths)  # (B,)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), s.grad_clip)
        self.optimizer.step()
        if self.averaged is not None:
            decay = min(s.average, (1 + self.iteration) / (10 + self.iteration))  # short memory at first
            with torch.no_grad():
                for kept, now in zip(self.averaged.parameters(), self.model.parameters()):
                    kept.lerp_(now, 1 - decay)
        self.iteration += 1
        self.items_seen += len(rows)
        self.last_train_loss = loss.item()
        return {"iteration": self.iteration, "loss": self.last_train_loss, "items": len(rows),
                "seconds": time.perf_counter() - t0, "lr": lr}

    # --- validation ---------------------------------------------------------------------------

    @torch.no_grad()
    def validate(self, keep_best: bool = True) -> dict:
        """Loss and accuracy on the labelled validation sentences: {'loss', 'accuracy', 'best'}.

        With `keep_best`, the weights are copied whenever the accuracy is the best so far
        (ties: the lower loss); `restore_best` puts them back at the end of a run. With
        settings.average, the averaged weights are the ones measured and kept.
        """
        measured = self.averaged if self.averaged is not None else self.model
        p, _ = measured.predict_ids([self.data.ids[n] for n in self.valid_rows])
        y = self.labels[self.valid_rows].numpy()
        p64 = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
        loss = float(-np.mean(y * np.log(p64) + (1 - y) * np.log(1 - p64)))
        accuracy = float(np.mean((p >= 0.5) == (y == 1)))
        better = self.best is None or (accuracy, -loss) > (self.best["accuracy"], -self.best["loss"])
        if keep_best and better:
            self.best = {"accuracy": accuracy, "loss": loss, "iteration": self.iteration}
            self._best_state = copy.deepcopy(measured.state_dict())
        self.last_valid = {"loss": loss, "accuracy": accuracy, "best": bool(keep_best and better)}
        return dict(self.last_valid)

    def restore_best(self) -> None:
        """Put back the weights of the best validation so far (no-op before any validation)."""
        if self._best_state is not None:
            self.model.load_state_dict(self._best_state)

    # --- what a model file keeps ----------------------------------------------------------------

    def objective(self) -> str:
        """What the loss asks of p_T, in words (the model file keeps it)."""
        s = self.settings
        target = (f"sigmoid({s.soft_targets:g} x mean rating), on every training sentence, neutral ones too"
                  if s.soft_targets else "the label (1 positive, 0 negative), on the positive and negative sentences")
        averaged = f"; weights: a moving average, decay {s.average:g} a step" if s.average else ""
        return f"cross-entropy of p(positive) after the last word against {target}{averaged}"

    def trained_info(self) -> dict:
        metrics = {}
        if self.last_valid is not None:
            metrics["valid_loss"] = round(self.last_valid["loss"], 4)
            metrics["valid_accuracy"] = round(self.last_valid["accuracy"], 4)
        if self.best is not None:
            metrics["best_valid_accuracy"] = round(self.best["accuracy"], 4)
            metrics["best_valid_loss"] = round(self.best["loss"], 4)
            metrics["best_step"] = self.best["iteration"]
        if self.last_train_loss is not None:
            metrics["train_loss"] = round(self.last_train_loss, 4)
        return {
            "steps": self.iteration,
            "items": self.items_seen,
            "epochs": self.epoch,
            "settings": asdict(self.settings),
            "objective": self.objective(),
            "metrics": metrics,
            "data": self.data.description(),
        }


# --- measuring ------------------------------------------------------------------------------------


def _accuracy(p: np.ndarray, y: np.ndarray) -> float | None:
    """Share right, p >= 0.5 read as positive; p exactly 0.5 (VADER finding no sentiment) counts
    as half right, the expected score of a coin toss. None for no sentences."""
    if len(y) == 0:
        return None
    right = np.where(p == 0.5, 0.5, ((p > 0.5) == (y == 1)).astype(np.float64))
    return float(right.mean())


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _figures(p: np.ndarray, rows: list[int], data: SentimentData, subsets: list[set[str]]) -> dict:
    """Accuracy overall, by source, on the order-matters subsets; Pearson r with the rating."""
    labels = np.array([data.sentences[n].label if data.sentences[n].label is not None else -1 for n in rows])
    ratings = np.array([data.sentences[n].rating for n in rows])
    labelled = labels >= 0
    sources = np.array([data.sentences[n].source for n in rows])

    def part(mask) -> dict:
        mask = mask & labelled
        return {"accuracy": _accuracy(p[mask], labels[mask]), "sentences": int(mask.sum())}

    in_subset = {name: np.array([name in s for s in subsets], dtype=bool) for name in ("negation", "but")}
    return {
        **part(np.ones(len(rows), dtype=bool)),
        "by_source": {source: part(sources == source) for source in SOURCES},
        "subsets": {
            "negation": part(in_subset["negation"]),
            "but": part(in_subset["but"]),
            "either": part(in_subset["negation"] | in_subset["but"]),
            "neither": part(~in_subset["negation"] & ~in_subset["but"]),
        },
        # Over every sentence of the split, neutral ones too: the regression view.
        "pearson": _pearson(p.astype(np.float64), ratings),
        "pearson_sentences": len(rows),
    }


def evaluate_test(model: SentimentClassifier, data: SentimentData | None = None, split: str = "test",
                  vader: bool = True) -> dict:
    """A model's figures on a split (the test split unless told), and VADER's on the same sentences.

    Accuracy (positive vs negative; neutral sentences left out) overall, per source, and on the
    "negation" and "but" subsets (and "either", "neither"); the Pearson correlation of
    p(positive) with the raters' mean over every sentence of the split, neutral ones included.
    VADER's p is (compound + 1) / 2 (see rnnstudio.nn.sentiment.compound_to_p); its ties at
    exactly 0.5 count half right.
    """
    if data is None:
        data = load_sentiment_data(LABEL_THRESHOLD)
    rows = data.indices(split, labelled=False)
    if not rows:
        raise ValueError(f"the data have no {split} sentences")
    # The model reads with its own vocabulary (the data's may differ, e.g. another min count).
    ids = [model.vocabulary.encode(data.words[n]) for n in rows]
    subsets = [order_subsets(data.words[n]) for n in rows]
    p, _ = model.predict_ids(ids)
    out = {"split": split, "model": _figures(p, rows, data, subsets)}
    if vader:
        compound = np.array([vader_compound(data.sentences[n].text) for n in rows])
        out["vader"] = _figures(compound_to_p(compound), rows, data, subsets)  # r is the compound's: p is linear in it
    return out


def describe_figures(figures: dict, name: str) -> list[str]:
    """`evaluate_test`'s figures for one reader ("model" or "vader") as lines for a log."""
    f = figures[name]

    def fmt(part: dict) -> str:
        return "n/a" if part["accuracy"] is None else f"{part['accuracy']:.4f} ({part['sentences']})"

    r = "n/a" if f["pearson"] is None else f"{f['pearson']:.4f}"
    return [
        f"{name} {figures['split']}: accuracy {fmt(f)}, Pearson r with the mean rating {r} ({f['pearson_sentences']})",
        "  by source: " + ", ".join(f"{s} {fmt(f['by_source'][s])}" for s in SOURCES),
        "  order matters: " + ", ".join(f"{k} {fmt(v)}" for k, v in f["subsets"].items()),
    ]


# --- the whole run ----------------------------------------------------------------------------------


def train_sentiment(settings: SentimentSettings, device: torch.device | str, out_path,
                    log: Callable[[str], None] = print, data: SentimentData | None = None) -> dict:
    """Train one sentiment model and save it: what `rnnstudio train sentiment` runs.

    Validates every `eval_every` iterations (a log line each time) and keeps the best
    weights; at the end measures them on the test split (the model and VADER), fits the
    2-D projection and finds the sentiment unit on the training sentences' final states,
    and saves everything in one file, atomically. Returns the file's `trained` dict (its
    "test" entry holds evaluate_test's figures). A path that cannot be written is refused
    (ModelFileError) before any training.
    """
    from rnnstudio.nn.modelfile import check_can_save

    check_can_save(out_path)
    t0 = time.perf_counter()
    trainer = SentimentTrainer(settings, device, data)
    data = trainer.data
    counts = data.counts()
    log(f"sentiment {settings.arch}: {len(data.vocab):,} words, "
        + ", ".join(f"{k} {v['positive'] + v['negative']:,} labelled (+{v['neutral']:,} neutral)"
                    for k, v in counts.items())
        + f"; {sum(p.numel() for p in trainer.model.parameters()):,} parameters")
    losses: list[float] = []
    while trainer.iteration < settings.steps:
        losses.append(trainer.step()["loss"])
        if trainer.iteration % settings.eval_every == 0 or trainer.iteration == settings.steps:
            valid = trainer.validate()
            log(f"step {trainer.iteration:5d}/{settings.steps}  train loss {np.mean(losses):.4f}  "
                f"valid loss {valid['loss']:.4f}  accuracy {valid['accuracy']:.4f}{'  best' if valid['best'] else ''}"
                f"  {time.perf_counter() - t0:.0f} s")
            losses = []
    trainer.restore_best()
    model = trainer.model
    train_seconds = time.perf_counter() - t0
    log(f"kept the weights of step {trainer.best['iteration']} "
        f"(validation accuracy {trainer.best['accuracy']:.4f})")

    figures = evaluate_test(model, data)
    for name in ("model", "vader"):
        for line in describe_figures(figures, name):
            log(line)

    train_rows = data.indices("train")
    _, finals = model.predict_ids([data.ids[n] for n in train_rows])
    train_labels = np.array([data.sentences[n].label for n in train_rows])
    projection = fit_projection(finals, train_labels, seed=settings.seed)
    unit = find_sentiment_unit(finals, train_labels)
    valid_rows = data.indices("valid")
    _, valid_finals = model.predict_ids([data.ids[n] for n in valid_rows])
    unit["accuracy_valid"] = unit_accuracy(valid_finals, [data.sentences[n].label for n in valid_rows], unit)
    log(f"sentiment unit {unit['index']} ({'+' if unit['sign'] > 0 else '-'}): accuracy {unit['accuracy']:.4f} on "
        f"training, {unit['accuracy_valid']:.4f} on validation sentences, alone")

    trained = trainer.trained_info()
    trained["metrics"]["valid_accuracy"] = round(trainer.best["accuracy"], 4)  # of the weights saved
    trained["metrics"]["valid_loss"] = round(trainer.best["loss"], 4)
    trained["steps"] = trainer.best["iteration"]  # the weights saved are these steps' (training ran on)
    trained["steps_run"] = trainer.iteration
    trained["test"] = figures
    trained["sentiment_unit"] = unit
    trained["training_seconds"] = round(train_seconds, 1)
    save_sentiment(out_path, model, trained, projection)
    log(f"saved {out_path} ({time.perf_counter() - t0:.0f} s in all)")
    return trained
