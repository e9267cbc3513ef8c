"""`rnnstudio screenshot`: render each panel offscreen after it has done real work.

Each panel declares the work it is shown doing (Panel.prepare_screenshot)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rnnstudio.errors import UserError


def wait_for_worker(app, window) -> None:
    """Until PyTorch is loaded on the worker (the panels then open their shipped models)."""
    wait_until(app, lambda: window.worker.device_name is not None, 120, "PyTorch to load")


def wait_until(app, predicate, timeout_s: float, what: str) -> None:
    """Run the event loop until `predicate()` holds; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def take_screenshots(out_dir: str, panels: list[str], size: tuple[int, int], presenter: bool = False) -> list[Path]:
    """Each panel of `panels` (keys of rnnstudio.panels) as `<key>.png` in `out_dir`, after its work."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from rnnstudio.ui.app import build_window, make_application

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create the folder {out}: {e.strerror or e}") from None
    app = make_application()
    window = build_window(remember=False)
    window.resize(*size)
    if presenter:  # sized for a screen as tall as the picture, not for the offscreen platform's
        window.presenter_screen_height = size[1]
        window.set_presenter(True)
    window.show()
    window.worker.start()
    written = []
    try:
        for name in panels:
            window.show_panel(name)
            window.panels[name].prepare_screenshot(app, window)
            app.processEvents()
            path = out / f"{name}.png"
            if not window.grab().save(str(path)):
                raise UserError(f"could not write {path}; check that the folder is writable")
            written.append(path)
    finally:
        window.close()
        window.worker.shutdown()
    return written
