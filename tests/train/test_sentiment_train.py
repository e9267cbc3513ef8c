"""Training the sentiment classifiers: real runs that learn, the figures, the whole command's run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnstudio.data.sentiment import SOURCES, load_sentiment_data
from rnnstudio.errors import ModelFileError
from rnnstudio.nn.sentiment import load_sentiment
from rnnstudio.train.sentiment import (
    SentimentSettings,
    SentimentTrainer,
    describe_figures,
    evaluate_test,
    train_sentiment,
)
from sentiment_helpers import toy_data, train_toy


@pytest.fixture(scope="module")
def data():
    return toy_data()


def test_a_tiny_lstm_learns(data):
    trainer, losses = train_toy("lstm", steps=200, data=data)
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    valid = trainer.validate()
    assert valid["accuracy"] > 0.9 and valid["best"]
    assert set(valid) == {"loss", "accuracy", "best"}


def test_step_returns_plain_numbers(data):
    trainer, _ = train_toy("rnn", steps=3, data=data)
    out = trainer.step()
    assert set(out) == {"iteration", "loss", "items", "seconds", "lr"}
    assert out["iteration"] == 4 and out["items"] == 16
    assert all(isinstance(v, (int, float)) for v in out.values())
    info = trainer.trained_info()
    assert info["steps"] == 4 and info["items"] == 64 and info["settings"]["arch"] == "rnn"
    assert info["data"]["label_threshold"] == 0.5 and "split" in info["data"]


def test_the_same_seed_trains_the_same_model(data):
    a, losses_a = train_toy("gru", steps=5, data=data)
    b, losses_b = train_toy("gru", steps=5, data=data)
    assert losses_a == losses_b


def test_restore_best_puts_back_the_best_validation(data):
    trainer, _ = train_toy("bow", steps=30, data=data)
    first = trainer.validate()
    kept = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    for _ in range(5):
        trainer.step()
    trainer.validate()
    trainer.restore_best()
    assert trainer.best["iteration"] in (30, 35)
    if trainer.best["iteration"] == 30:
        assert all((trainer.model.state_dict()[k] == v).all() for k, v in kept.items())
    assert trainer.best["accuracy"] >= first["accuracy"]


def test_soft_targets_train_on_every_sentence_towards_its_rating(data):
    trainer, losses = train_toy("lstm", steps=150, data=data, soft_targets=1.5)
    assert len(trainer.train_rows) == len(data.indices("train", labelled=False)) > len(data.indices("train"))
    for n in trainer.train_rows[:20]:
        expected = 1 / (1 + np.exp(-1.5 * data.sentences[n].rating))
        assert float(trainer.targets[n]) == pytest.approx(expected, rel=1e-5)
    assert trainer.validate()["accuracy"] > 0.8  # measured against the labels


def test_weight_averaging_measures_and_keeps_the_average(data):
    trainer, _ = train_toy("gru", steps=60, data=data, average=0.9)
    averaged = trainer.averaged.state_dict()
    assert any(not torch.equal(averaged[k], v) for k, v in trainer.model.state_dict().items())
    valid = trainer.validate()
    p, _ = trainer.averaged.predict_ids([data.ids[n] for n in trainer.valid_rows])
    y = np.array([data.sentences[n].label for n in trainer.valid_rows])
    assert valid["accuracy"] == pytest.approx(np.mean((p >= 0.5) == (y == 1)))
    trainer.restore_best()
    assert all(torch.equal(trainer.model.state_dict()[k], v) for k, v in averaged.items())


def test_on_the_real_sentences_the_loss_falls():
    data = load_sentiment_data()
    settings = SentimentSettings(arch="bow", embed=16, batch_size=64, steps=100, lr=5e-2, dropout=0.0,
                                 soft_targets=0.0, average=0.0)
    trainer = SentimentTrainer(settings, "cpu", data)
    losses = [trainer.step()["loss"] for _ in range(100)]
    assert np.mean(losses[-20:]) < np.mean(losses[:20]) - 0.05
    assert trainer.validate()["accuracy"] > 0.65


def test_evaluate_test_gives_every_figure(data):
    trainer, _ = train_toy("lstm", steps=200, data=data)
    figures = evaluate_test(trainer.model, data)
    model, vader = figures["model"], figures["vader"]
    assert figures["split"] == "test"
    assert model["sentences"] == len(data.indices("test"))
    assert set(model["by_source"]) == set(SOURCES)
    assert sum(part["sentences"] for part in model["by_source"].values()) == model["sentences"]
    assert set(model["subsets"]) == {"negation", "but", "either", "neither"}
    assert model["subsets"]["negation"]["sentences"] > 0 and model["subsets"]["but"]["sentences"] > 0
    assert model["pearson_sentences"] == len(data.indices("test", labelled=False))
    assert model["accuracy"] > 0.85 and model["pearson"] > 0.5
    # The toy's "not"s and "but"s defeat the bag of words, not the LSTM.
    bow = evaluate_test(train_toy("bow", steps=200, data=data)[0].model, data, vader=False)
    assert "vader" not in bow
    assert model["subsets"]["either"]["accuracy"] > bow["model"]["subsets"]["either"]["accuracy"] + 0.2
    assert 0 <= vader["accuracy"] <= 1 and -1 <= vader["pearson"] <= 1
    lines = describe_figures(figures, "model")
    assert len(lines) == 3 and "negation" in lines[2]


def test_train_sentiment_writes_a_complete_model_file(tmp_path, data):
    out = tmp_path / "toy.safetensors"
    logged = []
    settings = SentimentSettings(arch="lstm", embed=12, hidden=16, dropout=0.0, word_dropout=0.0, batch_size=16,
                                 lr=1e-2, steps=60, eval_every=20, min_count=1)
    trained = train_sentiment(settings, "cpu", out, log=logged.append, data=data)
    assert sum(line.startswith("step ") for line in logged) == 3
    assert any(line.startswith("model test: accuracy") for line in logged)
    assert any(line.startswith("vader test: accuracy") for line in logged)
    loaded = load_sentiment(out)
    assert loaded.trained["steps"] == trained["steps"] and trained["steps_run"] == 60
    assert loaded.trained["test"]["model"]["accuracy"] == trained["test"]["model"]["accuracy"]
    assert loaded.sentiment_unit["index"] < 16 and 0 <= loaded.sentiment_unit["accuracy_valid"] <= 1
    assert loaded.projection is not None and len(loaded.projection.cloud) == len(data.indices("train"))
    assert loaded.label_threshold == 0.5
    reading = loaded.read("the film was not good")
    assert reading.path_2d.shape == (5, 2)


def test_a_path_that_cannot_be_written_is_refused_before_training(tmp_path, data):
    with pytest.raises(ModelFileError, match="does not exist"):
        train_sentiment(SentimentSettings(steps=10_000), "cpu", tmp_path / "missing" / "m.safetensors",
                        log=lambda line: None, data=data)


@pytest.mark.parametrize("bad", [dict(arch="cnn"), dict(steps=0), dict(lr=0), dict(dropout=1.0),
                                 dict(label_threshold=4.0), dict(min_count=0), dict(average=1.0),
                                 dict(soft_targets=-1.0)])
def test_settings_refuse_nonsense(bad):
    with pytest.raises(ValueError):
        SentimentSettings(**bad)
