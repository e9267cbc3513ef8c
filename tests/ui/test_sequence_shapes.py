"""Shapes of sequences (docs/LECTURE-MAP.md): the diagrams, the tabs that name each panel's shape,
and the overview in the Lessons menu."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from rnnstudio.ui.lessons import SHAPES_OF_SEQUENCES
from rnnstudio.ui.sequence_shapes import SHAPES
from rnnstudio.ui.shape_diagram import (
    INPUT_COLOURS,
    OUTPUT_COLOURS,
    STATE_COLOURS,
    ShapeDiagram,
    Step,
    caption_steps,
    next_character_steps,
    question_steps,
)


def kinds(diagram, kind):
    boxes, _arrows = diagram.drawing()
    return [b for b in boxes if b.kind == kind]


def test_many_to_one_draws_one_output_after_the_last_state(qtbot):
    diagram = ShapeDiagram(question_steps(["is", "it", "red"], "yes"), picture_joins=True)
    qtbot.addWidget(diagram)
    states, outputs = kinds(diagram, "state"), kinds(diagram, "output")
    assert [b.text for b in kinds(diagram, "input")] == ["is", "it", "red"]
    assert [b.text for b in states] == ["h₁", "h₂", "h₃"]
    assert [b.text for b in outputs] == ["yes"]
    assert outputs[0].rect.center().x() == states[-1].rect.center().x()  # above the last state
    assert outputs[0].rect.bottom() < states[-1].rect.top()
    [picture] = kinds(diagram, "picture")
    assert picture.rect.left() > states[-1].rect.right()  # the picture joins beside the last step
    _boxes, arrows = diagram.drawing()
    recurrences = [a for a in arrows if a[0].y() == a[1].y() and a[0].x() < a[1].x()]
    assert len(recurrences) == 2  # h1 -> h2 -> h3: the same network carried along


def test_the_drawing_shows_each_box_in_its_colour(qtbot):
    """Painted for real: the pixels inside each box have that row's colour."""
    diagram = ShapeDiagram(next_character_steps("hello"))
    qtbot.addWidget(diagram)
    diagram.resize(diagram.sizeHint())
    image = diagram.grab().toImage()
    for kind, colours in (("input", INPUT_COLOURS), ("state", STATE_COLOURS), ("output", OUTPUT_COLOURS)):
        for box in kinds(diagram, kind):
            corner = box.rect.topLeft().toPoint()
            pixel = image.pixelColor(corner.x() + 4, corner.y() + 4)  # inside the border, clear of the text
            assert pixel == QColor(colours[0]), (kind, box.text, pixel.name())


def test_long_sequences_keep_their_ends_and_narrow_columns_shrink_the_drawing(qtbot):
    words = "what color is the shape left of the gray shape".split()
    diagram = ShapeDiagram(question_steps(words, "red"), max_steps=6)
    qtbot.addWidget(diagram)
    assert [c and c[0] for c in diagram.columns()] == [0, 1, None, 7, 8, 9]  # None: the "…" column
    assert [b.text for b in kinds(diagram, "input")] == ["what", "color", "the", "gray", "shape"]
    assert [b.text for b in kinds(diagram, "state")][-1] == "h₁₀"  # numbered as in the question
    natural = diagram.sizeHint()
    assert diagram.heightForWidth(natural.width() // 2) < natural.height() * 0.6  # scaled, not cut
    assert diagram.heightForWidth(natural.width() * 2) == diagram.heightForWidth(natural.width())  # never enlarged


def test_steps_asked_to_be_kept_are_all_drawn_after_the_first(qtbot):
    steps = [Step(f"frame {k}", "left") for k in range(1, 21)] + [Step(None, w) for w in "the red one".split()]
    diagram = ShapeDiagram(steps, max_steps=5)
    qtbot.addWidget(diagram)
    assert [c and c[0] for c in diagram.columns()] == [0, 1, None, 21, 22]  # the first word's step is lost
    diagram.set_steps(steps, keep_from=19)  # the last frame, then the words
    assert [c and c[0] for c in diagram.columns()] == [0, None, 19, 20, 21, 22]
    diagram.set_steps(steps[:6], keep_from=4)  # already in the usual tail
    assert [c and c[0] for c in diagram.columns()] == [0, 1, None, 4, 5]
    diagram.set_steps(steps[:6], keep_from=2)  # from the third on: nothing left to leave out
    assert [c and c[0] for c in diagram.columns()] == [0, 1, 2, 3, 4, 5]


def test_steps_from_what_the_panels_are_working_on():
    steps = next_character_steps("ROMEO: hi\n", count=4)
    assert [(s.x, s.y) for s in steps] == [(":", "␣"), ("␣", "h"), ("h", "i"), ("i", "↵")]  # blanks made visible
    steps = caption_steps(["a", "red", "circle"])
    assert steps[0].picture and [s.y for s in steps] == ["a", "red", "circle", "<end>"]
    assert all(s.x is None for s in steps[1:])  # one in, many out
    assert question_steps([], "yes") == ()


def test_a_picture_is_drawn_into_its_box(qtbot):
    diagram = ShapeDiagram(caption_steps(["a", "red", "circle"]))
    qtbot.addWidget(diagram)
    diagram.resize(diagram.sizeHint())
    red = QImage(8, 8, QImage.Format.Format_RGB888)
    red.fill(QColor(250, 0, 0))
    diagram.set_picture(red)
    [picture] = kinds(diagram, "picture")
    centre = picture.rect.center().toPoint()
    assert diagram.grab().toImage().pixelColor(centre) == QColor(250, 0, 0)


def test_tabs_name_each_panels_shape_and_the_overview_opens_a_panel(window, qtbot):
    tabs = window.tabs
    for index, name in enumerate(window.panels):
        assert not tabs.tabIcon(index).isNull()
    assert tabs.tabToolTip(list(window.panels).index("caption")).startswith("One to many")
    assert tabs.tabToolTip(list(window.panels).index("vqa")).startswith("Many to one")
    assert tabs.tabToolTip(list(window.panels).index("charrnn")).startswith("Many to many")
    normal = tabs.iconSize()
    window.set_presenter(True)  # the icons grow with the tabs' titles, drawn at that size
    assert tabs.iconSize().height() > normal.height()
    assert tabs.tabIcon(0).actualSize(tabs.iconSize()).height() == tabs.iconSize().height()  # fills it
    window.set_presenter(False)
    assert tabs.iconSize() == normal
    window.start_lesson(SHAPES_OF_SEQUENCES)
    dialog = window.shapes_dialog
    assert dialog.isVisible() and [c.shape.key for c in dialog.cards] == [s.key for s in SHAPES]
    # Opened as large as the screen allows (its drawings ask for more), not at its smallest.
    assert dialog.minimumSizeHint().height() < dialog.height() <= window.screen().availableGeometry().height()
    # Presenter mode, switched on with the overview open, enlarges its drawings with its text.
    from rnnstudio.ui.sequence_shapes import DIAGRAM_GROWTH

    normal = dialog.cards[0].diagram.font().pointSizeF()
    window.set_presenter(True)
    QApplication.processEvents()  # the application's new font reaches the widgets as events
    grown = dialog.cards[0].diagram.font().pointSizeF()
    assert grown > normal and abs(grown - QApplication.font().pointSizeF() * DIAGRAM_GROWTH) < 0.5
    window.set_presenter(False)
    QApplication.processEvents()
    card = next(c for c in dialog.cards if c.shape.key == "one-to-many")
    card.buttons["caption"].click()
    assert window.current_panel_name() == "caption" and not dialog.isVisible()
    assert next(c for c in dialog.cards if c.shape.key == "one-to-one").buttons == {}  # no panel: no button
    # Each card offers the panels that work in its shape, from the registry; a shape no panel works
    # in offers the nearest one.
    from rnnstudio.panels import PANELS

    buttons = {c.shape.key: list(c.buttons) for c in dialog.cards}
    for shape in SHAPES:  # the panels of the shape in the registry's order, else the nearest one
        expected = [entry.key for entry in PANELS if entry.shape == shape.key]
        if not expected and shape.nearest is not None:
            expected = [shape.nearest]
        assert buttons[shape.key] == expected, shape.key
    assert buttons["one-to-one"] == [] and buttons["many-to-many"][:2] == ["charrnn", "gates"]


def test_the_train_button_is_in_sight_without_scrolling(window, qtbot):
    window.resize(1280, 800)
    window.show_panel("charrnn")
    qtbot.waitUntil(lambda: window.panels["charrnn"].train_button.isVisible())
    panel = window.panels["charrnn"]
    for button in (panel.train_button, panel.pause_button, panel.stop_button, panel.reset_button):
        assert button.visibleRegion().boundingRect().size() == button.size(), button.text()


def test_one_to_one_is_a_single_column(qtbot):
    diagram = ShapeDiagram([Step("x", "y")])
    qtbot.addWidget(diagram)
    assert [b.kind for b in diagram.drawing()[0] if b.kind != "name"] == ["state", "input", "output"]


def test_a_narrow_column_drops_the_row_names_before_shrinking_the_drawing(qtbot):
    """In presenter mode's large type the captioning and VQA columns are narrow: the names
    "output / state / input" give their room to the boxes rather than shrink everything."""
    diagram = ShapeDiagram(next_character_steps("hello"))
    qtbot.addWidget(diagram)
    natural = diagram.sizeHint()
    assert len([b for b in diagram.drawing()[0] if b.kind == "name"]) == 3
    narrow = round(natural.width() * 0.8)
    assert [b for b in diagram.drawing(narrow)[0] if b.kind == "name"] == []
    assert diagram.heightForWidth(narrow) > natural.height() * 0.8  # shrunk less than the room did
