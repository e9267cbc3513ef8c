"""Where frames come from: a camera, a video file, an image or a folder, or a generated
stream of shapes-world scenes whose truth is known (so each caption can be graded).

Every source yields `Frame`s of RGB uint8 pixels at its own rate and raises
`SourceError`, with a message for the person, when it cannot go on (no camera, a camera
unplugged mid-stream, an unreadable file). OpenCV does the reading; there is no Qt here.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rnnstudio.data.images import ImageFileError, read_image, to_rgb8
from rnnstudio.errors import UserError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
MAX_FRAME_SIDE = 1280  # larger frames are scaled down on arrival; the models see 64-96 px


class SourceError(UserError):
    """A source that cannot deliver frames; the message says why and what to try."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    index: int  # 0, 1, 2, ... in the order the source delivered them
    time: float  # time.monotonic() when it arrived
    truth: Any = None  # the Scene it shows, for generated frames


class FrameSource:
    """Base class. `fps` is the rate frames should be shown at; `read()` gives the next."""

    name = "source"
    fps = 30.0

    def __init__(self):
        self._count = 0

    def read(self) -> Frame:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _frame(self, image: np.ndarray, truth=None) -> Frame:
        frame = Frame(_limit_size(image), self._count, time.monotonic(), truth)
        self._count += 1
        return frame


def _limit_size(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    side = max(h, w)
    if side <= MAX_FRAME_SIDE:
        return image
    scale = MAX_FRAME_SIDE / side
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def read_image_file(path: str | os.PathLike) -> np.ndarray:
    """An image file as RGB uint8 (see data.images.read_image), or a SourceError saying why not."""
    try:
        return read_image(path, max_side=MAX_FRAME_SIDE)
    except ImageFileError as e:
        raise SourceError(f"{e}; choose another file") from None


class CameraSource(FrameSource):
    """A camera that OpenCV finds, by its index (0 is the first)."""

    def __init__(self, index: int = 0):
        super().__init__()
        self.index = index
        self.name = f"camera {index}"
        self._cap = cv2.VideoCapture(index)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(
                f"no camera answers at index {index}; plug one in, or choose a video file, an image "
                f"or the generated shapes stream"
            )
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if 1 <= fps <= 240 else 30.0

    def read(self) -> Frame:
        ok, image = self._cap.read()
        if not ok or image is None:
            raise SourceError(
                f"camera {self.index} stopped sending frames (unplugged?); plug it back in and start it "
                f"again, or choose another source"
            )
        return self._frame(to_rgb8(image))

    def close(self) -> None:
        self._cap.release()


def find_cameras(max_index: int = 4) -> list[int]:
    """Indices of the cameras OpenCV can open (slow on some systems: not on the GUI thread)."""
    found = []
    for index in range(max_index):
        cap = cv2.VideoCapture(index)
        try:
            if cap.isOpened():
                found.append(index)
        finally:
            cap.release()
    return found


class VideoFileSource(FrameSource):
    """A video file, played at its own frame rate, from the start again when it ends."""

    def __init__(self, path: str | os.PathLike, loop: bool = True):
        super().__init__()
        self.path = Path(path)
        self.name = self.path.name
        self.loop = loop
        if not self.path.is_file():
            raise SourceError(f"{self.path} does not exist; choose a video file")
        self._cap = cv2.VideoCapture(str(self.path))
        ok, first = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok or first is None:
            self._cap.release()
            raise SourceError(f"{self.path} is not a video OpenCV can read; choose another file (MP4, AVI, ...)")
        self._first: np.ndarray | None = first
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if 1 <= fps <= 240 else 25.0

    def read(self) -> Frame:
        if self._first is not None:
            image, self._first = self._first, None
            return self._frame(to_rgb8(image))
        ok, image = self._cap.read()
        if not ok and self.loop and self._count > 0:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
        if not ok or image is None:
            raise SourceError(f"{self.path} ended or could not be read further")
        return self._frame(to_rgb8(image))

    def close(self) -> None:
        self._cap.release()


class ImageSource(FrameSource):
    """One image, or every image of a folder in name order, each shown for `seconds`."""

    def __init__(self, path: str | os.PathLike, seconds: float = 2.0):
        super().__init__()
        path = Path(path)
        self.name = path.name
        if path.is_dir():
            self.paths = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self.paths:
                raise SourceError(f"the folder {path} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        else:
            self.paths = [path]
            read_image_file(path)  # refuse a bad file now, not at the first frame
        self.fps = 1.0 / seconds

    def read(self) -> Frame:
        path = self.paths[self._count % len(self.paths)]
        return self._frame(read_image_file(path), truth=str(path))


class GeneratedSource(FrameSource):
    """Shapes-world scenes, a new one every `seconds`, drawn plain or with the camera look.

    Each frame carries its Scene as `truth`, so a caption of it can be graded.
    """

    name = "generated shapes"

    def __init__(self, seed: int = 0, fps: float = 15.0, seconds_per_scene: float = 2.0, camera: bool = True, size: int = 256):
        super().__init__()
        from rnnstudio.data import shapes

        self._shapes = shapes
        self.fps = fps
        self._rng = np.random.default_rng(seed)
        self._frames_per_scene = max(1, round(seconds_per_scene * fps))
        self._camera = camera
        self._size = size
        self._scene = None
        self._image = None

    def read(self) -> Frame:
        if self._count % self._frames_per_scene == 0 or self._scene is None:
            self._scene = self._shapes.random_scene(self._rng)
            self._image = self._shapes.render(self._scene, size=self._size, camera=self._camera, rng=self._rng)
        return self._frame(self._image, truth=self._scene)


def write_video(path: str | os.PathLike, frames: list[np.ndarray], fps: float = 15.0) -> None:
    """Write RGB frames to a video file (MJPG in .avi works with every OpenCV build)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        raise SourceError(f"cannot write a video to {path}; use a .avi file name in a writable folder")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()


def open_source(kind: str, value=None) -> FrameSource:
    """'camera' (index), 'video' (path), 'image' (file or folder path), 'generated' (seed)."""
    if kind == "camera":
        return CameraSource(int(value or 0))
    if kind == "video":
        return VideoFileSource(value)
    if kind == "image":
        return ImageSource(value)
    if kind == "generated":
        return GeneratedSource(seed=int(value or 0))
    raise SourceError(f"unknown source kind {kind!r}")
