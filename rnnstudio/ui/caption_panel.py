"""The captioning panel: a live source, its caption word by word, and where the model looked.

Qt only. Frames come from the capture thread; captions from the device worker, one frame
at a time: when a caption arrives, the newest frame is sent next, so captions never queue
up behind the video (LECTURE.md rows 10, 11 and 13).
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from rnnstudio.ui.frame_view import FrameView, qimage_from_rgb, thumbnail_image
from rnnstudio.ui.sequence_shapes import caption_steps, shape_group
from rnnstudio.ui.settings import choose, set_number
from rnnstudio.ui.widgets import (
    FlowLayout,
    give_shortcut,
    wrapping_label,
    hint_label,
    panel_layout,
    when_worker_ready,
)
from rnnstudio.worker.capture import CameraProbe, CaptureThread
from rnnstudio.worker.caption_messages import CaptionModelInfo, CaptionRequest, CaptionResult, LoadCaptionModelRequest

SOURCES = [
    ("Generated shapes, camera look", "generated-camera"),
    ("Generated shapes, plain", "generated-plain"),
    ("Camera", "camera"),
    ("Video file…", "video"),
    ("Image or folder of images…", "image"),
]
GRADE_COLORS = {
    "without errors": "#1b7a2f",
    "minor errors": "#8a6d00",
    "somewhat related": "#b05a00",
    "unrelated": "#b00020",
}
# The formula on a line of its own: wrapped mid-formula, its "…" read as text cut off.
SAVED_FRAME_HEIGHT = 480  # a saved frame is scaled up by whole pixels to at least this height
LOSS_FORMULA = ("Trained by minimising<br><span style='white-space:nowrap'>L(I, Y*) = − Σ<sub>t</sub> "
                "log P(Y*<sub>t</sub> | Y*<sub>1</sub> … Y*<sub>t−1</sub>, I)</span>")


def probability_color(p: float) -> QColor:
    """Red for an unsure word, through amber, to green for a sure one."""
    p = float(np.clip(p, 0.0, 1.0))
    if p < 0.5:
        return QColor(215, int(60 + 300 * p), 60)
    return QColor(int(215 - 330 * (p - 0.5)), 190, 70)


class WordLabel(QLabel):
    """One word of the caption, coloured by its probability; hovering shows its attention."""

    hovered = Signal(int)

    def __init__(self, index: int, word: str, p: float, parent=None):
        super().__init__(parent)
        self.index = index
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._style = ""
        self.set_word(word, p)

    def set_word(self, word: str, p: float) -> None:
        """Show `word` at probability p, changing only what differs from what is shown: the
        same caption comes back for frame after frame of one scene, and a new style sheet
        costs a re-polish. The colour is that of the percentage shown."""
        text = f"{word}<br><small>{p:.0%}</small>"
        if text != self.text():
            self.setText(text)
        style = (f"QLabel {{ background: {probability_color(round(p, 2)).name()}; color: white; border-radius: 5px;"
                 f" padding: 4px 8px; font-size: 150%; font-weight: bold; }}")
        if style != self._style:
            self._style = style
            self.setStyleSheet(style)
        self.setToolTip(f"P({word} | the words before it, the image) = {p:.3f}")

    def enterEvent(self, event) -> None:
        self.hovered.emit(self.index)
        super().enterEvent(event)

    def mousePressEvent(self, event) -> None:
        self.hovered.emit(self.index)


class CaptionPanel(QWidget):
    """One-to-many: a CNN encodes the image once, the LSTM writes the caption word by word."""

    title = "Captioning"
    status_message = Signal(str)
    caption_ready = Signal(object)  # CaptionResult, for tests and screenshots

    def __init__(self, worker, parent=None):
        super().__init__(parent)
        self.worker = worker
        self.capture = CaptureThread(self)
        self.capture.frame_ready.connect(self._on_frame_ready)
        self.capture.failed.connect(self._on_source_failed)
        self.camera_probe = CameraProbe(self)
        self.camera_probe.found.connect(self._on_cameras_found)
        self.model: CaptionModelInfo | None = None
        self.result: CaptionResult | None = None
        self._in_flight = False
        self._newest = None  # the newest Frame from the capture thread
        self._shown_image: np.ndarray | None = None
        self._frozen = False
        self._shown_times: collections.deque[float] = collections.deque(maxlen=120)
        self._caption_times: collections.deque[float] = collections.deque(maxlen=30)
        self._latencies: collections.deque[float] = collections.deque(maxlen=30)
        self._video_path: str | None = None
        self._image_path: str | None = None
        self._attention_word: int | None = None
        self._word_labels: list[WordLabel] = []  # the caption's words, in words_row
        self._build()
        self._stats_timer = QTimer(self)
        self._stats_timer.timeout.connect(self._update_stats)
        when_worker_ready(worker, self._on_worker_ready)

    # --- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        outer, self.message = panel_layout(self)
        split = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(split, 1)

        controls = QWidget()
        v = QVBoxLayout(controls)
        v.setContentsMargins(0, 0, 6, 0)
        source = QGroupBox("Source")
        form = QFormLayout(source)
        self.source_combo = QComboBox()
        for label, key in SOURCES:
            self.source_combo.addItem(label, key)
        self.source_combo.setToolTip("Where the frames come from")
        form.addRow(self.source_combo)
        row = QHBoxLayout()
        self.camera_spin = QSpinBox()
        self.camera_spin.setRange(0, 9)
        self.camera_spin.setToolTip("Which camera: 0 is the first OpenCV finds")
        self.find_cameras_button = QPushButton("Find cameras")
        self.find_cameras_button.setToolTip("Ask OpenCV which cameras answer")
        self.find_cameras_button.clicked.connect(self.find_cameras)
        row.addWidget(self.camera_spin)
        row.addWidget(self.find_cameras_button)
        form.addRow("Camera", row)
        self.cameras_label = hint_label("")
        form.addRow(self.cameras_label)
        row = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start the chosen source and caption it live")
        self.start_button.clicked.connect(self.start_source)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip('Stop the source; the last frame and caption stay')
        self.stop_button.clicked.connect(self.stop_source)
        self.stop_button.setEnabled(False)
        give_shortcut(self.start_button, "Ctrl+Return", "Start the source and caption it")
        give_shortcut(self.stop_button, "Esc", "Stop the source")
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        form.addRow(row)
        v.addWidget(source)

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
        v.addWidget(hint_label("Each word is coloured by how sure the model was of it. Hover a word to see where the model looked while writing it."))
        self.stats_label = QLabel()
        self.stats_label.setWordWrap(True)
        v.addWidget(self.stats_label)
        shape_box, self.shape_diagram = shape_group(
            "caption", "The picture is read once: it sets the first state, and the model looks back at it for "
            "each word. A word comes out at each step, until the model writes <end>.", max_steps=5)
        v.addWidget(shape_box)
        v.addStretch(1)
        split.addWidget(controls)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        self.view = FrameView()
        rv.addWidget(self.view, 1)
        self.words_row = FlowLayout()  # a long caption wraps instead of widening the window
        self.words_holder = QWidget()
        self.words_holder.setLayout(self.words_row)
        self.words_holder.setMinimumHeight(64)
        rv.addWidget(self.words_holder)
        row = QHBoxLayout()
        self.grade_label = wrapping_label()
        self.grade_label.setTextFormat(Qt.TextFormat.RichText)
        row.addWidget(self.grade_label, 1)
        rv.addLayout(row)
        self.nbest_list = QListWidget()
        self.nbest_list.setMaximumHeight(110)
        self.nbest_list.setToolTip("The beam's best captions with their total log-probabilities")
        rv.addWidget(wrapping_label("<b>Best captions of the beam</b> (log-probability)"))
        rv.addWidget(self.nbest_list)
        split.addWidget(right)
        split.setSizes([330, 950])

    # --- model -----------------------------------------------------------------------------

    def _on_worker_ready(self, _device: str) -> None:
        self.open_model(None)

    def open_model(self, path: str | None) -> None:
        self.worker.submit(LoadCaptionModelRequest(path=path), slot="caption.load",
                           on_result=self._on_model_loaded, on_error=self._on_error)

    def _on_model_loaded(self, info: CaptionModelInfo) -> None:
        self.model = info
        self.status_message.emit(f"captioner ready: {Path(info.path).name}")
        self._caption_newest()

    def _on_error(self, error) -> None:
        self.message.show_message(error.message, "error")
        self.status_message.emit(error.message)

    # --- sources ------------------------------------------------------------------------------

    def start_source(self) -> None:
        from rnnstudio.media.sources import (
            CameraSource,
            GeneratedSource,
            ImageSource,
            SourceError,
            VideoFileSource,
        )

        kind = self.source_combo.currentData()
        try:
            if kind == "video":
                path = self._video_path or self._ask_path("Open a video", "Videos (*.mp4 *.avi *.mov *.mkv *.webm);;All files (*)")
                if not path:
                    return
                source = VideoFileSource(path)
            elif kind == "image":
                path = self._image_path or self._ask_path("Open an image", "Images (*.png *.jpg *.jpeg *.bmp *.webp);;All files (*)")
                if not path:
                    return
                source = ImageSource(path)
            elif kind == "camera":
                source = CameraSource(self.camera_spin.value())
            else:
                source = GeneratedSource(seed=int(time.time()) % 100_000, camera=kind == "generated-camera")
        except SourceError as e:
            self._offer_other_sources(str(e))
            return
        self.message.dismiss()
        self.set_frozen(False)
        self._shown_times.clear()
        self.capture.start(source)
        self.view.placeholder = "Waiting for the first frame…"
        self.stop_button.setEnabled(True)
        self._stats_timer.start(500)
        self.status_message.emit(f"playing {source.name} at {source.fps:.0f} frames/s")

    def use_video_file(self, path: str) -> None:
        self._video_path = path
        self.source_combo.setCurrentIndex(self.source_combo.findData("video"))

    def use_image(self, path: str) -> None:
        self._image_path = path
        self.source_combo.setCurrentIndex(self.source_combo.findData("image"))

    def _ask_path(self, title: str, filters: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, title, "", filters)
        return path

    def find_cameras(self) -> None:
        self.find_cameras_button.setEnabled(False)
        self.cameras_label.setText("Looking for cameras…")
        self.camera_probe.start()

    def _on_cameras_found(self, indices: list) -> None:
        self.find_cameras_button.setEnabled(True)
        if indices:
            self.cameras_label.setText("Cameras found: " + ", ".join(str(i) for i in indices))
            self.camera_spin.setValue(indices[0])
            self.source_combo.setCurrentIndex(self.source_combo.findData("camera"))
        else:
            self.cameras_label.setText("OpenCV finds no camera here: use a video file, images or generated shapes.")

    def stop_source(self) -> None:
        self.capture.stop()
        self.stop_button.setEnabled(False)
        self._stats_timer.stop()

    def _on_source_failed(self, message: str) -> None:
        self.stop_source()
        self._offer_other_sources(message)

    def _offer_other_sources(self, message: str) -> None:
        def use_generated():
            self.source_combo.setCurrentIndex(self.source_combo.findData("generated-camera"))
            self.start_source()

        self.message.show_message(message, "error", action=("Use generated shapes", use_generated))
        self.status_message.emit(message)

    # --- frames and captions --------------------------------------------------------------------

    def _on_frame_ready(self) -> None:
        frame = self.capture.latest()
        if frame is None or self._frozen:
            return
        self._newest = frame
        self._shown_image = frame.image
        self.view.set_frame(frame.image)
        self._shown_times.append(time.monotonic())
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
        self._on_error(error)

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
        self.view.set_frame(image)
        self.worker.submit(
            CaptionRequest(image=image, beam=self.beam_spin.value(), truth=truth), slot="caption.still",
            on_result=self.show_result, on_error=self._on_error,
        )

    def show_result(self, result: CaptionResult) -> None:
        self.result = result
        self.save_button.setEnabled(True)
        self.shape_diagram.set_steps(caption_steps(result.words))
        self.shape_diagram.set_picture(thumbnail_image(result.image))
        self._show_words(result.words, result.probabilities)
        # Keep the tallest height needed so far, so the picture above does not jump at each caption.
        width = self.words_holder.width()
        if self.words_holder.isVisible() and width >= self.words_row.minimumSize().width():  # laid out
            needed = self.words_row.heightForWidth(width)
            self.words_holder.setMinimumHeight(max(self.words_holder.minimumHeight(), needed))
        if self._attention_word is not None and self._attention_word < len(result.words):
            self.show_attention(self._attention_word)
        else:
            self.view.set_attention(None)
        best = [f"{logprob:8.2f}   {caption}" for caption, logprob in result.nbest]
        if best != [self.nbest_list.item(k).text() for k in range(self.nbest_list.count())]:
            self.nbest_list.clear()
            self.nbest_list.addItems(best)
        if result.grade is not None:
            color = GRADE_COLORS.get(result.grade, "#333")
            self.grade_label.setText(
                f"Graded against the generated scene: <b style='color:{color}'>{result.grade}</b> "
                f"(objects named: F1 {result.f1:.2f})"
            )
        else:
            self.grade_label.setText("")
        self.caption_ready.emit(result)

    def _show_words(self, words: list[str], probabilities: list[float]) -> None:
        """One label per word, kept from one caption to the next and changed only where the
        caption differs: rebuilding 15 styled labels for every caption, 30 times a second, cost
        the GUI thread 9 ms a caption in layout and style work (measured), for the same words."""
        labels = self._word_labels
        while len(labels) > len(words):
            label = labels.pop()
            self.words_row.removeWidget(label)
            label.deleteLater()
        for k, (word, p) in enumerate(zip(words, probabilities)):
            if k < len(labels):
                labels[k].set_word(word, p)
            else:
                label = WordLabel(k, word, p)
                label.hovered.connect(self.show_attention)
                self.words_row.addWidget(label)
                labels.append(label)

    def show_attention(self, index: int) -> None:
        """Overlay where the model looked while writing word `index` (on the captioned frame)."""
        r = self.result
        if r is None or not 0 <= index < len(r.words):
            return
        self._attention_word = index
        if self._frozen or self.capture.source is None or not self.capture.running:
            self.view.set_frame(r.image)
        self.view.set_attention(r.attention[index])
        self.status_message.emit(f"attention while writing “{r.words[index]}”")

    def set_frozen(self, frozen: bool) -> None:
        self._frozen = frozen
        if self.freeze_check.isChecked() != frozen:
            self.freeze_check.setChecked(frozen)
        if frozen and self.result is not None:
            self.view.set_frame(self.result.image)
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
        frame = qimage_from_rgb(r.image)
        scale = max(1, -(-SAVED_FRAME_HEIGHT // max(1, frame.height())))  # whole pixels, at least this tall
        frame = frame.scaled(frame.width() * scale, frame.height() * scale)
        font = QFont(self.font())
        font.setPixelSize(max(14, frame.height() // 18))
        margin = font.pixelSize() // 2
        flags = Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap
        text_width = frame.width() - 2 * margin
        text_height = QFontMetrics(font).boundingRect(0, 0, text_width, 10_000, flags, r.caption).height()
        out = QImage(frame.width(), frame.height() + text_height + 2 * margin, QImage.Format.Format_RGB888)
        out.fill(QColor("white"))
        painter = QPainter(out)
        painter.drawImage(0, 0, frame)
        painter.setFont(font)
        painter.setPen(QColor("black"))
        painter.drawText(QRectF(margin, frame.height() + margin, text_width, text_height), flags, r.caption)
        painter.end()
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
            self.message.show_message(f"Saved {path}.", "info")
        else:
            self.message.show_message(f"Could not write {path}; choose a writable folder.", "error")
        return ok

    # --- statistics --------------------------------------------------------------------------------

    def shown_fps(self) -> float:
        t = self._shown_times
        # Under a second of frames says more about start-up jitter than about the rate.
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 2 and t[-1] - t[0] >= 1.0 else 0.0

    def _update_stats(self) -> None:
        source = self.capture.source
        c = self._caption_times
        captions = (len(c) - 1) / (c[-1] - c[0]) if len(c) > 2 and c[-1] > c[0] else 0.0
        latency = 1000 * float(np.median(self._latencies)) if self._latencies else 0.0
        rate = f"{source.fps:.0f}" if source else "—"
        self.stats_label.setText(
            f"Video: {self.shown_fps():.1f} frames/s shown (source {rate})<br>"
            f"Captions: {captions:.1f}/s, {latency:.0f} ms from frame to caption"
        )

    def shutdown(self) -> None:
        self._stats_timer.stop()
        self.capture.stop()
        self.camera_probe.wait(2.0)

    def settings(self) -> dict:
        return {"source": self.source_combo.currentData(), "camera": self.camera_spin.value(), "beam": self.beam_spin.value()}

    def apply_settings(self, saved: dict) -> None:
        choose(self.source_combo, saved.get("source"))
        set_number(self.camera_spin, saved.get("camera"))
        set_number(self.beam_spin, saved.get("beam"))

    def set_presenter(self, on: bool) -> None:
        pass  # the words and the formula follow the application font
