"""The Qt binding itself: PySide6 6.12.0 on Python 3.11 over-released None and True on every
call, and the app aborted with "Fatal Python error: none_dealloc" after a minute of training.
pyproject.toml keeps that release out; this catches any binding with the same fault."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget


class _Emitter(QObject):
    fired = Signal()


def test_qt_calls_keep_the_references_of_none_and_true(qtbot):
    widget, emitter = QWidget(), _Emitter()
    qtbot.addWidget(widget)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(1000):
        widget.update()  # a method that returns nothing
        emitter.fired.emit()
    assert none_before - sys.getrefcount(None) < 100
    assert true_before - sys.getrefcount(True) < 100
