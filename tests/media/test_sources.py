"""Frame sources through OpenCV, on files the tests write."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rnnstudio.media.sources import (
    CameraSource,
    ImageSource,
    SourceError,
    VideoFileSource,
    read_image_file,
    write_video,
)


def test_generated_video_file_is_read_in_order_at_its_rate(tmp_path, coloured_frames):
    path = tmp_path / "clip.avi"
    write_video(path, coloured_frames(), fps=12)
    source = VideoFileSource(path, loop=False)
    assert source.fps == pytest.approx(12, abs=0.01)
    reds = []
    for _ in range(12):
        frame = source.read()
        assert frame.image.shape == (48, 64, 3) and frame.image.dtype == np.uint8
        reds.append(int(frame.image[:, :, 0].mean()))
    assert reds == sorted(reds) and abs(reds[0] - 0) < 8 and abs(reds[-1] - 255) < 8  # RGB, in order
    with pytest.raises(SourceError, match="ended"):
        source.read()
    source.close()


def test_video_loops_when_asked(tmp_path, coloured_frames):
    path = tmp_path / "clip.avi"
    write_video(path, coloured_frames(4), fps=10)
    source = VideoFileSource(path)
    reds = [int(source.read().image[:, :, 0].mean()) for _ in range(8)]
    assert reds[:4] == pytest.approx(reds[4:], abs=3)
    source.close()


def test_unreadable_video_and_missing_files_are_refused(tmp_path):
    bad = tmp_path / "not-a-video.avi"
    bad.write_bytes(b"this is text, not a video" * 10)
    with pytest.raises(SourceError, match="not a video OpenCV can read"):
        VideoFileSource(bad)
    with pytest.raises(SourceError, match="does not exist"):
        VideoFileSource(tmp_path / "missing.mp4")


def test_no_camera_gives_a_clear_message():
    with pytest.raises(SourceError, match="no camera answers at index 97"):
        CameraSource(97)


def test_image_formats_become_rgb(tmp_path):
    grey = np.full((20, 30), 128, np.uint8)
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    assert read_image_file(tmp_path / "grey.png").shape == (20, 30, 3)
    bgra = np.zeros((10, 10, 4), np.uint8)
    bgra[:, :, 2] = 255  # red in OpenCV's BGR order
    bgra[:, :5, 3] = 255  # left half opaque, right half transparent
    cv2.imwrite(str(tmp_path / "alpha.png"), bgra)
    rgb = read_image_file(tmp_path / "alpha.png")
    assert tuple(rgb[0, 0]) == (255, 0, 0) and tuple(rgb[0, 9]) == (255, 255, 255)  # alpha over white
    deep = (np.arange(100, dtype=np.uint16).reshape(10, 10) * 600)
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    assert read_image_file(tmp_path / "deep.png").dtype == np.uint8
    (tmp_path / "fake.png").write_bytes(b"GIF89a not really")
    with pytest.raises(SourceError, match="fake.png is not a picture"):
        read_image_file(tmp_path / "fake.png")


def test_huge_frames_are_scaled_down(tmp_path):
    cv2.imwrite(str(tmp_path / "huge.jpg"), np.zeros((3000, 4000, 3), np.uint8))
    frame = ImageSource(tmp_path / "huge.jpg").read()
    assert max(frame.image.shape[:2]) == 1280


def test_image_folder_cycles_in_name_order(tmp_path):
    for k, name in enumerate(["b.png", "a.png", "c.jpg"]):
        cv2.imwrite(str(tmp_path / name), np.full((8, 8, 3), 40 * k, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    source = ImageSource(tmp_path)
    assert [source.read().truth.rsplit("/", 1)[-1] for _ in range(4)] == ["a.png", "b.png", "c.jpg", "a.png"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="has no images"):
        ImageSource(empty)
