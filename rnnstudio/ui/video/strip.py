"""The clip as the LSTM reads it, drawn column by column: a filmstrip of the last frames; under
each frame the motion probabilities after it (the LSTM making up its mind), the LSTM's hidden
state h_t as a heatmap, and the single-frame baseline's guess from that frame alone.

Painted by hand at the sizes its font asks for, so presenter mode grows it with the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from rnnstudio.ui.frame_view import qimage_from_rgb

COLUMNS = 32  # the last frames shown: a whole generated clip
MIN_COLUMNS = 16  # a short clip's columns are as wide as 16 would be
PROBABILITY = QColor("#1f5fa0")  # a cell's blue deepens with P(motion)
# A motion as a sign, where its word does not fit a column (the rows' titles give both).
SIGNS = {"left": "←", "right": "→", "up": "↑", "down": "↓", "closer": "+", "away": "−", "spins": "↻",
         "still": "•"}
RIGHT, WRONG, UNKNOWN = QColor("#2e7d32"), QColor("#c0392b"), QColor("#444444")
# h_t in [-1, 1]: blue below zero, white at zero, red above (a diverging map reads either sign).
NEGATIVE, POSITIVE = np.array([33, 102, 172], float), np.array([178, 24, 43], float)


def state_heatmap(columns: list[np.ndarray]) -> np.ndarray:
    """(units, frames, 3) uint8: each frame's h_t as a column, blue -1 ... white 0 ... red +1."""
    h = np.clip(np.stack(columns, axis=1), -1.0, 1.0)[..., None]
    white = np.full(3, 255.0)
    rgb = np.where(h < 0, white + (NEGATIVE - white) * -h, white + (POSITIVE - white) * h)
    return np.ascontiguousarray(rgb.astype(np.uint8))


@dataclass
class StripColumn:
    thumbnail: QImage
    reading: object = None  # its worker FrameRead, once read


@dataclass
class DrawnColumn:
    """A column as drawn, kept while it is shown. It holds what it shows, so that the ids it is
    kept by stay theirs."""

    pixmap: QPixmap
    state: np.ndarray | None  # its reading's h_t as heatmap colours, (units, 1, 3); None until read
    thumbnail: QImage
    reading: object


@dataclass
class StripContent:
    motions: tuple[str, ...] = ()
    columns: list[StripColumn] = field(default_factory=list)
    first: int = 1  # the frame number of columns[0] in its clip
    truth_motion: str | None = None  # a generated clip's motion, to mark the baseline right or wrong
    frames: int | None = None  # the clip's length where known: the columns keep one width as it fills


def titled(motion: str) -> str:
    return f"{motion} {SIGNS[motion]}" if motion in SIGNS else motion


def numbered(k: int, columns: int, cw: float, em: float) -> bool:
    """Whether column k gets its frame number: every one where "t=32" fits, else every few, and the last."""
    every = max(1, int(np.ceil(2.6 * em / cw)))
    return k % every == 0 or k == columns - 1 and k % every >= every // 2


class ClipStrip(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setProperty("drawing", True)  # exported with the plots (File → Export)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.content = StripContent()
        self._columns: dict[tuple, DrawnColumn] = {}  # the columns shown, by what they show and how
        self.placeholder = "The frames of the clip appear here as the LSTM reads them."

    def show_clip(self, content: StripContent) -> None:
        self.content = content
        self.updateGeometry()
        self.update()

    # --- sizes, in lines of text ------------------------------------------------------------

    def _em(self) -> float:
        return QFontMetricsF(self.font()).height()

    def _rows(self) -> dict[str, float]:
        em = self._em()
        motions = max(len(self.content.motions), 8)
        return {"thumb": 3.0 * em, "number": 1.1 * em, "title": 1.3 * em, "cell": 1.15 * em,
                "motions": motions, "state": 4.5 * em, "baseline": 1.4 * em}

    def _height(self) -> float:
        r = self._rows()
        return r["thumb"] + r["number"] + 3 * r["title"] + r["motions"] * r["cell"] + r["state"] + r["baseline"] + 8

    def sizeHint(self) -> QSize:
        return QSize(int(30 * self._em()), int(self._height()))

    def minimumSizeHint(self) -> QSize:
        return QSize(int(20 * self._em()), int(self._height()))

    # --- painting -----------------------------------------------------------------------------
    # Each column (its frame, its P(motion) cells, its baseline guess) is drawn once, when its
    # reading arrives, and kept as a pixmap: a frame's repaint draws one new column, not 32.

    def _layout(self) -> dict:
        c, em, r = self.content, self._em(), self._rows()
        fm = QFontMetricsF(self.font())
        units = next((len(col.reading.hidden) for col in c.columns if col.reading is not None), 0)
        state_title = f"h ({units} units)" if units else "h"
        label_w = max(fm.horizontalAdvance(titled(m)) for m in (*c.motions, "one frame alone", state_title)) + 0.8 * em
        # Laid out for the whole clip where its length is known: were the width to shrink with each
        # new frame, every column would be drawn again each frame (measured 17 ms, not 2).
        slots = max(min(c.frames or 0, COLUMNS), len(c.columns), MIN_COLUMNS)
        cw = min((self.width() - label_w - 4) / slots, 4.2 * em)
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, self.font().pointSizeF() * 0.85))
        thumb = min(r["thumb"], cw - 2)
        # The baseline's guesses as words where the longest fits a column, else all as signs.
        words_fit = max((QFontMetricsF(small).horizontalAdvance(m) for m in c.motions), default=0) <= cw - 0.4 * em
        y = {"thumb": 2.0}
        y["cells_title"] = y["thumb"] + thumb + r["number"]
        y["cells"] = y["cells_title"] + r["title"]
        y["state_title"] = y["cells"] + len(c.motions) * r["cell"]
        y["state"] = y["state_title"] + r["title"]
        y["baseline_title"] = y["state"] + r["state"]
        y["baseline"] = y["baseline_title"] + r["title"]
        return {"em": em, "rows": r, "label_w": label_w, "cw": cw, "small": small, "thumb": thumb, "y": y,
                "state_title": state_title, "words_fit": words_fit, "width": slots * cw}

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("white"))
        c = self.content
        if not c.columns:
            p.setPen(UNKNOWN)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        geo = self._layout()
        em, r, y, cw, x0, width = geo["em"], geo["rows"], geo["y"], geo["cw"], geo["label_w"], geo["width"]
        title_w = x0 - 0.4 * em
        drawn = {}
        for k, col in enumerate(c.columns):
            key = (id(col.thumbnail), id(col.reading), cw, em, c.truth_motion)
            drawn[key] = self._columns.get(key) or self._draw_column(col, geo)
            p.drawPixmap(QPointF(x0 + k * cw, 0), drawn[key].pixmap)
        self._columns = drawn
        p.setFont(geo["small"])
        p.setPen(UNKNOWN)
        for k in range(len(c.columns)):
            if numbered(k, len(c.columns), cw, em):
                text = f"t={c.first + k}"
                centre = x0 + (k + 0.5) * cw
                if centre + p.fontMetrics().horizontalAdvance(text) / 2 <= self.width():  # none cut at the edge
                    p.drawText(QRectF(centre - 1.5 * cw, y["thumb"] + geo["thumb"], 3 * cw, r["number"]),
                               Qt.AlignmentFlag.AlignCenter, text)
        p.setFont(self.font())
        self._row_title(p, QRectF(0, y["thumb"], title_w, geo["thumb"]), "frame")
        self._heading(p, QRectF(x0, y["cells_title"], width, r["title"]),
                      "P(motion | frames so far): the LSTM making up its mind")
        for i, motion in enumerate(c.motions):
            self._row_title(p, QRectF(0, y["cells"] + i * r["cell"], title_w, r["cell"]), titled(motion))
        self._heading(p, QRectF(x0, y["state_title"], width, r["title"]),
                      "the LSTM's state hₜ, one column a frame (blue −1, white 0, red +1)")
        self._row_title(p, QRectF(0, y["state"], title_w, r["state"]), geo["state_title"])
        states = [column.state for column in drawn.values() if column.state is not None]
        if states:
            p.drawImage(QRectF(x0, y["state"], len(states) * cw, r["state"]),
                        qimage_from_rgb(np.concatenate(states, axis=1)))
        p.setPen(QPen(QColor("#999999"), 1))
        p.drawRect(QRectF(x0, y["state"], width, r["state"]))
        self._heading(p, QRectF(x0, y["baseline_title"], width, r["title"]),
                      "the single-frame baseline, on each frame alone")
        self._row_title(p, QRectF(0, y["baseline"], title_w, r["baseline"]), "one frame alone")
        p.end()

    def _draw_column(self, col: StripColumn, geo: dict) -> DrawnColumn:
        state = state_heatmap([col.reading.hidden]) if col.reading is not None else None
        return DrawnColumn(self._column_pixmap(col, geo), state, col.thumbnail, col.reading)

    def _column_pixmap(self, col: StripColumn, geo: dict) -> QPixmap:
        """One column: its frame, and once read, its P(motion) cells and the baseline's guess."""
        r, y, cw, thumb, small = geo["rows"], geo["y"], geo["cw"], geo["thumb"], geo["small"]
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(max(1, int(np.ceil(cw * ratio))), int(np.ceil((y["baseline"] + r["baseline"]) * ratio)))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        p = QPainter(pixmap)
        p.drawImage(QRectF((cw - thumb) / 2, y["thumb"], thumb, thumb), col.thumbnail)
        reading = col.reading
        if reading is not None:
            p.setFont(small)
            percent_fits = QFontMetricsF(small).horizontalAdvance("100%") <= cw - 4
            probs = np.asarray(reading.motion_p)
            best = int(probs.argmax())
            cell = r["cell"]
            for i, prob in enumerate(probs):
                rect = QRectF(1, y["cells"] + i * cell + 1, cw - 2, cell - 2)
                fill = QColor(PROBABILITY)
                fill.setAlphaF(float(prob))
                p.fillRect(rect, fill)
                if i == best:
                    p.setPen(QPen(QColor("black"), 2))
                    p.drawRect(rect)
                if prob >= 0.1 and percent_fits:
                    p.setPen(QColor("white") if prob >= 0.5 else QColor("black"))
                    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{prob:.0%}")
            guess, truth = reading.baseline_motion, self.content.truth_motion
            p.setPen(UNKNOWN if truth is None else RIGHT if guess == truth else WRONG)
            text = guess if geo["words_fit"] else SIGNS.get(guess, guess[:1])
            p.drawText(QRectF(0, y["baseline"], cw, r["baseline"]), Qt.AlignmentFlag.AlignCenter, text)
        p.end()
        return pixmap

    def _row_title(self, p: QPainter, rect: QRectF, text: str) -> None:
        p.setPen(UNKNOWN)
        p.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)

    def _heading(self, p: QPainter, rect: QRectF, text: str) -> None:
        p.setPen(QColor("black"))
        fm = QFontMetricsF(self.font())
        p.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                   fm.elidedText(text, Qt.TextElideMode.ElideRight, rect.width()))
