"""The question-answering panel, through the real worker, on a tiny, really trained model."""

from __future__ import annotations

import os

import numpy as np
import pytest
from rnnstudio.media.sources import write_video


@pytest.fixture
def shipped_vqa(tmp_path, tiny_vqa_trainer):
    folder = tmp_path / "models"
    folder.mkdir(exist_ok=True)
    tiny_vqa_trainer(folder / "easyvqa.safetensors")
    return folder / "easyvqa.safetensors"


@pytest.fixture
def panel(shipped_vqa, window, qtbot):
    p = window.panels["vqa"]
    window.show_panel("vqa")
    qtbot.waitUntil(lambda: p.model is not None, timeout=30_000)
    return p


def ask(panel, qtbot, question):
    with qtbot.waitSignal(panel.asking.answered, timeout=30_000) as got:
        panel.asking.ask(question)
    return got.args[0]


def shown(panel, qtbot, key_start):
    """Wait for the picture a file was read into on the worker to be shown."""
    qtbot.waitUntil(lambda: panel.asking.image_key.startswith(key_start), timeout=30_000)


def test_the_first_picture_and_its_question_list_are_read_on_the_worker(window, qtbot):
    window.show_panel("vqa")  # first shown: an easy-VQA test picture is chosen
    asking = window.panels["vqa"].asking
    assert asking._easyvqa is None and asking.image is None  # asked of the worker, not read here
    qtbot.waitUntil(lambda: asking.image_key.startswith("easyvqa-test:"), timeout=30_000)
    assert asking.known_questions  # the picture's own questions, from the list


def test_an_easyvqa_picture_is_answered_with_a_bar_chart_and_word_states(panel, qtbot):
    panel.asking.source_combo.setCurrentIndex(panel.asking.source_combo.findData("easyvqa"))
    panel.asking.index_spin.setValue(7)
    shown(panel, qtbot, "easyvqa-test:7")
    assert panel.asking.image.shape == (64, 64, 3)
    question = panel.asking.suggestions.item(0).data(0x0100)  # the picture's own questions are suggested
    assert question in panel.asking.known_questions
    r = ask(panel, qtbot, question)
    assert [a for a, _ in r.answers] == [a for a, _ in r.all_answers[:5]]
    assert "true answer is" in panel.asking.answers.truth_label.text()
    assert panel.asking.answers.hidden_image.image.shape == (len(r.words), r.hidden.shape[1])
    assert panel.asking.answers.answer_plot.getAxis("left")._tickLevels[0][0][1] == r.answers[0][0]
    panel.asking.answers.all_check.setChecked(True)
    assert len(panel.asking.answers.answer_plot.getAxis("left")._tickLevels[0]) == len(r.all_answers)
    assert panel.asking.question_box.itemText(0) == question  # kept in the history
    # Many to one: a word in at each step, the best answer out after the last.
    steps = panel.asking.shape_diagram.steps()
    assert [s.x for s in steps] == r.words and [s.y for s in steps] == [None] * (len(r.words) - 1) + [r.answers[0][0]]


def test_features_are_reused_for_a_second_question_about_the_same_picture(panel, qtbot):
    panel.asking.source_combo.setCurrentIndex(panel.asking.source_combo.findData("generated-plain"))
    first = ask(panel, qtbot, "how many shapes are there?")
    second = ask(panel, qtbot, "is there a red circle?")
    assert not first.features_cached and second.features_cached
    assert "reused" in panel.asking.answers.timing_label.text()
    panel.asking.glimpse_check.setChecked(True)
    assert panel.asking.view._overlay is not None


def test_unknown_words_are_shown_not_dropped(panel, qtbot):
    r = ask(panel, qtbot, "what colour is the wobbly thing?")
    assert r.unknown_words == ["wobbly", "thing"]
    text = panel.asking.words_label.text()
    assert "wobbly" in text and "thing" in text and "does not know" in text


@pytest.mark.parametrize("question, fragment", [("", "empty"), ("blorp zonk", "knows none"), ("a " * 3000, "long")],
                         ids=["empty", "only-unknown", "too-long"])
def test_bad_questions_get_a_message_and_the_panel_goes_on(panel, qtbot, question, fragment):
    panel.asking.ask(question)
    qtbot.waitUntil(lambda: panel.message.kind == "error", timeout=30_000)
    assert fragment in panel.message.text()
    assert ask(panel, qtbot, "what shape is it?").answers  # the worker still serves


@pytest.mark.parametrize("kind", ["grey", "alpha", "huge"])
def test_odd_pictures_are_handled(panel, qtbot, tmp_path, kind):
    import cv2

    path = tmp_path / f"{kind}.png"
    if kind == "grey":
        cv2.imwrite(str(path), np.full((40, 60), 90, np.uint8))
    elif kind == "alpha":
        cv2.imwrite(str(path), np.dstack([np.zeros((50, 50, 3), np.uint8), np.full((50, 50), 128, np.uint8)]))
    else:
        cv2.imwrite(str(path), np.zeros((5000, 6000, 3), np.uint8))
    panel.asking.show_file(str(path))
    shown(panel, qtbot, "file:")
    assert panel.asking.image.ndim == 3 and panel.asking.image.shape[2] == 3 and max(panel.asking.image.shape) <= 4096
    assert ask(panel, qtbot, "what color is the shape?").answers


def test_a_file_that_is_not_a_picture_is_refused_inline(panel, qtbot, tmp_path, monkeypatch):
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    monkeypatch.setattr("rnnstudio.ui.vqa.ask_tab.QFileDialog.getOpenFileName", lambda *a, **k: (str(path), ""))
    panel.asking.source_combo.setCurrentIndex(panel.asking.source_combo.findData("file"))
    panel.asking.new_picture(random=True)
    qtbot.waitUntil(lambda: panel.message.kind == "error", timeout=30_000)
    assert "notes.png is not a picture" in panel.message.text()


def test_a_picture_file_is_read_on_the_worker_while_the_window_goes_on(panel, qtbot, tmp_path):
    import cv2

    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 65535, (1500, 2000, 3), dtype=np.uint16))
    before = panel.asking.image_key
    panel.asking.show_file(str(path))
    assert panel.asking.image_key == before, "show_file returned before the picture was read"
    with qtbot.waitSignal(panel.asking.answered, timeout=30_000) as got:
        panel.asking.ask("what color is the shape?")  # about the picture being read: asked once it is shown
        assert "still being read" in panel.message.text()
    assert panel.asking.image.shape == (1500, 2000, 3) and panel.asking.image_key.startswith(f"file:{path}:")
    assert got.args[0].image_key == panel.asking.image_key and got.args[0].question == "what color is the shape?"


def test_a_picture_chosen_while_another_is_read_wins(panel, qtbot, tmp_path):
    import cv2

    path = tmp_path / "big.png"
    cv2.imwrite(str(path), np.zeros((2000, 2000, 3), np.uint8))
    panel.asking.show_file(str(path))
    panel.asking.source_combo.setCurrentIndex(panel.asking.source_combo.findData("generated-plain"))  # shown at once
    generated = panel.asking.image_key
    assert generated.startswith("generated:")
    qtbot.wait(1500)  # time for the file to be read: its picture is dropped
    assert panel.asking.image_key == generated


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_named_pipe_as_a_picture_is_refused_inline(panel, qtbot, tmp_path):
    pipe = tmp_path / "camera.png"
    os.mkfifo(pipe)
    panel.asking.show_file(str(pipe))
    qtbot.waitUntil(lambda: panel.message.kind == "error", timeout=30_000)
    assert "camera.png is a named pipe, not a regular file" in panel.message.text()
    assert ask(panel, qtbot, "what shape is it?").answers  # the worker still serves


def test_a_snapshot_comes_from_the_captioning_camera(panel, window, qtbot, tmp_path, coloured_frames):
    panel.asking.source_combo.setCurrentIndex(panel.asking.source_combo.findData("snapshot"))
    panel.asking.new_picture(random=True)
    assert "captioning panel shows no camera picture" in panel.message.text()
    clip = tmp_path / "clip.avi"
    write_video(clip, coloured_frames(10, size=(90, 120)), fps=30)
    caption = window.panels["caption"]
    caption.sources.use_video_file(str(clip))
    caption.start_source()
    qtbot.waitUntil(lambda: caption.current_frame() is not None, timeout=30_000)
    panel.asking.new_picture(random=True)
    assert panel.asking.image_key.startswith("snapshot:") and panel.asking.image.shape == (90, 120, 3)
    assert ask(panel, qtbot, "what color is the shape?").answers
    caption.stop_source()


def test_evaluation_fills_the_confusion_matrix_and_shows_examples(panel, window, qtbot):
    from PySide6.QtWidgets import QApplication

    with qtbot.waitSignal(panel.evaluation.evaluated, timeout=120_000) as got:
        panel.evaluate()
    result = got.args[0]
    assert panel.evaluation.progress.value() == panel.evaluation.progress.maximum() == 1000
    assert "Accuracy" in panel.evaluation.summary.text() and "colour" in panel.evaluation.summary.text()
    n = panel.evaluation.confusion.rowCount()
    assert n == panel.evaluation.confusion.columnCount() > 1
    total = sum(int(panel.evaluation.confusion.item(r, c).text() or 0) for r in range(n) for c in range(n))
    assert total == result.metrics["questions"]
    r, c = next((r, c) for r in range(n) for c in range(n) if panel.evaluation.confusion.item(r, c).text())
    panel.evaluation.show_examples(r, c)
    assert panel.evaluation.examples.count() == min(60, int(panel.evaluation.confusion.item(r, c).text()))
    assert panel.evaluation.examples.item(0).icon().isNull()  # the questions at once; the pictures are read on the worker
    qtbot.waitUntil(lambda: not panel.evaluation.examples.item(0).icon().isNull(), timeout=60_000)
    assert not panel.evaluation.examples.item(panel.evaluation.examples.count() - 1).icon().isNull()
    assert panel.evaluation.eval_button.isEnabled()
    window.presenter_screen_height = 800  # a 1280 x 800 projector
    window.set_presenter(True)  # the long summary and examples lines wrap: still fits a projector
    try:
        QApplication.processEvents()
        assert window.minimumSizeHint().width() <= 1280
    finally:
        window.set_presenter(False)


def test_missing_model_is_reported_inline(window, qtbot):
    p = window.panels["vqa"]
    window.show_panel("vqa")
    qtbot.waitUntil(lambda: p.message.kind == "error", timeout=30_000)
    assert "easyvqa.safetensors" in p.message.text()


def test_answer_and_word_labels_fit_their_rows_at_any_height(panel, window, qtbot):
    """Presenter mode's large labels on a short plot would overlap: each label's height follows
    its row's height on screen, up to the largest size."""
    from PySide6.QtWidgets import QApplication

    from rnnstudio.ui.vqa.answers import PRESENTER_ROW_LABEL_PX

    r = ask(panel, qtbot, "what shape is in the image?")
    axis = panel.asking.answers.hidden_plot.getAxis("left")

    def label_and_row_height():
        QApplication.processEvents()
        rows_height = panel.asking.answers.hidden_plot.getViewBox().size().height()
        return axis.style["tickFont"].pixelSize(), rows_height / len(r.words)

    window.presenter_screen_height = 1080  # the sizes presenter mode is designed at
    window.set_presenter(True)
    try:
        for height in (120, 900):
            panel.asking.answers.hidden_plot.setFixedHeight(height)
            label, row = label_and_row_height()
            assert label <= max(7, 0.8 * row) and label <= PRESENTER_ROW_LABEL_PX
        assert label == PRESENTER_ROW_LABEL_PX  # tall enough: the full presenter size
    finally:
        window.set_presenter(False)


def test_before_the_first_answer_the_plots_say_what_will_appear(window, qtbot):
    """No meaningless axis numbers on empty plots; shown to ask, the question box has the focus."""
    import pyqtgraph as pg

    p = window.panels["vqa"]
    window.show_panel("vqa")

    def notes(plot):
        return [item.toPlainText() for item in plot.getPlotItem().items if isinstance(item, pg.TextItem)]

    assert "answers appear here" in " ".join(notes(p.asking.answers.answer_plot))
    assert "word by word" in " ".join(notes(p.asking.answers.hidden_plot))
    assert p.asking.answers.answer_plot.getAxis("left")._tickLevels == [[]]
    assert window.focusWidget() in (p.asking.question_box, p.asking.question_box.lineEdit())


def test_the_empty_plot_notes_go_when_an_answer_comes(panel, qtbot):
    ask(panel, qtbot, "what shape is in the image?")
    for plot in (panel.asking.answers.answer_plot, panel.asking.answers.hidden_plot):
        assert not any("appear here" in t.toPlainText() or "word by word" in t.toPlainText()
                       for t in plot.getPlotItem().items if hasattr(t, "toPlainText"))
        assert plot.getAxis("bottom")._tickLevels is None  # numbers on the axis again
