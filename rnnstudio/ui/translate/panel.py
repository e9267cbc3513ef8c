"""The translation panel: French in, English out (many to many, read then write). Its tabs:
Translate (attention, beam tree, n-best, what if: translate_tab), Teacher forcing and
Attention or not (study_tabs), and Train (train_tab)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QWidget

from rnnstudio.panels import TRANSLATE
from rnnstudio.ui.lessons import Lesson
from rnnstudio.ui.panel import Panel
from rnnstudio.ui.tab_book import BookPage, TabBook
from rnnstudio.ui.translate.study_tabs import AttentionOrNotTab, ForcingTab
from rnnstudio.ui.translate.train_tab import TrainTab
from rnnstudio.ui.translate.translate_tab import TranslateTab
from rnnstudio.worker.translate_messages import LoadTranslatorsRequest, TranslatorsInfo

LONG_SENTENCE = "Je ne pense pas que Tom sache pourquoi Marie ne veut pas venir à la fête avec nous ce soir."
ADJECTIVE_AFTER = "Une voiture rouge."
GREEDY_DIFFERS = "Je ne sais pas ce que tu veux dire."


class TranslatePanel(Panel):
    """Many to many, read then write: an encoder reads the French, a decoder writes the English."""

    entry = TRANSLATE
    translating = BookPage()
    forcing = BookPage()
    attention_or_not = BookPage()
    training = BookPage()
    shape_note = ("a bidirectional GRU reads the whole French sentence first; then a decoder writes the English "
                  "word by word, looking back at the French words through attention.")

    def __init__(self, worker, parent=None):
        super().__init__(worker, parent)
        self.models: TranslatorsInfo | None = None
        self.load_problem: str | None = None  # why the shipped models did not open
        self.curve_limit = 0  # BLEU curves on the whole test split (tests measure fewer)
        self.train_overrides: dict = {}  # TranslateTrainSpec fields the controls do not show (tests)
        self.tabs = TabBook()  # each tab is made when first shown or used (ui/tab_book.py)
        self._saved: dict = {}  # the last session's beam settings, until the Translate tab is made
        self.tabs.add_page("translating", TranslateTab.title, self._make_translating)
        self.tabs.add_page("forcing", ForcingTab.title, lambda: ForcingTab(self))
        self.tabs.add_page("attention_or_not", AttentionOrNotTab.title, lambda: AttentionOrNotTab(self))
        self.tabs.add_page("training", TrainTab.title, lambda: TrainTab(self))
        self.tabs.currentChanged.connect(self._tab_shown)
        self.outer.addWidget(self.tabs, 1)

    def _make_translating(self) -> TranslateTab:
        return self._apply_beam(TranslateTab(self))

    def _apply_beam(self, tab: TranslateTab) -> TranslateTab:
        if isinstance(self._saved.get("width"), int):
            tab.width_spin.setValue(self._saved["width"])
        if isinstance(self._saved.get("length_penalty"), (int, float)):
            tab.penalty_spin.setValue(float(self._saved["length_penalty"]))
        return tab

    def show_tab(self, tab: QWidget) -> None:
        self.tabs.setCurrentWidget(tab)

    def _tab_shown(self, _index: int) -> None:
        if self.tabs.current_name() == "forcing" and self.forcing.result is None:
            self.forcing.compare()

    # --- the models ------------------------------------------------------------------------------

    def on_worker_ready(self, _device: str) -> None:
        if self.tabs.is_built("training"):  # one made later asks the worker itself
            self.training._update_buttons()
        # No shipped model is a state the panel lives with (the Train tab still works), said as a
        # note a lesson may replace, not an error.
        self.worker.submit(LoadTranslatorsRequest(), slot="translate.load", on_result=self._on_models_loaded,
                           on_error=self._on_no_shipped_model)

    def _on_no_shipped_model(self, error) -> None:
        self.load_problem = error.message
        if not error.user_error:  # a bug, not a missing file: said as one
            self.on_worker_error(error)
            return
        self.show_info(error.message)
        self.status_message.emit(error.message)

    def _on_models_loaded(self, info: TranslatorsInfo) -> None:
        self.models = info
        roles = list(info.models)
        self.translating.set_models(roles, info.test_pairs)
        self.forcing.set_pairs(info.test_pairs)
        names = ", ".join(Path(m.path).name for m in info.models.values())
        self.status_message.emit(f"translation ready: {names}")
        if "plain" in info.missing:
            self.show_info(info.missing["plain"])
        self.translating.translate()

    def trained_model_started(self) -> None:
        """The model in training can be used at once: a choice in the Translate tab."""
        if self.models is not None and self.translating.role_combo.findData("trained") < 0:
            self.translating.set_models([*self.models.models, "trained"], [])

    # --- settings, presenter mode, screenshot --------------------------------------------------------

    def settings(self) -> dict:
        beam = self._saved
        if self.tabs.is_built("translating"):
            beam = {"width": self.translating.width_spin.value(), "length_penalty": self.translating.penalty_spin.value()}
        return {**{k: beam[k] for k in ("width", "length_penalty") if k in beam}, "tab": self.tabs.currentIndex()}

    def apply_settings(self, saved: dict) -> None:
        self._saved = {k: saved[k] for k in ("width", "length_penalty") if k in saved}
        if self.tabs.is_built("translating"):
            self._apply_beam(self.translating)
        if isinstance(saved.get("tab"), int) and 0 <= saved["tab"] < self.tabs.count():
            self.tabs.setCurrentIndex(saved["tab"])

    def set_presenter(self, on: bool) -> None:
        self.tabs.set_presenter(on)

    def prepare_screenshot(self, app, window) -> None:
        """'Une voiture rouge.' translated with its attention; the row of 'red' lit."""
        from rnnstudio.errors import UserError
        from rnnstudio.ui.screenshot import wait_for_worker, wait_until

        wait_for_worker(app, window)
        wait_until(app, lambda: self.models is not None or self.load_problem is not None, 60, "the translation models")
        if self.models is None:
            raise UserError(f"the translation model could not be opened: {self.load_problem}")
        self.show_tab(self.translating)
        self.translate(ADJECTIVE_AFTER)
        wait_until(app, lambda: self._shows(ADJECTIVE_AFTER), 60, "a translation")
        self.translating.show_all_words()
        tokens = self.translating.result.tokens
        self.translating.attention_view.select_row(tokens.index("red") if "red" in tokens else 0)

    def _shows(self, text: str) -> bool:
        r = self.translating.result
        return r is not None and r.source == text

    # --- lessons --------------------------------------------------------------------------------------

    def translate(self, text: str, width: int | None = None) -> None:
        self.show_tab(self.translating)
        self.translating.pair_combo.setCurrentIndex(0)
        self.translating.reference = None
        self.translating.text_box.setCurrentText(text)
        if width is not None and width != self.translating.width_spin.value():
            self.translating.width_spin.setValue(width)  # translates
            return
        self.translating.translate()

    def _bottleneck(self) -> None:
        self.translate(LONG_SENTENCE)
        self.show_tab(self.attention_or_not)
        self.attention_or_not.compare_sentence()

    def _teacher_forcing(self) -> None:
        self.show_tab(self.forcing)
        self.forcing.compare()

    lessons = (
        Lesson("The bottleneck: a long sentence, plain against attention", "translation",
               "Without attention the whole sentence must pass through one vector; watch the long one break. "
               "Then measure BLEU by length.", lambda panel: panel._bottleneck()),
        Lesson("Where it looked: une voiture rouge", "translation",
               "French puts the adjective after the noun; click 'red' and see it look at 'rouge'.",
               lambda panel: panel.translate(ADJECTIVE_AFTER)),
        Lesson("Greedy against beam", "translation",
               "Width 1 is greedy: the likeliest word at each step. Raise the width and watch the tree and the "
               "n-best list.", lambda panel: panel.translate(GREEDY_DIFFERS, width=1)),
        Lesson("Teacher forcing and exposure bias", "translation",
               "Fed the reference, the loss stays low; fed its own words, it drifts once it leaves the reference.",
               lambda panel: panel._teacher_forcing()),
    )
