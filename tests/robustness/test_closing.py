"""Closing the real app in the middle of work: close() returns and no thread is left within 2 s."""

from __future__ import annotations

import threading
import time

from worker_helpers import Recorder

from rnnstudio.worker.vqa_messages import VQAEvalProgress

CLOSE_LIMIT_S = 2.0
THREADS = ("rnnstudio-device-worker", "rnnstudio-capture")
WAIT_MS = 30_000


def close_and_time(window) -> float:
    """Seconds from window.close() until the worker and capture threads have ended."""
    t0 = time.monotonic()
    window.close()
    returned = time.monotonic() - t0
    while any(t.name in THREADS for t in threading.enumerate()) and time.monotonic() - t0 < 3 * CLOSE_LIMIT_S:
        time.sleep(0.01)
    gone = time.monotonic() - t0
    left = [t.name for t in threading.enumerate() if t.name in THREADS]
    assert left == [], f"threads still running {gone:.1f} s after closing: {left}"
    assert not window.worker.running
    assert returned <= gone
    return gone


def test_closing_during_training(window, qtbot, tiny_text_file):
    panel = window.panels["charrnn"]
    panel.set_corpus_file(str(tiny_text_file))
    panel.training.layers_spin.setValue(1)
    panel.training.hidden_spin.setValue(16)
    panel.training.seq_spin.setValue(16)
    panel.training.batch_spin.setValue(8)
    panel.training.steps_spin.setValue(100_000)
    panel.training.sample_at_edit.setText("")
    panel.start_training()
    qtbot.waitUntil(lambda: panel._training_state == "running" and len(panel.loss_plot.iterations) > 5, timeout=WAIT_MS)
    assert close_and_time(window) < CLOSE_LIMIT_S


def test_closing_during_live_captioning_of_a_generated_stream(shipped_models, window, qtbot):
    panel = window.panels["caption"]
    window.show_panel("caption")
    qtbot.waitUntil(lambda: panel.model is not None, timeout=WAIT_MS)
    results = []
    panel.caption_ready.connect(results.append)
    panel.sources.choose("generated-camera")
    panel.start_source()
    qtbot.waitUntil(lambda: len(results) >= 3, timeout=WAIT_MS)  # frames flowing, captions coming
    assert any(t.name == "rnnstudio-capture" for t in threading.enumerate())
    assert close_and_time(window) < CLOSE_LIMIT_S


def test_closing_during_a_vqa_evaluation(shipped_models, window, qtbot, monkeypatch):
    import rnnstudio.train.vqa as train_vqa

    real = train_vqa.predict_answers

    def as_slow_as_the_shipped_model(*args, **kwargs):
        time.sleep(0.8)  # one step of 100 pictures took 0.9 s on a busy CPU at the shipped size
        return real(*args, **kwargs)

    monkeypatch.setattr(train_vqa, "predict_answers", as_slow_as_the_shipped_model)
    panel = window.panels["vqa"]
    window.show_panel("vqa")
    qtbot.waitUntil(lambda: panel.model is not None, timeout=WAIT_MS)
    recorder = Recorder(window.worker)
    panel.evaluate()

    def progress():
        return [r.payload for _, r in recorder.events if isinstance(r.payload, VQAEvalProgress)]

    # Pictures are being answered: the evaluation is past loading, in the middle of a step.
    qtbot.waitUntil(lambda: any(p.pictures_done > 0 for p in progress()), timeout=WAIT_MS)
    qtbot.wait(300)
    assert progress()[-1].pictures_done < progress()[-1].pictures
    assert close_and_time(window) < CLOSE_LIMIT_S
