"""Questions about a shapes-world scene, answered from its ground truth (docs/DATA.md, the shapes world).

Every answer is one word: `yes`/`no`, a colour, a shape, or a count written as a digit
(`0` to `3`). A question is only asked when the scene answers it without doubt:

- colour: "what color is the circle?", "what is the color of the shape?": only when every
  shape the question can mean has the same colour;
- shape: "what is the red shape?", "what shape is in the image?": likewise for the kind;
- yes/no: presence, in easy-VQA's eight forms, negated ones included ("is there not a
  blue shape?" is answered `yes` when there is none), also for a colour and a shape
  together ("is there a blue triangle?");
- count: "how many shapes are there?", "how many red shapes are there?", "how many
  circles are there?", "how many red circles are there?";
- relation: "what color is the shape left of the triangle?", "what shape is above the
  red circle?", "is the red circle left of the triangle?". The shape referred to must
  be the only one of its description, exactly one other shape must lie clearly on that
  side (the larger of the horizontal and vertical distances decides, as in captions, and
  it must be clearly the larger), and no third shape may lie even loosely on that side.

Questions about a single shape use the same generator: `single_shape_scene` draws one
easy-VQA-like shape at sizes, positions and slight rotations easy-VQA never shows.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from rnnstudio.data.shapes import COLORS, SHAPES, Scene, Shape

QUESTION_TYPES = ("colour", "shape", "yes/no", "count", "relation")
COUNT_ANSWERS = ("0", "1", "2", "3")
RELATIONS = ("left of", "right of", "above", "below")

# easy-VQA's own forms (its generator, word for word); {x} is "red shape", "circle" or
# "red circle". The negated forms are answered yes when there is none.
PRESENCE_FORMS = (
    ("is there a {x}?", False),
    ("is there a {x} in the image?", False),
    ("does the image contain a {x}?", False),
    ("is a {x} present?", False),
    ("is there not a {x}?", True),
    ("is there not a {x} in the image?", True),
    ("does the image not contain a {x}?", True),
    ("is no {x} present?", True),
)
COLOUR_FORMS = ("what color is the {x}?", "what is the color of the {x}?")
SHAPE_OF_COLOUR_FORMS = ("what is the {c} shape?",)
WHICH_SHAPE_FORMS = ("what shape is in the image?", "what shape is present?", "what shape does the image contain?")
RELATION_COLOUR_FORMS = ("what color is the shape {r} the {x}?", "what is the color of the shape {r} the {x}?")
RELATION_SHAPE_FORMS = ("what shape is {r} the {x}?", "what is the shape {r} the {x}?")
RELATION_YES_NO_FORM = "is the {a} {r} the {b}?"
COUNT_FORMS = ("how many {p} are there?", "how many {p} are in the image?")

# Relations: how much larger the deciding distance must be than the other, and how far.
_CLEAR_RATIO = 1.5
_CLEAR_DISTANCE = 0.12
_LOOSE_RATIO = 0.6
_LOOSE_DISTANCE = 0.04


@dataclass(frozen=True)
class SceneQuestion:
    question: str
    answer: str
    kind: str  # one of QUESTION_TYPES
    # Relations: the shapes to look at, in order: the one referred to, then the other.
    focus: tuple[Shape, ...] = ()


def answers() -> list[str]:
    """Every answer a scene question can have, in a fixed order."""
    return ["yes", "no", *COLORS, *SHAPES, *COUNT_ANSWERS]


def question_words() -> list[str]:
    """Every word the generator's questions use, sorted."""
    forms = [f for f, _ in PRESENCE_FORMS] + [*COLOUR_FORMS, *SHAPE_OF_COLOUR_FORMS, *WHICH_SHAPE_FORMS,
                                             *RELATION_COLOUR_FORMS, *RELATION_SHAPE_FORMS, RELATION_YES_NO_FORM,
                                             *COUNT_FORMS, *RELATIONS, *COLORS, *SHAPES, "shape"]
    words = {s + "s" for s in (*SHAPES, "shape")}
    for form in forms:
        words |= set(re.findall(r"[a-z]+", re.sub(r"\{\w\}", " ", form)))
    return sorted(words)


# --- describing shapes --------------------------------------------------------------------


def _matches(shape: Shape, color: str | None, kind: str | None) -> bool:
    return (color is None or shape.color == color) and (kind is None or shape.kind == kind)


def _noun(color: str | None, kind: str | None) -> str:
    return f"{color + ' ' if color else ''}{kind or 'shape'}"


def _unique_descriptions(scene: Scene, shape: Shape) -> list[tuple[str | None, str | None]]:
    """The (colour, kind) descriptions that pick out `shape` alone, shortest first."""
    out = []
    for color, kind in ((None, shape.kind), (shape.color, None), (shape.color, shape.kind)):
        if sum(_matches(s, color, kind) for s in scene.shapes) == 1:
            out.append((color, kind))
    return out


def side(a: Shape, b: Shape) -> tuple[str, float, float]:
    """Where a lies relative to b: (relation, deciding distance, other distance)."""
    dx, dy = b.x - a.x, b.y - a.y
    if abs(dx) >= abs(dy):
        return ("left of" if dx > 0 else "right of"), abs(dx), abs(dy)
    return ("above" if dy > 0 else "below"), abs(dy), abs(dx)


def _clearly(a: Shape, b: Shape, rel: str) -> bool:
    found, main, other = side(a, b)
    return found == rel and main >= _CLEAR_DISTANCE and main >= _CLEAR_RATIO * other


def _loosely(a: Shape, b: Shape, rel: str) -> bool:
    """a lies at all towards `rel` of b, as a person might still say."""
    dx, dy = b.x - a.x, b.y - a.y  # positive: a is left of / above b
    along, across = {"left of": (dx, dy), "right of": (-dx, dy), "above": (dy, dx), "below": (-dy, dx)}[rel]
    return along > _LOOSE_DISTANCE and along >= _LOOSE_RATIO * abs(across)


def _relation_target(scene: Scene, ref: Shape, rel: str) -> Shape | None:
    """The one other shape clearly `rel` of `ref`, when no third one is even loosely so."""
    others = [s for s in scene.shapes if s is not ref]
    loose = [s for s in others if _loosely(s, ref, rel)]
    if len(loose) == 1 and _clearly(loose[0], ref, rel):
        return loose[0]
    return None


# --- every question a scene answers -------------------------------------------------------


def questions_by_type(scene: Scene) -> dict[str, list[SceneQuestion]]:
    """Every question the scene answers without doubt, by type (some types may be empty)."""
    shapes = scene.shapes
    out: dict[str, list[SceneQuestion]] = {t: [] for t in QUESTION_TYPES}

    def add(kind: str, question: str, answer: str, focus: tuple = ()) -> None:
        out[kind].append(SceneQuestion(question, answer, kind, focus))

    colours_of = {k: {s.color for s in shapes if s.kind == k} for k in SHAPES}
    kinds_of = {c: {s.kind for s in shapes if s.color == c} for c in COLORS}
    all_colours = {s.color for s in shapes}
    all_kinds = {s.kind for s in shapes}

    # colour
    for kind, colours in colours_of.items():
        if len(colours) == 1:
            for form in COLOUR_FORMS:
                add("colour", form.format(x=kind), next(iter(colours)))
    if len(all_colours) == 1:
        for form in COLOUR_FORMS:
            add("colour", form.format(x="shape"), next(iter(all_colours)))
    # shape
    for colour, kinds in kinds_of.items():
        if len(kinds) == 1:
            for form in SHAPE_OF_COLOUR_FORMS:
                add("shape", form.format(c=colour), next(iter(kinds)))
    if len(all_kinds) == 1:
        for form in WHICH_SHAPE_FORMS:
            add("shape", form, next(iter(all_kinds)))
    # yes/no: presence
    targets = [(c, None) for c in COLORS] + [(None, k) for k in SHAPES] + [(c, k) for c in COLORS for k in SHAPES]
    for colour, kind in targets:
        present = any(_matches(s, colour, kind) for s in shapes)
        for form, negated in PRESENCE_FORMS:
            add("yes/no", form.format(x=_noun(colour, kind)), "yes" if present != negated else "no")
    # count
    for colour, kind in [(None, None), *targets]:
        n = sum(_matches(s, colour, kind) for s in shapes)
        for form in COUNT_FORMS:
            add("count", form.format(p=_noun(colour, kind) + "s"), str(n))
    # relation
    for ref in shapes:
        for colour, kind in _unique_descriptions(scene, ref):
            ref_noun = _noun(colour, kind)
            for rel in RELATIONS:
                target = _relation_target(scene, ref, rel)
                if target is None:
                    continue
                for form in RELATION_COLOUR_FORMS:
                    add("relation", form.format(r=rel, x=ref_noun), target.color, (ref, target))
                for form in RELATION_SHAPE_FORMS:
                    add("relation", form.format(r=rel, x=ref_noun), target.kind, (ref, target))
    for a in shapes:
        for b in shapes:
            if a is b:
                continue
            for a_colour, a_kind in _unique_descriptions(scene, a):
                for b_colour, b_kind in _unique_descriptions(scene, b):
                    for rel in RELATIONS:
                        if _clearly(a, b, rel):
                            answer = "yes"
                        elif not _loosely(a, b, rel) and any(_clearly(a, b, r) for r in RELATIONS):
                            answer = "no"
                        else:
                            continue
                        add("relation", RELATION_YES_NO_FORM.format(a=_noun(a_colour, a_kind), r=rel,
                                                                    b=_noun(b_colour, b_kind)), answer, (b, a))
    return out


def all_questions(scene: Scene) -> list[SceneQuestion]:
    return [q for qs in questions_by_type(scene).values() for q in qs]


def _balanced_pick(rng: np.random.Generator, candidates: list[SceneQuestion]) -> SceneQuestion:
    """One question, its answer drawn first (uniformly over the answers on offer), so that
    `no` is as likely as `yes` and a count of 0 as one of 1."""
    by_answer: dict[str, list[SceneQuestion]] = {}
    for q in candidates:
        by_answer.setdefault(q.answer, []).append(q)
    keys = sorted(by_answer)
    group = by_answer[keys[int(rng.integers(len(keys)))]]
    return group[int(rng.integers(len(group)))]


DEFAULT_TYPE_WEIGHTS = {"colour": 0.2, "shape": 0.15, "yes/no": 0.25, "count": 0.2, "relation": 0.2}


def sample_questions(scene: Scene, rng: np.random.Generator, n: int,
                     weights: dict[str, float] | None = None) -> list[SceneQuestion]:
    """`n` questions about the scene: a type by `weights` (among the types the scene
    answers), then a question of that type with its answer balanced."""
    by_type = {k: v for k, v in questions_by_type(scene).items() if v}
    weights = weights or DEFAULT_TYPE_WEIGHTS
    kinds = [k for k in by_type if weights.get(k, 0) > 0] or list(by_type)
    p = np.array([weights.get(k, 1.0) for k in kinds], float)
    p = p / p.sum() if p.sum() > 0 else np.full(len(kinds), 1 / len(kinds))
    out = []
    for _ in range(n):
        kind = kinds[int(rng.choice(len(kinds), p=p))]
        out.append(_balanced_pick(rng, by_type[kind]))
    return out


def one_per_type(scene: Scene, rng: np.random.Generator) -> list[SceneQuestion]:
    """A question of each type the scene answers (for measuring accuracy by type)."""
    return [_balanced_pick(rng, qs) for qs in questions_by_type(scene).values() if qs]


# --- single easy-VQA-like shapes ----------------------------------------------------------


def single_shape_scene(rng: np.random.Generator) -> Scene:
    """One shape on a pale tinted background, like easy-VQA's, but drawn at sizes from tiny
    to filling most of the picture, anywhere in it, turned a little (up to 15 degrees)."""
    kind = str(rng.choice(SHAPES))
    color = str(rng.choice(list(COLORS)))
    radius = float(math.exp(rng.uniform(math.log(0.07), math.log(0.42))))
    aspect = float(math.exp(rng.uniform(math.log(0.35), math.log(2.8)))) if kind == "rectangle" else 1.0
    margin = radius * 0.9  # a corner may touch the edge, as in easy-VQA
    lo, hi = min(margin, 0.5), max(1 - margin, 0.5)
    x, y = float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi))
    rotation = float(rng.uniform(-15, 15)) if kind != "circle" else 0.0
    background = tuple(int(v) for v in rng.integers(215, 256, size=3))
    size = "large" if radius > 0.14 else "small"
    return Scene((Shape(kind, color, size, x, y, rotation, radius, aspect),), background)
