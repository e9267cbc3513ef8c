"""The real app under a real X server: Xvfb is started here, and a second pytest process
drives every panel of the real window through pytest-qt on Qt's xcb platform (tests/e2e/
drive_app.py), grabbing the screen after each panel as test artefacts.

Where no Xvfb is installed (`.ci/run` installs it), the same drive runs on Qt's offscreen
platform, so the check still runs; the test says which platform it used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PANELS = ("charrnn", "gates", "caption", "vqa")


@pytest.fixture
def x_display():
    """A fresh Xvfb on a free display number (Xvfb picks it: -displayfd), or None."""
    if shutil.which("Xvfb") is None:
        yield None
        return
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        assert number.isdigit(), "Xvfb did not report its display number"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_every_panel_works_in_the_real_app_on_a_display(x_display, tmp_path):
    artifacts = Path(os.environ.get("RNNSTUDIO_E2E_ARTIFACTS", tmp_path / "artifacts"))
    env = {
        **os.environ,
        "RNNSTUDIO_TEST_QPA": "xcb" if x_display else "offscreen",
        "RNNSTUDIO_E2E_ARTIFACTS": str(artifacts),
        "RNNSTUDIO_SETTINGS": str(tmp_path / "settings.json"),
    }
    if x_display:
        env["DISPLAY"] = x_display
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(HERE / "drive_app.py"), "-q", "-p", "no:cacheprovider", "-x"],
        cwd=HERE.parents[1], env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    platform = (artifacts / "platform.txt").read_text(encoding="utf-8").strip()
    assert platform == ("xcb" if x_display else "offscreen")
    for panel in PANELS:
        shot = artifacts / f"{panel}.png"
        assert shot.is_file() and shot.stat().st_size > 10_000, f"no screenshot of the {panel} panel"
    for picture in ("sequence-shapes", "forget-gate"):  # the overview (a window of its own), a gates sub-tab
        shot = artifacts / f"{picture}.png"
        assert shot.is_file() and shot.stat().st_size > 10_000, f"no screenshot {picture}.png"
