"""The captioning panel, through the real capture thread and worker, on a tiny captioner."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest
import torch

from rnnstudio.media.sources import write_video


@pytest.fixture
def shipped_captioner(tmp_path):
    """A tiny real captioner, a few training steps old, where the app looks for the shipped one."""
    from rnnstudio.nn.captioner import CaptionerConfig, save_captioner
    from rnnstudio.train.caption import CaptionTrainer, CaptionTrainSettings, ShapesData

    torch.manual_seed(0)  # the same tiny model whatever ran before: it writes words, not only <end>
    settings = CaptionTrainSettings(batch_size=8, steps=3)
    config = CaptionerConfig(vocab_size=1, channels=16, embed=16, hidden=32, attention=16)
    trainer = CaptionTrainer(ShapesData(config.image_size, settings), config, settings)
    for _ in range(3):
        trainer.step()
    folder = tmp_path / "models"
    folder.mkdir()
    save_captioner(folder / "shapes-caption.safetensors", trainer.model, {"steps": 3})
    return folder / "shapes-caption.safetensors"


@pytest.fixture
def panel(shipped_captioner, window, qtbot):
    p = window.panels["caption"]
    window.show_panel("caption")
    qtbot.waitUntil(lambda: p.model is not None, timeout=30_000)
    return p


def test_generated_stream_is_captioned_and_graded(panel, qtbot):
    results = []
    panel.caption_ready.connect(results.append)
    panel.sources.combo.setCurrentIndex(panel.sources.combo.findData("generated-camera"))
    panel.start_source()
    qtbot.waitUntil(lambda: len(results) >= 3, timeout=30_000)
    r = results[-1]
    assert r.grade in ("without errors", "minor errors", "somewhat related", "unrelated")
    assert 0.0 <= r.f1 <= 1.0
    assert len(r.words) == len(r.probabilities) == r.attention.shape[0]
    assert np.allclose(r.attention.sum(axis=(1, 2)), 1.0, atol=1e-4)
    indices = [x.frame_index for x in results]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)  # newest frames, never twice
    assert "Graded against the generated scene" in panel.caption_view.grade_label.text()
    panel.stop_source()
    # One to many, unrolled over the caption shown: the picture in once, a word out at each step.
    shown = panel.result
    steps = panel.shape_diagram.steps()
    assert steps[0].picture and [s.y for s in steps] == [*shown.words, "<end>"]
    assert panel.shape_diagram.picture().size().width() >= 64  # a thumbnail of the frame


def test_video_file_through_opencv_never_queues_frames(panel, qtbot, tmp_path, coloured_frames):
    path = tmp_path / "clip.avi"
    write_video(path, coloured_frames(30, size=(120, 160)), fps=30)
    results = []
    panel.caption_ready.connect(results.append)
    panel.sources.use_video_file(str(path))
    panel.start_source()
    qtbot.waitUntil(lambda: len(results) >= 3 and panel.capture.frames_read >= 20, timeout=30_000)
    panel.stop_source()
    # One caption in flight at a time, each for the newest frame: never more captions than frames.
    assert len(results) <= panel.capture.frames_read
    assert results[-1].image.shape == (120, 160, 3)
    assert panel.caption_view.view.frames_painted > 0


def test_unreadable_video_offers_the_generated_stream(panel, qtbot, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x01 not a video" * 50)
    panel.sources.use_video_file(str(bad))
    panel.start_source()
    assert panel.message.kind == "error" and "not a video" in panel.message.label.text()
    assert panel.message.action_button.isVisible()
    results = []
    panel.caption_ready.connect(results.append)
    panel.message.action_button.click()  # "Use generated shapes"
    qtbot.waitUntil(lambda: len(results) >= 1, timeout=30_000)
    assert panel.sources.combo.currentData() == "generated-camera"
    panel.stop_source()


def test_no_camera_is_reported_with_a_way_out(panel):
    panel.sources.combo.setCurrentIndex(panel.sources.combo.findData("camera"))
    panel.sources.camera_spin.setValue(9)
    panel.start_source()
    assert "no camera answers at index 9" in panel.message.label.text()
    assert not panel.capture.running


def test_freeze_hover_and_save(panel, qtbot, tmp_path):
    results = []
    panel.caption_ready.connect(results.append)
    panel.sources.combo.setCurrentIndex(panel.sources.combo.findData("generated-plain"))
    panel.start_source()
    qtbot.waitUntil(lambda: len(results) >= 2, timeout=30_000)
    panel.set_frozen(True)
    frozen = panel.result
    qtbot.wait(400)
    assert panel.result is frozen  # the frame and caption hold still
    panel.show_attention(0)
    assert panel.caption_view.view._overlay is not None
    out = tmp_path / "frame.png"
    assert panel.save_frame(str(out))
    from PySide6.QtGui import QImage

    saved = QImage(str(out))
    assert saved.height() > frozen.image.shape[0]  # the frame plus the caption bar

    # A caption longer than the frame is wide wraps onto more lines instead of being cut off.
    long_words = ("a large yellow triangle left of a small teal circle and " * 3).split()
    panel.result = dataclasses.replace(frozen, words=long_words, probabilities=[1.0] * len(long_words))
    assert panel.save_frame(str(out))
    saved = QImage(str(out)).convertToFormat(QImage.Format.Format_Grayscale8)
    pixels = np.frombuffer(saved.constBits(), np.uint8).reshape(saved.height(), saved.bytesPerLine())
    frame_height = -(-480 // frozen.image.shape[0]) * frozen.image.shape[0]
    ink = (pixels[frame_height:, : saved.width()] < 128).any(axis=1)
    lines = np.count_nonzero(ink[1:] & ~ink[:-1]) + int(ink[0])
    assert lines >= 3
    assert not (pixels[frame_height:, saved.width() - 3 : saved.width()] < 128).any()  # nothing runs off the edge
    assert [p.name for p in tmp_path.glob("frame*")] == ["frame.png"]  # no temporary file left
    panel.stop_source()


def test_word_labels_are_kept_and_changed_only_where_the_caption_changes(panel, qtbot):
    """Live captions repeat for frame after frame of a scene: the labels stay, and each shows
    the newest caption's word, percentage and colour; a shorter caption drops the labels left over."""
    from rnnstudio.ui.word_label import WordLabel, probability_color

    results = []
    panel.caption_ready.connect(results.append)
    panel.sources.combo.setCurrentIndex(panel.sources.combo.findData("generated-plain"))
    panel.start_source()
    qtbot.waitUntil(lambda: len(results) >= 1, timeout=30_000)
    panel.stop_source()
    first = results[-1]

    def shown():
        labels = [panel.caption_view.words_row.itemAt(k).widget() for k in range(panel.caption_view.words_row.count())]
        assert all(isinstance(label, WordLabel) for label in labels)
        return labels

    def show(words, probabilities):
        panel.show_result(dataclasses.replace(first, words=words, probabilities=probabilities))
        labels = shown()
        want = [f"{w}<br><small>{p:.0%}</small>" for w, p in zip(words, probabilities)]
        assert [label.text() for label in labels] == want
        for label, p in zip(labels, probabilities):
            assert probability_color(round(p, 2)).name() in label.styleSheet()
        assert [label.index for label in labels] == list(range(len(words)))
        return labels

    words = "a large red circle above a small blue square".split()
    probabilities = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    long_caption = show(words, probabilities)
    again = show(words, probabilities)
    assert again == long_caption  # the same widgets: nothing rebuilt for the same caption
    changed = show("a small green triangle".split(), [0.95, 0.35, 0.7, 0.99])
    assert changed == long_caption[:4]
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)  # the dropped labels' deleteLater
    assert len(panel.caption_view.words_holder.findChildren(WordLabel)) == 4
    panel.show_attention(3)
    assert panel.caption_view.view._overlay is not None  # hovering a kept label still shows its word's attention


def test_closing_while_captioning_stops_quickly(panel, window, qtbot):
    results = []
    panel.caption_ready.connect(results.append)
    panel.sources.combo.setCurrentIndex(panel.sources.combo.findData("generated-camera"))
    panel.start_source()
    qtbot.waitUntil(lambda: len(results) >= 1, timeout=30_000)
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 2.0
    assert not any(t.name in ("rnnstudio-capture", "rnnstudio-device-worker") for t in threading.enumerate())


def test_missing_captioner_is_reported(window, qtbot):
    panel = window.panels["caption"]
    qtbot.waitUntil(lambda: panel.message.kind == "error", timeout=30_000)
    assert "shapes-caption.safetensors is missing" in panel.message.label.text()


def test_find_cameras_reports_what_opencv_finds(window, qtbot):
    from rnnstudio.media.sources import find_cameras

    panel = window.panels["caption"]
    expected = find_cameras()
    with qtbot.waitSignal(panel.sources.camera_probe.found, timeout=20_000):
        panel.sources.find_cameras()
    text = panel.sources.cameras_label.text()
    if expected:
        assert text == "Cameras found: " + ", ".join(str(i) for i in expected)
    else:
        assert "finds no camera" in text
    assert panel.sources.find_cameras_button.isEnabled()
    panel.sources.camera_probe.wait()
