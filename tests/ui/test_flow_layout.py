"""FlowLayout: a row of widgets that wraps onto new lines instead of widening the window."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QPushButton, QVBoxLayout, QWidget

from rnnstudio.ui.widgets import FlowLayout


def test_items_wrap_and_the_parent_makes_room_for_the_lines(qtbot):
    outer = QWidget()
    qtbot.addWidget(outer)
    column = QVBoxLayout(outer)
    holder = QWidget()
    flow = FlowLayout(holder)
    buttons = [QPushButton(f"button number {k}") for k in range(8)]
    for button in buttons:
        flow.addWidget(button)
    column.addWidget(holder)
    column.addWidget(QPushButton("below"))
    one_line = flow.sizeHint()

    outer.resize(one_line.width() + 40, 400)
    outer.show()
    QApplication.processEvents()
    assert len({b.y() for b in buttons}) == 1  # wide enough: one line, in order
    assert [b.x() for b in buttons] == sorted(b.x() for b in buttons)

    outer.resize(one_line.width() // 3, 400)
    for _ in range(3):  # the relayout the flow asks for arrives as an event
        QApplication.processEvents()
    lines = len({b.y() for b in buttons})
    assert lines >= 3
    assert all(b.geometry().right() <= holder.width() for b in buttons)
    assert holder.height() >= flow.heightForWidth(holder.width()) > one_line.height() * 2
    assert flow.minimumSize().height() == flow.heightForWidth(holder.width())  # what boxes and splitters read
    assert flow.minimumSize().width() <= max(b.sizeHint().width() for b in buttons) + 20
    place_of_3 = buttons[3].pos()
    buttons[3].hide()  # a hidden widget takes no place: the next one moves up into it (same width)
    QApplication.processEvents()
    assert buttons[4].pos() == place_of_3
