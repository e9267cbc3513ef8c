"""A widget that shows a video frame, scaled to fit, with an optional attention overlay."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

SPOTLIGHT_DIM = 190  # alpha of the black laid over what the model did not look at (of 255)


def spotlight_rgba(weights: np.ndarray) -> np.ndarray:
    """Attention weights (g, g) -> an RGBA overlay (g, g, 4): black, transparent where the
    model looked most and darker where it looked less. Dimming the rest, rather than tinting
    the looked-at part, keeps it visible whatever its colour (a red tint vanishes on a red
    circle) and reads from the back of a lecture hall."""
    w = np.asarray(weights, dtype=float)
    w = w / w.max() if w.max() > 0 else w
    rgba = np.zeros((*w.shape, 4), dtype=np.uint8)
    rgba[..., 3] = np.round((1.0 - w) * SPOTLIGHT_DIM).astype(np.uint8)
    return rgba


def qimage_from_rgb(image: np.ndarray) -> QImage:
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    fmt = QImage.Format.Format_RGBA8888 if image.shape[2] == 4 else QImage.Format.Format_RGB888
    return QImage(image.data, w, h, image.strides[0], fmt).copy()  # copy: the array may go away


def thumbnail_image(image: np.ndarray, size: int = 96) -> QImage:
    """A small copy of an RGB frame, at least `size` pixels on its shorter side where the
    frame has them; every k-th pixel, which is enough for a thumbnail and costs nothing."""
    step = max(1, min(image.shape[:2]) // size)
    return qimage_from_rgb(image[::step, ::step])


class FrameView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._frame: QImage | None = None
        self._overlay: QImage | None = None
        self.placeholder = "No source: choose one on the left."
        self.frames_painted = 0

    def sizeHint(self) -> QSize:
        return QSize(640, 480)

    def set_frame(self, image: np.ndarray | None) -> None:
        self._frame = None if image is None else qimage_from_rgb(image)
        self.update()

    def set_attention(self, weights: np.ndarray | None) -> None:
        self._overlay = None if weights is None else qimage_from_rgb(spotlight_rgba(weights))
        self.update()

    def frame_rect(self) -> QRectF:
        if self._frame is None:
            return QRectF()
        fw, fh = self._frame.width(), self._frame.height()
        scale = min(self.width() / fw, self.height() / fh)
        w, h = fw * scale, fh * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), Qt.GlobalColor.black)
        if self._frame is None:
            p.setPen(Qt.GlobalColor.white)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        target = self.frame_rect()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(target, self._frame)
        if self._overlay is not None:
            # The model sees the centre square of the frame: its attention grid covers that.
            side = min(target.width(), target.height())
            square = QRectF(target.center().x() - side / 2, target.center().y() - side / 2, side, side)
            p.drawImage(square, self._overlay)  # the grid, smoothly scaled up
        p.end()
        self.frames_painted += 1
