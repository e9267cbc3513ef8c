"""The training data of a VQA model: batches made from (seed, iteration), so any batch can be
made again, and made ahead in other processes (`Prefetcher`).

A batch is `batch_size` pictures, each asked `questions_per_image` questions; a picture
is encoded once for all its questions. The pictures come from a mix of sources:

- easy-VQA's training split (less its held-out pictures), with the package's questions;
- shapes-world scenes of 1 to 3 shapes, plain or in the camera look, with questions
  generated from each scene's truth (`rnnstudio.data.scene_questions`);
- single easy-VQA-like shapes at other sizes, positions and slight rotations.

Sometimes a word the model does not know is slipped into a question (read as <unk>), so
that the model learns to pass over words it does not know.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from dataclasses import dataclass

import numpy as np

from rnnstudio.nn.vqa import SPECIALS
from rnnstudio.train.defaults import VQADefaults

TRAIN_STREAM = 31  # first key of the training pictures' seeds
SOURCES = ("easyvqa", "scenes", "camera", "single")
GENERATED = ("scenes", "camera", "single")


@dataclass(frozen=True)
class VQATrainSettings:
    batch_size: int = VQADefaults.batch_size  # pictures per iteration
    questions_per_image: int = VQADefaults.questions_per_image
    lr: float = VQADefaults.lr  # Adam; decays on a cosine to lr/10 over the planned steps
    steps: int = VQADefaults.steps
    grad_clip: float = 5.0
    seed: int = VQADefaults.seed
    easyvqa_fraction: float = VQADefaults.easyvqa_fraction  # share of easy-VQA pictures in a batch
    single_fraction: float = VQADefaults.single_fraction  # ... of single shapes at other sizes, positions, rotations
    camera_fraction: float = VQADefaults.camera_fraction  # ... of camera-look scenes; the rest are plain scenes
    unknown_rate: float = 0.03  # chance that a question gets a word the model does not know
    relation_weight: float = VQADefaults.relation_weight  # share of relation questions, where a scene has one
    shape_counts: tuple = VQADefaults.shape_counts  # how often training scenes hold 1, 2 or 3 shapes (relative)
    glimpse_weight: float = VQADefaults.glimpse_weight  # weight of the glimpse hint on plain scenes' relation questions

    def __post_init__(self):
        if min(self.batch_size, self.steps, self.questions_per_image) < 1:
            raise ValueError("batch size, steps and questions per image must be positive")
        if not self.lr > 0:
            raise ValueError("the learning rate must be positive")
        fractions = (self.easyvqa_fraction, self.single_fraction, self.camera_fraction)
        if min(fractions) < 0 or sum(fractions) > 1 + 1e-9:
            raise ValueError("the easy-VQA, single-shape and camera fractions must be at least 0 "
                             "and add up to at most 1")
        if self.glimpse_weight < 0:
            raise ValueError("glimpse_weight must be at least 0")
        if not 0 <= self.unknown_rate <= 1 or not 0 <= self.relation_weight < 1:
            raise ValueError("unknown_rate must be in [0, 1] and relation_weight in [0, 1)")
        object.__setattr__(self, "shape_counts", tuple(float(w) for w in self.shape_counts))
        if len(self.shape_counts) != 3 or min(self.shape_counts) < 0 or sum(self.shape_counts) <= 0:
            raise ValueError("shape_counts needs three weights (1, 2 and 3 shapes), at least one above 0")

    def type_weights(self) -> dict[str, float]:
        """Question types: relations at `relation_weight`, the others sharing the rest."""
        from rnnstudio.data.scene_questions import DEFAULT_TYPE_WEIGHTS

        rest = {k: w for k, w in DEFAULT_TYPE_WEIGHTS.items() if k != "relation"}
        scale = (1 - self.relation_weight) / sum(rest.values())
        return {**{k: w * scale for k, w in rest.items()}, "relation": self.relation_weight}

    def source_weights(self) -> list[float]:
        rest = max(0.0, 1 - self.easyvqa_fraction - self.single_fraction - self.camera_fraction)
        return [self.easyvqa_fraction, rest, self.camera_fraction, self.single_fraction]  # SOURCES order


def model_answers() -> list[str]:
    """easy-VQA's 13 answers in its order, then what the shapes world adds (the counts)."""
    from rnnstudio.data.easyvqa import answers as easyvqa_answers
    from rnnstudio.data.scene_questions import answers as scene_answers

    out = easyvqa_answers()
    return out + [a for a in scene_answers() if a not in out]


def model_vocab(easyvqa_questions: list[str] = ()) -> list[str]:
    """<pad>, <unk>, then every word of the generated questions and easy-VQA's, sorted."""
    from rnnstudio.data.scene_questions import question_words
    from rnnstudio.nn.vqa import split_words

    words = set(question_words())
    for q in easyvqa_questions:
        words.update(split_words(q))
    return SPECIALS + sorted(words)


# --- data ---------------------------------------------------------------------------------


@dataclass
class Batch:
    images: list[np.ndarray]  # (S, S, 3) uint8 RGB each
    questions: list[str]
    answers: list[str]
    image_of: list[int]  # the picture each question is about
    kinds: list[str]  # question types
    sources: list[str]  # where each picture came from (SOURCES)
    focus: list[tuple] = None  # per question: the shapes to look at (plain scenes' relations), or ()


def generated_picture(source: str, rng: np.random.Generator, image_size: int, shape_counts=None):
    """(scene, picture) of a generated source: scenes, camera or single. Scenes hold 1 to 3
    shapes as the shapes world draws them, or by the weights `shape_counts` for 1, 2, 3."""
    from rnnstudio.data.scene_questions import single_shape_scene
    from rnnstudio.data.shapes import random_scene, render

    if source == "single":
        scene = single_shape_scene(rng)
    elif shape_counts is None:
        scene = random_scene(rng)
    else:
        p = np.asarray(shape_counts, float)
        scene = random_scene(rng, n_shapes=1 + int(rng.choice(3, p=p / p.sum())))
    return scene, render(scene, image_size, camera=source == "camera", rng=rng)


class MixedVQAData:
    """Batches from easy-VQA and the shapes world, made from (seed, iteration)."""

    def __init__(self, image_size: int, settings: VQATrainSettings, easyvqa=None):
        self.image_size = image_size
        self.settings = settings
        self.easyvqa = easyvqa  # an EasyVQASplit with its images, or None
        if settings.easyvqa_fraction > 0 and easyvqa is None:
            raise ValueError("easy-VQA pictures were asked for but no easy-VQA split was given")
        if easyvqa is not None:
            easyvqa.load_images()
            self._by_image = easyvqa.questions_of()
        self.vocab = model_vocab([q.question for q in easyvqa.questions] if easyvqa is not None else [])
        self.answers = model_answers()
        self.name = "+".join(s for s, w in zip(SOURCES, settings.source_weights()) if w > 0)

    def _easyvqa_picture(self, rng: np.random.Generator):
        from rnnstudio.data.images import fit_square

        n = int(rng.integers(len(self.easyvqa.image_ids)))
        image = self.easyvqa.images[n]
        if image.shape[0] != self.image_size:
            image = fit_square(image, self.image_size)
        return n, image

    def batch(self, iteration: int, size: int | None = None) -> Batch:
        from rnnstudio.data.scene_questions import sample_questions

        s = self.settings
        size = size or s.batch_size
        rng = np.random.default_rng([TRAIN_STREAM, s.seed, iteration])
        weights = np.array(s.source_weights())
        out = Batch([], [], [], [], [], [], [])
        for b in range(size):
            source = SOURCES[int(rng.choice(len(SOURCES), p=weights / weights.sum()))]
            if source == "easyvqa":
                n, image = self._easyvqa_picture(rng)
                mine = self._by_image[n]
                picks = rng.choice(len(mine), size=min(s.questions_per_image, len(mine)), replace=False)
                qs = [self.easyvqa.questions[mine[int(i)]] for i in picks]
                asked = [(q.question, q.answer, q.kind, ()) for q in qs]
            else:
                scene, image = generated_picture(source, rng, self.image_size, s.shape_counts)
                plain = source != "camera"  # where the shapes are in the picture is known exactly
                asked = [(q.question, q.answer, q.kind, q.focus if plain else ())
                         for q in sample_questions(scene, rng, s.questions_per_image, s.type_weights())]
            out.images.append(image)
            out.sources.append(source)
            for question, answer, kind, focus in asked:
                if rng.random() < s.unknown_rate:
                    question = _slip_in_unknown(question, rng)
                out.questions.append(question)
                out.answers.append(answer)
                out.image_of.append(b)
                out.kinds.append(kind)
                out.focus.append(tuple((f.x, f.y, f.radius) for f in focus))
        return out


_FILLERS = ("please", "picture", "photo", "here", "exactly", "now", "this", "xyzzy")


def _slip_in_unknown(question: str, rng: np.random.Generator) -> str:
    words = question.split()
    words.insert(int(rng.integers(len(words) + 1)), str(rng.choice(_FILLERS)))
    return " ".join(words)


_worker_data: MixedVQAData | None = None


def _worker_init(data: MixedVQAData) -> None:
    global _worker_data
    _worker_data = data


def _worker_batch(iteration: int) -> Batch:
    return _worker_data.batch(iteration)


class Prefetcher:
    """Make batches in `workers` other processes, a few ahead of the training loop, in order.

    Batches depend only on (seed, iteration), so training is the same with or without it.
    At most `ahead` batches wait at a time, so memory stays flat however fast the workers are.
    """

    def __init__(self, data: MixedVQAData, first: int, last: int, workers: int, ahead: int | None = None):
        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        self.pool = context.Pool(workers, initializer=_worker_init, initargs=(data,))
        self.next_iteration, self.last = first, last
        self.waiting: deque = deque()
        self.ahead = ahead or 2 * workers + 1
        self._fill()

    def _fill(self) -> None:
        while len(self.waiting) < self.ahead and self.next_iteration < self.last:
            self.waiting.append(self.pool.apply_async(_worker_batch, (self.next_iteration,)))
            self.next_iteration += 1

    def __next__(self) -> Batch:
        if not self.waiting:
            raise StopIteration
        batch = self.waiting.popleft().get()
        self._fill()
        return batch

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()
