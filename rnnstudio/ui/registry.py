"""The panels' Qt side, read from rnnstudio.panels: each entry's widget class, imported from
its dotted path, and the lessons the classes declare, in the lecture's outline."""

from __future__ import annotations

import dataclasses
from importlib import import_module

from rnnstudio.panels import PANELS, PanelEntry
from rnnstudio.ui.lessons import WINDOW_LESSONS, Lesson, Part, in_outline


def panel_class(entry: PanelEntry) -> type:
    """The widget class `entry.widget` names; it must declare that very entry."""
    module, _, name = entry.widget.rpartition(".")
    cls = getattr(import_module(module), name)
    if getattr(cls, "entry", None) != entry:
        raise TypeError(f"{entry.widget} does not declare the registry's entry for the panel {entry.key!r}")
    return cls


def panel_classes() -> dict[str, type]:
    """key -> widget class, in the order of the tabs."""
    return {entry.key: panel_class(entry) for entry in PANELS}


def lessons() -> list[Lesson]:
    """The window's own lessons, then every panel's, each knowing its panel's key."""
    declared = [dataclasses.replace(lesson, panel=key)
                for key, cls in panel_classes().items() for lesson in cls.lessons]
    return [*WINDOW_LESSONS, *declared]


def lesson_outline() -> list[tuple[Part, list[Lesson]]]:
    """The Lessons menu: the lecture's parts, each with its lessons in the order of its ideas."""
    return in_outline(lessons())


def lesson_named(title: str) -> Lesson:
    """The lesson with this title (for tests and the README's pictures)."""
    return next(lesson for lesson in lessons() if lesson.title == title)
