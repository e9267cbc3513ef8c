"""Training a VQA model, one iteration at a time, and measuring it.

A batch is `batch_size` pictures, each asked `questions_per_image` questions; a picture
is encoded once for all its questions. The pictures come from a mix of sources, drawn
from (seed, iteration), so any batch can be made again:

- easy-VQA's training split (less its held-out pictures), with the package's questions;
- shapes-world scenes of 1 to 3 shapes, plain or in the camera look, with questions
  generated from each scene's truth (`rnnstudio.data.scene_questions`);
- single easy-VQA-like shapes at other sizes, positions and slight rotations.

Sometimes a word the model does not know is slipped into a question (read as <unk>), so
that the model learns to pass over words it does not know.

Relations ("is the red circle left of the triangle?") are learnt only slowly from the
answers alone: the glimpses must first find the two shapes before the answer can depend
on where they are. On plain scenes, where each shape's place in the picture is known
exactly, a hint helps: -log of the weight each glimpse puts on its shape (glimpse 1 on
the shape referred to, glimpse 2 on the other), added to the loss with `glimpse_weight`.
Camera-look pictures get no hint; the glimpses learnt on plain scenes carry over.

`VQATrainer.step()` runs one batch (cross-entropy over the answers, backward, an Adam
update) and returns plain numbers. `evaluate_*` measure a model: accuracy, accuracy per
question type and the confusion matrix, on easy-VQA's validation or test split or on
generated pictures from a seed stream training never draws.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.nn import functional as F

from rnnstudio.nn.captioner import images_to_tensor
from rnnstudio.nn.vqa import SPECIALS, VQAConfig, VQAModel
from rnnstudio.train.accel import FLOAT32
from rnnstudio.train.caption import CaptionTrainer

TRAIN_STREAM = 31  # first key of the training pictures' seeds
EVAL_STREAM = 47  # ... and of the evaluation pictures': never the same pictures
SOURCES = ("easyvqa", "scenes", "camera", "single")
GENERATED = ("scenes", "camera", "single")


@dataclass(frozen=True)
class VQATrainSettings:
    batch_size: int = 64  # pictures per iteration
    questions_per_image: int = 4
    lr: float = 2e-3  # Adam; decays on a cosine to lr/10 over the planned steps
    steps: int = 3000
    grad_clip: float = 5.0
    seed: int = 0
    easyvqa_fraction: float = 0.25  # share of easy-VQA pictures in a batch
    single_fraction: float = 0.15  # ... of single shapes at other sizes, positions, rotations
    camera_fraction: float = 0.35  # ... of camera-look scenes; the rest are plain scenes
    unknown_rate: float = 0.03  # chance that a question gets a word the model does not know
    relation_weight: float = 0.45  # share of relation questions, where a scene has one
    shape_counts: tuple = (1, 2, 2)  # how often training scenes hold 1, 2 or 3 shapes (relative)
    glimpse_weight: float = 1.0  # weight of the glimpse hint on plain scenes' relation questions (0: none)

    def __post_init__(self):
        if min(self.batch_size, self.steps, self.questions_per_image) < 1:
            raise ValueError("batch size, steps and questions per image must be positive")
        if not self.lr > 0:
            raise ValueError("the learning rate must be positive")
        fractions = (self.easyvqa_fraction, self.single_fraction, self.camera_fraction)
        if min(fractions) < 0 or sum(fractions) > 1 + 1e-9:
            raise ValueError("the easy-VQA, single-shape and camera fractions must be at least 0 and add up to at most 1")
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


# --- the trainer --------------------------------------------------------------------------


class VQATrainer:
    def __init__(self, data: MixedVQAData, config: VQAConfig, settings: VQATrainSettings, device="cpu",
                 model: VQAModel | None = None, trained: dict | None = None):
        self.device = torch.device(device)
        self.data = data
        self.settings = settings
        if model is None:
            config = VQAConfig.from_dict({**config.to_dict(), "vocab_size": len(data.vocab), "answers": data.answers})
            model = VQAModel(config, data.vocab)
        self.model = model.to(self.device)
        self.train_model = self.model  # what step() runs: the model, or DDP around it (train.accel.prepare)
        self.precision = FLOAT32  # float32, or mixed precision (train.accel)
        self.config = self.model.config
        self.answer_index = {a: i for i, a in enumerate(self.model.answers)}
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.lr)
        self.iteration = int((trained or {}).get("steps", 0))
        self.images_seen = int((trained or {}).get("images", 0))
        self.questions_seen = int((trained or {}).get("questions", 0))
        self.last_loss: float | None = None
        self.metrics: dict = dict((trained or {}).get("metrics", {}))

    # The captioner's schedule: lr on a cosine down to lr/10 over settings.steps.
    learning_rate = CaptionTrainer.learning_rate

    def step(self, batch: Batch | None = None) -> dict:
        """One iteration (on `batch`, or the data's batch for this iteration).

        Returns {'iteration', 'loss', 'accuracy', 'images', 'questions', 'seconds', 'data_seconds', 'lr'}.
        """
        t0 = time.perf_counter()
        if batch is None:
            batch = self.data.batch(self.iteration)
        t_data = time.perf_counter() - t0
        model = self.model
        x = images_to_tensor(batch.images, self.device)  # (B, 3, S, S)
        ids, lengths = model.questions_tensor([model.tokenizer(q, strict=False).ids for q in batch.questions], self.device)
        y = torch.tensor([self.answer_index[a] for a in batch.answers], device=self.device)  # (N,)
        image_of = torch.tensor(batch.image_of, device=self.device)  # (N,)
        lr = self.learning_rate()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        model.train()
        hinted = [n for n, f in enumerate(batch.focus or []) if f] if self.settings.glimpse_weight > 0 else []
        with self.precision.autocast():
            logits, looks = self.train_model(x, ids, lengths, image_of, glimpses=True)  # (N, A), (N, 2, L)
            loss = F.cross_entropy(logits, y)
            hint = glimpse_hint_loss(looks, [batch.focus[n] for n in hinted], hinted, self.config.grid) if hinted else None
            total = loss + self.settings.glimpse_weight * hint if hint is not None else loss
        self.optimizer.zero_grad(set_to_none=True)
        self.precision.backward(total)
        self.precision.step(self.optimizer, model.parameters(), self.settings.grad_clip)  # clips, then steps
        self.iteration += 1
        self.images_seen += len(batch.images)
        self.questions_seen += len(batch.questions)
        self.last_loss = loss.item()
        return {
            "iteration": self.iteration,
            "loss": self.last_loss,  # nats per question, averaged over the batch
            "accuracy": float((logits.argmax(-1) == y).float().mean()),
            "glimpse_loss": hint.item() if hint is not None else 0.0,
            "images": len(batch.images),
            "questions": len(batch.questions),
            "seconds": time.perf_counter() - t0,
            "data_seconds": t_data,
            "lr": lr,
        }

    def trained_info(self) -> dict:
        return {
            "steps": self.iteration,
            "images": self.images_seen,
            "questions": self.questions_seen,
            "corpus": self.data.name,
            "settings": asdict(self.settings),
            "metrics": dict(self.metrics),
        }


def glimpse_hint_loss(looks: torch.Tensor, focus: list[tuple], rows: list[int], grid: int) -> torch.Tensor:
    """A hint for relation questions on plain scenes, where the shapes' places are known:
    -log of the weight each glimpse puts on its shape's cells (glimpse 1: the shape referred
    to, glimpse 2: the other), averaged. looks (N, 2, G*G); focus: per row, ((x, y, radius), ...)."""
    centres = (np.arange(grid) + 0.5) / grid
    cx, cy = np.meshgrid(centres, centres)  # (G, G) each, row-major like the flattened grid
    masks = np.zeros((len(rows), 2, grid * grid), np.float32)
    for k, shapes in enumerate(focus):
        for g, (x, y, radius) in enumerate(shapes[:2]):
            near = np.hypot(cx - x, cy - y) <= max(radius, 0.75 / grid)
            masks[k, g] = near.reshape(-1)
    masks_t = torch.from_numpy(masks).to(looks.device)
    on_target = (looks[rows] * masks_t).sum(dim=-1)  # (n, 2)
    return -torch.log(on_target + 1e-6).mean()


# --- measuring ----------------------------------------------------------------------------


@dataclass
class EvalSet:
    """Pictures and questions to measure a model on."""

    name: str
    images: list[np.ndarray] | np.ndarray
    questions: list[str]
    answers: list[str]
    image_of: list[int]
    kinds: list[str]


def easyvqa_eval_set(split, image_size: int = 64) -> EvalSet:
    """All the questions of an easy-VQA split (an EasyVQASplit)."""
    from rnnstudio.data.images import fit_square

    images = split.load_images()
    if images.shape[1] != image_size:
        images = [fit_square(im, image_size) for im in images]
    qs = split.questions
    return EvalSet(f"easyvqa-{split.name}", images, [q.question for q in qs], [q.answer for q in qs],
                   [q.image for q in qs], [q.kind for q in qs])


def generated_eval_set(source: str, n: int, image_size: int = 64, seed: int = 0) -> EvalSet:
    """`n` generated pictures training never draws (their own seed stream), one question of
    each type each picture answers."""
    from rnnstudio.data.scene_questions import one_per_type

    if source not in GENERATED:
        raise ValueError(f"source must be one of {', '.join(GENERATED)}")
    out = EvalSet(source, [], [], [], [], [])
    for i in range(n):
        rng = np.random.default_rng([EVAL_STREAM, seed, GENERATED.index(source), i])
        scene, image = generated_picture(source, rng, image_size)
        out.images.append(image)
        for q in one_per_type(scene, rng):
            out.questions.append(q.question)
            out.answers.append(q.answer)
            out.image_of.append(i)
            out.kinds.append(q.kind)
    return out


@torch.no_grad()
def predict_answers(model: VQAModel, images, questions: list[str], image_of: list[int], device="cpu",
                    chunk: int = 256, progress=None) -> list[str]:
    """The model's answer to each question; pictures are encoded once, `chunk` at a time.

    `progress(done, total)` is called after each chunk of pictures, if given.
    """
    model.eval()
    by_image: dict[int, list[int]] = {}
    for n, i in enumerate(image_of):
        by_image.setdefault(i, []).append(n)
    ids = [model.tokenizer(q, strict=False).ids for q in questions]
    out = [""] * len(questions)
    order = sorted(by_image)
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        feats = model.encode(images_to_tensor([images[i] for i in part], device))  # (b, C, G, G)
        rows = [n for i in part for n in by_image[i]]
        which = torch.tensor([k for k, i in enumerate(part) for _ in by_image[i]], device=feats.device)
        predicted = model.predict(feats[which], [ids[n] for n in rows])
        for n, p in zip(rows, predicted):
            out[n] = model.answers[int(p)]
        if progress is not None:
            progress(min(start + chunk, len(order)), len(order))
    return out


def score(predicted: list[str], truth: list[str], kinds: list[str], answers: list[str]) -> dict:
    """{"accuracy", "questions", "by_type": {type: {"accuracy", "questions"}}, "confusion":
    {"answers": [...], "matrix": [[count of truth row answered column]]}}."""
    index = {a: i for i, a in enumerate(answers)}
    matrix = np.zeros((len(answers), len(answers)), np.int64)
    right, total = Counter(), Counter()
    for p, t, k in zip(predicted, truth, kinds):
        matrix[index[t], index[p]] += 1
        total[k] += 1
        right[k] += p == t
    n = len(truth)
    return {
        "accuracy": round(sum(right.values()) / n, 5) if n else 0.0,
        "questions": n,
        "by_type": {k: {"accuracy": round(right[k] / total[k], 5), "questions": total[k]} for k in sorted(total)},
        "confusion": {"answers": list(answers), "matrix": matrix.tolist()},
    }


def evaluate(model: VQAModel, data: EvalSet, device="cpu", progress=None) -> dict:
    predicted = predict_answers(model, data.images, data.questions, data.image_of, device, progress=progress)
    return score(predicted, data.answers, data.kinds, model.answers)
