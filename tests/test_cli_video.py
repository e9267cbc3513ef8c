"""`rnnstudio video` and `rnnstudio train video` (docs/COMMAND-LINE.md): the JSON contract and every bad input."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from cli_helpers import assert_one_line_error, call_main

from rnnstudio.data.clips import MOTIONS, OBJECTS, make_clip
from rnnstudio.media.sources import write_video
from rnnstudio.nn.video import LRCN, VideoConfig, save_video_model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("video")
    torch.manual_seed(0)
    model = folder / "v.safetensors"
    save_video_model(model, LRCN(VideoConfig(channels=16, proj=32, hidden=32)), {"steps": 0, "metrics": {}})
    clip = make_clip(4, motion="left", frames=18)
    write_video(folder / "clip.avi", list(clip.frames))
    frames = folder / "frames"
    frames.mkdir()
    for i, f in enumerate(clip.frames):
        cv2.imwrite(str(frames / f"{i:03d}.png"), f[..., ::-1])
    return {"model": model, "video": folder / "clip.avi", "frames": frames, "folder": folder}


def _json(capsys, files, path):
    code, out, err = call_main(capsys, "video", "--model", files["model"], "--device", "cpu", "--json", path)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("which", ["video", "frames"])
def test_json_contract(capsys, files, which):
    r = _json(capsys, files, files[which])
    assert set(r) == {"motion", "object", "sentence", "frames", "per_frame"}
    assert r["frames"] == 18 and len(r["per_frame"]) == 18
    assert r["motion"] in MOTIONS and r["per_frame"][-1]["motion"] == r["motion"]
    assert all(p["motion"] in MOTIONS and 0 <= p["p"] <= 1 for p in r["per_frame"])
    if r["motion"] == "still":
        assert r["object"] is None and r["sentence"] == "nothing moves"
    else:
        assert r["object"] in OBJECTS and r["object"] in r["sentence"]


def test_a_model_with_a_decoder_prints_the_sentence_it_writes(capsys, files):
    from rnnstudio.nn.video import answer, load_video_model

    torch.manual_seed(4)
    path = files["folder"] / "decoder.safetensors"
    save_video_model(path, LRCN(VideoConfig(channels=16, proj=32, hidden=32, decoder=16, word_size=8)),
                     {"steps": 0, "metrics": {}})
    code, out, err = call_main(capsys, "video", "--model", path, "--device", "cpu", "--json", files["frames"])
    assert code == 0, err
    model = load_video_model(path).model
    frames = make_clip(4, motion="left", frames=18).frames
    written = answer(model, frames)
    r = json.loads(out)
    assert set(r) == {"motion", "object", "sentence", "frames", "per_frame"}
    assert r["sentence"] == written.sentence == " ".join(w.word for w in written.words)


def test_video_file_and_frame_folder_agree_on_the_motion(capsys, files):
    assert _json(capsys, files, files["frames"])["frames"] == _json(capsys, files, files["video"])["frames"]


def test_without_json_one_sentence(capsys, files):
    code, out, err = call_main(capsys, "video", "--model", files["model"], "--device", "cpu", files["frames"])
    assert code == 0 and len(out.splitlines()) == 1


def _bad(capsys, files, path, *fragments):
    code, out, err = call_main(capsys, "video", "--model", files["model"], "--device", "cpu", "--json", path)
    assert code == 2 and out == ""
    assert_one_line_error(err, *fragments)


def test_bad_inputs_each_a_clear_message(capsys, files, tmp_path):
    _bad(capsys, files, tmp_path / "nothing.avi", "does not exist")
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    _bad(capsys, files, empty, "empty")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4000))
    _bad(capsys, files, corrupt, "not a video")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for i in range(3):
        cv2.imwrite(str(mixed / f"{i}.png"), np.zeros((32, 32, 3), np.uint8))
    (mixed / "notes.txt").write_text("hello")
    _bad(capsys, files, mixed, "notes.txt", "not an image")
    single = tmp_path / "single"
    single.mkdir()
    cv2.imwrite(str(single / "0.png"), np.zeros((32, 32, 3), np.uint8))
    _bad(capsys, files, single, "single frame")
    one_frame_video = tmp_path / "one.avi"
    write_video(one_frame_video, [np.zeros((32, 32, 3), np.uint8)])
    _bad(capsys, files, one_frame_video, "single frame")
    sizes = tmp_path / "sizes"
    sizes.mkdir()
    cv2.imwrite(str(sizes / "0.png"), np.zeros((32, 32, 3), np.uint8))
    cv2.imwrite(str(sizes / "1.png"), np.zeros((40, 32, 3), np.uint8))
    _bad(capsys, files, sizes, "different sizes")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "0.png").write_bytes(b"not a png")
    (broken / "1.png").write_bytes(b"not a png")
    _bad(capsys, files, broken, "0.png")
    empty_dir = tmp_path / "nothing_in_it"
    empty_dir.mkdir()
    _bad(capsys, files, empty_dir, "empty")
    _bad(capsys, files, files["model"], "not a video")


def test_a_caption_model_is_refused_as_video_model(capsys, files):
    from rnnstudio.paths import shipped_model

    code, out, err = call_main(capsys, "video", "--model", shipped_model("caption"), "--json", files["video"])
    assert code == 2 and "not a video model" in err


def test_train_video_tiny(capsys, tmp_path):
    out = tmp_path / "t.safetensors"
    code, _, err = call_main(capsys, "train", "video", "--clips", "8", "--steps", "3", "--batch", "4", "--hidden", "16",
                             "--eval-clips", "4", "--log-every", "1", "--device", "cpu", "--out", out)
    assert code == 0, err
    assert out.is_file() and "unseen camera clips" in err and "sentence decoder 128" in err
    assert "  sentence " in err.splitlines()[-2]  # the sentences written right, beside the motion and shape
    plain = tmp_path / "p.safetensors"
    code, _, err = call_main(capsys, "train", "video", "--clips", "8", "--steps", "2", "--batch", "4", "--hidden", "16",
                             "--decoder", "0", "--eval-clips", "4", "--device", "cpu", "--out", plain)
    assert code == 0, err
    from rnnstudio.nn.video import load_video_model

    assert load_video_model(plain).model.decoder is None and "sentence decoder" not in err


def test_the_shipped_model_answers_by_default(capsys, files):
    code, out, err = call_main(capsys, "video", "--device", "cpu", "--json", files["video"])
    assert code == 0, err
    r = json.loads(out)
    assert r["frames"] == 18 and r["motion"] in MOTIONS


@pytest.mark.parametrize("option, value, fragment", [("--dropout", "1", "below 1"), ("--cell", "-1", "at least 1"),
                                                     ("--pool", "3", "invalid choice"), ("--smoothing", "x", "not a number"),
                                                     ("--decoder", "-2", "at least 1"), ("--word-size", "0", "at least 1")])
def test_train_video_refuses_bad_settings(capsys, tmp_path, option, value, fragment):
    code, out, err = call_main(capsys, "train", "video", option, value, "--out", tmp_path / "t.safetensors")
    assert code == 2 and fragment in err and not (tmp_path / "t.safetensors").exists()


def test_a_clip_is_scaled_as_it_is_read_and_its_frames_must_still_be_of_one_size(files, tmp_path):
    from rnnstudio.data.images import fit_square
    from rnnstudio.media.clipfiles import read_clip
    from rnnstudio.media.sources import SourceError

    large = tmp_path / "large"
    large.mkdir()
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (120, 200, 3), dtype=np.uint8) for _ in range(3)]
    for i, p in enumerate(pictures):
        cv2.imwrite(str(large / f"{i}.png"), p[..., ::-1])
    small = read_clip(large, square=32)
    whole = read_clip(large)
    assert [f.shape for f in small] == [(32, 32, 3)] * 3 and whole[0].shape == (120, 200, 3)
    assert all(np.array_equal(s, fit_square(w, 32)) for s, w in zip(small, whole))
    video = read_clip(files["video"], square=16)
    assert len(video) == 18 and video[0].shape == (16, 16, 3)
    cv2.imwrite(str(large / "3.png"), np.zeros((121, 200, 3), np.uint8))  # one frame a row taller
    with pytest.raises(SourceError, match="different sizes"):
        read_clip(large, square=32)
