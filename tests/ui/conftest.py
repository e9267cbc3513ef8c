"""The real main window with a real worker on the CPU, and no shipped model to be found."""

from __future__ import annotations

import pytest

from rnnstudio.ui.app import build_window


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    # No shipped model: the panel must say so inline and still train.
    monkeypatch.setenv("RNNSTUDIO_MODELS", str(tmp_path / "models"))  # empty unless a test puts a model there
    monkeypatch.setattr("rnnstudio.paths._CHECKOUT_ROOT", tmp_path)
    monkeypatch.setattr("sys.prefix", str(tmp_path))
    monkeypatch.setattr("sys.base_prefix", str(tmp_path))
    monkeypatch.setenv("RNNSTUDIO_SETTINGS", str(tmp_path / "settings.json"))  # never the user's own
    win = build_window(device="cpu", torch_threads=1)
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.worker.ready, timeout=60_000):
        win.worker.start()
    yield win
    win.close()
    assert not win.worker.running
