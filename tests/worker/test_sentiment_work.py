"""Sentiment through the real worker thread, on tiny, really trained models."""

from __future__ import annotations

import numpy as np
import pytest
from sentiment_files import write_tiny_models
from worker_helpers import wait_final

from rnnstudio.train.progress import Evaluation, TrainingProgress
from rnnstudio.worker.jobs import TrainingControlRequest
from rnnstudio.worker.sentiment_messages import (
    GradientReachRequest,
    LoadSentimentModelsRequest,
    MinimalPairRequest,
    ProbeCurve,
    SentimentExamplesRequest,
    SentimentReadRequest,
    SentimentTrainingStarted,
    SentimentTrainSpec,
    StartSentimentTrainingRequest,
)


@pytest.fixture
def loaded(worker, recorder, qtbot, tmp_path):
    files = write_tiny_models(tmp_path)
    rid = worker.submit(LoadSentimentModelsRequest(paths=tuple(str(p) for p in files.values())))
    info = wait_final(qtbot, recorder, rid).payload
    assert {m.name for m in info.models} == {"lstm", "rnn"} and set(info.missing) == {"gru", "bow"}
    return info


def ask(worker, recorder, qtbot, request, expect="result_ready"):
    return wait_final(qtbot, recorder, worker.submit(request), expect).payload


def test_every_model_reads_the_text_word_by_word(worker, recorder, qtbot, loaded):
    request = SentimentReadRequest(text="The plot was not dull!", models=("rnn", "lstm", "vader"))
    r = ask(worker, recorder, qtbot, request)
    assert r.words == ["the", "plot", "was", "not", "dull", "!"] and set(r.readings) == {"rnn", "lstm", "vader"}
    assert r.spans[3] == (13, 16)
    for name, reading in r.readings.items():
        assert reading.p_positive.shape == (6,) and np.all((reading.p_positive >= 0) & (reading.p_positive <= 1))
        assert np.allclose(np.cumsum(reading.contributions) + reading.p_start, reading.p_positive, atol=1e-5), name
    lstm = r.readings["lstm"]
    assert lstm.salience.shape == (6,) and lstm.path_2d.shape == (6, 2) and lstm.unit.shape == (6,)
    assert r.readings["vader"].salience is None


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"), ("   \t ", "empty"), ("\x00\x01\x02", "no words"), ("zork blorp quux", "knows none"),
    ("word " * 10_000, "at most"), ("Привет мир", "knows none"), ("我很好", "knows none"),
], ids=["empty", "spaces", "control", "unknown", "10000-words", "cyrillic", "chinese"])
def test_bad_texts_get_a_clear_message_and_the_worker_goes_on(worker, recorder, qtbot, loaded, text, fragment):
    error = ask(worker, recorder, qtbot, SentimentReadRequest(text=text), "errored")
    assert fragment in error.message and error.user_error
    assert ask(worker, recorder, qtbot, SentimentReadRequest(text="the film was good")).readings


def test_emoji_and_punctuation_are_read_as_unknown_tokens(worker, recorder, qtbot, loaded):
    r = ask(worker, recorder, qtbot, SentimentReadRequest(text="the film was good 😀"))
    assert "😀" in r.words and "😀" in r.unknown
    only_marks = ask(worker, recorder, qtbot, SentimentReadRequest(text="?!?! ..."))  # "!" is a known mark
    assert only_marks.words == ["?", "!", "?", "!", "..."] and "?" in only_marks.unknown


def test_gradient_reach_and_minimal_pairs(worker, recorder, qtbot, loaded):
    reach = ask(worker, recorder, qtbot, GradientReachRequest(text="the film was not good at all"))
    assert set(reach.reach) == {"rnn", "lstm"} and list(reach.distance) == [6, 5, 4, 3, 2, 1, 0]
    pair = ask(worker, recorder, qtbot, MinimalPairRequest(text="the film was good", edit="not"))
    assert pair.texts == ["the film was good", "the film was not good"] and len(pair.p["lstm"]) == 2
    request = MinimalPairRequest(text="the film was good but the plot was dull", edit="but")
    swapped = ask(worker, recorder, qtbot, request)
    assert swapped.texts[1] == "the plot was dull but the film was good"
    moved = ask(worker, recorder, qtbot, MinimalPairRequest(text="the film was not good", edit="move", max_k=10))
    assert moved.ks == [0, 1, 2, 3] and len(moved.p["rnn"]) == 4 and len(moved.p["vader"]) == 4
    error = ask(worker, recorder, qtbot, MinimalPairRequest(text="the film", edit="but"), "errored")
    assert "but" in error.message


def test_examples_are_the_most_wrong_first(worker, recorder, qtbot, loaded):
    r = ask(worker, recorder, qtbot, SentimentExamplesRequest(model="lstm", per_source=5))
    for rows in r.by_source.values():
        wrong = [abs(e.p_positive - (e.label == "positive")) for e in rows]
        assert len(rows) == 5 and wrong == sorted(wrong, reverse=True)


def test_a_tiny_training_run_reports_both_curves_and_the_probe(worker, recorder, qtbot, loaded):
    spec = SentimentTrainSpec(arch="rnn", steps=20, hidden=8, eval_every=10, probe="not bad at all", probe_every=5)
    rid = worker.submit(StartSentimentTrainingRequest(spec=spec))
    wait_final(qtbot, recorder, rid)
    partials = [r.payload for r in recorder.of(rid, "partial_ready")]
    assert isinstance(partials[0], SentimentTrainingStarted)
    evaluations = [p for p in partials if isinstance(p, Evaluation)]
    assert [e.iteration for e in evaluations] == [10, 20]
    assert set(evaluations[0].figures) == {"train_loss", "train_accuracy", "valid_loss", "valid_accuracy"}
    probes = [p for p in partials if isinstance(p, ProbeCurve)]
    assert [p.iteration for p in probes] == [5, 10, 15, 20] and probes[0].words == ["not", "bad", "at", "all"]
    assert any(isinstance(p, TrainingProgress) for p in partials)
    r = ask(worker, recorder, qtbot, SentimentReadRequest(text="not bad at all", models=("training", "lstm")))
    assert set(r.readings) == {"training", "lstm"} and r.readings["training"].path_2d.shape == (4, 2)
    assert ask(worker, recorder, qtbot, TrainingControlRequest(action="reset")) == "reset"


def test_only_the_asked_model_pays_for_integrated_gradients(worker, recorder, qtbot, loaded):
    text = "the film was good but the plot was dull"
    lstm = ask(worker, recorder, qtbot, SentimentReadRequest(text=text, models=("rnn", "lstm"), salience_of="lstm"))
    rnn = ask(worker, recorder, qtbot, SentimentReadRequest(text=text, models=("rnn", "lstm"), salience_of="rnn"))
    assert lstm.readings["rnn"].salience is None and rnn.readings["lstm"].salience is None
    for name in ("rnn", "lstm"):  # the forward-only reading is the same curve and path as the full one
        assert np.allclose(lstm.readings[name].p_positive, rnn.readings[name].p_positive, atol=1e-5)
        assert np.allclose(lstm.readings[name].path_2d, rnn.readings[name].path_2d, atol=1e-4)
        assert np.allclose(lstm.readings[name].unit, rnn.readings[name].unit, atol=1e-5)


def test_training_on_long_sentences_only(worker, recorder, qtbot, loaded):
    spec = SentimentTrainSpec(arch="rnn", steps=4, hidden=8, eval_every=2, probe_every=2, min_words=25)
    rid = worker.submit(StartSentimentTrainingRequest(spec=spec))
    wait_final(qtbot, recorder, rid)
    started = recorder.of(rid, "partial_ready")[0].payload
    assert isinstance(started, SentimentTrainingStarted) and 1000 < started.train_sentences < 8000
    error = ask(worker, recorder, qtbot, StartSentimentTrainingRequest(spec=SentimentTrainSpec(min_words=500)),
                "errored")
    assert "choose fewer words" in error.message


def test_the_lab_reads_a_sentence_word_by_word_through_the_shipped_lstm(worker, recorder, qtbot):
    from rnnstudio.worker.gates_messages import GatesRequest
    from rnnstudio.worker.sentiment_work import shipped_sentiment_files

    if "lstm" not in shipped_sentiment_files():
        pytest.skip("no shipped sentiment LSTM in this checkout")
    text = "The acting was not bad, but the zorblax plot was dull"
    r = ask(worker, recorder, qtbot, GatesRequest(text=text, sentiment="lstm"))
    assert r.is_words and r.arch == "lstm" and r.text == text
    assert r.step_labels() == ["the", "acting", "was", "not", "bad", ",", "but", "the", "zorblax", "plot", "was",
                               "dull"]
    assert r.length == 12 and r.spans[3] == (15, 18) and text[slice(*r.spans[8])] == "zorblax"
    assert list(r.known) == [True] * 8 + [False] + [True] * 3  # the unknown word is read as <unk>, and marked
    assert set(r.layers[0]) == {"i", "f", "g", "o", "c", "h"}
    assert all(v.shape == (12, 128) for v in r.layers[0].values())
    assert "sentiment LSTM" in r.model_title and "sentiment-lstm.safetensors" in r.model_title
    assert r.sentiment_unit is not None and 0 <= r.sentiment_unit["index"] < 128
    # The lab's p(positive) after each word is the sentiment panel's own curve for the same model.
    reading = ask(worker, recorder, qtbot, SentimentReadRequest(text=text, models=("lstm",), salience_of=None))
    np.testing.assert_allclose(r.p_positive(), reading.readings["lstm"].p_positive, atol=1e-5)
    np.testing.assert_allclose(r.layers[0]["h"][:, r.sentiment_unit["index"]], reading.readings["lstm"].unit,
                               atol=1e-5)


def test_the_lab_refuses_what_it_cannot_read_word_by_word(worker, recorder, qtbot, loaded):
    from rnnstudio.worker.gates_messages import GatesRequest

    r = ask(worker, recorder, qtbot, GatesRequest(text="the film was good", sentiment="rnn"))
    assert r.arch == "rnn" and r.step_labels() == ["the", "film", "was", "good"] and set(r.layers[0]) == {"h"}
    for request, fragment in [
        (GatesRequest(text="", sentiment="lstm"), "empty"),
        (GatesRequest(text="zork blorp", sentiment="lstm"), "knows none"),
        (GatesRequest(text="good " * 2000, sentiment="lstm"), "at most"),
        (GatesRequest(text="good", sentiment="training"), "Train tab"),
    ]:
        error = ask(worker, recorder, qtbot, request, "errored")
        assert fragment in error.message and error.user_error


def test_a_model_trained_in_the_app_gets_its_cloud_and_goes_to_the_lab(worker, recorder, qtbot, loaded):
    from rnnstudio.worker.gates_messages import GatesRequest
    from rnnstudio.worker.sentiment_messages import TrainingModelRequest

    assert "Train tab" in ask(worker, recorder, qtbot, TrainingModelRequest(), "errored").message
    spec = SentimentTrainSpec(arch="lstm", steps=6, hidden=8, eval_every=3, probe_every=3)
    wait_final(qtbot, recorder, worker.submit(StartSentimentTrainingRequest(spec=spec)))
    info = ask(worker, recorder, qtbot, TrainingModelRequest())
    assert info.name == "training" and info.cloud.shape[1] == 2 and len(info.cloud) == len(info.cloud_labels) > 100
    assert set(np.unique(info.cloud_labels)) == {0, 1} and 0 <= info.sentiment_unit["index"] < 8
    r = ask(worker, recorder, qtbot, GatesRequest(text="not bad at all", sentiment="training"))
    assert r.step_labels() == ["not", "bad", "at", "all"] and r.layers[0]["c"].shape == (4, 8)
    assert "trained in this session" in r.model_title
    assert ask(worker, recorder, qtbot, TrainingControlRequest(action="reset")) == "reset"


@pytest.mark.parametrize("text", ["😀 good\n\nbad!!!", "NOT   bad\tat all", "good " * 1000, "?!"])
def test_the_lab_reads_odd_texts_word_by_word_or_says_why(worker, recorder, qtbot, loaded, text):
    from rnnstudio.worker.gates_messages import GatesRequest

    rid = worker.submit(GatesRequest(text=text, sentiment="lstm"))
    qtbot.waitUntil(lambda: recorder.final(rid) is not None, timeout=60_000)
    kind, response = recorder.final(rid)
    if kind == "errored":
        assert response.payload.user_error and "?" in text  # marks the model does not know: one clear message
        return
    assert kind == "result_ready"
    r = response.payload
    assert r.length == len(r.spans) == len(r.known) and all(text[a:b] for a, b in r.spans)
    assert all(v.shape[0] == r.length for v in r.layers[0].values())
