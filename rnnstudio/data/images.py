"""Reading pictures for the image models: any file OpenCV reads, as RGB uint8.

Greyscale becomes RGB, an alpha channel is composited on white, 16-bit and float pictures
are scaled to 8 bits, huge pictures are shrunk on reading. A file that is missing or not
a picture is a UserError naming the file.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from rnnstudio.data.files import open_regular_file
from rnnstudio.errors import UserError

MAX_SIDE = 4096  # larger pictures are shrunk to this on reading: a model sees 64-224 pixels anyway
MAX_FILE_BYTES = 512 * 1024 * 1024


class ImageFileError(UserError):
    """A picture file that is missing or cannot be read."""


def read_images(paths, max_side: int = MAX_SIDE) -> list[np.ndarray | None]:
    """Several pictures, None for each one that cannot be read (examples shown as a list: one
    missing picture must not take the others with it)."""
    images: list[np.ndarray | None] = []
    for path in paths:
        try:
            images.append(read_image(path, max_side))
        except (OSError, UserError):
            images.append(None)
    return images


def read_image(path: str | os.PathLike, max_side: int = MAX_SIDE) -> np.ndarray:
    """The picture at `path` as an (H, W, 3) uint8 RGB array."""
    path = Path(path)
    with _open_picture(path) as f:
        try:
            # not cv2.imread: it fails on some non-ASCII paths, and it would open a pipe blindly
            data = np.frombuffer(f.read(os.fstat(f.fileno()).st_size), dtype=np.uint8)
        except OSError as e:
            raise ImageFileError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)  # keeps alpha and 16 bits
    except cv2.error as e:
        if "CV_IO_MAX_IMAGE_PIXELS" in str(e):  # OpenCV's check of the size the header declares
            raise ImageFileError(
                f"{path} is too large: it declares more than {max_pixels():,} pixels "
                f"({math.isqrt(max_pixels())} x {math.isqrt(max_pixels())}), the most read here; shrink it first"
            ) from None
        img = None
    if img is None:
        raise ImageFileError(f"{path} is not a picture OpenCV can read (PNG, JPEG, BMP, TIFF, WebP, ...)")
    return to_rgb8(img, max_side, name=str(path))


def read_picture_file(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """read_image, and the file's modification time (ns): for the app, which keys what it
    computed from a picture by both, so that a picture file changed on disk is a new picture."""
    image = read_image(path)
    try:
        return image, os.stat(path).st_mtime_ns
    except OSError:  # removed just after it was read: what was read is still the picture
        return image, 0


def check_picture_file(path: str | os.PathLike) -> None:
    """What read_image refuses without decoding: a missing, empty or oversized file, or one
    that is not a regular file. Quick, for checking every input before a long run."""
    _open_picture(Path(path)).close()


def _open_picture(path: Path):
    f = open_regular_file(path, "picture", ImageFileError, MAX_FILE_BYTES)
    if os.fstat(f.fileno()).st_size == 0:
        f.close()
        raise ImageFileError(f"{path} is empty (0 bytes); it is not a picture")
    return f


def max_pixels() -> int:
    """The most pixels a picture may declare (set in rnnstudio/__init__.py, before OpenCV loads)."""
    return int(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", 1 << 30))


@contextlib.contextmanager
def decoder_warnings_dropped():
    """Inside it, the "libpng warning: ..." lines that the PNG library OpenCV bundles prints
    straight to file descriptor 2 are dropped; anything else written there is passed on.

    OpenCV's log level does not reach them (measured with OpenCV 5.1): libpng writes them with
    its own default handler. For the command line, whose standard error must hold one line per
    failure: it swaps descriptor 2 for the whole process, so a program with other threads
    writing there (the app) must not use it.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error at all: nothing to keep clean
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [line for line in caught.read().splitlines(keepends=True) if not line.startswith(b"libpng warning:")]
            if kept:
                os.write(2, b"".join(kept))


def to_rgb8(img: np.ndarray, max_side: int = MAX_SIDE, name: str = "the picture") -> np.ndarray:
    """Any OpenCV picture (BGR/BGRA/grey, 8/16-bit or float) -> (H, W, 3) uint8 RGB."""
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)) or img.size == 0:
        raise ImageFileError(f"{name} has an unusual layout {img.shape}; save it as an ordinary RGB picture")
    h, w = img.shape[:2]
    if img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and max(h, w) <= max_side:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)  # a camera or video frame: the common case, kept fast
    if max(h, w) > max_side:  # shrink first: everything after is cheaper
        scale = max_side / max(h, w)
        img = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    if img.dtype == np.uint16:
        img = (img.astype(np.float32) / 257.0)
    elif img.dtype in (np.float32, np.float64):
        img = np.asarray(img, np.float32) * (255.0 if float(np.nanmax(img)) <= 1.0 else 1.0)
    elif img.dtype != np.uint8:
        img = img.astype(np.float32)
    img = np.nan_to_num(np.asarray(img, np.float32), nan=0.0)
    if img.ndim == 2:
        rgb = np.repeat(img[..., None], 3, axis=2)
    elif img.shape[2] == 4:
        alpha = img[..., 3:4] / 255.0
        rgb = img[..., 2::-1] * alpha + 255.0 * (1 - alpha)  # BGRA -> RGB over white
    else:
        rgb = img[..., ::-1]
    return np.ascontiguousarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))


def fit_square(img: np.ndarray, size: int) -> np.ndarray:
    """The centre square of an RGB picture, resized to (size, size, 3): what a model sees."""
    h, w = img.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    crop = img[y0 : y0 + side, x0 : x0 + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=interp))
