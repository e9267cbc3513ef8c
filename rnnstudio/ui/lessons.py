"""Lessons: one click sets a panel up for one idea of the lecture (docs/LECTURE-MAP.md).

Each lesson only moves controls a person could move and presses the buttons they would
press, so what the class sees is what the teacher could have done by hand. Each panel
declares its own lessons (`Panel.lessons`); the Lessons menu sets them in the lecture's
outline, part by part, each part's lessons in the order of the ideas they show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    title: str  # the menu entry, named by the idea it shows
    idea: str  # the key of that idea in OUTLINE
    says: str  # what to watch, for the status bar and the panel's message line
    apply: Callable  # apply(panel) sets its panel up; a lesson of the window's own: apply(window)
    panel: str | None = None  # the key of its panel, filled in by rnnstudio.ui.registry; None: the window's


@dataclass(frozen=True)
class Part:
    title: str
    ideas: tuple[str, ...]  # in the lecture's order


# The lecture's outline, as docs/LECTURE-MAP.md sets it out. Ideas the app does not show yet
# (video across frames, sentiment, translation) have their place, so their lessons fall into it.
OUTLINE = (
    Part("The basic RNN", ("shapes-of-sequences", "recurrence", "vanilla-rnn", "unrolled-graph",
                           "backpropagation-through-time", "samples-improve", "vanishing-exploding-gradients")),
    Part("LSTM", ("lstm-cell", "forget-gate-gradient")),
    Part("Language and vision tasks", ("image-captioning", "caption-quality", "visual-question-answering",
                                       "video", "sentiment", "translation")),
)
IDEAS = tuple(idea for part in OUTLINE for idea in part.ideas)

# The window's own lesson: the overview of the shapes is no panel's.
SHAPES_OF_SEQUENCES = Lesson(
    "One to many, many to one, many to many", "shapes-of-sequences",
    "Each panel works in one shape of sequence, drawn on its tab; the overview shows all five.",
    lambda window: window.show_sequence_shapes())
WINDOW_LESSONS = (SHAPES_OF_SEQUENCES,)


def in_outline(lessons) -> list[tuple[Part, list[Lesson]]]:
    """The lessons part by part, in the order of the ideas they show (stable otherwise); a
    lesson whose idea is not in the outline is a mistake, said here rather than left out."""
    unknown = [f"{lesson.title!r} ({lesson.idea!r})" for lesson in lessons if lesson.idea not in IDEAS]
    if unknown:
        raise ValueError(f"lessons show ideas not in the lecture's outline: {', '.join(unknown)}")
    ordered = sorted(lessons, key=lambda lesson: IDEAS.index(lesson.idea))
    return [(part, [lesson for lesson in ordered if lesson.idea in part.ideas]) for part in OUTLINE]
