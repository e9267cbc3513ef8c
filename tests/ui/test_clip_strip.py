"""The video panel's filmstrip, fed the shipped model's readings of a real clip frame by frame."""

from __future__ import annotations

from pathlib import Path

from rnnstudio.data.clips import MOTIONS, make_clip
from rnnstudio.nn.video import ClipReader, load_video_model
from rnnstudio.ui.frame_view import qimage_from_rgb
from rnnstudio.ui.video.strip import ClipStrip, StripColumn, StripContent
from rnnstudio.worker.video_work import frame_read

MODEL = Path(__file__).resolve().parents[2] / "models" / "shapes-video.safetensors"


def test_a_new_frame_draws_one_new_column_and_the_columns_keep_their_width(qtbot):
    model = load_video_model(MODEL, "cpu").model
    reader = ClipReader(model, "cpu")
    clip = make_clip(3, size=model.config.image_size, motion="left", frames=24)
    strip = ClipStrip()
    qtbot.addWidget(strip)
    strip.resize(900, strip.sizeHint().height())
    drawn, widths = [], []
    original = strip._column_pixmap

    def counting(col, geo):
        drawn.append(col)
        widths.append(geo["cw"])
        return original(col, geo)

    strip._column_pixmap = counting
    columns = []
    for frame in clip.frames:
        columns.append(StripColumn(qimage_from_rgb(frame), frame_read(reader.step(frame))))
        strip.show_clip(StripContent(MOTIONS, list(columns), 1, "left", frames=len(clip.frames)))
        before = len(drawn)
        strip.grab()  # paints it
        assert len(drawn) - before == 1  # only the newest column is drawn; the rest are kept
        assert strip._layout()["width"] == strip._layout()["cw"] * 24  # laid out for the whole clip
    assert len(set(widths)) == 1
    # The state heatmap has a column for each frame read, coloured once and kept per reading.
    assert sum(column.state is not None for column in strip._columns.values()) == 24


def test_a_clip_of_unknown_length_keeps_its_width_until_it_passes_the_fewest_columns(qtbot):
    from PySide6.QtGui import QImage

    strip = ClipStrip()
    qtbot.addWidget(strip)
    strip.resize(900, strip.sizeHint().height())
    thumb = QImage(8, 8, QImage.Format.Format_RGB888)
    motions = ("left", "right")
    widths = []
    for n in (1, 8, 16, 20):
        strip.show_clip(StripContent(motions, [StripColumn(thumb) for _ in range(n)]))
        widths.append(strip._layout()["cw"])
    assert widths[0] == widths[1] == widths[2] > widths[3]  # at most 16 columns at one width, then they narrow
