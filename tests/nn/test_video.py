"""The LRCN (rnnstudio.nn.video): shapes, per-frame answers, the baseline, model files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from rnnstudio.data.clips import MOTIONS, OBJECTS, SENTENCE_WORDS, make_clip, sentence
from rnnstudio.errors import ModelFileError
from rnnstudio.nn.modelfile import METADATA_KEY
from rnnstudio.nn.video import (
    EOS,
    LRCN,
    ClipReader,
    VideoConfig,
    answer,
    load_video_model,
    save_video_model,
    sentence_ids,
)


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
    assert readings[-1].guess == sentence(whole.motion, whole.obj) and readings[-1].hidden.shape == (32,)
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


def test_a_model_without_a_decoder_describes_with_the_template_of_its_answers(model):
    a = answer(model, make_clip(1, frames=16).frames)
    assert model.decoder is None and a.sentence == sentence(a.motion, a.obj)
    assert [w.word for w in a.words] == a.sentence.split() and all(w.p == 1.0 for w in a.words)


def test_every_sentence_is_made_of_the_decoders_words():
    words = set(SENTENCE_WORDS)
    for m in MOTIONS:
        for o in OBJECTS:
            assert set(sentence(m, o).split()) <= words
    inputs, targets = sentence_ids(torch.tensor([MOTIONS.index("left"), MOTIONS.index("still")]),
                                   torch.tensor([OBJECTS.index("red circle"), 0]))
    said = [SENTENCE_WORDS[i] for i in targets[0].tolist() if i >= 0]
    assert said == ["the", "red", "circle", "moves", "left", "<eos>"]
    assert [SENTENCE_WORDS[i] for i in inputs[1, :3].tolist()] == ["<bos>", "nothing", "moves"]
    assert targets[1, 3] == -100  # padding after "nothing moves <eos>" is ignored by the loss


@pytest.fixture(scope="module")
def decoding_model():
    torch.manual_seed(2)
    return LRCN(VideoConfig(channels=16, proj=32, hidden=32, decoder=24, word_size=8)).eval()


def test_the_decoder_writes_greedily_what_teacher_forcing_scores_highest(decoding_model):
    decoder = decoding_model.decoder
    state = torch.randn(3, 32)
    written = decoder.write(state)  # (3, L, words)
    ids = written.argmax(-1)
    words_in = torch.cat([torch.zeros(3, 1, dtype=torch.long), ids[:, :-1]], 1)  # <bos> is word 0
    forced = decoder(state, words_in).softmax(-1)
    assert torch.allclose(forced, written, atol=1e-5)  # each step fed the likeliest word of the one before
    assert written.shape[1] == 8 or bool((ids == EOS).any(1).all())  # stops once every row has ended


def test_a_decoder_model_writes_the_sentence_and_the_reader_writes_the_same(decoding_model, tmp_path):
    frames = make_clip(5, frames=16).frames
    whole = answer(decoding_model, frames)
    assert whole.sentence == " ".join(w.word for w in whole.words)
    assert all(w.word in SENTENCE_WORDS and 0 < w.p <= 1 and len(w.alternatives) == 3 for w in whole.words)
    reader = ClipReader(decoding_model)
    with pytest.raises(ValueError):
        reader.describe()  # nothing read yet
    for f in frames:
        reader.step(f)
    assert [w.word for w in reader.describe()] == [w.word for w in whole.words]
    path = tmp_path / "d.safetensors"
    save_video_model(path, decoding_model, {"steps": 0, "metrics": {}})
    loaded = load_video_model(path).model
    assert loaded.config.decoder == 24 and answer(loaded, frames).words == whole.words


def test_a_decoder_leaves_the_rest_of_the_models_weights_and_draws_as_they_were():
    torch.manual_seed(3)
    plain = LRCN(VideoConfig(channels=16, proj=32, hidden=32))
    after_plain = torch.rand(1)
    torch.manual_seed(3)
    with_decoder = LRCN(VideoConfig(channels=16, proj=32, hidden=32, decoder=16))
    after_decoder = torch.rand(1)
    decoder_keys = {k for k in with_decoder.state_dict() if k.startswith("decoder.")}
    assert decoder_keys and set(with_decoder.state_dict()) - decoder_keys == set(plain.state_dict())
    assert all(torch.equal(v, with_decoder.state_dict()[k]) for k, v in plain.state_dict().items())
    assert torch.equal(after_plain, after_decoder)  # dropout's draws in training are the same too


def test_a_file_whose_words_differ_from_its_config_is_refused(decoding_model, tmp_path):
    path = tmp_path / "d.safetensors"
    save_video_model(path, decoding_model, {"steps": 0, "metrics": {}})
    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()[METADATA_KEY])
    meta["vocab"] = meta["vocab"][: len(MOTIONS) + len(OBJECTS)]  # the words left out
    save_file(load_file(str(path)), str(path), metadata={METADATA_KEY: json.dumps(meta)})
    with pytest.raises(ModelFileError, match="other labels"):
        load_video_model(path)
