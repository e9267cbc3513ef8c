"""The capture thread: reads frames from a source at its own rate and keeps the newest.

Frames never queue up: the thread stores the newest frame and signals only when the GUI
has taken the previous one, so a slow GUI or a slow captioner skips frames instead of
falling behind. Reading runs off the GUI thread because a camera's read() blocks until
its next frame arrives.
"""

from __future__ import annotations

import logging
import threading
import time

from PySide6.QtCore import QObject, Signal

from rnnstudio.errors import UserError
from rnnstudio.media.sources import Frame, FrameSource

log = logging.getLogger(__name__)


class CaptureThread(QObject):
    frame_ready = Signal()  # a newer frame is waiting in latest()
    failed = Signal(str)  # the source stopped; the message says why and what to do
    stopped = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._latest: Frame | None = None
        self._signalled = False  # a frame_ready is in flight and not yet taken
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._source: FrameSource | None = None
        self.frames_read = 0

    def start(self, source: FrameSource) -> None:
        """Read from `source` until stopped; a running source is stopped first."""
        self.stop()
        self._stop = threading.Event()
        self._source = source
        self.frames_read = 0
        self._thread = threading.Thread(
            target=self._run, args=(source, self._stop), name="rnnstudio-capture", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout)
        with self._lock:
            self._latest = None
            self._signalled = False

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def source(self) -> FrameSource | None:
        return self._source

    def latest(self) -> Frame | None:
        """The newest frame not taken yet, or None; taking it lets the thread signal the next one.
        Each frame is handed out once: a frame_ready still queued from a stopped source finds
        nothing, rather than the same frame again."""
        with self._lock:
            self._signalled = False
            frame, self._latest = self._latest, None
            return frame

    def _run(self, source: FrameSource, stop: threading.Event) -> None:
        period = 1.0 / max(source.fps, 0.1)
        next_due = time.monotonic()
        try:
            while not stop.is_set():
                frame = source.read()
                self.frames_read += 1
                with self._lock:
                    self._latest = frame
                    signal = not self._signalled
                    self._signalled = True
                if signal:
                    self.frame_ready.emit()
                # A camera paces itself; files and generated streams are paced here.
                next_due += period
                delay = next_due - time.monotonic()
                if delay > 0:
                    stop.wait(delay)
                else:
                    next_due = time.monotonic()
        except UserError as e:
            if not stop.is_set():
                self.failed.emit(str(e))
        except Exception as e:  # an OpenCV failure we did not foresee: report it, end quietly
            log.exception("frame source failed")
            if not stop.is_set():
                self.failed.emit(f"the source failed: {type(e).__name__}: {e}")
        finally:
            source.close()
            self.stopped.emit()


class CameraProbe(QObject):
    """Asks OpenCV which cameras answer, on a short-lived thread (opening one can take seconds)."""

    found = Signal(list)  # camera indices

    def __init__(self, parent=None):
        super().__init__(parent)
        self._thread: threading.Thread | None = None

    def start(self, max_index: int = 4) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        from rnnstudio.media.sources import find_cameras

        self._thread = threading.Thread(
            target=lambda: self.found.emit(find_cameras(max_index)), name="rnnstudio-camera-probe", daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
