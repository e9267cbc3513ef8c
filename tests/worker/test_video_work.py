"""Video through the real worker thread: the shipped LRCN reading clips in pieces, bad frames,
and a tiny training run as the worker's job."""

from __future__ import annotations

import numpy as np
import pytest
from worker_helpers import wait_final

from rnnstudio.data.clips import MOTIONS, make_clip, sentence
from rnnstudio.train.progress import TrainingProgress
from rnnstudio.worker.video_messages import (
    DescribeClipRequest,
    LoadVideoModelRequest,
    StartVideoTrainingRequest,
    UseTrainedVideoModelRequest,
    VideoFramesRequest,
    VideoTrainingStarted,
    VideoTrainSpec,
)


def ask(worker, recorder, qtbot, request, expect="result_ready"):
    return wait_final(qtbot, recorder, worker.submit(request), expect).payload


@pytest.fixture
def loaded(worker, recorder, qtbot):
    info = ask(worker, recorder, qtbot, LoadVideoModelRequest())
    assert info.path.endswith("shapes-video.safetensors") and info.motions == MOTIONS
    return info


def test_a_clip_read_in_pieces_is_the_clip_read_whole(worker, recorder, qtbot, loaded):
    from rnnstudio.nn.video import answer, load_video_model
    from rnnstudio.paths import shipped_model

    clip = make_clip(3, camera=True, size=loaded.image_size, motion="left", frames=20)
    pieces = [clip.frames[:1], clip.frames[1:7], clip.frames[7:20]]
    readings = []
    for k, piece in enumerate(pieces):
        r = ask(worker, recorder, qtbot, VideoFramesRequest(frames=tuple(piece), new_clip=k == 0, clip=5))
        assert r.clip == 5 and len(r.readings) == len(piece)
        readings += r.readings
    assert [r.index for r in readings] == list(range(1, 21))
    for r in readings:
        assert np.isclose(r.motion_p.sum(), 1, atol=1e-5) and np.isclose(r.baseline_motion_p.sum(), 1, atol=1e-5)
        assert r.hidden.shape == (loaded.hidden,) and r.motion in MOTIONS
    whole = answer(load_video_model(shipped_model("video")).model, clip.frames)
    assert [r.motion for r in readings] == [m for m, _p in whole.per_frame]
    assert readings[-1].guess == sentence(whole.motion, whole.obj)
    # The sentence: the shipped model's decoder writes it from the last frame's state.
    last = readings[-1]
    d = ask(worker, recorder, qtbot, DescribeClipRequest(clip=5, hidden=last.hidden, motion=last.motion, obj=last.obj))
    assert d.clip == 5 and d.written and loaded.decoder
    assert d.sentence == whole.sentence and [w.word for w in d.words] == [w.word for w in whole.words]
    assert all(0 < w.p <= 1 and len(w.alternatives) == 3 for w in d.words)
    # Another clip number starts again from an empty state, as does new_clip.
    again = ask(worker, recorder, qtbot, VideoFramesRequest(frames=tuple(clip.frames[:2]), clip=6))
    assert [r.index for r in again.readings] == [1, 2]
    assert np.allclose(again.readings[0].motion_p, readings[0].motion_p, atol=1e-5)


def test_frames_of_any_size_are_fit_to_the_model(worker, recorder, qtbot, loaded):
    frames = (np.zeros((480, 640, 3), np.uint8), np.full((50, 90, 3), 200, np.uint8))
    r = ask(worker, recorder, qtbot, VideoFramesRequest(frames=frames, new_clip=True))
    assert [x.index for x in r.readings] == [1, 2]


@pytest.mark.parametrize("frames, fragment", [
    ((), "1 to 64 frames"),
    ((np.zeros((4, 4, 3), np.uint8),), "too small"),
    ((np.zeros((32, 32), np.uint8),), "not an RGB picture"),
    ((np.zeros((32, 32, 3), np.float32),), "not an RGB picture"),
    (("not a frame",), "not an RGB picture"),
], ids=["none", "tiny", "grey", "float", "text"])
def test_bad_frames_get_a_clear_message_and_the_worker_goes_on(worker, recorder, qtbot, loaded, frames, fragment):
    error = ask(worker, recorder, qtbot, VideoFramesRequest(frames=frames), "errored")
    assert fragment in error.message and error.user_error
    good = ask(worker, recorder, qtbot, VideoFramesRequest(frames=(np.zeros((64, 64, 3), np.uint8),), new_clip=True))
    assert len(good.readings) == 1


def test_reading_before_a_model_is_open_says_so(worker, recorder, qtbot):
    error = ask(worker, recorder, qtbot, VideoFramesRequest(frames=(np.zeros((64, 64, 3), np.uint8),)), "errored")
    assert "no video model is open" in error.message
    error = ask(worker, recorder, qtbot, DescribeClipRequest(hidden=np.zeros(256, np.float32)), "errored")
    assert "no video model is open" in error.message


@pytest.mark.parametrize("request_fields, fragment", [
    (dict(hidden=None), "not a vector"),
    (dict(hidden=np.zeros(7, np.float32)), "not a vector"),
    (dict(hidden=np.zeros(256, np.float32), motion="sideways"), "not a motion and shape"),
    (dict(hidden=np.zeros(256, np.float32), motion="left", obj="purple blob"), "not a motion and shape"),
], ids=["no-state", "wrong-size", "motion", "object"])
def test_a_bad_description_request_gets_a_clear_message(worker, recorder, qtbot, loaded, request_fields, fragment):
    error = ask(worker, recorder, qtbot, DescribeClipRequest(**request_fields), "errored")
    assert fragment in error.message and error.user_error
    good = ask(worker, recorder, qtbot, DescribeClipRequest(hidden=np.zeros(loaded.hidden, np.float32)))
    assert good.words and good.words[-1].word != "<eos>"


def test_a_model_file_of_another_task_is_refused(worker, recorder, qtbot):
    from rnnstudio.paths import shipped_model

    error = ask(worker, recorder, qtbot, LoadVideoModelRequest(path=str(shipped_model("caption"))), "errored")
    assert error.user_error and "video" in error.message


def test_a_tiny_training_run_through_the_worker_can_then_be_read_with(worker, recorder, qtbot, loaded):
    error = ask(worker, recorder, qtbot, UseTrainedVideoModelRequest(), "errored")
    assert "no video model was trained" in error.message
    error = ask(worker, recorder, qtbot, StartVideoTrainingRequest(spec=VideoTrainSpec(clips=0)), "errored")
    assert "clips must be between" in error.message
    rid = worker.submit(StartVideoTrainingRequest(spec=VideoTrainSpec(clips=16, steps=4, hidden=8)))
    progress = wait_final(qtbot, recorder, rid).payload
    assert isinstance(progress, TrainingProgress) and progress.state == "finished" and progress.iteration == 4
    partials = [r.payload for r in recorder.of(rid, "partial_ready")]
    assert isinstance(partials[0], VideoTrainingStarted) and partials[0].clips == 16
    losses = [loss for p in partials if isinstance(p, TrainingProgress) for loss in p.losses]
    assert len(losses) == 4 and all(np.isfinite(losses))
    info = ask(worker, recorder, qtbot, UseTrainedVideoModelRequest())
    assert info.path is None and info.hidden == 8 and info.trained["steps"] == 4
    frames = tuple(make_clip(1, size=info.image_size, frames=16).frames[:3])
    r = ask(worker, recorder, qtbot, VideoFramesRequest(frames=frames, new_clip=True))
    assert [x.hidden.shape for x in r.readings] == [(8,)] * 3
    d = ask(worker, recorder, qtbot, DescribeClipRequest(clip=1, hidden=r.readings[-1].hidden))
    assert info.decoder and d.written and all(w.word not in ("<bos>", "<eos>") for w in d.words)
