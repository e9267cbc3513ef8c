"""Python's garbage collector runs on the GUI thread only (rnnstudio/ui/garbage.py): a Qt object
in a reference cycle is finalised there, never on the thread that happened to allocate."""

from __future__ import annotations

import gc
import threading
from typing import ClassVar

from PySide6.QtCore import QObject

from rnnstudio.ui.app import make_application


class Probe(QObject):
    finalised_in: ClassVar[list[str]] = []

    def __del__(self):
        Probe.finalised_in.append(threading.current_thread().name)


def test_a_qt_object_in_a_cycle_is_finalised_on_the_gui_thread(qtbot):
    make_application()
    assert not gc.isenabled()
    Probe.finalised_in.clear()
    probe = Probe()
    probe.itself = probe  # unreachable once dropped, but only the cycle collector frees it
    del probe

    def allocate_cycles():  # enough to set the automatic collector off many times over
        for _ in range(50_000):
            cycle = []
            cycle.append(cycle)

    worker = threading.Thread(target=allocate_cycles, name="allocating-worker")
    worker.start()
    worker.join()
    assert Probe.finalised_in == []
    qtbot.waitUntil(lambda: len(Probe.finalised_in) > 0, timeout=5000)
    assert Probe.finalised_in == [threading.main_thread().name]
