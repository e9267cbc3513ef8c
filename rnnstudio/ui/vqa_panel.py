"""The visual question answering panel: pick a picture, ask in your own words, see the top
answers with their probabilities, the words the model did not know, what the question
encoder made of each word, and the model's accuracy on easy-VQA's test split."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from rnnstudio.ui.frame_view import FrameView, qimage_from_rgb, thumbnail_image
from rnnstudio.ui.sequence_shapes import question_steps, shape_group
from rnnstudio.ui.settings import choose, set_number
from rnnstudio.ui.theme import presenter_size
from rnnstudio.ui.widgets import (
    EmptyPlotNote,
    RowLabels,
    give_shortcut,
    hint_label,
    panel_layout,
    when_worker_ready,
    wrapping_label,
)
from rnnstudio.worker.protocol import ReadFileRequest
from rnnstudio.worker.vqa_messages import (
    LoadVQAModelRequest,
    VQAEvalProgress,
    VQAEvalRequest,
    VQAEvalResult,
    VQAModelInfo,
    VQAQuestionRequest,
    VQAResult,
)

SOURCES = [
    ("easy-VQA test set", "easyvqa"),
    ("Generated scene", "generated-plain"),
    ("Generated scene, camera look", "generated-camera"),
    ("Picture file", "file"),
    ("Snapshot of the captioning camera", "snapshot"),
]
GENERAL_QUESTIONS = [
    "what color is the shape?",
    "what shape is it?",
    "how many shapes are there?",
    "is there a red circle?",
    "is there a blue triangle?",
    "how many circles are there?",
]
TOPK = 5
BAR_COLOR = (40, 110, 200)
TRUE_COLOR = (30, 150, 60)
ROW_LABEL_PX = 13  # the largest answer and word labels, in pixels (smaller where rows are short)
PRESENTER_ROW_LABEL_PX = 24
HIDDEN_MAP = pg.colormap.get("CET-D1")
MAX_EXAMPLES = 60  # examples listed for a clicked cell of the confusion matrix


class VQAPanel(QWidget):
    title = "Question answering"
    status_message = Signal(str)
    answered = Signal(object)  # VQAResult, for tests and screenshots
    evaluated = Signal(object)  # VQAEvalResult

    def __init__(self, worker, snapshot=None, parent=None):
        super().__init__(parent)
        self.worker = worker
        self.snapshot = snapshot  # a callable giving the captioning camera's latest frame, or None
        self.model: VQAModelInfo | None = None
        self.image: np.ndarray | None = None
        self.image_key = ""
        self.known_questions: dict[str, str] = {}  # question -> true answer, for the current picture
        self.result: VQAResult | None = None
        self.eval_result: VQAEvalResult | None = None
        self._easyvqa = None  # the test split's questions and picture paths, read on first use
        self._generated = 0
        self._snapshots = 0
        self._reading: object | None = None  # a token of the picture file being read on the worker
        self._eval_id: int | None = None
        self._confusion_answers: list[str] = []
        self.session: list[tuple] = []  # (picture, VQAResult, true answer or None), for the HTML export
        self._build()
        when_worker_ready(worker, self._on_worker_ready)

    # --- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        outer, self.message = panel_layout(self)
        self.tabs = QTabWidget()
        outer.addWidget(self.tabs, 1)
        self.tabs.addTab(self._build_ask(), "Ask about a picture")
        self.tabs.addTab(self._build_evaluate(), "Evaluate on easy-VQA")

    def _build_ask(self) -> QWidget:
        split = QSplitter(Qt.Orientation.Horizontal)
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
        shape_box, self.shape_diagram = shape_group("vqa", max_steps=5)
        lv.addWidget(shape_box)
        lv.addWidget(hint_label(
            "A CNN reads the picture, an LSTM the question word by word; the two are fused and every "
            "answer scored."
        ))
        split.addWidget(left)

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
        self.ask_button.setToolTip('Send the question to the model (or press Enter)')
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
        head = QHBoxLayout()
        head.addWidget(QLabel("<b>Answers</b>, most likely first"))
        head.addStretch(1)
        self.all_check = QCheckBox("All answers")
        self.all_check.setToolTip("Show the whole distribution over the answers the model knows")
        self.all_check.toggled.connect(lambda _on: self._draw_answers())
        head.addWidget(self.all_check)
        rv.addLayout(head)
        self.answer_plot = pg.PlotWidget(background="w")
        self.answer_plot.setMenuEnabled(False)
        self.answer_plot.hideButtons()
        self.answer_plot.setMouseEnabled(False, False)
        self.answer_plot.setLabel("bottom", "probability")
        self.answer_plot.setXRange(0, 1, padding=0.02)
        self.answer_plot.getViewBox().invertY(True)
        self.answer_labels = RowLabels(self.answer_plot, ROW_LABEL_PX)
        self.answers_empty = EmptyPlotNote(self.answer_plot, "Ask a question: the model's answers appear here.")
        self.answers_empty.show()
        rv.addWidget(self.answer_plot, 2)
        self.truth_label = wrapping_label()
        rv.addWidget(self.truth_label)
        rv.addWidget(wrapping_label("<b>The question encoder's state h after each word</b> (LSTM hidden units, -1 to 1)"))
        self.hidden_plot = pg.PlotWidget(background="w")
        self.hidden_plot.setMenuEnabled(False)
        self.hidden_plot.hideButtons()
        self.hidden_plot.setMouseEnabled(False, False)
        self.hidden_plot.setLabel("bottom", "hidden unit")
        self.hidden_plot.getViewBox().invertY(True)
        self.word_labels = RowLabels(self.hidden_plot, ROW_LABEL_PX)
        self.hidden_image = pg.ImageItem(axisOrder="row-major")
        self.hidden_plot.addItem(self.hidden_image)
        bar = pg.ColorBarItem(values=(-1, 1), colorMap=HIDDEN_MAP, interactive=False, width=12)
        bar.setImageItem(self.hidden_image, insert_in=self.hidden_plot.getPlotItem())
        self.hidden_plot.getAxis("bottom").enableAutoSIPrefix(False)  # unit numbers, never "x0.001"
        self.hidden_empty = EmptyPlotNote(self.hidden_plot, "…and here how the LSTM read it, word by word.")
        self.hidden_empty.show()
        rv.addWidget(self.hidden_plot, 2)
        self.timing_label = hint_label("")
        rv.addWidget(self.timing_label)
        split.addWidget(right)
        split.setSizes([420, 860])
        return split

    def _build_evaluate(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        row = QHBoxLayout()
        self.eval_button = QPushButton("Evaluate on the test split")
        self.eval_button.setToolTip("Answer all of easy-VQA's test questions (never trained on) on the worker")
        self.eval_button.clicked.connect(self.evaluate)
        self.eval_cancel = QPushButton("Cancel")
        self.eval_cancel.setEnabled(False)
        self.eval_cancel.setToolTip("Stop the evaluation; nothing is shown for a part of the test split")
        self.eval_cancel.clicked.connect(self.cancel_evaluation)
        give_shortcut(self.eval_button, "Ctrl+Return", "Evaluate on the test split (on its tab)")
        give_shortcut(self.eval_cancel, "Esc", "Cancel the evaluation (on its tab)")
        self.eval_progress = QProgressBar()
        self.eval_progress.setFormat("%v of %m pictures")
        row.addWidget(self.eval_button)
        row.addWidget(self.eval_cancel)
        row.addWidget(self.eval_progress, 1)
        v.addLayout(row)
        self.eval_summary = wrapping_label("Not evaluated yet.")
        self.eval_summary.setTextFormat(Qt.TextFormat.RichText)
        v.addWidget(self.eval_summary)
        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(wrapping_label("<b>Confusion matrix</b>: rows are the true answers, columns the model's; "
                                    "click a cell to see its questions"))
        self.confusion = QTableWidget()
        self.confusion.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.confusion.cellClicked.connect(self.show_examples)
        lv.addWidget(self.confusion, 1)
        split.addWidget(left)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        self.examples_label = wrapping_label("<b>Examples</b>: click a cell of the matrix to list its questions "
                                             "here, with their pictures")
        rv.addWidget(self.examples_label)
        self.examples = QListWidget()
        self.examples.setIconSize(QSize(64, 64))
        rv.addWidget(self.examples, 1)
        split.addWidget(right)
        split.setSizes([760, 520])
        v.addWidget(split, 1)
        return page

    # --- the model ------------------------------------------------------------------------------

    def _on_worker_ready(self, _device: str) -> None:
        self.open_model(None)
        if self.isVisible() and self.image is None:
            self.new_picture()

    def showEvent(self, event) -> None:
        # The first picture is read when the panel is first shown, not at start-up: easy-VQA's
        # question list and a picture file are read on the GUI thread.
        super().showEvent(event)
        if self.image is None and self.worker.device_name is not None:
            self.new_picture()
        if self.tabs.currentIndex() == 0:
            self.question_box.setFocus()  # shown to ask: the question can be typed at once

    def open_model(self, path: str | None) -> None:
        self.worker.submit(LoadVQAModelRequest(path=path), slot="vqa.load",
                           on_result=self._on_model_loaded, on_error=self._on_error)

    def _on_model_loaded(self, info: VQAModelInfo) -> None:
        self.model = info
        self.status_message.emit(f"question answering ready: {Path(info.path).name}")

    def _on_error(self, error) -> None:
        self.message.show_message(error.message, "error")
        self.status_message.emit(error.message)

    # --- pictures -------------------------------------------------------------------------------

    def _source_is(self, kind: str) -> bool:
        return self.source_combo.currentData() == kind

    def _on_source_changed(self, _index: int = 0, new_picture: bool = True) -> None:
        self.index_spin.setEnabled(self._source_is("easyvqa"))
        self.new_button.setText({"file": "Open picture…", "snapshot": "Take snapshot"}.get(
            self.source_combo.currentData(), "New picture"))
        if new_picture and self.source_combo.currentData() in ("easyvqa", "generated-plain", "generated-camera"):
            self.new_picture()

    def easyvqa_test(self):
        if self._easyvqa is None:
            from rnnstudio.data.easyvqa import load_easyvqa

            self._easyvqa = load_easyvqa("test")
        return self._easyvqa

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
                    path, _ = QFileDialog.getOpenFileName(self, "Open a picture", "",
                                                          "Pictures (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff);;All files (*)")
                    if path:
                        self.show_file(path)
            elif kind == "snapshot":
                self.take_snapshot()
        except UserError as e:
            self.message.show_message(str(e), "error")

    def show_easyvqa(self, index: int) -> None:
        split = self.easyvqa_test()
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
                self._reading = None
                self._on_error(error)  # a UserError names the file and what is wrong

        self.status_message.emit(f"reading {name} ...")
        self.worker.submit(ReadFileRequest(fn=read_picture_file, args=(str(path),), what="a picture"),
                           slot="vqa.picture", on_result=on_read, on_error=on_error)

    def take_snapshot(self) -> None:
        frame = self.snapshot() if self.snapshot is not None else None
        if frame is None:
            self.message.show_message(
                "The captioning panel shows no camera picture yet: start a source there, then take the snapshot.",
                "info")
            return
        self._snapshots += 1
        self.set_picture(np.ascontiguousarray(frame), f"snapshot:{self._snapshots}", {},
                         f"camera snapshot {self._snapshots}")

    def set_picture(self, image: np.ndarray, key: str, truths: dict[str, str], name: str) -> None:
        self._reading = None  # a picture file still being read is not wanted any more
        if self.model is not None:  # a missing model's message stays until a model opens
            self.message.dismiss()
        self.image, self.image_key, self.known_questions = image, key, truths
        self.result = None
        self.view.set_frame(image)  # the glimpse overlay covers the centre square the model sees
        self.view.set_attention(None)
        self.truth_label.setText("")
        self._fill_suggestions()
        self.status_message.emit(f"picture: {name}")

    def _fill_suggestions(self) -> None:
        self.suggestions.clear()
        known = list(self.known_questions)
        picks = known[:8] if known else GENERAL_QUESTIONS
        for q in picks:
            item = QListWidgetItem(q)
            item.setData(Qt.ItemDataRole.UserRole, q)
            self.suggestions.addItem(item)

    # --- questions --------------------------------------------------------------------------------

    def ask(self, question: str | None = None) -> None:
        if not isinstance(question, str):
            question = self.question_box.currentText()
        if self._reading is not None:
            self.message.show_message("The picture is still being read; ask again in a moment.", "info")
            return
        if self.image is None:
            self.message.show_message("Choose a picture first (on the left).", "info")
            return
        if self.model is None:
            self.message.show_message("The question-answering model is still loading; ask again in a moment.", "info")
            return
        self.question_box.setEditText(question)
        if question.strip() and self.question_box.findText(question) < 0:
            self.question_box.insertItem(0, question)  # the history, newest first
        self.message.dismiss()
        self.worker.submit(
            VQAQuestionRequest(image_key=self.image_key, image=self.image, question=question, topk=TOPK),
            slot="vqa.ask", on_result=self.show_result, on_error=self._on_question_error,
        )

    def _on_question_error(self, error) -> None:
        self._on_error(error)
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
        self._draw_answers()
        self._draw_hidden()
        self._show_glimpse(self.glimpse_check.isChecked())
        truth = self.known_questions.get(result.question.strip())
        if truth is not None:
            best = result.answers[0][0]
            verdict = "right" if best == truth else "wrong"
            colour = "#1e963c" if best == truth else "#c0392b"
            self.truth_label.setText(f"The true answer is <b>{html.escape(truth)}</b>: the model is "
                                     f"<b style='color:{colour}'>{verdict}</b>.")
        else:
            self.truth_label.setText("")
        self.session.append((self.image, result, truth))
        reuse = "picture features reused" if result.features_cached else "picture features computed"
        self.timing_label.setText(f"Answered in {1000 * result.seconds:.0f} ms on the worker ({reuse}).")
        self.answered.emit(result)

    def _draw_answers(self) -> None:
        plot = self.answer_plot
        plot.clear()
        r = self.result
        if r is None:
            self.answers_empty.show()
            return
        self.answers_empty.hide()
        rows = r.all_answers if self.all_check.isChecked() else r.answers
        truth = self.known_questions.get(r.question.strip())
        probs = [p for _, p in rows]
        brushes = [pg.mkBrush(TRUE_COLOR if a == truth else BAR_COLOR) for a, _ in rows]
        plot.addItem(pg.BarGraphItem(x0=0, y=np.arange(len(rows)), height=0.7, width=probs, brushes=brushes))
        percentages = []
        for k, (answer, p) in enumerate(rows):
            label = pg.TextItem(f"{p:.1%}", color=(20, 20, 20), anchor=(0, 0.5))
            label.setPos(min(p, 0.86) + 0.01, k)
            plot.addItem(label)
            percentages.append(label)
        plot.getAxis("left").setTicks([[(k, a) for k, (a, _) in enumerate(rows)]])
        self.answer_labels.set_rows(len(rows), percentages)
        plot.setXRange(0, 1, padding=0.02)
        plot.setYRange(-0.6, len(rows) - 0.4, padding=0)

    def _draw_hidden(self) -> None:
        r = self.result
        h = np.asarray(r.hidden, dtype=np.float32)  # (words, hidden)
        self.hidden_image.setImage(h, autoLevels=False, levels=(-1, 1))
        self.hidden_empty.hide()
        self.hidden_plot.getAxis("left").setTicks([[(k + 0.5, w) for k, w in enumerate(r.words)]])
        self.word_labels.set_rows(len(r.words))
        self.hidden_plot.setLimits(xMin=0, xMax=h.shape[1], yMin=0, yMax=max(1, h.shape[0]))
        self.hidden_plot.setRange(xRange=(0, h.shape[1]), yRange=(0, max(1, h.shape[0])), padding=0)

    def _show_glimpse(self, on: bool) -> None:
        r = self.result
        if not on or r is None or r.glimpses is None:
            self.view.set_attention(None)
            return
        self.view.set_attention(np.asarray(r.glimpses).sum(axis=0))

    # --- evaluation ---------------------------------------------------------------------------------

    def evaluate(self) -> None:
        self.eval_button.setEnabled(False)
        self.eval_cancel.setEnabled(True)
        self.eval_progress.setRange(0, 1000)
        self.eval_progress.setValue(0)
        self.eval_summary.setText("Evaluating on the worker …")
        self._eval_id = self.worker.submit(
            VQAEvalRequest(split="test"), slot="vqa.eval", on_partial=self._on_eval_progress,
            on_result=self.show_evaluation, on_error=self._on_eval_error, on_cancelled=self._on_eval_cancelled,
        )

    def cancel_evaluation(self) -> None:
        if self._eval_id is not None:
            self.worker.cancel(self._eval_id)

    def _on_eval_progress(self, p: VQAEvalProgress) -> None:
        self.eval_progress.setRange(0, p.pictures)
        self.eval_progress.setValue(p.pictures_done)

    def _eval_ended(self) -> None:
        self.eval_button.setEnabled(True)
        self.eval_cancel.setEnabled(False)

    def _on_eval_error(self, error) -> None:
        self._eval_ended()
        self.eval_summary.setText("Evaluation failed.")
        self._on_error(error)

    def _on_eval_cancelled(self, _payload) -> None:
        self._eval_ended()
        self.eval_summary.setText("Evaluation cancelled.")

    def show_evaluation(self, result: VQAEvalResult) -> None:
        self._eval_ended()
        self.eval_result = result
        m = result.metrics
        types = " · ".join(f"{k}: {v['accuracy']:.1%} of {v['questions']:,}" for k, v in m["by_type"].items())
        self.eval_summary.setText(f"<b>Accuracy {m['accuracy']:.2%}</b> on {m['questions']:,} test questions "
                                  f"(easy-VQA's own author reached 93.8%) — by type: {types}")
        answers = m["confusion"]["answers"]
        matrix = np.asarray(m["confusion"]["matrix"])
        used = sorted((i for i in range(len(answers)) if matrix[i].sum() or matrix[:, i].sum()),
                      key=lambda i: (_answer_group(answers[i]), answers[i]))
        self._confusion_answers = [answers[i] for i in used]
        table = self.confusion
        table.clear()
        table.setRowCount(len(used))
        table.setColumnCount(len(used))
        table.setHorizontalHeaderLabels(self._confusion_answers)
        table.setVerticalHeaderLabels(self._confusion_answers)
        for r, i in enumerate(used):
            row_total = max(1, int(matrix[i].sum()))
            for c, j in enumerate(used):
                n = int(matrix[i, j])
                item = QTableWidgetItem(str(n) if n else "")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                share = n / row_total
                if n and i == j:
                    item.setBackground(QBrush(QColor(30, 150, 60, int(40 + 180 * share))))
                elif n:
                    item.setBackground(QBrush(QColor(200, 50, 40, int(60 + 190 * min(1.0, 5 * share)))))
                table.setItem(r, c, item)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.evaluated.emit(result)

    def show_examples(self, row: int, column: int) -> None:
        """The questions in one cell of the confusion matrix, with their pictures."""
        from rnnstudio.data.images import read_image

        r = self.eval_result
        if r is None:
            return
        truth, predicted = self._confusion_answers[row], self._confusion_answers[column]
        picked = [n for n in range(len(r.questions)) if r.truth[n] == truth and r.predicted[n] == predicted]
        self.examples_label.setText(f"<b>{len(picked):,} questions</b> whose answer is <b>{html.escape(truth)}</b>, "
                                    f"answered <b>{html.escape(predicted)}</b>"
                                    + (f" (the first {MAX_EXAMPLES})" if len(picked) > MAX_EXAMPLES else ""))
        self.examples.clear()
        for n in picked[:MAX_EXAMPLES]:
            item = QListWidgetItem(r.questions[n])
            try:
                item.setIcon(QIcon(QPixmap.fromImage(qimage_from_rgb(read_image(r.image_paths[n])))))
            except OSError:
                pass
            self.examples.addItem(item)

    def export_session(self, path: str) -> None:
        """This session's questions, pictures and answers as one self-contained HTML page."""
        from rnnstudio.ui.export import vqa_session_html, write_page

        write_page(Path(path), "Questions and answers", vqa_session_html(self.session))

    # --- settings kept between runs ---------------------------------------------------------------

    def settings(self) -> dict:
        kind = self.source_combo.currentData()
        return {"source": kind if kind in ("easyvqa", "generated-plain", "generated-camera") else "easyvqa",
                "picture": self.index_spin.value(), "tab": self.tabs.currentIndex()}

    def apply_settings(self, saved: dict) -> None:
        self.source_combo.blockSignals(True)  # the picture is chosen once the worker is ready
        choose(self.source_combo, saved.get("source"))
        self.source_combo.blockSignals(False)
        self.index_spin.blockSignals(True)
        set_number(self.index_spin, saved.get("picture"))
        self.index_spin.blockSignals(False)
        self._on_source_changed(new_picture=False)
        if isinstance(saved.get("tab"), int):
            self.tabs.setCurrentIndex(saved["tab"])

    # --- presenter mode -------------------------------------------------------------------------------

    def set_presenter(self, on: bool) -> None:
        # The bottom axes are styled with every plot's by theme.apply_presenter_to.
        for labels in (self.answer_labels, self.word_labels):
            labels.set_largest(presenter_size(PRESENTER_ROW_LABEL_PX) if on else ROW_LABEL_PX)
        icon = presenter_size(96) if on else 64
        self.examples.setIconSize(QSize(icon, icon))


def _answer_group(answer: str) -> int:
    """Shapes, then colours, then yes/no, then counts: related answers side by side."""
    if answer in ("circle", "rectangle", "triangle"):
        return 0
    if answer in ("yes", "no"):
        return 2
    return 3 if answer.isdigit() else 1


def _marked_unknown(words: list[str]) -> str:
    return " ".join(f"<span style='color:#c0392b; text-decoration:underline'>{html.escape(w)}</span>" for w in words)


def _words_html(words: list[str], unknown: list[str]) -> str:
    """The question as the model read it, unknown words marked."""
    unknown_set = set(unknown)
    shown = " ".join(_marked_unknown([w]) if w in unknown_set else html.escape(w) for w in words)
    note = (f" — <span style='color:#c0392b'>{len(unknown)} word{'s' if len(unknown) != 1 else ''} the model "
            f"does not know, read as &lt;unk&gt;</span>") if unknown else ""
    return f"<b>Read as:</b> {shown}{note}"
