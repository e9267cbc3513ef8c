"""Render the main window with its Lessons menu open, for the README (offscreen, no display).

    python docs/tools/lessons_menu_screenshot.py docs/screenshots/lessons.png
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint  # noqa: E402
from PySide6.QtGui import QPainter  # noqa: E402
from PySide6.QtWidgets import QMenu  # noqa: E402

from rnnstudio.ui.app import build_window, make_application  # noqa: E402


def main(out: str) -> int:
    app = make_application()
    window = build_window(device="cpu", remember=False)
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Lessons")
    menu.popup(window.mapToGlobal(window.menuBar().actionGeometry(menu.menuAction()).bottomLeft()))
    app.processEvents()
    picture = window.grab()
    painter = QPainter(picture)
    # Offscreen, a popup is its own window: draw it where it opened.
    painter.drawPixmap(window.mapFromGlobal(menu.pos()) + QPoint(0, 0), menu.grab())
    painter.end()
    menu.close()
    ok = picture.save(out)
    window.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "lessons.png"))
