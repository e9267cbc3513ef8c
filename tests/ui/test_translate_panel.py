"""The translation panel, through the real worker, on a tiny, really trained translator."""

from __future__ import annotations

import numpy as np
import pytest
from translate_helpers import train_tiny_translator

from rnnstudio.worker.translate_messages import Translation

WAIT_MS = 30_000


@pytest.fixture
def shipped_translator(tmp_path, monkeypatch):
    from rnnstudio.data.translation import data_path

    real_data = data_path()  # before the window fixture points the checkout at tmp_path
    monkeypatch.setattr("rnnstudio.data.translation.data_path", lambda: real_data)
    folder = tmp_path / "models"
    folder.mkdir(exist_ok=True)
    train_tiny_translator(folder / "fr-en-attention.safetensors")
    return folder


@pytest.fixture
def panel(shipped_translator, window, qtbot):
    p = window.panels["translate"]
    p.curve_limit = 40
    window.show_panel("translate")
    qtbot.waitUntil(lambda: p.models is not None and p.translating.result is not None, timeout=WAIT_MS)
    return p


def translated(panel, qtbot, action) -> Translation:
    with qtbot.waitSignal(panel.translating.translated, timeout=WAIT_MS) as got:
        action()
    return got.args[0]


def test_a_sentence_is_translated_with_its_attention_beam_and_shape(panel, qtbot):
    tab = panel.translating
    r = translated(panel, qtbot, lambda: panel.translate("Je suis content."))
    assert r.translation == "I am happy." and tab.result is r
    tab.show_all_words()
    assert [tab.words.itemAt(i).widget().text() for i in range(tab.words.count())] == r.words
    assert tab.attention_view.image.image.shape == (len(r.tokens), len(r.source_tokens))
    assert tab.attention_view.numbers.values.shape == r.attention.shape  # each cell's weight written in it
    assert tab.nbest_list.count() == len(r.nbest) and tab.beam_tree.steps
    steps = tab.shape_diagram.steps()  # read then write: the French in, then the English out
    assert [s.x for s in steps[:4]] == r.source_tokens and all(s.y is None for s in steps[:4])
    assert [s.y for s in steps[4:]] == [*r.words, "<eos>"] and all(s.x is None for s in steps[4:])
    tab.show_result(r)  # drawn live: the English steps appear with the words
    assert len(tab.shape_diagram.steps()) == 4
    assert "not shipped yet" in panel.message.text()  # the plain model is missing, and said so


def test_clicking_an_english_row_lights_its_french_words(panel, qtbot):
    view = panel.translating.attention_view
    translated(panel, qtbot, lambda: panel.translate("Une voiture rouge."))
    view.select_row(1)
    lit = view.lit_words()
    assert lit and lit[0] == int(np.argmax(view.attention[1])) and view.row_box.isVisible()
    assert [int(box.rect().x()) for box in view.column_boxes] == lit  # their columns framed
    assert panel.translating.result.source_tokens[lit[0]] in view.lit.text()


def test_the_newest_text_wins_and_the_controls_redecode_at_once(panel, qtbot):
    tab = panel.translating
    tab.text_box.setCurrentText("Il est grand.")
    tab.translate()
    tab.text_box.setCurrentText("Tu es prêt.")
    r = translated(panel, qtbot, tab.translate)
    qtbot.wait(300)
    assert tab.result.source == "Tu es prêt." and r.source == "Tu es prêt."
    r = translated(panel, qtbot, lambda: tab.width_spin.setValue(2))
    assert r.width == 2 and all(len(step) <= 2 for step in r.beam) and len(r.nbest) == 2
    r = translated(panel, qtbot, lambda: tab.penalty_spin.setValue(1.0))
    assert r.length_penalty == 1.0


def test_a_test_pair_shows_its_reference_and_sentence_bleu(panel, qtbot):
    tab = panel.translating
    assert tab.pair_combo.count() > 100  # the real test split's pairs, mostly beyond the tiny model's words
    tab.pair_combo.addItem("Je suis content.", ("Je suis content.", "I am very happy."))
    r = translated(panel, qtbot, lambda: tab.pair_combo.setCurrentIndex(tab.pair_combo.count() - 1))
    assert r.source == "Je suis content." and r.reference == "I am very happy."
    assert 0 < r.sentence_bleu < 100
    assert "sentence BLEU" in tab.reference_label.text()


def test_what_if_choose_another_word_and_the_rest_is_decoded_again(panel, qtbot):
    tab = panel.translating
    first = translated(panel, qtbot, lambda: panel.translate("Il est grand."))
    tab.show_all_words()
    tab.ask_next_words(1)
    qtbot.waitUntil(lambda: getattr(tab, "next_words", None) is not None, timeout=WAIT_MS)
    choices = tab.next_words.choices
    assert len(choices) == 5 and len(tab.menu.actions()) == 5 and choices[0][0] == first.tokens[1]
    r = translated(panel, qtbot, lambda: tab.menu.actions()[2].trigger())
    assert r.tokens[:2] == [first.tokens[0], choices[2][0]] and r.forced == 2


def test_teacher_forcing_against_free_running_on_a_pair(panel, qtbot):
    panel.forcing.pairs.insertItem(0, "tiny", ("Il est grand.", "He is happy."))
    panel.forcing.pairs.setCurrentIndex(0)
    panel._teacher_forcing()
    qtbot.waitUntil(lambda: panel.forcing.result is not None, timeout=WAIT_MS)
    f = panel.forcing.result
    assert len(panel.forcing.forced_curve.getData()[1]) == len(f.reference)
    assert f.diverges_at == 2 and panel.forcing.parting.isVisible() and panel.forcing.parting.value() == 3
    assert "free running" in panel.forcing.tokens_label.text()


def test_attention_or_not_and_the_bleu_curves_without_the_plain_model(panel, qtbot):
    tab = panel.attention_or_not
    panel._bottleneck()
    qtbot.waitUntil(lambda: "attention" in tab.side, timeout=WAIT_MS)
    assert "not shipped yet" in tab.without_label.text()
    tab.measure()
    qtbot.waitUntil(lambda: tab.curves is not None, timeout=WAIT_MS)
    assert list(tab.curves.curves) == ["attention"] and tab.curves.pairs == 40
    assert not tab.progress.isVisible() and tab.curves_button.isEnabled()


def test_training_in_the_app_draws_its_curves_and_its_model_translates(panel, qtbot):
    tab = panel.training
    panel.train_overrides = {"embed": 8, "batch_size": 8, "eval_every": 3, "valid_pairs": 4}
    tab.hidden_spin.setValue(16)
    tab.steps_spin.setValue(10)
    tab.pairs_spin.setValue(300)
    tab.start()
    qtbot.waitUntil(lambda: tab.state == "running", timeout=WAIT_MS)
    tab.control("pause")
    qtbot.waitUntil(lambda: tab.state == "paused", timeout=WAIT_MS)
    assert tab.pause_button.text() == "Resume"
    tab.control("resume")
    # The last step's events arrive one by one: its progress (which says "finished") before its evaluation.
    qtbot.waitUntil(lambda: tab.state == "finished" and len(tab.valid) == 4, timeout=WAIT_MS)
    tab.redraw()
    assert tab.iterations[-1] == 10 and len(tab.valid) == 4  # at 3, 6, 9 and the last
    assert len(tab.bleu_curve.getData()[1]) == 4
    role = panel.translating.role_combo
    role.setCurrentIndex(role.findData("trained"))
    qtbot.waitUntil(lambda: panel.translating.result.role == "trained", timeout=WAIT_MS)


def test_bad_input_is_an_inline_message_and_the_panel_goes_on(panel, qtbot):
    for text, fragment in (("", "nothing to translate"), ("I am happy today my friend", "English"),
                           ("😀 🚗", "knows none"), ("Je suis " * 250, "one sentence")):
        panel.translate(text)
        qtbot.waitUntil(lambda f=fragment: f in panel.message.text(), timeout=WAIT_MS)
    r = translated(panel, qtbot, lambda: panel.translate("Tu es content."))
    assert r.translation and not panel.message.isVisible()


def test_lessons_presenter_mode_and_settings(panel, qtbot):
    for lesson in panel.lessons:
        lesson.apply(panel)
    panel.set_presenter(True)
    r = translated(panel, qtbot, lambda: panel.translate("Une voiture rouge.", width=3))
    assert panel.translating.beam_tree.scale > 1
    panel.set_presenter(False)
    saved = panel.settings()
    assert saved["width"] == 3 and r.width == 3
    panel.apply_settings({"width": "odd", "tab": 99})
    assert panel.settings()["width"] == 3


def test_the_screenshot_command_shows_a_translated_sentence_with_its_attention(tmp_path):
    """`rnnstudio screenshot --panel translate`, for real, with the shipped model."""
    from cli_helpers import run_cli
    from PySide6.QtGui import QImage

    proc = run_cli("screenshot", "--panel", "translate", "--out", tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(tmp_path / "translate.png")).convertToFormat(QImage.Format.Format_RGB888)
    assert (image.width(), image.height()) == (1280, 800)
    pixels = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes()).reshape(-1, 3)
    reds = (pixels[:, 0] > 150) & (pixels[:, 1] < 140) & (pixels[:, 2] < 140)
    assert reds.mean() > 0.01  # the attention matrix's strong cells are drawn


def test_without_a_shipped_model_the_panel_says_so_and_every_button_is_safe(window, qtbot):
    p = window.panels["translate"]
    window.show_panel("translate")
    qtbot.waitUntil(lambda: "fr-en-attention" in p.message.text(), timeout=WAIT_MS)  # the missing file named
    for lesson in p.lessons:
        lesson.apply(p)
    p.attention_or_not.measure()
    p.forcing.compare()
    p.translating.ask_next_words(0)
    assert p.models is None and p.translating.result is None


def test_a_half_typed_word_is_a_hint_while_typing_and_an_error_on_enter(panel, qtbot):
    from PySide6.QtCore import Qt

    line = panel.translating.text_box.lineEdit()
    line.clear()
    qtbot.keyClicks(line, "Zq")  # on the way to a word: the model knows nothing yet
    qtbot.waitUntil(lambda: "keep typing" in panel.message.text(), timeout=WAIT_MS)
    assert panel.message.kind == "info" and "knows none of these words" in panel.message.text()
    qtbot.keyClick(line, Qt.Key.Key_Return)  # asked for on purpose: now it is an error
    qtbot.waitUntil(lambda: panel.message.kind == "error", timeout=WAIT_MS)
    line.clear()
    qtbot.keyClicks(line, "Je suis content.")
    qtbot.waitUntil(lambda: panel.translating.result.source == "Je suis content.", timeout=WAIT_MS)
    assert panel.message.kind == "" and "keep typing" not in panel.message.text()
