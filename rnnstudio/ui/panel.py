"""What every panel shares: its registry entry and title, a status line signal, the inline
message line on top, the handler for the worker's errors, and the hooks the main window calls
(settings, presenter mode, exports, the other panels, the worker being ready, closing), and
`open_in`, the way to take something to another panel.

A panel keeps only what is its own. The class declares, beside its widgets:

- `entry`: its line in rnnstudio.panels (key, title, shape of sequence, shipped model);
- `shape_note`: one sentence on how it works in that shape, for the shapes' overview;
- `lessons`: its Lessons menu entries (rnnstudio.ui.lessons.Lesson), each named by its idea;
- `page_exports`: the web pages File → Export writes from it (PageExport);
- `prepare_screenshot`: the real work `rnnstudio screenshot` shows it doing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from rnnstudio.panels import PanelEntry
from rnnstudio.ui.widgets import InlineMessage


@dataclass(frozen=True)
class PageExport:
    """A self-contained web page File → Export writes from a panel, for a handout."""

    menu_text: str  # the File menu's entry, with its & mnemonic
    default_name: str  # the file name the save dialog suggests
    method: str  # the name of the panel's method that writes it: method(path)


class Panel(QWidget):
    """One tab of the main window."""

    entry: ClassVar[PanelEntry]
    title: ClassVar[str]  # the entry's title, set for each subclass
    shape_note: ClassVar[str] = ""  # how it works in its shape of sequence, for the shapes' overview
    lessons: ClassVar[tuple] = ()
    page_exports: ClassVar[tuple[PageExport, ...]] = ()

    status_message = Signal(str)  # a line for the window's status bar
    # Take something to another panel: (its entry's key, what it opens). The main window shows
    # that panel and calls its open_from(payload): no panel holds another to do it.
    open_in = Signal(str, object)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "entry" in cls.__dict__:
            cls.title = cls.entry.title

    def __init__(self, worker, parent=None):
        super().__init__(parent)
        self.worker = worker
        self.outer = QVBoxLayout(self)  # the subclass adds its widgets under the message line
        self.outer.setContentsMargins(8, 8, 8, 8)
        self.message = InlineMessage()  # errors (with a way out), and what a lesson says to watch
        self.outer.addWidget(self.message)

    @property
    def key(self) -> str:
        return self.entry.key

    # --- messages -----------------------------------------------------------------------------

    def show_error(self, text: str) -> None:
        """A problem, inline and never in a modal box, and on the status line."""
        self.message.show_message(text, "error")
        self.status_message.emit(text)

    def show_info(self, text: str) -> None:
        self.message.show_message(text, "info")

    def on_worker_error(self, error) -> None:
        """A request's error (a worker ErrorInfo): its message says what to do."""
        self.show_error(error.message)

    # --- hooks the main window calls ---------------------------------------------------------------

    def on_worker_ready(self, device: str) -> None:
        """PyTorch is loaded on the worker: open the shipped model, enable the buttons."""

    def open_from(self, payload) -> None:
        """Open what another panel sent with its open_in signal (a plain-data payload of this
        panel's own kind). A panel that opens nothing from others refuses."""
        raise NotImplementedError(f"{type(self).__name__} opens nothing from other panels")

    def connect_panels(self, panels: dict[str, Panel]) -> None:
        """Wire this panel to the others it takes something from (by their entries' keys)."""

    def settings(self) -> dict:
        """The choices kept between runs, as plain JSON values."""
        return {}

    def apply_settings(self, saved: dict) -> None:
        """Restore `settings()` of an earlier run; anything odd in it is ignored."""

    def set_presenter(self, on: bool) -> None:
        """Presenter mode on or off; what follows the application's font needs nothing here."""

    def shutdown(self) -> None:
        """The window is closing: stop this panel's own threads (the worker is stopped after)."""

    def prepare_screenshot(self, app, window) -> None:
        """Do the real work `rnnstudio screenshot` shows this panel doing, and wait for it
        (rnnstudio.ui.screenshot.wait_until); raise UserError where it cannot."""
        raise NotImplementedError(f"{type(self).__name__} declares no screenshot preparation")
