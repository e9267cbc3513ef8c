"""The shapes world: scenes, captions, pictures, grading and the printable cards."""

from __future__ import annotations

import numpy as np
import pytest

from rnnstudio.data.shapes import (
    COLORS, GRADES, SHAPES, Scene, Shape, caption_for, card_sheet, grade, object_f1, parse_caption,
    random_scene, render, soft_f1, write_pdf,
)


def scene_of(*shapes) -> Scene:
    return Scene(tuple(shapes))


RED_CIRCLE = Shape("circle", "red", "large", 0.25, 0.5, 0.0, 0.18)
BLUE_TRIANGLE = Shape("triangle", "blue", "small", 0.75, 0.5, 0.0, 0.1)


def test_every_caption_names_every_shape():
    for seed in range(300):
        scene = random_scene(np.random.default_rng(seed))
        assert 1 <= len(scene.shapes) <= 3
        canonical = caption_for(scene)
        assert object_f1(canonical, scene) == 1.0, (seed, canonical)
        assert grade(canonical, scene) == "without errors", (seed, canonical)
        variant = caption_for(scene, np.random.default_rng(seed + 1000))
        assert object_f1(variant, scene) == 1.0, (seed, variant)
        assert grade(variant, scene) == "without errors", (seed, variant)


def test_canonical_caption_is_deterministic_and_follows_the_grammar():
    scene = scene_of(RED_CIRCLE, BLUE_TRIANGLE)
    assert caption_for(scene) == "a large red circle left of a small blue triangle"
    assert caption_for(scene) == caption_for(scene)
    two = scene_of(Shape("rectangle", "yellow", "small", 0.3, 0.2, 10, 0.1), Shape("rectangle", "yellow", "small", 0.7, 0.25, 30, 0.1),
                   Shape("circle", "gray", "large", 0.5, 0.75, 0, 0.18))
    assert caption_for(two) == "a large gray circle below two small yellow rectangles"
    three = scene_of(*[Shape("triangle", "teal", "small", x, 0.5, 0, 0.1) for x in (0.2, 0.5, 0.8)])
    assert caption_for(three) == "three small teal triangles"


def test_scenes_have_no_overlaps_and_stay_inside():
    for seed in range(200):
        shapes = random_scene(np.random.default_rng(seed)).shapes
        for i, a in enumerate(shapes):
            assert a.radius <= a.x <= 1 - a.radius and a.radius <= a.y <= 1 - a.radius
            assert a.kind in SHAPES and a.color in COLORS and a.size in ("small", "large")
            for b in shapes[i + 1 :]:
                assert np.hypot(a.x - b.x, a.y - b.y) > a.radius + b.radius


def test_seeds_reproduce_scenes_and_pictures_exactly():
    a = random_scene(np.random.default_rng(42))
    b = random_scene(np.random.default_rng(42))
    assert a == b
    assert np.array_equal(render(a, 64), render(b, 64))
    cam_a = render(a, 64, camera=True, rng=np.random.default_rng(7))
    cam_b = render(b, 64, camera=True, rng=np.random.default_rng(7))
    assert np.array_equal(cam_a, cam_b)
    assert not np.array_equal(cam_a, render(a, 64, camera=True, rng=np.random.default_rng(8)))


def test_plain_pictures_show_the_shapes_in_their_colours():
    img = render(scene_of(RED_CIRCLE), 64)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    assert tuple(img[32, 16]) == COLORS["red"]  # the circle's centre
    assert tuple(img[5, 60]) == (245, 245, 245)  # the background


def test_camera_look_differs_but_keeps_the_shape_recognisable():
    scene = scene_of(Shape("circle", "blue", "large", 0.5, 0.5, 0.0, 0.18))
    plain = render(scene, 64)
    for seed in range(20):
        cam = render(scene, 64, camera=True, rng=np.random.default_rng(seed))
        assert cam.shape == plain.shape and cam.dtype == np.uint8
        assert np.abs(cam.astype(int) - plain.astype(int)).mean() > 5
        r, g, b = (cam[..., k].astype(int) for k in range(3))
        bluish = (b > r + 80) & (b > g + 80)  # no desk, paper or light cast is this blue
        # the circle covers ~10 % of the scene square, whose side spans 50-95 % of the picture's
        assert 0.01 < bluish.mean() < 0.12, seed
        ys, xs = np.nonzero(bluish)
        assert abs(ys.mean() - 32) < 12 and abs(xs.mean() - 32) < 12, seed  # where the circle is


def test_grades_from_perfect_to_unrelated():
    scene = scene_of(RED_CIRCLE, BLUE_TRIANGLE)
    assert grade("a large red circle left of a small blue triangle", scene) == "without errors"
    assert grade("a red circle and a blue triangle", scene) == "without errors"
    assert grade("a large red circle left of a small green triangle", scene) == "minor errors"  # wrong colour
    assert grade("a large red circle right of a small blue triangle", scene) == "minor errors"  # wrong relation
    assert grade("a small red circle left of a small blue triangle", scene) == "minor errors"  # wrong size
    assert grade("a red circle", scene) == "minor errors"  # one of two shapes left out
    assert grade("a green circle", scene) == "somewhat related"  # only a shape right
    assert grade("two yellow rectangles", scene) == "unrelated"
    assert grade("", scene) == "unrelated"
    assert set(GRADES) == {"without errors", "minor errors", "somewhat related", "unrelated"}


def test_object_f1_counts_multisets():
    scene = scene_of(RED_CIRCLE, Shape("circle", "red", "large", 0.75, 0.5, 0, 0.18))
    assert object_f1("two red circles", scene) == 1.0
    assert object_f1("a red circle", scene) == pytest.approx(2 / 3)
    assert object_f1("three red circles", scene) == pytest.approx(0.8)
    assert object_f1("a blue circle", scene) == 0.0
    assert soft_f1("a blue circle", scene) == pytest.approx(1 / 3)
    parsed = parse_caption("two small yellow rectangles above a gray circle")
    assert [(g.count, g.size, g.color, g.kind) for g in parsed.groups] == [(2, "small", "yellow", "rectangle"), (1, None, "gray", "circle")]
    assert parsed.relations == [(0, "above", 1)]


def test_card_sheet_and_pdf(tmp_path):
    sheet = card_sheet("A4", dpi=50)
    assert sheet.shape == (round(297 / 25.4 * 50), round(210 / 25.4 * 50), 3)
    assert (sheet < 250).any()
    letter = card_sheet("letter", dpi=50)
    assert letter.shape == (550, 425, 3)
    with pytest.raises(ValueError):
        card_sheet("A5")
    pdf = tmp_path / "cards.pdf"
    write_pdf(pdf, [sheet, sheet], dpi=50)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    xref = int(data.rsplit(b"startxref", 1)[1].split()[0])
    assert data[xref : xref + 4] == b"xref"
    assert data.count(b"/Type /Page ") == 2
