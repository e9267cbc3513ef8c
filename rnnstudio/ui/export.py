"""Exports for handouts and slides: every plot and heatmap of a panel as PNG and SVG, the
char-RNN sample timeline and a question-answering session as self-contained HTML pages."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (pg.exporters is not loaded by `import pyqtgraph`)
from PySide6.QtCore import QBuffer, QIODevice, QPoint, QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QWidget

from rnnstudio.ui.frame_view import qimage_from_rgb

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
h1 {{ font-size: 1.6em; }} .cards {{ display: flex; flex-wrap: wrap; gap: 1em; }}
.card {{ border: 1px solid #ccc; border-radius: 6px; padding: 0.8em; flex: 1 1 22em; }}
pre {{ white-space: pre-wrap; font-size: 0.95em; }} table {{ border-collapse: collapse; }}
td, th {{ padding: 0.2em 0.6em; text-align: left; }} .bar {{ background: #286ec8; height: 0.9em; }}
.unknown {{ color: #c0392b; text-decoration: underline; }} img {{ image-rendering: pixelated; }}
</style></head><body>
<h1>{title}</h1>
{body}
<p><small>Made with RNN Studio.</small></p>
</body></html>
"""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "plot"


def plot_views(widget) -> list[pg.GraphicsView]:
    """The pyqtgraph views (plots, heatmaps) inside a widget, in layout order."""
    return [v for v in widget.findChildren(pg.GraphicsView) if v.isVisibleTo(widget) or not widget.isVisible()]


def drawings(widget) -> list[QWidget]:
    """The hand-drawn diagrams inside a widget (marked with the property `drawing`): the
    unrolled graph, the shapes of sequences. Shown ones only, as for plots."""
    return [w for w in widget.findChildren(QWidget) if w.property("drawing") and
            (w.isVisibleTo(widget) or not widget.isVisible())]


def export_plots(widget, folder: Path, stem: str) -> list[Path]:
    """Write each plot and drawing of `widget` as `<stem>-<n>.png` and `.svg` in `folder`;
    the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    views = plot_views(widget)
    for n, view in enumerate(views, start=1):
        base = folder / f"{_slug(stem)}-{n}"
        png = pg.exporters.ImageExporter(view.scene())
        png.parameters()["width"] = max(1200, int(view.width() * 2))  # sharp on a slide
        write_whole(base.with_suffix(".png"), lambda tmp: png.export(str(tmp)))
        write_whole(base.with_suffix(".svg"), lambda tmp, view=view: _write_svg(view, tmp))
        written += [base.with_suffix(".png"), base.with_suffix(".svg")]
    for n, drawing in enumerate(drawings(widget), start=len(views) + 1):
        base = folder / f"{_slug(stem)}-{n}"
        write_whole(base.with_suffix(".png"), lambda tmp, d=drawing: _write_drawing_png(d, tmp))
        write_whole(base.with_suffix(".svg"), lambda tmp, d=drawing: _write_svg(d, tmp))
        written += [base.with_suffix(".png"), base.with_suffix(".svg")]
    return written


def _write_drawing_png(widget: QWidget, path: Path, scale: int = 2) -> None:
    """A hand-drawn widget at `scale` times its size on screen: sharp on a slide."""
    image = QImage(widget.size() * scale, QImage.Format.Format_ARGB32)
    image.fill(widget.palette().window().color())
    painter = QPainter(image)
    try:
        painter.scale(scale, scale)
        widget.render(painter, QPoint())
    finally:
        painter.end()
    if not image.save(str(path)):
        raise OSError(f"{path} could not be written")


def write_whole(path: Path, write) -> None:
    """`write(tmp)` to a temporary file beside `path`, renamed to `path` only once it is all
    there: a full disk leaves the earlier file (or none), never half a picture."""
    tmp = path.with_name(f"{path.stem}.tmp{path.suffix}")  # the suffix tells the writer the format
    try:
        write(tmp)
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise OSError(f"{path} could not be written")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_svg(view: QWidget, path: Path) -> None:
    """A plot's view, or a drawing, as vector graphics, drawn by Qt's own SVG generator.

    Not pyqtgraph's SVGExporter: it re-parses the SVG Qt writes and fails on the path syntax
    of Qt 6.8 and later ("not enough values to unpack").
    """
    rect = view.viewport().rect() if isinstance(view, pg.GraphicsView) else view.rect()
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(rect.size())
    generator.setViewBox(rect)
    generator.setTitle(path.stem)
    painter = QPainter(generator)
    try:
        if isinstance(view, pg.GraphicsView):
            view.render(painter, QRectF(rect), rect)
        else:
            view.render(painter, QPoint())  # QWidget.render: the drawing's own paint code, into the SVG
    finally:
        painter.end()
    if not path.is_file() or path.stat().st_size == 0:
        raise OSError(f"{path} could not be written")


def write_page(path: Path, title: str, body: str) -> None:
    """A self-contained HTML page (pictures inlined), written whole or not at all."""
    page = _PAGE.format(title=html.escape(title), body=body)
    write_whole(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def png_data_uri(image) -> str:
    """An (H, W, 3) uint8 RGB array, or a QImage, as a data: URI to inline in a page."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    (image if isinstance(image, QImage) else qimage_from_rgb(image)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(bytes(buffer.data())).decode("ascii")


def timeline_html(samples, corpus: str, loss_curve: QImage | None = None) -> str:
    """The body of the sample-timeline page: the loss curve, then one card per sample, oldest first."""
    cards = []
    for s in samples:
        loss = f" · validation {s.valid_loss:.2f} nats/char" if s.valid_loss is not None else ""
        cards.append(f"<div class='card'><b>iteration {s.iteration:,}</b>{loss}<pre>{html.escape(s.text)}</pre></div>")
    intro = (f"<p>Samples taken while a char-RNN trained on {html.escape(corpus)}: the same network, "
             f"further along in training from left to right.</p>")
    curve = ""
    if loss_curve is not None and not loss_curve.isNull():
        curve = (f"<p><img src='{png_data_uri(loss_curve)}' style='max-width:100%' "
                 f"alt='the training and validation loss against the iteration'></p>")
    return intro + curve + "<div class='cards'>" + "".join(cards) + "</div>"


def vqa_session_html(entries) -> str:
    """The body of a question-answering page: each (picture, answer, true answer or None)."""
    parts = []
    for image, r, truth in entries:
        unknown = set(r.unknown_words)
        words = " ".join(f"<span class='unknown'>{html.escape(w)}</span>" if w in unknown else html.escape(w)
                         for w in r.words)
        rows = "".join(
            f"<tr><td>{html.escape(a)}</td><td>{p:.1%}</td>"
            f"<td><div class='bar' style='width:{200 * p:.0f}px'></div></td></tr>"
            for a, p in r.answers)
        verdict = f"<p>True answer: <b>{html.escape(truth)}</b></p>" if truth is not None else ""
        parts.append(f"<div class='card'><img src='{png_data_uri(image)}' width='192' alt='the picture'>"
                     f"<p><b>{html.escape(r.question)}</b><br><small>read as: {words}</small></p>"
                     f"<table>{rows}</table>{verdict}</div>")
    return "<div class='cards'>" + "".join(parts) + "</div>"
