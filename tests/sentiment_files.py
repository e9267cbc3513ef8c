"""Tiny sentiment model files, really trained on the toy sentences, for the worker, panel and
command-line tests of the sentiment feature."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from sentiment_helpers import toy_data, train_toy


@lru_cache(maxsize=None)
def _trained(arch: str, steps: int):
    data = toy_data()
    trainer, _ = train_toy(arch, steps=steps, data=data)
    trainer.validate()
    return trainer, data


def write_tiny_model(path: Path, arch: str = "lstm", steps: int = 150) -> Path:
    """A tiny `arch` model with its projection and sentiment unit, saved to `path`."""
    from rnnstudio.nn.sentiment import find_sentiment_unit, fit_projection, save_sentiment

    trainer, data = _trained(arch, steps)
    rows = data.indices("train")
    _, finals = trainer.model.predict_ids([data.ids[n] for n in rows])
    labels = np.array([data.sentences[n].label for n in rows])
    trained = trainer.trained_info()
    trained["sentiment_unit"] = find_sentiment_unit(finals, labels)
    save_sentiment(path, trainer.model, trained, fit_projection(finals, labels, cloud_size=200))
    return path


def write_tiny_models(folder: Path, archs=("lstm", "rnn")) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {arch: write_tiny_model(folder / f"sentiment-{arch}.safetensors", arch) for arch in archs}
