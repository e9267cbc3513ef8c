"""A recurrent network unrolled over its steps, drawn by hand: inputs below, the state h_t in
the middle, outputs above (after the colours of Karpathy's figure of the shapes of sequences).
The panels feed it with what they are working on now; sequence_shapes lays out the overview."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from rnnstudio.ui.drawing import draw_arrow, visible_char

# (fill, border) of the three rows, after the colours of Karpathy's figure: inputs red,
# states green, outputs blue. Pale fills keep dark text readable on a projector.
INPUT_COLOURS = ("#fbe1dd", "#c0392b")
STATE_COLOURS = ("#dcf0d6", "#2e7d32")
OUTPUT_COLOURS = ("#dbe6f6", "#1f5fa0")
PICTURE_EMS = 3.2  # a picture box's width, in lines of text
SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass(frozen=True)
class Step:
    """One step of the unrolled network: what goes in (`x`) and what comes out (`y`)."""

    x: str | None = None  # None: nothing goes in at this step
    y: str | None = None  # None: nothing comes out
    picture: bool = False  # the input is a picture: drawn as one, `x` names it


@dataclass(frozen=True)
class Box:
    """One thing drawn: an input, state or output box, a picture, the "…" column, a row's name."""

    kind: str  # input | state | output | picture | ellipsis | name
    rect: QRectF
    text: str


class ShapeDiagram(QWidget):
    """A recurrent network unrolled over its steps: inputs below, the state h_t in the middle,
    outputs above, each state passing itself on to the next (the recurrence).

    Drawn at the size its font asks for, and scaled down, never cut, where there is less room.
    More than `max_steps` steps are shown as the first two, "…", and the last ones; `set_steps`
    can ask for every step from one on to be shown (a sentence written after a clip's frames),
    and then the first, "…", and those.
    """

    def __init__(self, steps=(), picture_joins: bool = False, row_names: bool = True, max_steps: int = 7, parent=None):
        super().__init__(parent)
        self.setProperty("drawing", True)  # exported with the plots (File → Export)
        self._steps: tuple[Step, ...] = tuple(steps)
        self._keep_from: int | None = None
        self._picture_joins = picture_joins
        self._picture: QImage | None = None
        self.row_names = row_names
        self.max_steps = max(max_steps, 4)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def set_steps(self, steps, keep_from: int | None = None) -> None:
        """The steps to draw; with `keep_from`, every step from that index on is drawn, even
        past `max_steps` (the drawing then shrinks to fit)."""
        steps = tuple(steps)
        if steps == self._steps and keep_from == self._keep_from:
            return  # the same caption again, frame after frame: nothing to lay out anew
        before = self.sizeHint()
        self._steps, self._keep_from = steps, keep_from
        if self.sizeHint() != before:  # a new size lays out the window again; the same one needs a repaint only
            self.updateGeometry()
        self.update()

    def set_picture(self, image: QImage | None) -> None:
        """The picture drawn in the picture boxes (else a sketch of one)."""
        self._picture = image
        self.update()

    def steps(self) -> tuple[Step, ...]:
        return self._steps

    def picture(self) -> QImage | None:
        return self._picture

    def columns(self) -> list[tuple[int, Step] | None]:
        """What is drawn, left to right: (step index, step), or None for the "…" column."""
        indexed = list(enumerate(self._steps))
        if len(indexed) <= self.max_steps:
            return list(indexed)
        start = len(indexed) - (self.max_steps - 3)
        if self._keep_from is None or self._keep_from >= start:
            return [*indexed[:2], None, *indexed[start:]]
        start = max(self._keep_from, 1)
        return [indexed[0], None, *indexed[start:]] if start > 2 else list(indexed)

    # --- geometry -------------------------------------------------------------------------

    def _metrics(self, room: float | None = None) -> dict:
        """Sizes of the drawing in its own coordinates; with `room` (the width it gets), the
        rows' names are left out where the drawing would otherwise have to shrink."""
        m = self._measure(self.row_names)
        if m["names"] and room is not None and m["width"] > room:
            m = self._measure(False)
        return m

    def _measure(self, row_names: bool) -> dict:
        fm = QFontMetricsF(self.font())
        em = fm.height()
        columns = self.columns()
        widths = []
        for column in columns:
            if column is None:
                widths.append(1.4 * em)
                continue
            _index, step = column
            texts = [t for t in (step.y, None if step.picture else step.x) if t]
            widest = max((fm.horizontalAdvance(_short(t, fm, em)) for t in texts), default=0.0)
            widths.append(max(2.4 * em, widest + 0.9 * em, PICTURE_EMS * em if step.picture else 0.0))
        names = max(fm.horizontalAdvance(n) for n in ("output", "state", "input")) + 0.6 * em if row_names else 0.0
        gap = 1.2 * em
        box_h = 1.6 * em
        width = 0.4 * em + names + sum(widths) + gap * max(len(widths) - 1, 0) + 0.4 * em
        if self._picture_joins:
            width += gap + PICTURE_EMS * em
        # A picture going in at a step is drawn taller than a word's box, to be recognisable.
        picture_drop = 1.2 * em if any(c is not None and c[1].picture for c in columns) else 0.0
        height = 3 * box_h + 2 * 1.0 * em + 0.4 * em + picture_drop
        return {"fm": fm, "em": em, "columns": columns, "widths": widths, "names": names, "gap": gap,
                "box_h": box_h, "width": width, "height": height, "picture_drop": picture_drop}

    def sizeHint(self) -> QSize:
        m = self._metrics()
        return QSize(round(m["width"]) + 1, round(m["height"]) + 1)

    def minimumSizeHint(self) -> QSize:
        hint = self.sizeHint()
        return QSize(hint.width() // 3, hint.height() // 3)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        """Drawn smaller where the column is narrow, so as tall as it then needs."""
        m = self._metrics(width)
        return round(m["height"] * min(1.0, width / m["width"])) + 1

    # --- painting -------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        m = self._metrics(self.width())
        if not m["columns"]:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        scale = min(1.0, self.width() / m["width"], self.height() / m["height"])
        p.translate((self.width() - m["width"] * scale) / 2, (self.height() - m["height"] * scale) / 2)
        p.scale(scale, scale)
        self._paint(p, m)
        p.end()

    def drawing(self, room: float | None = None) -> tuple[list[Box], list[tuple[QPointF, QPointF]]]:
        """The boxes and arrows of the drawing, in its own coordinates (before scaling), for a
        widget `room` pixels wide (None: as wide as the drawing asks)."""
        return self._drawing(self._metrics(room))

    def _drawing(self, m: dict) -> tuple[list[Box], list[tuple[QPointF, QPointF]]]:
        em, box_h, gap = m["em"], m["box_h"], m["gap"]
        top = 0.2 * em
        rows = {"output": top, "state": top + box_h + em, "input": top + 2 * (box_h + em)}
        boxes: list[Box] = []
        arrows: list[tuple[QPointF, QPointF]] = []
        if m["names"]:
            boxes += [Box("name", QRectF(0.4 * em, rows[row], m["names"], box_h), row) for row in rows]
        x = 0.4 * em + m["names"]
        previous_state: QRectF | None = None
        last_output: QRectF | None = None
        for column, width in zip(m["columns"], m["widths"], strict=True):
            state = QRectF(x, rows["state"], width, box_h)
            if previous_state is not None:  # the recurrence: h_(t-1) -> h_t
                middle = state.center().y()
                arrows.append((QPointF(previous_state.right(), middle), QPointF(state.left(), middle)))
            previous_state = state
            x += width + gap
            if column is None:
                boxes.append(Box("ellipsis", state, "…"))
                continue
            index, step = column
            boxes.append(Box("state", state, f"h{index + 1}".translate(SUBSCRIPTS)))
            if step.x is not None or step.picture:
                below = QRectF(state.left(), rows["input"], width, box_h + (m["picture_drop"] if step.picture else 0.0))
                boxes.append(Box("picture" if step.picture else "input", below, step.x or "picture"))
                arrows.append((QPointF(below.center().x(), below.top()), QPointF(state.center().x(), state.bottom())))
            if step.y is not None:
                above = last_output = QRectF(state.left(), rows["output"], width, box_h)
                boxes.append(Box("output", above, step.y))
                arrows.append((QPointF(state.center().x(), state.top()), QPointF(above.center().x(), above.bottom())))
        if self._picture_joins and last_output is not None:
            picture = QRectF(x, rows["state"], PICTURE_EMS * em, rows["input"] + box_h - rows["state"])
            boxes.append(Box("picture", picture, "picture"))
            joined = QPointF(last_output.right(), last_output.center().y())
            arrows.append((QPointF(picture.center().x(), picture.top()), joined))
        return boxes, arrows

    def _paint(self, p: QPainter, m: dict) -> None:
        em, fm = m["em"], m["fm"]
        pen_width = max(1.2, em * 0.08)
        text = self.palette().text().color()
        boxes, arrows = self._drawing(m)
        p.setPen(QPen(text, pen_width))
        for start, end in arrows:
            draw_arrow(p, start, end, head=0.35 * em)
        colours = {"input": INPUT_COLOURS, "state": STATE_COLOURS, "output": OUTPUT_COLOURS}
        for box in boxes:
            if box.kind == "picture":
                self._picture_box(p, box.rect, pen_width)
                continue
            if box.kind in colours:
                fill, border = colours[box.kind]
                p.setPen(QPen(QColor(border), pen_width))
                p.setBrush(QColor(fill))
                p.drawRoundedRect(box.rect, 4, 4)
            p.setPen(text)
            align = Qt.AlignmentFlag.AlignVCenter if box.kind == "name" else Qt.AlignmentFlag.AlignCenter
            p.drawText(box.rect, align, _short(box.text, fm, em))

    def _picture_box(self, p: QPainter, rect: QRectF, pen_width: float) -> None:
        p.save()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.setPen(QPen(QColor(INPUT_COLOURS[1]), pen_width))
        p.setBrush(QColor(INPUT_COLOURS[0]))
        p.drawRoundedRect(rect, 4, 4)
        inner = rect.adjusted(pen_width * 2, pen_width * 2, -pen_width * 2, -pen_width * 2)
        if self._picture is not None and not self._picture.isNull():
            # The whole picture, as large as the box allows: cropped to a tall box, a scene lost
            # the shapes at its sides.
            image = self._picture
            scale = min(inner.width() / image.width(), inner.height() / image.height())
            target = QRectF(0, 0, image.width() * scale, image.height() * scale)
            target.moveCenter(inner.center())
            p.drawImage(target, image)
        else:  # a sketch of a picture, in a square: two hills under a sun
            side = min(inner.width(), inner.height())
            sq = QRectF(0, 0, side, side)
            sq.moveCenter(inner.center())
            p.setPen(QPen(QColor(INPUT_COLOURS[1]), pen_width * 0.8))
            p.setBrush(QColor(INPUT_COLOURS[1]).lighter(150))
            hills = QPainterPath(QPointF(sq.left(), sq.bottom()))
            for fx, fy in ((0.3, 0.45), (0.55, 0.7), (0.78, 0.5), (1.0, 0.75)):
                hills.lineTo(sq.left() + side * fx, sq.top() + side * fy)
            hills.lineTo(sq.right(), sq.bottom())
            hills.closeSubpath()
            p.drawPath(hills)
            p.drawEllipse(QPointF(sq.left() + side * 0.72, sq.top() + side * 0.2), side * 0.11, side * 0.11)
        p.restore()


def _short(text: str, fm: QFontMetricsF, em: float) -> str:
    """A word as it fits in a box: long ones are cut with an ellipsis."""
    return fm.elidedText(text, Qt.TextElideMode.ElideRight, 7 * em)


# --- the steps of what a panel is working on now --------------------------------------------


def next_character_steps(text: str, count: int = 5) -> tuple[Step, ...]:
    """The last `count` steps of reading `text`: each character in, the one after it out."""
    tail = text[-(count + 1):]
    return tuple(Step(visible_char(a), visible_char(b)) for a, b in zip(tail, tail[1:]))


def caption_steps(words) -> tuple[Step, ...]:
    """The picture in at the first step, a word out at each, until the model writes <end>."""
    out = [*words, "<end>"]
    return (Step("picture", out[0], picture=True), *(Step(None, word) for word in out[1:]))


def question_steps(words, answer: str) -> tuple[Step, ...]:
    """A word in at each step; the answer comes out after the last one only."""
    words = list(words)
    if not words:
        return ()
    return (*(Step(word) for word in words[:-1]), Step(words[-1], answer))
