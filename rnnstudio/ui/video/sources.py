"""The video panel's "Source" box: the captioning panel's (camera, finding cameras, start and
stop), with the sources a clip comes from: generated clips, a camera, a video file, a folder
of frames."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QFileDialog

from rnnstudio.ui.caption.sources import VIDEO_FILES, SourceBox

SOURCES = [
    ("Generated clips, camera look", "generated-camera"),
    ("Generated clips, plain", "generated-plain"),
    ("Camera", "camera"),
    ("Video file…", "video"),
    ("Folder of frames…", "folder"),
]


class ClipSourceBox(SourceBox):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._folder_path: str | None = None
        self.combo.clear()
        for label, key in SOURCES:
            self.combo.addItem(label, key)
        self.start_button.setToolTip("Start the chosen source; the LSTM reads it frame by frame")
        self.stop_button.setToolTip("Stop the source; the last clip and its reading stay")

    def use_folder(self, path: str) -> None:
        self._folder_path = path
        self.choose("folder")

    def open_source(self, size: int = 64, motions: tuple[str, ...] | None = None, clip_kind: str | None = None,
                    seed: int | None = None):
        """The chosen source, opened; None where a file or folder was to be chosen and none was.
        Generated clips are drawn at `size`, the model's, from `seed` (else a new one each time).
        A SourceError says what is wrong."""
        from rnnstudio.media.clip_sources import FileClipSource, GeneratedClipSource
        from rnnstudio.media.sources import CameraSource

        kind = self.combo.currentData()
        if kind == "video":
            path = self._video_path or self._ask_path("Open a video", VIDEO_FILES)
            return FileClipSource(path) if path else None
        if kind == "folder":
            path = self._folder_path or QFileDialog.getExistingDirectory(self, "Open a folder of frames")
            return FileClipSource(path) if path else None
        if kind == "camera":
            return CameraSource(self.camera_spin.value())
        seed = int(time.time()) % 100_000 if seed is None else seed
        return GeneratedClipSource(seed=seed, camera=kind == "generated-camera", size=size,
                                   motions=motions, clip_kind=clip_kind)
