"""What a teacher relies on in a lecture hall: settings that persist, lesson presets,
exports of every plot and of the sample timeline and a VQA session, shortcuts in Help."""

from __future__ import annotations

import html
import json
import os

import pytest
from PySide6.QtWidgets import QMenu

from rnnstudio.ui.app import build_window
from rnnstudio.ui.registry import lesson_named, lessons


def reopen(qtbot):
    """A second window, as on the next run of the app (same settings file)."""
    win = build_window(device="cpu", torch_threads=1)
    qtbot.addWidget(win)
    return win


def test_settings_persist_between_runs(window, qtbot, tmp_path):
    charrnn = window.panels["charrnn"]
    charrnn.training.arch_combo.setCurrentIndex(charrnn.training.arch_combo.findData("gru"))
    charrnn.training.hidden_spin.setValue(96)
    charrnn.training.sample_at_edit.setText("10, 20")
    caption = window.panels["caption"]
    caption.sources.combo.setCurrentIndex(caption.sources.combo.findData("generated-plain"))
    caption.beam_spin.setValue(5)
    window.show_panel("gates")
    window.set_presenter(True)
    window.close()
    saved = json.loads((tmp_path / "settings.json").read_text(encoding="utf-8"))
    assert saved["panel"] == "gates" and saved["presenter"] is True
    again = reopen(qtbot)
    try:
        t = again.panels["charrnn"].training
        assert t.arch_combo.currentData() == "gru" and t.hidden_spin.value() == 96 and t.sample_at_edit.text() == "10, 20"
        assert again.panels["caption"].sources.combo.currentData() == "generated-plain"
        assert again.panels["caption"].beam_spin.value() == 5
        assert again.current_panel_name() == "gates" and again.presenter
        assert again.geometry_restored  # the window where it was left: not refitted to the screen
    finally:
        again.set_presenter(False)
        again.remember = False
        again.close()


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b'{"version": 99}'],
                         ids=["broken-json", "not-utf8", "not-an-object", "newer-version"])
def test_a_corrupt_settings_file_falls_back_to_defaults_with_a_message(qtbot, tmp_path, monkeypatch, content):
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    monkeypatch.setenv("RNNSTUDIO_SETTINGS", str(path))
    win = reopen(qtbot)
    try:
        assert win.settings_problem and "started with its defaults" in win.settings_problem
        assert win.current_panel_name() == "charrnn" and not win.presenter
        assert (tmp_path / "settings.json.bad").read_bytes() == content  # nothing lost
    finally:
        win.remember = False
        win.close()


# Lessons that open the shipped sentiment LSTM's reading in the lab; this window has no model.
NEEDS_THE_SENTIMENT_LSTM = {"The LSTM's gates at “not” and “but”"}


def test_every_lesson_sets_its_panel_up(window, qtbot):
    gates = window.panels["gates"]
    for lesson in lessons():
        if lesson.panel in ("caption", "vqa"):
            continue  # they need the shipped captioner and VQA model: tested below
        if lesson.panel is None:
            continue  # the sequence shapes' overview: tests/ui/test_sequence_shapes.py
        window.start_lesson(lesson)
        if lesson.title in NEEDS_THE_SENTIMENT_LSTM:  # with it: tests/ui/test_sentiment_panel.py
            message = window.tabs.currentWidget().message
            assert message.kind == "error" and "open or train a recurrent model" in message.text()
            continue
        assert lesson.title in window.statusBar().currentMessage()
        assert html.escape(lesson.says) in window.tabs.currentWidget().message.text()  # stays in the panel
    # The last of the lab's: the forget gate. The gradient lessons before it left their sliders set.
    assert gates.tabs.currentWidget() is gates.memory and gates.gradient_flow.radius_slider.value() == 130
    charrnn = window.panels["charrnn"]  # its last: the samples at 100 / 300 / 700 / 2000 iterations
    assert charrnn.training.arch_combo.currentData() == "lstm" and charrnn.training.seq_spin.value() == 64
    assert charrnn.training.corpus_combo.currentData() == "shakespeare"
    qtbot.waitUntil(lambda: charrnn._training_state in ("running", "finished"), timeout=60_000)
    charrnn.reset_training()


def test_the_vanilla_rnn_lesson_trains_on_shakespeare_whatever_was_chosen(window, qtbot, tiny_text_file):
    """It is called "A vanilla RNN learns Shakespeare": a text file chosen before must not be
    what it trains on."""
    charrnn = window.panels["charrnn"]
    charrnn.set_corpus_file(str(tiny_text_file))
    charrnn.training.arch_combo.setCurrentIndex(charrnn.training.arch_combo.findData("gru"))
    window.start_lesson(lesson_named("A vanilla RNN learns Shakespeare"))
    t = charrnn.training
    assert t.corpus_spec() == "shakespeare" and t.arch_combo.currentData() == "rnn"
    assert (t.layers_spin.value(), t.hidden_spin.value(), t.seq_spin.value()) == (1, 128, 16)
    qtbot.waitUntil(lambda: charrnn._training_state in ("running", "finished"), timeout=60_000)
    charrnn.reset_training()


def test_a_lessons_sentence_stays_while_its_work_finishes(window, qtbot, tiny_model_file):
    charrnn, gates = window.panels["charrnn"], window.panels["gates"]
    charrnn.open_model(str(tiny_model_file))
    qtbot.waitUntil(lambda: "tiny-lstm" in charrnn.sampler.source_combo.itemText(0), timeout=10_000)
    gates.text_edit.setPlainText("the cat sat on the mat.")  # characters the tiny model knows
    lesson = lesson_named("Inside the LSTM: gates and the memory cell")
    with qtbot.waitSignal(gates.gates_ready, timeout=30_000):
        window.start_lesson(lesson)
    assert "read" in window.statusBar().currentMessage()  # the status line has moved on...
    assert html.escape(lesson.says) in gates.message.text()  # ...the panel still says what to watch


def test_the_gradient_lessons_show_what_they_say(window, qtbot):
    """The status line's promise is on the plot: the RNN's gradient vanishes (or explodes) over
    200 steps back, and in the vanishing lesson the LSTM's levels off far above it."""
    gates = window.panels["gates"]

    def lesson_curves(title, singular_value):
        lesson = lesson_named(title)
        # Not the curves of the controls before: those of the lesson's singular value.
        with qtbot.waitSignal(gates.gradient_flow.gradients_ready, timeout=30_000,
                              check_params_cb=lambda r: r.request.singular_value == singular_value) as blocker:
            window.start_lesson(lesson)
        return blocker.args[0].curves

    curves = lesson_curves("Vanishing gradients: RNN against LSTM", 0.9)
    rnn, lstm = curves["rnn"], curves["lstm"]
    assert rnn[-1] < 1e-6 * rnn[0] and rnn[49] < 1e-2 * rnn[0]
    assert lstm[-1] > 1e-2 * lstm[0] and lstm[-1] > 1e4 * rnn[-1]
    curves = lesson_curves("Exploding gradients", 1.3)
    assert curves["rnn"][-1] > 1e6 * curves["rnn"][0]


def test_the_caption_lesson_without_a_camera_offers_another_source(window, qtbot):
    lesson = lesson_named("Caption the cards")
    window.start_lesson(lesson)
    panel = window.panels["caption"]
    assert window.current_panel_name() == "caption"
    assert panel.message.kind == "error" and "no camera answers" in panel.message.text()
    assert panel.message.action_button.isVisible()  # "Use generated shapes"


def test_plots_export_to_png_and_svg(window, qtbot, tmp_path):
    gates = window.panels["gates"]
    window.show_panel("gates")
    written = window.export_panel_plots("gates", str(tmp_path / "out"))
    assert written and all(p.stat().st_size > 0 for p in written)
    assert {p.suffix for p in written} == {".png", ".svg"}
    svg = next(p for p in written if p.suffix == ".svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert gates is window.tabs.currentWidget()


def test_the_shape_drawing_exports_with_the_plots(window, tmp_path):
    """The char-RNN panel's loss plot, and its hand-drawn shape of sequence, for a slide."""
    from PySide6.QtGui import QImage

    window.show_panel("charrnn")
    written = window.export_panel_plots("charrnn", str(tmp_path / "out"))
    diagram = window.panels["charrnn"].shape_diagram
    png, svg = written[-2:]  # drawings come after the plots
    image = QImage(str(png))
    assert (image.width(), image.height()) == (2 * diagram.width(), 2 * diagram.height())  # sharp on a slide
    text = svg.read_text(encoding="utf-8")
    assert "<svg" in text and "h₁" in text  # vector text, the state's name in it


def test_the_sample_timeline_exports_to_html(window, qtbot, tmp_path, tiny_text_file):
    panel = window.panels["charrnn"]
    panel.set_corpus_file(str(tiny_text_file))
    panel.training.hidden_spin.setValue(16)
    panel.training.steps_spin.setValue(30)
    panel.training.sample_at_edit.setText("10, 30")
    panel.start_training()
    qtbot.waitUntil(lambda: panel._training_state == "finished" and len(panel.timeline.cards) == 2, timeout=60_000)
    path = tmp_path / "timeline.html"
    panel.export_timeline(str(path))
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "iteration 10" in page and "iteration 30" in page
    assert panel.timeline.cards[1].sample.text[:20].replace("&", "&amp;").replace("<", "&lt;") in page
    assert page.count("src='data:image/png;base64,") == 1  # the loss curve, inlined
    assert not list(tmp_path.glob("*.tmp*"))


def test_shortcuts_are_listed_in_help(window):
    text = window.shortcuts_text()
    for keys in ("F5", "Ctrl+E", "F1", "Ctrl+1", "Ctrl+Return", "Ctrl+T", "Alt+Right", "Esc"):
        assert keys in text
    assert "Presenter mode" in text
    for panel in window.panels.values():
        assert f"In {panel.title}" in text
    assert "Ctrl+Return" in window.panels["gates"].read_button.toolTip()  # and in the button's tooltip


def test_a_panels_shortcuts_work_while_it_is_shown_and_only_then(window, qtbot, tiny_model_file):
    from PySide6.QtCore import Qt

    charrnn, gates = window.panels["charrnn"], window.panels["gates"]
    charrnn.open_model(str(tiny_model_file))
    qtbot.waitUntil(lambda: "tiny-lstm" in charrnn.sampler.source_combo.itemText(0), timeout=10_000)
    window.show_panel("gates")
    gates.text_edit.setPlainText("the cat sat on the mat.")
    gates.text_edit.setFocus()
    with qtbot.waitSignal(gates.gates_ready, timeout=30_000):  # typed into the text, then Ctrl+Return
        qtbot.keyClick(gates.text_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    gates.show_tab(gates.maps)  # the heatmaps: their cursor is the step too
    step = gates.cursor.step
    qtbot.keyClick(gates.text_edit, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert gates.cursor.step == step + 1
    gates.show_tab(gates.step_through)
    qtbot.keyClick(gates.text_edit, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert gates.cursor.step == step
    qtbot.keyClick(gates.text_edit, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # the char-RNN's: hidden
    qtbot.wait(200)
    assert charrnn._training_state == "none"
    assert gates.text_edit.toPlainText() == "the cat sat on the mat."  # no key went into the text
    window.show_panel("charrnn")
    qtbot.keyClick(charrnn.sampler.prime_edit, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert gates.cursor.step == step  # the lab's keys rest while it is hidden


def test_a_write_that_fails_halfway_leaves_the_earlier_file(tmp_path):
    """Exports (plots, pages, saved frames) go through write_whole: a full disk part-way through
    leaves the file that was there before, and no temporary file."""
    from rnnstudio.ui.export import write_whole

    path = tmp_path / "plot.svg"
    path.write_text("<svg>the earlier export</svg>", encoding="utf-8")

    def half_then_disk_full(tmp):
        tmp.write_text("<svg>half", encoding="utf-8")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_whole(path, half_then_disk_full)
    assert path.read_text(encoding="utf-8") == "<svg>the earlier export</svg>"
    assert [p.name for p in tmp_path.iterdir()] == ["plot.svg"]
    write_whole(path, lambda tmp: tmp.write_text("<svg>new</svg>", encoding="utf-8"))
    assert path.read_text(encoding="utf-8") == "<svg>new</svg>"


def test_unwritable_export_is_reported_not_raised(window, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    window.show_panel("gates")
    assert window.export_panel_plots("gates", str(blocker / "inside")) == []
    assert "could not be written" in window.statusBar().currentMessage()
    assert os.path.isfile(blocker)


def test_presenter_mode_enlarges_plots_and_tucks_advanced_controls_away(window):
    import pyqtgraph as pg

    charrnn = window.panels["charrnn"]
    window.show_panel("charrnn")
    axis = charrnn.loss_plot.plot.getAxis("bottom")
    normal = axis.style["tickFont"].pointSize() if axis.style.get("tickFont") else 0
    assert charrnn.training.lr_spin.isVisibleTo(window)
    window.resize(1600, 900)
    window.presenter_screen_height = 1080  # the sizes presenter mode is designed at
    controls_width = charrnn.columns.sizes()[0]
    window.presenter_action.trigger()  # the F5 key's action
    try:
        assert window.presenter
        assert charrnn.columns.sizes()[0] > controls_width + 100  # room for the settings in large type
        training = charrnn.training
        assert not training.lr_spin.isVisibleTo(window) and not training.continue_check.isVisibleTo(window)
        assert charrnn.training.layers_spin.isVisibleTo(window)  # the basic controls stay
        hints = [w for w in window.findChildren(pg.QtWidgets.QLabel) if w.property("hint")]
        assert hints and not any(h.isVisibleTo(window) for h in hints)
        assert axis.style["tickFont"].pointSize() > max(normal, 12)
    finally:
        window.presenter_action.trigger()
    assert not window.presenter and charrnn.training.lr_spin.isVisibleTo(window)
    assert charrnn.columns.sizes()[0] == controls_width


def test_presenter_mode_fits_a_1280_pixel_projector(window, qtbot):
    """Large type must not push the window past a classroom projector's 1280 pixels: long
    status lines wrap, and rows of controls and caption words flow onto further lines."""
    from PySide6.QtWidgets import QApplication

    charrnn = window.panels["charrnn"]
    charrnn.loss_plot.say("<b>finished</b>: iteration 2,000 of 2,000 · batch loss 1.534 · validation "
                                   "1.611 nats/char · 104,000 characters/s · learning rate 0.0002")
    window.presenter_screen_height = 800  # a 1280 x 800 projector
    window.set_presenter(True)
    try:
        for name in window.panels:
            window.show_panel(name)
            QApplication.processEvents()
            assert window.minimumSizeHint().width() <= 1280, name
    finally:
        window.set_presenter(False)
    assert window.minimumSizeHint().width() <= 1024  # and a small laptop's screen in normal type


def test_a_first_run_fits_the_screen_it_opens_on(window):
    """The default 1280 x 800 would run off a 1366 x 768 laptop's screen (here: the offscreen
    platform's 800 x 800 screen); a first run's window fits the room there and is centred."""
    from rnnstudio.ui.app import fit_to_screen

    assert not window.geometry_restored  # the fixture's settings file is new
    room = window.screen().availableGeometry()
    assert window.width() > room.width()  # the default size, too wide here
    fit_to_screen(window)
    assert room.contains(window.frameGeometry())
    assert abs(window.frameGeometry().center().x() - room.center().x()) <= 1


def test_the_printable_cards_are_in_the_help_menu(window):
    """The captioning lesson's cards: Help opens the PDFs among the app's resources."""
    from rnnstudio.paths import resources_dir

    titles = [a.text() for m in window.menuBar().findChildren(QMenu) for a in m.actions()]
    for paper in ("A4", "Letter"):
        assert f"Printable shape &cards ({paper} PDF)" in titles
        assert window.cards_pdf(paper) == resources_dir() / f"shape-cards-{paper.lower()}.pdf"


def test_the_printable_cards_ship_with_the_app():
    """Found where the app looks, in a checkout and in a regular install alike."""
    from rnnstudio.paths import resources_dir

    for paper in ("a4", "letter"):
        pdf = resources_dir() / f"shape-cards-{paper}.pdf"
        assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")


def test_every_control_explains_itself_in_a_tooltip(window):
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
        QSlider,
        QTabBar,
        QTableWidget,
    )

    missing = []
    for name, panel in window.panels.items():
        for kind in (QAbstractButton, QAbstractSpinBox, QComboBox, QSlider, QLineEdit):
            for control in panel.findChildren(kind):
                parent = control.parent()
                if isinstance(parent, (QAbstractSpinBox, QComboBox, QTabBar, QTableWidget)):
                    continue  # Qt's own parts of a control: its line edit, arrows, corner button
                if not control.toolTip():
                    missing.append(f"{name}: {type(control).__name__} {getattr(control, 'text', lambda: '')()!r}")
    assert missing == []


def laid_out(layout):
    """The widgets a layout places, those of the layouts nested in it included."""
    for index in range(layout.count()):
        item = layout.itemAt(index)
        if item.widget() is not None:
            yield item.widget()
        elif item.layout() is not None:
            yield from laid_out(item.layout())


def overlapping_widgets(root) -> list[tuple[str, str]]:
    """Pairs of visible widgets, laid out side by side by the same layout, that overlap:
    what a layout does when the window is smaller than its contents need."""
    from PySide6.QtWidgets import QWidget

    pairs = []
    for parent in [root, *root.findChildren(QWidget)]:
        layout = parent.layout()
        if layout is None or not parent.isVisible():
            continue
        children = [w for w in laid_out(layout) if w.isVisible()]
        for k, a in enumerate(children):
            for b in children[k + 1:]:
                if a.geometry().intersects(b.geometry()):
                    pairs.append(tuple(f"{type(w).__name__} {getattr(w, 'text', lambda: '')()} {w.geometry().getRect()}"
                                       for w in (a, b)))
    return pairs


def test_nothing_overlaps_on_a_laptops_screen(window, qtbot):
    """A 1280 x 720 laptop screen leaves the window about 680 pixels; a 1366 x 768 projector,
    737 in presenter type. Every panel, and every page of those with pages, still lays its
    widgets out without one drawn over another."""
    from PySide6.QtWidgets import QApplication

    def check(mode: str) -> None:
        for name, panel in window.panels.items():
            window.show_panel(name)
            tabs = getattr(panel, "tabs", None)
            pages = [tabs.widget(k) for k in range(tabs.count())] if tabs is not None else [None]
            for page in pages:
                if page is not None:
                    panel.show_tab(page)
                QApplication.processEvents()
                assert overlapping_widgets(panel) == [], (mode, name, page)

    window.resize(1280, 680)
    check("normal")
    window.presenter_screen_height = 768
    window.resize(1280, 737)
    window.set_presenter(True)
    try:
        check("presenter")
    finally:
        window.set_presenter(False)


def test_the_first_run_says_where_to_start_and_later_runs_do_not(qtbot, tmp_path, monkeypatch):
    from rnnstudio.ui.app import build_window
    from rnnstudio.ui.main_window import WELCOME

    monkeypatch.setenv("RNNSTUDIO_SETTINGS", str(tmp_path / "settings.json"))  # none saved yet
    first = build_window(device="cpu", torch_threads=1)
    qtbot.addWidget(first)
    first.show()
    message = first.tabs.currentWidget().message
    assert first.first_run and message.kind == "info" and message.text() == WELCOME
    assert "Lessons" in WELCOME and "F5" in WELCOME
    first.close()  # saves the settings: the next run is not a first one
    again = build_window(device="cpu", torch_threads=1)
    qtbot.addWidget(again)
    again.show()
    try:
        assert not again.first_run and again.tabs.currentWidget().message.text() != WELCOME
    finally:
        again.remember = False
        again.close()


def test_the_samples_lesson_in_presenter_mode_on_a_small_projector_overlaps_nothing(window, qtbot, tiny_model_file):
    """1366 x 768 in presenter type, the lesson's sentence shown and its four samples in the
    timeline: the sampling controls had been drawn under the sample view."""
    from rnnstudio.train.progress import TimelineSample

    panel = window.panels["charrnn"]
    window.show_panel("charrnn")
    window.presenter_screen_height = 768
    window.resize(1280, 737)  # what a first run fits to such a screen
    window.set_presenter(True)
    try:
        panel.sampler.status.setText("Opened shakespeare-lstm.safetensors: LSTM 2 × 256, 880,460 parameters, "
                                    "trained 6,000 iterations, validation 1.453 nats/char.")
        panel.message.show_message("<b>Lesson: Samples at 100 / 300 / 700 / 2000 iterations.</b> Watch the "
                                   "timeline: gibberish at 100, words at 300, phrases at 700, lines at 2000.", "info")
        panel.loss_plot.say("<b>finished</b>: iteration 2,000 of 2,000 · batch loss 1.678 · validation "
                                     "1.772 nats/char · 86,628 characters/s · learning rate 0.0002")
        for iteration in (100, 300, 700, 2000):
            panel.timeline.add(TimelineSample(iteration, "a sample of the text " * 10, 2.44))
        qtbot.wait(200)  # the layouts settle in turn
        assert overlapping_widgets(panel) == []
        # Then a sample: its view takes more lines, and the box around it asks the splitter for them.
        panel.open_model(str(tiny_model_file))
        qtbot.waitUntil(lambda: tiny_model_file.stem in panel.sampler.source_combo.itemText(0), timeout=10_000)
        panel.message.dismiss()
        with qtbot.waitSignal(panel.sample_finished, timeout=30_000):
            panel.sample()
        qtbot.wait(200)
        assert overlapping_widgets(panel) == []
    finally:
        window.set_presenter(False)


def test_a_lesson_titled_as_a_question_gets_no_full_stop_after_it(window):
    from rnnstudio.ui.lessons import Lesson

    window.panels["charrnn"].message.dismiss()
    window.start_lesson(Lesson("How good is it?", "visual-question-answering", "Watch.", lambda _window: None))
    text = window.tabs.currentWidget().message.text()
    assert "<b>Lesson: How good is it?</b> Watch." in text and "?." not in text
