"""The capture thread: newest frame wins, failures are reported, stopping leaves no thread."""

from __future__ import annotations

import threading
import time

from rnnstudio.media.sources import FrameSource, SourceError, VideoFileSource, write_video
from rnnstudio.worker.capture import CaptureThread


class CountingSource(FrameSource):
    """A real FrameSource subclass producing numbered frames; fails after `fail_after` if set."""

    fps = 100.0

    def __init__(self, fail_after=None):
        super().__init__()
        self.fail_after = fail_after
        self.closed = False

    def read(self):
        if self.fail_after is not None and self._count >= self.fail_after:
            raise SourceError("camera 0 stopped sending frames (unplugged?)")
        import numpy as np

        return self._frame(np.full((4, 4, 3), self._count % 256, np.uint8))

    def close(self):
        self.closed = True


def test_frames_flow_and_newest_wins(qtbot):
    capture = CaptureThread()
    source = CountingSource()
    signals = []
    capture.frame_ready.connect(lambda: signals.append(time.monotonic()))
    capture.start(source)
    try:
        qtbot.waitUntil(lambda: capture.frames_read >= 30, timeout=5_000)
        # Nobody took a frame: only one signal was sent, however many frames arrived.
        qtbot.wait(100)
        assert len(signals) == 1
        first = capture.latest()
        qtbot.waitUntil(lambda: len(signals) == 2, timeout=2_000)
        second = capture.latest()
        assert second.index > first.index  # the newest, not the next in a queue
        third = capture.latest()  # at once: no newer frame yet, or a newer one; never `second` again
        assert third is None or third.index > second.index
    finally:
        capture.stop()
    assert source.closed and not capture.running
    assert not any(t.name == "rnnstudio-capture" for t in threading.enumerate())


def test_unplugged_camera_is_reported(qtbot):
    capture = CaptureThread()
    with qtbot.waitSignal(capture.failed, timeout=5_000) as blocker:
        capture.start(CountingSource(fail_after=5))
    assert "unplugged" in blocker.args[0]
    capture.stop()


def test_video_file_plays_at_its_rate(qtbot, tmp_path, coloured_frames):
    path = tmp_path / "clip.avi"
    write_video(path, coloured_frames(8), fps=20)
    capture = CaptureThread()
    taken = []
    capture.frame_ready.connect(lambda: taken.append(capture.latest()))
    capture.start(VideoFileSource(path))
    try:
        qtbot.wait(1_000)
    finally:
        capture.stop()
    # About 20 frames a second, all shown (the GUI took each at once).
    assert 12 <= len(taken) <= 24
