"""The shapes world (docs/DATA.md): scenes, captions, pictures, grading, cards.

A scene holds 1 to 3 shapes (circle, rectangle, triangle) in the eight colours of the
easy-VQA data set, small or large, on a light background, never overlapping. Everything
is reproducible from a numpy Generator: the same seed gives the same scene, the same
caption variant and the same picture, pixel for pixel.

Captions. Shapes with the same kind, colour and size form a group, named as
COUNT SIZE COLOR SHAPE[s] ("a small red circle", "two large yellow rectangles"). The
canonical caption (`caption_for(scene)`) lists the groups in a fixed order (shape kind,
then colour, then size, as in SHAPES, COLORS, SIZES) and relates the first group to the
second by where their centres lie: the larger of the horizontal and vertical distances
decides between "left of"/"right of" and "above"/"below". A third group follows "and":

    a large red circle left of a small blue triangle and a small gray rectangle

With a Generator (`caption_for(scene, rng)`), a variant: groups in another order, "one"
for "a", sizes left out, "and" instead of a relation.

Pictures. `render` draws with OpenCV, anti-aliased. `render(..., camera=True)` makes the
*camera look*: the scene printed on a white card (sometimes with a caption line printed
under it, as on the printable sheet), lying on a desk and photographed at an angle
(a perspective warp onto a desk-coloured, textured background), under uneven light and a
colour cast, then blurred, noised and JPEG-compressed. A model trained on it reads real
webcam frames of the printed cards.

Grading (caption quality, docs/LECTURE-MAP.md) compares a caption with the scene's truth:

- object F1: the multiset of (colour, shape) the caption names, counts expanded,
  against the scene's shapes.
- soft F1: the same, but a named object that gets only its colour or only its shape
  right counts half.
- "without errors": object F1 is 1 and every size and relation named is true;
- "minor errors": soft F1 of at least 0.5 (each shape named, at most about one
  attribute wrong each, or a wrong size or relation);
- "somewhat related": soft F1 above 0 (some colour or shape of the scene is named);
- "unrelated": nothing named is in the scene.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

SHAPES = ("circle", "rectangle", "triangle")
COLORS = {  # RGB, exactly the easy-VQA colours
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "black": (0, 0, 0),
    "gray": (128, 128, 128),
    "teal": (0, 128, 128),
    "brown": (165, 42, 42),
    "yellow": (255, 255, 0),
}
SIZES = ("small", "large")
RELATIONS = ("left of", "right of", "above", "below")
COUNT_WORDS = {1: "a", 2: "two", 3: "three"}
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "1": 1, "2": 2, "3": 3}
GRADES = ("without errors", "minor errors", "somewhat related", "unrelated")

# Radius as a fraction of the scene's side: far apart, so that "small" and "large" stay
# tellable apart next to each other at any distance from the camera.
SIZE_RANGE = {"small": (0.085, 0.115), "large": (0.165, 0.205)}
MAX_SHAPES = 3
# Camera look: the printed scene square spans this fraction of the (square) picture, from
# a card held well back to one held close to the camera.
CAMERA_SCALE = (0.5, 0.95)


def caption_words() -> list[str]:
    """Every word a caption of this world can use, in a fixed order."""
    words = ["a", "an", "one", "two", "three", *SIZES, *COLORS]
    for s in SHAPES:
        words += [s, s + "s"]
    words += ["left", "right", "of", "above", "below", "and"]
    return words


@dataclass(frozen=True)
class Shape:
    kind: str  # circle | rectangle | triangle
    color: str  # a key of COLORS
    size: str  # small | large
    x: float  # centre, 0 (left) .. 1 (right)
    y: float  # centre, 0 (top) .. 1 (bottom)
    rotation: float = 0.0  # degrees, counter-clockwise
    radius: float = 0.1  # of the bounding circle, as a fraction of the side
    aspect: float = 1.0  # width / height, for rectangles

    def outline(self) -> np.ndarray:
        """Corner points (N, 2) in picture fractions, for rectangles and triangles."""
        a = math.radians(self.rotation)
        if self.kind == "triangle":
            angles = [a - math.pi / 2 + k * 2 * math.pi / 3 for k in range(3)]
            pts = [(math.cos(t), math.sin(t)) for t in angles]
            return np.array([(self.x + self.radius * u, self.y + self.radius * v) for u, v in pts])
        if self.kind == "rectangle":
            # half sides with width / height = aspect and the corners on the bounding circle
            norm = math.sqrt(1 + self.aspect**2)
            hw, hh = self.radius * self.aspect / norm, self.radius / norm
            c, s = math.cos(a), math.sin(a)
            corners = [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)]
            return np.array([(self.x + c * u + s * v, self.y - s * u + c * v) for u, v in corners])
        raise ValueError(f"{self.kind} has no corners")


@dataclass(frozen=True)
class Scene:
    shapes: tuple[Shape, ...]
    background: tuple[int, int, int] = (245, 245, 245)  # RGB, light

    def truth(self) -> Counter:
        """The multiset of (colour, shape) in the scene."""
        return Counter((s.color, s.kind) for s in self.shapes)


# --- scenes -------------------------------------------------------------------------------


def random_scene(rng: np.random.Generator, n_shapes: int | None = None) -> Scene:
    """1 to 3 shapes that do not overlap, on a light, nearly neutral background.

    Two of a kind (same shape and colour) are made more likely than chance, so that
    counts ("two", "three") appear often enough to learn.
    """
    n = int(n_shapes or rng.integers(1, MAX_SHAPES + 1))
    base = int(rng.integers(225, 256))
    background = tuple(int(np.clip(base + rng.integers(-8, 9), 215, 255)) for _ in range(3))
    shapes: list[Shape] = []
    for i in range(n):
        if i > 0 and rng.random() < 0.3:  # repeat an earlier shape's kind and colour
            prev = shapes[int(rng.integers(len(shapes)))]
            kind, color = prev.kind, prev.color
            size = prev.size if rng.random() < 0.7 else str(rng.choice(SIZES))
        else:
            kind = str(rng.choice(SHAPES))
            color = str(rng.choice(list(COLORS)))
            size = str(rng.choice(SIZES))
        for _attempt in range(200):
            lo, hi = SIZE_RANGE[size]
            radius = float(rng.uniform(lo, hi))
            margin = radius + 0.03
            x, y = (float(v) for v in rng.uniform(margin, 1 - margin, size=2))
            if all(math.hypot(x - o.x, y - o.y) > radius + o.radius + 0.04 for o in shapes):
                break
            if _attempt > 100 and size == "large":  # no room left: a small one fits
                size = "small"
        else:
            break
        rotation = float(rng.uniform(0, 360)) if kind != "circle" else 0.0
        if kind == "triangle":
            rotation = float(rng.uniform(-25, 25))  # pointing up, more or less: a printed card can turn anyway
        aspect = float(np.exp(rng.uniform(np.log(0.6), np.log(1.7)))) if kind == "rectangle" else 1.0
        shapes.append(Shape(kind, color, size, x, y, rotation, radius, aspect))
    return Scene(tuple(shapes), background)


# --- captions -----------------------------------------------------------------------------


@dataclass
class Group:
    count: int
    color: str | None
    kind: str
    size: str | None = None
    members: list = field(default_factory=list)  # the scene's shapes, when known

    def phrase(self, one: bool = False) -> str:
        count = ("one" if one else _article(self.size or self.color or self.kind)) if self.count == 1 else COUNT_WORDS[self.count]
        words = [count]
        if self.size:
            words.append(self.size)
        if self.color:
            words.append(self.color)
        words.append(self.kind + ("s" if self.count > 1 else ""))
        return " ".join(words)

    def centre(self) -> tuple[float, float]:
        return (float(np.mean([m.x for m in self.members])), float(np.mean([m.y for m in self.members])))


def _article(next_word: str) -> str:
    return "an" if next_word[:1] in "aeiou" else "a"


def scene_groups(scene: Scene, with_size: bool = True) -> list[Group]:
    """The scene's shapes grouped by kind, colour (and size), in the canonical order."""
    groups: dict[tuple, Group] = {}
    for s in scene.shapes:
        key = (s.kind, s.color, s.size if with_size else None)
        if key not in groups:
            groups[key] = Group(0, s.color, s.kind, s.size if with_size else None)
        groups[key].count += 1
        groups[key].members.append(s)

    def order(g: Group):
        return (SHAPES.index(g.kind), list(COLORS).index(g.color), SIZES.index(g.size) if g.size else -1)

    return sorted(groups.values(), key=order)


def relation(a: Group, b: Group) -> str:
    """Where group a lies relative to group b, along the axis of the larger distance."""
    (ax, ay), (bx, by) = a.centre(), b.centre()
    dx, dy = bx - ax, by - ay
    if abs(dx) >= abs(dy):
        return "left of" if dx > 0 else "right of"
    return "above" if dy > 0 else "below"


def caption_for(scene: Scene, rng: np.random.Generator | None = None) -> str:
    """A caption naming every shape of the scene; canonical without `rng`, a variant with it."""
    with_size, one, use_relation = True, False, True
    if rng is not None:
        with_size = bool(rng.random() < 0.6)
        one = bool(rng.random() < 0.3)
        use_relation = bool(rng.random() < 0.8)
    groups = scene_groups(scene, with_size)
    if rng is not None:
        groups = [groups[i] for i in rng.permutation(len(groups))]
    parts = [groups[0].phrase(one)]
    if len(groups) > 1:
        parts.append(relation(groups[0], groups[1]) if use_relation else "and")
        parts.append(groups[1].phrase(one))
    for g in groups[2:]:
        parts += ["and", g.phrase(one)]
    return " ".join(parts)


def tokenize(caption: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", caption.lower())


@dataclass
class ParsedCaption:
    groups: list[Group]
    relations: list[tuple[int, str, int]]  # (group index, relation, group index)


def parse_caption(caption: str) -> ParsedCaption:
    """The groups and relations a caption names, read leniently (unknown words are skipped)."""
    tokens = tokenize(caption)
    groups: list[Group] = []
    relations: list[tuple[int, str, int]] = []
    count = size = color = None
    pending_rel: str | None = None
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t in _NUMBERS:
            count = _NUMBERS[t]
        elif t in SIZES:
            size = t
        elif t in COLORS:
            color = t
        elif t in SHAPES or (t.endswith("s") and t[:-1] in SHAPES):
            kind = t if t in SHAPES else t[:-1]
            n = count if count is not None else (2 if t.endswith("s") and t not in SHAPES else 1)
            groups.append(Group(n, color, kind, size))
            if pending_rel is not None and len(groups) >= 2:
                relations.append((len(groups) - 2, pending_rel, len(groups) - 1))
            pending_rel = None
            count = size = color = None
        elif t in ("left", "right") and i + 1 < len(tokens) and tokens[i + 1] == "of":
            pending_rel = f"{t} of"
            i += 1
        elif t in ("above", "below"):
            pending_rel = t
        elif t == "and":
            pending_rel = None
        i += 1
    return ParsedCaption(groups, relations)


def _named(parsed: ParsedCaption) -> list[tuple]:
    out = []
    for g in parsed.groups:
        out += [(g.color, g.kind)] * g.count
    return out


def object_f1(caption: str, scene: Scene) -> float:
    """F1 of the multiset of (colour, shape) named against the scene's shapes."""
    named = Counter(_named(parse_caption(caption)))
    truth = scene.truth()
    hits = sum((named & truth).values())
    total = sum(named.values()) + sum(truth.values())
    return 2 * hits / total if total else 1.0


def object_counts(caption: str, scene: Scene) -> tuple[int, int, int]:
    """(hits, named, true) for corpus-level (micro) F1."""
    named = Counter(_named(parse_caption(caption)))
    truth = scene.truth()
    return sum((named & truth).values()), sum(named.values()), sum(truth.values())


def soft_f1(caption: str, scene: Scene) -> float:
    """Like object F1, but a named object with only its colour or only its shape right counts half."""
    named = Counter(_named(parse_caption(caption)))
    truth = scene.truth()
    exact = named & truth
    rest_named = list((named - exact).elements())
    rest_truth = list((truth - exact).elements())
    score = float(sum(exact.values()))
    for n in rest_named:  # greedy: fine for three shapes
        for j, t in enumerate(rest_truth):
            if n[0] == t[0] or n[1] == t[1]:
                score += 0.5
                del rest_truth[j]
                break
    total = sum(named.values()) + sum(truth.values())
    return 2 * score / total if total else 1.0


def _matching(scene: Scene, g: Group) -> list[Shape]:
    return [s for s in scene.shapes if s.kind == g.kind and s.color == g.color and (g.size is None or s.size == g.size)]


def details_correct(caption: str, scene: Scene) -> bool:
    """Every size and every relation the caption names holds in the scene."""
    parsed = parse_caption(caption)
    for g in parsed.groups:
        if g.size is not None and not _matching(scene, g):
            return False
    for ia, rel, ib in parsed.relations:
        a, b = parsed.groups[ia], parsed.groups[ib]
        ma, mb = _matching(scene, a), _matching(scene, b)
        if not ma or not mb:
            continue  # the objects are wrong already; object F1 counts that
        a.members, b.members = ma, mb
        (ax, ay), (bx, by) = a.centre(), b.centre()
        ok = {"left of": ax < bx, "right of": ax > bx, "above": ay < by, "below": ay > by}[rel]
        if not ok:
            return False
    return True


def grade(caption: str, scene: Scene) -> str:
    """One of GRADES for `caption` against the scene's truth (module docstring)."""
    if object_f1(caption, scene) == 1.0 and details_correct(caption, scene):
        return "without errors"
    soft = soft_f1(caption, scene)
    if soft >= 0.5:
        return "minor errors"
    if soft > 0:
        return "somewhat related"
    return "unrelated"


# --- pictures -----------------------------------------------------------------------------

_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_ONE = 1 << _SHIFT


def _draw_scene(img: np.ndarray, scene: Scene, x0: float, y0: float, side: float) -> None:
    """Draw the scene's shapes (RGB) into img in the square (x0, y0, side), anti-aliased."""
    for s in scene.shapes:
        color = tuple(int(c) for c in COLORS[s.color])
        if s.kind == "circle":
            cx = int(round((x0 + s.x * side - 0.5) * _ONE))
            cy = int(round((y0 + s.y * side - 0.5) * _ONE))
            cv2.circle(img, (cx, cy), int(round(s.radius * side * _ONE)), color, -1, cv2.LINE_AA, _SHIFT)
        else:
            pts = s.outline() * side + np.array([x0 - 0.5, y0 - 0.5])
            pts = np.round(pts * _ONE).astype(np.int32).reshape(-1, 1, 2)
            cv2.fillPoly(img, [pts], color, cv2.LINE_AA, _SHIFT)


def render(scene: Scene, size: int = 64, camera: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
    """The scene as an (size, size, 3) uint8 RGB picture; `camera=True` for the camera look.

    The camera look is random: pass `rng` to reproduce it (without one, seed 0 is used).
    """
    if not camera:
        img = np.empty((size, size, 3), np.uint8)
        img[:] = scene.background
        _draw_scene(img, scene, 0.0, 0.0, float(size))
        return img
    return _camera_look(scene, size, rng if rng is not None else np.random.default_rng(0))


def _desk(rng: np.random.Generator, size: int) -> np.ndarray:
    """A desk: wood, grey laminate or a dark cloth, with grain and a little texture."""
    kind = rng.integers(3)
    if kind == 0:
        base = np.array([rng.uniform(120, 200), rng.uniform(80, 140), rng.uniform(40, 90)])
    elif kind == 1:
        g = rng.uniform(90, 200)
        base = np.array([g, g, g]) + rng.uniform(-10, 10, 3)
    else:
        base = rng.uniform(20, 80, 3)
    img = np.ones((size, size, 3), np.float32) * base.astype(np.float32)
    # grain: stripes along a random direction
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    a = rng.uniform(0, np.pi)
    t = np.cos(a) * xx + np.sin(a) * yy
    grain = np.sin(t * rng.uniform(10, 60) + rng.uniform(0, 6)) * rng.uniform(0, 12)
    img += grain[..., None]
    img += rng.normal(0, 4, (size, size, 1)).astype(np.float32)
    return img


def _card(scene: Scene, rng: np.random.Generator, px: int) -> np.ndarray:
    """The printed card: white paper, the scene square, sometimes a caption line under it."""
    margin = int(px * rng.uniform(0.03, 0.10))
    text_h = int(px * 0.16) if rng.random() < 0.5 else 0
    paper = np.array([rng.uniform(235, 255)] * 3) + rng.uniform(-6, 6, 3)
    card = np.empty((px + 2 * margin + text_h, px + 2 * margin, 3), np.uint8)
    card[:] = np.clip(paper, 0, 255).astype(np.uint8)
    card[margin : margin + px, margin : margin + px] = scene.background
    _draw_scene(card, scene, margin, margin, float(px))
    if text_h:  # a caption printed under the scene, as on the sheet
        words = caption_words()
        line = " ".join(str(rng.choice(words)) for _ in range(int(rng.integers(3, 8))))
        cv2.putText(card, line, (margin, margin + px + int(text_h * 0.6)), cv2.FONT_HERSHEY_SIMPLEX,
                    px / 900, (60, 60, 60), max(1, px // 250), cv2.LINE_AA)
    if rng.random() < 0.5:  # the cut line around the scene
        cv2.rectangle(card, (margin - 1, margin - 1), (margin + px, margin + px), (150, 150, 150), 1, cv2.LINE_AA)
    return card


def _camera_look(scene: Scene, size: int, rng: np.random.Generator) -> np.ndarray:
    work = size * 2  # draw at twice the size, then shrink: the camera's own anti-aliasing
    card = _card(scene, rng, work)
    ch, cw = card.shape[:2]
    # Where the scene square lands: mostly filling the frame, turned and seen at an angle.
    scale = rng.uniform(*CAMERA_SCALE)  # the scene square's side, as a fraction of the frame
    angle = math.radians(rng.uniform(-15, 15))
    cx = work / 2 + rng.uniform(-0.06, 0.06) * work
    cy = work / 2 + rng.uniform(-0.06, 0.06) * work
    sx = sy = cw / 2  # the scene square's centre on the card (equal margins; any text is below)
    src = np.float32([[0, 0], [cw, 0], [cw, ch], [0, ch]])
    rel = src - np.float32([sx, sy])
    c, s = math.cos(angle), math.sin(angle)
    rot = np.float32([[c, -s], [s, c]])
    dst = (rel * scale) @ rot.T + np.float32([cx, cy])
    # perspective: corners pulled in or out as if the camera looked from above at a tilt
    tilt = rng.uniform(-0.12, 0.12, size=2)
    for k, (u, v) in enumerate(rel / np.float32([cw, ch])):
        dst[k] += np.float32([u * tilt[1] * 2 * v, v * tilt[0] * 2 * u]) * work * 0.5
    dst += rng.normal(0, 0.015 * work, size=dst.shape).astype(np.float32)
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    desk = _desk(rng, work)
    warped = cv2.warpPerspective(card.astype(np.float32), m, (work, work), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((ch, cw), np.float32), m, (work, work), flags=cv2.INTER_LINEAR)[..., None]
    if rng.random() < 0.5:  # the card's shadow on the desk
        shadow = cv2.GaussianBlur(mask, (0, 0), work * 0.02)
        shadow = np.roll(shadow, (int(rng.integers(1, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
        desk *= (1 - 0.35 * (shadow[..., None] if shadow.ndim == 2 else shadow))
    img = desk * (1 - mask) + warped * mask
    # uneven light: a smooth gradient and a soft bright spot; a colour cast; exposure
    yy, xx = np.mgrid[0:work, 0:work].astype(np.float32) / work
    g = rng.uniform(-0.35, 0.35, 2)
    light = 1 + g[0] * (xx - 0.5) + g[1] * (yy - 0.5)
    bx, by, br = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.2, 0.6)
    light += rng.uniform(0, 0.25) * np.exp(-((xx - bx) ** 2 + (yy - by) ** 2) / (2 * br**2))
    exposure = rng.uniform(0.7, 1.15)
    cast = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    img = img * (light[..., None] * exposure) * cast
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    sigma = rng.uniform(0.0, 1.0)
    if sigma > 0.25:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = img + rng.normal(0, rng.uniform(1.0, 7.0), img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    quality = int(rng.integers(35, 92))
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if ok:
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(img)


# --- printable cards ----------------------------------------------------------------------

PAGES_MM = {"A4": (210.0, 297.0), "letter": (215.9, 279.4)}


def card_scenes(count: int, seed: int = 0) -> list[Scene]:
    """The scenes of the printed cards: every shape, colour and count appears."""
    rng = np.random.default_rng([7, seed])
    scenes = []
    for i in range(count):
        scenes.append(random_scene(rng, n_shapes=1 + i % MAX_SHAPES))
    return scenes


def card_sheet(page: str = "A4", dpi: int = 300, seed: int = 0, first: int = 0) -> np.ndarray:
    """A page (H, W, 3) uint8 RGB of 6 scene cards, 2 by 3, each with its caption under it.

    `first` numbers the cards (so that several pages number on).
    """
    if page not in PAGES_MM:
        raise ValueError(f"page must be one of {', '.join(PAGES_MM)}, not {page!r}")
    w_mm, h_mm = PAGES_MM[page]
    px = dpi / 25.4
    W, H = int(round(w_mm * px)), int(round(h_mm * px))
    sheet = np.full((H, W, 3), 255, np.uint8)
    cols, rows = 2, 3
    side = int(min((w_mm - 30) / cols - 12, (h_mm - 40) / rows - 22) * px)  # the scene square
    text_h = int(14 * px)
    gap_x = (W - cols * side) / (cols + 1)
    gap_y = (H - int(14 * px) - rows * (side + text_h)) / (rows + 1)
    scenes = card_scenes(cols * rows, seed)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for k, scene in enumerate(scenes):
        r, c = divmod(k, cols)
        x0 = int(gap_x + c * (side + gap_x))
        y0 = int(int(10 * px) + gap_y + r * (side + text_h + gap_y))
        sheet[y0 : y0 + side, x0 : x0 + side] = scene.background
        _draw_scene(sheet, scene, x0, y0, float(side))
        # a thin grey cut line around the card (scene and caption)
        pad = int(3 * px)
        cv2.rectangle(sheet, (x0 - pad, y0 - pad), (x0 + side + pad, y0 + side + text_h), (170, 170, 170), max(1, dpi // 150))
        scale, thick = dpi / 250, max(1, dpi // 120)
        lines = _wrap(caption_for(scene), font, scale, thick, side)
        line_h = int(text_h * 0.3)
        for n, line in enumerate(lines):
            y = y0 + side + int(text_h * (0.55 if len(lines) == 1 else 0.38)) + n * line_h
            cv2.putText(sheet, line, (x0, y), font, scale, (40, 40, 40), thick, cv2.LINE_AA)
        label = f"card {first + k + 1}"
        cv2.putText(sheet, label, (x0 + side - cv2.getTextSize(label, font, scale * 0.6, 1)[0][0], y0 + side + int(text_h * 0.9)),
                    font, scale * 0.6, (140, 140, 140), max(1, thick // 2), cv2.LINE_AA)
    title = f"RNN Studio shape cards ({page}, print at 100 %, cut along the grey lines)"
    cv2.putText(sheet, title, (int(gap_x), int(9 * px)), font, dpi / 300, (90, 90, 90), max(1, dpi // 150), cv2.LINE_AA)
    return sheet


def _wrap(text: str, font, scale: float, thick: int, width: int) -> list[str]:
    """The text on one line, or on two split at the word that balances them best."""
    if cv2.getTextSize(text, font, scale, thick)[0][0] <= width:
        return [text]
    words = text.split()
    splits = [(" ".join(words[:k]), " ".join(words[k:])) for k in range(1, len(words))]
    return list(min(splits, key=lambda ab: max(cv2.getTextSize(t, font, scale, thick)[0][0] for t in ab)))


def write_pdf(path: str | Path, pages: list[np.ndarray], dpi: int = 300) -> None:
    """A PDF of whole-page RGB images, lossless (Flate), each page sized for `dpi`."""
    objects: list[bytes] = []

    def add(obj: bytes) -> int:
        objects.append(obj)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_id = add(b"")
    kids = []
    for n, img in enumerate(pages):
        h, w = img.shape[:2]
        data = zlib.compress(np.ascontiguousarray(img[..., :3], dtype=np.uint8).tobytes(), 9)
        image_id = add(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
            b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % (w, h, len(data))
            + data + b"\nendstream"
        )
        pw, ph = w * 72.0 / dpi, h * 72.0 / dpi
        content = b"q %.3f 0 0 %.3f 0 0 cm /Im%d Do Q" % (pw, ph, n)
        content_id = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(add(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.3f %.3f] /Resources << /XObject << /Im%d %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (pages_id, pw, ph, n, image_id, content_id)
        ))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    Path(path).write_bytes(bytes(out))


def write_card_sheets(folder: str | Path, seed: int = 0, pages: int = 2, dpi: int = 300, png_dpi: int = 300) -> list[Path]:
    """resources/shape-cards-{a4,letter}.{pdf,png}: PDFs at `dpi`; PNGs at `png_dpi`, the pages side by side."""
    folder = Path(folder)
    written = []
    for page in ("A4", "letter"):
        sheets = [card_sheet(page, dpi, seed=seed + k, first=6 * k) for k in range(pages)]
        pdf = folder / f"shape-cards-{page.lower()}.pdf"
        write_pdf(pdf, sheets, dpi)
        png = folder / f"shape-cards-{page.lower()}.png"
        preview = np.concatenate([card_sheet(page, png_dpi, seed=seed + k, first=6 * k) for k in range(pages)], axis=1)
        cv2.imwrite(str(png), preview[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
        written += [pdf, png]
    return written
