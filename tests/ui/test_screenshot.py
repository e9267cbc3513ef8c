"""`rnnstudio screenshot`, for real, with the shipped models: the command that makes the README's
pictures (it once waited for a gradient plot that is now drawn only when its tab is shown)."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import run_cli
from PySide6.QtGui import QImage


@pytest.mark.parametrize("panel", ["gates", "vqa"])
def test_screenshot_of_a_panel_with_the_shipped_models(tmp_path, panel):
    proc = run_cli("screenshot", "--panel", panel, "--out", tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(tmp_path / f"{panel}.png"))
    assert (image.width(), image.height()) == (1280, 800)  # the default size
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)  # kept: its pixels are read below
    pixels = np.frombuffer(rgb.constBits(), np.uint8, count=rgb.sizeInBytes()).copy()
    assert len(np.unique(pixels.reshape(-1, 3)[::97], axis=0)) > 50  # a drawn panel, not a blank window


def test_a_presenter_screenshot_at_a_projectors_size(tmp_path):
    """The README's presenter picture: presenter mode sized for the picture's own height."""
    proc = run_cli("screenshot", "--panel", "gates", "--presenter", "--size", "1280x800", "--out", tmp_path,
                   timeout=240)
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(tmp_path / "gates.png"))
    assert (image.width(), image.height()) == (1280, 800)  # presenter type fits a 1280 x 800 projector
