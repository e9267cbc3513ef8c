"""Captions in the COCO format: an annotations JSON and a folder of images.

    {"images": [{"id": 1, "file_name": "a.jpg"}, ...],
     "annotations": [{"image_id": 1, "caption": "A cat on a mat."}, ...]}

`load_coco(path, images=None)` takes the JSON file, or a folder holding one (the first
of captions*.json, annotations/captions*.json, *.json); images are looked up in
`images`, else beside the JSON, in its `images/` folder, or in the folder above.
Every problem is a UserError that names the file and what to do.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnstudio.data.files import NotJSON, load_json
from rnnstudio.errors import UserError

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


class CocoError(UserError):
    """A COCO-format caption set that cannot be used."""


def tokenize(caption: str) -> list[str]:
    """Lowercase words: letters and digits, with an apostrophe inside a word kept ("it's")."""
    return _WORD.findall(caption.lower())


def build_vocab(captions: list[list[str]], min_count: int = 1, specials: list[str] | None = None) -> list[str]:
    """Special tokens first, then words seen at least `min_count` times, commonest first."""
    counts = Counter(w for words in captions for w in words)
    words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
    specials = list(specials or [])
    return specials + [w for w in words if w not in specials]


@dataclass
class CocoItem:
    image_id: object
    path: Path
    captions: list[list[str]]  # tokenised


@dataclass
class CocoSet:
    name: str
    items: list[CocoItem]

    def all_captions(self) -> list[list[str]]:
        return [c for item in self.items for c in item.captions]


def _find_json(path: Path) -> Path:
    if path.is_file():
        return path
    if not path.exists():
        raise CocoError(f"{path} does not exist; give a COCO annotations JSON file or a folder holding one")
    for pattern in ("captions*.json", "annotations/captions*.json", "*.json", "annotations/*.json"):
        found = sorted(path.glob(pattern))
        if found:
            return found[0]
    raise CocoError(f"{path} holds no annotations JSON file; put the COCO captions .json in it or give its path")


def load_coco(path: str | Path, images: str | Path | None = None, check_images: bool = True) -> CocoSet:
    """Read a COCO-format caption set; each image with at least one caption becomes an item."""
    json_path = _find_json(Path(path))
    try:
        text = json_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CocoError(f"{json_path} is not UTF-8 text; a COCO annotations file is JSON") from None
    except OSError as e:
        raise CocoError(f"cannot read {json_path}: {e.strerror or e}") from None
    try:
        doc = load_json(text)
    except NotJSON as e:
        raise CocoError(f"{json_path} is {e}; a COCO annotations file is JSON") from None
    if not isinstance(doc, dict):
        raise CocoError(f"{json_path} is not a COCO annotations file: it must be a JSON object with 'images' and 'annotations'")
    for key in ("images", "annotations"):
        if key not in doc:
            raise CocoError(f"{json_path} has no '{key}' list; a COCO captions file needs 'images' and 'annotations'")
        if not isinstance(doc[key], list):
            raise CocoError(f"{json_path}: '{key}' must be a list")
    files: dict = {}
    for n, entry in enumerate(doc["images"]):
        if not isinstance(entry, dict) or "id" not in entry or "file_name" not in entry:
            raise CocoError(f"{json_path}: images[{n}] needs an 'id' and a 'file_name'")
        files[entry["id"]] = str(entry["file_name"])
    captions: dict = {}
    for n, entry in enumerate(doc["annotations"]):
        if not isinstance(entry, dict) or "image_id" not in entry or "caption" not in entry:
            raise CocoError(f"{json_path}: annotations[{n}] needs an 'image_id' and a 'caption'")
        if entry["image_id"] not in files:
            raise CocoError(f"{json_path}: annotations[{n}] is for image_id {entry['image_id']!r}, which 'images' does not list")
        words = tokenize(str(entry["caption"]))
        if words:
            captions.setdefault(entry["image_id"], []).append(words)
    if not captions:
        raise CocoError(f"{json_path} has no captions with words in them; there is nothing to train on")
    folder = _image_folder(json_path, images, files, captions)
    items = [CocoItem(image_id, folder / files[image_id], caps) for image_id, caps in captions.items()]
    if check_images:
        missing = [item.path for item in items if not item.path.is_file()]
        if missing:
            raise CocoError(
                f"{len(missing)} of {len(items)} images are missing, for example {missing[0]}; "
                f"give the image folder with --images DIR"
            )
    return CocoSet(json_path.stem, items)


def _image_folder(json_path: Path, images, files: dict, captions: dict) -> Path:
    if images is not None:
        folder = Path(images)
        if not folder.is_dir():
            raise CocoError(f"image folder {folder} does not exist; check --images")
        return folder
    sample = files[next(iter(captions))]
    for folder in (json_path.parent, json_path.parent / "images", json_path.parent.parent, json_path.parent.parent / "images"):
        if (folder / sample).is_file():
            return folder
    raise CocoError(
        f"cannot find the images of {json_path} (looked for {sample} beside it and in images/); "
        f"give the image folder with --images DIR"
    )


def load_item_image(item: CocoItem, size: int) -> np.ndarray:
    """The item's picture as (size, size, 3) uint8 RGB, its centre square; errors name the file."""
    from rnnstudio.data.images import fit_square, read_image

    return fit_square(read_image(item.path), size)
