"""The panels of RNN Studio, each declared once.

Everything that lists the panels derives from `PANELS`: the main window's tabs, the command
line's `--panel` choices, `rnnstudio screenshot`, the sequence shapes' overview, the Lessons
menu, the saved settings and the shipped models (`rnnstudio.paths.SHIPPED_MODELS`).

No Qt and no torch here: the command line and the worker read this module too. The GUI
imports each panel's widget class from its dotted path (`rnnstudio.ui.registry`); the class
itself declares what only the GUI needs (its lessons, how to prepare its screenshot).

Adding a panel: write its widget class (a `rnnstudio.ui.panel.Panel`) in its own modules,
and add one `PanelEntry` line to `PANELS`. tests/ui/test_registry.py checks every surface.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PanelEntry:
    key: str  # its name on the command line (--panel), in the settings file and for screenshots
    title: str  # its tab's title
    shape: str  # the key of its shape of sequence (rnnstudio.ui.sequence_shapes.SHAPES)
    widget: str  # the dotted path of its Qt widget class, imported by the GUI only
    task: str | None = None  # the model task it opens at start (a model file's "task"), if any
    model_file: str | None = None  # that task's shipped model, a file name in models/


CHARRNN = PanelEntry("charrnn", "Char-RNN", "many-to-many", "rnnstudio.ui.charrnn.panel.CharRNNPanel",
                     task="charrnn", model_file="shakespeare-lstm.safetensors")
# The lab reads its texts through the char-RNN that the char-RNN panel opens or trains.
GATES = PanelEntry("gates", "LSTM internals", "many-to-many", "rnnstudio.ui.gates.panel.GatesPanel",
                   task=CHARRNN.task, model_file=CHARRNN.model_file)
CAPTION = PanelEntry("caption", "Captioning", "one-to-many", "rnnstudio.ui.caption.panel.CaptionPanel",
                     task="caption", model_file="shapes-caption.safetensors")
VQA = PanelEntry("vqa", "Question answering", "many-to-one", "rnnstudio.ui.vqa.panel.VQAPanel",
                 task="vqa", model_file="easyvqa.safetensors")
SENTIMENT = PanelEntry("sentiment", "Sentiment", "many-to-one", "rnnstudio.ui.sentiment.panel.SentimentPanel",
                       task="sentiment", model_file="sentiment-lstm.safetensors")
TRANSLATE = PanelEntry("translate", "Translation", "read-then-write", "rnnstudio.ui.translate.panel.TranslatePanel",
                       task="translate", model_file="fr-en-attention.safetensors")
VIDEO = PanelEntry("video", "Video", "many-to-many", "rnnstudio.ui.video.panel.VideoPanel",
                   task="video", model_file="shapes-video.safetensors")

PANELS: tuple[PanelEntry, ...] = (CHARRNN, GATES, CAPTION, VQA, SENTIMENT, TRANSLATE, VIDEO)  # in the order of their tabs
PANEL_KEYS: tuple[str, ...] = tuple(entry.key for entry in PANELS)
PANEL_BY_KEY: dict[str, PanelEntry] = {entry.key: entry for entry in PANELS}


def shipped_models(panels: tuple[PanelEntry, ...] = PANELS) -> dict[str, str]:
    """task -> the file name of its shipped model, from the panels that open one. Two panels
    naming different files for one task is a mistake in the registry, said at import."""
    files: dict[str, str] = {}
    for entry in panels:
        if entry.task is None or entry.model_file is None:
            continue
        if files.setdefault(entry.task, entry.model_file) != entry.model_file:
            raise ValueError(f"panel {entry.key!r} ships {entry.model_file} for the task {entry.task!r}, "
                             f"which another panel ships as {files[entry.task]}")
    return files
