"""Render the README's pictures of the Lessons menu, the sequence shapes' overview and the
forget-gate lesson (offscreen, no display); the panels' own pictures come from
`rnnstudio screenshot`.

    python docs/tools/readme_screenshots.py docs/screenshots
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint  # noqa: E402
from PySide6.QtGui import QPainter  # noqa: E402
from PySide6.QtWidgets import QMenu  # noqa: E402

from rnnstudio.ui.app import build_window, make_application  # noqa: E402
from rnnstudio.ui.lessons import SHAPES_OF_SEQUENCES  # noqa: E402
from rnnstudio.ui.registry import lesson_named  # noqa: E402


def lessons_menu(app, window, out: Path, part: int = 0) -> bool:
    """The Lessons menu open, with its `part`-th part (the lecture's outline) open beside it."""
    menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Lessons")
    menu.popup(window.mapToGlobal(window.menuBar().actionGeometry(menu.menuAction()).bottomLeft()))
    app.processEvents()
    part_action = menu.actions()[part]
    menu.setActiveAction(part_action)
    submenu = part_action.menu()
    submenu.popup(menu.mapToGlobal(menu.actionGeometry(part_action).topRight()))
    app.processEvents()
    picture = window.grab()
    painter = QPainter(picture)
    # Offscreen, a popup is its own window: draw each where it opened.
    for popup in (menu, submenu):
        painter.drawPixmap(window.mapFromGlobal(popup.pos()) + QPoint(0, 0), popup.grab())
    painter.end()
    submenu.close()
    menu.close()
    return picture.save(str(out))


def sequence_shapes(app, window, out: Path) -> bool:
    window.start_lesson(SHAPES_OF_SEQUENCES)
    dialog = window.shapes_dialog
    dialog.resize(1100, 620)
    app.processEvents()
    ok = dialog.grab().save(str(out))
    dialog.close()
    return ok


def forget_gate_lesson(app, window, out: Path) -> bool:
    """The lesson run for real on the shipped model (the worker started, the text read)."""
    from PySide6.QtTest import QSignalSpy

    window.worker.start()
    while window.worker.device_name is None:
        app.processEvents()
    gates = window.panels["gates"]
    read = QSignalSpy(gates.gates_ready)
    window.start_lesson(lesson_named("The forget gate carries the gradient back"))
    while read.count() == 0:
        read.wait(100)
    app.processEvents()
    return window.grab().save(str(out))


def main(folder: str) -> int:
    app = make_application()
    window = build_window(device="cpu", remember=False)
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    ok = lessons_menu(app, window, Path(folder) / "lessons.png")
    ok = sequence_shapes(app, window, Path(folder) / "sequence-shapes.png") and ok
    ok = forget_gate_lesson(app, window, Path(folder) / "forget-gate.png") and ok
    window.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
