"""A translator's training run as a `TrainingLoop` (rnnstudio.train.loop), for the app's worker
and for `rnnstudio train translate`: one step is one TranslationTrainer batch; every
`eval_every` steps (and at the last) the validation loss and greedy BLEU are measured and
reported as an `Evaluation`; at the end the test split is measured, greedy and with the beam,
on the weights as they are saved (float16), as rnnstudio.train.translation.train_translation does.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from rnnstudio.train.distributed import Run
from rnnstudio.train.loop import TrainingLoop
from rnnstudio.train.translation import (
    TranslateSettings, TranslationData, TranslationTrainer, evaluate_test, shipped_data,
)


class TranslationLoop(TrainingLoop):
    rate_key = "items"  # sentence pairs per second
    totals = ("pairs_seen",)

    def __init__(self, trainer: TranslationTrainer, steps: int, run: Run | None = None):
        super().__init__(trainer, steps, run, trainer.settings.seed)
        self._recent: list[float] = []

    def measure(self, info: dict) -> list:
        self._recent.append(info["loss"])
        s = self.trainer.settings
        if (info["iteration"] - self.first) % s.eval_every and not self.done:
            return []
        valid = self.trainer.validate()
        self.validated(info["iteration"], valid["loss"])
        train = float(np.mean(self._recent))
        self._recent = []
        line = (f"iter {info['iteration']:6d}  train {train:.3f}  valid {valid['loss']:.3f} nats/token  "
                f"valid BLEU {valid['bleu']:.2f} (greedy, {valid['pairs']} pairs)  {self.elapsed() / 60:.1f} min")
        return [self.evaluation(line, loss=train, valid_loss=valid["loss"], valid_bleu=valid["bleu"])]

    def describe(self) -> str:
        s, data = self.trainer.settings, self.trainer.data
        params = sum(p.numel() for p in self.trainer.model.parameters())
        subset = f" (trained on the first {len(data.train_sources):,})" if len(data.train_sources) < len(
            data.splits.train) else ""
        return (f"{data.describe()}{subset}; {s.cell.upper()} encoder-decoder, attention {s.attention}, "
                f"hidden {s.hidden}, embed {s.embed}, {s.layers} layer(s), {params:,} parameters; "
                f"on {self.run.describe()}{self.speed_note()}")

    def finish(self) -> list[str]:
        from rnnstudio.nn.translation import round_weights

        s, model = self.trainer.settings, self.trainer.model
        round_weights(model)  # the figures are those of the file as saved (float16 weights)
        test = self.trainer.data.splits.test
        lines = []
        for name, width in (("greedy", 1), (f"beam {s.beam}", s.beam)):
            figures = evaluate_test(model, test, width=width, length_penalty=s.length_penalty)
            self.metrics["test_greedy" if width == 1 else "test_beam"] = {
                "pairs": figures["pairs"], "bleu": round(figures["bleu"], 2), "chrf": round(figures["chrf"], 2)}
            lengths = "  ".join(f"{b['words']}: {b['bleu']:.1f}" for b in figures["by_length"])
            lines.append(f"test ({figures['pairs']:,} pairs), {name}: BLEU {figures['bleu']:.2f}  "
                         f"chrF {figures['chrf']:.2f}  by French words: {lengths}")
        return lines

    def save_to(self, path, trained: dict) -> None:
        from rnnstudio.nn.translation import save_translator

        save_translator(path, self.trainer.model, trained)


def translation_loop(settings: TranslateSettings, run: Run | None = None, train_pairs: int = 0,
                     data: TranslationData | None = None) -> TranslationLoop:
    """A new translator trained as `settings` say on the shipped pairs (or `data`); `train_pairs`
    above 0 trains on that many of the training pairs only (a quick run in a class)."""
    run = run if run is not None else Run(torch.device("cpu"))
    if data is None:
        data = shipped_data(settings.min_count)
        if train_pairs:  # the same vocabularies (a quick run translates what the full one does), fewer pairs
            data = copy.copy(data)  # the shipped data is cached: never changed in place
            data.train_sources = data.train_sources[:train_pairs]
            data.train_targets = data.train_targets[:train_pairs]
    trainer = TranslationTrainer(settings, run.device, data)
    return TranslationLoop(trainer, settings.steps, run)
