"""Shapes of sequences (docs/LECTURE-MAP.md): one to many, many to one, many to many.

An RNN is used in a few shapes, told apart by where sequences go in and come out (the five
pictures of Karpathy's "The Unreasonable Effectiveness of Recurrent Neural Networks"). The
panels are organised by them: each panel's registry entry names its shape, each tab's icon
and tooltip show it, the char-RNN, captioning and VQA panels draw theirs unrolled over what
they are working on now, and the overview (Lessons menu) sets all five side by side with
the panels that work in each.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from rnnstudio.panels import CHARRNN, PanelEntry
from rnnstudio.ui.shape_diagram import INPUT_COLOURS, OUTPUT_COLOURS, STATE_COLOURS, ShapeDiagram, Step
from rnnstudio.ui.widgets import hint_label, wrapping_label

DIAGRAM_GROWTH = 1.3  # the overview's drawings, against its text


@dataclass(frozen=True)
class SequenceShape:
    key: str
    name: str
    steps: tuple[Step, ...]  # a typical example, drawn in the overview and the tab icon
    used_for: str  # what the shape is used for, in one sentence
    # Where no panel works in this shape: where else the app shows it, and the panel nearest to it.
    # The panels that do work in it are named from the registry, each with its `shape_note`.
    elsewhere: str = ""
    nearest: str | None = None
    picture_joins: bool = False  # a picture joins the last step (VQA: the answer sees both)


def _chars(inputs: str, outputs: str) -> tuple[Step, ...]:
    return tuple(Step(x, y) for x, y in zip(inputs, outputs, strict=True))


SHAPES = (
    SequenceShape("one-to-one", "One to one", (Step("x", "y"),),
                  "No sequence at all: one input, one output, such as the class of a photo.",
                  "Nowhere: without a state carried from step to step there is no RNN. It is here for contrast."),
    SequenceShape("one-to-many", "One to many",
                  (Step("picture", "a", picture=True), Step(None, "blue"), Step(None, "circle"), Step(None, "<end>")),
                  "One input, a sequence out: a picture in, a sentence about it out."),
    SequenceShape("many-to-one", "Many to one",
                  (Step("is"), Step("it"), Step("red", "yes")),
                  "A sequence in, one output: a review in, its sentiment out; a question in, its answer out.",
                  picture_joins=True),
    SequenceShape("read-then-write", "Many to many, read then write",
                  (Step("je"), Step("t'"), Step("aime"), Step(None, "I"), Step(None, "love"), Step(None, "you")),
                  "A whole sequence in, then another out: translating a sentence.",
                  "Not a panel of its own; the char-RNN works this way when it samples: it reads the prime "
                  "text first, then writes.", nearest=CHARRNN.key),
    SequenceShape("many-to-many", "Many to many, in step", _chars("hell", "ello"),
                  "An output at every step: the next character of a text, a label for each video frame."),
)
SHAPE_BY_KEY = {shape.key: shape for shape in SHAPES}


def panel_shape(entry: PanelEntry) -> SequenceShape:
    """The shape of sequence a panel's registry entry names."""
    return SHAPE_BY_KEY[entry.shape]


def shape_group(entry: PanelEntry, hint: str | None = None, **diagram_options) -> tuple[QGroupBox, ShapeDiagram]:
    """A panel's "Shape: ..." box: its shape unrolled (a ShapeDiagram the panel feeds with what
    it works on), and optionally a one-line hint under it."""
    shape = panel_shape(entry)
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
    """One shape in the overview: its name, its drawing, what it is for, and the panels that work
    in it, each with a button to it."""

    show_panel = Signal(str)

    def __init__(self, shape: SequenceShape, panels: dict, parent=None):
        """`panels`: key -> panel (a rnnstudio.ui.panel.Panel), in the order of the tabs."""
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
        working = {key: panel for key, panel in panels.items() if panel.entry.shape == shape.key}
        if working:
            where = " ".join(f"<b>{html.escape(panel.title)}</b>: {panel.shape_note}" for panel in working.values())
        else:
            where = shape.elsewhere
            working = {shape.nearest: panels[shape.nearest]} if shape.nearest in panels else {}
        v.addWidget(wrapping_label(f"<i>In RNN Studio:</i> {where}"))
        v.addStretch(1)
        self.buttons: dict[str, QPushButton] = {}
        for key, panel in working.items():
            button = self.buttons[key] = QPushButton(f"Show {panel.title}")
            button.setToolTip("Switch to the panel that works in this shape")
            button.clicked.connect(lambda _checked=False, k=key: self.show_panel.emit(k))
            v.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)

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

    def __init__(self, panels: dict, parent=None):
        """`panels`: key -> panel, in the order of the tabs."""
        super().__init__(parent)
        self.setWindowTitle("Sequence shapes")
        v = QVBoxLayout(self)
        grid = QGridLayout()
        self.cards = []
        for k, shape in enumerate(SHAPES):
            card = ShapeCard(shape, panels)
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
