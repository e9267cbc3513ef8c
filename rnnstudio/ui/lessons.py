"""Lesson presets: one click sets a panel up for one idea of the lecture (LECTURE.md's rows).

Each lesson only moves controls a person could move and presses the buttons they would
press, so what the class sees is what the teacher could have done by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rnnstudio.ui.gates_panel import GRADIENT_TAB, MEMORY_TAB


@dataclass(frozen=True)
class Lesson:
    title: str  # the menu entry
    rows: str  # LECTURE.md rows it shows
    says: str  # one sentence for the status bar: what to watch
    apply: Callable  # apply(window)


def _sequence_shapes(window) -> None:
    window.show_sequence_shapes()


def _samples_over_training(window) -> None:
    panel = window.panels["charrnn"]
    window.show_panel("charrnn")
    panel.corpus_combo.setCurrentIndex(panel.corpus_combo.findData("shakespeare"))
    panel.arch_combo.setCurrentIndex(panel.arch_combo.findData("lstm"))
    panel.layers_spin.setValue(2)
    panel.hidden_spin.setValue(128)
    panel.seq_spin.setValue(64)
    panel.steps_spin.setValue(2000)
    panel.sample_at_edit.setText("100, 300, 700, 2000")
    panel.continue_check.setChecked(False)
    panel.start_training()


def _vanilla_rnn_training(window) -> None:
    panel = window.panels["charrnn"]
    window.show_panel("charrnn")
    panel.arch_combo.setCurrentIndex(panel.arch_combo.findData("rnn"))
    panel.layers_spin.setValue(1)
    panel.hidden_spin.setValue(128)
    panel.seq_spin.setValue(16)  # a short BPTT window: what a vanilla RNN can still learn through
    panel.continue_check.setChecked(False)
    panel.start_training()


def _step_through(window) -> None:
    panel = window.panels["gates"]
    window.show_panel("gates")
    panel.tabs.setCurrentIndex(2)
    panel.compute()


def _gates_and_cell(window) -> None:
    panel = window.panels["gates"]
    window.show_panel("gates")
    panel.tabs.setCurrentIndex(0)
    panel.compute()


def _forget_gate_carries_the_gradient(window) -> None:
    panel = window.panels["gates"]
    window.show_panel("gates")
    panel.tabs.setCurrentIndex(MEMORY_TAB)
    panel.follow_longest_memory_when_read = True
    panel.compute()


def _gradients(singular_value: float, forget_bias: float = 0.0):
    def apply(window) -> None:
        panel = window.panels["gates"]
        window.show_panel("gates")
        panel.tabs.setCurrentIndex(GRADIENT_TAB)
        panel.gradient_loaded_check.setChecked(False)
        panel.forget_slider.setValue(round(forget_bias * 10))
        panel.radius_slider.setValue(round(singular_value * 100))  # recomputes the curves
    return apply


def _caption(kind: str):
    def apply(window) -> None:
        panel = window.panels["caption"]
        window.show_panel("caption")
        panel.source_combo.setCurrentIndex(panel.source_combo.findData(kind))
        panel.start_source()
    return apply


def _ask_a_scene(window) -> None:
    panel = window.panels["vqa"]
    window.show_panel("vqa")
    panel.tabs.setCurrentIndex(0)
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("generated-plain"))
    panel.new_picture(random=True)


def _evaluate_vqa(window) -> None:
    panel = window.panels["vqa"]
    window.show_panel("vqa")
    panel.tabs.setCurrentIndex(1)
    panel.evaluate()


LESSONS = [
    Lesson("One to many, many to one, many to many", "1",
           "Each panel works in one shape of sequence, drawn on its tab; the overview shows all five.",
           _sequence_shapes),
    Lesson("Samples at 100 / 300 / 700 / 2000 iterations", "5, 6",
           "Watch the timeline: gibberish at 100, words at 300, phrases at 700, lines at 2000.", _samples_over_training),
    Lesson("A vanilla RNN learns Shakespeare", "3, 5",
           "The simplest cell, h = tanh(W_hh h + W_xh x), trained through a 16-character window.", _vanilla_rnn_training),
    Lesson("The recurrence, one step at a time", "2, 4",
           "Press Next: the same weights at every step, h_t computed from h_(t-1) and x_t.", _step_through),
    Lesson("Inside the LSTM: gates and the memory cell", "8",
           "Gates between 0 and 1 decide what c_t keeps; click a unit to follow it over the text.", _gates_and_cell),
    # Forget bias 2 (f near 0.88): the LSTM's curve levels off near 1e-2 while the RNN's falls
    # to 1e-9 at 200 steps. At 1 (f near 0.73) the LSTM's gradient vanishes as fast as the RNN's.
    Lesson("Vanishing gradients: RNN against LSTM", "7, 9",
           "Largest singular value 0.9: the RNN's gradient shrinks tenfold every 20 steps back; "
           "the LSTM's, its forget gate near 1, levels off.",
           _gradients(0.9, forget_bias=2.0)),
    Lesson("The forget gate carries the gradient back", "9",
           "The unit whose forget gate is open longest: the gradient from the last character falls only where "
           "f_t dips. Click a unit in the heatmaps to compare.",
           _forget_gate_carries_the_gradient),
    Lesson("Exploding gradients", "7",
           "Largest singular value 1.3: the vanilla RNN's gradient grows with every step back.", _gradients(1.3)),
    Lesson("Caption the cards", "10, 13",
           "Hold the printed shape cards (Help → Printable shape cards) up to the camera; "
           "hover a word to see where the model looked.",
           _caption("camera")),
    Lesson("Captions graded on generated scenes", "10, 11, 13",
           "Each caption is graded against the scene's truth: without errors ... unrelated.",
           _caption("generated-camera")),
    Lesson("Ask a question about a scene", "12",
           "Ask in your own words; the bars are the model's probabilities for each answer.", _ask_a_scene),
    Lesson("How good is the VQA model?", "12",
           "The whole easy-VQA test split, then the confusion matrix: click a cell to see its questions.",
           _evaluate_vqa),
]
