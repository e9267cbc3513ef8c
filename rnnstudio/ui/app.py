"""Starting the desktop app: the window first, then PyTorch and the models in the background."""

from __future__ import annotations

import logging
import os
import sys


def make_application(argv=None):
    from PySide6.QtWidgets import QApplication

    # Qt's raster engine hands every fill of 96 or more spans (an axis with its grid, a scroll
    # bar, a scaled frame) to a pool of helper threads and waits for them. On two cores, with
    # the worker busy on one, the helpers wait for a core while the GUI thread waits for them:
    # a loss-plot repaint took 10 ms instead of 5 (measured). Read once, before the first fill.
    os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("RNN Studio")
    app.setOrganizationName("RNN Studio")
    app.setDesktopFileName("rnnstudio")
    from rnnstudio.ui.garbage import collect_garbage_on_gui_thread

    collect_garbage_on_gui_thread(app)  # never on the worker thread: see garbage.py
    return app


def build_window(device: str = "auto", presenter: bool = False, panel: str | None = None, torch_threads=None,
                 remember: bool = True):
    """The main window and its worker (not started yet). The caller shows the window.

    `remember`: restore the settings of the last run and save them on closing (off for
    screenshots and benchmarks, which must look the same on every machine)."""
    import pyqtgraph as pg

    from rnnstudio.ui.main_window import MainWindow
    from rnnstudio.worker.device_worker import DeviceWorker

    pg.setConfigOptions(antialias=True)
    worker = DeviceWorker(device=device, torch_threads=torch_threads)
    window = MainWindow(worker, presenter=presenter, remember=remember)
    if panel:
        window.show_panel(panel)
    return window


def fit_to_screen(window) -> None:
    """The default size where the screen has room for it, else most of the screen (a 1366 x 768
    laptop), and centred on the screen."""
    from PySide6.QtGui import QGuiApplication

    screen = window.screen() or QGuiApplication.primaryScreen()
    room = screen.availableGeometry()
    window.resize(min(window.width(), int(room.width() * 0.95)), min(window.height(), int(room.height() * 0.92)))
    frame = window.frameGeometry()
    frame.moveCenter(room.center())
    window.move(frame.topLeft())


def run_app(panel: str | None = None, presenter: bool = False, device: str = "auto") -> int:
    from rnnstudio.ui.garbage import freeze_what_is_loaded

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = make_application()
    window = build_window(device=device, presenter=presenter, panel=panel)
    if not window.geometry_restored:
        fit_to_screen(window)
    window.show()
    window.worker.ready.connect(lambda _device: freeze_what_is_loaded())
    # PyTorch is imported on the worker thread only once the window is up.
    window.worker.start()
    app.aboutToQuit.connect(lambda: window.worker.shutdown(timeout=2.0))
    return app.exec()
