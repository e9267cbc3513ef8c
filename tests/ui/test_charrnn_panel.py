"""The char-RNN panel and main window, driven through the real worker at a tiny size."""

from __future__ import annotations

import threading
import time

import pytest
from rnnstudio.ui.drawing import visible_char


TEXT = "the cat sat on the mat. the dog sat on the log.\n" * 60


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def configure_tiny(panel, corpus_file, steps=60, sample_at="20, 60"):
    panel.set_corpus_file(str(corpus_file))
    panel.training.layers_spin.setValue(1)
    panel.training.hidden_spin.setValue(16)
    panel.training.seq_spin.setValue(16)
    panel.training.batch_spin.setValue(8)
    panel.training.steps_spin.setValue(steps)
    panel.training.sample_at_edit.setText(sample_at)


def test_missing_shipped_model_is_reported_inline(window, qtbot):
    panel = window.panels["charrnn"]
    qtbot.waitUntil(lambda: panel.message.kind == "error", timeout=10_000)
    assert "shakespeare-lstm.safetensors is missing" in panel.message.label.text()
    assert "rnnstudio train charrnn" in panel.message.label.text()


def test_train_tiny_model_and_see_timeline_and_sample(window, qtbot, corpus_file):
    panel = window.panels["charrnn"]
    assert panel.loss_plot.empty.item.scene() is not None  # before training: what will appear there
    configure_tiny(panel, corpus_file)
    panel.start_training()
    # The last step's events arrive one by one: its progress (which says "finished") before its sample.
    qtbot.waitUntil(lambda: panel._training_state == "finished" and len(panel.timeline.cards) == 2, timeout=60_000)
    panel.loss_plot.redraw()
    assert panel.loss_plot.empty.item.scene() is None
    panel.loss_plot.plot.grab()  # draw it: pyqtgraph fits an auto-ranged view just before painting
    (x0, x1), (y0, y1) = panel.loss_plot.plot.viewRange()  # the view follows the curve again
    assert x0 <= 1 and x1 >= 60 and y0 <= min(panel.loss_plot.losses) and y1 >= max(panel.loss_plot.losses)
    panel.loss_plot.plot.setXRange(10, 20, padding=0)  # a student zooms in; the next redraw leaves the view alone
    panel.loss_plot._dirty = True
    panel.loss_plot.redraw()
    panel.loss_plot.plot.grab()
    assert panel.loss_plot.plot.viewRange()[0] == [10, 20]
    # Two timeline samples, at the chosen iterations, with real text from the corpus alphabet.
    assert [c.iteration for c in panel.timeline.cards] == [20, 60]
    for card in panel.timeline.cards:
        text = card.text.toPlainText()
        assert len(text) == 200 and set(text) <= set(TEXT)
    # The loss curve holds every iteration and went down.
    assert panel.loss_plot.iterations == list(range(1, 61))
    assert panel.loss_plot.losses[-1] < panel.loss_plot.losses[0]
    # Sample the trained model: text streams into the view.
    panel.sampler.source_combo.setCurrentIndex(1)
    panel.sampler.length_spin.setValue(300)
    panel.sampler.prime_edit.setText("the ")
    with qtbot.waitSignal(panel.sample_finished, timeout=30_000) as blocker:
        panel.sample()
    result = blocker.args[0]
    assert len(result.text) == 300
    assert panel.sampler.view.toPlainText() == "the " + result.text
    # Its shape, unrolled over the last characters it wrote: each one in, the next one out.
    steps = panel.shape_diagram.steps()
    assert [s.y for s in steps] == [visible_char(c) for c in result.text[-len(steps):]]
    assert [s.x for s in steps][1:] == [s.y for s in steps][:-1]


def test_sampling_while_training(window, qtbot, corpus_file):
    panel = window.panels["charrnn"]
    configure_tiny(panel, corpus_file, steps=100_000, sample_at="")
    panel.start_training()
    qtbot.waitUntil(lambda: panel._training_state == "running" and len(panel.loss_plot.iterations) > 5, timeout=60_000)
    panel.sampler.source_combo.setCurrentIndex(1)
    panel.sampler.length_spin.setValue(100)
    with qtbot.waitSignal(panel.sample_finished, timeout=30_000):
        panel.sample()
    assert panel._training_state == "running"  # the sample did not wait for training to end
    at_pause = None
    panel._on_pause_clicked()
    qtbot.waitUntil(lambda: panel._training_state == "paused", timeout=10_000)
    at_pause = panel.loss_plot.progress.iteration
    qtbot.wait(300)
    assert panel.loss_plot.progress.iteration == at_pause  # paused means no steps
    panel._on_pause_clicked()
    qtbot.waitUntil(lambda: panel.loss_plot.progress.iteration > at_pause + 3, timeout=10_000)
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 2.0
    assert not any(t.name == "rnnstudio-device-worker" for t in threading.enumerate())


def test_round_steps_of_the_loss_plot():
    from rnnstudio.ui.charrnn.loss_plot import round_up, stepped_range

    assert [round_up(v) for v in (0, 1, 1.5, 2, 3, 7, 10, 11, 240, 5000)] == [1, 1, 2, 2, 5, 10, 10, 20, 500, 5000]
    assert stepped_range(1.62, 4.2) == (1.5, 4.5)
    assert stepped_range(1.7, 4.1) == (1.5, 4.5)  # the same view for losses inside it
    for low, high in ((2.31, 2.38), (0.4271, 0.4279), (0.1, 0.3), (3.0, 3.0)):
        lo, hi = stepped_range(low, high)
        assert lo <= low and hi >= high and hi - lo <= 2 * max(high - low, 1e-6) + 1e-6


def test_the_loss_plot_keeps_its_view_while_the_curve_stays_inside_it(window):
    """The view grows in round steps rather than with every point (an axis whose range moves
    redraws its ticks: most of a redraw's cost); every point stays in sight; a zoom is kept."""
    from rnnstudio.train.progress import TrainingProgress

    panel = window.panels["charrnn"]
    plot = panel.loss_plot
    views, iteration = [], 0

    def report(losses, zoomed=False):
        nonlocal iteration
        iters = list(range(iteration + 1, iteration + 1 + len(losses)))
        iteration = iters[-1]
        panel._add_progress(TrainingProgress(iterations=iters, losses=losses, valid=[], chars_per_second=1.0,
                                             learning_rate=1e-3, iteration=iteration, planned=1000, state="running"))
        plot.redraw()
        (x0, x1), (y0, y1) = plot.plot.viewRange()
        if not zoomed:
            assert x0 <= 1 and x1 >= iteration and y0 <= min(plot.losses) and y1 >= max(plot.losses)
        views.append(plot.plot.viewRange())

    report([4.2 - 0.1 * k for k in range(11)])  # iterations 1 to 11, losses 4.2 to 3.2: a view of 1-21 by 3-4.5
    for k in range(6):  # iterations 12 to 17, losses inside the same steps
        report([3.15 - 0.02 * k])
    assert all(view == views[0] for view in views[1:])
    report([2.2] * 40)  # past iteration 21, and below the lowest loss step so far: the view grows once
    assert views[-1] != views[0]
    plot.plot.setXRange(3, 6, padding=0)  # a student zooms in: the next redraws leave the view alone
    report([2.1] * 200, zoomed=True)
    assert plot.plot.viewRange()[0] == [3, 6]
    panel.reset_training()  # a new run fits its own curve again
    iteration = 0
    report([5.0, 4.0])
    assert plot.plot.viewRange()[0][1] < 6


def test_streamed_chunks_repaint_the_sample_view_not_the_box_behind_it(window, qtbot):
    """Each chunk moves the view's scroll bar; the bar paints its own background, so the
    sampling box (FittingGroupBox, whose event() is Python) is not repainted 30 times a second."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    from rnnstudio.worker.charrnn_messages import TextChunk

    class PaintCounter(QObject):
        paints = 0

        def eventFilter(self, _obj, event):
            if event.type() == QEvent.Type.Paint:
                self.paints += 1
            return False

    panel = window.panels["charrnn"]
    box = panel.sampler.view.parentWidget()
    assert box.title() == "Sample"
    qtbot.waitExposed(window)
    panel.sampler.view.setPlainText("")
    chunks = [f"line {k}: to be or not to be, that is the question\n" for k in range(60)]
    counter = PaintCounter()
    for k, chunk in enumerate(chunks):
        if k == 20:  # by now the scroll bar has appeared (the view laid out anew, the box with it)
            box.installEventFilter(counter)
        panel._on_sample_chunk(TextChunk(chunk))
        QApplication.processEvents()
    box.removeEventFilter(counter)
    assert panel.sampler.view.toPlainText() == "".join(chunks)  # the whole sample, in order
    view = panel.sampler.view
    assert view.verticalScrollBar().value() > 0  # it scrolled along
    assert view.viewport().rect().contains(view.cursorRect())  # the newest text is in sight
    assert counter.paints == 0


def test_bad_corpus_is_reported_inline_and_trained_model_kept(window, qtbot, corpus_file, tmp_path):
    panel = window.panels["charrnn"]
    configure_tiny(panel, corpus_file, steps=30, sample_at="")
    panel.start_training()
    qtbot.waitUntil(lambda: panel._training_state == "finished", timeout=60_000)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"caf\xe9 " * 400)
    panel.set_corpus_file(str(bad))
    panel.start_training()
    qtbot.waitUntil(lambda: panel.message.kind == "error", timeout=10_000)
    assert "not UTF-8" in panel.message.label.text() and "byte 3" in panel.message.label.text()
    # The model trained before is still there: it can be saved.
    out = tmp_path / "kept.safetensors"
    panel.save_model(str(out))
    qtbot.waitUntil(lambda: out.exists(), timeout=10_000)
    from rnnstudio.nn.charrnn import load_charrnn

    assert load_charrnn(out).trained["steps"] == 30


def test_open_bad_model_file_shows_message(window, qtbot, tmp_path):
    panel = window.panels["charrnn"]
    bad = tmp_path / "pickle.safetensors"
    bad.write_bytes(b"\x80\x04\x95" + b"\x00" * 64)
    panel.open_model(str(bad))
    qtbot.waitUntil(lambda: "pickle" in panel.message.label.text(), timeout=10_000)
    assert panel.message.kind == "error"
    assert window.worker.running


def test_bad_sample_iterations_are_refused(window, qtbot):
    panel = window.panels["charrnn"]
    panel.training.sample_at_edit.setText("100, soon")
    panel.start_training()
    assert panel.message.kind == "error" and "soon" in panel.message.label.text()
    assert panel._training_state == "none"


def test_presenter_mode_enlarges_fonts_and_check_boxes(window, qtbot):
    from PySide6.QtGui import QFontInfo
    from PySide6.QtWidgets import QApplication, QLabel, QStyle, QStyleOptionButton

    def box_width():  # the drawn square of the check box, not its text
        check = window.panels["vqa"].asking.glimpse_check
        option = QStyleOptionButton()
        option.initFrom(check)
        return check.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, check).width()

    from rnnstudio.ui.charrnn.timeline import TimelineCard
    from rnnstudio.train.progress import TimelineSample

    app = QApplication.instance()
    panel = window.panels["charrnn"]
    panel.message.show_message("a message on screen when presenter mode comes on", "info")
    card = TimelineCard(TimelineSample(100, "sample text", 2.5), panel)  # a card shown before, too
    before, box_before = app.font().pointSizeF(), box_width()
    window.set_presenter(True)
    QApplication.processEvents()  # the new application font reaches the widgets as events
    assert app.font().pointSizeF() > before
    for label in (panel.message.label, card.findChild(QLabel)):  # nothing left in the small type
        assert label.font().pointSizeF() == app.font().pointSizeF(), label.text()
    assert box_width() > box_before and box_width() >= 0.9 * QFontInfo(app.font()).pixelSize()  # 1em
    assert panel.loss_plot.empty.item.textItem.font().pointSizeF() == app.font().pointSizeF()  # the empty plot's note
    window.set_presenter(False)
    assert app.font().pointSizeF() == before and box_width() == box_before
    assert panel.loss_plot.empty.item.textItem.font().pointSizeF() == before


def test_presenter_type_keeps_its_share_of_the_screen_height(window):
    """A projector throws 1920 x 1080 and 1280 x 800 onto the same wall: the type shrinks with
    the screen's height, or the panels would not fit a smaller projector's screen."""
    from PySide6.QtWidgets import QApplication

    from rnnstudio.ui.theme import PRESENTER_POINT_SIZE

    sizes = {}
    for height in (1080, 800):
        window.presenter_screen_height = height
        window.set_presenter(True)
        sizes[height] = QApplication.instance().font().pointSizeF()
        window.set_presenter(False)
    assert sizes[1080] == PRESENTER_POINT_SIZE
    assert sizes[800] == round(PRESENTER_POINT_SIZE * 800 / 1080)


def test_status_bar_and_about_name_the_device(window):
    assert window.device_label.text().startswith("Device: CPU")
    about = window.about_text()
    assert "PyTorch 2." in about and "Qt 6." in about and "CPU" in about


def test_save_open_and_continue_training_exactly(window, qtbot, corpus_file, tmp_path):
    panel = window.panels["charrnn"]
    configure_tiny(panel, corpus_file, steps=25, sample_at="")
    panel.start_training()
    qtbot.waitUntil(lambda: panel._training_state == "finished", timeout=60_000)
    saved = tmp_path / "run.safetensors"
    panel.save_model(str(saved))
    qtbot.waitUntil(lambda: panel.message.kind == "info", timeout=10_000)
    panel.open_model(str(saved))
    qtbot.waitUntil(lambda: "run.safetensors" in panel.sampler.source_combo.itemText(0), timeout=10_000)
    panel.training.continue_check.setChecked(True)
    assert not panel.training.hidden_spin.isEnabled()  # the opened model fixes the network
    panel.training.steps_spin.setValue(10)
    panel.training.sample_at_edit.setText("5")
    panel.start_training()
    qtbot.waitUntil(lambda: panel._training_state == "finished", timeout=60_000)
    # Iterations go on from the saved model's 25; the sample is taken 5 into this run.
    assert panel.loss_plot.iterations == list(range(26, 36))
    assert [c.iteration for c in panel.timeline.cards] == [30]


def test_the_app_keeps_qts_fills_on_the_gui_thread(monkeypatch):
    """No pool of fill threads competing with the worker for the cores; a value set before is left alone."""
    import os

    from rnnstudio.ui.app import make_application

    monkeypatch.delenv("QT_NO_GUI_THREADPOOL", raising=False)
    make_application()
    assert os.environ["QT_NO_GUI_THREADPOOL"] == "1"
    monkeypatch.setenv("QT_NO_GUI_THREADPOOL", "0")
    make_application()
    assert os.environ["QT_NO_GUI_THREADPOOL"] == "0"


def test_window_appears_before_torch_is_imported(tmp_path):
    import subprocess
    import sys

    code = (
        "import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from rnnstudio.ui.app import build_window, make_application\n"
        "app = make_application(); w = build_window(device='cpu'); w.show(); app.processEvents()\n"
        "print('torch' in sys.modules, w.device_label.text())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False Device: loading PyTorch…"


def test_what_the_class_reads_stays_readable_in_presenter_mode_on_a_small_screen(window, qtbot, tiny_model_file):
    """On a 1366 x 768 projector in presenter type the splitter had squeezed the sample to two
    lines and the timeline's samples to one. Each keeps a few lines once it has something to
    show; an empty one gives its room to the other."""
    from PySide6.QtGui import QFontMetrics

    from rnnstudio.ui.charrnn.sampler import SAMPLE_LINES_IN_SIGHT
    from rnnstudio.ui.charrnn.timeline import TIMELINE_LINES_IN_SIGHT
    from rnnstudio.train.progress import TimelineSample

    def lines(view):
        return view.viewport().height() / QFontMetrics(view.font()).lineSpacing()

    panel = window.panels["charrnn"]
    window.show_panel("charrnn")
    window.presenter_screen_height = 768
    window.resize(1366, 768)
    window.set_presenter(True)
    try:
        for iteration in (100, 300, 700, 2000):  # the lesson's timeline, and no sample yet
            panel.timeline.add(TimelineSample(iteration, "a sample of the text " * 10, 2.0))
        qtbot.wait(100)  # the layouts settle in turn
        assert all(lines(card.text) >= TIMELINE_LINES_IN_SIGHT for card in panel.timeline.cards)
        panel.open_model(str(tiny_model_file))
        qtbot.waitUntil(lambda: tiny_model_file.stem in panel.sampler.source_combo.itemText(0), timeout=10_000)
        panel.sampler.length_spin.setValue(100)
        with qtbot.waitSignal(panel.sample_finished, timeout=30_000):
            panel.sample()
        qtbot.wait(100)
        assert lines(panel.sampler.view) >= SAMPLE_LINES_IN_SIGHT
        assert all(lines(card.text) >= TIMELINE_LINES_IN_SIGHT for card in panel.timeline.cards)
    finally:
        window.set_presenter(False)


def test_the_default_four_samples_stand_side_by_side(window, qtbot):
    """The lesson's samples at 100 / 300 / 700 / 2000 iterations, on a 1280 x 800 screen: all
    four in sight, none scrolled out of the timeline."""
    from rnnstudio.train.progress import TimelineSample

    panel = window.panels["charrnn"]
    window.show_panel("charrnn")
    window.resize(1280, 800)
    for iteration in (100, 300, 700, 2000):
        panel.timeline.add(TimelineSample(iteration, "a sample of the text " * 10, 2.0))
    qtbot.wait(100)  # the layouts of the cards, their row and the scroll area settle in turn
    assert len(panel.timeline.cards) == 4
    assert panel.timeline.scroll.horizontalScrollBar().maximum() == 0
    assert panel.timeline.scroll.verticalScrollBar().maximum() == 0  # nor cut at the bottom
