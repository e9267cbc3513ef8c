"""The char-RNN panel's training settings: the text to learn from, the network and the
training run, each control explained under it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QLineEdit, QVBoxLayout, QWidget

from rnnstudio.ui.settings import choose, set_number
from rnnstudio.ui.widgets import TEXT_FILES, add_explained_row, float_spin_box, spin_box
from rnnstudio.train.defaults import CharRNNDefaults
from rnnstudio.worker.charrnn_messages import CharRNNTrainSpec

CORPORA = [("Shakespeare (all plays but The Tempest)", "shakespeare"), ("Python standard library", "python")]
ARCHS = [("LSTM", "lstm"), ("GRU", "gru"), ("Vanilla RNN", "rnn")]


class TrainingSettings(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._corpus_path: str | None = None
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)

        data = QGroupBox("Text to learn from")
        form = QFormLayout(data)
        self.corpus_combo = QComboBox()
        for label, key in CORPORA:
            self.corpus_combo.addItem(label, key)
        self.corpus_combo.addItem("Text file…", "file")
        self.corpus_combo.activated.connect(self._on_corpus_activated)
        add_explained_row(form, "Corpus", self.corpus_combo, "The model learns to predict the next character of this text.")
        v.addWidget(data)

        model = QGroupBox("Network")
        form = QFormLayout(model)
        self.arch_combo = QComboBox()
        for label, key in ARCHS:
            self.arch_combo.addItem(label, key)
        add_explained_row(form, "Cell", self.arch_combo, "Vanilla RNN: h = tanh(W_hh h + W_xh x); LSTM and GRU add gates.")
        self.layers_spin = spin_box(1, 4, CharRNNDefaults.layers)
        add_explained_row(form, "Layers", self.layers_spin, "Stacked recurrent layers; each reads the one below.")
        self.hidden_spin = spin_box(8, 1024, CharRNNDefaults.hidden, step=32)
        add_explained_row(form, "Hidden size", self.hidden_spin, "Numbers in the state h_t: the network's memory.")
        self.dropout_spin = float_spin_box(0.0, 0.9, CharRNNDefaults.dropout, 0.05, 2)
        add_explained_row(form, "Dropout", self.dropout_spin, "Zeroes this fraction between layers in training, against overfitting.",
                          advanced=True)
        v.addWidget(model)

        train = QGroupBox("Training")
        form = QFormLayout(train)
        self.seq_spin = spin_box(4, 1000, CharRNNDefaults.seq_len, step=8)
        add_explained_row(form, "Sequence length", self.seq_spin,
                          "The BPTT window: gradients flow back through at most this many characters.")
        self.batch_spin = spin_box(1, 512, CharRNNDefaults.batch_size, step=8)
        add_explained_row(form, "Batch size", self.batch_spin, "Text windows trained on at once, averaged in one step.",
                          advanced=True)
        self.lr_spin = float_spin_box(1e-5, 1.0, CharRNNDefaults.lr, 5e-4, 4)
        add_explained_row(form, "Learning rate", self.lr_spin, "Adam's step size; it decays to a tenth by the last iteration.",
                          advanced=True)
        self.steps_spin = spin_box(10, 1_000_000, CharRNNDefaults.steps, step=100)
        add_explained_row(form, "Iterations", self.steps_spin, "Training steps to run, one batch each.")
        self.sample_at_edit = QLineEdit(", ".join(map(str, CharRNNDefaults.sample_at)))
        add_explained_row(form, "Samples at", self.sample_at_edit,
                          "Iterations at which a sample is kept in the timeline.")
        self.continue_check = QCheckBox("Continue the opened model")
        self.continue_check.setToolTip(
            "Train the opened model further, with its own network and saved optimizer state, instead of a new one"
        )
        self.continue_check.toggled.connect(self._on_continue_toggled)
        self.continue_check.setProperty("advanced", True)  # presenter mode tucks it away
        form.addRow(self.continue_check)
        v.addWidget(train)

    def _on_continue_toggled(self, on: bool) -> None:
        # The opened model fixes the network; only the training settings apply.
        for w in (self.arch_combo, self.layers_spin, self.hidden_spin, self.dropout_spin):
            w.setEnabled(not on)

    # --- the corpus ----------------------------------------------------------------------------

    def _on_corpus_activated(self, index: int) -> None:
        if self.corpus_combo.itemData(index) == "file":
            path, _ = QFileDialog.getOpenFileName(self, "Open a text to learn from", "", TEXT_FILES)
            if path:
                self.set_corpus_file(path)
            else:
                self.corpus_combo.setCurrentIndex(0)

    def set_corpus_file(self, path: str) -> None:
        """Use a text file as the corpus; it is read and checked when training starts."""
        self._corpus_path = path
        index = self.corpus_combo.findData("file")
        self.corpus_combo.setItemText(index, f"File: {Path(path).name}")
        self.corpus_combo.setCurrentIndex(index)
        self.corpus_combo.setToolTip(path)

    def choose_corpus(self, key: str) -> None:
        """One of the shipped corpora (CORPORA's keys)."""
        choose(self.corpus_combo, key)

    def corpus_spec(self) -> str:
        key = self.corpus_combo.currentData()
        return self._corpus_path if key == "file" and self._corpus_path else key if key != "file" else "shakespeare"

    # --- the run ---------------------------------------------------------------------------------

    def sample_iterations(self) -> tuple[int, ...]:
        values = []
        for part in self.sample_at_edit.text().replace(";", ",").split(","):
            part = part.strip()
            if part.isdigit() and int(part) > 0:
                values.append(int(part))
        return tuple(sorted(set(values)))

    def sample_iterations_problem(self) -> str | None:
        """What is wrong with "Samples at", in a sentence; None when it is a list of whole numbers."""
        bad = [p.strip() for p in self.sample_at_edit.text().replace(";", ",").split(",") if p.strip()]
        bad = [p for p in bad if not p.isdigit()]
        return f"“Samples at” takes whole numbers separated by commas; “{bad[0]}” is not one." if bad else None

    def train_spec(self) -> CharRNNTrainSpec:
        return CharRNNTrainSpec(
            corpus=self.corpus_spec(),
            arch=self.arch_combo.currentData(),
            layers=self.layers_spin.value(),
            hidden=self.hidden_spin.value(),
            dropout=self.dropout_spin.value(),
            seq_len=self.seq_spin.value(),
            batch_size=self.batch_spin.value(),
            lr=self.lr_spin.value(),
            steps=self.steps_spin.value(),
            eval_every=CharRNNDefaults.curve_eval_every(self.steps_spin.value()),
            sample_at=self.sample_iterations(),
        )

    def corpus_name(self) -> str:
        return self.corpus_combo.currentText()

    # --- kept between runs -----------------------------------------------------------------------

    def settings(self) -> dict:
        return {
            "corpus": self.corpus_combo.currentData(), "corpus_file": self._corpus_path,
            "arch": self.arch_combo.currentData(), "layers": self.layers_spin.value(),
            "hidden": self.hidden_spin.value(), "dropout": self.dropout_spin.value(), "seq_len": self.seq_spin.value(),
            "batch": self.batch_spin.value(), "lr": self.lr_spin.value(), "steps": self.steps_spin.value(),
            "sample_at": self.sample_at_edit.text(),
        }

    def apply_settings(self, saved: dict) -> None:
        corpus_file = saved.get("corpus_file")
        if saved.get("corpus") == "file" and isinstance(corpus_file, str) and Path(corpus_file).is_file():
            self.set_corpus_file(corpus_file)
        elif saved.get("corpus") != "file":
            choose(self.corpus_combo, saved.get("corpus"))
        choose(self.arch_combo, saved.get("arch"))
        for spin, key in ((self.layers_spin, "layers"), (self.hidden_spin, "hidden"), (self.dropout_spin, "dropout"),
                          (self.seq_spin, "seq_len"), (self.batch_spin, "batch"), (self.lr_spin, "lr"),
                          (self.steps_spin, "steps")):
            set_number(spin, saved.get(key))
        if isinstance(saved.get("sample_at"), str):
            self.sample_at_edit.setText(saved["sample_at"])

