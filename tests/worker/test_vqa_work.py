"""Visual question answering through the real worker thread, on a tiny, really trained model."""

from __future__ import annotations

import numpy as np
import pytest
from worker_helpers import wait_final

from rnnstudio.data.shapes import random_scene, render
from rnnstudio.worker.vqa_messages import (
    LoadVQAModelRequest,
    VQAEvalProgress,
    VQAEvalRequest,
    VQAEvalResult,
    VQAModelInfo,
    VQAQuestionRequest,
    VQAResult,
)


@pytest.fixture
def loaded(worker, recorder, qtbot, tiny_vqa_file):
    rid = worker.submit(LoadVQAModelRequest(path=str(tiny_vqa_file)))
    info = wait_final(qtbot, recorder, rid).payload
    assert isinstance(info, VQAModelInfo) and "yes" in info.answers and "what" in info.vocab
    return info


def ask(worker, recorder, qtbot, expect="result_ready", **kw):
    rid = worker.submit(VQAQuestionRequest(**kw))
    return wait_final(qtbot, recorder, rid, expect).payload


def test_answers_come_back_ranked_with_the_question_encoder_states(worker, recorder, qtbot, loaded):
    image = render(random_scene(np.random.default_rng(3)), 200)  # any size: the worker fits it
    r = ask(worker, recorder, qtbot, image_key="scene-3", image=image, question="What color is the  blorp?", topk=3)
    assert isinstance(r, VQAResult)
    assert r.words == ["what", "color", "is", "the", "blorp"] and r.unknown_words == ["blorp"]
    assert len(r.answers) == 3 and [a for a, _ in r.answers] == [a for a, _ in r.all_answers[:3]]
    ps = [p for _, p in r.all_answers]
    assert ps == sorted(ps, reverse=True) and abs(sum(ps) - 1.0) < 1e-4
    assert len(r.all_answers) == len(loaded.answers)
    assert r.hidden.shape[0] == len(r.words)
    assert not r.features_cached


def test_picture_features_are_computed_once_per_picture(worker, recorder, qtbot, loaded):
    image = render(random_scene(np.random.default_rng(4)), 64)
    first = ask(worker, recorder, qtbot, image_key="a", image=image, question="is there a circle?")
    again = ask(worker, recorder, qtbot, image_key="a", image=None, question="is there a circle?")
    assert not first.features_cached and again.features_cached
    assert first.all_answers == again.all_answers  # the same features, the same answer
    other = ask(worker, recorder, qtbot, image_key="b", image=image[::-1].copy(), question="is there a circle?")
    assert not other.features_cached


@pytest.mark.parametrize(
    "question, fragment",
    [("", "empty"), ("   ?! ", "empty"), ("zork " * 5, "knows none of the words"), ("x" * 5000, "characters long")],
    ids=["empty", "punctuation", "unknown-words", "too-long"],
)
def test_bad_questions_are_refused_and_the_worker_goes_on(worker, recorder, qtbot, loaded, question, fragment):
    image = render(random_scene(np.random.default_rng(5)), 64)
    error = ask(worker, recorder, qtbot, "errored", image_key="c", image=image, question=question)
    assert fragment in error.message and error.user_error
    assert ask(worker, recorder, qtbot, image_key="c", image=image, question="what shape is it?").answers


def test_no_picture_or_no_model_is_a_clear_message(worker, recorder, qtbot, tiny_vqa_file):
    error = ask(worker, recorder, qtbot, "errored", image_key="", image=np.zeros((64, 64, 3), np.uint8),
                question="what color is the shape?")
    assert "no question-answering model is open" in error.message
    rid = worker.submit(LoadVQAModelRequest(path=str(tiny_vqa_file)))
    wait_final(qtbot, recorder, rid)
    error = ask(worker, recorder, qtbot, "errored", image_key="never-seen", image=None, question="what color?")
    assert "there is no picture" in error.message


def test_evaluation_reports_progress_accuracy_and_confusion(worker, recorder, qtbot, loaded):
    rid = worker.submit(VQAEvalRequest(split="test"))
    qtbot.waitUntil(lambda: recorder.final(rid) is not None, timeout=120_000)
    result = wait_final(qtbot, recorder, rid).payload
    progress = [r.payload for r in recorder.of(rid, "partial_ready")]
    assert all(isinstance(p, VQAEvalProgress) for p in progress) and progress[-1].pictures_done == 1000
    assert [p.pictures_done for p in progress] == sorted(p.pictures_done for p in progress)
    assert isinstance(result, VQAEvalResult)
    m = result.metrics
    n = len(result.questions)
    assert m["questions"] == n == len(result.truth) == len(result.predicted) == len(result.image_paths)
    right = sum(t == p for t, p in zip(result.truth, result.predicted))
    assert m["accuracy"] == pytest.approx(right / n, abs=1e-4)
    matrix = np.array(m["confusion"]["matrix"])
    assert matrix.sum() == n and np.trace(matrix) == right
    assert set(m["by_type"]) == {"colour", "shape", "yes/no"}


def test_evaluation_can_be_cancelled(worker, recorder, qtbot, loaded):
    rid = worker.submit(VQAEvalRequest(split="test"))
    qtbot.waitUntil(lambda: bool(recorder.of(rid, "partial_ready")), timeout=60_000)  # 0 done: pictures loading
    worker.cancel(rid)
    wait_final(qtbot, recorder, rid, "cancelled")


def test_a_picture_file_is_read_on_the_worker_and_a_named_pipe_is_a_user_error(worker, recorder, qtbot, tmp_path):
    import os

    import cv2

    from rnnstudio.data.images import read_picture_file
    from rnnstudio.worker.protocol import ReadFileRequest

    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), render(random_scene(np.random.default_rng(4)), 96)[..., ::-1])
    rid = worker.submit(ReadFileRequest(fn=read_picture_file, args=(str(path),), what="a picture"))
    image, stamp = wait_final(qtbot, recorder, rid).payload
    assert image.shape == (96, 96, 3) and stamp == os.stat(path).st_mtime_ns
    if hasattr(os, "mkfifo"):
        pipe = tmp_path / "pipe.png"
        os.mkfifo(pipe)
        rid = worker.submit(ReadFileRequest(fn=read_picture_file, args=(str(pipe),), what="a picture"))
        error = wait_final(qtbot, recorder, rid, "errored").payload
        assert error.user_error and "is a named pipe, not a regular file" in error.message
    assert ReadFileRequest(what="a picture").describe() == "reading a picture"  # the status bar's words
