"""What the captioning and video panels share: a live source played through the capture thread
(rnnstudio.worker.capture), the frame rate it is shown at, and a way out when it fails.

A `LivePanel` subclass builds a `SourceBox` as `self.sources` and a `stats_label`, and
provides `_on_frame_ready` (a frame is waiting in `self.capture.latest()`; call
`frame_shown(frame)` once it is on screen) and `stats_line()` (its own second line of figures).
"""

from __future__ import annotations

import collections
import time
from typing import ClassVar

from PySide6.QtCore import QTimer

from rnnstudio.ui.panel import Panel
from rnnstudio.ui.settings import set_number
from rnnstudio.worker.capture import CaptureThread

STATS_MS = 500  # how often the frame rate line is redrawn


class LivePanel(Panel):
    other_source_text: ClassVar[str] = "Use generated shapes"  # the button offered when a source fails

    def __init__(self, worker, parent=None):
        super().__init__(worker, parent)
        self.capture = CaptureThread(self)
        self.capture.frame_ready.connect(self._on_frame_ready)
        self.capture.failed.connect(self._on_source_failed)
        self._shown_times: collections.deque[float] = collections.deque(maxlen=120)
        self.shown_frame = None  # the frame on screen, once one is
        self._stats_timer = QTimer(self)
        self._stats_timer.timeout.connect(self._update_stats)

    def _on_frame_ready(self) -> None:
        raise NotImplementedError

    def stats_line(self) -> str:
        """The subclass's own figures, under the frame rate."""
        raise NotImplementedError

    # --- the source ------------------------------------------------------------------------------

    def open_source(self, *options):
        """The source the Source box names (a file dialog may ask), or None: none chosen, or it
        cannot be opened (said, with a way out)."""
        from rnnstudio.media.sources import SourceError

        try:
            return self.sources.open_source(*options)
        except SourceError as e:
            self._offer_other_sources(str(e))
            return None

    def play(self, source, view) -> None:
        """Start the capture thread on `source`; frames will be drawn on `view`."""
        self.message.dismiss()
        self._shown_times.clear()
        self.capture.start(source)
        view.placeholder = "Waiting for the first frame…"
        self.sources.stop_button.setEnabled(True)
        self._stats_timer.start(STATS_MS)
        self.status_message.emit(f"playing {source.name} at {source.fps:.0f} frames/s")

    def stop_source(self) -> None:
        self.capture.stop()
        self.sources.stop_button.setEnabled(False)
        self._stats_timer.stop()

    def _on_source_failed(self, message: str) -> None:
        self.stop_source()
        self._offer_other_sources(message)

    def _offer_other_sources(self, message: str) -> None:
        self.message.show_message(message, "error",
                                  action=(self.other_source_text, lambda: self._start("generated-camera")))
        self.status_message.emit(message)

    def _start(self, kind: str, **options) -> None:
        self.sources.choose(kind)
        self.start_source(**options)

    # --- the frame rate --------------------------------------------------------------------------

    def frame_shown(self, frame) -> None:
        """The subclass has put `frame` (a capture Frame: image and truth) on screen."""
        self.shown_frame = frame
        self._shown_times.append(time.monotonic())

    def shown_fps(self) -> float:
        t = self._shown_times
        # Under a second of frames says more about start-up jitter than about the rate.
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 2 and t[-1] - t[0] >= 1.0 else 0.0

    def _update_stats(self) -> None:
        source = self.capture.source
        rate = f"{source.fps:.0f}" if source else "—"
        self.stats_label.setText(f"Video: {self.shown_fps():.1f} frames/s shown (source {rate})<br>{self.stats_line()}")

    # --- hooks the main window and the screenshot call ----------------------------------------------

    def settings(self) -> dict:
        return {"source": self.sources.combo.currentData(), "camera": self.sources.camera_spin.value()}

    def apply_settings(self, saved: dict) -> None:
        self.sources.choose(saved.get("source"))
        set_number(self.sources.camera_spin, saved.get("camera"))

    def wait_for_model(self, app, window, what: str) -> None:
        """For a screenshot: wait until the worker has opened `self.model` (`what`), or say why not."""
        from rnnstudio.errors import UserError
        from rnnstudio.ui.screenshot import wait_for_worker, wait_until

        wait_for_worker(app, window)
        wait_until(app, lambda: self.model is not None or self.message.kind == "error", 60, what)
        if self.message.kind == "error":
            raise UserError(f"{what} could not be opened: {self.message.label.text()}")

    def shutdown(self) -> None:
        self._stats_timer.stop()
        self.capture.stop()
        self.sources.camera_probe.wait(2.0)
