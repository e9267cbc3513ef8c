"""Driven by tests/e2e/test_app_under_x.py in its own process, on the platform it chose:
the real main window with the shipped models, each panel used as a person would."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication, QMenu

from rnnstudio.ui.app import build_window

ARTIFACTS = Path(os.environ.get("RNNSTUDIO_E2E_ARTIFACTS", "test-artifacts"))


@pytest.fixture
def window(qtbot):
    win = build_window(device="cpu", torch_threads=1)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    with qtbot.waitSignal(win.worker.ready, timeout=120_000):
        win.worker.start()
    yield win
    win.close()
    assert not win.worker.running


def grab(window, qtbot, name: str) -> None:
    """What the screen shows (on X, the X server's own pixels), kept as an artefact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    qtbot.wait(200)
    picture = window.screen().grabWindow(window.winId())
    if picture.isNull() or picture.toImage().pixelColor(10, 10).alpha() == 0:
        picture = window.grab()  # offscreen: the window's own rendering
    assert picture.save(str(ARTIFACTS / f"{name}.png"))


def test_drive_every_panel(window, qtbot, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "platform.txt").write_text(QApplication.platformName() + "\n", encoding="utf-8")

    # Char-RNN: train a small model on a text file, then sample from it while it is the training model.
    charrnn = window.panels["charrnn"]
    window.show_panel("charrnn")
    text = tmp_path / "verse.txt"
    text.write_text("the cat sat on the mat.\nthe dog sat on the log.\n" * 80, encoding="utf-8")
    charrnn.set_corpus_file(str(text))
    charrnn.training.hidden_spin.setValue(32)
    charrnn.training.steps_spin.setValue(60)
    charrnn.training.sample_at_edit.setText("20, 60")
    charrnn.start_training()
    qtbot.waitUntil(lambda: charrnn._training_state == "finished" and len(charrnn.timeline.cards) == 2, timeout=120_000)
    samples = []
    charrnn.sample_finished.connect(samples.append)
    charrnn.sampler.length_spin.setValue(120)
    charrnn.sample()
    qtbot.waitUntil(lambda: bool(samples), timeout=60_000)
    assert len(samples[0].text) == 120 and charrnn.sampler.view.toPlainText()
    grab(window, qtbot, "charrnn")

    # LSTM internals: read a text through the shipped model.
    gates = window.panels["gates"]
    window.show_panel("gates")
    got = []
    gates.gates_ready.connect(got.append)
    gates.compute()
    qtbot.waitUntil(lambda: bool(got), timeout=60_000)
    assert gates.maps.heatmaps.plot_names()
    grab(window, qtbot, "gates")
    gates.show_tab(gates.memory)  # the forget gate and the gradient it lets through
    gates.follow_longest_memory()
    assert gates.memory.view.isVisible() and gates.memory.view.reach is not None
    grab(window, qtbot, "forget-gate")

    # Captioning: a generated video file through OpenCV, captioned live.
    from rnnstudio.data import shapes
    from rnnstudio.media.sources import write_video

    rng = np.random.default_rng(0)
    frames = [shapes.render(shapes.random_scene(rng), size=160, camera=True, rng=rng) for _ in range(32)]
    clip = tmp_path / "cards.avi"
    write_video(clip, frames, fps=15)
    caption = window.panels["caption"]
    window.show_panel("caption")
    qtbot.waitUntil(lambda: caption.model is not None, timeout=60_000)
    captions = []
    caption.caption_ready.connect(captions.append)
    caption.sources.use_video_file(str(clip))
    caption.start_source()
    qtbot.waitUntil(lambda: len(captions) >= 3, timeout=60_000)
    assert all(c.words for c in captions)
    grab(window, qtbot, "caption")
    caption.stop_source()

    # The shapes of sequences, from the Lessons menu's first part; its button leads to the question answering panel.
    lessons = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Lessons")
    first_part = lessons.actions()[0].menu()
    next(a for a in first_part.actions() if a.text().startswith("One to many")).trigger()
    dialog = window.shapes_dialog
    qtbot.waitExposed(dialog)
    grab(dialog, qtbot, "sequence-shapes")
    next(c for c in dialog.cards if c.shape.key == "many-to-one").buttons["vqa"].click()
    assert window.current_panel_name() == "vqa" and not dialog.isVisible()

    # Question answering: a generated scene, one of its own questions.
    vqa = window.panels["vqa"]
    qtbot.waitUntil(lambda: vqa.model is not None, timeout=60_000)
    vqa.asking.source_combo.setCurrentIndex(vqa.asking.source_combo.findData("generated-plain"))
    question = next(iter(vqa.asking.known_questions))
    with qtbot.waitSignal(vqa.asking.answered, timeout=60_000) as answered:
        vqa.asking.ask(question)
    assert answered.args[0].answers
    grab(window, qtbot, "vqa")
