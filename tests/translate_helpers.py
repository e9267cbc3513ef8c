"""A tiny French-to-English translator, trained for real in a few seconds, for the worker,
command-line and panel tests of translation."""

from __future__ import annotations

from rnnstudio.data.translation import Pair, Splits

SUBJECTS = [("Je", "suis", "I", "am"), ("Tu", "es", "You", "are"), ("Il", "est", "He", "is"),
            ("Nous", "sommes", "We", "are"), ("Tom", "est", "Tom", "is")]
ADJECTIVES = [("grand", "tall"), ("content", "happy"), ("fatigué", "tired"), ("prêt", "ready")]


def tiny_pairs() -> list[Pair]:
    pairs = [Pair(f"{fs} {fv} {fa}.", f"{es} {ev} {ea}.") for fs, fv, es, ev in SUBJECTS for fa, ea in ADJECTIVES]
    return pairs + [Pair("Une voiture rouge.", "A red car."), Pair("Je ne sais pas.", "I don't know.")]


def train_tiny_translator(path, attention: str = "additive", steps: int = 80):
    """Train on the tiny pairs and save to `path`; returns the trained Translator."""
    from rnnstudio.nn.translation import save_translator
    from rnnstudio.train.translation import TranslateSettings, TranslationData, TranslationTrainer

    pairs = tiny_pairs()
    data = TranslationData(Splits(train=pairs, valid=pairs[:4], test=pairs[-4:]), min_count=1)
    settings = TranslateSettings(attention=attention, embed=16, hidden=32, batch_size=8, lr=1e-2, steps=steps,
                                 eval_every=steps, valid_pairs=4)
    trainer = TranslationTrainer(settings, "cpu", data)
    for _ in range(steps):
        trainer.step()
    save_translator(path, trainer.model, trainer.trained_info())
    return trainer.model
