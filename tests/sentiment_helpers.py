"""Small, learnable sentiment data and tiny trained models, for the sentiment tests."""

from __future__ import annotations

import random

import torch

from rnnstudio.data.sentiment import NEGATIVE, POSITIVE, SOURCES, Sentence, load_sentiment_data

GOOD = ["good", "great", "fine", "fun", "lovely", "superb"]
BAD = ["bad", "awful", "dull", "boring", "poor", "weak"]
SUBJECTS = ["the film", "the plot", "this phone", "the meal", "the actors", "it"]


def toy_sentences(n: int = 1200, seed: int = 0) -> list[Sentence]:
    """Sentences whose label needs the order of the words: "the plot was not dull", "the film
    was good but the meal was awful" (the clause after "but" decides). Every seventh is neutral
    ("the film was there"). Splits 8:1:1 by position; sources in turn."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        subject = rng.choice(SUBJECTS)
        kind = rng.random()
        if i % 7 == 6:
            text, label, rating = f"{subject} was there", None, 0.1
        elif kind < 0.35:
            positive = rng.random() < 0.5
            text = f"{subject} was not {rng.choice(BAD if positive else GOOD)}"
            label = POSITIVE if positive else NEGATIVE
        elif kind < 0.6:
            positive = rng.random() < 0.5
            first = rng.choice(BAD if positive else GOOD)
            second = rng.choice(GOOD if positive else BAD)
            text = f"{subject} was {first} but {rng.choice(SUBJECTS)} was {second}"
            label = POSITIVE if positive else NEGATIVE
        else:
            positive = rng.random() < 0.5
            text = f"{subject} was {rng.choice(GOOD if positive else BAD)} !"
            label = POSITIVE if positive else NEGATIVE
        if label is not None:
            rating = rng.uniform(1.0, 3.0) * (1 if label == POSITIVE else -1)
        split = "valid" if i % 10 == 8 else "test" if i % 10 == 9 else "train"
        out.append(Sentence(list(SOURCES)[i % 4], str(i), text, rating, label, split))
    return out


def toy_data(n: int = 1200, seed: int = 0):
    return load_sentiment_data(sentences=toy_sentences(n, seed), min_count=1)


def train_toy(arch: str = "lstm", steps: int = 150, data=None, **settings):
    """A real SentimentTrainer at a tiny size on the toy sentences, stepped `steps` times."""
    from rnnstudio.train.sentiment import SentimentSettings, SentimentTrainer

    options = dict(arch=arch, embed=12, hidden=16, dropout=0.0, word_dropout=0.0, batch_size=16, lr=1e-2,
                   steps=steps, eval_every=50, min_count=1, soft_targets=0.0, average=0.0)
    options.update(settings)
    torch.manual_seed(0)
    trainer = SentimentTrainer(SentimentSettings(**options), "cpu", data if data is not None else toy_data())
    losses = [trainer.step()["loss"] for _ in range(steps)]
    return trainer, losses
