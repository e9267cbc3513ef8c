"""Two tabs that set two ways side by side on a test pair or the test split:

- Teacher forcing: the reference's loss at each step when the decoder is fed the reference
  (teacher forcing, as in training) and when it is fed its own words (free running, as when it
  translates), and the step where free running leaves the reference (exposure bias).
- Attention or not: one sentence translated by the models with and without attention, and
  both models' BLEU against French sentence length on the test split (computed once, on the
  worker, with a progress bar)."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget,
)

from rnnstudio.ui.theme import LEGEND_BRUSH
from rnnstudio.ui.widgets import EmptyPlotNote, hint_label, wrapping_label
from rnnstudio.worker.translate_messages import (
    CurvesProgress, Forcing, ForcingRequest, LengthCurves, LengthCurvesRequest, TranslateRequest, Translation,
)

FORCED_COLOR = (70, 130, 200)
FREE_COLOR = (230, 120, 20)
ROLE_COLORS = {"attention": (30, 140, 60), "plain": (200, 60, 60), "trained": (110, 80, 180)}


class ForcingTab(QWidget):
    title = "Teacher forcing"

    def __init__(self, panel):
        super().__init__()
        self.panel = panel
        self.result: Forcing | None = None
        v = QVBoxLayout(self)
        row = QHBoxLayout()
        self.pairs = QComboBox()
        self.pairs.setToolTip("A pair of the test split, read teacher forced and free running")
        self.pairs.currentIndexChanged.connect(lambda _i: self.compare())
        row.addWidget(QLabel("Test pair:"))
        row.addWidget(self.pairs, 1)
        v.addLayout(row)
        v.addWidget(hint_label("Training feeds the decoder the reference's previous word (teacher forcing); "
                               "translating feeds it its own. Once its own word differs, it is somewhere "
                               "training never took it: exposure bias."))
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "step (English token)")
        self.plot.setLabel("left", "loss of the reference's token (nats)")
        self.plot.addLegend(offset=(10, 10), brush=LEGEND_BRUSH)
        self.forced_curve = self.plot.plot(name="teacher forced", pen=pg.mkPen(FORCED_COLOR, width=2.5),
                                           symbol="o", symbolBrush=FORCED_COLOR, symbolPen=None)
        self.free_curve = self.plot.plot(name="free running", pen=pg.mkPen(FREE_COLOR, width=2.5),
                                         symbol="s", symbolBrush=FREE_COLOR, symbolPen=None)
        self.parting = pg.InfiniteLine(angle=90, pen=pg.mkPen((120, 120, 120), width=2, style=Qt.PenStyle.DashLine))
        self.parting.setVisible(False)
        self.plot.addItem(self.parting)
        self.empty = EmptyPlotNote(self.plot, "Pick a test pair: the loss at each step, fed the reference or its own.")
        self.empty.show()
        v.addWidget(self.plot, 1)
        self.tokens_label = wrapping_label("")
        self.tokens_label.setTextFormat(Qt.TextFormat.RichText)  # tokens such as <eos> are escaped
        v.addWidget(self.tokens_label)

    def set_pairs(self, pairs) -> None:
        self.pairs.blockSignals(True)
        self.pairs.clear()
        for french, english in pairs:
            self.pairs.addItem(f"{french}  →  {english}", (french, english))
        # The first pair long enough to part on the way, rather than at its first word.
        long_enough = next((k for k, (_f, english) in enumerate(pairs) if len(english.split()) >= 6), 0)
        self.pairs.setCurrentIndex(long_enough)
        self.pairs.blockSignals(False)

    def compare(self) -> None:
        pair = self.pairs.currentData()
        if pair is None or self.panel.models is None:
            return
        request = ForcingRequest(french=pair[0], english=pair[1], role=self.panel.translating.role)
        self.panel.worker.submit(request, slot="translate.forcing", on_result=self.show_result,
                                 on_error=self.panel.on_worker_error)

    def show_result(self, f: Forcing) -> None:
        self.result = f
        self.empty.hide()
        steps = np.arange(1, len(f.reference) + 1, dtype=float)
        self.forced_curve.setData(steps, np.asarray(f.teacher_forced_nll))
        self.free_curve.setData(steps[:len(f.free_running_nll)], np.asarray(f.free_running_nll))  # to its <eos>
        self.plot.getAxis("bottom").setTicks([[(k + 1, t) for k, t in enumerate(f.reference)]])
        self.parting.setVisible(f.diverges_at is not None)
        if f.diverges_at is not None:
            self.parting.setValue(f.diverges_at + 1)
            parted = (f"free running leaves the reference at step {f.diverges_at + 1}: it wrote "
                      f"<b>{html.escape(f.free_tokens[f.diverges_at])}</b> where the reference has "
                      f"<b>{html.escape(f.reference[f.diverges_at])}</b>; from there on it is fed words training "
                      f"never fed it")
        else:
            parted = "free running wrote the reference word for word: teacher forcing and free running agree"
        self.tokens_label.setText(f"reference: {html.escape(' '.join(f.reference))}<br>free running: "
                                  f"{html.escape(' '.join(f.free_tokens))}<br>{parted}")

    def set_presenter(self, on: bool) -> None:
        for curve, colour in ((self.forced_curve, FORCED_COLOR), (self.free_curve, FREE_COLOR)):
            curve.setPen(pg.mkPen(colour, width=5 if on else 2.5))
            curve.setSymbolSize(12 if on else 8)


class AttentionOrNotTab(QWidget):
    title = "Attention or not"

    def __init__(self, panel):
        super().__init__()
        self.panel = panel
        self.curves: LengthCurves | None = None
        self.side: dict[str, Translation] = {}
        v = QVBoxLayout(self)
        box = QGroupBox("The same sentence, with and without attention")
        bv = QVBoxLayout(box)
        self.sentence = wrapping_label("")
        self.with_label = wrapping_label("")
        self.without_label = wrapping_label("")
        for label in (self.sentence, self.with_label, self.without_label):
            bv.addWidget(label)
        self.compare_button = QPushButton("Translate the Translate tab's sentence with both")
        self.compare_button.setToolTip("Translate the Translate tab's French with the attention model "
                                       "and the plain one")
        self.compare_button.clicked.connect(self.compare_sentence)
        bv.addWidget(self.compare_button)
        v.addWidget(box)
        row = QHBoxLayout()
        self.curves_button = QPushButton("Measure BLEU by sentence length on the test split")
        self.curves_button.setToolTip("Greedy translations of the test split by each model, graded with BLEU "
                                      "by French sentence length")
        self.curves_button.clicked.connect(self.measure)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        row.addWidget(self.curves_button)
        row.addWidget(self.progress, 1)
        v.addLayout(row)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "French sentence length (words)")
        self.plot.setLabel("left", "BLEU (greedy)")
        self.plot.addLegend(offset=(-10, -10), brush=LEGEND_BRUSH)  # bottom right: the long sentences are top right
        self.empty = EmptyPlotNote(self.plot, "Press Measure: how each model's BLEU falls as sentences grow.")
        self.empty.show()
        v.addWidget(self.plot, 1)

    def compare_sentence(self) -> None:
        if self.panel.models is None:
            return  # the models are not open (yet): the panel says why
        text = self.panel.translating.text_box.currentText()
        self.sentence.setText(f"French: <b>{text}</b>")
        self.side = {}
        for role in ("attention", "plain"):
            if role not in self.panel.models.models:
                label = self.with_label if role == "attention" else self.without_label
                label.setText(f"without attention: {self.panel.models.missing.get(role, 'not open')}")
                continue
            request = TranslateRequest(text=text, role=role, width=self.panel.translating.width_spin.value())
            self.panel.worker.submit(request, slot=f"translate.side.{role}", on_result=self._show_side,
                                     on_error=self.panel.on_worker_error)

    def _show_side(self, r: Translation) -> None:
        self.side[r.role] = r
        label = self.with_label if r.role == "attention" else self.without_label
        name = "with attention" if r.role == "attention" else "without attention (the bottleneck)"
        label.setText(f"{name}: <b>{r.translation}</b>   (log-probability {r.nbest[0][1]:.2f})")

    def measure(self) -> None:
        if self.panel.models is None:
            return
        roles = tuple(r for r in ("attention", "plain") if r in self.panel.models.models)
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.curves_button.setEnabled(False)
        self.panel.worker.submit(LengthCurvesRequest(roles=roles, limit=self.panel.curve_limit),
                                 slot="translate.curves", on_partial=self._progressed, on_result=self.show_curves,
                                 on_error=self._failed)

    def _progressed(self, p: CurvesProgress) -> None:
        self.progress.setMaximum(max(p.total, 1))
        self.progress.setValue(p.done)
        self.progress.setFormat(f"{p.role}: %v of %m test sentences")

    def _failed(self, error) -> None:
        self.progress.setVisible(False)
        self.curves_button.setEnabled(True)
        self.panel.on_worker_error(error)

    def show_curves(self, c: LengthCurves) -> None:
        self.curves = c
        self.progress.setVisible(False)
        self.curves_button.setEnabled(True)
        self.empty.hide()
        self.plot.clear()
        labels = []
        for role, rows in c.curves.items():
            labels = [label for label, _n, _b in rows]
            colour = ROLE_COLORS.get(role, (0, 0, 0))
            self.plot.plot(np.arange(len(rows), dtype=float), [b for _l, _n, b in rows],
                           name=f"{role} (BLEU {c.bleu[role]:.1f})", pen=pg.mkPen(colour, width=3),
                           symbol="o", symbolBrush=colour, symbolPen=None)
        self.plot.getAxis("bottom").setTicks([[(k, label) for k, label in enumerate(labels)]])
        missing = self.panel.models.missing.get("plain")
        if missing and "plain" not in c.curves:
            self.panel.show_info(missing)

    def set_presenter(self, on: bool) -> None:
        if self.curves is not None:
            self.show_curves(self.curves)
