"""The sentiment panel's Examples tab: the test split's sentences a model gets most wrong, by
source (movie reviews, tweets, Amazon reviews, NYT editorials); one opens on the Read tab."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from rnnstudio.ui.sentiment.read_tab import TITLES
from rnnstudio.ui.widgets import wrapping_label
from rnnstudio.worker.sentiment_messages import SentimentExamplesRequest, SentimentExamplesResult

SOURCES = {"movies": "movie reviews", "tweets": "tweets", "amazon": "Amazon reviews", "nyt": "NYT editorials"}
COLUMNS = ("p(positive)", "label", "mean rating", "sentence")


class ExamplesTab(QWidget):
    title = "Examples"
    chosen = Signal(str)  # a sentence to read

    def __init__(self, panel):
        super().__init__()
        self.panel = panel
        self.result: SentimentExamplesResult | None = None
        self.model = QComboBox()
        self.source = QComboBox()
        for key, title in SOURCES.items():
            self.source.addItem(title, key)
        self.source.currentIndexChanged.connect(self.show_rows)
        self.find_button = QPushButton("Find the worst mistakes")
        self.find_button.clicked.connect(self.find)
        self.model.setToolTip("The model whose mistakes are listed")
        self.source.setToolTip("Where the test sentences come from: each source is rated by people")
        self.find_button.setToolTip("List the test sentences (never trained on) where the chosen model is most "
                                    "confidently wrong; double-click one to read it")
        row = QHBoxLayout()
        for widget in (QLabel("Model"), self.model, QLabel("Source"), self.source, self.find_button):
            row.addWidget(widget)
        row.addStretch(1)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.chosen.emit(self.table.item(row, 3).text()))
        v = QVBoxLayout(self)
        v.addWidget(wrapping_label("Sentences of the test split (never trained on) where the model is most wrong: "
                                   "double-click one to read it word by word."))
        v.addLayout(row)
        v.addWidget(self.table, 1)

    def add_model(self, name: str) -> None:
        if self.model.findData(name) < 0:
            self.model.addItem(TITLES[name], name)
        if name == "lstm":
            self.model.setCurrentIndex(self.model.findData(name))

    def find(self) -> None:
        if self.model.currentData() is None:
            return
        self.panel.worker.submit(SentimentExamplesRequest(model=self.model.currentData()), slot="sentiment.examples",
                                 on_result=self._on_result, on_error=self.panel.on_worker_error)

    def _on_result(self, result: SentimentExamplesResult) -> None:
        self.result = result
        self.show_rows()

    def show_rows(self, *_args) -> None:
        rows = self.result.by_source.get(self.source.currentData(), []) if self.result else []
        self.table.setRowCount(len(rows))
        for n, e in enumerate(rows):
            for col, text in enumerate((f"{e.p_positive:.2f}", e.label, f"{e.rating:+.1f}", e.text)):
                self.table.setItem(n, col, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
