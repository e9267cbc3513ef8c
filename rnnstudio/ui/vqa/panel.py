"""The visual question answering panel: pick a picture, ask in your own words, see the top
answers with their probabilities, the words the model did not know, what the question
encoder made of each word (ask_tab, answers), and the model's accuracy on easy-VQA's test
split (evaluate_tab)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QWidget

from rnnstudio.panels import CAPTION, VQA
from rnnstudio.ui.lessons import Lesson
from rnnstudio.ui.panel import PageExport, Panel
from rnnstudio.ui.tab_book import BookPage, TabBook
from rnnstudio.ui.vqa.ask_tab import AskTab
from rnnstudio.ui.vqa.evaluate_tab import EvaluateTab
from rnnstudio.worker.vqa_messages import LoadVQAModelRequest, VQAModelInfo


class VQAPanel(Panel):
    """Many to one: an LSTM reads the question, and one answer comes out."""

    entry = VQA
    asking = BookPage()
    evaluation = BookPage()
    shape_note = ("an LSTM reads the question word by word; after the last word its states (the last one, and "
                  "each unit's largest) are fused with the picture, and one answer comes out.")
    page_exports = (PageExport("Export the &questions and answers (HTML)…", "questions-and-answers.html",
                               "export_session"),)

    def __init__(self, worker, parent=None):
        super().__init__(worker, parent)
        self.model: VQAModelInfo | None = None
        self.snapshot = None  # a callable giving the captioning camera's picture on screen, or None
        self._saved: dict = {}  # the last session's picture source, until the Ask tab is made
        self.tabs = TabBook()  # each tab is made when first shown or used (ui/tab_book.py)
        self.tabs.add_page("asking", AskTab.title, self._make_asking)
        self.tabs.add_page("evaluation", EvaluateTab.title, lambda: EvaluateTab(self))
        self.outer.addWidget(self.tabs, 1)

    def _make_asking(self) -> AskTab:
        tab = AskTab(self)
        if self._saved:
            tab.apply_settings(self._saved)
        return tab

    def show_tab(self, tab: QWidget) -> None:
        self.tabs.setCurrentWidget(tab)

    def connect_panels(self, panels: dict) -> None:
        caption = panels.get(CAPTION.key)
        self.snapshot = caption.current_frame if caption is not None else None

    # --- the model ------------------------------------------------------------------------------

    def on_worker_ready(self, _device: str) -> None:
        self.open_model(None)
        if self.isVisible() and self.asking.image is None:
            self.asking.new_picture()

    def showEvent(self, event) -> None:
        # The first picture is chosen when the panel is first shown, not at start-up: nobody
        # may open this panel, and its question list and picture are read on the worker.
        super().showEvent(event)
        if self.asking.image is None and self.worker.device_name is not None:
            self.asking.new_picture()
        if self.tabs.current_name() == "asking":
            self.asking.question_box.setFocus()  # shown to ask: the question can be typed at once

    def open_model(self, path: str | None) -> None:
        self.worker.submit(LoadVQAModelRequest(path=path), slot="vqa.load",
                           on_result=self._on_model_loaded, on_error=self.on_worker_error)

    def _on_model_loaded(self, info: VQAModelInfo) -> None:
        self.model = info
        self.status_message.emit(f"question answering ready: {Path(info.path).name}")

    def evaluate(self) -> None:
        """Answer the whole easy-VQA test split, on its tab."""
        self.show_tab(self.evaluation)
        self.evaluation.evaluate()

    def export_session(self, path: str) -> None:
        """This session's questions, pictures and answers as one self-contained HTML page."""
        from rnnstudio.ui.export import vqa_session_html, write_page

        write_page(Path(path), "Questions and answers", vqa_session_html(self.asking.session))

    # --- settings, presenter mode, screenshot ---------------------------------------------------------

    def settings(self) -> dict:
        tab = "evaluate" if self.tabs.current_name() == "evaluation" else "ask"
        picture = self.asking.settings() if self.tabs.is_built("asking") else self._saved
        return {**picture, "tab": tab}

    def apply_settings(self, saved: dict) -> None:
        self._saved = {k: saved[k] for k in ("source", "picture") if k in saved}
        if self.tabs.is_built("asking"):
            self.asking.apply_settings(self._saved)
        self.tabs.setCurrentIndex(1 if saved.get("tab") == "evaluate" else 0)

    def set_presenter(self, on: bool) -> None:
        self.tabs.set_presenter(on)

    def prepare_screenshot(self, app, window) -> None:
        """A generated scene of three shapes, a relation question answered, where the model looked."""
        from rnnstudio.errors import UserError
        from rnnstudio.ui.screenshot import wait_for_worker, wait_until

        wait_for_worker(app, window)
        wait_until(app, lambda: self.model is not None or self.message.kind == "error", 60, "the VQA model")
        if self.model is None:
            raise UserError(f"the question-answering model could not be opened: {self.message.label.text()}")
        asking = self.asking
        asking.source_combo.setCurrentIndex(asking.source_combo.findData("generated-plain"))
        asking.show_generated(next(s for s in range(1000) if _three_shapes_and_a_left_right_question(s)))
        questions = list(asking.known_questions)
        question = next((q for q in questions if _left_or_right(q)), questions[0])
        answers = []
        asking.answered.connect(answers.append)
        asking.ask(question)
        wait_until(app, lambda: any(a.question == question for a in answers), 60, "an answer")
        asking.glimpse_check.setChecked(True)

    # --- lessons --------------------------------------------------------------------------------------

    def _ask_about_a_new_scene(self) -> None:
        self.show_tab(self.asking)
        self.asking.source_combo.setCurrentIndex(self.asking.source_combo.findData("generated-plain"))
        self.asking.new_picture(random=True)

    lessons = (
        Lesson("Ask a question about a scene", "visual-question-answering",
               "Ask in your own words; the bars are the model's probabilities for each answer.",
               lambda panel: panel._ask_about_a_new_scene()),
        Lesson("How good is the VQA model?", "visual-question-answering",
               "The whole easy-VQA test split, then the confusion matrix: click a cell to see its questions.",
               lambda panel: panel.evaluate()),
    )


def _three_shapes_and_a_left_right_question(seed: int) -> bool:
    import numpy as np

    from rnnstudio.data import shapes
    from rnnstudio.data.scene_questions import all_questions

    scene = shapes.random_scene(np.random.default_rng(seed))
    return len(scene.shapes) == 3 and any(_left_or_right(q.question) for q in all_questions(scene))


def _left_or_right(question: str) -> bool:
    return "left of" in question or "right of" in question
