"""Inner tabs made when first needed (rnnstudio/ui/tab_book.py): a panel the user never opens
costs nothing at start, and a tab made late behaves as one made at once."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from rnnstudio.ui.tab_book import BookPage, TabBook

LAZY_PANELS = ("vqa", "sentiment", "translate")


class Holder(QWidget):
    first = BookPage()
    second = BookPage()

    def __init__(self):
        super().__init__()
        self.made: list[str] = []
        self.tabs = TabBook(self)
        self.tabs.add_page("first", "First", lambda: self._make("first"))
        self.tabs.add_page("second", "Second", lambda: self._make("second"))

    def _make(self, name: str) -> QLabel:
        self.made.append(name)
        return QLabel(name)


def test_a_page_is_made_when_shown_or_used_and_only_once(qtbot):
    holder = Holder()
    qtbot.addWidget(holder)
    built: list = []
    holder.tabs.page_built.connect(built.append)
    assert holder.made == [] and holder.tabs.count() == 2 and holder.tabs.tabText(1) == "Second"
    holder.show()  # the current tab is shown: made now
    assert holder.made == ["first"] and holder.first.isVisible()
    assert holder.second.text() == "second"  # used: made now, though never shown
    assert holder.made == ["first", "second"] and [p.text() for p in built] == ["first", "second"]
    holder.tabs.setCurrentWidget(holder.second)  # by the page itself, as on a QTabWidget
    assert holder.tabs.currentIndex() == 1 and holder.tabs.currentWidget() is holder.second
    assert holder.second.isVisible() and holder.made == ["first", "second"]
    assert holder.tabs.page_name(holder.second) == "second" and holder.tabs.built_pages() == [holder.first, holder.second]


def test_the_lazy_panels_make_no_tab_until_it_is_needed(window, qtbot):
    window.show_panel("charrnn")
    for key in LAZY_PANELS:
        panel = window.panels[key]
        # the worker's "ready" makes the tabs that receive the shipped models; none here
        assert panel.tabs.built_pages() == [], key
    window.set_presenter(True)
    window.show_panel("sentiment")
    sentiment = window.panels["sentiment"]
    assert sentiment.tabs.built_pages() == [sentiment.reading]  # the tab on show, no other
    loss_pen = lambda: next(iter(sentiment.training.loss_curves.values())).opts["pen"].widthF()  # noqa: E731
    assert loss_pen() == 5  # made after presenter mode was set: it still gets its thick lines
    window.set_presenter(False)
    assert loss_pen() == 2.5


def test_settings_round_trip_without_making_the_tabs(window):
    translate, sentiment, vqa = window.panels["translate"], window.panels["sentiment"], window.panels["vqa"]
    translate.apply_settings({"width": 7, "length_penalty": 0.4, "tab": 0})
    sentiment.apply_settings({"text": "not bad at all", "tab": "examples"})
    vqa.apply_settings({"source": "generated-camera", "picture": 12, "tab": "evaluate"})
    assert translate.settings() == {"width": 7, "length_penalty": 0.4, "tab": 0}
    assert sentiment.settings() == {"text": "not bad at all", "tab": "examples"}
    assert vqa.settings() == {"source": "generated-camera", "picture": 12, "tab": "evaluate"}
    assert translate.tabs.built_pages() == sentiment.tabs.built_pages() == vqa.tabs.built_pages() == []
    assert vqa.asking.source_combo.currentData() == "generated-camera" and vqa.asking.index_spin.value() == 12
    assert translate.translating.width_spin.value() == 7  # made later, with the saved values
    assert translate.translating.penalty_spin.value() == 0.4
    assert sentiment.reading.text_box.text() == "not bad at all"
