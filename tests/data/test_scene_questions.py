"""Questions about shapes-world scenes, answered from the truth, and only when unambiguous."""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

from rnnstudio.data.scene_questions import (
    QUESTION_TYPES,
    all_questions,
    answers,
    one_per_type,
    question_words,
    questions_by_type,
    sample_questions,
    side,
    single_shape_scene,
)
from rnnstudio.data.shapes import COLORS, SHAPES, Scene, Shape, random_scene, render

RED_CIRCLE = Shape("circle", "red", "large", 0.2, 0.5, 0.0, 0.15)
BLUE_TRIANGLE = Shape("triangle", "blue", "small", 0.8, 0.5, 0.0, 0.1)


def qa(scene: Scene) -> dict[str, str]:
    return {q.question: q.answer for q in all_questions(scene)}


def test_contract_forms_on_a_known_scene():
    asked = qa(Scene((RED_CIRCLE, BLUE_TRIANGLE)))
    expected = {
        "how many shapes are there?": "2",
        "how many red shapes are there?": "1",
        "how many green shapes are there?": "0",
        "how many circles are there?": "1",
        "how many rectangles are there?": "0",
        "is there a blue triangle?": "yes",
        "is there a red triangle?": "no",
        "is there not a blue triangle?": "no",
        "does the image not contain a green shape?": "yes",
        "is there a circle in the image?": "yes",
        "what color is the triangle?": "blue",
        "what is the color of the circle?": "red",
        "what is the red shape?": "circle",
        "what color is the shape left of the triangle?": "red",
        "what shape is right of the red circle?": "triangle",
        "what is the shape right of the circle?": "triangle",
        "is the red circle left of the triangle?": "yes",
        "is the red circle right of the blue triangle?": "no",
        "is the triangle above the circle?": "no",
    }
    for question, answer in expected.items():
        assert asked.get(question) == answer, question
    # the two shapes differ in colour and kind: nothing may ask for "the" colour or kind of all
    assert "what color is the shape?" not in asked
    assert "what shape is in the image?" not in asked
    # nothing lies above or below the triangle
    assert not any(q.startswith("what") and "above" in q for q in asked)


def test_ambiguous_relations_are_not_asked():
    # two shapes left of the triangle: "the shape left of the triangle" means nothing
    scene = Scene((RED_CIRCLE, Shape("rectangle", "green", "small", 0.35, 0.2, 0.0, 0.1), BLUE_TRIANGLE))
    asked = qa(scene)
    assert "what color is the shape left of the triangle?" not in asked
    # two red shapes: "the red shape" is not one shape, so it is no reference point
    twins = Scene((RED_CIRCLE, Shape("circle", "red", "small", 0.5, 0.2, 0.0, 0.1), BLUE_TRIANGLE))
    asked = qa(twins)
    assert not any("the red shape?" in q or "the red circle?" in q for q in asked if " of the " in q or "above" in q)
    assert asked["how many red circles are there?"] == "2"
    assert asked["what color is the circle?"] == "red"  # both circles are red: the colour is clear
    # a shape nearly diagonal from the reference is neither clearly left nor clearly above
    diagonal = Scene((Shape("circle", "red", "large", 0.3, 0.3, 0.0, 0.1), Shape("triangle", "blue", "small", 0.7, 0.68, 0.0, 0.1)))
    assert not questions_by_type(diagonal)["relation"]


def test_random_scenes_answer_consistently_with_their_truth():
    words, known_answers = set(question_words()), set(answers())
    seen_types = Counter()
    for seed in range(150):
        scene = random_scene(np.random.default_rng([3, seed]))
        by_type = questions_by_type(scene)
        for kind, questions in by_type.items():
            seen_types[kind] += bool(questions)
            for q in questions:
                assert q.kind == kind and q.answer in known_answers, q
                assert set(re.findall(r"[a-z]+", q.question)) <= words, q
        truth = Counter((s.color, s.kind) for s in scene.shapes)
        for q in by_type["count"]:
            m = re.fullmatch(r"how many (?:(\w+) )?(\w+)s are (?:there|in the image)\?", q.question)
            colour, kind = (m.group(1), m.group(2))
            want = sum(n for (c, k), n in truth.items() if (colour is None or c == colour) and (kind == "shape" or k == kind))
            assert q.answer == str(want), q
        for q in by_type["relation"]:
            m = re.fullmatch(r"what (?:color is|is the color of|shape is|is) the shape (left of|right of|above|below) the (.+)\?", q.question) \
                or re.fullmatch(r"what shape is (left of|right of|above|below) the (.+)\?", q.question)
            if m:
                rel, ref = m.groups()
                named = [s for s in scene.shapes if all(w in (s.color, s.kind, "shape") for w in ref.split())]
                assert len(named) == 1, q
                targets = [s for s in scene.shapes if s is not named[0] and side(s, named[0])[0] == rel]
                assert q.answer in {t.color for t in targets} | {t.kind for t in targets}, q
    assert all(seen_types[k] > 0 for k in QUESTION_TYPES)


def test_sampled_questions_are_balanced_and_typed():
    rng = np.random.default_rng(0)
    yes_no, counts = Counter(), Counter()
    for _ in range(300):
        scene = random_scene(rng)
        for q in sample_questions(scene, rng, 4):
            if q.kind == "yes/no":
                yes_no[q.answer] += 1
            if q.kind == "count":
                counts[q.answer] += 1
        for q in one_per_type(scene, rng):
            assert q.kind in QUESTION_TYPES
    assert abs(yes_no["yes"] - yes_no["no"]) < 0.15 * sum(yes_no.values())
    assert set(counts) == {"0", "1", "2", "3"}
    only_relations = sample_questions(Scene((RED_CIRCLE, BLUE_TRIANGLE)), rng, 20, {"relation": 1.0})
    assert {q.kind for q in only_relations} == {"relation"}
    # a single shape has no relations: other types stand in
    lone = sample_questions(Scene((RED_CIRCLE,)), rng, 5, {"relation": 1.0})
    assert len(lone) == 5 and "relation" not in {q.kind for q in lone}


def test_single_shapes_vary_beyond_easy_vqa():
    rng = np.random.default_rng(1)
    radii, turns = [], []
    for _ in range(300):
        scene = single_shape_scene(rng)
        (s,) = scene.shapes
        assert s.kind in SHAPES and s.color in COLORS
        assert abs(s.rotation) <= 15 and (s.kind != "circle" or s.rotation == 0)
        assert 0 <= s.x <= 1 and 0 <= s.y <= 1
        assert all(215 <= c <= 255 for c in scene.background)
        radii.append(s.radius)
        turns.append(s.rotation)
    assert min(radii) < 0.09 and max(radii) > 0.35
    assert max(turns) > 10 and min(turns) < -10
    scene = single_shape_scene(np.random.default_rng(5))
    img = render(scene, 64)
    colour = np.array(COLORS[scene.shapes[0].color])
    assert (np.abs(img.astype(int) - colour).sum(axis=2) < 20).sum() > math.pi * (scene.shapes[0].radius * 64) ** 2 * 0.2
    asked = qa(scene)
    assert asked["how many shapes are there?"] == "1"
    assert asked["what shape is in the image?"] == scene.shapes[0].kind
