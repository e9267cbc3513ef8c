"""A sentiment training run as a TrainingLoop (rnnstudio.train.loop), for the app's worker.

Every `eval_every` iterations it measures loss and accuracy on the validation sentences
(SentimentTrainer.validate, which keeps the best weights) and on a fixed sample of training
sentences, so that the two can be drawn side by side: an `Evaluation` whose figures are
train_loss, train_accuracy, valid_loss, valid_accuracy. At the end the best weights are put
back and the 2-D projection and the sentiment unit are fitted, as the command line's run does.
"""

from __future__ import annotations

import numpy as np

from rnnstudio.train.loop import TrainingLoop
from rnnstudio.train.sentiment import SentimentTrainer

TRAIN_SAMPLE = 2000  # training sentences measured at each evaluation (all of them take too long on a CPU)


def _loss_and_accuracy(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    p64 = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    loss = float(-np.mean(y * np.log(p64) + (1 - y) * np.log(1 - p64)))
    return loss, float(np.mean((p >= 0.5) == (y == 1)))


class SentimentLoop(TrainingLoop):
    rate_key = "items"

    def __init__(self, trainer: SentimentTrainer, steps: int, eval_every: int, seed: int = 0):
        super().__init__(trainer, steps, seed=seed)
        self.eval_every = eval_every
        rows = trainer.data.indices("train")
        rng = np.random.default_rng(seed)
        self.train_sample = sorted(rng.permutation(rows)[:TRAIN_SAMPLE].tolist())
        self.projection = None
        self.sentiment_unit = None
        self.view_fitted_at: tuple[int, bool] | None = None  # (iteration, done) when they were fitted

    def measure(self, info: dict) -> list:
        it = info["iteration"]
        if (it - self.first) % self.eval_every and not self.done:
            return []
        t = self.trainer
        valid = t.validate()
        measured = t.averaged if t.averaged is not None else t.model
        p, _ = measured.predict_ids([t.data.ids[n] for n in self.train_sample])
        train_loss, train_accuracy = _loss_and_accuracy(p, t.labels[self.train_sample].numpy())
        self.validated(it, valid["loss"])
        line = (f"step {it:5d}  train loss {train_loss:.4f} accuracy {train_accuracy:.4f}  "
                f"valid loss {valid['loss']:.4f} accuracy {valid['accuracy']:.4f}{'  best' if valid['best'] else ''}")
        return [self.evaluation(line, train_loss=train_loss, train_accuracy=train_accuracy,
                                valid_loss=valid["loss"], valid_accuracy=valid["accuracy"])]

    def describe(self) -> str:
        t = self.trainer
        params = sum(p.numel() for p in t.model.parameters())
        return (f"sentiment {t.settings.arch}: {len(t.train_rows):,} training sentences, {len(t.data.vocab):,} words, "
                f"{params:,} parameters")

    def fit_view(self) -> None:
        """Fit the 2-D projection (with its cloud of training sentences' final states) and find the
        sentiment unit, for the model's present weights; kept until the weights change."""
        from rnnstudio.nn.sentiment import find_sentiment_unit, fit_projection

        t = self.trainer
        rows = t.data.indices("train")
        _, finals = t.model.predict_ids([t.data.ids[n] for n in rows])
        labels = np.array([t.data.sentences[n].label for n in rows])
        self.projection = fit_projection(finals, labels, seed=self.seed)
        self.sentiment_unit = find_sentiment_unit(finals, labels)
        self.view_fitted_at = (t.iteration, self.done)

    def view_is_current(self) -> bool:
        """Whether the projection and unit were fitted on the weights the model has now."""
        return self.projection is not None and self.view_fitted_at == (self.trainer.iteration, self.done)

    def finish(self) -> list[str]:
        """The best weights back; the projection and sentiment unit fitted on the training sentences."""
        t = self.trainer
        t.restore_best()
        self.fit_view()
        if t.best is not None:
            self.metrics["best_valid_accuracy"] = round(t.best["accuracy"], 4)
        return [f"kept the weights of step {t.best['iteration']}" if t.best else "no validation yet"]

    def trained_info(self) -> dict:
        trained = super().trained_info()
        if self.sentiment_unit is not None:
            trained["sentiment_unit"] = self.sentiment_unit
        return trained

    def save_to(self, path, trained: dict) -> None:
        from rnnstudio.nn.sentiment import save_sentiment

        save_sentiment(path, self.trainer.model, trained, self.projection)
