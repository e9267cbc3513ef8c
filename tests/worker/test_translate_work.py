"""Translation through the real worker thread, on a tiny, really trained translator: the beam,
attention, what-if, teacher forcing, the BLEU curves, training as the worker's job, and every
bad input answered with a message while the worker keeps serving."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from translate_helpers import train_tiny_translator
from worker_helpers import wait_final

from rnnstudio.train.progress import Evaluation, TrainingProgress
from rnnstudio.worker.translate_messages import (
    CurvesProgress, Forcing, ForcingRequest, LengthCurves, LengthCurvesRequest, LoadTranslatorsRequest, NextWords,
    NextWordsRequest, StartTranslateTrainingRequest, TranslateRequest, TranslateTrainingStarted, TranslateTrainSpec,
    Translation, TranslatorsInfo,
)


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny-translator.safetensors"
    return path, train_tiny_translator(path)


@pytest.fixture
def loaded(worker, recorder, qtbot, tiny, monkeypatch, tmp_path):
    monkeypatch.setenv("RNNSTUDIO_MODELS", str(tmp_path / "nothing-here"))
    monkeypatch.setattr("rnnstudio.paths.models_dirs", lambda: [tmp_path / "nothing-here"])  # no plain model
    rid = worker.submit(LoadTranslatorsRequest(path=str(tiny[0]), test_pairs=10))
    return wait_final(qtbot, recorder, rid).payload


def ask(worker, recorder, qtbot, request, expect="result_ready"):
    return wait_final(qtbot, recorder, worker.submit(request), expect).payload


def test_the_models_open_and_the_plain_one_is_said_missing(loaded):
    assert isinstance(loaded, TranslatorsInfo)
    assert list(loaded.models) == ["attention"] and loaded.models["attention"].attention
    assert "not shipped yet" in loaded.missing["plain"]
    assert len(loaded.test_pairs) == 10 and all(len(pair) == 2 for pair in loaded.test_pairs)


def test_a_translation_comes_with_attention_beam_nbest_and_its_json(worker, recorder, qtbot, loaded):
    r = ask(worker, recorder, qtbot, TranslateRequest(text="Je suis content.", width=3, reference="I am happy."))
    assert isinstance(r, Translation) and r.translation == "I am happy."
    assert r.attention.shape == (len(r.tokens), len(r.source_tokens))
    assert np.allclose(r.attention.sum(axis=1), 1.0, atol=1e-4)
    assert r.sentence_bleu == pytest.approx(100.0)
    assert len(r.nbest) == 3 and r.nbest[0][0] == r.translation
    assert all(len(step) <= 3 for step in r.beam) and any(node.winner for node in r.beam[-1])
    assert [node.token for step in r.beam for node in step if node.winner][:-1] == r.tokens  # then <eos>
    assert set(r.json) == {"source", "translation", "tokens", "source_tokens", "attention", "nbest", "unknown"}


def test_width_one_is_greedy(worker, recorder, qtbot, loaded, tiny):
    from rnnstudio.nn.translation import load_translator

    model = load_translator(tiny[0]).model  # the weights as the worker has them (float16 in the file)
    for text in ("Il est fatigué.", "Nous sommes prêt.", "Tom est grand."):
        r = ask(worker, recorder, qtbot, TranslateRequest(text=text, width=1))
        greedy = model.greedy(model.read_source(text).ids)
        assert r.tokens == greedy.tokens and r.nbest[0][1] == pytest.approx(greedy.logprob, abs=1e-4)


def test_what_if_offers_the_top_five_and_decodes_the_rest_from_the_choice(worker, recorder, qtbot, loaded):
    first = ask(worker, recorder, qtbot, TranslateRequest(text="Il est grand."))
    offered = ask(worker, recorder, qtbot, NextWordsRequest(text="Il est grand.", prefix=tuple(first.tokens[:1])))
    assert isinstance(offered, NextWords) and offered.position == 1 and len(offered.choices) == 5
    probs = [p for _t, p in offered.choices]
    assert probs == sorted(probs, reverse=True) and offered.choices[0][0] == first.tokens[1]
    other = offered.choices[1][0]
    again = ask(worker, recorder, qtbot, TranslateRequest(text="Il est grand.",
                                                          forced_prefix=(first.tokens[0], other)))
    assert again.tokens[:2] == [first.tokens[0], other] and again.forced == 2


def test_teacher_forcing_against_free_running(worker, recorder, qtbot, loaded):
    f = ask(worker, recorder, qtbot, ForcingRequest(french="Je suis content.", english="You are tired."))
    assert isinstance(f, Forcing) and f.reference[-1] == "<eos>"
    assert len(f.teacher_forced_nll) == len(f.reference) and len(f.free_running_nll) == len(f.free_tokens)
    assert f.diverges_at == 0 and f.free_tokens[0] != "you"  # it writes "i": it left the reference at once


def test_bleu_by_length_curves_come_with_progress(worker, recorder, qtbot, loaded):
    rid = worker.submit(LengthCurvesRequest(roles=("attention", "plain"), limit=40))
    result = wait_final(qtbot, recorder, rid).payload
    progress = [r.payload for r in recorder.of(rid, "partial_ready")]
    assert isinstance(result, LengthCurves) and list(result.curves) == ["attention"] and result.pairs == 40
    assert all(isinstance(p, CurvesProgress) for p in progress) and progress[-1].done == 40
    assert sum(n for _label, n, _b in result.curves["attention"]) == 40


@pytest.mark.parametrize("text, fragment", [
    ("", "nothing to translate"), ("   ", "nothing to translate"),
    ("I am happy today my friend", "looks like English"), ("zorglub blimp", "knows none of these words"),
    ("😀 🚗 ❤️", "knows none"), ("Je suis " * 250, "one sentence"), ("x" * 20_000, "characters long"),
    ("中文 русский", "knows none"),
], ids=["empty", "spaces", "english", "unknown-words", "emoji", "500-words", "huge", "other-scripts"])
def test_bad_input_is_a_message_and_the_worker_keeps_serving(worker, recorder, qtbot, loaded, text, fragment):
    rid = worker.submit(TranslateRequest(text=text))
    wait_final(qtbot, recorder, rid, "errored")
    error = recorder.final(rid)[1].payload
    assert error.user_error and fragment in error.message
    assert ask(worker, recorder, qtbot, TranslateRequest(text="Tu es prêt.")).translation


def test_the_plain_model_missing_and_odd_controls_are_messages(worker, recorder, qtbot, loaded):
    for request, fragment in ((TranslateRequest(text="Il est grand.", role="plain"), "not shipped yet"),
                              (TranslateRequest(text="Il est grand.", width=0), "beam width"),
                              (TranslateRequest(text="Il est grand.", length_penalty=-1), "length penalty"),
                              (TranslateRequest(text="Il est grand.", role="trained"), "trained in the app"),
                              (ForcingRequest(french="Il est grand.", english=""), "reference")):
        rid = worker.submit(request)
        wait_final(qtbot, recorder, rid, "errored")
        assert fragment in recorder.final(rid)[1].payload.message


def test_a_tiny_training_run_on_the_worker_then_its_model_translates(worker, recorder, qtbot, loaded):
    spec = TranslateTrainSpec(hidden=16, embed=8, steps=6, batch_size=8, eval_every=3, valid_pairs=4,
                              train_pairs=300)
    rid = worker.submit(StartTranslateTrainingRequest(spec=spec))
    final = wait_final(qtbot, recorder, rid).payload
    partials = [r.payload for r in recorder.of(rid, "partial_ready")]
    assert isinstance(partials[0], TranslateTrainingStarted) and "trained on the first 300" in partials[0].description
    evaluations = [p for p in partials if isinstance(p, Evaluation)]
    assert [e.iteration for e in evaluations] == [3, 6] and "valid_bleu" in evaluations[0].figures
    assert isinstance(final, TrainingProgress) and final.state == "finished" and final.iteration == 6
    r = ask(worker, recorder, qtbot, TranslateRequest(text="Je suis content.", role="trained", width=2))
    assert r.role == "trained" and isinstance(r.translation, str)


def test_the_apps_training_defaults_are_the_trainers():
    from rnnstudio.train.translation import TranslateSettings

    settings = TranslateSettings()
    own = {"steps", "eval_every", "valid_pairs", "train_pairs"}  # the app's quicker schedule
    for f in dataclasses.fields(TranslateTrainSpec):
        if f.name not in own:
            assert getattr(TranslateTrainSpec(), f.name) == getattr(settings, f.name), f.name
