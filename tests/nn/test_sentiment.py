"""The sentiment classifiers: per-word readout, what `read` reports, model files, VADER."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rnnstudio.errors import ModelFileError, UserError
from rnnstudio.nn.modelfile import ModelFile, load_model_file, save_model_file
from rnnstudio.nn.sentiment import (
    ARCHS,
    IG_MAX_STEPS,
    IG_STEPS,
    IG_TOLERANCE,
    MAX_READ_TOKENS,
    SentimentClassifier,
    SentimentConfig,
    SentimentTextError,
    compound_to_p,
    find_sentiment_unit,
    fit_projection,
    load_sentiment,
    pad_batch,
    save_sentiment,
    unit_accuracy,
    vader_compound,
    vader_p_positive,
)
from sentiment_helpers import toy_data, train_toy

SHIPPED = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def data():
    return toy_data()


@pytest.fixture(scope="module")
def trained(data):
    """A tiny model of each architecture, really trained on the toy sentences (the LSTM long
    enough to read "not" and "but")."""
    return {arch: train_toy(arch, steps=250 if arch == "lstm" else 100, data=data)[0].model for arch in ARCHS}


def untrained(arch: str, words=("good", "bad", "not", "film", "!")) -> SentimentClassifier:
    vocab = ["<pad>", "<unk>", *words]
    torch.manual_seed(0)
    return SentimentClassifier(SentimentConfig(len(vocab), arch=arch, embed=6, hidden=5, dropout=0.0), vocab).eval()


# --- the readout after every word -------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHS)
def test_forward_gives_a_readout_after_every_word(arch):
    model = untrained(arch)
    ids = torch.tensor([[2, 3, 4], [5, 2, 0]])
    logits, states = model(ids)
    assert logits.shape == (2, 3)
    assert states.shape == (2, 3, model.config.state_size)


@pytest.mark.parametrize("arch", ARCHS)
def test_padding_never_changes_a_sentence_prediction(arch):
    model = untrained(arch)
    sentences = [[2, 3, 4, 5], [4], [6, 2]]
    ids, lengths = pad_batch(sentences)
    with torch.no_grad():
        batched, _ = model.final_logits(ids, lengths)
    for n, s in enumerate(sentences):
        with torch.no_grad():
            alone, _ = model(torch.tensor([s]))
        assert float(batched[n]) == pytest.approx(float(alone[0, -1]), abs=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_per_word_curve_is_the_prediction_for_each_prefix(trained, arch):
    model = trained[arch]
    text = "the film was good but the meal was awful"
    reading = model.read(text)
    p_whole, _ = model.predict_ids([model.vocabulary.encode(t.text for t in reading.tokens)])
    assert reading.p == pytest.approx(float(p_whole[0]), abs=1e-5)
    for t, token in enumerate(reading.tokens):
        prefix = model.read(text[: token.end])
        assert prefix.p == pytest.approx(float(reading.p_positive[t]), abs=1e-5)
        np.testing.assert_allclose(prefix.final_state, reading.states[t], atol=1e-5)


def test_the_trained_models_read_order(trained):
    lstm = trained["lstm"]
    assert lstm.read("the film was good !").p > 0.7
    assert lstm.read("the film was not good").p < 0.3
    assert lstm.read("the plot was bad but the meal was great").p > 0.7
    assert lstm.read("the plot was great but the meal was bad").p < 0.3


@pytest.mark.parametrize("arch", ARCHS)
def test_contributions_are_the_change_when_each_word_is_read(trained, arch):
    reading = trained[arch].read("the plot was not dull !")
    assert len(reading.contributions) == len(reading.tokens) == len(reading.p_positive)
    assert reading.contributions[0] == pytest.approx(reading.p_positive[0] - reading.p_start, abs=1e-6)
    assert reading.contributions.sum() == pytest.approx(reading.p - reading.p_start, abs=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_integrated_gradients_are_complete(trained, arch):
    """sum_t IG_t = p(text) - p(baseline), up to the trapezoid rule's error, which is reported."""
    for text in ("the film was not good", "the plot was bad but the meal was great", "it was fun !"):
        reading = trained[arch].read(text)
        gap = reading.p - reading.p_baseline
        assert reading.salience_error == pytest.approx(abs(reading.salience.sum() - gap), abs=1e-5)
        assert reading.salience_error <= IG_TOLERANCE or reading.ig_steps == IG_MAX_STEPS
        assert reading.salience.sum() == pytest.approx(gap, abs=0.02 + 0.05 * abs(gap))
        assert reading.ig_steps >= IG_STEPS
        fine = trained[arch].read(text, ig_steps=256, max_steps=256)
        np.testing.assert_allclose(reading.salience, fine.salience, atol=0.03)


@pytest.mark.parametrize("arch", ARCHS)
def test_the_curve_alone_is_the_same_curve(trained, arch):
    text = "the plot was not dull but the meal was bad"
    full, quick = trained[arch].read(text), trained[arch].read(text, salience=False)
    np.testing.assert_allclose(quick.p_positive, full.p_positive, atol=1e-5)
    np.testing.assert_allclose(quick.states, full.states, atol=1e-5)
    np.testing.assert_allclose(quick.contributions, full.contributions, atol=1e-5)
    assert quick.salience is None and quick.p_baseline is None and quick.ig_steps == 0


def test_refining_the_integral_reuses_the_coarse_points(trained):
    """16 intervals halved twice give the trapezoid rule on 64 intervals, computed directly."""
    model = trained["rnn"]
    text = "the plot was great but the meal was bad"
    refined = model.read(text, ig_steps=16, max_steps=64)
    if refined.ig_steps == 64:
        direct = model.read(text, ig_steps=64, max_steps=64)
        np.testing.assert_allclose(refined.salience, direct.salience, atol=1e-5)
    never = model.read(text, ig_steps=4, max_steps=4)
    assert never.ig_steps == 4


def test_the_baseline_is_every_word_unknown(trained):
    model = trained["lstm"]
    reading = model.read("the film was zzyzx")
    assert reading.salience[3] == 0.0  # an unknown word is the baseline itself
    assert reading.p_baseline == pytest.approx(model.read("zzyzx zzyzx zzyzx zzyzx !").p_positive[3], abs=1e-6)


def test_the_shipped_lstm_reads_negation_and_but():
    loaded = load_sentiment(SHIPPED / "sentiment-lstm.safetensors")
    assert loaded.read("The film was good.").p > 0.7
    assert loaded.read("The film was not good.").p < 0.4
    awful = loaded.read("The acting was awful.")
    assert [t.text for t in awful.tokens][int(np.argmin(awful.salience))] == "awful"
    but = loaded.read("The actors try hard, but the story is dull and the ending predictable.")
    assert but.p < 0.3 and but.path_2d.shape == (len(but.tokens), 2)
    unit = loaded.sentiment_unit
    assert 0 <= unit["index"] < loaded.model.config.hidden and unit["accuracy_valid"] > 0.7


def test_read_restores_training_mode_and_works_under_inference_mode(trained):
    model = trained["gru"]
    model.train()
    with torch.inference_mode():
        reading = model.read("the film was good")
    assert model.training
    model.eval()
    assert reading.p == pytest.approx(model.read("the film was good").p, abs=1e-6)


@pytest.mark.parametrize("arch", ARCHS)
def test_gradient_reach_per_word(trained, arch):
    reach = trained[arch].gradient_reach("the plot was great but the meal was bad")
    assert len(reach.reach) == len(reach.tokens) == 9
    assert list(reach.distance) == list(range(8, -1, -1))
    assert (reach.reach >= 0).all() and reach.reach[-1] > 0
    by_ids = trained[arch].gradient_reach([trained[arch].vocabulary.index[t.text] for t in reach.tokens])
    np.testing.assert_allclose(by_ids.reach, reach.reach, rtol=1e-5)
    if arch == "bow":  # the mean's gradient is the same for every copy of a word wherever it stands
        assert reach.reach[1] == pytest.approx(reach.reach[5], rel=1e-5)  # "plot" and "meal" differ; "the" twice
    with pytest.raises(ValueError):
        trained[arch].gradient_reach([])


# --- bad input --------------------------------------------------------------------------------


def test_bad_texts_get_a_clear_message(trained):
    model = trained["lstm"]
    with pytest.raises(SentimentTextError, match="empty"):
        model.read("")
    with pytest.raises(SentimentTextError, match="empty"):
        model.read("   \n\t ")
    with pytest.raises(SentimentTextError, match="no words"):
        model.read("\x00\x01\x1b")
    with pytest.raises(SentimentTextError, match="none of the words") as raised:
        model.read("привет 我喜欢 😀 zzyzx")
    assert raised.value.details == ["привет", "我", "喜", "欢", "😀", "zzyzx"]
    assert isinstance(raised.value, UserError)
    with pytest.raises(SentimentTextError, match="10,000 words"):
        model.read("good " * 10_000)
    with pytest.raises(SentimentTextError, match="characters"):
        model.read("a" * 200_000)


def test_unknown_words_are_reported_not_dropped(trained):
    reading = trained["lstm"].read("the film was 😀 good, хорошо\x00!!!")
    words = [t.text for t in reading.tokens]
    assert words == ["the", "film", "was", "😀", "good", ",", "хорошо", "!!!"]
    assert reading.unknown == ["😀", ",", "хорошо", "!!!"]
    assert list(reading.known) == [True, True, True, False, True, False, False, False]
    assert np.isfinite(reading.p_positive).all() and np.isfinite(reading.salience).all()


def test_only_punctuation_is_read_when_the_model_knows_it(trained):
    reading = trained["lstm"].read("!")
    assert len(reading.p_positive) == 1 and 0 < reading.p < 1


def test_a_long_text_within_the_limit_is_read(trained):
    text = " ".join(["the film was good !"] * (MAX_READ_TOKENS // 5))
    reading = trained["rnn"].read(text)
    assert len(reading.tokens) == MAX_READ_TOKENS and np.isfinite(reading.salience).all()


# --- projection, sentiment unit ----------------------------------------------------------------


def test_find_sentiment_unit_finds_the_informative_unit():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    states = rng.normal(size=(500, 6))
    states[:, 4] = np.where(labels == 1, -1.0, 1.0) + 0.3 * rng.normal(size=500)  # high means negative
    unit = find_sentiment_unit(states, labels)
    assert unit["index"] == 4 and unit["sign"] == -1 and unit["accuracy"] > 0.99
    assert unit_accuracy(states, labels, unit) == pytest.approx(unit["accuracy"])


def test_projection_is_pca_pointing_to_the_positive_side():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    states = rng.normal(size=(400, 5)) * 0.1
    states[:, 2] += np.where(labels == 1, -3.0, 3.0)
    projection = fit_projection(states, labels, cloud_size=100)
    assert projection.components.shape == (2, 5) and projection.cloud.shape == (100, 2)
    assert abs(projection.components[0, 2]) > 0.99
    xy = projection.project(states)
    assert xy[labels == 1, 0].mean() > xy[labels == 0, 0].mean()
    np.testing.assert_allclose(np.linalg.norm(projection.components, axis=1), 1.0, atol=1e-5)


# --- model files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHS)
def test_save_and_load_round_trip(tmp_path, trained, data, arch):
    model = trained[arch]
    rows = data.indices("train")
    _, finals = model.predict_ids([data.ids[n] for n in rows])
    labels = np.array([data.sentences[n].label for n in rows])
    projection = fit_projection(finals, labels, cloud_size=50)
    unit = find_sentiment_unit(finals, labels)
    trained_info = {"steps": 120, "data": {"label_threshold": 0.5, "split": "by position"}, "sentiment_unit": unit}
    path = tmp_path / f"{arch}.safetensors"
    save_sentiment(path, model, trained_info, projection)
    loaded = load_sentiment(path)
    assert loaded.arch == arch and loaded.label_threshold == 0.5
    assert loaded.sentiment_unit == unit and loaded.trained["data"]["split"] == "by position"
    assert loaded.model.vocab == model.vocab
    np.testing.assert_array_equal(loaded.projection.cloud, projection.cloud)
    np.testing.assert_array_equal(loaded.projection.cloud_labels, projection.cloud_labels)
    text = "the film was not dull"
    before, after = model.read(text, projection), loaded.read(text)
    np.testing.assert_allclose(after.p_positive, before.p_positive, atol=1e-6)
    np.testing.assert_allclose(after.salience, before.salience, atol=1e-6)
    np.testing.assert_allclose(after.path_2d, before.path_2d, atol=1e-5)
    assert after.path_2d.shape == (5, 2)
    header = load_model_file(path, "sentiment")
    assert header.vocab == model.vocab and header.config["arch"] == arch


def test_a_file_without_projection_loads(tmp_path, trained):
    path = tmp_path / "plain.safetensors"
    save_sentiment(path, trained["bow"], {"steps": 1})
    loaded = load_sentiment(path)
    assert loaded.projection is None and loaded.sentiment_unit is None
    assert loaded.read("the film was good").path_2d is None


def test_damaged_files_are_refused(tmp_path, trained):
    model = trained["rnn"]
    good = tmp_path / "good.safetensors"
    save_sentiment(good, model, {"steps": 1})
    mf = load_model_file(good, "sentiment")

    def write(name, **changes) -> str:
        fields = dict(task=mf.task, config=mf.config, vocab=mf.vocab, tensors=dict(mf.tensors), trained=mf.trained)
        fields.update(changes)
        path = tmp_path / name
        save_model_file(path, ModelFile(**fields))
        return path

    with pytest.raises(ModelFileError, match="not a sentiment model"):
        load_sentiment(write("task.safetensors", task="vqa"))
    with pytest.raises(ModelFileError, match="vocabulary"):
        load_sentiment(write("vocab.safetensors", vocab=["good", *mf.vocab[1:]]))
    with pytest.raises(ModelFileError, match="invalid config"):
        load_sentiment(write("arch.safetensors", config={**mf.config, "arch": "transformer"}))
    bad_projection = {**mf.tensors, "projection.mean": torch.zeros(3), "projection.components": torch.zeros(2, 3),
                      "projection.cloud": torch.zeros(4, 2), "projection.cloud_labels": torch.zeros(4)}
    with pytest.raises(ModelFileError, match="projection"):
        load_sentiment(write("projection.safetensors", tensors=bad_projection))
    with pytest.raises(ModelFileError, match="sentiment unit"):
        load_sentiment(write("unit.safetensors", trained={"steps": 1, "sentiment_unit": {"index": 999}}))
    with pytest.raises(ModelFileError, match="does not match"):
        load_sentiment(write("size.safetensors", config={**mf.config, "hidden": mf.config["hidden"] + 1}))


# --- VADER ------------------------------------------------------------------------------------------------


def test_vader_baseline_per_prefix():
    text = "The film was good, but the ending was awful!!!"
    p = vader_p_positive(text)
    assert p.shape == (11,) and p.dtype == np.float32
    assert p[0] == 0.5  # "The": no sentiment word yet
    assert p[3] > 0.5 and p[-1] < 0.5  # after "good"; after "awful!!!"
    assert p[-1] == pytest.approx(compound_to_p(vader_compound(text)))
    assert compound_to_p(0.0) == 0.5 and compound_to_p(1.0) == 1.0 and compound_to_p(-1.0) == 0.0
    assert vader_p_positive("").shape == (0,)
