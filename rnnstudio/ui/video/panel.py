"""The video panel: an LRCN reads a clip frame by frame and says what happens in it (Video
across frames, docs/LECTURE-MAP.md).

Qt only. Frames come from the capture thread and are shown as they arrive; every frame of a
clip goes to the worker in order (those that arrived while the last request ran go together),
where the LSTM's state is kept from one request to the next. A generated clip or a file is one
clip, followed by a pause with its answer on screen; a camera's stream is cut into clips of
"Clip length" frames. Once a clip is read, the worker's sentence decoder writes its sentence
from the LSTM's last state, and the words appear one by one. The drawing of a clip is strip's.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFormLayout, QGroupBox, QSplitter, QVBoxLayout, QWidget

from rnnstudio.panels import VIDEO
from rnnstudio.ui.frame_view import FrameView, thumbnail_image
from rnnstudio.ui.lessons import Lesson
from rnnstudio.ui.live_panel import LivePanel
from rnnstudio.ui.sequence_shapes import shape_group
from rnnstudio.ui.settings import set_number
from rnnstudio.ui.shape_diagram import Step
from rnnstudio.ui.video.sources import ClipSourceBox
from rnnstudio.ui.video.strip import COLUMNS, RIGHT, WRONG, ClipStrip, StripColumn, StripContent
from rnnstudio.ui.video.train_box import TrainBox
from rnnstudio.ui.widgets import FlowLayout, hint_label, spin_box, wrapping_label
from rnnstudio.ui.word_label import WordLabel, fit_word_labels
from rnnstudio.worker.video_messages import (
    ClipDescription,
    DescribeClipRequest,
    LoadVideoModelRequest,
    UseTrainedVideoModelRequest,
    VideoFramesRequest,
    VideoFramesResult,
    VideoModelInfo,
)

if TYPE_CHECKING:  # the clip sources load with the first one started, not with the window
    from rnnstudio.media.clip_sources import ClipTruth

MAX_PENDING = 48  # frames waiting for the worker; more means it cannot keep up, and new ones are only shown
THUMBNAIL = 72
LEFT_RIGHT = ("left", "right")  # one frame of either looks the same
NO_MODEL = ("No video model is open: the frames are shown but not read. Reinstall RNN Studio for the shipped "
            "model, or train a small one (Train a small one) and press <i>Read with it</i>.")
SCREENSHOT_SEED = 23  # clips the shipped model reads right and the baseline wrong
WORD_MS = 160  # the sentence appears a word every this many milliseconds


@dataclass(eq=False)
class ClipRun:
    """One clip as the panel feeds it to the worker."""

    number: int  # the worker's clip id: a new one resets the LSTM
    truth: ClipTruth | None  # a generated or file clip's; None for a camera's window
    thumbnails: list = field(default_factory=list)
    readings: list = field(default_factory=list)  # the worker's FrameRead of each frame, in order
    sent: int = 0  # frames given to the worker
    final: int | None = None  # the clip's length, once it has ended
    decided: bool = False  # every frame read: the motion is the last frame's
    description: ClipDescription | None = None  # its sentence, once the decoder has written it

    @property
    def source_clip(self) -> int | None:
        return None if self.truth is None else self.truth.clip


class VideoPanel(LivePanel):
    """Many to many, and many to one at the end: the LSTM reads a frame at each step and says after
    each what it thinks is happening; after the last frame that is the clip's answer, and a word
    LSTM started from its state writes the clip's sentence (frames in, words out)."""

    entry = VIDEO
    other_source_text = "Use generated clips"
    shape_note = ("a CNN encodes each frame, the LSTM reads them in order and says after every frame which motion "
                  "it sees so far; from its state after the last frame a decoder writes the clip's sentence.")
    clip_decided = Signal(object)  # the ClipRun, every frame read, for tests and screenshots
    clip_described = Signal(object)  # the ClipRun, its sentence written

    def __init__(self, worker, parent=None):
        super().__init__(worker, parent)
        self.model: VideoModelInfo | None = None
        self.run: ClipRun | None = None
        self.decided: list[ClipRun] = []  # this source's decided clips, for the score
        self._runs: dict[int, ClipRun] = {}
        self._clip_count = 0
        self._pending: list[tuple[ClipRun, np.ndarray]] = []
        self._in_flight = False
        self.frames_read = 0  # by the model, since the panel was made
        self._frame_ms: collections.deque[float] = collections.deque(maxlen=60)
        self.written_run: ClipRun | None = None  # the newest clip whose sentence is written: shown under its answer
        self.shown_words = 0  # of its sentence, so far
        self._reveal = QTimer(self)
        self._reveal.timeout.connect(self._reveal_next)
        self._build()

    # --- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        split = QSplitter(Qt.Orientation.Horizontal)
        self.outer.addWidget(split, 1)
        controls = QWidget()
        v = QVBoxLayout(controls)
        v.setContentsMargins(0, 0, 6, 0)
        self.sources = ClipSourceBox()
        self.sources.start_button.clicked.connect(lambda: self.start_source())
        self.sources.stop_button.clicked.connect(self.stop_source)
        v.addWidget(self.sources)
        clip_box = QGroupBox("Clips")
        form = QFormLayout(clip_box)
        self.clip_spin = spin_box(4, 64, 24)
        self.clip_spin.setToolTip("A camera's stream is cut into clips of this many frames; generated clips and "
                                  "files are clips of their own length")
        form.addRow("Camera clip length (frames)", self.clip_spin)
        clip_box.setProperty("advanced", True)  # tucked away in presenter mode
        v.addWidget(clip_box)
        self.stats_label = wrapping_label()
        v.addWidget(self.stats_label)
        v.addWidget(hint_label("A frame goes in at each step and the LSTM's guess comes out; it carries its state h "
                               "from one frame to the next. After the last frame, a second LSTM starts from that h "
                               "and writes the sentence a word at a time, each word fed back in. The baseline sees "
                               "one frame alone: it can name the shapes, not which way one moved."))
        self.train_box = TrainBox(self)
        self.train_box.setProperty("advanced", True)
        v.addWidget(self.train_box)
        v.addStretch(1)
        split.addWidget(controls)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(6, 0, 0, 0)
        top = QSplitter(Qt.Orientation.Horizontal)
        self.view = FrameView()
        top.addWidget(self.view)
        answer = QWidget()
        av = QVBoxLayout(answer)
        self.answer_label = wrapping_label("No clip yet: start a source on the left.")
        self.answer_label.setTextFormat(Qt.TextFormat.RichText)
        av.addWidget(self.answer_label)
        self.sentence_label = wrapping_label()
        av.addWidget(self.sentence_label)
        self.words_row = FlowLayout()  # the sentence, a word at a time as the decoder writes it
        self.words_holder = QWidget()
        self.words_holder.setLayout(self.words_row)
        self.words_holder.setMinimumHeight(56)
        self._word_labels: list[WordLabel] = []  # in words_row, in order
        av.addWidget(self.words_holder)
        self.truth_label = wrapping_label()
        self.baseline_label = wrapping_label()
        self.score_label = wrapping_label()
        for label in (self.truth_label, self.baseline_label, self.score_label):
            av.addWidget(label)
        # Beside the frame, where it has the room to be read: the sentence's words make it long.
        self.shape_box, self.shape_diagram = shape_group(VIDEO, max_steps=7)
        self.shape_box.setTitle("Shape: many to many in step, then a sentence out")
        av.addWidget(self.shape_box, 1)
        self._answer_layout, self._controls_layout = av, v
        av.addStretch(1)
        top.addWidget(answer)
        top.setSizes([420, 420])
        rv.addWidget(top, 1)
        self.strip = ClipStrip()
        rv.addWidget(self.strip)
        split.addWidget(right)
        split.setSizes([330, 950])

    # --- the model ------------------------------------------------------------------------------

    def on_worker_ready(self, _device: str) -> None:
        self.open_model(None)

    def open_model(self, path: str | None) -> None:
        self.worker.submit(LoadVideoModelRequest(path=path), slot="video.load",
                           on_result=self._on_model_loaded, on_error=self.on_worker_error)

    def use_trained_model(self) -> None:
        self.worker.submit(UseTrainedVideoModelRequest(), slot="video.load", on_result=self._on_model_loaded,
                           on_error=self.on_worker_error)

    def _on_model_loaded(self, info: VideoModelInfo) -> None:
        self.model = info
        self.run = None  # the next frame starts a new clip, read by this model
        self.decided = []
        self._forget_sentence()
        name = Path(info.path).name if info.path else "the model trained here"
        self.status_message.emit(f"video model ready: {name}")

    # --- sources ------------------------------------------------------------------------------

    def start_source(self, motions: tuple[str, ...] | None = None, clip_kind: str | None = None,
                     seed: int | None = None) -> None:
        source = self.open_source(self.model.image_size if self.model else 64, motions, clip_kind, seed)
        if source is None:  # none chosen, or it could not be opened (said)
            return
        self.run, self.decided, self._pending, self._runs = None, [], [], {}  # what is still read is dropped
        self._forget_sentence()
        self.play(source, self.view)
        if self.model is None:
            self.answer_label.setText(NO_MODEL)

    # --- frames to the worker -------------------------------------------------------------------

    def _on_frame_ready(self) -> None:
        frame = self.capture.latest()
        if frame is None:  # a signal left over from a stopped source
            return
        self.view.set_frame(frame.image)
        self.frame_shown(frame)
        truth = frame.truth if hasattr(frame.truth, "hold") else None  # a ClipTruth; a camera's frames have none
        if truth is not None and truth.hold:
            self._end_clip()
            return
        if self.model is None or len(self._pending) >= MAX_PENDING:
            return  # shown, not read: no model yet, or the worker is far behind
        run = self.run
        if run is None or run.final is not None or (truth is not None and truth.clip != run.source_clip):
            self._end_clip()
            run = self._new_run(truth)
        run.thumbnails.append(thumbnail_image(frame.image, THUMBNAIL))
        run.sent += 1
        self._pending.append((run, frame.image))
        if (truth is not None and truth.last) or (truth is None and run.sent >= self.clip_spin.value()):
            self._end_clip()
        self._show_run()
        self._send()

    def _new_run(self, truth: ClipTruth | None) -> ClipRun:
        self._clip_count += 1
        self.run = ClipRun(self._clip_count, truth)
        self._runs = {n: r for n, r in self._runs.items() if not r.decided}  # only those still being read
        self._runs[self.run.number] = self.run
        return self.run

    def _end_clip(self) -> None:
        run = self.run
        if run is not None and run.final is None:
            run.final = run.sent
            self._decide_if_read(run)

    def _send(self) -> None:
        if self._in_flight or not self._pending:
            return
        run = self._pending[0][0]
        frames = [image for r, image in self._pending if r is run]
        self._pending = [(r, image) for r, image in self._pending if r is not run]
        self._in_flight = True
        self.worker.submit(
            VideoFramesRequest(frames=tuple(frames), new_clip=not run.readings, clip=run.number),
            on_result=self._on_read, on_error=self._on_read_error, on_cancelled=self._on_read_cancelled)

    def _on_read(self, result: VideoFramesResult) -> None:
        self._in_flight = False
        self.frames_read += len(result.readings)
        if result.readings:
            self._frame_ms.append(1000 * result.seconds / len(result.readings))
        run = self._runs.get(result.clip)
        if run is not None:
            run.readings.extend(result.readings)
            if run is self.run:
                self._show_run()
            self._decide_if_read(run)
        self._send()

    def _on_read_error(self, error) -> None:
        self._in_flight = False
        self._pending = []
        self.stop_source()
        self._offer_other_sources(error.message)

    def _on_read_cancelled(self, _payload) -> None:
        self._in_flight = False

    def _decide_if_read(self, run: ClipRun) -> None:
        if run.decided or run.final is None or not run.final or len(run.readings) < run.final:
            return
        run.decided = True
        self.decided.append(run)
        self._runs.pop(run.number, None)
        if run is self.run:
            self._show_answer(run)
        self._show_score()
        last = run.readings[-1]
        self.worker.submit(DescribeClipRequest(clip=run.number, hidden=last.hidden, motion=last.motion, obj=last.obj),
                           on_result=self._on_described, on_error=self.on_worker_error)
        self.clip_decided.emit(run)

    def _on_described(self, description: ClipDescription) -> None:
        run = next((r for r in reversed(self.decided) if r.number == description.clip), None)
        if run is None:  # a clip of a source or model since left
            return
        run.description = description
        if self.written_run is None or run.number > self.written_run.number:
            # The newest clip's sentence is written out, and stays while the next clip is read
            # (a camera's clips follow each other with no pause).
            self.written_run, self.shown_words = run, 0
            self._show_sentence()
            self._reveal.start(WORD_MS)
        self._show_score()
        self.clip_described.emit(run)

    def _reveal_next(self) -> None:
        run = self.written_run
        if run is None or self.shown_words >= len(run.description.words):
            self._reveal.stop()
            return
        self.shown_words += 1
        self._show_sentence()

    def show_all_words(self) -> None:
        """Skip the word-by-word writing (screenshots, tests)."""
        self._reveal.stop()
        if self.written_run is not None:
            self.shown_words = len(self.written_run.description.words)
            self._show_sentence()

    def _forget_sentence(self) -> None:
        self._reveal.stop()
        self.written_run, self.shown_words = None, 0
        self._show_sentence()

    # --- what is shown --------------------------------------------------------------------------

    def _show_run(self) -> None:
        run = self.run
        if run is None or self.model is None:
            return
        shown = run.thumbnails[-COLUMNS:]
        first = len(run.thumbnails) - len(shown)
        readings = run.readings
        columns = [StripColumn(t, readings[first + k] if first + k < len(readings) else None)
                   for k, t in enumerate(shown)]
        truth = run.truth.motion if run.truth is not None else None
        length = run.final or (run.truth.frames if run.truth is not None else self.clip_spin.value())
        self.strip.show_clip(StripContent(self.model.motions, columns, first + 1, truth, length))
        self._show_steps(run)
        if not run.decided:
            self._show_answer(run)

    def _show_steps(self, run: ClipRun) -> None:
        """The shape: a frame in at each step with the motion so far out, then, once this clip's
        sentence has come, a word out at each step (the word before goes back in) and <eos>.
        The whole sentence at once: a step more each word would lay the window out again each
        word (7-9 ms of the GUI thread, measured), while the words row shows the writing."""
        frames = tuple(Step(f"frame {k + 1}", r.motion) for k, r in enumerate(run.readings))
        words = run.description.words if run is self.written_run else []
        written = tuple(Step(None, w.word) for w in words) + ((Step(None, "<eos>"),) if words else ())
        # Once words come out, the last frame and every word are drawn: where reading ends and writing begins.
        self.shape_diagram.set_steps(frames + written, keep_from=len(frames) - 1 if written else None)

    def _show_sentence(self) -> None:
        """The newest written clip's sentence so far, a label per word, and its grade once written.

        Every word's label is laid out when the sentence arrives, those not yet written as empty
        boxes: writing a word then changes its style only. Adding a label a word instead changed
        the column's layout, and the window was laid out and painted again, 11-15 ms of the GUI
        thread a word (measured offscreen)."""
        run = self.written_run
        words = run.description.words if run is not None else []
        fit_word_labels(self._word_labels, self.words_row, len(words),
                        lambda k: WordLabel(k, "", 0.0, given="the clip, the words before it"))
        for k, (label, w) in enumerate(zip(self._word_labels, words)):
            others = ", ".join(f"{word} {p:.0%}" for word, p in w.alternatives)
            note = f"next likeliest: {others}" if others else "the template of the two answers (no decoder)"
            label.set_word(w.word, w.p, note, written=k < self.shown_words)
        self._show_sentence_heading()
        if run is None:
            self.truth_label.setText("")
            return
        if run is self.run:
            self._show_steps(run)
        truth = run.truth
        if truth is not None and truth.sentence is not None and self.shown_words == len(run.description.words):
            right = run.description.sentence == truth.sentence
            colour = (RIGHT if right else WRONG).name()
            verdict = "right" if right else "wrong"
            self.truth_label.setText(f"<span style='color:{colour}'><b>{verdict}</b>: the clip shows "
                                     f"“{truth.sentence}”</span>")
        else:
            self.truth_label.setText("")

    def _show_sentence_heading(self) -> None:
        run = self.written_run
        if run is None:
            self.sentence_label.setText("")
            return
        written = run.description.written
        if run is self.run:
            text = "The decoder writes:" if written else "No decoder in this model; the template of its answers:"
        else:
            text = ("The clip before, as the decoder wrote it:" if written else
                    "The clip before (no decoder in this model; the template of its answers):")
        self.sentence_label.setText(text)
        self.sentence_label.setToolTip(
            "Written by the sentence decoder, a word LSTM started from the video LSTM's state after the clip's last "
            "frame" if written else
            "This model file has no sentence decoder: its sentence is the template of its motion and shape")

    def _show_answer(self, run: ClipRun) -> None:
        """The clip being read: its answer so far, or once decided; the baseline's on its last frame."""
        if not run.readings:
            self.answer_label.setText("<span style='font-size:x-large'>…</span>")
            return
        last = run.readings[-1]
        if run.decided:
            self.answer_label.setText(f"Decided after {len(run.readings)} frames: <b>{last.motion}</b>"
                                      f"{f', the {last.obj}' if last.obj else ''}.")
        else:
            self.answer_label.setText(f"<span style='font-size:x-large; color:#666666'>so far: {last.guess}</span>"
                                      f"<br>after {len(run.readings)} frames")
        self._show_sentence_heading()  # "the clip before" once the next clip is being read
        truth = run.truth
        base = last.baseline_motion
        if truth is not None and truth.motion is not None:
            colour = (RIGHT if base == truth.motion else WRONG).name()
            base = f"<span style='color:{colour}'><b>{base}</b></span>"
        self.baseline_label.setText(f"One frame alone (the last): {base}")

    def _show_score(self) -> None:
        graded = [r for r in self.decided if r.truth is not None and r.truth.motion is not None]
        if not graded:
            self.score_label.setText(f"{len(self.decided)} clips read")
            return
        lstm = sum(r.readings[-1].motion == r.truth.motion for r in graded)
        base = sum(r.readings[-1].baseline_motion == r.truth.motion for r in graded)
        written = [r for r in graded if r.description is not None]
        sentences = sum(r.description.sentence == r.truth.sentence for r in written)
        self.score_label.setText(f"Of {len(graded)} generated clips, motion right: the LSTM <b>{lstm}</b>, one frame "
                                 f"alone <b>{base}</b>; sentence right: <b>{sentences}</b> of {len(written)}")

    def set_presenter(self, on: bool) -> None:
        """Presenter mode hides the controls' advanced boxes and hints, leaving their column free,
        while the answer's larger type fills the column beside the frame: the shape moves to the
        controls' column under the statistics, and back."""
        source, target = ((self._answer_layout, self._controls_layout) if on
                          else (self._controls_layout, self._answer_layout))
        if source.indexOf(self.shape_box) < 0:
            return
        source.removeWidget(self.shape_box)
        if on:
            target.insertWidget(target.indexOf(self.stats_label) + 1, self.shape_box)
        else:
            target.insertWidget(target.indexOf(self.score_label) + 1, self.shape_box, 1)

    def shutdown(self) -> None:
        self._reveal.stop()
        super().shutdown()

    # --- statistics -----------------------------------------------------------------------------

    def stats_line(self) -> str:
        ms = float(np.median(self._frame_ms)) if self._frame_ms else 0.0
        return f"The model reads a frame in {ms:.0f} ms"

    # --- hooks ------------------------------------------------------------------------------------

    def settings(self) -> dict:
        return {**super().settings(), "clip_frames": self.clip_spin.value()}

    def apply_settings(self, saved: dict) -> None:
        super().apply_settings(saved)
        set_number(self.clip_spin, saved.get("clip_frames"))

    def prepare_screenshot(self, app, window) -> None:
        """Generated camera-look clips, left then right: stopped in the pause after a decided clip."""
        from rnnstudio.ui.screenshot import wait_until

        self.wait_for_model(app, window, "the video model")
        started = time.monotonic()
        self._start("generated-camera", motions=LEFT_RIGHT, clip_kind="screen", seed=SCREENSHOT_SEED)
        wait_until(app, lambda: len(self.decided) >= 2 and self.run is not None and self.run.description is not None
                   and time.monotonic() - started > 2.0, 120, "two clips read and described")
        self.show_all_words()
        self._update_stats()
        self.stop_source()

    lessons = (
        Lesson("One frame is not enough", "video",
               "A shape moving left, then one moving right: the baseline sees one frame and cannot tell which way "
               "it went; the LSTM, having read the frames before, can. Watch the score.",
               lambda panel: panel._start("generated-plain", motions=LEFT_RIGHT, clip_kind="screen")),
        Lesson("Watch it decide", "video",
               "Column by column, P(motion) after each frame: unsure after one, sure after a few. After the "
               "last, the decoder writes the sentence from the LSTM's state, a word at a time.",
               lambda panel: panel._start("generated-camera")),
    )

