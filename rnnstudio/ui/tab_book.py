"""Inner tabs built the first time they are needed, so that a panel with many plots costs
nothing at start.

A panel's inner tabs are made when first shown or first used (its attribute read), not when
the window opens: the sentiment and translation panels' 17 pyqtgraph plots took about 130 ms
of the first paint before, for tabs most sessions never open (docs/PERFORMANCE.md).

    class MyPanel(Panel):
        reading = BookPage()                  # the page, built on first use

        def __init__(self, worker):
            ...
            self.tabs = TabBook()
            self.tabs.add_page("reading", ReadTab.title, lambda: ReadTab(self))

`tabs.currentWidget()` and `tabs.setCurrentWidget(page)` speak of the pages themselves, as on a
QTabWidget holding them directly. `tabs.set_presenter(on)` passes presenter mode to every page
that has a `set_presenter`, those made later included.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget


class _Holder(QWidget):
    """What the tab bar holds: an empty frame until its page is built, then the page inside it."""

    def __init__(self, build: Callable[[], QWidget]):
        super().__init__()
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self._build = build
        self.page: QWidget | None = None

    def ensure_page(self) -> QWidget:
        if self.page is None:
            self.page = self._build()
            self.layout_.addWidget(self.page)
            self.page.show()  # added to a frame that may already be visible
        return self.page

    def showEvent(self, event) -> None:
        self.ensure_page()
        super().showEvent(event)


class TabBook(QTabWidget):
    page_built = Signal(QWidget)  # a page was just made

    def __init__(self, parent=None):
        super().__init__(parent)
        self._holders: dict[str, _Holder] = {}
        self.presenter = False

    def add_page(self, name: str, title: str, build: Callable[[], QWidget]) -> None:
        holder = _Holder(lambda: self._made(build()))
        self._holders[name] = holder
        self.addTab(holder, title)

    def _made(self, page: QWidget) -> QWidget:
        if self.presenter and hasattr(page, "set_presenter"):
            page.set_presenter(True)
        self.page_built.emit(page)
        return page

    def set_presenter(self, on: bool) -> None:
        self.presenter = on
        for page in self.built_pages():
            if hasattr(page, "set_presenter"):
                page.set_presenter(on)

    def page(self, name: str) -> QWidget:
        return self._holders[name].ensure_page()

    def is_built(self, name: str) -> bool:
        return self._holders[name].page is not None

    def built_pages(self) -> list[QWidget]:
        return [h.page for h in self._holders.values() if h.page is not None]

    def current_name(self) -> str | None:
        """The shown tab's name, without making its page."""
        shown = super().currentWidget()
        return next((name for name, h in self._holders.items() if h is shown), None)

    def page_name(self, page: QWidget) -> str | None:
        return next((name for name, h in self._holders.items() if h.page is page), None)

    def currentWidget(self) -> QWidget | None:  # noqa: N802 (Qt's name)
        holder = super().currentWidget()
        return holder.ensure_page() if isinstance(holder, _Holder) else holder

    def setCurrentWidget(self, page: QWidget) -> None:  # noqa: N802 (Qt's name)
        holder = next((h for h in self._holders.values() if h.page is page or h is page), page)
        super().setCurrentWidget(holder)


class BookPage:
    """A panel attribute that is a page of its `tabs` (a TabBook), built on first use."""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, panel, owner=None):
        return self if panel is None else panel.tabs.page(self.name)
