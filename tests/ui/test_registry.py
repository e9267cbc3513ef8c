"""The panel registry (rnnstudio/panels.py): every panel it names appears on every surface that
lists the panels, so a half-registered panel fails here rather than at start-up or under
`rnnstudio screenshot --panel all`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rnnstudio.panels import PANEL_BY_KEY, PANEL_KEYS, PANELS, shipped_models
from rnnstudio.ui.lessons import IDEAS, OUTLINE
from rnnstudio.ui.panel import Panel
from rnnstudio.ui.registry import lesson_outline, lessons, panel_class
from rnnstudio.ui.sequence_shapes import SHAPE_BY_KEY

ENTRIES = pytest.mark.parametrize("entry", PANELS, ids=PANEL_KEYS)


def test_the_registry_names_each_panel_once():
    assert len(set(PANEL_KEYS)) == len(PANELS) and list(PANEL_BY_KEY) == list(PANEL_KEYS)
    assert len({entry.title for entry in PANELS}) == len(PANELS)
    assert all(key.isidentifier() and key.islower() for key in PANEL_KEYS)  # a file name and a --panel choice


def test_the_registry_loads_neither_qt_nor_torch():
    """The command line and the worker read it: importing it must not start Qt or PyTorch."""
    code = "import sys, rnnstudio.panels, rnnstudio.paths; print(sorted({'PySide6', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@ENTRIES
def test_each_entry_names_a_panel_class_that_declares_it(entry):
    cls = panel_class(entry)
    assert issubclass(cls, Panel) and cls.entry == entry and cls.title == entry.title
    assert cls.shape_note.endswith("."), "the shapes' overview shows it as a sentence"
    assert cls.prepare_screenshot is not Panel.prepare_screenshot, "rnnstudio screenshot would have nothing to show"
    for page in cls.page_exports:
        assert callable(getattr(cls, page.method, None)), page


@ENTRIES
def test_each_entry_names_a_shape_of_sequence(entry):
    assert entry.shape in SHAPE_BY_KEY


@ENTRIES
def test_each_shipped_model_the_registry_names_is_shipped(entry):
    from rnnstudio.paths import SHIPPED_MODELS, shipped_model

    if entry.task is None:
        return
    assert SHIPPED_MODELS[entry.task] == entry.model_file
    assert shipped_model(entry.task).is_file()


def test_two_panels_shipping_different_files_for_one_task_are_refused():
    from dataclasses import replace

    from rnnstudio.panels import CHARRNN, GATES

    with pytest.raises(ValueError, match="gates"):
        shipped_models((CHARRNN, replace(GATES, model_file="another.safetensors")))


@ENTRIES
def test_the_command_line_offers_each_panel(entry):
    from rnnstudio.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["--panel", entry.key]).panel == entry.key
    assert parser.parse_args(["gui", "--panel", entry.key]).panel == entry.key
    assert parser.parse_args(["screenshot", "--out", "shots", "--panel", entry.key]).panel == entry.key


def test_every_lesson_has_its_place_in_the_lectures_outline():
    assert [part.title for part in OUTLINE] == ["The basic RNN", "LSTM", "Language and vision tasks"]
    assert len(set(IDEAS)) == len(IDEAS)
    placed = [lesson.title for _part, part_lessons in lesson_outline() for lesson in part_lessons]
    assert sorted(placed) == sorted(lesson.title for lesson in lessons())  # each once, none left out
    assert len(set(placed)) == len(placed)
    for lesson in lessons():
        assert lesson.panel is None or lesson.panel in PANEL_KEYS
        assert not any(ch.isdigit() for ch in lesson.idea), "ideas by name, never by a row number"


def test_the_window_shows_every_registered_panel_on_every_surface(window, tmp_path):
    """The tabs, the View menu, the Lessons menu, the shapes' overview, the shortcuts' help,
    and the saved settings: each panel of the registry, in its order."""
    from PySide6.QtWidgets import QMenu

    assert list(window.panels) == list(PANEL_KEYS)
    for index, entry in enumerate(PANELS):
        panel = window.panels[entry.key]
        assert isinstance(panel, panel_class(entry)) and window.tabs.widget(index) is panel
        assert window.tabs.tabText(index) == entry.title
        assert window.tabs.tabToolTip(index).startswith(SHAPE_BY_KEY[entry.shape].name)
        window.show_panel(entry.key)
        assert window.current_panel_name() == entry.key
    titles = [a.text() for m in window.menuBar().findChildren(QMenu) for a in m.actions()]
    for entry in PANELS:
        assert f"Show {entry.title}" in titles
        assert f"In {entry.title}" in window.shortcuts_text()
    for page in (page for panel in window.panels.values() for page in panel.page_exports):
        assert page.menu_text in titles
    lessons_menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Lessons")
    parts = [a.menu() for a in lessons_menu.actions()]
    assert [m.title() for m in parts] == [f"Part &{n}: {part.title}" for n, part in enumerate(OUTLINE, start=1)]
    in_menu = [a.text() for m in parts for a in m.actions()]
    assert in_menu == [lesson.title for _part, part_lessons in lesson_outline() for lesson in part_lessons]
    assert not any("row" in text for text in in_menu)  # no internal row numbers
    window.show_sequence_shapes()  # each panel has a button on the card of its shape
    for entry in PANELS:
        card = next(c for c in window.shapes_dialog.cards if c.shape.key == entry.shape)
        assert entry.key in card.buttons and card.buttons[entry.key].text() == f"Show {entry.title}"
    window.shapes_dialog.close()


def test_each_panels_settings_come_back_on_the_next_run(window, qtbot, tmp_path):
    from rnnstudio.ui.app import build_window

    before = {key: panel.settings() for key, panel in window.panels.items()}
    for key, saved in before.items():
        json.dumps(saved)  # plain JSON values
        window.panels[key].apply_settings(saved)
        assert window.panels[key].settings() == saved, key
    window.close()
    saved = json.loads((tmp_path / "settings.json").read_text(encoding="utf-8"))
    assert set(saved["panels"]) == set(PANEL_KEYS)
    again = build_window(device="cpu", torch_threads=1)
    qtbot.addWidget(again)
    try:
        assert {key: panel.settings() for key, panel in again.panels.items()} == before
    finally:
        again.remember = False
        again.close()


def test_screenshot_all_takes_every_panel(monkeypatch, tmp_path):
    """`rnnstudio screenshot --panel all` asks for each registered panel (each one's own
    preparation is run for real in tests/ui/test_screenshot.py)."""
    from rnnstudio.cli import main

    asked = []
    monkeypatch.setattr("rnnstudio.ui.screenshot.take_screenshots",
                        lambda out, panels, size, presenter=False: asked.extend(panels) or [])
    assert main(["screenshot", "--out", str(tmp_path), "--panel", "all"]) == 0
    assert asked == list(PANEL_KEYS)
