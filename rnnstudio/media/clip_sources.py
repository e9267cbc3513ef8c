"""Clip sources for the video panel: generated shapes-world clips (their truth known) and a clip
from a file, played at their frame rate, clip after clip with a pause between.

Each `Frame.truth` is a `ClipTruth`: which clip the frame belongs to, where in it, and for a
generated clip what happens in it. Frames of the pause after a clip repeat its last frame
with `hold` set: shown, not read by the model. A camera is rnnstudio.media.sources'
CameraSource as it is: its stream has no clips, the panel cuts it. No Qt here.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import cv2

from rnnstudio.data.clips import make_clip
from rnnstudio.media.clipfiles import read_clip
from rnnstudio.media.sources import Frame, FrameSource

HOLD_S = 2.5  # the pause after a clip: its sentence is written (about 1 s) and stays on screen to be read
FOLDER_FPS = 10.0  # a folder of frames has no frame rate of its own
SHOWN_LONGEST = 640  # a file's frames are held at most this large (the view is smaller; the model sees 64 x 64)


@dataclass(frozen=True)
class ClipTruth:
    clip: int  # 0, 1, 2, ...: the clips of this source in order
    frame: int  # the frame's place in its clip, from 0
    frames: int  # the clip's length
    hold: bool = False  # a frame of the pause after the clip
    motion: str | None = None  # a generated clip's truth: one of rnnstudio.data.clips.MOTIONS
    obj: str | None = None  # its acting shape, "red circle"
    sentence: str | None = None  # its description, "the red circle moves left"

    @property
    def last(self) -> bool:
        return self.frame == self.frames - 1


class _ClipPlayer(FrameSource):
    """Plays clips (lists of frames) one after another, each followed by a pause of `hold_s`."""

    def __init__(self, fps: float, hold_s: float = HOLD_S):
        super().__init__()
        self.fps = fps
        self._hold = max(1, round(hold_s * fps))
        self._frames = None
        self._truth: ClipTruth | None = None
        self._clip, self._at = -1, 0

    def next_clip(self, number: int) -> tuple[list, ClipTruth]:
        """The frames of clip `number` and its truth (frame 0)."""
        raise NotImplementedError

    def read(self) -> Frame:
        n = len(self._frames) if self._frames is not None else 0
        if self._frames is None or self._at >= n + self._hold:
            self._clip += 1
            self._frames, self._truth = self.next_clip(self._clip)
            self._at, n = 0, len(self._frames)
        k = min(self._at, n - 1)
        truth = _at(self._truth, k, hold=self._at >= n)
        self._at += 1
        return self._frame(self._frames[k], truth)


def _at(truth: ClipTruth, frame: int, hold: bool) -> ClipTruth:
    return ClipTruth(truth.clip, frame, truth.frames, hold, truth.motion, truth.obj, truth.sentence)


class GeneratedClipSource(_ClipPlayer):
    """Shapes-world clips (rnnstudio.data.clips) drawn at the model's size, plain or with the camera
    look; `motions` cycles through those motions (a lesson's left, right), else each is random."""

    def __init__(self, seed: int = 0, camera: bool = True, size: int = 64, fps: float = 12.0,
                 motions: tuple[str, ...] | None = None, clip_kind: str | None = None, hold_s: float = HOLD_S):
        super().__init__(fps, hold_s)
        self.name = "generated clips" + (" (camera look)" if camera else "")
        self.seed, self.camera, self.size, self.clip_kind = seed, camera, size, clip_kind
        self._motions = itertools.cycle(motions) if motions else None

    def next_clip(self, number: int):
        motion = next(self._motions) if self._motions else None
        clip = make_clip(self.seed + number, camera=self.camera, size=self.size, motion=motion,
                         clip_kind=self.clip_kind)
        truth = ClipTruth(number, 0, len(clip.frames), motion=clip.motion, obj=clip.obj, sentence=clip.sentence)
        return list(clip.frames), truth


class FileClipSource(_ClipPlayer):
    """A video file or a folder of frame images (rnnstudio.media.clipfiles), read whole at the first
    frame (on the capture thread: a SourceError there reaches the panel), then played again and again."""

    def __init__(self, path: str | os.PathLike, hold_s: float = HOLD_S):
        super().__init__(FOLDER_FPS, hold_s)
        self.path = Path(path)
        self.name = self.path.name
        if self.path.is_file():
            cap = cv2.VideoCapture(str(self.path))
            if cap.isOpened():
                fps = cap.get(cv2.CAP_PROP_FPS)
                self.fps = float(fps) if 1 <= fps <= 240 else 25.0
            cap.release()
        self._hold = max(1, round(hold_s * self.fps))
        self._clip_frames: list | None = None

    def next_clip(self, number: int):
        if self._clip_frames is None:  # all held, to play again and again: scaled down as read
            self._clip_frames = read_clip(self.path, longest=SHOWN_LONGEST)
        return self._clip_frames, ClipTruth(number, 0, len(self._clip_frames))
