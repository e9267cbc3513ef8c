"""Sequence shapes (LECTURE.md row 1): one to many, many to one, many to many.

An RNN is used in a few shapes, told apart by where sequences go in and come out (the five
pictures of Karpathy's "The Unreasonable Effectiveness of Recurrent Neural Networks"). The
panels are organised by them: each tab's icon and tooltip name its shape, the char-RNN,
captioning and VQA panels draw theirs unrolled over what they are working on now, and
the overview (Lessons menu) sets all five side by side with where the app shows each.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QIcon, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from rnnstudio.ui.drawing import draw_arrow, visible_char
from rnnstudio.ui.widgets import hint_label, wrapping_label

# (fill, border) of the three rows, after the colours of Karpathy's figure: inputs red,
# states green, outputs blue. Pale fills keep dark text readable on a projector.
INPUT_COLOURS = ("#fbe1dd", "#c0392b")
STATE_COLOURS = ("#dcf0d6", "#2e7d32")
OUTPUT_COLOURS = ("#dbe6f6", "#1f5fa0")
DIAGRAM_GROWTH = 1.3  # the overview's drawings, against its text
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


@dataclass(frozen=True)
class SequenceShape:
    key: str
    name: str
    steps: tuple[Step, ...]  # a typical example, drawn in the overview and the tab icon
    used_for: str  # what the shape is used for, in one sentence
    in_studio: str  # where RNN Studio shows it
    panel: str | None  # the panel that shows it, if one does
    picture_joins: bool = False  # a picture joins the last step (VQA: the answer sees both)


def _chars(inputs: str, outputs: str) -> tuple[Step, ...]:
    return tuple(Step(x, y) for x, y in zip(inputs, outputs, strict=True))


SHAPES = (
    SequenceShape("one-to-one", "One to one", (Step("x", "y"),),
                  "No sequence at all: one input, one output, such as the class of a photo.",
                  "Nowhere: without a state carried from step to step there is no RNN. It is here for contrast.",
                  None),
    SequenceShape("one-to-many", "One to many",
                  (Step("picture", "a", picture=True), Step(None, "blue"), Step(None, "circle"), Step(None, "<end>")),
                  "One input, a sequence out: a picture in, a sentence about it out.",
                  "Captioning: a CNN reads the frame once; the LSTM writes the caption word by word, looking "
                  "back at the frame's features for each word (attention).",
                  "caption"),
    SequenceShape("many-to-one", "Many to one",
                  (Step("is"), Step("it"), Step("red", "yes")),
                  "A sequence in, one output: a review in, its sentiment out; a question in, its answer out.",
                  "Question answering: an LSTM reads the question word by word; after the last word its "
                  "states (the last one, and each unit's largest) are fused with the picture, and one answer "
                  "comes out.",
                  "vqa", picture_joins=True),
    SequenceShape("read-then-write", "Many to many, read then write",
                  (Step("je"), Step("t'"), Step("aime"), Step(None, "I"), Step(None, "love"), Step(None, "you")),
                  "A whole sequence in, then another out: translating a sentence.",
                  "Not a panel of its own; the char-RNN works this way when it samples: it reads the prime "
                  "text first, then writes.",
                  "charrnn"),
    SequenceShape("many-to-many", "Many to many, in step", _chars("hell", "ello"),
                  "An output at every step: the next character of a text, a label for each video frame.",
                  "Char-RNN: at every character it predicts the next one. LSTM internals shows its gates and "
                  "states at every step.",
                  "charrnn"),
)
SHAPE_BY_KEY = {shape.key: shape for shape in SHAPES}
PANEL_SHAPES = {"charrnn": "many-to-many", "gates": "many-to-many", "caption": "one-to-many", "vqa": "many-to-one"}


def panel_shape(panel: str) -> SequenceShape:
    return SHAPE_BY_KEY[PANEL_SHAPES[panel]]


class ShapeDiagram(QWidget):
    """A recurrent network unrolled over its steps: inputs below, the state h_t in the middle,
    outputs above, each state passing itself on to the next (the recurrence).

    Drawn at the size its font asks for, and scaled down, never cut, where there is less room.
    More than `max_steps` steps are shown as the first two, "…", and the last ones.
    """

    def __init__(self, steps=(), picture_joins: bool = False, row_names: bool = True, max_steps: int = 7, parent=None):
        super().__init__(parent)
        self.setProperty("drawing", True)  # exported with the plots (File → Export)
        self._steps: tuple[Step, ...] = tuple(steps)
        self._picture_joins = picture_joins
        self._picture: QImage | None = None
        self.row_names = row_names
        self.max_steps = max(max_steps, 4)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def set_steps(self, steps) -> None:
        steps = tuple(steps)
        if steps == self._steps:
            return  # the same caption again, frame after frame: nothing to lay out anew
        self._steps = steps
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
        tail = self.max_steps - 3
        return [*indexed[:2], None, *indexed[-tail:]]

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
                arrows.append((QPointF(previous_state.right(), state.center().y()), QPointF(state.left(), state.center().y())))
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
            arrows.append((QPointF(picture.center().x(), picture.top()), QPointF(last_output.right(), last_output.center().y())))
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


def shape_group(panel: str, hint: str | None = None, **diagram_options) -> tuple[QGroupBox, ShapeDiagram]:
    """A panel's "Shape: ..." box: its shape unrolled (a ShapeDiagram the panel feeds with what
    it works on), and optionally a one-line hint under it."""
    shape = panel_shape(panel)
    box = QGroupBox(f"Shape: {shape.name.lower()}")
    box.setToolTip(shape.used_for)
    layout = QVBoxLayout(box)
    diagram = ShapeDiagram(shape.steps, picture_joins=shape.picture_joins, **diagram_options)
    layout.addWidget(diagram)
    if hint:
        layout.addWidget(hint_label(hint))
    return box, diagram


def shape_icon(shape: SequenceShape, size: QSize) -> QIcon:
    """The shape as a tab's icon: three rows of coloured blocks, like the thumbnails of the
    five shapes that students know from the lecture. Drawn at `size` and larger, for
    presenter mode's larger tabs and for high-density screens."""
    icon = QIcon()
    for scale in (1, 1.5, 2, 3, 4):
        icon.addPixmap(_shape_pixmap(shape, size * scale))
    return icon


def _shape_pixmap(shape: SequenceShape, size: QSize) -> QPixmap:
    pixmap = QPixmap(size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    steps = shape.steps[:4]
    cell_w = size.width() / (len(steps) + (1 if shape.picture_joins else 0))
    cell_h = size.height() / 3
    block = min(cell_w, cell_h) * 0.8
    radius = block / 6

    def block_at(column: int, row: int, colours: tuple[str, str]) -> None:
        p.setBrush(QColor(colours[1]))
        p.drawRoundedRect(QRectF(cell_w * (column + 0.5) - block / 2, cell_h * (row + 0.5) - block / 2, block, block),
                          radius, radius)

    for k, step in enumerate(steps):
        if step.y is not None:
            block_at(k, 0, OUTPUT_COLOURS)
        block_at(k, 1, STATE_COLOURS)
        if step.x is not None or step.picture:
            block_at(k, 2, INPUT_COLOURS)
    if shape.picture_joins:
        block_at(len(steps), 1, INPUT_COLOURS)
    p.end()
    return pixmap


class ShapeCard(QFrame):
    """One shape in the overview: its name, its drawing, what it is for, and where it is here."""

    show_panel = Signal(str)

    def __init__(self, shape: SequenceShape, panel_titles: dict[str, str], parent=None):
        super().__init__(parent)
        self.shape = shape
        self.setFrameShape(QFrame.Shape.StyledPanel)
        v = QVBoxLayout(self)
        title = QLabel(f"<b>{shape.name}</b>")
        v.addWidget(title)
        self.diagram = ShapeDiagram(shape.steps, picture_joins=shape.picture_joins, row_names=False)
        v.addWidget(self.diagram)
        self._grow_diagram()
        v.addWidget(wrapping_label(shape.used_for))
        v.addWidget(wrapping_label(f"<i>In RNN Studio:</i> {shape.in_studio}"))
        v.addStretch(1)
        self.button: QPushButton | None = None
        if shape.panel is not None:
            self.button = QPushButton(f"Show {panel_titles.get(shape.panel, shape.panel)}")
            self.button.setToolTip("Switch to the panel that works in this shape")
            self.button.clicked.connect(lambda: self.show_panel.emit(shape.panel))
            v.addWidget(self.button, 0, Qt.AlignmentFlag.AlignLeft)

    def _grow_diagram(self) -> None:
        """The drawings a size larger than the text: they are what the class looks at."""
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * DIAGRAM_GROWTH)
        self.diagram.setFont(font)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # presenter mode changed the application's font
            self._grow_diagram()


class SequenceShapesDialog(QDialog):
    """The five shapes side by side, each with where the app shows it; not modal, so it can
    stay open beside the window while the class looks at a panel."""

    show_panel = Signal(str)

    def __init__(self, panel_titles: dict[str, str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Sequence shapes")
        v = QVBoxLayout(self)
        grid = QGridLayout()
        self.cards = []
        for k, shape in enumerate(SHAPES):
            card = ShapeCard(shape, panel_titles)
            card.show_panel.connect(self._on_show_panel)
            grid.addWidget(card, k // 3, k % 3)
            self.cards.append(card)
        how_to_read = QFrame()
        how_to_read.setFrameShape(QFrame.Shape.StyledPanel)
        hv = QVBoxLayout(how_to_read)
        hv.addWidget(QLabel("<b>How to read them</b>"))
        hv.addWidget(wrapping_label(
            f"An RNN reads a sequence one step at a time. <b style='color:{INPUT_COLOURS[1]}'>Red</b>: what goes in "
            f"at a step, x<sub>t</sub>. <b style='color:{STATE_COLOURS[1]}'>Green</b>: the state h<sub>t</sub>, made "
            f"by the same network at every step from h<sub>t-1</sub> and x<sub>t</sub> (the arrows to the right). "
            f"<b style='color:{OUTPUT_COLOURS[1]}'>Blue</b>: what comes out, y<sub>t</sub>. Where sequences go in "
            "and come out gives each use its shape."))
        hv.addStretch(1)
        grid.addWidget(how_to_read, len(SHAPES) // 3, len(SHAPES) % 3)
        for column in range(3):
            grid.setColumnStretch(column, 1)
        v.addLayout(grid, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        v.addWidget(buttons)

    def _on_show_panel(self, panel: str) -> None:
        self.show_panel.emit(panel)
        self.close()


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
