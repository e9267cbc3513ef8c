"""The question-answering panel's "Ask about a picture" tab: choose a picture, ask in your own
words, see the answers, the words the model did not know and where it looked (Visual
question answering, docs/LECTURE-MAP.md)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from rnnstudio.panels import VQA
from rnnstudio.ui.frame_view import FrameView, thumbnail_image
from rnnstudio.ui.sequence_shapes import shape_group
from rnnstudio.ui.shape_diagram import question_steps
from rnnstudio.ui.settings import choose, set_number
from rnnstudio.ui.vqa.answers import AnswersView
from rnnstudio.ui.widgets import give_shortcut, hint_label, wrapping_label
from rnnstudio.worker.protocol import ReadFileRequest
from rnnstudio.worker.vqa_messages import VQAQuestionRequest, VQAResult

SOURCES = [
    ("easy-VQA test set", "easyvqa"),
    ("Generated scene", "generated-plain"),
    ("Generated scene, camera look", "generated-camera"),
    ("Picture file", "file"),
    ("Snapshot of the captioning camera", "snapshot"),
]
REMEMBERED_SOURCES = ("easyvqa", "generated-plain", "generated-camera")  # those a new picture comes from at once
GENERAL_QUESTIONS = [
    "what color is the shape?",
    "what shape is it?",
    "how many shapes are there?",
    "is there a red circle?",
    "is there a blue triangle?",
    "how many circles are there?",
]
TOPK = 5
SUGGESTED = 8  # of the picture's own questions
PICTURE_FILES = "Pictures (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff);;All files (*)"


class AskTab(QSplitter):
    title = "Ask about a picture"
    answered = Signal(object)  # VQAResult

    def __init__(self, panel, parent=None):
        """`panel`: the VQAPanel, for the worker, the model, the messages and the snapshot."""
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.panel = panel
        self.image: np.ndarray | None = None
        self.image_key = ""
        self.known_questions: dict[str, str] = {}  # question -> true answer, for the current picture
        self.result: VQAResult | None = None
        self.session: list[tuple] = []  # (picture, VQAResult, true answer or None), for the HTML export
        self._easyvqa = None  # the test split's questions and picture paths, read on first use
        self._waiting_question: str | None = None  # asked while a picture was being read
        self._snapshots = 0
        self._reading: object | None = None  # a token of the picture file being read on the worker
        self.addWidget(self._build_picture())
        self.addWidget(self._build_question())
        self.setSizes([420, 860])

    def _build_picture(self) -> QWidget:
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox("Picture")
        bv = QVBoxLayout(box)
        self.source_combo = QComboBox()
        for label, kind in SOURCES:
            self.source_combo.addItem(label, kind)
        self.source_combo.setToolTip("Where the picture comes from")
        bv.addWidget(self.source_combo)
        row = QHBoxLayout()
        self.index_spin = QSpinBox()
        self.index_spin.setRange(0, 999)
        self.index_spin.setPrefix("picture ")
        self.index_spin.setToolTip("Which picture of easy-VQA's test set")
        self.index_spin.valueChanged.connect(lambda _v: self._source_is("easyvqa") and self.new_picture())
        self.new_button = QPushButton("New picture")
        self.new_button.setToolTip("A random picture from the chosen source (a file dialog for files)")
        self.new_button.clicked.connect(lambda: self.new_picture(random=True))
        give_shortcut(self.new_button, "Ctrl+N", "A new picture")
        row.addWidget(self.index_spin)
        row.addWidget(self.new_button)
        bv.addLayout(row)
        self.source_combo.currentIndexChanged.connect(self._on_source_changed)
        lv.addWidget(box)
        self.view = FrameView()
        self.view.placeholder = "No picture yet: choose a source above."
        self.view.setMinimumSize(240, 160)  # room for the shape's drawing below it on a laptop's screen
        lv.addWidget(self.view, 1)
        self.glimpse_check = QCheckBox("Show where the model looked")
        self.glimpse_check.setToolTip("The model's two glimpses over its grid of image features, for the last answer")
        self.glimpse_check.toggled.connect(self._show_glimpse)
        lv.addWidget(self.glimpse_check)
        shape_box, self.shape_diagram = shape_group(VQA, max_steps=5)
        lv.addWidget(shape_box)
        lv.addWidget(hint_label(
            "A CNN reads the picture, an LSTM the question word by word; the two are fused and every "
            "answer scored."
        ))
        return left

    def _build_question(self) -> QWidget:
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        qrow = QHBoxLayout()
        self.question_box = QComboBox()
        self.question_box.setEditable(True)
        self.question_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)  # history is kept by ask()
        self.question_box.setMaxCount(50)
        self.question_box.lineEdit().setPlaceholderText("Ask a question about the picture, then press Enter")
        self.question_box.lineEdit().returnPressed.connect(self.ask)
        self.question_box.setToolTip("Your question, in your own words; earlier questions are in the list")
        self.ask_button = QPushButton("Ask")
        self.ask_button.setToolTip("Send the question to the model (or press Enter)")
        self.ask_button.clicked.connect(self.ask)
        give_shortcut(self.ask_button, "Ctrl+Return", "Ask the question")
        qrow.addWidget(self.question_box, 1)
        qrow.addWidget(self.ask_button)
        rv.addLayout(qrow)
        rv.addWidget(wrapping_label("<b>Suggested questions</b> (click one to ask it)"))
        self.suggestions = QListWidget()
        self.suggestions.setMaximumHeight(110)
        self.suggestions.itemClicked.connect(lambda item: self.ask(item.data(Qt.ItemDataRole.UserRole)))
        rv.addWidget(self.suggestions)
        self.words_label = QLabel("")
        self.words_label.setWordWrap(True)
        self.words_label.setTextFormat(Qt.TextFormat.RichText)
        rv.addWidget(self.words_label)
        self.answers = AnswersView()
        rv.addWidget(self.answers, 1)
        return right

    # --- pictures -------------------------------------------------------------------------------

    def _source_is(self, kind: str) -> bool:
        return self.source_combo.currentData() == kind

    def _on_source_changed(self, _index: int = 0, new_picture: bool = True) -> None:
        self.index_spin.setEnabled(self._source_is("easyvqa"))
        self.new_button.setText({"file": "Open picture…", "snapshot": "Take snapshot"}.get(
            self.source_combo.currentData(), "New picture"))
        if new_picture and self.source_combo.currentData() in REMEMBERED_SOURCES:
            self.new_picture()

    def _read_easyvqa_then(self, then) -> None:
        """Read the test split's question list on the worker (a quarter of a second: never on the
        GUI thread), then call `then()`."""
        from rnnstudio.data.easyvqa import load_easyvqa

        self._reading = reading = object()  # questions wait for the picture this leads to

        def on_read(split) -> None:
            self._easyvqa = split
            if self._reading is reading:
                then()

        def on_error(error) -> None:
            if self._reading is reading:
                self._reading = self._waiting_question = None
            self.panel.on_worker_error(error)

        self.panel.worker.submit(ReadFileRequest(fn=load_easyvqa, args=("test",), what="the easy-VQA questions"),
                                 slot="vqa.easyvqa", on_result=on_read, on_error=on_error)

    def new_picture(self, random: bool = False) -> None:
        """A picture from the chosen source; `random` picks another one where that means something."""
        from rnnstudio.errors import UserError

        kind = self.source_combo.currentData()
        try:
            if kind == "easyvqa":
                if random:
                    self.index_spin.blockSignals(True)
                    self.index_spin.setValue(int(np.random.default_rng().integers(1000)))
                    self.index_spin.blockSignals(False)
                self.show_easyvqa(self.index_spin.value())
            elif kind in ("generated-plain", "generated-camera"):
                self.show_generated(int(np.random.default_rng().integers(1_000_000)), camera=kind == "generated-camera")
            elif kind == "file":
                if random or self.image is None:
                    path, _ = QFileDialog.getOpenFileName(self, "Open a picture", "", PICTURE_FILES)
                    if path:
                        self.show_file(path)
            elif kind == "snapshot":
                self.take_snapshot()
        except UserError as e:
            self.panel.show_error(str(e))

    def show_easyvqa(self, index: int) -> None:
        if self._easyvqa is None:
            self._read_easyvqa_then(lambda: self.show_easyvqa(self.index_spin.value()))
            return
        split = self._easyvqa
        if not 0 <= index < len(split.image_paths):
            return
        truths = {q.question: q.answer for q in split.questions if q.image == index}
        self._show_picture_file(split.image_paths[index], lambda _stamp: f"easyvqa-test:{index}", truths,
                                f"easy-VQA test picture {index}")

    def show_generated(self, seed: int, camera: bool = False) -> None:
        from rnnstudio.data import shapes
        from rnnstudio.data.scene_questions import all_questions

        rng = np.random.default_rng(seed)
        scene = shapes.random_scene(rng)
        image = shapes.render(scene, size=256, camera=camera, rng=rng)
        truths = {q.question: q.answer for q in all_questions(scene)}
        self.set_picture(image, f"generated:{seed}:{camera}", truths,
                         f"generated scene {seed}{' (camera look)' if camera else ''}")

    def show_file(self, path: str) -> None:
        self._show_picture_file(path, lambda stamp: f"file:{path}:{stamp}", {}, Path(path).name)

    def _show_picture_file(self, path, key_of, truths: dict[str, str], name: str) -> None:
        """Read a picture file on the worker and show it when it comes (`key_of(modification
        time)` is its key). A large picture takes seconds to decode, and the GUI thread never
        waits on a file; until it is shown, questions wait, and another picture chosen
        meanwhile wins."""
        from rnnstudio.data.images import read_picture_file

        self._reading = reading = object()

        def on_read(payload) -> None:
            if self._reading is reading:
                image, stamp = payload
                self.set_picture(image, key_of(stamp), truths, name)

        def on_error(error) -> None:
            if self._reading is reading:
                self._reading = self._waiting_question = None
                self.panel.on_worker_error(error)  # a UserError names the file and what is wrong

        self.panel.status_message.emit(f"reading {name} ...")
        self.panel.worker.submit(ReadFileRequest(fn=read_picture_file, args=(str(path),), what="a picture"),
                                 slot="vqa.picture", on_result=on_read, on_error=on_error)

    def take_snapshot(self) -> None:
        frame = self.panel.snapshot() if self.panel.snapshot is not None else None
        if frame is None:
            self.panel.show_info(
                "The captioning panel shows no camera picture yet: start a source there, then take the snapshot.")
            return
        self._snapshots += 1
        self.set_picture(np.ascontiguousarray(frame), f"snapshot:{self._snapshots}", {},
                         f"camera snapshot {self._snapshots}")

    def set_picture(self, image: np.ndarray, key: str, truths: dict[str, str], name: str) -> None:
        self._reading = None  # a picture file still being read is not wanted any more
        if self.panel.model is not None:  # a missing model's message stays until a model opens
            self.panel.message.dismiss()
        self.image, self.image_key, self.known_questions = image, key, truths
        self.result = None
        self.view.set_frame(image)  # the glimpse overlay covers the centre square the model sees
        self.view.set_attention(None)
        self.answers.clear()
        self._fill_suggestions()
        self.panel.status_message.emit(f"picture: {name}")
        if self._waiting_question is not None:  # asked while the picture was being read
            question, self._waiting_question = self._waiting_question, None
            self.ask(question)

    def _fill_suggestions(self) -> None:
        self.suggestions.clear()
        known = list(self.known_questions)
        for q in known[:SUGGESTED] if known else GENERAL_QUESTIONS:
            item = QListWidgetItem(q)
            item.setData(Qt.ItemDataRole.UserRole, q)
            self.suggestions.addItem(item)

    # --- questions --------------------------------------------------------------------------------

    def ask(self, question: str | None = None) -> None:
        if not isinstance(question, str):
            question = self.question_box.currentText()
        if self._reading is not None:
            self._waiting_question = question
            self.panel.show_info("The picture is still being read; the question is asked as soon as it is shown.")
            return
        if self.image is None:
            self.panel.show_info("Choose a picture first (on the left).")
            return
        if self.panel.model is None:
            self.panel.show_info("The question-answering model is still loading; ask again in a moment.")
            return
        self.question_box.setEditText(question)
        if question.strip() and self.question_box.findText(question) < 0:
            self.question_box.insertItem(0, question)  # the history, newest first
        self.panel.message.dismiss()
        self.panel.worker.submit(
            VQAQuestionRequest(image_key=self.image_key, image=self.image, question=question, topk=TOPK),
            slot="vqa.ask", on_result=self.show_result, on_error=self._on_question_error,
        )

    def _on_question_error(self, error) -> None:
        self.panel.on_worker_error(error)
        unknown = error.details if isinstance(error.details, list) else []
        if unknown:
            self.words_label.setText("Words the model does not know: " + _marked_unknown(unknown))

    def show_result(self, result: VQAResult) -> None:
        if result.image_key != self.image_key:
            return  # an answer about a picture no longer shown
        self.result = result
        self.words_label.setText(_words_html(result.words, result.unknown_words))
        self.shape_diagram.set_steps(question_steps(result.words, result.answers[0][0]))
        self.shape_diagram.set_picture(thumbnail_image(self.image) if self.image is not None else None)
        truth = self.known_questions.get(result.question.strip())
        self.answers.show_result(result, truth)
        self._show_glimpse(self.glimpse_check.isChecked())
        self.session.append((self.image, result, truth))
        self.answered.emit(result)

    def _show_glimpse(self, on: bool) -> None:
        r = self.result
        if not on or r is None or r.glimpses is None:
            self.view.set_attention(None)
            return
        self.view.set_attention(np.asarray(r.glimpses).sum(axis=0))

    # --- settings ------------------------------------------------------------------------------------

    def set_presenter(self, on: bool) -> None:
        self.answers.set_presenter(on)

    def settings(self) -> dict:
        kind = self.source_combo.currentData()
        return {"source": kind if kind in REMEMBERED_SOURCES else "easyvqa", "picture": self.index_spin.value()}

    def apply_settings(self, saved: dict) -> None:
        self.source_combo.blockSignals(True)  # the picture is chosen once the worker is ready
        choose(self.source_combo, saved.get("source"))
        self.source_combo.blockSignals(False)
        self.index_spin.blockSignals(True)
        set_number(self.index_spin, saved.get("picture"))
        self.index_spin.blockSignals(False)
        self._on_source_changed(new_picture=False)


def _marked_unknown(words: list[str]) -> str:
    return " ".join(f"<span style='color:#c0392b; text-decoration:underline'>{html.escape(w)}</span>" for w in words)


def _words_html(words: list[str], unknown: list[str]) -> str:
    """The question as the model read it, unknown words marked."""
    unknown_set = set(unknown)
    shown = " ".join(_marked_unknown([w]) if w in unknown_set else html.escape(w) for w in words)
    note = (f" — <span style='color:#c0392b'>{len(unknown)} word{'s' if len(unknown) != 1 else ''} the model "
            f"does not know, read as &lt;unk&gt;</span>") if unknown else ""
    return f"<b>Read as:</b> {shown}{note}"
