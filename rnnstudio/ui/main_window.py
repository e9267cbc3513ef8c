"""The main window: one tab per panel, menus, and a status bar with the device and the work."""

from __future__ import annotations

import platform
import sys

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
)

from rnnstudio import __version__
from rnnstudio.paths import resources_dir
from rnnstudio.ui import theme
from rnnstudio.ui.caption_panel import CaptionPanel
from rnnstudio.ui.charrnn_panel import CharRNNPanel
from rnnstudio.ui.gates_panel import GatesPanel
from rnnstudio.ui.vqa_panel import VQAPanel


class MainWindow(QMainWindow):
    def __init__(self, worker, presenter: bool = False, parent=None):
        super().__init__(parent)
        self.worker = worker
        self.setWindowTitle("RNN Studio")
        icon = resources_dir() / "rnnstudio.svg"
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        self.resize(1280, 800)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        caption = CaptionPanel(worker)
        self.panels = {"charrnn": CharRNNPanel(worker), "gates": GatesPanel(worker), "caption": caption,
                       "vqa": VQAPanel(worker, snapshot=caption.current_frame)}
        self.panels["charrnn"].sample_finished.connect(
            lambda result: self.panels["gates"].set_latest_sample(result.prime + result.text)
        )
        for panel in self.panels.values():
            self.tabs.addTab(panel, panel.title)
            panel.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))

        self.device_label = QLabel("Device: loading PyTorch…")
        self.activity_label = QLabel("starting")
        self.statusBar().addPermanentWidget(self.activity_label)
        self.statusBar().addPermanentWidget(self.device_label)
        worker.ready.connect(self._on_worker_ready)
        worker.activity_changed.connect(self._on_worker_activity)
        worker.errored.connect(self._on_worker_errored)
        self._build_menus()
        self.presenter = False
        if presenter:
            self.set_presenter(True)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_text_action = _action(self, "Open &text…", QKeySequence.StandardKey.Open, self._open_text)
        self.open_model_action = _action(self, "Open &model…", "Ctrl+Shift+O", self._open_model)
        self.save_model_action = _action(self, "&Save model…", QKeySequence.StandardKey.Save, self._save_model)
        quit_action = _action(self, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        for a in (self.open_text_action, self.open_model_action, self.save_model_action):
            file_menu.addAction(a)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        view = self.menuBar().addMenu("&View")
        self.presenter_action = _action(self, "&Presenter mode", "F5", lambda: self.set_presenter(not self.presenter))
        self.presenter_action.setCheckable(True)
        self.presenter_action.setStatusTip("Large fonts and thick lines for a projector")
        view.addAction(self.presenter_action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(_action(self, "&About RNN Studio", None, self.show_about))

    # --- menus ------------------------------------------------------------------------------

    def _open_text(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a text to learn from", "", "Text files (*.txt *.md *.py);;All files (*)")
        if path:
            self.tabs.setCurrentWidget(self.panels["charrnn"])
            self.panels["charrnn"].set_corpus_file(path)

    def _open_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", "", "RNN Studio models (*.safetensors);;All files (*)")
        if path:
            self.panels["charrnn"].open_model(path)

    def _save_model(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the model", "charrnn.safetensors", "RNN Studio models (*.safetensors)")
        if path:
            if not path.endswith(".safetensors"):
                path += ".safetensors"
            self.panels["charrnn"].save_model(path)

    def about_text(self) -> str:
        device = self.worker.device_name or "still loading"
        torch_version = sys.modules["torch"].__version__ if "torch" in sys.modules else "not loaded yet"
        return (
            f"<h3>RNN Studio {__version__}</h3>"
            "<p>See recurrent neural networks work, live, on real models.</p>"
            f"<p>Python {platform.python_version()}<br>Qt {qVersion()} (PySide6 {pyside_version})<br>"
            f"PyTorch {torch_version}<br>Device: {device}</p>"
        )

    def show_about(self) -> None:
        QMessageBox.about(self, "About RNN Studio", self.about_text())

    def set_presenter(self, on: bool) -> None:
        self.presenter = on
        self.presenter_action.setChecked(on)
        theme.apply_presenter(QApplication.instance(), on)
        for panel in self.panels.values():
            panel.set_presenter(on)

    def show_panel(self, name: str) -> None:
        self.tabs.setCurrentWidget(self.panels[name])

    # --- worker ------------------------------------------------------------------------------

    def _on_worker_ready(self, device: str) -> None:
        self.device_label.setText(f"Device: {device}")

    def _on_worker_activity(self, text: str) -> None:
        self.activity_label.setText(text)

    def _on_worker_errored(self, response) -> None:
        self.statusBar().showMessage(response.payload.message, 10000)

    def closeEvent(self, event) -> None:
        self.activity_label.setText("stopping…")
        self.panels["caption"].shutdown()
        self.worker.shutdown(timeout=2.0)
        super().closeEvent(event)


def _action(parent, text, shortcut, slot) -> QAction:
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    return action
