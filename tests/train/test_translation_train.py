"""Training a tiny translator for real, the batches, the measures (sacrebleu BLEU and chrF), the whole run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnstudio.data.translation import Pair, Splits
from rnnstudio.nn.modelfile import load_model_file
from rnnstudio.nn.translation import load_translator
from rnnstudio.train.translation import (
    LengthBatches, TranslateSettings, TranslationData, TranslationTrainer, evaluate_test, source_words,
    train_translation,
)

SUBJECTS = [("Je", "suis", "I", "am"), ("Tu", "es", "You", "are"), ("Il", "est", "He", "is"),
            ("Nous", "sommes", "We", "are"), ("Tom", "est", "Tom", "is")]
ADJECTIVES = [("grand", "tall"), ("content", "happy"), ("fatigué", "tired"), ("prêt", "ready")]
TINY = dict(embed=16, hidden=32, batch_size=8, lr=1e-2, eval_every=20, valid_pairs=6)


def tiny_data() -> TranslationData:
    pairs = [Pair(f"{fs} {fv} {fa}.", f"{es} {ev} {ea}.") for fs, fv, es, ev in SUBJECTS for fa, ea in ADJECTIVES]
    pairs += [Pair("Je ne sais pas.", "I don't know."),
              Pair("Je ne connais pas la sœur de Tom.", "I don't know Tom's sister.")]
    return TranslationData(Splits(train=pairs, valid=pairs[:6], test=pairs[-6:]), min_count=1)


@pytest.mark.parametrize("attention,cell,forcing", [("additive", "gru", 1.0), ("none", "lstm", 1.0),
                                                    ("additive", "lstm", 0.5)])
def test_training_lowers_the_loss_and_learns_the_pairs(attention, cell, forcing):
    settings = TranslateSettings(attention=attention, cell=cell, teacher_forcing=forcing, steps=150, **TINY)
    trainer = TranslationTrainer(settings, "cpu", tiny_data())
    losses = [trainer.step()["loss"] for _ in range(150)]
    assert trainer.iteration == 150 and trainer.pairs_seen == 50 * 22  # 22 pairs a pass, in batches of 8, 8 and 6
    assert np.mean(losses[-10:]) < 0.3 * np.mean(losses[:5])
    info = trainer.step()
    assert set(info) >= {"iteration", "loss", "items", "seconds"} and info["iteration"] == 151
    valid = trainer.validate()
    assert valid["loss"] < 1.0 and valid["bleu"] > 50 and valid["pairs"] == 6
    assert trainer.model.translate("Je ne sais pas.", width=3).translation == "I don't know."
    record = trainer.trained_info()
    assert record["steps"] == 151 and record["metrics"]["valid_bleu"] == round(valid["bleu"], 2)
    assert record["settings"]["attention"] == attention


def test_batches_cover_every_pair_once_a_pass_in_similar_lengths():
    lengths = list(np.random.default_rng(0).integers(3, 30, size=1000))
    batches = LengthBatches(lengths, batch_size=10, seed=3)
    one_pass = [batches.next() for _ in range(100)]
    assert sorted(np.concatenate(one_pass).tolist()) == list(range(1000))
    spread = np.mean([np.ptp(np.asarray(lengths)[b]) for b in one_pass])
    assert spread < 5  # sorted within pools of 32 batches: a batch's lengths are close
    again = LengthBatches(lengths, batch_size=10, seed=3)
    assert all((again.next() == b).all() for b in one_pass)


def test_settings_are_checked():
    for bad in ({"teacher_forcing": 1.5}, {"cell": "rnn"}, {"attention": "dot"}, {"steps": 0}, {"hidden": 33},
                {"lr": 0.0}, {"length_penalty": -1.0}):
        with pytest.raises(ValueError):
            TranslateSettings(**bad)
    config = TranslateSettings(cell="lstm", attention="none").model_config(100, 90)
    assert (config.cell, config.attention) == ("lstm", "none")
    assert (config.source_vocab_size, config.target_vocab_size) == (100, 90)


def test_evaluation_scores_written_translations_with_sacrebleu():
    data = tiny_data()
    settings = TranslateSettings(steps=120, **TINY)
    trainer = TranslationTrainer(settings, "cpu", data)
    for _ in range(120):
        trainer.step()
    for width in (1, 3):
        figures = evaluate_test(trainer.model, data.splits.train, width=width)
        assert figures["pairs"] == len(data.splits.train) and figures["width"] == width
        assert figures["bleu"] > 60 and 0 < figures["chrf"] <= 100
        assert "case:mixed" in figures["bleu_signature"] and "tok:13a" in figures["bleu_signature"]
        assert figures["chrf_signature"].startswith("nrefs:1")
        assert sum(b["pairs"] for b in figures["by_length"]) == len(data.splits.train)
        assert "I don't know Tom's sister." in figures["translations"]
    assert [b["words"] for b in figures["by_length"]] == ["1-3", "4", "8"]
    assert source_words(["je", "ne", "sais", "pas", ".", "3,5", "🙂"]) == 5


def test_the_whole_run_writes_a_model_with_its_test_figures(tmp_path):
    out = tmp_path / "tiny.safetensors"
    logged = []
    settings = TranslateSettings(steps=40, beam=2, **TINY)
    torch.manual_seed(0)
    trained = train_translation(settings, "cpu", out, log=logged.append, data=tiny_data())
    assert out.is_file() and trained["steps"] == 40
    assert sum(line.startswith("iter") for line in logged) == 2  # at 20 and 40
    assert any("BLEU signature: nrefs:1|case:mixed" in line for line in logged)
    loaded = load_translator(out)
    metrics = loaded.trained["metrics"]
    assert metrics["test_beam"]["width"] == 2 and metrics["test_greedy"]["width"] == 1
    assert metrics["test_beam"]["pairs"] == 6 and "translations" not in metrics["test_beam"]
    assert loaded.trained["settings"]["steps"] == 40
    assert load_model_file(out, "translate").config["attention"] == "additive"


def test_the_whole_run_refuses_an_unwritable_output_before_training(tmp_path):
    from rnnstudio.errors import ModelFileError

    with pytest.raises(ModelFileError):
        train_translation(TranslateSettings(steps=5, **TINY), "cpu", tmp_path / "missing" / "m.safetensors",
                          log=lambda m: None, data=tiny_data())
