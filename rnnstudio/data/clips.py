"""Short clips of the shapes world (docs/DATA.md, "Clips"): one shape does something, the rest are still.

A clip is 16 to 32 frames of the shapes world (rnnstudio.data.shapes: the same shapes, colours,
cards and camera look as the captioning scenes). Exactly one shape acts, with one of the
MOTIONS, or nothing moves ("still"). Two kinds of clip:

- "screen": 1 to 3 shapes on a still card; one of them moves over it (an animation on a
  screen, a magnet on a board). Drawn with `shapes.render`, plain or with the camera look; in
  the camera look every frame is the same photograph of the card (the same desk, angle, light
  and noise), only the shape moves.
- "hand": a card with one shape, held by a hand in front of the camera over a desk, moved as
  a whole (with the small wobble of a hand). The plain look is the desk and card as drawn;
  the camera look adds uneven light, a colour cast, blur, noise and JPEG to every frame.

The truth (`Clip.motion`, `.color`, `.kind`, the scenes frame by frame) is kept for grading.
Everything comes from the seed: `make_clip(seed)` gives the same clip, pixel for pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from rnnstudio.data import shapes

MOTIONS = ("left", "right", "up", "down", "closer", "away", "spins", "still")
KINDS = ("screen", "hand")
FRAMES = (16, 32)  # shortest and longest clip
OBJECTS = tuple(f"{c} {s}" for c in shapes.COLORS for s in shapes.SHAPES)  # "red circle", ...
_VERBS = {"left": "moves left", "right": "moves right", "up": "moves up", "down": "moves down",
          "closer": "comes closer", "away": "goes away", "spins": "spins"}
_SKIN = ((224, 172, 140), (198, 134, 100), (141, 85, 54), (241, 194, 170))


def sentence(motion: str, obj: str | None) -> str:
    """The clip's description from its label: "the red circle moves left", "nothing moves"."""
    if motion == "still" or not obj:
        return "nothing moves"
    return f"the {obj} {_VERBS[motion]}"


def _sentence_words() -> tuple[str, ...]:
    """Every word a clip's sentence can have, in order of first use, after the decoder's two marks."""
    words = ["<bos>", "<eos>"]
    for m in MOTIONS:
        for o in OBJECTS:
            words += [w for w in sentence(m, o).split() if w not in words]
    return tuple(words)


SENTENCE_WORDS = _sentence_words()  # the LRCN's sentence decoder writes these (rnnstudio.nn.video)


@dataclass(frozen=True)
class Clip:
    frames: np.ndarray  # (T, S, S, 3) uint8 RGB
    motion: str  # one of MOTIONS
    color: str  # the acting shape's colour and kind (the shape a still clip would have moved)
    kind: str
    clip_kind: str  # screen | hand
    camera: bool
    scenes: tuple  # the Scene of every frame (screen) or the card's scene (hand)

    @property
    def obj(self) -> str:
        return f"{self.color} {self.kind}"

    @property
    def sentence(self) -> str:
        return sentence(self.motion, self.obj)


def _path(motion: str, t: np.ndarray, rng: np.random.Generator) -> tuple:
    """Offsets (dx, dy) in scene fractions, a scale factor and a rotation in degrees, per frame (t in 0..1)."""
    dist = rng.uniform(0.22, 0.36)
    dx = dist * t * {"left": -1, "right": 1}.get(motion, 0)
    dy = dist * t * {"up": -1, "down": 1}.get(motion, 0)
    grow = rng.uniform(1.5, 1.9)
    scale = {"closer": grow ** t, "away": grow ** -t}.get(motion, np.ones_like(t))
    turn = rng.uniform(100, 240) * rng.choice((-1, 1))
    rot = turn * t if motion == "spins" else np.zeros_like(t)
    return dx, dy, scale, rot


def _screen_clip(rng: np.random.Generator, motion: str, n: int, size: int, camera: bool) -> Clip:
    for _ in range(100):  # a scene with room for the motion: the actor stays inside and apart
        scene = shapes.random_scene(rng)
        i = int(rng.integers(len(scene.shapes)))
        actor = scene.shapes[i]
        if motion == "spins" and actor.kind == "circle":
            continue  # a spinning circle looks still
        if motion == "spins" and actor.size == "small":  # a small shape's turn is a few pixels: it looked still
            lo, hi = shapes.SIZE_RANGE["large"]
            actor = replace(actor, size="large", radius=float(rng.uniform(lo, hi)))
        dx, dy, scale, rot = _path(motion, np.linspace(0, 1, n), rng)
        if motion in ("closer", "away"):
            start = 0.09 if motion == "closer" else 0.17
            actor = replace(actor, radius=start)
        moved = [replace(actor, x=actor.x + float(dx[k]), y=actor.y + float(dy[k]),
                         radius=actor.radius * float(scale[k]), rotation=actor.rotation + float(rot[k]))
                 for k in range(n)]
        others = [s for j, s in enumerate(scene.shapes) if j != i]
        if all(_fits(m, others) for m in moved):
            break
    else:
        raise RuntimeError("no room for a motion")  # never in practice: a single shape always fits
    seed = int(rng.integers(2**31))  # the same photograph for every frame
    scenes = tuple(replace(scene, shapes=tuple(others[:i] + [m] + others[i:])) for m in moved)
    frames = np.stack([shapes.render(s, size, camera, np.random.default_rng(seed)) for s in scenes])
    return Clip(frames, motion, actor.color, actor.kind, "screen", camera, scenes)


def _fits(s: shapes.Shape, others: list) -> bool:
    r = s.radius
    inside = r + 0.01 <= s.x <= 1 - r - 0.01 and r + 0.01 <= s.y <= 1 - r - 0.01
    return inside and all(math.hypot(s.x - o.x, s.y - o.y) > r + o.radius + 0.02 for o in others)


def _hand_clip(rng: np.random.Generator, motion: str, n: int, size: int, camera: bool) -> Clip:
    while True:
        scene = shapes.random_scene(rng, n_shapes=1)
        if motion != "spins" or scene.shapes[0].kind != "circle":
            break
    s = scene.shapes[0]
    scene = replace(scene, shapes=(replace(s, x=0.5, y=0.5, radius=float(rng.uniform(0.28, 0.36))),))
    work = size * 2
    card = shapes._card(scene, rng, work).astype(np.float32)
    desk = shapes._desk(rng, work)
    dx, dy, scale, rot = _path(motion, np.linspace(0, 1, n), rng)
    side = rng.uniform(0.3, 0.42) if motion != "away" else rng.uniform(0.45, 0.55)
    if motion == "closer":
        side = rng.uniform(0.25, 0.3)
    start = rng.uniform(0.5 - 0.1, 0.5 + 0.1, 2) - np.array([dx[-1], dy[-1]]) / 2
    skin = np.array(_SKIN[int(rng.integers(len(_SKIN)))], np.float32)
    wobble = rng.normal(0, 0.004, (n, 3)) * np.array([1, 1, 300])  # the hand is never quite still
    look = _Look(rng, work) if camera else None
    frames = []
    for k in range(n):
        cx, cy = (start + [dx[k], dy[k]] + wobble[k, :2]) * work
        px = side * scale[k] * work  # the card's scene square, in pixels
        m = cv2.getRotationMatrix2D((card.shape[1] / 2, card.shape[1] / 2), float(rot[k] + wobble[k, 2]),
                                    px / card.shape[1])
        m[:, 2] += [cx - card.shape[1] / 2, cy - card.shape[1] / 2]
        warped = cv2.warpAffine(card, m, (work, work))
        mask = cv2.warpAffine(np.ones(card.shape[:2], np.float32), m, (work, work))[..., None]
        img = desk * (1 - mask) + warped * mask
        # fingers: a skin-coloured blob holding the card's lower edge
        edge = m @ np.array([card.shape[1] / 2, card.shape[0], 1.0])
        cv2.ellipse(img, (int(edge[0]), int(edge[1])), (int(px * 0.18), int(px * 0.1)), float(rot[k]), 0, 360,
                    skin.tolist(), -1, cv2.LINE_AA)
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        frames.append(look(img, rng) if look else np.clip(img, 0, 255).astype(np.uint8))
    return Clip(np.stack(frames), motion, s.color, s.kind, "hand", camera, (scene,))


class _Look:
    """The camera look of a hand clip: fixed light and colour cast, a new grain and JPEG each frame."""

    def __init__(self, rng: np.random.Generator, work: int):
        size = work // 2
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
        g = rng.uniform(-0.35, 0.35, 2)
        self.light = ((1 + g[0] * (xx - 0.5) + g[1] * (yy - 0.5)) * rng.uniform(0.7, 1.15))[..., None]
        self.cast = rng.uniform(0.85, 1.15, 3).astype(np.float32)
        self.sigma = rng.uniform(0.0, 1.0)
        self.noise = rng.uniform(1.0, 6.0)
        self.quality = int(rng.integers(35, 92))

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        img = img * self.light * self.cast
        if self.sigma > 0.25:
            img = cv2.GaussianBlur(img, (0, 0), self.sigma)
        img = np.clip(img + rng.normal(0, self.noise, img.shape), 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]) if ok else img


def make_clip(seed: int, camera: bool = False, size: int = 64, motion: str | None = None,
              clip_kind: str | None = None, frames: int | None = None) -> Clip:
    """The clip of `seed`: a random motion, kind and length unless given."""
    rng = np.random.default_rng([11, seed, int(camera)])
    motion = motion or MOTIONS[int(rng.integers(len(MOTIONS)))]
    clip_kind = clip_kind or KINDS[int(rng.random() < 0.35)]
    n = frames or int(rng.integers(FRAMES[0], FRAMES[1] + 1))
    if motion not in MOTIONS or clip_kind not in KINDS:
        raise ValueError(f"unknown motion {motion!r} or clip kind {clip_kind!r}")
    make = _screen_clip if clip_kind == "screen" else _hand_clip
    return make(rng, motion, n, size, camera)
