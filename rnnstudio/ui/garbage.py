"""Python's cyclic garbage collector, run on the GUI thread only.

Left automatic, the collector runs in whichever thread happens to allocate when a
generation fills up: often the device worker, which allocates all the time. A collection
there finalises every unreachable cycle, Qt objects included (a closed window, plot items
a panel replaced, a slot's lambda that holds its widget), so Qt objects of the GUI thread
get deleted on the worker thread, which Qt does not allow. (The likely cause of a rare hang
of the test suite, the worker stopped at a random line while the GUI waited; no native stack
of it was caught, so that is not proven.)

So while the app runs the automatic collector is off, and a timer on the GUI thread
collects what the automatic one would have collected, by the same per-generation
thresholds. (pyqtgraph's GarbageCollector does the same for the same reason.)
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_INTERVAL_MS = 250  # short enough that cycles made while training never pile up

_collector: GuiThreadCollector | None = None


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = CHECK_INTERVAL_MS):
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start()

    def collect_due(self) -> int:
        """Collect the oldest generation whose count has passed its threshold (and the
        younger ones with it), as the automatic collector does; the number of objects found."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        due = [g for g in range(3) if thresholds[g] and counts[g] > thresholds[g]]
        return gc.collect(max(due)) if due else 0

    def stop(self) -> None:
        """Stop the timer and give collecting back to Python, as it was before."""
        self._timer.stop()
        if self._was_enabled:
            gc.enable()


def collect_garbage_on_gui_thread(app: QObject) -> GuiThreadCollector:
    """Switch the automatic collector off for the lifetime of `app` (the QApplication) and
    collect on its thread instead; call on the GUI thread. Once per process."""
    global _collector
    if _collector is None:
        _collector = GuiThreadCollector(app)
    return _collector


def freeze_what_is_loaded() -> None:
    """Move every object alive now (PyTorch, Qt, the models: some 400,000) out of the
    collector's sight for good: a full collection then scans only what came later, in well
    under a millisecond instead of 100-200 ms on the GUI thread. For the app once its
    worker is ready; the few cycles among these objects that may die later stay in memory."""
    gc.collect()
    gc.freeze()


def stop_collecting_on_gui_thread() -> None:
    global _collector
    if _collector is not None:
        _collector.stop()
        _collector = None
