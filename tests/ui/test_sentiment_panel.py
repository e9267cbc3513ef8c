"""The sentiment panel, through the real worker, on tiny, really trained models."""

from __future__ import annotations

import numpy as np
import pytest
from sentiment_files import write_tiny_models
from sentiment_helpers import toy_data

WAIT_MS = 60_000


@pytest.fixture
def shipped_sentiment(tmp_path, monkeypatch):
    """Tiny models where the window looks for the shipped ones; the toy sentences as the rated
    sentences (the window's checkout is tmp_path: training and examples read these)."""
    monkeypatch.setattr("rnnstudio.data.sentiment.load_sentiment_data", lambda *a, **k: toy_data())
    return write_tiny_models(tmp_path / "models")


@pytest.fixture
def panel(shipped_sentiment, window, qtbot):
    p = window.panels["sentiment"]
    window.show_panel("sentiment")
    qtbot.waitUntil(lambda: p.models is not None, timeout=WAIT_MS)
    return p


def read(panel, qtbot, text):
    panel.reading.text_box.setText(text)
    qtbot.waitUntil(lambda: panel.reading.result is not None and panel.reading.result.text == text, timeout=WAIT_MS)
    return panel.reading.result


def test_typing_draws_a_curve_per_model_and_colours_the_words(panel, qtbot, shipped_sentiment):
    assert {m.path for m in panel.models.models} == {str(p) for p in shipped_sentiment.values()}
    for prefix in ("the", "the plot", "the plot was", "the plot was not"):  # typed: the newest text wins
        panel.reading.text_box.setText(prefix)
    r = read(panel, qtbot, "the plot was not dull")
    assert set(r.readings) == {"rnn", "lstm", "vader"} and r.words == ["the", "plot", "was", "not", "dull"]
    x, y = panel.reading.curve_items["lstm"].getData()
    assert list(x) == [0, 1, 2, 3, 4] and np.allclose(y, r.readings["lstm"].p_positive)
    assert panel.reading.curves.getAxis("bottom")._tickLevels[0][4] == (4, "dull")
    assert "change when it is read" in panel.reading.measure_label.text()
    panel.reading.measure.setCurrentIndex(panel.reading.measure.findData("salience"))
    assert "integrated gradients" in panel.reading.measure_label.text()
    assert panel.reading.words._colors is not None and len(panel.reading.words._colors) == len(r.text)
    px, py = panel.reading.path.getData()
    assert len(px) == 5 and np.allclose(px, r.readings["lstm"].path_2d[:, 0])
    assert "sentiment unit" in panel.reading.unit_label.text()
    panel.reading.checks["vader"].setChecked(False)
    qtbot.waitUntil(lambda: "vader" not in panel.reading.result.readings, timeout=WAIT_MS)
    assert "vader" not in panel.reading.curve_items


@pytest.mark.parametrize("text, fragment", [
    ("zork blorp", "knows none"), ("\x01\x02\x03 ", "no words"), ("Привет мир", "knows none"),
    ("good " * 10_000, "at most"),
], ids=["unknown", "control", "cyrillic", "10000-words"])
def test_bad_text_is_an_inline_message_and_the_next_one_is_read(panel, qtbot, text, fragment):
    panel.reading.text_box.setText(text)
    qtbot.waitUntil(lambda: panel.message.kind == "error", timeout=WAIT_MS)
    assert fragment in panel.message.label.text()
    read(panel, qtbot, "the film was good 😀")
    assert "😀" in panel.reading.timing.text() and not panel.message.isVisible()


def test_minimal_pairs_and_gradient_reach(panel, qtbot):
    read(panel, qtbot, "the film was not good")
    panel.pairs.edit("move")
    qtbot.waitUntil(lambda: panel.pairs.pair is not None, timeout=WAIT_MS)
    assert panel.pairs.pair.ks == [0, 1, 2, 3] and "k=3" in panel.pairs.texts.text()
    panel.pairs.measure_reach()
    qtbot.waitUntil(lambda: panel.pairs.reach is not None, timeout=WAIT_MS)
    assert set(panel.pairs.reach.reach) == {"rnn", "lstm"}
    panel.pairs.edit("but")  # no "but" in the text: a message, not a crash
    qtbot.waitUntil(lambda: panel.message.kind == "error", timeout=WAIT_MS)
    assert "but" in panel.message.label.text()


def test_training_draws_both_curves_and_the_probe_then_reads_with_the_new_model(panel, qtbot):
    t = panel.training
    t.steps.setValue(30)
    t.hidden.setValue(8)
    t.probe.setText("not bad at all")
    t.start()
    qtbot.waitUntil(lambda: t.state == "finished", timeout=120_000)
    assert len(t.evaluations) >= 2 and t.probes[-1].words == ["not", "bad", "at", "all"]
    x, y = t.accuracy_curves["valid_accuracy"].getData()
    assert len(x) == len(t.evaluations) and all(0 <= v <= 1 for v in y)
    assert panel.reading.checks["training"].isVisible()
    panel.reading.checks["training"].setChecked(True)
    r = read(panel, qtbot, "not bad at all")
    assert "training" in r.readings
    # The trained model's cloud and sentiment unit, fitted on the worker once the run ended.
    reading = panel.reading
    qtbot.waitUntil(lambda: reading.open_models["training"].cloud is not None, timeout=WAIT_MS)
    info = reading.open_models["training"]
    assert info.cloud.shape[1] == 2 and 0 <= info.sentiment_unit["index"] < 8
    reading.colour_model.setCurrentIndex(reading.colour_model.findData("training"))

    def cloud_drawn() -> int:
        return sum(len(item.getData()[0]) for item in reading.cloud_items if item.getData()[0] is not None)

    qtbot.waitUntil(lambda: cloud_drawn() == len(info.cloud), timeout=WAIT_MS)
    assert all(len(item.getData()[0]) for item in reading.cloud_items)  # both labels
    assert len(reading.path.getData()[0]) == 4  # the typed sentence's path through it
    assert f"unit {info.sentiment_unit['index']} of the model trained on the Train tab" in reading.unit_label.text()


def test_examples_open_on_the_read_tab(panel, qtbot):
    panel.show_tab(panel.examples)
    panel.examples.source.setCurrentIndex(panel.examples.source.findData("tweets"))  # the toy test split's sources
    panel.examples.find()
    qtbot.waitUntil(lambda: panel.examples.table.rowCount() > 0 or panel.message.kind == "error", timeout=WAIT_MS)
    assert panel.examples.table.rowCount() > 0, panel.message.label.text()
    text = panel.examples.table.item(0, 3).text()
    panel.examples.chosen.emit(text)
    assert panel.tabs.currentWidget() is panel.reading
    read(panel, qtbot, text)


def test_lessons_and_presenter_mode(panel, qtbot):
    for lesson in type(panel).lessons:
        lesson.apply(panel)
    qtbot.waitUntil(lambda: panel.pairs.reach is not None, timeout=WAIT_MS)
    panel.set_presenter(True)
    assert panel.reading.path.opts["pen"].width() == 4
    panel.set_presenter(False)


def test_pause_resume_and_stop_reach_the_training_job(panel, qtbot):
    t = panel.training
    t.steps.setValue(20_000)
    t.hidden.setValue(8)
    t.start()
    qtbot.waitUntil(lambda: t.state == "running", timeout=WAIT_MS)
    t.pause_button.click()
    qtbot.waitUntil(lambda: t.state == "paused", timeout=WAIT_MS)
    assert t.pause_button.text() == "Resume"
    t.pause_button.click()
    qtbot.waitUntil(lambda: t.state == "running", timeout=WAIT_MS)
    t.stop_button.click()
    qtbot.waitUntil(lambda: t.state == "stopped", timeout=WAIT_MS)
    assert t.train_button.isEnabled() and not t.stop_button.isEnabled()


def test_the_screenshot_shows_a_typed_sentence_with_its_curves(panel, qtbot, window, qapp):
    from rnnstudio.ui.sentiment.panel import LECTURE_SENTENCES

    panel.prepare_screenshot(qapp, window)
    assert panel.reading.result.text == LECTURE_SENTENCES[2]
    assert set(panel.reading.curve_items) == {"rnn", "lstm", "vader"}
    image = panel.grab().toImage()
    assert image.width() > 0 and not image.isNull()


def test_the_gates_lesson_opens_the_sentence_in_the_lab(panel, qtbot, window):
    from rnnstudio.ui.registry import lesson_named
    from rnnstudio.ui.sentiment.panel import GATES_SENTENCE

    lesson = lesson_named("The LSTM's gates at “not” and “but”")
    lab = window.panels["gates"]
    with qtbot.waitSignal(lab.gates_ready, timeout=WAIT_MS) as ready:
        window.start_lesson(lesson)
    assert window.current_panel_name() == "gates" and ready.args[0].text == GATES_SENTENCE
    assert ready.args[0].step_labels()[:4] == ["the", "movie", "was", "not"] and lab.cursor.step == 3
    assert "Lesson" in lab.message.label.text()
