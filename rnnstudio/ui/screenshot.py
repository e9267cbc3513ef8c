"""`rnnstudio screenshot`: render each panel offscreen after it has done real work."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rnnstudio.errors import UserError


def wait_until(app, predicate, timeout_s: float, what: str) -> None:
    """Run the event loop until `predicate()` holds; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def _charrnn_work(app, window) -> None:
    """Train a small model for a few hundred iterations, then sample the shipped model."""
    panel = window.panels["charrnn"]
    _wait_for_shipped_model(app, window)
    panel.steps_spin.setValue(400)
    panel.sample_at_edit.setText("50, 150, 400")
    panel.start_training()
    wait_until(app, lambda: panel._training_state == "finished", 300, "training to finish")
    panel.source_combo.setCurrentIndex(0)
    panel.prime_edit.setText("ROMEO:")
    panel.random_seed_check.setChecked(False)
    panel.seed_spin.setValue(7)
    panel.length_spin.setValue(500)
    done = []
    panel.sample_finished.connect(done.append)
    panel.sample()
    wait_until(app, lambda: bool(done), 120, "a sample")
    panel._redraw()


def _wait_for_shipped_model(app, window) -> None:
    charrnn = window.panels["charrnn"]
    wait_until(app, lambda: window.worker.device_name is not None, 120, "PyTorch to load")
    wait_until(app, lambda: "shipped" in charrnn._models or charrnn.message.kind == "error", 60, "the shipped model")
    if charrnn.message.kind == "error":
        raise UserError(f"the shipped char-RNN model could not be opened: {charrnn.message.label.text()}")


def _gates_work(app, window) -> None:
    """Read the default text through the shipped model; follow its most saturated unit."""
    _wait_for_shipped_model(app, window)
    panel = window.panels["gates"]
    got = []
    panel.gates_ready.connect(got.append)
    panel.compute()
    wait_until(app, lambda: bool(got), 120, "the gates")
    panel.set_step(len(got[0].text) // 2)
    left, right = got[0].saturation[0]["f"]
    panel.set_unit(int((right - left).argmax()))


def _caption_work(app, window) -> None:
    """Caption the generated camera-look stream; show the attention of the first colour word."""
    panel = window.panels["caption"]
    wait_until(app, lambda: window.worker.device_name is not None, 120, "PyTorch to load")
    wait_until(app, lambda: panel.model is not None or panel.message.kind == "error", 60, "the captioner")
    if panel.message.kind == "error":
        raise UserError(f"the captioner could not be opened: {panel.message.label.text()}")
    captions = []
    panel.caption_ready.connect(captions.append)
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("generated-camera"))
    panel.start_source()
    started = time.monotonic()
    # Two seconds of video, so the frame rate shown beside it is a measurement, not a guess.
    wait_until(app, lambda: len(captions) >= 5 and time.monotonic() - started > 2.0, 120, "captions")
    panel._update_stats()
    panel.set_frozen(True)
    words = panel.result.words
    colours = {"red", "green", "blue", "black", "gray", "teal", "brown", "yellow"}
    panel.show_attention(next((k for k, w in enumerate(words) if w in colours), 0))


def _vqa_work(app, window) -> None:
    """A generated scene of three shapes, a relation question answered, where the model looked."""
    panel = window.panels["vqa"]
    wait_until(app, lambda: window.worker.device_name is not None, 120, "PyTorch to load")
    wait_until(app, lambda: panel.model is not None or panel.message.kind == "error", 60, "the VQA model")
    if panel.model is None:
        raise UserError(f"the question-answering model could not be opened: {panel.message.label.text()}")
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("generated-plain"))
    seed = next(s for s in range(1000) if _three_shapes_and_a_left_right_question(s))
    panel.show_generated(seed)
    questions = list(panel.known_questions)
    question = next((q for q in questions if _left_or_right(q)), questions[0])
    answers = []
    panel.answered.connect(answers.append)
    panel.ask(question)
    wait_until(app, lambda: any(a.question == question for a in answers), 60, "an answer")
    panel.glimpse_check.setChecked(True)


def _three_shapes_and_a_left_right_question(seed: int) -> bool:
    import numpy as np

    from rnnstudio.data import shapes
    from rnnstudio.data.scene_questions import all_questions

    scene = shapes.random_scene(np.random.default_rng(seed))
    return len(scene.shapes) == 3 and any(_left_or_right(q.question) for q in all_questions(scene))


def _left_or_right(question: str) -> bool:
    return "left of" in question or "right of" in question


PANEL_WORK = {"charrnn": _charrnn_work, "gates": _gates_work, "caption": _caption_work, "vqa": _vqa_work}


def take_screenshots(out_dir: str, panels: list[str], size: tuple[int, int], presenter: bool = False) -> list[Path]:
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
            PANEL_WORK[name](app, window)
            app.processEvents()
            path = out / f"{name}.png"
            if not window.grab().save(str(path)):
                raise UserError(f"could not write {path}; check that the folder is writable")
            written.append(path)
    finally:
        window.close()
        window.worker.shutdown()
    return written
