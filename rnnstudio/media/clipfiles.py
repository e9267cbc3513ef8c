"""A clip from a file: every frame of a video file, or every image of a folder in name order.

For `rnnstudio video` (and the video panel): only regular files are read (rnnstudio.data.files),
and each bad input is a SourceError saying what is wrong: a missing path, a zero-length or
corrupt video, a folder holding something other than images, a single frame, frames of
different sizes.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from rnnstudio.data.files import open_regular_file
from rnnstudio.data.images import to_rgb8
from rnnstudio.media.sources import IMAGE_SUFFIXES, SourceError, read_image_file

MAX_FRAMES = 600  # a clip is seconds long; the model needs no more, and memory stays small


def read_clip(path: str | os.PathLike, max_frames: int = MAX_FRAMES) -> list[np.ndarray]:
    """The frames (RGB uint8, all one size) of a video file or a folder of images; at least two."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path} does not exist; give a video file or a folder of frame images")
    frames = _folder(path, max_frames) if path.is_dir() else _video(path, max_frames)
    if len(frames) < 2:
        raise SourceError(f"{path} holds a single frame; a motion needs at least two (a video or several images)")
    sizes = {f.shape[:2] for f in frames}
    if len(sizes) > 1:
        (h1, w1), (h2, w2) = sorted(sizes)[:2]
        raise SourceError(f"the frames of {path} have different sizes ({w1}x{h1} and {w2}x{h2}); "
                          f"give frames of one size")
    return frames


def _folder(path: Path, max_frames: int) -> list[np.ndarray]:
    entries = sorted(path.iterdir())
    if not entries:
        raise SourceError(f"the folder {path} is empty; put the frames in it as images, in name order")
    others = [p for p in entries if p.suffix.lower() not in IMAGE_SUFFIXES or not p.is_file()]
    if others:
        raise SourceError(f"the folder {path} holds {others[0].name}, which is not an image; it must hold only the "
                          f"frames ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if len(entries) > max_frames:
        raise SourceError(f"the folder {path} holds {len(entries)} frames, over the limit of {max_frames}")
    return [read_image_file(p) for p in entries]


def _video(path: Path, max_frames: int) -> list[np.ndarray]:
    with open_regular_file(path, "video file", SourceError) as f:  # refuses pipes, devices, unreadable files
        if os.fstat(f.fileno()).st_size == 0:
            raise SourceError(f"{path} is empty (zero bytes); give a video file")
    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        while cap.isOpened() and len(frames) <= max_frames:
            ok, image = cap.read()
            if not ok or image is None:
                break
            frames.append(to_rgb8(image))
    finally:
        cap.release()
    if not frames:
        raise SourceError(f"{path} is not a video OpenCV can read (corrupt, or not a video); choose another file "
                          f"(MP4, AVI, ...)")
    if len(frames) > max_frames:
        raise SourceError(f"{path} has more than {max_frames} frames; cut it to a clip of a few seconds")
    return frames
