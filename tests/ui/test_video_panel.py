"""The video panel, through the real capture thread and worker, with the shipped video model."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from rnnstudio.data.clips import make_clip
from rnnstudio.media.sources import FrameSource, SourceError, write_video
from rnnstudio.ui.word_label import WordLabel

MODELS = Path(__file__).resolve().parents[2] / "models"
WAIT_MS = 60_000


@pytest.fixture
def models(tmp_path):
    """The shipped video model (and the captioner, whose encoder a training run starts from) where
    the app looks for them."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("shapes-video.safetensors", "shapes-caption.safetensors"):
        shutil.copy(MODELS / name, folder / name)
    return folder


@pytest.fixture
def panel(models, window, qtbot):
    p = window.panels["video"]
    window.show_panel("video")
    qtbot.waitUntil(lambda: p.model is not None, timeout=WAIT_MS)
    yield p
    p.stop_source()


def written_words(panel) -> list[str]:
    """The words in the panel's sentence row, as laid out (not labels removed and awaiting deletion)."""
    labels = [panel.words_row.itemAt(k).widget() for k in range(panel.words_row.count())]
    assert all(isinstance(label, WordLabel) for label in labels)
    return [label.text().split("<br>")[0] for label in labels]


def decided(panel):
    runs = []
    panel.clip_decided.connect(runs.append)
    return runs


def test_generated_clips_are_read_frame_by_frame_and_graded(panel, qtbot):
    runs = decided(panel)
    panel.sources.choose("generated-plain")
    panel.start_source()
    qtbot.waitUntil(lambda: len(runs) >= 1, timeout=WAIT_MS)
    panel.stop_source()
    run = runs[0]
    assert run.final == len(run.readings) == len(run.thumbnails) >= run.truth.frames - 2
    assert [r.index for r in run.readings] == list(range(1, run.final + 1))  # every frame shown, in order
    assert "One frame alone" in panel.baseline_label.text() and "generated clips" in panel.score_label.text()
    # The sentence, written by the decoder once every frame is read, a word at a time.
    qtbot.waitUntil(lambda: run.description is not None, timeout=WAIT_MS)
    assert run.description.written and run.description.sentence
    assert panel.written_run is run
    qtbot.waitUntil(lambda: panel.shown_words == len(run.description.words), timeout=WAIT_MS)
    assert written_words(panel) == run.description.sentence.split()
    assert "<b>right</b>" in panel.truth_label.text() or "<b>wrong</b>" in panel.truth_label.text()
    assert "sentence right" in panel.score_label.text()
    if panel.run is run:
        # Many to many, then words out: a step for each frame read with the LSTM's guess out of
        # each, then a step for each word written (nothing in but the word before), then <eos>.
        steps = panel.shape_diagram.steps()
        frames = len(run.readings)
        assert steps[frames - 1].y == run.readings[-1].motion and steps[frames - 1].x == f"frame {frames}"
        assert [s.y for s in steps[frames:]] == [*run.description.sentence.split(), "<eos>"]
        assert all(s.x is None for s in steps[frames:])
    content = panel.strip.content
    assert content.columns and all(c.reading is not None for c in content.columns[: len(panel.run.readings)])
    assert panel.view.frames_painted > 0
    assert panel.shown_frame.truth.clip >= run.truth.clip  # the frame on screen, with its truth (benchmarks read it)


def test_one_frame_is_not_enough_lesson_alternates_left_and_right(panel, qtbot):
    from rnnstudio.ui.registry import lessons

    runs = decided(panel)
    lesson = next(x for x in lessons() if x.title == "One frame is not enough")
    lesson.apply(panel)
    qtbot.waitUntil(lambda: len(runs) >= 2, timeout=WAIT_MS)
    panel.stop_source()
    assert [r.truth.motion for r in runs[:2]] == ["left", "right"]
    assert "the LSTM" in panel.score_label.text() and "one frame alone" in panel.score_label.text()


def test_a_video_file_and_a_folder_of_frames_are_clips(panel, qtbot, tmp_path):
    clip = make_clip(4, size=64, motion="down", frames=12)
    video = tmp_path / "clip.avi"
    write_video(video, list(clip.frames), fps=24)
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(clip.frames):
        cv2.imwrite(str(folder / f"{k:03d}.png"), frame[..., ::-1])
    for use in (lambda: panel.sources.use_video_file(str(video)), lambda: panel.sources.use_folder(str(folder))):
        runs = decided(panel)
        use()
        panel.start_source()
        qtbot.waitUntil(lambda: len(runs) >= 1, timeout=WAIT_MS)
        panel.stop_source()
        # Every frame shown is read (a frame the GUI had no time for is skipped, as a camera's would be).
        assert 10 <= runs[0].final == len(runs[0].readings) <= 12
        assert runs[0].truth.frames == 12 and runs[0].truth.sentence is None  # no truth to grade a file against
        assert panel.truth_label.text() == ""


def _file(path, data: bytes):
    path.write_bytes(data)
    return path


def _folder(tmp_path, *sizes, extra=None):
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, (h, w) in enumerate(sizes):
        cv2.imwrite(str(folder / f"{k:03d}.png"), np.full((h, w, 3), 90, np.uint8))
    if extra:
        (folder / extra).write_text("not a frame")
    return folder


@pytest.mark.parametrize("make, fragment", [
    (lambda d: _file(d / "empty.mp4", b""), "zero bytes"),
    (lambda d: _file(d / "broken.mp4", b"\x00\x01 not a video" * 50), "not a video"),
    (lambda d: _folder(d, (64, 64), (64, 64), extra="notes.txt"), "not an image"),
    (lambda d: _folder(d, (64, 64)), "single frame"),
    (lambda d: _folder(d, (64, 64), (48, 80)), "different sizes"),
    (lambda d: d / "nowhere.avi", "does not exist"),
], ids=["zero-length-video", "corrupt-video", "folder-with-a-non-image", "single-frame", "frames-of-two-sizes",
        "missing"])
def test_bad_files_get_a_clear_message_and_a_way_out(panel, qtbot, tmp_path, make, fragment):
    path = make(tmp_path)
    if path.is_dir():
        panel.sources.use_folder(str(path))
    else:
        panel.sources.use_video_file(str(path))
    panel.start_source()
    qtbot.waitUntil(lambda: panel.message.kind == "error", timeout=WAIT_MS)
    assert fragment in panel.message.label.text()
    assert panel.message.action_button.isVisible()  # "Use generated clips"
    assert not panel.capture.running
    runs = decided(panel)
    panel.message.action_button.click()
    qtbot.waitUntil(lambda: len(runs) >= 1, timeout=WAIT_MS)  # the way out works, the worker went on


def test_a_large_video_is_held_scaled_down_and_read(panel, qtbot, tmp_path):
    from rnnstudio.media.clip_sources import SHOWN_LONGEST

    video = tmp_path / "large.avi"
    write_video(video, [np.full((720, 1280, 3), 40 * k, np.uint8) for k in range(6)], fps=24)
    runs = decided(panel)
    panel.sources.use_video_file(str(video))
    panel.start_source()
    qtbot.waitUntil(lambda: len(runs) >= 1, timeout=WAIT_MS)
    panel.stop_source()
    assert 4 <= len(runs[0].readings) <= 6  # a frame the GUI had no time for may be skipped, as from a camera
    held = panel.capture.source._clip_frames
    assert {f.shape for f in held} == {(SHOWN_LONGEST * 720 // 1280, SHOWN_LONGEST, 3)}


def test_no_camera_is_reported_with_a_way_out(panel):
    panel.sources.choose("camera")
    panel.sources.camera_spin.setValue(9)
    panel.start_source()
    assert "no camera answers at index 9" in panel.message.label.text()
    assert not panel.capture.running


class FlakyCamera(FrameSource):
    """A camera stream (no clips of its own) that is unplugged after `frames` frames."""

    name = "flaky camera"
    fps = 30.0

    def __init__(self, frames: int, size: int = 64):
        super().__init__()
        self.frames, self.size = frames, size

    def read(self):
        if self._count >= self.frames:
            raise SourceError("camera 0 stopped sending frames (unplugged?); plug it back in")
        return self._frame(np.full((self.size, self.size, 3), 8 * self._count % 256, np.uint8))


def test_a_camera_stream_is_cut_into_clips_and_unplugging_it_is_reported(panel, qtbot):
    runs = decided(panel)
    panel.clip_spin.setValue(4)
    panel.capture.start(FlakyCamera(10))
    qtbot.waitUntil(lambda: panel.message.kind == "error", timeout=WAIT_MS)
    assert "unplugged" in panel.message.label.text() and not panel.capture.running
    qtbot.waitUntil(lambda: len(runs) >= 2, timeout=WAIT_MS)
    assert [r.final for r in runs[:2]] == [4, 4] and runs[0].truth is None
    # A camera's clips follow with no pause: the newest written sentence stays, under the
    # answer of the clip being read, until the next is written.
    qtbot.waitUntil(lambda: all(r.description is not None for r in runs), timeout=WAIT_MS)
    panel.show_all_words()
    newest = max(runs, key=lambda r: r.number)
    assert panel.written_run is newest
    words = written_words(panel)
    assert words == newest.description.sentence.split() and newest.truth is None and not panel.truth_label.text()
    assert panel.sentence_label.text().startswith("The clip before") == (panel.run is not newest)


def test_a_worker_error_reaches_the_panel_and_the_worker_goes_on(panel, qtbot):
    panel.capture.start(FlakyCamera(3, size=4))  # frames too small for the model
    qtbot.waitUntil(lambda: panel.message.kind == "error", timeout=WAIT_MS)
    assert "too small" in panel.message.label.text() and not panel.capture.running
    runs = decided(panel)
    panel.message.action_button.click()
    qtbot.waitUntil(lambda: len(runs) >= 1, timeout=WAIT_MS)


def test_train_a_small_model_and_read_with_it(panel, qtbot):
    box = panel.train_box
    box.clips.setValue(16)
    box.steps.setValue(3)
    box.hidden.setValue(8)
    box.train_button.click()
    qtbot.waitUntil(lambda: box.state == "finished", timeout=WAIT_MS)
    assert "step 3 of 3" in box.progress_label.text() and "loss" in box.progress_label.text()
    assert box.use_button.isEnabled() and box.train_button.isEnabled()
    box.use_button.click()
    qtbot.waitUntil(lambda: panel.model.hidden == 8, timeout=WAIT_MS)
    runs = decided(panel)
    panel.sources.choose("generated-plain")
    panel.start_source()
    qtbot.waitUntil(lambda: len(runs) >= 1, timeout=WAIT_MS)
    assert runs[0].readings[0].hidden.shape == (8,)


def test_a_model_file_without_a_decoder_is_described_by_the_template_and_says_so(panel, qtbot, tmp_path):
    import torch

    from rnnstudio.data.clips import sentence
    from rnnstudio.nn.video import LRCN, VideoConfig, save_video_model

    torch.manual_seed(0)
    path = tmp_path / "no-decoder.safetensors"
    save_video_model(path, LRCN(VideoConfig(channels=128, proj=32, hidden=16)), {"steps": 0, "metrics": {}})
    panel.open_model(str(path))
    qtbot.waitUntil(lambda: panel.model is not None and panel.model.hidden == 16, timeout=WAIT_MS)
    assert not panel.model.decoder
    described = []
    panel.clip_described.connect(described.append)
    panel.sources.choose("generated-plain")
    panel.start_source()
    qtbot.waitUntil(lambda: len(described) >= 1, timeout=WAIT_MS)
    panel.stop_source()
    run = described[0]
    last = run.readings[-1]
    assert not run.description.written and run.description.sentence == sentence(last.motion, last.obj)
    panel.show_all_words()
    assert panel.written_run is run and "no decoder in this model" in panel.sentence_label.text().lower()
    assert "no sentence decoder" in panel.sentence_label.toolTip()


def test_screenshot_preparation_shows_a_decided_clip(panel, window, qtbot):
    from PySide6.QtWidgets import QApplication

    panel.prepare_screenshot(QApplication.instance(), window)
    assert panel.run.decided and len(panel.decided) >= 2 and not panel.capture.running
    assert "Decided after" in panel.answer_label.text() and panel.sentence_label.text() == "The decoder writes:"
    words = written_words(panel)
    assert words == panel.run.description.sentence.split() and "<b>right</b>" in panel.truth_label.text()


def test_closing_while_playing_stops_quickly(panel, window, qtbot):
    runs = decided(panel)
    panel.sources.choose("generated-camera")
    panel.start_source()
    qtbot.waitUntil(lambda: len(panel._shown_times) >= 3, timeout=WAIT_MS)
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 2.0
    assert not any(t.name in ("rnnstudio-capture", "rnnstudio-device-worker") for t in threading.enumerate())
    del runs


def test_without_a_model_the_frames_are_shown_and_the_panel_says_why_not_read(window, qtbot):
    panel = window.panels["video"]
    window.show_panel("video")
    qtbot.waitUntil(lambda: panel.message.kind == "error", timeout=WAIT_MS)
    assert "shapes-video.safetensors is missing" in panel.message.label.text()
    panel.sources.choose("generated-plain")
    panel.start_source()
    qtbot.waitUntil(lambda: panel.view.frames_painted >= 3, timeout=WAIT_MS)
    panel.stop_source()
    assert "No video model is open" in panel.answer_label.text() and panel.frames_read == 0


def test_presenter_mode_moves_the_shape_to_the_free_controls_column_and_back(panel, window):
    assert panel._answer_layout.indexOf(panel.shape_box) >= 0
    window.set_presenter(True)
    try:
        assert panel._controls_layout.indexOf(panel.shape_box) == panel._controls_layout.indexOf(panel.stats_label) + 1
        assert panel._answer_layout.indexOf(panel.shape_box) < 0
    finally:
        window.set_presenter(False)
    assert panel._answer_layout.indexOf(panel.shape_box) == panel._answer_layout.indexOf(panel.score_label) + 1
    panel.set_presenter(False)  # again: nothing to move
    assert panel._answer_layout.indexOf(panel.shape_box) >= 0
