"""The COCO-format caption loader, on a tiny set written by the test."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from rnnstudio.data.coco import CocoError, build_vocab, load_coco, load_item_image, tokenize
from rnnstudio.errors import UserError


def write_set(folder, annotations=None, images=None):
    (folder / "images").mkdir()
    for n, color in enumerate([(0, 0, 255), (0, 255, 0), (255, 0, 0)], start=1):
        img = np.full((40, 60, 3), 255, np.uint8)
        cv2.circle(img, (30, 20), 12, color, -1)
        cv2.imwrite(str(folder / "images" / f"{n}.png"), img)
    doc = {
        "images": images or [{"id": n, "file_name": f"{n}.png"} for n in (1, 2, 3)],
        "annotations": annotations or [
            {"image_id": 1, "caption": "A red circle."},
            {"image_id": 1, "caption": "a red ball, centred"},
            {"image_id": 2, "caption": "A green circle"},
            {"image_id": 3, "caption": "A blue circle; it's round"},
        ],
    }
    path = folder / "captions_train.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_loads_items_captions_and_images(tmp_path):
    path = write_set(tmp_path)
    for where in (path, tmp_path):  # the JSON itself, or the folder holding it
        coco = load_coco(where)
        assert len(coco.items) == 3
        first = next(item for item in coco.items if item.image_id == 1)
        assert first.captions == [["a", "red", "circle"], ["a", "red", "ball", "centred"]]
        assert first.path == tmp_path / "images" / "1.png"
    img = load_item_image(first, 32)
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    assert tuple(img[16, 16]) == (255, 0, 0)  # RGB: cv2 wrote BGR (0, 0, 255)
    coco = load_coco(path, images=tmp_path / "images")
    assert len(coco.all_captions()) == 4


def test_tokenize_and_vocab():
    assert tokenize("A Red  circle, left of it's Blue-triangle!") == ["a", "red", "circle", "left", "of", "it's", "blue", "triangle"]
    vocab = build_vocab([["a", "red", "circle"], ["a", "blue", "circle"], ["a", "cat"]], min_count=2, specials=["<pad>"])
    assert vocab == ["<pad>", "a", "circle"]
    assert build_vocab([["b", "a"]], 1) == ["a", "b"]


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{not json", "not valid JSON"),
        ('{"images": ' + "[" * 100_000 + "]" * 100_000 + "}", "JSON nested too deeply to read"),
        ('{"images": [], "annotations": [], "n": ' + "9" * 5000 + "}", "JSON holding a number too long to read"),
        ("[1, 2]", "must be a JSON object"),
        ('{"images": []}', "no 'annotations'"),
        ('{"annotations": []}', "no 'images'"),
        ('{"images": [{"file_name": "1.png"}], "annotations": []}', "needs an 'id'"),
        ('{"images": [{"id": 1, "file_name": "1.png"}], "annotations": [{"image_id": 1}]}', "needs an 'image_id' and a 'caption'"),
        ('{"images": [{"id": 1, "file_name": "1.png"}], "annotations": [{"image_id": 9, "caption": "x"}]}', "image_id 9"),
        ('{"images": [{"id": 1, "file_name": "1.png"}], "annotations": [{"image_id": 1, "caption": "..."}]}', "no captions"),
    ],
)
def test_bad_annotation_files_say_what_is_wrong(tmp_path, content, fragment):
    path = tmp_path / "captions.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CocoError) as e:
        load_coco(path)
    assert fragment in str(e.value) and str(path) in str(e.value)
    assert isinstance(e.value, UserError)


def test_missing_files_and_images(tmp_path):
    with pytest.raises(CocoError, match="does not exist"):
        load_coco(tmp_path / "nope.json")
    with pytest.raises(CocoError, match="holds no annotations JSON"):
        load_coco(tmp_path)
    path = write_set(tmp_path)
    (tmp_path / "images" / "2.png").unlink()
    with pytest.raises(CocoError, match=r"1 of 3 images are missing, for example .*2\.png"):
        load_coco(path)
    with pytest.raises(CocoError, match="image folder .* does not exist"):
        load_coco(path, images=tmp_path / "elsewhere")


def test_unreadable_image_names_the_file(tmp_path):
    path = write_set(tmp_path)
    (tmp_path / "images" / "3.png").write_text("not a picture")
    coco = load_coco(path)
    item = next(item for item in coco.items if item.image_id == 3)
    with pytest.raises(UserError, match=r"3\.png is not a picture"):
        load_item_image(item, 32)
