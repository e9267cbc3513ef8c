"""The settings of each task's training run, with their defaults, written once.

The command line's options (rnnstudio.cli), the trainers' settings (rnnstudio.train.<task>)
and the app's controls (rnnstudio.ui) all read their defaults from here; an instance is one
run's settings. Plain data with no torch, so that the app's panels can read it before torch
is loaded. docs/COMMAND-LINE.md documents these values: change both together.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnstudio.data.sentiment import LABEL_THRESHOLD, MIN_COUNT


@dataclass(frozen=True)
class CharRNNDefaults:
    """A char-RNN run: the text, the network, the training, and what is measured along the way."""

    corpus: str = "shakespeare"  # shakespeare | python | a UTF-8 text file
    arch: str = "lstm"  # lstm | gru | rnn
    layers: int = 2
    hidden: int = 128
    embed: int = 64  # 0: one-hot input
    dropout: float = 0.0
    seq_len: int = 64  # the BPTT window
    batch_size: int = 32
    lr: float = 2e-3
    steps: int = 2000
    seed: int = 0
    # The validation loss is measured every `eval_every` iterations of a run and at its last.
    # On the command line each measurement is a log line: 500 keeps a default run's log to
    # four lines (docs/COMMAND-LINE.md). The app draws the measurements as a curve, which
    # needs more points: see `curve_eval_every`.
    eval_every: int = 500
    sample_at: tuple[int, ...] = (100, 300, 700, 2000)  # the app's timeline samples, within the run
    sample_length: int = 200
    sample_temperature: float = 0.8

    @classmethod
    def curve_eval_every(cls, steps: int) -> int:
        """`eval_every` for a run whose validation loss is plotted: the same rule, made finer for
        runs under 40 x eval_every iterations so that the curve has about 40 points, and never
        finer than every 10 iterations (a validation costs about three training steps)."""
        return max(10, min(cls.eval_every, steps // 40))


@dataclass(frozen=True)
class CaptionDefaults:
    """A captioner's run (a CNN encoder, an LSTM decoder with attention)."""

    data: str = "shapes"  # shapes, or a COCO-format annotations JSON or a folder holding one
    images: str | None = None  # a COCO-format set's image folder; None: beside the JSON
    steps: int = 3000
    encoder: str = "small"  # small | resnet18
    encoder_weights: str | None = None  # resnet18: a local weights file; None: torch's cache; "none": scratch
    image_size: int | None = None  # None: the encoder's own (IMAGE_SIZES)
    hidden: int = 256
    channels: int = 128
    batch_size: int = 64
    lr: float = 2e-3
    camera_fraction: float = 0.5
    min_count: int = 1
    eval_scenes: int = 500
    log_every: int = 100
    seed: int = 0

    IMAGE_SIZES = {"small": 64, "resnet18": 224}  # input size by encoder (a class constant, not a field)
    SIZE_MULTIPLES = {"small": 8, "resnet18": 32}  # what each encoder's input size must divide by

    def input_size(self) -> int:
        return self.image_size or self.IMAGE_SIZES[self.encoder]


@dataclass(frozen=True)
class VQADefaults:
    """A question-answering model's run (a CNN for the picture, an LSTM for the question)."""

    steps: int = 3000
    batch_size: int = 64
    questions_per_image: int = 4
    lr: float = 2e-3
    easyvqa_fraction: float = 0.25
    single_fraction: float = 0.15
    camera_fraction: float = 0.35
    relation_weight: float = 0.45
    glimpse_weight: float = 1.0
    shape_counts: tuple[float, ...] = (1, 2, 2)  # relative weights of scenes of 1, 2 and 3 shapes
    image_size: int = 64
    channels: int = 128
    film: int = 64
    embed: int = 32
    hidden: int = 128
    fused: int = 256
    workers: int = 1  # processes making batches ahead; 0: in the training loop
    threads: int = 0  # CPU threads for torch; 0: torch's choice
    eval_every: int = 500  # held-out accuracy, logged this often
    eval_scenes: int = 500
    log_every: int = 100
    seed: int = 0


@dataclass(frozen=True)
class SentimentDefaults:
    """Every default of a sentiment training run, read by the command line, the app and the trainer."""

    arch: str = "lstm"  # rnn | gru | lstm | bow
    embed: int = 64  # word embedding size; with ~14,000 words the embeddings are most of the model
    hidden: int = 128  # recurrent units: 256 (with dropout 0.5) did no better on validation
    layers: int = 1  # one layer: sentences are ~20 words, and the data small
    dropout: float = 0.4  # on embeddings and before the readout: 15,000 sentences overfit within a few passes
    word_dropout: float = 0.05  # share of training words read as <unk>: the model learns to read past unknown words
    batch_size: int = 64  # sentences an iteration (64 beat 32 on validation loss, same accuracy)
    lr: float = 2e-3  # Adam's learning rate, decaying on a cosine to lr/10 (1e-3 was slower and no better)
    weight_decay: float = 0.0  # Adam's L2 penalty (dropout is the regulariser here)
    steps: int = 6000  # iterations planned: ~20 passes over the 18,984 training sentences at batch 64
    grad_clip: float = 5.0  # largest gradient norm, against exploding gradients (the vanilla RNN)
    soft_targets: float = 1.5  # > 0: train towards sigmoid(k * rating) with k this, neutral sentences too (0: labels)
    average: float = 0.999  # > 0: validate and keep a moving average of the weights, this decay per step (0: off)
    seed: int = 0  # the initial weights and the batches
    label_threshold: float = LABEL_THRESHOLD  # |mean rating| beyond which a sentence is positive or negative
    min_count: int = MIN_COUNT  # a word seen fewer times in training is <unk>
    eval_every: int = 500  # validate (and keep the best weights) every this many iterations
