"""The captioning panel: a live source, its caption word by word, and where the model looked
(Image captioning and Caption quality, docs/LECTURE-MAP.md).

Qt only. Frames come from the capture thread; captions from the device worker, one frame
at a time: when a caption arrives, the newest frame is sent next, so captions never queue
up behind the video. Each frame is captioned on its own: the caption LSTM starts afresh for
every frame, and no recurrence runs across frames. What a caption looks like on screen is
result_view's.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from rnnstudio.panels import CAPTION
from rnnstudio.ui.caption.result_view import CaptionView, frame_with_caption
from rnnstudio.ui.caption.sources import SourceBox
from rnnstudio.ui.frame_view import thumbnail_image
from rnnstudio.ui.lessons import Lesson
from rnnstudio.ui.live_panel import LivePanel
from rnnstudio.ui.sequence_shapes import shape_group
from rnnstudio.ui.shape_diagram import caption_steps
from rnnstudio.ui.settings import set_number
from rnnstudio.ui.widgets import give_shortcut, hint_label
from rnnstudio.worker.caption_messages import CaptionModelInfo, CaptionRequest, CaptionResult, LoadCaptionModelRequest

# The formula on a line of its own: wrapped mid-formula, its "…" read as text cut off.
LOSS_FORMULA = ("Trained by minimising<br><span style='white-space:nowrap'>L(I, Y*) = − Σ<sub>t</sub> "
                "log P(Y*<sub>t</sub> | Y*<sub>1</sub> … Y*<sub>t−1</sub>, I)</span>")
COLOUR_WORDS = {"red", "green", "blue", "black", "gray", "teal", "brown", "yellow"}  # the shapes world's colours


class CaptionPanel(LivePanel):
    """One-to-many: a CNN encodes the image once, the LSTM writes the caption word by word."""

    entry = CAPTION
    shape_note = ("a CNN reads the frame once; the LSTM writes the caption word by word, looking back at the "
                  "frame's features for each word (attention).")
    caption_ready = Signal(object)  # CaptionResult, for tests and screenshots

    def __init__(self, worker, parent=None):
        super().__init__(worker, parent)
        self.model: CaptionModelInfo | None = None
        self.result: CaptionResult | None = None
        self._in_flight = False
        self._newest = None  # the newest Frame from the capture thread
        self._shown_image: np.ndarray | None = None
        self._frozen = False
        self._caption_times: collections.deque[float] = collections.deque(maxlen=30)
        self._latencies: collections.deque[float] = collections.deque(maxlen=30)
        self._attention_word: int | None = None
        self._build()

    # --- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        split = QSplitter(Qt.Orientation.Horizontal)
        self.outer.addWidget(split, 1)

        controls = QWidget()
        v = QVBoxLayout(controls)
        v.setContentsMargins(0, 0, 6, 0)
        self.sources = SourceBox()
        self.sources.start_button.clicked.connect(self.start_source)
        self.sources.stop_button.clicked.connect(self.stop_source)
        v.addWidget(self.sources)

        decode = QGroupBox("Caption")
        form = QFormLayout(decode)
        self.beam_spin = QSpinBox()
        self.beam_spin.setRange(1, 10)
        self.beam_spin.setValue(3)
        self.beam_spin.setToolTip("Beam search keeps this many partial captions at each step; 1 is greedy decoding")
        form.addRow("Beam width", self.beam_spin)
        self.freeze_check = QCheckBox("Freeze frame")
        self.freeze_check.setToolTip("Hold the current frame and caption, to study them")
        self.freeze_check.toggled.connect(self.set_frozen)
        give_shortcut(self.freeze_check, "Ctrl+F", "Freeze or unfreeze the frame")
        form.addRow(self.freeze_check)
        self.save_button = QPushButton("Save frame with caption…")
        self.save_button.setToolTip('Write the frame with its caption under it as a PNG')
        self.save_button.clicked.connect(self._save_frame_dialog)
        self.save_button.setEnabled(False)
        form.addRow(self.save_button)
        v.addWidget(decode)
        formula = QLabel(LOSS_FORMULA)
        formula.setWordWrap(True)
        formula.setTextFormat(Qt.TextFormat.RichText)
        v.addWidget(formula)
        v.addWidget(hint_label("Each word is coloured by how sure the model was of it. Hover a word to see where the "
                               "model looked while writing it."))
        self.stats_label = QLabel()
        self.stats_label.setWordWrap(True)
        v.addWidget(self.stats_label)
        shape_box, self.shape_diagram = shape_group(
            CAPTION, "The picture is read once: it sets the first state, and the model looks back at it for "
            "each word. A word comes out at each step, until the model writes <end>.", max_steps=5)
        v.addWidget(shape_box)
        v.addStretch(1)
        split.addWidget(controls)
        self.caption_view = CaptionView()
        self.caption_view.word_pointed.connect(self.show_attention)
        split.addWidget(self.caption_view)
        split.setSizes([330, 950])

    # --- model -----------------------------------------------------------------------------

    def on_worker_ready(self, _device: str) -> None:
        self.open_model(None)

    def open_model(self, path: str | None) -> None:
        self.worker.submit(LoadCaptionModelRequest(path=path), slot="caption.load",
                           on_result=self._on_model_loaded, on_error=self.on_worker_error)

    def _on_model_loaded(self, info: CaptionModelInfo) -> None:
        self.model = info
        self.status_message.emit(f"captioner ready: {Path(info.path).name}")
        self._caption_newest()

    # --- sources ------------------------------------------------------------------------------

    def start_source(self) -> None:
        source = self.open_source()
        if source is not None:  # chosen and opened
            self.set_frozen(False)
            self.play(source, self.caption_view.view)

    # --- frames and captions --------------------------------------------------------------------

    def _on_frame_ready(self) -> None:
        frame = self.capture.latest()
        if frame is None or self._frozen:
            return
        self._newest = frame
        self._shown_image = frame.image
        self.caption_view.view.set_frame(frame.image)
        self.frame_shown(frame)
        self._caption_newest()

    def _caption_newest(self) -> None:
        frame = self._newest
        if self._in_flight or self.model is None or frame is None or self._frozen:
            return
        self._in_flight = True
        self._newest = None  # sent; the next caption waits for a newer frame
        truth = frame.truth if hasattr(frame.truth, "shapes") else None
        self.worker.submit(
            CaptionRequest(image=frame.image, beam=self.beam_spin.value(), frame_index=frame.index, truth=truth),
            slot="caption.frame",
            on_result=lambda result, t=frame.time: self._on_caption(result, t),
            on_error=self._on_caption_error,
            on_cancelled=self._on_caption_cancelled,
        )

    def _on_caption(self, result: CaptionResult, frame_time: float) -> None:
        self._in_flight = False
        now = time.monotonic()
        self._caption_times.append(now)
        self._latencies.append(now - frame_time)
        if not self._frozen:
            self.show_result(result)
        self._caption_newest()

    def _on_caption_error(self, error) -> None:
        self._in_flight = False
        self.on_worker_error(error)

    def _on_caption_cancelled(self, _payload) -> None:
        self._in_flight = False

    def current_frame(self) -> np.ndarray | None:
        """The picture on screen now (the frozen one, or the newest frame), for a snapshot."""
        if self._frozen and self.result is not None:
            return self.result.image
        return self._shown_image

    def caption_image(self, image: np.ndarray, truth=None) -> None:
        """Caption one picture now (a snapshot, or a file), outside the live loop."""
        self._shown_image = image
        self.caption_view.view.set_frame(image)
        self.worker.submit(
            CaptionRequest(image=image, beam=self.beam_spin.value(), truth=truth), slot="caption.still",
            on_result=self.show_result, on_error=self.on_worker_error,
        )

    def show_result(self, result: CaptionResult) -> None:
        self.result = result
        self.save_button.setEnabled(True)
        self.shape_diagram.set_steps(caption_steps(result.words))
        self.shape_diagram.set_picture(thumbnail_image(result.image))
        self.caption_view.show_caption(result)
        if self._attention_word is not None and self._attention_word < len(result.words):
            self.show_attention(self._attention_word)
        else:
            self.caption_view.view.set_attention(None)
        self.caption_ready.emit(result)

    def show_attention(self, index: int) -> None:
        """Overlay where the model looked while writing word `index` (on the captioned frame)."""
        r = self.result
        if r is None or not 0 <= index < len(r.words):
            return
        self._attention_word = index
        if self._frozen or self.capture.source is None or not self.capture.running:
            self.caption_view.view.set_frame(r.image)
        self.caption_view.view.set_attention(r.attention[index])
        self.status_message.emit(f"attention while writing “{r.words[index]}”")

    def set_frozen(self, frozen: bool) -> None:
        self._frozen = frozen
        if self.freeze_check.isChecked() != frozen:
            self.freeze_check.setChecked(frozen)
        if frozen and self.result is not None:
            self.caption_view.view.set_frame(self.result.image)
        if not frozen:
            self._caption_newest()

    def _save_frame_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the frame", "caption.png", "PNG images (*.png)")
        if path:
            self.save_frame(path)

    def save_frame(self, path: str) -> bool:
        """The captioned frame with its caption written under it, as a PNG."""
        r = self.result
        if r is None:
            return False
        out = frame_with_caption(r.image, r.caption, self.font())
        from rnnstudio.ui.export import write_whole

        def save(tmp: Path) -> None:
            if not out.save(str(tmp), "PNG"):
                raise OSError(f"{path} could not be written")

        try:
            write_whole(Path(path), save)
            ok = True
        except OSError:
            ok = False
        if ok:
            self.show_info(f"Saved {path}.")
        else:
            self.show_error(f"Could not write {path}; choose a writable folder.")
        return ok

    # --- statistics --------------------------------------------------------------------------------

    def stats_line(self) -> str:
        c = self._caption_times
        captions = (len(c) - 1) / (c[-1] - c[0]) if len(c) > 2 and c[-1] > c[0] else 0.0
        latency = 1000 * float(np.median(self._latencies)) if self._latencies else 0.0
        return f"Captions: {captions:.1f}/s, {latency:.0f} ms from frame to caption"

    def settings(self) -> dict:
        return {**super().settings(), "beam": self.beam_spin.value()}

    def apply_settings(self, saved: dict) -> None:
        super().apply_settings(saved)
        set_number(self.beam_spin, saved.get("beam"))

    # --- screenshot and lessons ---------------------------------------------------------------------

    def prepare_screenshot(self, app, window) -> None:
        """Caption the generated camera-look stream; show the attention of the first colour word."""
        from rnnstudio.ui.screenshot import wait_until

        self.wait_for_model(app, window, "the captioner")
        captions = []
        self.caption_ready.connect(captions.append)
        self._start("generated-camera")
        started = time.monotonic()
        # Two seconds of video, so the frame rate shown beside it is a measurement, not a guess.
        wait_until(app, lambda: len(captions) >= 5 and time.monotonic() - started > 2.0, 120, "captions")
        self._update_stats()
        self.set_frozen(True)
        words = self.result.words
        self.show_attention(next((k for k, w in enumerate(words) if w in COLOUR_WORDS), 0))

    lessons = (
        Lesson("Caption the cards", "image-captioning",
               "Hold the printed shape cards (Help → Printable shape cards) up to the camera; "
               "hover a word to see where the model looked.",
               lambda panel: panel._start("camera")),
        Lesson("Captions graded on generated scenes", "caption-quality",
               "Each caption is graded against the scene's truth: without errors ... unrelated.",
               lambda panel: panel._start("generated-camera")),
    )
