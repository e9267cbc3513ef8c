"""The question-answering panel's "Evaluate on easy-VQA" tab: the whole test split answered on
the worker, the accuracy per question type, and the confusion matrix with the questions of
each cell."""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from rnnstudio.ui.frame_view import qimage_from_rgb
from rnnstudio.ui.theme import presenter_size
from rnnstudio.ui.widgets import give_shortcut, wrapping_label
from rnnstudio.worker.protocol import ReadFileRequest
from rnnstudio.worker.vqa_messages import VQAEvalProgress, VQAEvalRequest, VQAEvalResult

MAX_EXAMPLES = 60  # examples listed for a clicked cell of the confusion matrix
EXAMPLE_ICON_PX = 64
PRESENTER_EXAMPLE_ICON_PX = 96


class EvaluateTab(QWidget):
    title = "Evaluate on easy-VQA"
    evaluated = Signal(object)  # VQAEvalResult

    def __init__(self, panel, parent=None):
        """`panel`: the VQAPanel, for the worker and the messages."""
        super().__init__(parent)
        self.panel = panel
        self._examples_read = None  # the newest request for the examples' pictures
        self.result: VQAEvalResult | None = None
        self._eval_id: int | None = None
        self._answers: list[str] = []  # the matrix's rows and columns
        v = QVBoxLayout(self)
        row = QHBoxLayout()
        self.eval_button = QPushButton("Evaluate on the test split")
        self.eval_button.setToolTip("Answer all of easy-VQA's test questions (never trained on) on the worker")
        self.eval_button.clicked.connect(self.evaluate)
        self.eval_cancel = QPushButton("Cancel")
        self.eval_cancel.setEnabled(False)
        self.eval_cancel.setToolTip("Stop the evaluation; nothing is shown for a part of the test split")
        self.eval_cancel.clicked.connect(self.cancel)
        give_shortcut(self.eval_button, "Ctrl+Return", "Evaluate on the test split (on its tab)")
        give_shortcut(self.eval_cancel, "Esc", "Cancel the evaluation (on its tab)")
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m pictures")
        row.addWidget(self.eval_button)
        row.addWidget(self.eval_cancel)
        row.addWidget(self.progress, 1)
        v.addLayout(row)
        self.summary = wrapping_label("Not evaluated yet.")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        v.addWidget(self.summary)
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
        self.examples.setIconSize(QSize(EXAMPLE_ICON_PX, EXAMPLE_ICON_PX))
        rv.addWidget(self.examples, 1)
        split.addWidget(right)
        split.setSizes([760, 520])
        v.addWidget(split, 1)

    def evaluate(self) -> None:
        self.eval_button.setEnabled(False)
        self.eval_cancel.setEnabled(True)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.summary.setText("Evaluating on the worker …")
        self._eval_id = self.panel.worker.submit(
            VQAEvalRequest(split="test"), slot="vqa.eval", on_partial=self._on_progress,
            on_result=self.show_evaluation, on_error=self._on_error, on_cancelled=self._on_cancelled,
        )

    def cancel(self) -> None:
        if self._eval_id is not None:
            self.panel.worker.cancel(self._eval_id)

    def _on_progress(self, p: VQAEvalProgress) -> None:
        self.progress.setRange(0, p.pictures)
        self.progress.setValue(p.pictures_done)

    def _ended(self, summary: str | None = None) -> None:
        self.eval_button.setEnabled(True)
        self.eval_cancel.setEnabled(False)
        if summary is not None:
            self.summary.setText(summary)

    def _on_error(self, error) -> None:
        self._ended("Evaluation failed.")
        self.panel.on_worker_error(error)

    def _on_cancelled(self, _payload) -> None:
        self._ended("Evaluation cancelled.")

    def show_evaluation(self, result: VQAEvalResult) -> None:
        self._ended()
        self.result = result
        m = result.metrics
        types = " · ".join(f"{k}: {v['accuracy']:.1%} of {v['questions']:,}" for k, v in m["by_type"].items())
        self.summary.setText(f"<b>Accuracy {m['accuracy']:.2%}</b> on {m['questions']:,} test questions "
                             f"(easy-VQA's own author reached 93.8%) — by type: {types}")
        self._fill_confusion(m["confusion"]["answers"], np.asarray(m["confusion"]["matrix"]))
        self.evaluated.emit(result)

    def _fill_confusion(self, answers: list[str], matrix: np.ndarray) -> None:
        """The answers given or true at least once, related ones side by side; each cell shaded by
        its share of its row: green on the diagonal, red off it."""
        used = sorted((i for i in range(len(answers)) if matrix[i].sum() or matrix[:, i].sum()),
                      key=lambda i: (_answer_group(answers[i]), answers[i]))
        self._answers = [answers[i] for i in used]
        table = self.confusion
        table.clear()
        table.setRowCount(len(used))
        table.setColumnCount(len(used))
        table.setHorizontalHeaderLabels(self._answers)
        table.setVerticalHeaderLabels(self._answers)
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

    def show_examples(self, row: int, column: int) -> None:
        """The questions in one cell of the confusion matrix, at once, and their pictures when the
        worker has read them (never read on the GUI thread)."""
        from rnnstudio.data.images import read_images

        r = self.result
        if r is None:
            return
        truth, predicted = self._answers[row], self._answers[column]
        picked = [n for n in range(len(r.questions)) if r.truth[n] == truth and r.predicted[n] == predicted]
        self.examples_label.setText(f"<b>{len(picked):,} questions</b> whose answer is <b>{html.escape(truth)}</b>, "
                                    f"answered <b>{html.escape(predicted)}</b>"
                                    + (f" (the first {MAX_EXAMPLES})" if len(picked) > MAX_EXAMPLES else ""))
        self.examples.clear()
        shown = picked[:MAX_EXAMPLES]
        for n in shown:
            self.examples.addItem(QListWidgetItem(r.questions[n]))
        self._examples_read = reading = object()

        def on_read(images) -> None:
            if self._examples_read is not reading:  # another cell was clicked meanwhile
                return
            for k, image in enumerate(images):
                if image is not None:
                    self.examples.item(k).setIcon(QIcon(QPixmap.fromImage(qimage_from_rgb(image))))

        request = ReadFileRequest(fn=read_images, args=([r.image_paths[n] for n in shown],), what="the pictures")
        self.panel.worker.submit(request, slot="vqa.examples", on_result=on_read, on_error=self.panel.on_worker_error)

    def set_presenter(self, on: bool) -> None:
        icon = presenter_size(PRESENTER_EXAMPLE_ICON_PX) if on else EXAMPLE_ICON_PX
        self.examples.setIconSize(QSize(icon, icon))


def _answer_group(answer: str) -> int:
    """Shapes, then colours, then yes/no, then counts: related answers side by side."""
    if answer in ("circle", "rectangle", "triangle"):
        return 0
    if answer in ("yes", "no"):
        return 2
    return 3 if answer.isdigit() else 1
