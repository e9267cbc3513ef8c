"""Look and feel: the normal style, and presenter mode for a projector."""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

_base_point_size: float | None = None
_presenter_on = False
_screen_factor = 1.0  # the screen's height over PRESENTER_SCREEN_HEIGHT (presenter_size)

# Presenter mode's sizes are chosen for a screen this many pixels tall. A projector throws every
# resolution onto the same wall, so type must keep its share of the screen's height: on a
# 1280 x 800 projector these sizes shrink by 800/1080, or the panels would not fit at all.
PRESENTER_SCREEN_HEIGHT = 1080
PRESENTER_POINT_SIZE = 17
# Check boxes and radio buttons keep their pixel size when the font grows: scale them with it.
# Per widget, since an application-wide style sheet would stop QApplication.setFont from
# reaching any widget, and with the font size, since a widget's own style sheet stops it there.
PRESENTER_INDICATOR = "{kind} {{ font-size: {size}pt; }} {kind}::indicator {{ width: 1em; height: 1em; }}"


def apply_presenter(app: QApplication, on: bool, screen_height: int = PRESENTER_SCREEN_HEIGHT) -> None:
    """Large fonts everywhere, for the back of a lecture hall, sized for a screen `screen_height`
    pixels tall; off restores the default."""
    global _base_point_size, _presenter_on, _screen_factor
    _presenter_on = on
    _screen_factor = min(max(screen_height / PRESENTER_SCREEN_HEIGHT, 0.6), 2.0)
    font = QFont(app.font())
    if _base_point_size is None:
        _base_point_size = font.pointSizeF()
    font.setPointSizeF(presenter_size(PRESENTER_POINT_SIZE) if on else _base_point_size)
    app.setFont(font)


def presenter_size(size: float) -> int:
    """A presenter-mode size (points or pixels, chosen for a 1080-pixel-tall screen) for the
    screen presenter mode was switched on for."""
    return max(1, round(size * _screen_factor))


def presenter_on() -> bool:
    """Whether presenter mode is on: for plots built after it was switched on."""
    return _presenter_on


PLOT_POINT_SIZE = 10
LEGEND_BRUSH = (255, 255, 255, 215)  # a plot legend's background: white, the curves faintly through it
PRESENTER_PLOT_POINT_SIZE = 18


def apply_presenter_to(root, on: bool) -> None:
    """Presenter mode inside a window: the one-line explanations and the controls marked
    `advanced` are tucked away, every plot's axis numbers and titles grow, and the text is
    drawn dark on light for contrast on a projector."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QCheckBox, QRadioButton, QWidget

    for widget in root.findChildren(QWidget):
        if widget.property("hint") or widget.property("advanced"):
            widget.setVisible(not on)
        if isinstance(widget, (QCheckBox, QRadioButton)):
            kind = type(widget).__name__
            widget.setStyleSheet(PRESENTER_INDICATOR.format(kind=kind, size=presenter_size(PRESENTER_POINT_SIZE))
                                 if on else "")
    size = presenter_size(PRESENTER_PLOT_POINT_SIZE) if on else PLOT_POINT_SIZE
    colour = "#000000" if on else "#666666"
    views = root.findChildren(pg.GraphicsView)
    if isinstance(root, pg.GraphicsView):
        views.insert(0, root)  # a plot widget restyled on its own, after it rebuilt its plots
    for view in views:
        for item in view.scene().items():
            if isinstance(item, pg.AxisItem):
                if getattr(item, "rows_fitted", False):
                    item.setTextPen(colour)  # its size is set to fit its rows by widgets.RowLabels
                    continue
                if _is_cramped(item, pg):
                    small_axis_font(item)  # a colour bar or a thin heatmap strip: large numbers would overlap
                    continue
                font = QFont(item.font())
                font.setPointSize(size)
                item.setTickFont(font)
                item.setTextPen(colour)
                if item.labelText:
                    style = {"font-size": f"{size}pt", "color": colour}
                    item.setLabel(item.labelText, units=item.labelUnits or None, **style)
            elif isinstance(item, pg.LabelItem) and item.text and isinstance(item.parentItem(), pg.PlotItem):
                # A plot's title: dark, and only a little larger (the heatmap strips are thin).
                item.setText(item.text, color=colour, size=f"{presenter_size(13) if on else 10}pt")
            elif isinstance(item, pg.TextItem) and getattr(item, "follows_app_font", False):
                item.setFont(QApplication.font())  # a note in an empty plot: the application's size
            elif isinstance(item, pg.LegendItem):
                for _sample, label in item.items:
                    label.setText(label.text, size=f"{size}pt", color=colour)


def _is_cramped(axis, pg) -> bool:
    """A colour bar's axis, or a vertical axis shorter than a few lines of large text."""
    parent = axis.parentItem()
    while parent is not None:
        if isinstance(parent, pg.ColorBarItem):
            return True
        parent = parent.parentItem()
    return axis.orientation in ("left", "right") and axis.boundingRect().height() < 150


def small_axis_font(axis) -> None:
    """The normal plot size, whatever the application font (presenter mode enlarges that)."""
    font = QFont(axis.font())
    font.setPointSize(PLOT_POINT_SIZE - 1)
    axis.setTickFont(font)
