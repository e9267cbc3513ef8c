"""The LRCN (rnnstudio.nn.video): shapes, per-frame answers, the baseline, model files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnstudio.data.clips import MOTIONS, OBJECTS, make_clip
from rnnstudio.errors import ModelFileError
from rnnstudio.nn.video import LRCN, ClipReader, VideoConfig, answer, load_video_model, save_video_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return LRCN(VideoConfig(channels=16, proj=32, hidden=32)).eval()


def test_shapes_of_features_and_heads(model):
    x = torch.rand(2, 5, 3, 64, 64)
    feats = model.features(x)
    assert feats.shape == (2, 5, 16 * 4 * 4)
    motion, obj = model(feats)
    assert motion.shape == (2, 5, len(MOTIONS)) and obj.shape == (2, 5, len(OBJECTS))
    bm, bo = model.baseline(feats[:, -1])
    assert bm.shape == (2, len(MOTIONS)) and bo.shape == (2, len(OBJECTS))


VARIANTS = [dict(), dict(delta=True), dict(delta=True, since=True, pool=8, cell=8, dropout=0.2),
            dict(delta=True, since=True, pool=8, cell=8, mix=8)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_prediction_after_every_frame_is_causal(variant):
    torch.manual_seed(0)
    model = LRCN(VideoConfig(channels=16, proj=32, hidden=32, **variant)).eval()
    feats = torch.rand(1, 6, model.config.feature_size)
    full, _ = model(feats)
    part, _ = model(feats[:, :3])
    assert torch.allclose(full[:, :3], part, atol=1e-6)  # frame t's answer sees frames 1..t only


def test_answer_has_a_motion_per_frame_and_a_sentence(model):
    a = answer(model, make_clip(1, frames=17).frames)
    assert len(a.per_frame) == 17 and a.motion in MOTIONS
    assert all(0 <= p <= 1 for _, p in a.per_frame)
    assert (a.obj is None) == (a.motion == "still") and a.sentence


@pytest.mark.parametrize("variant", VARIANTS)
def test_reading_frame_by_frame_gives_the_whole_clips_answers(variant):
    torch.manual_seed(1)
    model = LRCN(VideoConfig(channels=16, proj=32, hidden=32, **variant)).eval()
    frames = make_clip(3, frames=16).frames
    whole = answer(model, frames)
    reader = ClipReader(model)
    readings = [reader.step(f) for f in frames]
    assert [r.index for r in readings] == list(range(1, 17))
    for (motion, p), r in zip(whole.per_frame, readings):
        assert r.motion == motion and r.motion_p.max() == pytest.approx(p, abs=1e-5)
    assert readings[-1].sentence == whole.sentence and readings[-1].hidden.shape == (32,)
    with torch.no_grad():
        bm, _ = model.baseline(model.features(torch.from_numpy(frames[-1:]).permute(0, 3, 1, 2)[None] / 255.0)[:, -1])
    assert np.allclose(readings[-1].baseline_motion_p, bm.softmax(-1)[0].numpy(), atol=1e-5)
    reader.reset()
    again = reader.step(frames[0])
    assert again.index == 1 and np.allclose(again.motion_p, readings[0].motion_p, atol=1e-6)


def test_save_and_load_round_trip(model, tmp_path):
    path = tmp_path / "v.safetensors"
    save_video_model(path, model, {"steps": 3, "metrics": {}})
    loaded = load_video_model(path)
    assert loaded.trained["steps"] == 3 and loaded.model.config == model.config
    frames = make_clip(2, frames=16).frames
    assert answer(loaded.model, frames).per_frame == answer(model, frames).per_frame


def test_a_model_of_another_task_is_refused(tmp_path):
    from rnnstudio.nn.modelfile import ModelFile, save_model_file

    path = tmp_path / "other.safetensors"
    save_model_file(path, ModelFile("caption", {}, ["x"], {"w": torch.zeros(1)}, {"steps": 0}))
    with pytest.raises(ModelFileError, match="not a video model"):
        load_video_model(path)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError):
        VideoConfig(image_size=60)
    with pytest.raises(ValueError):
        VideoConfig(dropout=1.0)
    with pytest.raises(ValueError):
        VideoConfig(pool=9)
    with pytest.raises(ValueError):
        VideoConfig(mix=8)
    assert np.isfinite(VideoConfig().feature_size)
