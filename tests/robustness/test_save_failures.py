"""A model saved where it cannot go: through the worker and from the app's File -> Save model,
a clear message (never "internal error"), the model kept in memory, and the next save works."""

from __future__ import annotations

import os

import pytest

from rnnstudio.worker.charrnn_messages import SHIPPED, LoadCharRNNRequest, SaveCharRNNRequest

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, where no file can be made")
UNWRITABLE = "/proc/m.safetensors"  # a folder where no file can be created, even by root


def test_a_save_where_no_file_can_be_created_is_a_user_error_and_the_next_save_works(client, tiny_model_file, tmp_path):
    client.run(LoadCharRNNRequest(path=str(tiny_model_file)))
    error = client.run(SaveCharRNNRequest(path=UNWRITABLE, role=SHIPPED), "errored")
    assert error.user_error and "internal error" not in error.message
    assert f"could not save {UNWRITABLE}" in error.message and "choose another" in error.message
    again = tmp_path / "saved.safetensors"
    assert client.run(SaveCharRNNRequest(path=str(again), role=SHIPPED)) == str(again)
    assert again.stat().st_size > 0


def test_file_save_model_that_fails_says_why_inline_and_the_user_can_choose_again(window, qtbot, tiny_model_file,
                                                                                tmp_path, monkeypatch):
    panel = window.panels["charrnn"]
    panel.open_model(str(tiny_model_file))
    qtbot.waitUntil(lambda: "tiny-lstm" in panel.sampler.source_combo.itemText(0), timeout=10_000)
    chosen = [UNWRITABLE, str(tmp_path / "second-try")]
    monkeypatch.setattr("rnnstudio.ui.main_window.QFileDialog.getSaveFileName", lambda *a, **k: (chosen.pop(0), ""))

    window.save_model_action.trigger()
    qtbot.waitUntil(lambda: UNWRITABLE in panel.message.text(), timeout=10_000)
    shown = panel.message.text()
    assert panel.message.kind == "error"
    assert f"could not save {UNWRITABLE}" in shown and "choose another" in shown and "internal error" not in shown

    window.save_model_action.trigger()  # File -> Save model again, to another place
    qtbot.waitUntil(lambda: panel.message.kind == "info", timeout=10_000)
    assert "Saved" in panel.message.text() and (tmp_path / "second-try.safetensors").exists()
