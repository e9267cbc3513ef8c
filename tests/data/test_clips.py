"""The shapes-world clips (rnnstudio.data.clips): truth, determinism, both kinds, both looks."""

from __future__ import annotations

import numpy as np
import pytest

from rnnstudio.data.clips import FRAMES, MOTIONS, OBJECTS, make_clip, sentence


def test_same_seed_same_clip_pixel_for_pixel():
    a, b = make_clip(7, camera=True), make_clip(7, camera=True)
    assert np.array_equal(a.frames, b.frames) and a.motion == b.motion and a.obj == b.obj
    assert not np.array_equal(make_clip(8).frames[0], a.frames[0])


@pytest.mark.parametrize("kind", ["screen", "hand"])
@pytest.mark.parametrize("camera", [False, True])
def test_every_motion_in_both_kinds_and_looks(kind, camera):
    for m in MOTIONS:
        c = make_clip(3, camera=camera, motion=m, clip_kind=kind)
        assert FRAMES[0] <= len(c.frames) <= FRAMES[1]
        assert c.frames.shape[1:] == (64, 64, 3) and c.frames.dtype == np.uint8
        assert c.motion == m and c.clip_kind == kind and c.camera == camera and c.obj in OBJECTS
        changed = np.abs(c.frames[-1].astype(int) - c.frames[0].astype(int)).mean()
        if m == "still" and not camera:
            assert changed < 2.0  # a hand wobbles a little, nothing more
        elif m != "still":
            assert changed > 0.2


def test_screen_truth_follows_the_acting_shape():
    c = make_clip(11, motion="right", clip_kind="screen", frames=20)
    first, last = c.scenes[0], c.scenes[-1]
    moved = [(a, b) for a, b in zip(first.shapes, last.shapes) if a != b]
    assert len(moved) == 1  # exactly one shape acts, the others stay
    a, b = moved[0]
    assert b.x > a.x + 0.2 and abs(b.y - a.y) < 1e-9 and c.obj == f"{a.color} {a.kind}"
    grow = make_clip(11, motion="closer", clip_kind="screen")
    r = [next(s for s in sc.shapes if f"{s.color} {s.kind}" == grow.obj).radius for sc in grow.scenes]
    assert r[-1] > 1.4 * r[0]


def test_spinning_shapes_are_never_circles():
    assert all(make_clip(s, motion="spins").kind != "circle" for s in range(20))


def test_a_spinning_shape_on_a_screen_is_large_enough_to_see_turn():
    for seed in range(12):
        clip = make_clip(seed, motion="spins", clip_kind="screen", frames=16)
        actor = [s for s in clip.scenes[0].shapes if s.rotation != next(
            t for t in clip.scenes[-1].shapes if (t.x, t.y) == (s.x, s.y)).rotation]
        assert len(actor) == 1 and actor[0].size == "large" and actor[0].radius >= 0.165
        changed = (abs(clip.frames.astype(int) - clip.frames[:1]).max(-1) > 40).sum((1, 2)).max()
        assert changed >= 30  # pixels: the turn shows


def test_sentences_name_motion_and_shape():
    assert sentence("left", "red circle") == "the red circle moves left"
    assert sentence("closer", "blue triangle") == "the blue triangle comes closer"
    assert sentence("still", "red circle") == "nothing moves"
    assert make_clip(0, motion="away").sentence.endswith("goes away")


def test_random_clips_cover_motions_and_kinds():
    clips = [make_clip(s) for s in range(60)]
    assert {c.motion for c in clips} == set(MOTIONS)
    assert {c.clip_kind for c in clips} == {"screen", "hand"}
