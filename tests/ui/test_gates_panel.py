"""The LSTM internals lab, driven through the real worker on a tiny trained model."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pyqtgraph as pg
import pytest

from rnnstudio.ui.drawing import visible_char

READ = "the cat sat on the mat.\nthe dog sat on the log.\n"


def read_through_tiny_model(window, qtbot, model_file):
    """Open the tiny model, show the gates panel and read READ through it; the panel."""
    window.panels["charrnn"].open_model(str(model_file))
    sampler = window.panels["charrnn"].sampler
    qtbot.waitUntil(lambda: model_file.stem in sampler.source_combo.itemText(0), timeout=10_000)
    panel = window.panels["gates"]
    window.show_panel("gates")
    panel.text_edit.setPlainText(READ)
    with qtbot.waitSignal(panel.gates_ready, timeout=30_000):
        panel.compute()
    return panel


@pytest.fixture
def lab(window, qtbot, tiny_model_file):
    """The gates panel with the tiny model opened and READ read through it."""
    return read_through_tiny_model(window, qtbot, tiny_model_file)


def test_heatmaps_show_every_gate_and_state(lab):
    r = lab.cursor.result
    assert r.arch == "lstm" and r.text == READ
    assert lab.maps.heatmaps.plot_names() == ["i", "f", "g", "o", "c", "h"]
    for name, values in r.layers[0].items():
        assert values.shape == (len(READ), 16)
        image = lab.maps.heatmaps._plots[name][1].image
        assert image.shape == (16, len(READ))  # units are rows, steps columns
        np.testing.assert_array_equal(image, values.T)
    assert lab.unit_spin.maximum() == 15
    # Each colour bar names its ends and middle only: more numbers overlap on a short strip.
    bars = [item for item in lab.maps.heatmaps.scene().items() if isinstance(item, pg.ColorBarItem)]
    ticks = sorted(tuple(label for _v, label in bar.getAxis("right")._tickLevels[0]) for bar in bars)
    assert ticks == [("-1", "0", "1")] * 3 + [("0", "0.5", "1")] * 3


def test_picking_a_unit_colours_text_and_fills_the_equations(lab):
    lab.maps.heatmaps.picked.emit(10, 7)  # a click on step 10, unit 7
    assert (lab.cursor.step, lab.cursor.unit) == (10, 7)
    h = lab.cursor.result.layers[0]["h"][10, 7]
    text = lab.step_through.equations.toPlainText()
    assert "c_t = f_t * c_{t-1} + i_t * g_t" in text
    assert f"= {h:+.4f}" in text.splitlines()[-1]
    assert lab.unit_text.strip._colors is not None and len(lab.unit_text.strip._colors) == len(READ)
    tooltip = lab.unit_text.tooltip_for(10)
    assert "unit 7" in tooltip and "next:" in tooltip


def test_unknown_characters_are_marked_not_dropped(lab, qtbot):
    lab.text_edit.setPlainText("the cat ate the ZEBRA")
    lab.compute()
    qtbot.waitUntil(lambda: lab.message.kind == "error", timeout=10_000)
    message = lab.message.label.text()
    assert "never seen" in message and "'Z'" in message
    marked = [(sel.cursor.selectionStart(), sel.cursor.selectedText()) for sel in lab.text_edit.extraSelections()]
    assert marked == [(16, "Z"), (17, "E"), (18, "B"), (19, "R"), (20, "A")]
    assert lab.cursor.result.text == READ  # the last good result is kept


def test_empty_text_is_refused(lab, qtbot):
    lab.text_edit.setPlainText("")
    lab.compute()
    qtbot.waitUntil(lambda: lab.message.kind == "error", timeout=10_000)
    assert "no text" in lab.message.label.text()


def test_hypothesis_search_finds_units_and_marks_matches(lab, qtbot):
    start = READ.index("cat")
    lab.unit_text.strip.set_selection(start, start + 3)
    lab.unit_text.threshold_spin.setValue(0.0)
    lab.unit_text.search_units()
    qtbot.waitUntil(lambda: lab.unit_text.units_list.count() > 0 or lab.message.kind == "error", timeout=10_000)
    assert lab.unit_text.units_list.count() > 0, lab.message.label.text()
    best = lab.unit_text.units_list.item(0).data(0x0100)
    assert lab.cursor.unit == best
    assert lab.unit_text.strip._underlines  # the places where the best units fire together
    assert lab.unit_text.clamp_units_edit.text()


def test_search_without_selection_says_what_to_do(lab):
    lab.unit_text.search_units()
    assert lab.message.kind == "error" and "Select a span" in lab.message.label.text()


def test_intervention_changes_the_sample(lab, qtbot):
    lab.unit_text.clamp_units_edit.setText(", ".join(str(u) for u in range(16)))
    lab.unit_text.clamp_value_spin.setValue(1.0)
    lab.unit_text.intervene()
    qtbot.waitUntil(lambda: lab.unit_text.plain_sample.toPlainText() not in ("…", ""), timeout=30_000)
    plain, held = lab.unit_text.plain_sample.toPlainText(), lab.unit_text.intervened_sample.toPlainText()
    assert len(plain) == len(held) == 300
    assert plain != held


def test_intervention_on_a_missing_unit_is_refused(lab, qtbot):
    lab.unit_text.clamp_units_edit.setText("99")
    lab.unit_text.intervene()
    qtbot.waitUntil(lambda: lab.message.kind == "error", timeout=10_000)
    assert "no unit 99" in lab.message.label.text()
    lab.unit_text.clamp_units_edit.setText("3, x")
    lab.unit_text.intervene()
    assert "“x” is not a unit number" in lab.message.label.text()


def test_gradient_plot_vanishes_and_explodes(window, qtbot):
    panel = window.panels["gates"]
    curve = panel.gradient_flow.curves["rnn"]
    assert curve.getOriginalDataset()[1] is None  # nothing computed until the tab is looked at
    window.show_panel("gates")
    panel.show_tab(panel.gradient_flow)  # the curves are computed now
    qtbot.waitUntil(lambda: curve.getOriginalDataset()[1] is not None, timeout=30_000)

    def last_over_first(value):
        with qtbot.waitSignal(panel.gradient_flow.gradients_ready, timeout=30_000):
            panel.gradient_flow.radius_slider.setValue(value)
        x, y = curve.getOriginalDataset()
        assert len(y) == 200
        return y[-1] / y[0]

    assert last_over_first(80) < 1e-6
    assert last_over_first(150) > 1e6
    assert "W_hh" in panel.gradient_flow.explanation.text()
    for arch in ("gru", "lstm"):
        assert len(panel.gradient_flow.curves[arch].getOriginalDataset()[1]) == 200
    styles = {arch: curve.opts["pen"].style() for arch, curve in panel.gradient_flow.curves.items()}
    assert styles["gru"] != styles["rnn"]  # red and green curves told apart by more than colour
    window.set_presenter(True)
    assert panel.gradient_flow.curves["gru"].opts["pen"].style() == styles["gru"]
    window.set_presenter(False)


def test_latest_sample_becomes_the_text(window, qtbot, tiny_model_file):
    charrnn, gates = window.panels["charrnn"], window.panels["gates"]
    charrnn.open_model(str(tiny_model_file))
    qtbot.waitUntil(lambda: "tiny-lstm" in charrnn.sampler.source_combo.itemText(0), timeout=10_000)
    charrnn.sampler.length_spin.setValue(80)
    with qtbot.waitSignal(charrnn.sample_finished, timeout=30_000) as blocker:
        charrnn.sample()
    assert gates.sample_button.isEnabled()
    gates.use_latest_sample()
    assert gates.text_edit.toPlainText() == blocker.args[0].prime + blocker.args[0].text


def test_a_text_longer_than_the_lab_reads_is_refused_and_a_long_file_is_cut(lab, qtbot, tmp_path):
    from rnnstudio.worker.gates_messages import MAX_GATES_CHARS

    lab.text_edit.setPlainText("the cat sat. " * (MAX_GATES_CHARS // 10))
    lab.compute()
    qtbot.waitUntil(lambda: lab.message.kind == "error", timeout=10_000)
    assert f"at most {MAX_GATES_CHARS:,}" in lab.message.label.text()
    path = tmp_path / "long.txt"
    path.write_text("the dog sat. " * MAX_GATES_CHARS, encoding="utf-8")
    lab.open_text(str(path))
    qtbot.waitUntil(lambda: len(lab.text_edit.toPlainText()) == MAX_GATES_CHARS, timeout=10_000)
    assert f"first {MAX_GATES_CHARS:,} characters" in lab.message.label.text()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_open_text_on_a_named_pipe_is_refused_and_never_freezes_the_window(lab, qtbot, tmp_path):
    pipe = tmp_path / "pipe.txt"
    os.mkfifo(pipe)
    done = threading.Event()

    def writer_after_a_while():
        """A program that writes to the pipe after 3 s: a read that waited for it would end then."""
        if done.wait(3.0):
            return
        while not done.is_set():
            try:
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))  # opens only while a reader waits
                return
            except OSError:
                time.sleep(0.05)

    writer = threading.Thread(target=writer_after_a_while, daemon=True)
    writer.start()
    try:
        started = time.monotonic()
        lab.open_text(str(pipe))
        assert time.monotonic() - started < 1.0, "the GUI thread waited on the pipe"
        qtbot.waitUntil(lambda: lab.message.kind == "error", timeout=10_000)
        assert "pipe.txt is a named pipe, not a regular file" in lab.message.label.text()
        assert lab.text_edit.toPlainText() == READ  # the text is left as it was
    finally:
        done.set()
        writer.join()


def test_open_text_names_utf16_and_how_to_convert_it(lab, qtbot, tmp_path):
    path = tmp_path / "notepad.txt"
    path.write_bytes("the cat sat".encode("utf-16"))
    lab.open_text(str(path))
    qtbot.waitUntil(lambda: lab.message.kind == "error", timeout=10_000)
    assert "is UTF-16 text" in lab.message.label.text() and "iconv" in lab.message.label.text()


def test_heatmaps_drawn_in_presenter_mode_get_its_large_dark_axes(window, qtbot, tiny_model_file):
    """The heatmap plots are built when the first gates arrive: after presenter mode was set."""
    window.set_presenter(True)
    try:
        panel = read_through_tiny_model(window, qtbot, tiny_model_file)
        last_plot = panel.maps.heatmaps._plots["h"][0]
        axis = last_plot.getAxis("bottom")
        assert axis.textPen().color().name() == "#000000"
        assert axis.style["tickFont"].pointSize() > 12
        assert panel.maps.heatmaps._plots["i"][0].titleLabel.opts.get("color") == "#000000"
    finally:
        window.set_presenter(False)  # the application's font and the theme's state outlive the window


@pytest.mark.parametrize("arch", ["gru", "rnn"])
def test_saturation_of_a_gru_and_a_vanilla_rnn(window, qtbot, tmp_path, tiny_trainer, arch):
    """A GRU's saturation plot starts on its update gate z (it has no forget gate); a vanilla
    RNN, which has no gates, gets a sentence saying so instead of an empty plot."""
    from rnnstudio.nn.charrnn import save_charrnn

    trainer = tiny_trainer(arch=arch, steps=5)
    path = tmp_path / f"tiny-{arch}.safetensors"
    save_charrnn(path, trainer.model, trainer.vocab.chars, trainer.trained_info())
    panel = read_through_tiny_model(window, qtbot, path)
    if arch == "gru":
        assert panel.maps.saturation_combo.currentData() == "z"
        assert panel.maps.saturation_view.isVisibleTo(window) and not panel.maps.no_gates_label.isVisibleTo(window)
        assert len(panel.maps.saturation_points.data) == 16  # a dot for each unit
        # Its memory path is scaled by z: h_t = (1 - z_t) n_t + z_t h_(t-1).
        _x, shown = panel.memory.view.gate_curve.getData()
        np.testing.assert_allclose(shown, panel.cursor.result.layers[0]["z"][:, panel.cursor.unit], rtol=1e-6)
        assert "z<sub>t</sub>" in panel.memory.view.gate_plot.titleLabel.text
        assert "z_t" in panel.memory.explanation.text()
    else:
        assert panel.maps.saturation_combo.count() == 0 and not panel.maps.saturation_combo.isEnabled()
        assert not panel.maps.saturation_view.isVisibleTo(window) and panel.maps.no_gates_label.isVisibleTo(window)
        assert "no gates" in panel.maps.no_gates_label.text()
        panel.show_tab(panel.memory)
        assert not panel.memory.view.isVisibleTo(window) and panel.memory.no_memory_label.isVisibleTo(window)


def test_the_forget_gate_and_the_gradient_it_lets_through(lab, window, qtbot):
    """The forget gate carrying the gradient (docs/LECTURE-MAP.md), on the real model: the followed
    unit's f_t over the text, and under it the product of the later f's, what reaches each step
    of the last character's gradient."""
    from rnnstudio.nn.explain import memory_reach

    lab.show_tab(lab.memory)
    lab.cursor.set_unit(5)
    f = lab.cursor.result.layers[0]["f"][:, 5]
    x, shown = lab.memory.view.gate_curve.getData()
    np.testing.assert_allclose(shown, f, rtol=1e-6)
    np.testing.assert_allclose(x, np.arange(len(READ)) + 0.5)  # each step's middle, as in the heatmaps
    reach = lab.memory.view.reach_curve.yData  # as given, before the log scale
    np.testing.assert_allclose(reach, memory_reach(f), rtol=1e-6)  # none below the floor in a short text
    assert "unit 5" in lab.memory.view.gate_plot.titleLabel.text
    low, high = lab.memory.view.gate_plot.viewRange()[1]
    assert low < 0 and high > 1  # the whole 0..1 of a gate whatever the unit's values: units compare
    assert not lab.memory.empty.shown  # the note that asked for a text is gone
    # Hovering names a step's character and numbers; clicking moves the step cursor there.
    view = lab.memory.view
    assert view.describe_step(3).startswith(f"step 4: read “{visible_char(READ[3])}”")
    assert f"{reach[3]:.2g}" in view.describe_step(3)
    middle = view.gate_plot.vb.mapViewToScene(pg.Point(7.5, 0.5))
    assert view.step_at(middle) == 7
    view.picked.emit(view.step_at(middle))
    assert lab.cursor.step == 7 and view.cursors[0].value() == 7.5


def test_the_forget_gate_lesson_follows_the_longest_memory(window, qtbot, tiny_model_file):
    from rnnstudio.ui.registry import lesson_named

    panel = read_through_tiny_model(window, qtbot, tiny_model_file)
    lesson = lesson_named("The forget gate carries the gradient back")
    with qtbot.waitSignal(panel.gates_ready, timeout=30_000):
        window.start_lesson(lesson)
    _closed, open_share = panel.cursor.result.saturation[0]["f"]
    assert panel.tabs.currentWidget() is panel.memory and panel.cursor.unit == int(np.argmax(open_share))
    assert not panel.follow_longest_memory_when_read  # once: a later reading keeps the unit chosen


def test_heatmaps_show_the_whole_text_from_its_first_character(lab, window, qtbot):
    """The linked time axes drifted while the plots were first laid out, hiding the first and last
    characters; every heatmap must span the whole text, also after the window is resized."""
    from PySide6.QtWidgets import QApplication

    steps = len(lab.cursor.result.text)
    for size in ((1280, 800), (1000, 700)):
        window.resize(*size)
        QApplication.processEvents()
        for plot, _image in lab.maps.heatmaps._plots.values():
            left, right = plot.viewRange()[0]
            assert abs(left) < 1e-6 and abs(right - steps) < 1e-6, (left, right, steps)


def test_before_a_text_is_read_the_heatmaps_say_how_to_fill_them(window, qtbot, tiny_model_file):
    def placeholder(panel):
        return [i.text for i in panel.maps.heatmaps.ci.items if isinstance(i, pg.LabelItem) and "Read text" in i.text]

    assert placeholder(window.panels["gates"])
    panel = read_through_tiny_model(window, qtbot, tiny_model_file)
    assert not placeholder(panel) and len(panel.maps.heatmaps._plots) == 6


@pytest.fixture
def shipped_sentiment_lstm(tmp_path):
    """The checkout's shipped sentiment LSTM where the window (made after this) looks for it."""
    import shutil
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "models" / "sentiment-lstm.safetensors"
    if not shipped.is_file():
        pytest.skip("no shipped sentiment LSTM in this checkout")
    (tmp_path / "models").mkdir(exist_ok=True)
    return shutil.copy(shipped, tmp_path / "models" / "sentiment-lstm.safetensors")


def test_the_sentiment_panel_opens_its_sentence_in_the_lab_word_by_word(shipped_sentiment_lstm, window, qtbot):
    """The shipped sentiment LSTM, the real worker: the Read tab's button takes the typed sentence
    and the model to the lab, which reads it one word a step and follows the sentiment unit."""
    sentiment = window.panels["sentiment"]
    window.show_panel("sentiment")
    qtbot.waitUntil(lambda: sentiment.models is not None, timeout=60_000)
    text = "The acting was not bad, but the zorblax plot was dull"
    reading = sentiment.reading
    reading.text_box.setText(text)
    qtbot.waitUntil(lambda: reading.result is not None and reading.result.text == text, timeout=60_000)
    unit = reading.open_models["lstm"].sentiment_unit["index"]
    assert reading.open_lab_button.isEnabled()

    lab = window.panels["gates"]
    with qtbot.waitSignal(lab.gates_ready, timeout=60_000) as ready:
        reading.open_lab_button.click()
    assert window.current_panel_name() == "gates"
    r = ready.args[0]
    words = ["the", "acting", "was", "not", "bad", ",", "but", "the", "zorblax", "plot", "was", "dull"]
    assert r.is_words and r.text == text and r.step_labels() == words
    assert lab.text_edit.toPlainText() == text and lab.sentiment_model() == "lstm"
    assert "sentiment LSTM" in lab.source_label.text() and "12 words" in lab.source_label.text()
    assert "1 unknown" in lab.source_label.text()
    marked = [sel.cursor.selectedText() for sel in lab.text_edit.extraSelections()]
    assert marked == ["zorblax"]  # the word it does not know, marked in the text
    # The sentiment unit is followed, on the step of the first "not".
    assert (lab.cursor.unit, lab.unit_spin.value(), lab.cursor.step) == (unit, unit, 3)
    assert lab.tabs.currentWidget() is lab.unit_text
    assert "sentiment unit" in lab.unit_text.unit_caption.text()

    # Every view shows words, or says plainly what is for char models; none crashes.
    strip = lab.unit_text.strip
    assert strip.text() == words and len(strip._colors) == 12 and strip._flagged == {8}
    assert strip.cell_rect(1).width() > strip.cell_rect(5).width()  # "acting" is wider than ","
    tip = lab.unit_text.tooltip_for(8)
    assert "zorblax" in tip and "unknown" in tip and "p(positive) after it" in tip
    assert not lab.unit_text.intervene_button.isEnabled() and lab.unit_text.intervention_note.isVisibleTo(lab)
    lab.unit_text.clamp_units_edit.setText("1")
    lab.unit_text.intervene()
    assert "char model" in lab.message.label.text()
    strip.set_selection(3, 5)
    strip.selection_changed.emit(3, 5)
    assert "not bad" in lab.unit_text.matches_label.text()
    for tab in lab.inner_tabs():
        lab.show_tab(tab)
        qtbot.wait(20)
    lab.cursor.set_step(6)
    assert "read “but”" in lab.step_through.label.text()
    assert "the embedding of “but”" in lab.step_through.equations.toPlainText()
    assert lab.step_through.graph._inputs[-1] == "but" and lab.step_through.graph._outputs[-1].startswith("0.")
    assert "p(positive)" in lab.step_through.graph.output_title
    assert lab.maps.heatmaps.step_name == "word"
    words = lab.cursor.result.step_labels()  # written under their columns, not numbered
    ticks = lab.maps.heatmaps._plots["h"][0].getAxis("bottom")._tickLevels
    assert ticks and [label for _x, label in ticks[0]] == words and words[6] == "but"
    memory_ticks = lab.memory.view.reach_plot.getAxis("bottom")._tickLevels
    assert memory_ticks and [label for _x, label in memory_ticks[0]] == words
    assert "read “but”" in lab.memory.view.describe_step(6)
    assert lab.memory.view.reach_plot.getAxis("bottom").labelText == "step (word read)"
    lab.step_through.graph.grab()  # painted with words in its circles
    strip.grab()

    # Back to the char model: the lab reads characters again (here it has none open: a clear message).
    lab.model_combo.setCurrentIndex(lab.model_combo.findData("shipped"))
    assert lab.sentiment_model() is None and "one character per step" in lab.text_edit.toolTip()
