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
