"""Widgets shared by the panels."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)


class InlineMessage(QFrame):
    """A message shown inside a panel (never a modal box): error, warning or info."""

    _STYLES = {
        "error": "background:#fde8e8; border:1px solid #d9534f; color:#7a1d1a;",
        "warning": "background:#fff4d6; border:1px solid #e0a800; color:#5c4400;",
        "info": "background:#e6f0fb; border:1px solid #5b9bd5; color:#1d3d5c;",
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
        self.setStyleSheet(f"#InlineMessage {{{self._STYLES[kind]} border-radius:4px;}} QLabel {{border:none;}}")
        self.label.setText(text)
        self._action = action[1] if action else None
        self.action_button.setVisible(action is not None)
        if action:
            self.action_button.setText(action[0])
        self.show()

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


def add_explained_row(form: QFormLayout, label: str, control: QWidget, explanation: str, advanced: bool = False) -> None:
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


def give_shortcut(button: QAbstractButton, keys: str, what: str) -> None:
    """A keyboard shortcut for a panel's button: it presses the button while the button can be
    seen and used (Qt ignores the keys while its tab is hidden), its tooltip names the keys,
    and Help lists it as `what`."""
    button.setShortcut(QKeySequence(keys))
    button.setProperty("shortcut_help", what)
    shown = button.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    button.setToolTip(f"{button.toolTip()} ({shown})" if button.toolTip() else shown)


def panel_shortcuts(panel: QWidget) -> list[tuple[str, str]]:
    """(keys, what) of each shortcut given to a button of `panel`, in the order of the panel."""
    return [(b.shortcut().toString(QKeySequence.SequenceFormat.NativeText), b.property("shortcut_help"))
            for b in panel.findChildren(QAbstractButton) if b.property("shortcut_help")]


def when_worker_ready(worker, on_ready) -> None:
    """Call on_ready(device name) once the worker has loaded PyTorch: now, if it already has."""
    worker.ready.connect(on_ready)
    if worker.device_name is not None:
        on_ready(worker.device_name)


def panel_layout(panel: QWidget) -> tuple[QVBoxLayout, InlineMessage]:
    """A panel's outer layout, with its inline message line (errors, with a way out) on top."""
    outer = QVBoxLayout(panel)
    outer.setContentsMargins(8, 8, 8, 8)
    message = InlineMessage()
    outer.addWidget(message)
    return outer, message
