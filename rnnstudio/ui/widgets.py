"""Widgets shared by the panels."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont, QFontDatabase, QFontMetrics, QKeySequence, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractButton,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QDoubleSpinBox,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

TEXT_FILES = "Text files (*.txt *.md *.py);;All files (*)"  # a file dialog's filter for texts to read


class InlineMessage(QFrame):
    """A message shown inside a panel (never a modal box): error, warning or info."""

    # (background, border, text) of each kind. Painted, not set by a style sheet: a widget with a
    # style sheet stops following the application's font, and presenter mode would miss the message.
    _COLOURS = {
        "error": ("#fde8e8", "#d9534f", "#7a1d1a"),
        "warning": ("#fff4d6", "#e0a800", "#5c4400"),
        "info": ("#e6f0fb", "#5b9bd5", "#1d3d5c"),
    }

    closed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("InlineMessage")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton()
        self.action_button.setToolTip("A way out of the problem above")
        self.action_button.hide()
        self.action_button.clicked.connect(self._on_action)
        self._action = None
        close = QPushButton("Dismiss")
        close.setToolTip("Hide this message")
        close.setFlat(True)
        close.clicked.connect(self.dismiss)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "error", action: tuple[str, object] | None = None) -> None:
        """Show `text`; `action` = (button label, callback) offers one way out of the problem."""
        self.kind = kind
        palette = self.label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, QColor(self._COLOURS[kind][2]))
        self.label.setPalette(palette)
        self.update()
        self.label.setText(text)
        self._action = action[1] if action else None
        self.action_button.setVisible(action is not None)
        if action:
            self.action_button.setText(action[0])
        self.show()

    def paintEvent(self, event) -> None:
        if self.kind not in self._COLOURS:
            return
        background, border, _text = self._COLOURS[self.kind]
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(border), 1))
        painter.setBrush(QColor(background))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)

    def _on_action(self) -> None:
        action = self._action
        self.dismiss()
        if action is not None:
            action()

    def dismiss(self) -> None:
        self.hide()
        self.kind = ""
        self.closed.emit()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""


def monospace_font(point_size: int | None = None) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    if point_size:
        font.setPointSize(point_size)
    return font


def hint_label(text: str) -> QLabel:
    """A one-line explanation shown under a control."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setProperty("hint", True)
    label.setStyleSheet("color: palette(mid); font-size: 85%;")
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    return label


def spin_box(lo: int, hi: int, value: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    box.setSingleStep(step)
    return box


def float_spin_box(lo: float, hi: float, value: float, step: float, decimals: int) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(lo, hi)
    box.setValue(value)
    box.setSingleStep(step)
    return box


def lines_height(view: QPlainTextEdit, lines: int) -> int:
    """The height a text view needs to show `lines` lines of its font."""
    text = QFontMetrics(view.font()).lineSpacing() * lines
    return text + 2 * view.frameWidth() + 2 * round(view.document().documentMargin())


def add_explained_row(form: QFormLayout, label: str, control: QWidget, explanation: str,
                      advanced: bool = False) -> None:
    """A form row: the control, and under it one sentence saying what it does. An `advanced`
    row is tucked away in presenter mode."""
    box = QWidget()
    v = QVBoxLayout(box)
    v.setContentsMargins(0, 0, 0, 2)
    v.setSpacing(0)
    v.addWidget(control)
    v.addWidget(hint_label(explanation))
    control.setToolTip(explanation)
    name = QLabel(label)
    for widget in (name, box):
        widget.setProperty("advanced", advanced)
    form.addRow(name, box)


class FlowLayout(QLayout):
    """Items left to right at their preferred sizes, wrapping onto a new line where the width
    runs out: a row of controls or of caption words that must not make the window wider than
    the screen (a projector's 1280 pixels, in presenter mode's large type)."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6):
        super().__init__(parent)
        self._items = []
        self._gap = spacing
        self._height = 0  # what the items took at the width last laid out

    def addItem(self, item) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int):
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int):
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._lay_out(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        height = self._lay_out(rect, move=True)
        if height != self._height:  # wrapped onto more (or fewer) lines: ask the parents for that height
            self._height = height
            self.invalidate()

    def sizeHint(self) -> QSize:  # everything on one line
        shown = [item.sizeHint() for item in self._items if not item.isEmpty()]
        width = sum(h.width() for h in shown) + self._gap * max(len(shown) - 1, 0)
        return self._with_margins(QSize(width, max((h.height() for h in shown), default=0)))

    def minimumSize(self) -> QSize:
        """As wide as the widest item; as tall as the lines the items take at the current width
        (box layouts and splitters size by minimum sizes, not by heightForWidth)."""
        size = QSize(0, 0)
        for item in self._items:
            if not item.isEmpty():
                size = size.expandedTo(item.minimumSize())
        size = self._with_margins(size)
        return QSize(size.width(), max(size.height(), self._height))

    def _with_margins(self, size: QSize) -> QSize:
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _lay_out(self, rect: QRect, move: bool) -> int:
        """Place the items inside rect (when `move`); the height they take."""
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        x, y, line_height = area.x(), area.y(), 0
        for item in self._items:
            if item.isEmpty():  # a hidden widget
                continue
            hint = item.sizeHint()
            if x > area.x() and x + hint.width() > area.right() + 1:  # no room left on this line
                x, y, line_height = area.x(), y + line_height + self._gap, 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._gap
            line_height = max(line_height, hint.height())
        return y + line_height - rect.y() + m.bottom()


class FittingGroupBox(QGroupBox):
    """A group box whose least height counts the lines its wrapping labels and flowing rows
    take at its current width. Splitters and box layouts size by least heights, which count
    one line for those; in presenter mode's type a pane squeezed to that drew its rows over
    each other. Only for a vertical box layout."""

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def event(self, event) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.LayoutRequest:  # a child's least size changed, not ours
            self._fit()
        return handled

    def _fit(self) -> None:
        layout = self.layout()
        if layout is None:
            return
        m = layout.contentsMargins()
        width = self.contentsRect().width() - m.left() - m.right()
        shown = [layout.itemAt(k) for k in range(layout.count()) if not layout.itemAt(k).isEmpty()]
        items = sum(item.heightForWidth(width) if item.hasHeightForWidth() else item.minimumSize().height()
                    for item in shown)
        frame = self.height() - self.contentsRect().height()  # the title and the border
        least = frame + m.top() + m.bottom() + items + layout.spacing() * max(len(shown) - 1, 0)
        if least != self.minimumHeight():
            self.setMinimumHeight(least)


class RowLabels:
    """The labels of a plot's rows (answers, words) sized to the rows' height on screen, up to
    `largest` pixels: large type in presenter mode, yet never overlapping on a short plot.
    Refits whenever the plot is resized; presenter styling leaves this axis alone."""

    def __init__(self, plot, largest: int):
        self.plot = plot
        self.largest = largest
        self.rows = 1
        self.texts = []  # text items drawn in the rows (percentages), sized with the labels
        plot.getAxis("left").rows_fitted = True  # read by theme.apply_presenter_to
        plot.getViewBox().sigResized.connect(self.refit)

    def set_rows(self, rows: int, texts=()) -> None:
        self.rows = max(rows, 1)
        self.texts = list(texts)
        self.refit()

    def set_largest(self, largest: int) -> None:
        self.largest = largest
        self.refit()

    def refit(self, *_args) -> None:
        row_height = self.plot.getViewBox().size().height() / self.rows
        font = QFont(self.plot.font())
        font.setPixelSize(int(max(7, min(self.largest, 0.8 * row_height))))
        self.plot.getAxis("left").setTickFont(font)
        for text in self.texts:
            text.setFont(font)


class EmptyPlotNote:
    """While a plot has nothing to show, it says what will appear there, and its axes carry no
    meaningless numbers."""

    def __init__(self, plot, text: str):
        import pyqtgraph as pg

        self.plot = plot
        self.item = pg.TextItem(text, color=(110, 110, 110), anchor=(0.5, 0.5))
        self.item.follows_app_font = True  # presenter mode enlarges it with the rest of the text
        self.item.setPos(0.5, 0.5)
        self.shown = False

    def show(self) -> None:
        if self.item.scene() is None:  # (plot.clear() takes it away too)
            self.plot.addItem(self.item)
        if not self.shown:
            for axis in ("left", "bottom"):
                self.plot.getAxis(axis).setTicks([[]])
            self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            self.shown = True

    def hide(self) -> None:
        """Called at every redraw; acts once, so a view someone zoomed afterwards stays zoomed."""
        if self.item.scene() is not None:
            self.plot.removeItem(self.item)
        if self.shown:
            for axis in ("left", "bottom"):
                self.plot.getAxis(axis).setTicks(None)  # automatic numbers again
            self.plot.enableAutoRange()  # show() fixed the range; a plot that sets its own sets it after this
            self.shown = False


def side_by_side(*widgets: QWidget) -> QWidget:
    """Widgets in a row that stays together: a label and its control, as one item of a FlowLayout."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        row.addWidget(widget)
    return box


def wrapping_label(text: str = "") -> QLabel:
    """A line of text that wraps rather than widening its panel. In presenter mode's large
    type one unwrapped status line could make the window wider than a projector's screen."""
    label = QLabel(text)
    label.setWordWrap(True)
    return label


def give_shortcut(button: QAbstractButton, keys: str, what: str) -> None:
    """A keyboard shortcut for a panel's button: it presses the button while the button can be
    seen and used (Qt ignores the keys while its tab is hidden), its tooltip names the keys,
    and Help lists it as `what`."""
    button.setShortcut(QKeySequence(keys))
    button.setProperty("shortcut_help", what)
    _name_keys_in_tooltip(button, button.shortcut())


def give_panel_shortcut(panel: QWidget, keys: str, what: str, slot, buttons=()) -> None:
    """A keyboard shortcut that works wherever in `panel` one is (while the panel is shown), for
    an action whose buttons sit on one of its inner tabs; their tooltips name the keys."""
    action = QAction(what, panel)
    action.setShortcut(QKeySequence(keys))
    action.setProperty("shortcut_help", what)
    action.triggered.connect(slot)
    panel.addAction(action)
    for button in buttons:
        _name_keys_in_tooltip(button, action.shortcut())


def _name_keys_in_tooltip(widget: QWidget, keys: QKeySequence) -> None:
    shown = keys.toString(QKeySequence.SequenceFormat.NativeText)
    widget.setToolTip(f"{widget.toolTip()} ({shown})" if widget.toolTip() else shown)


def panel_shortcuts(panel: QWidget) -> list[tuple[str, str]]:
    """(keys, what) of each shortcut given to `panel` or one of its buttons."""
    keyed = [*panel.actions(), *panel.findChildren(QAbstractButton)]
    return [(k.shortcut().toString(QKeySequence.SequenceFormat.NativeText), k.property("shortcut_help"))
            for k in keyed if k.property("shortcut_help")]


def when_worker_ready(worker, on_ready) -> None:
    """Call on_ready(device name) once the worker has loaded PyTorch: now, if it already has."""
    worker.ready.connect(on_ready)
    if worker.device_name is not None:
        on_ready(worker.device_name)

