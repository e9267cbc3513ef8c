"""Reading pictures: a tiny file that declares an enormous picture is refused, not decoded."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from rnnstudio.data.images import ImageFileError, read_image, read_images


def picture_bomb(path):
    """A real 16 x 16 JPEG whose header claims 20000 x 20000 pixels (a few hundred bytes)."""
    ok, data = cv2.imencode(".jpg", np.full((16, 16, 3), 128, np.uint8))
    data = bytearray(data.tobytes())
    sof = data.index(b"\xff\xc0")  # start of frame: length (2), precision (1), height (2), width (2)
    data[sof + 5 : sof + 9] = (20000).to_bytes(2, "big") * 2
    path.write_bytes(bytes(data))
    return path


def test_a_picture_bomb_is_refused_before_it_is_decoded_as_too_large(tmp_path):
    bomb = picture_bomb(tmp_path / "bomb.jpg")
    assert bomb.stat().st_size < 1000
    with pytest.raises(ImageFileError, match="bomb.jpg is too large: it declares more than 67,108,864 pixels"):
        read_image(bomb)


def test_the_limit_is_set_before_opencv_is_imported(tmp_path):
    # A fresh process, so that the order of imports is the app's own.
    bomb = picture_bomb(tmp_path / "bomb.jpg")
    code = ("import sys, rnnstudio.media.sources\nfrom rnnstudio.data.images import read_image\n"
            f"try:\n    read_image({str(bomb)!r})\nexcept Exception as e:\n    print(type(e).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ImageFileError", out.stderr


def test_several_pictures_are_read_with_none_for_each_unreadable_one(tmp_path):
    import cv2
    import numpy as np

    good = tmp_path / "good.png"
    cv2.imwrite(str(good), np.full((4, 6, 3), 200, np.uint8))
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    images = read_images([good, tmp_path / "broken.png", tmp_path / "missing.png", good])
    assert [None if i is None else i.shape for i in images] == [(4, 6, 3), None, None, (4, 6, 3)]
