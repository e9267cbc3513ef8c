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
from rnnstudio.data.images import fit_square, to_rgb8
from rnnstudio.media.sources import IMAGE_SUFFIXES, SourceError, read_image_file

MAX_FRAMES = 600  # a clip is seconds long; the model needs no more, and memory stays small


def read_clip(path: str | os.PathLike, max_frames: int = MAX_FRAMES, square: int | None = None,
              longest: int | None = None) -> list[np.ndarray]:
    """The frames (RGB uint8, all one size) of a video file or a folder of images; at least two.

    Frames are made smaller as they are read, so a long clip of large frames is never held
    whole (600 frames of 1080p are 3.7 GB): with `square`, each frame's centre square is scaled
    to square x square (the model's input); with `longest`, a frame whose longer side is more
    is scaled down to it, its shape kept (for showing). The frames must still be of one size as
    they were."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path} does not exist; give a video file or a folder of frame images")
    sizes: set[tuple[int, int]] = set()

    def keep(frame: np.ndarray) -> np.ndarray:
        sizes.add(frame.shape[:2])
        if square is not None:
            return fit_square(frame, square)
        if longest is not None and max(frame.shape[:2]) > longest:
            h, w = frame.shape[:2]
            scale = longest / max(h, w)
            return cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        return frame

    frames = _folder(path, max_frames, keep) if path.is_dir() else _video(path, max_frames, keep)
    if len(frames) < 2:
        raise SourceError(f"{path} holds a single frame; a motion needs at least two (a video or several images)")
    if len(sizes) > 1:
        (h1, w1), (h2, w2) = sorted(sizes)[:2]
        raise SourceError(f"the frames of {path} have different sizes ({w1}x{h1} and {w2}x{h2}); "
                          f"give frames of one size")
    return frames


def _folder(path: Path, max_frames: int, keep) -> list[np.ndarray]:
    entries = sorted(path.iterdir())
    if not entries:
        raise SourceError(f"the folder {path} is empty; put the frames in it as images, in name order")
    others = [p for p in entries if p.suffix.lower() not in IMAGE_SUFFIXES or not p.is_file()]
    if others:
        raise SourceError(f"the folder {path} holds {others[0].name}, which is not an image; it must hold only the "
                          f"frames ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if len(entries) > max_frames:
        raise SourceError(f"the folder {path} holds {len(entries)} frames, over the limit of {max_frames}")
    return [keep(read_image_file(p)) for p in entries]


def _video(path: Path, max_frames: int, keep) -> list[np.ndarray]:
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
            frames.append(keep(to_rgb8(image)))
    finally:
        cap.release()
    if not frames:
        raise SourceError(f"{path} is not a video OpenCV can read (corrupt, or not a video); choose another file "
                          f"(MP4, AVI, ...)")
    if len(frames) > max_frames:
        raise SourceError(f"{path} has more than {max_frames} frames; cut it to a clip of a few seconds")
    return frames
