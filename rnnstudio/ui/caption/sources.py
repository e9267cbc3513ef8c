"""The captioning panel's "Source" box: generated shapes, a camera, a video file or pictures,
and the buttons that start and stop it."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QPushButton, QSpinBox

from rnnstudio.ui.settings import choose
from rnnstudio.ui.widgets import give_shortcut, hint_label
from rnnstudio.worker.capture import CameraProbe

SOURCES = [
    ("Generated shapes, camera look", "generated-camera"),
    ("Generated shapes, plain", "generated-plain"),
    ("Camera", "camera"),
    ("Video file…", "video"),
    ("Image or folder of images…", "image"),
]
VIDEO_FILES = "Videos (*.mp4 *.avi *.mov *.mkv *.webm);;All files (*)"
PICTURE_FILES = "Images (*.png *.jpg *.jpeg *.bmp *.webp);;All files (*)"


class SourceBox(QGroupBox):
    def __init__(self, parent=None):
        super().__init__("Source", parent)
        self._video_path: str | None = None
        self._image_path: str | None = None
        self.camera_probe = CameraProbe(self)
        self.camera_probe.found.connect(self._on_cameras_found)
        form = QFormLayout(self)
        self.combo = QComboBox()
        for label, key in SOURCES:
            self.combo.addItem(label, key)
        self.combo.setToolTip("Where the frames come from")
        form.addRow(self.combo)
        row = QHBoxLayout()
        self.camera_spin = QSpinBox()
        self.camera_spin.setRange(0, 9)
        self.camera_spin.setToolTip("Which camera: 0 is the first OpenCV finds")
        self.find_cameras_button = QPushButton("Find cameras")
        self.find_cameras_button.setToolTip("Ask OpenCV which cameras answer")
        self.find_cameras_button.clicked.connect(self.find_cameras)
        row.addWidget(self.camera_spin)
        row.addWidget(self.find_cameras_button)
        form.addRow("Camera", row)
        self.cameras_label = hint_label("")
        form.addRow(self.cameras_label)
        row = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start the chosen source and caption it live")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the source; the last frame and caption stay")
        self.stop_button.setEnabled(False)
        give_shortcut(self.start_button, "Ctrl+Return", "Start the source and caption it")
        give_shortcut(self.stop_button, "Esc", "Stop the source")
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        form.addRow(row)

    def choose(self, kind: str) -> None:
        """One of SOURCES' kinds."""
        choose(self.combo, kind)

    def use_video_file(self, path: str) -> None:
        self._video_path = path
        self.choose("video")

    def use_image(self, path: str) -> None:
        self._image_path = path
        self.choose("image")

    def open_source(self):
        """The chosen source, opened (a rnnstudio.media.sources source); None where a file was to be
        chosen and none was. A SourceError says what is wrong."""
        from rnnstudio.media.sources import CameraSource, GeneratedSource, ImageSource, VideoFileSource

        kind = self.combo.currentData()
        if kind == "video":
            path = self._video_path or self._ask_path("Open a video", VIDEO_FILES)
            return VideoFileSource(path) if path else None
        if kind == "image":
            path = self._image_path or self._ask_path("Open an image", PICTURE_FILES)
            return ImageSource(path) if path else None
        if kind == "camera":
            return CameraSource(self.camera_spin.value())
        return GeneratedSource(seed=int(time.time()) % 100_000, camera=kind == "generated-camera")

    def _ask_path(self, title: str, filters: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, title, "", filters)
        return path

    def find_cameras(self) -> None:
        self.find_cameras_button.setEnabled(False)
        self.cameras_label.setText("Looking for cameras…")
        self.camera_probe.start()

    def _on_cameras_found(self, indices: list) -> None:
        self.find_cameras_button.setEnabled(True)
        if indices:
            self.cameras_label.setText("Cameras found: " + ", ".join(str(i) for i in indices))
            self.camera_spin.setValue(indices[0])
            self.choose("camera")
        else:
            self.cameras_label.setText("OpenCV finds no camera here: use a video file, images or generated shapes.")
