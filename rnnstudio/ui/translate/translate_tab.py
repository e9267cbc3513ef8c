"""The Translate tab: type French (or pick a test pair, whose reference is shown and the
translation graded with sentence BLEU); the translation appears word by word, with the
attention matrix, the beam as a tree, the n-best list and the shape of sequence. Click an
English word for the decoder's five likeliest words there: choose one, and the rest is decoded
again from it (what if)."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox, QFrame, QGroupBox, QHBoxLayout, QLabel, QListWidget, QMenu, QPushButton, QScrollArea, QSplitter,
    QVBoxLayout, QWidget,
)

from rnnstudio.panels import TRANSLATE
from rnnstudio.ui.sequence_shapes import shape_group
from rnnstudio.ui.shape_diagram import Step
from rnnstudio.ui.translate.attention_view import AttentionView
from rnnstudio.ui.translate.beam_view import BeamTree
from rnnstudio.ui.widgets import FlowLayout, float_spin_box, hint_label, spin_box, wrapping_label
from rnnstudio.worker.translate_messages import NextWords, NextWordsRequest, TranslateRequest, Translation

WORD_MS = 90  # the translation appears one word every this many milliseconds
ROLE_NAMES = {"attention": "with attention (shipped)", "plain": "without attention (shipped)",
              "trained": "trained in the app"}
START_TEXT = "Une voiture rouge."


def read_then_write_steps(source: list[str], target: list[str], finished: bool = True) -> tuple[Step, ...]:
    """Read every French token (nothing out), then write every English token written so far (nothing in)."""
    return (*(Step(t) for t in source), *(Step(None, t) for t in (*target, *(("<eos>",) if finished else ()))))


class TranslateTab(QWidget):
    title = "Translate"
    translated = Signal(object)  # a Translation, once shown

    def __init__(self, panel):
        super().__init__()
        self.panel = panel
        self.result: Translation | None = None
        self.reference: str | None = None
        self.shown_words = 0
        self._reveal = QTimer(self)
        self._reveal.timeout.connect(self._reveal_next)
        # The page scrolls where its widgets' least heights do not fit (a laptop's 680 pixels), so
        # none is drawn over another; its controls flow onto new lines where the width runs out.
        content = QWidget()
        scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        v = QVBoxLayout(content)
        controls = QWidget()
        row = FlowLayout(controls)
        self._typing_hint = False  # the message line says the half-typed text has no French word yet
        self.text_box = QComboBox()
        self.text_box.setEditable(True)
        self.text_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.text_box.lineEdit().setPlaceholderText("Type French: une voiture rouge")
        self.text_box.setCurrentText(START_TEXT)
        self.text_box.setMinimumWidth(240)
        self.text_box.setToolTip("The French sentence to translate; press Enter to translate it")
        self.text_box.lineEdit().textEdited.connect(self._typed)
        self.text_box.lineEdit().returnPressed.connect(self.translate)
        self.pair_combo = QComboBox()
        self.pair_combo.setMaximumWidth(260)
        self.pair_combo.setToolTip("A pair of the test split: its French is translated and graded against its English")
        self.pair_combo.addItem("type your own", None)
        self.pair_combo.currentIndexChanged.connect(self._pair_chosen)
        self.role_combo = QComboBox()
        self.role_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.role_combo.setToolTip("The model that translates: with attention, without it, or the one trained here")
        self.role_combo.currentIndexChanged.connect(lambda _i: self.translate())
        self.width_spin = spin_box(1, 20, 5)
        self.width_spin.setToolTip("Beam width: hypotheses kept at each step; 1 is greedy decoding")
        self.width_spin.valueChanged.connect(lambda _v: self.translate())
        self.penalty_spin = float_spin_box(0.0, 5.0, 0.0, 0.2, 1)
        self.penalty_spin.setToolTip("Length penalty: a finished hypothesis scores logprob / ((5 + length) / 6)^α")
        self.penalty_spin.valueChanged.connect(lambda _v: self.translate())
        for label, widget in (("French:", self.text_box), ("Test pair:", self.pair_combo),
                              ("Model:", self.role_combo), ("Beam width:", self.width_spin),
                              ("Length penalty:", self.penalty_spin)):
            pair = QWidget()
            h = QHBoxLayout(pair)
            h.setContentsMargins(0, 0, 0, 0)
            h.addWidget(QLabel(label))
            h.addWidget(widget)
            row.addWidget(pair)
        v.addWidget(controls)
        self.words_box = QWidget()
        self.words = FlowLayout(self.words_box)
        self.words_box.setMinimumHeight(40)
        v.addWidget(self.words_box)
        self.reference_label = wrapping_label("")
        v.addWidget(self.reference_label)
        shape_box, self.shape_diagram = shape_group(TRANSLATE, max_steps=9)
        v.addWidget(shape_box)
        split = QSplitter(Qt.Orientation.Horizontal)
        left = QGroupBox("Where it looked (attention)")
        self.attention_view = AttentionView()
        QVBoxLayout(left).addWidget(self.attention_view)
        self.attention_view.row_clicked.connect(self._row_clicked)
        right = QGroupBox("The beam (the winner in green)")
        rv = QVBoxLayout(right)
        self.beam_tree = BeamTree()
        rv.addWidget(self.beam_tree, 2)
        rv.addWidget(QLabel("n-best list (total log-probability):"))
        self.nbest_list = QListWidget()
        rv.addWidget(self.nbest_list, 1)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([500, 500])
        v.addWidget(split, 1)
        v.addWidget(hint_label("Click an English word for the decoder's five likeliest words there; "
                               "choose one and the rest is decoded again."))

    # --- the models and pairs -----------------------------------------------------------------

    def set_models(self, roles: list[str], test_pairs: list) -> None:
        current = self.role
        self.role_combo.blockSignals(True)
        self.role_combo.clear()
        for role in roles:
            self.role_combo.addItem(ROLE_NAMES[role], role)
        index = self.role_combo.findData(current)
        self.role_combo.setCurrentIndex(max(index, 0))
        self.role_combo.blockSignals(False)
        if test_pairs and self.pair_combo.count() == 1:
            self.pair_combo.blockSignals(True)
            for french, english in test_pairs:
                self.pair_combo.addItem(french, (french, english))
            self.pair_combo.blockSignals(False)

    @property
    def role(self) -> str:
        return self.role_combo.currentData() or "attention"

    def _pair_chosen(self, _index: int) -> None:
        pair = self.pair_combo.currentData()
        if pair is None:
            self.reference = None
            return
        self.text_box.setCurrentText(pair[0])
        self.reference = pair[1]
        self.translate()

    def _typed(self, _text: str) -> None:
        self.reference = None  # typed text has no reference
        self.pair_combo.blockSignals(True)
        self.pair_combo.setCurrentIndex(0)
        self.pair_combo.blockSignals(False)
        self.translate(typing=True)

    # --- translating -----------------------------------------------------------------------------

    def request(self, forced_prefix: tuple[str, ...] = ()) -> TranslateRequest:
        return TranslateRequest(text=self.text_box.currentText(), role=self.role, width=self.width_spin.value(),
                                length_penalty=self.penalty_spin.value(), forced_prefix=forced_prefix,
                                reference=self.reference)

    def translate(self, forced_prefix: tuple[str, ...] = (), typing: bool = False) -> None:
        """Submit the text as it is now; a newer submission supersedes it (slot). While typing,
        a text with no French word yet ("Bonj" on the way to "Bonjour") is a hint, not an error."""
        if self.panel.models is None:
            return
        on_error = self._while_typing if typing else self.panel.on_worker_error
        self.panel.worker.submit(self.request(forced_prefix), slot="translate.text", on_result=self.show_result,
                                 on_error=on_error)

    def _while_typing(self, error) -> None:
        if not error.user_error:
            self.panel.on_worker_error(error)
            return
        self.panel.show_info(f"{error.message} (keep typing, or press Enter)")
        self._typing_hint = True

    def show_result(self, r: Translation) -> None:
        # the text that caused an error or a typing hint has been replaced by one that translates
        if self.panel.message.kind == "error" or (self._typing_hint and self.panel.message.kind == "info"):
            self.panel.message.dismiss()
        self._typing_hint = False
        self.result = r
        self.attention_view.show_attention(r.attention, r.source_tokens, r.tokens)
        self.beam_tree.show_beam(r.beam)
        self.nbest_list.clear()
        for translation, logprob, _score in r.nbest:
            self.nbest_list.addItem(f"{logprob:8.2f}   {translation}")
        self.shape_diagram.set_steps(read_then_write_steps(r.source_tokens, [], False))  # written as words appear
        grade = ""
        if r.reference is not None:
            grade = f"reference: <b>{r.reference}</b> · sentence BLEU {r.sentence_bleu:.1f}"
        unknown = [r.source_tokens[i] for i in r.unknown_positions]
        if unknown:
            grade += (" · " if grade else "") + f"unknown French words (read as &lt;unk&gt;): {', '.join(unknown)}"
        forced = f"the first {r.forced} word(s) chosen by you (what if)" if r.forced else ""
        parts = [grade, forced, f"translated in {r.seconds * 1000:.0f} ms"]
        self.reference_label.setText(" · ".join(part for part in parts if part))
        self.shown_words = 0
        self._clear_words()
        self._reveal.start(WORD_MS)
        self.translated.emit(r)

    def _clear_words(self) -> None:
        while self.words.count():
            item = self.words.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _reveal_next(self) -> None:
        r = self.result
        if r is None or self.shown_words >= len(r.words):
            self._reveal.stop()
            return
        i = self.shown_words
        button = QPushButton(r.words[i])
        button.setFlat(True)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.setStyleSheet("font-size: 150%; font-weight: bold;" + (" color: #777;" if i < r.forced else ""))
        button.setToolTip(f"P = {math.exp(r.token_logprobs[i]):.1%}; click for other words here")
        button.clicked.connect(lambda _c=False, k=i: self.ask_next_words(k))
        self.words.addWidget(button)
        self.shown_words += 1
        done = self.shown_words == len(r.words)
        self.shape_diagram.set_steps(read_then_write_steps(r.source_tokens, r.words[: self.shown_words], done))

    def show_all_words(self) -> None:
        """Skip the word-by-word animation (screenshots, tests)."""
        while self.result is not None and self.shown_words < len(self.result.words):
            self._reveal_next()
        self._reveal.stop()

    def _row_clicked(self, row: int) -> None:
        self.status(f"row {row + 1}: {self.attention_view.lit.text()}")

    def status(self, text: str) -> None:
        self.panel.status_message.emit(text.replace("<b>", "").replace("</b>", ""))

    # --- what if ---------------------------------------------------------------------------------

    def ask_next_words(self, position: int) -> None:
        """The decoder's top five at `position`, after the translation's tokens before it."""
        r = self.result
        if r is None:
            return
        self.attention_view.select_row(position)
        request = NextWordsRequest(text=r.source, role=r.role, prefix=tuple(r.tokens[:position]), k=5)
        self.panel.worker.submit(request, slot="translate.next", on_result=self._offer_next_words,
                                 on_error=self.panel.on_worker_error)

    def _offer_next_words(self, nw: NextWords) -> None:
        self.next_words = nw
        menu = QMenu(self)
        for token, p in nw.choices:
            action = menu.addAction(f"{token}   ({p:.1%})")
            action.triggered.connect(lambda _c=False, t=token: self.choose(nw.position, t))
        self.menu = menu
        if nw.position < self.words.count():
            widget = self.words.itemAt(nw.position).widget()
            menu.popup(widget.mapToGlobal(widget.rect().bottomLeft()))

    def choose(self, position: int, token: str) -> None:
        """What if the decoder wrote `token` at `position`: the rest is decoded again from there."""
        prefix = tuple(self.result.tokens[:position]) + (token,)
        self.translate(forced_prefix=prefix)

    def set_presenter(self, on: bool) -> None:
        self.attention_view.set_presenter(on)
        self.beam_tree.set_presenter(on)
