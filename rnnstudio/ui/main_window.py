"""The main window: one tab per panel, menus, and a status bar with the device and the work."""

from __future__ import annotations

import html
import logging
import platform
import sys
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QByteArray, QSize, QUrl, qVersion
from PySide6.QtGui import QAction, QDesktopServices, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
)

from rnnstudio import __version__
from rnnstudio.panels import CHARRNN
from rnnstudio.paths import resources_dir
from rnnstudio.ui import theme
from rnnstudio.ui.registry import lesson_outline, panel_classes
from rnnstudio.ui.sequence_shapes import SequenceShapesDialog, panel_shape, shape_icon
from rnnstudio.ui.settings import load_settings, save_settings
from rnnstudio.ui.widgets import TEXT_FILES, panel_shortcuts, when_worker_ready


# Said once, in the first panel, the first time RNN Studio opens (no settings saved yet).
WELCOME = ("<b>Welcome to RNN Studio.</b> Each tab is one way of using a recurrent network, its icon the shape "
           "of its sequences. The <b>Lessons</b> menu sets up each idea of the lecture in one click; <b>F5</b> "
           "switches to large type for a projector; <b>F1</b> lists the keyboard shortcuts.")
TAB_ICON_SIZE = QSize(28, 20)
MODEL_FILES = "RNN Studio models (*.safetensors)"
PRESENTER_TAB_ICON_GROWTH = 1.5  # presenter mode's tab icons, against normal ones, on a 1080-pixel screen


class MainWindow(QMainWindow):
    def __init__(self, worker, presenter: bool = False, remember: bool = True, parent=None):
        super().__init__(parent)
        self.worker = worker
        self.remember = remember
        self.settings_problem: str | None = None
        self.setWindowTitle("RNN Studio")
        icon = resources_dir() / "rnnstudio.svg"
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        self.resize(1280, 800)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self.panels = {key: cls(worker) for key, cls in panel_classes().items()}  # rnnstudio/panels.py
        self.tabs.setIconSize(TAB_ICON_SIZE)
        for panel in self.panels.values():
            panel.connect_panels(self.panels)
            shape = panel_shape(panel.entry)  # the tabs are organised by the shapes of sequences
            index = self.tabs.addTab(panel, shape_icon(shape, TAB_ICON_SIZE), panel.title)
            self.tabs.setTabToolTip(index, f"{shape.name}: {shape.used_for}")
            panel.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
            panel.open_in.connect(self.open_in)
            when_worker_ready(worker, panel.on_worker_ready)

        self.device_label = QLabel("Device: loading PyTorch…")
        self.activity_label = QLabel("starting")
        self.statusBar().addPermanentWidget(self.activity_label)
        separator = QFrame()
        separator.setFrameShape(QFrame.Shape.VLine)  # keeps "idle" and "Device: ..." apart
        self.statusBar().addPermanentWidget(separator)
        self.statusBar().addPermanentWidget(self.device_label)
        worker.ready.connect(self._on_worker_ready)
        worker.activity_changed.connect(self._on_worker_activity)
        worker.unhandled_error.connect(self._on_worker_errored)  # errors of requests submitted without on_error
        self.shapes_dialog: SequenceShapesDialog | None = None
        self._build_menus()
        self.presenter = False
        self.presenter_screen_height = None  # what presenter mode sizes its type for; None: this screen's
        self._apply_saved_settings(presenter)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_text_action = _action(self, "Open &text…", QKeySequence.StandardKey.Open, self._open_text)
        self.open_model_action = _action(self, "Open &model…", "Ctrl+Shift+O", self._open_model)
        self.save_model_action = _action(self, "&Save model…", QKeySequence.StandardKey.Save, self._save_model)
        quit_action = _action(self, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        for a in (self.open_text_action, self.open_model_action, self.save_model_action):
            file_menu.addAction(a)
        file_menu.addSeparator()
        self.export_plots_action = _action(self, "&Export this panel's plots (PNG and SVG)…", "Ctrl+E",
                                           self._export_plots)
        file_menu.addAction(self.export_plots_action)
        for panel in self.panels.values():  # the web pages each panel writes for handouts
            for page in panel.page_exports:
                file_menu.addAction(_action(self, page.menu_text, None,
                                            lambda _checked=False, p=panel, e=page: self._export_page(p, e)))
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        view = self.menuBar().addMenu("&View")
        self.presenter_action = _action(self, "&Presenter mode", "F5", lambda: self.set_presenter(not self.presenter))
        self.presenter_action.setCheckable(True)
        self.presenter_action.setStatusTip("Large fonts and thick lines for a projector")
        view.addAction(self.presenter_action)
        for k, name in enumerate(self.panels):
            view.addAction(_action(self, f"Show {self.panels[name].title}", f"Ctrl+{k + 1}",
                                   lambda _checked=False, n=name: self.show_panel(n)))
        lessons = self.menuBar().addMenu("&Lessons")  # the lecture's outline, part by part
        for number, (part, part_lessons) in enumerate(lesson_outline(), start=1):
            submenu = lessons.addMenu(f"Part &{number}: {part.title}")  # as docs/LECTURE-MAP.md names them
            for lesson in part_lessons:
                action = _action(self, lesson.title, None, lambda _checked=False, ls=lesson: self.start_lesson(ls))
                action.setStatusTip(lesson.says)
                submenu.addAction(action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(_action(self, "&Keyboard shortcuts", "F1", self.show_shortcuts))
        for paper in ("A4", "Letter"):  # the cards the captioning lesson holds up to the camera
            help_menu.addAction(_action(self, f"Printable shape &cards ({paper} PDF)", None,
                                        lambda _checked=False, p=paper: self.open_cards(p)))
        help_menu.addAction(_action(self, "&About RNN Studio", None, self.show_about))

    # --- menus ------------------------------------------------------------------------------

    def _open_text(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a text to learn from", "", TEXT_FILES)
        if path:
            self.show_panel(CHARRNN.key)
            self.panels[CHARRNN.key].set_corpus_file(path)

    def _open_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", "", f"{MODEL_FILES};;All files (*)")
        if path:
            self.panels[CHARRNN.key].open_model(path)

    def _save_model(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the model", "charrnn.safetensors", MODEL_FILES)
        if path:
            if not path.endswith(".safetensors"):
                path += ".safetensors"
            self.panels[CHARRNN.key].save_model(path)

    def _export_plots(self) -> None:
        name = self.current_panel_name()
        folder = QFileDialog.getExistingDirectory(self, "Export the plots to a folder")
        if folder:
            self.export_panel_plots(name, folder)

    def export_panel_plots(self, name: str, folder: str) -> list:
        from rnnstudio.ui.export import export_plots

        try:
            written = export_plots(self.panels[name], Path(folder), name)
        except OSError as e:
            self.statusBar().showMessage(f"the plots could not be written to {folder}: {e.strerror or e}", 10000)
            return []
        what = f"{len(written) // 2} plot(s) as PNG and SVG" if written else "nothing: this panel shows no plot now"
        self.statusBar().showMessage(f"exported {what} to {folder}", 8000)
        return written

    def _export_page(self, panel, page) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export as a web page", page.default_name, "Web pages (*.html)")
        if not path:
            return
        try:
            getattr(panel, page.method)(path)
            self.statusBar().showMessage(f"wrote {path}", 8000)
        except OSError as e:
            panel.show_error(f"{path} could not be written: {e.strerror or e}")

    def current_panel_name(self) -> str:
        current = self.tabs.currentWidget()
        return next(name for name, panel in self.panels.items() if panel is current)

    def start_lesson(self, lesson) -> None:
        if lesson.panel is None:  # the window's own: the overview of the shapes
            lesson.apply(self)
        else:
            self.show_panel(lesson.panel)
            lesson.apply(self.panels[lesson.panel])
        self.statusBar().showMessage(f"{lesson.title}: {lesson.says}", 15000)
        # What to watch stays in the panel until dismissed: the status line is soon overwritten
        # by the work the lesson starts. A problem the lesson ran into keeps its place.
        message = self.tabs.currentWidget().message
        if message.kind not in ("error", "warning"):
            stop = "" if lesson.title.endswith(("?", "!", ".")) else "."  # not "model?."
            message.show_message(f"<b>Lesson: {html.escape(lesson.title)}{stop}</b> {html.escape(lesson.says)}", "info")

    def shortcuts_text(self) -> str:
        """Every shortcut: the menus' anywhere, then each panel's (they work while it is shown)."""

        def row(keys: str, what: str) -> str:
            return f"<tr><td><b>{html.escape(keys)}</b>&nbsp;&nbsp;</td><td>{html.escape(what)}</td></tr>"

        rows = ["<tr><td colspan=2><i>Anywhere</i></td></tr>"]
        for menu in self.menuBar().findChildren(QMenu):
            for action in menu.actions():
                keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                if keys:
                    rows.append(row(keys, action.text().replace("&", "")))
        for panel in self.panels.values():
            rows.append(f"<tr><td colspan=2><br><i>In {html.escape(panel.title)}</i></td></tr>")
            rows.extend(row(keys, what) for keys, what in panel_shortcuts(panel))
        return "<table>" + "".join(rows) + "</table>"

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", self.shortcuts_text())

    # --- settings ------------------------------------------------------------------------------

    def _apply_saved_settings(self, presenter: bool) -> None:
        saved, problem = load_settings() if self.remember else ({}, None)
        geometry = saved.get("geometry")
        self.geometry_restored = False  # run_app fits a first run's window to the screen
        if isinstance(geometry, str):
            try:
                self.geometry_restored = self.restoreGeometry(QByteArray.fromBase64(geometry.encode("ascii")))
            except (UnicodeEncodeError, ValueError):
                pass
        panels = saved.get("panels") if isinstance(saved.get("panels"), dict) else {}
        for name, panel in self.panels.items():
            if isinstance(panels.get(name), dict):
                panel.apply_settings(panels[name])
        if saved.get("panel") in self.panels:
            self.show_panel(saved["panel"])
        if presenter or saved.get("presenter") is True:
            self.set_presenter(True)
        self.settings_problem = problem
        if problem:
            self.statusBar().showMessage(problem, 20000)
        self.first_run = self.remember and not saved and problem is None  # no settings saved yet
        if self.first_run:
            self.tabs.currentWidget().message.show_message(WELCOME, "info")

    def current_settings(self) -> dict:
        return {
            "geometry": bytes(self.saveGeometry().toBase64()).decode("ascii"),
            "panel": self.current_panel_name(),
            "presenter": self.presenter,
            "panels": {name: panel.settings() for name, panel in self.panels.items()},
        }

    def about_text(self) -> str:
        device = self.worker.device_name or "still loading"
        torch_version = sys.modules["torch"].__version__ if "torch" in sys.modules else "not loaded yet"
        return (
            f"<h3>RNN Studio {__version__}</h3>"
            "<p>See recurrent neural networks work, live, on real models.</p>"
            f"<p>Python {platform.python_version()}<br>Qt {qVersion()} (PySide6 {pyside_version})<br>"
            f"PyTorch {torch_version}<br>Device: {device}</p>"
        )

    def cards_pdf(self, paper: str) -> Path:
        return resources_dir() / f"shape-cards-{paper.lower()}.pdf"

    def open_cards(self, paper: str) -> None:
        """The printable shape cards, in the desktop's PDF viewer."""
        path = self.cards_pdf(paper)
        if not path.is_file() or not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.statusBar().showMessage(f"Could not open {path}; open it with a PDF viewer to print the cards.", 15000)

    def show_sequence_shapes(self) -> None:
        """The overview of the five shapes, beside the window (not modal)."""
        if self.shapes_dialog is None:
            self.shapes_dialog = SequenceShapesDialog(self.panels, self)
            self.shapes_dialog.show_panel.connect(self.show_panel)
            # As large as its drawings ask for, within the screen: a projector's is often small.
            room = self.screen().availableGeometry().size() * 0.9
            self.shapes_dialog.resize(self.shapes_dialog.sizeHint().boundedTo(room))
        self.shapes_dialog.show()
        self.shapes_dialog.raise_()
        self.shapes_dialog.activateWindow()

    def show_about(self) -> None:
        QMessageBox.about(self, "About RNN Studio", self.about_text())

    def set_presenter(self, on: bool) -> None:
        self.presenter = on
        self.presenter_action.setChecked(on)
        height = self.presenter_screen_height or self.screen().geometry().height()
        theme.apply_presenter(QApplication.instance(), on, screen_height=height)
        for panel in self.panels.values():
            panel.set_presenter(on)
        theme.apply_presenter_to(self, on)
        # The tabs' shape icons grow with their titles.
        growth = theme.presenter_size(PRESENTER_TAB_ICON_GROWTH * 100) / 100 if on else 1
        self.tabs.setIconSize(TAB_ICON_SIZE * growth)

    def show_panel(self, name: str) -> None:
        self.tabs.setCurrentWidget(self.panels[name])

    def open_in(self, name: str, payload) -> None:
        """A panel's open_in: show panel `name` and have it open `payload`."""
        if name not in self.panels:
            self.statusBar().showMessage(f"there is no panel {name!r} to open this in", 10000)
            return
        self.show_panel(name)
        self.panels[name].open_from(payload)

    # --- worker ------------------------------------------------------------------------------

    def _on_worker_ready(self, device: str) -> None:
        self.device_label.setText(f"Device: {device}")

    def _on_worker_activity(self, text: str) -> None:
        self.activity_label.setText(text)

    def _on_worker_errored(self, response) -> None:
        self.statusBar().showMessage(response.payload.message, 10000)

    def closeEvent(self, event) -> None:
        self.activity_label.setText("stopping…")
        if self.remember:
            problem = save_settings(self.current_settings())
            if problem:
                logging.getLogger(__name__).warning(problem)
        for panel in self.panels.values():
            panel.shutdown()
        self.worker.shutdown(timeout=2.0)
        super().closeEvent(event)


def _action(parent, text, shortcut, slot) -> QAction:
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    return action
