"""Training a VQA model, one iteration at a time, and measuring it.

The batches come from rnnstudio.train.vqa_data: easy-VQA pictures and generated shapes-world
ones, each asked a few questions.

Relations ("is the red circle left of the triangle?") are learnt only slowly from the
answers alone: the glimpses must first find the two shapes before the answer can depend
on where they are. On plain scenes, where each shape's place in the picture is known
exactly, a hint helps: -log of the weight each glimpse puts on its shape (glimpse 1 on
the shape referred to, glimpse 2 on the other), added to the loss with `glimpse_weight`.
Camera-look pictures get no hint; the glimpses learnt on plain scenes carry over.

`VQATrainer.step()` runs one batch (cross-entropy over the answers, backward, an Adam
update) and returns plain numbers. `evaluate_*` measure a model: accuracy, accuracy per
question type and the confusion matrix, on easy-VQA's validation or test split or on
generated pictures from a seed stream training never draws. `VQALoop` is a run of the
trainer (rnnstudio.train.loop); `vqa_loop` makes the one `rnnstudio train vqa` runs.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.nn import functional as F

from rnnstudio.nn.captioner import images_to_tensor
from rnnstudio.nn.vqa import VQAConfig, VQAModel
from rnnstudio.train.accel import FLOAT32
from rnnstudio.train.caption import CaptionTrainer
from rnnstudio.train.defaults import VQADefaults
from rnnstudio.train.distributed import Run
from rnnstudio.train.loop import TrainingLoop
from rnnstudio.train.vqa_data import (  # noqa: F401  (the data's names, re-exported: this module is the task's)
    GENERATED,
    SOURCES,
    TRAIN_STREAM,
    Batch,
    MixedVQAData,
    Prefetcher,
    VQATrainSettings,
    generated_picture,
    model_answers,
    model_vocab,
)

EVAL_STREAM = 47  # first key of the evaluation pictures' seeds: never training's (TRAIN_STREAM)


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
        tokens = [model.tokenizer(q, strict=False).ids for q in batch.questions]
        ids, lengths = model.questions_tensor(tokens, self.device)
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
            hint = None
            if hinted:
                hint = glimpse_hint_loss(looks, [batch.focus[n] for n in hinted], hinted, self.config.grid)
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


# --- a run ------------------------------------------------------------------------------------

QUICK_SCENES = 150  # generated pictures of each kind measured during a run (all of eval_scenes at its end)


class VQALoop(TrainingLoop):
    """A run of a VQATrainer (rnnstudio.train.loop): the mean loss and training accuracy since
    the last line every `log_every` iterations; the accuracy on held-out pictures every
    `eval_every` (easy-VQA's held-out pictures `valid` and a few generated ones); at the end,
    all of `valid` and `eval_scenes` unseen generated pictures of each kind. With `workers`,
    batches are made ahead in other processes (Prefetcher)."""

    totals = ("images_seen", "questions_seen")
    compile_helps = True  # a fixed batch of fixed-size pictures: the encoder compiles well

    def __init__(self, trainer: VQATrainer, steps: int, run: Run | None = None, seed: int = 0,
                 log_every: int = VQADefaults.log_every, eval_every: int = VQADefaults.eval_every,
                 eval_scenes: int = VQADefaults.eval_scenes, workers: int = 0, valid=None):
        super().__init__(trainer, steps, run, seed)
        self.log_every, self.eval_every, self.eval_scenes, self.workers = log_every, eval_every, eval_scenes, workers
        self.valid = valid  # easy-VQA's held-out split, with its pictures; None: generated pictures only
        self.sets: dict[str, EvalSet] = {}  # measured at the end
        self.quick: dict[str, EvalSet] = {}  # ... and during the run
        self.prefetch: Prefetcher | None = None
        self._losses_since, self._right_since = [], []

    def compile_part(self):
        return self.trainer.model.encoder

    def start(self) -> None:
        """The held-out pictures (rank 0, which measures) and the batch makers, before the clock."""
        size = self.trainer.config.image_size
        if self.run.is_main and not self.sets:
            if self.valid is not None:
                self.sets["valid"] = easyvqa_eval_set(self.valid, size)
            for source in GENERATED:
                self.sets[source] = generated_eval_set(source, self.eval_scenes, size)
            quick = min(QUICK_SCENES, self.eval_scenes)
            self.quick = {**({"valid": self.sets["valid"]} if "valid" in self.sets else {}),
                          **{s: generated_eval_set(s, quick, size, seed=1) for s in GENERATED}}
        if self.workers > 0 and self.prefetch is None:
            self.prefetch = Prefetcher(self.trainer.data, self.trainer.iteration, self.planned, self.workers)
        super().start()

    def train_step(self) -> dict:
        return self.trainer.step(next(self.prefetch) if self.prefetch is not None else None)

    def measure(self, info: dict) -> list:
        self._losses_since.append(info["loss"])
        self._right_since.append(info["accuracy"])
        it, events = info["iteration"], []
        if (it - self.first) % self.log_every == 0 or self.done:
            mean = self.run.mean  # every process, at the same steps
            loss = mean(sum(self._losses_since) / len(self._losses_since))
            accuracy = mean(sum(self._right_since) / len(self._right_since))
            self._losses_since, self._right_since = [], []
            rate = self.iterations_per_second()
            line = f"iter {it:6d}  loss {loss:.4f}  train accuracy {accuracy:.4f}  {rate:.2f} it/s"
            events.append(self.evaluation(line, loss=loss, accuracy=accuracy))
        if (it - self.first) % self.eval_every == 0 and not self.done and self.run.is_main:
            model, device = self.trainer.model, self.trainer.device
            found = {k: evaluate(model, v, device)["accuracy"] for k, v in self.quick.items()}
            events.append(self.evaluation("held out: " + "  ".join(f"{k} {v:.4f}" for k, v in found.items()), **found))
        return events if self.run.is_main else []

    def describe(self) -> str:
        t = self.trainer
        s = t.settings
        mix = ", ".join(f"{w:.0%} {source}" for source, w in zip(SOURCES, s.source_weights()) if w > 0)
        params = sum(p.numel() for p in t.model.parameters())
        return (f"pictures: {mix}; {s.questions_per_image} questions each; {len(t.data.vocab)} words, "
                f"{len(t.data.answers)} answers; {params:,} parameters; on {self.run.describe()}{self.speed_note()}")

    def finish(self) -> list[str]:
        lines = []
        for name, eval_set in self.sets.items():
            result = evaluate(self.trainer.model, eval_set, self.trainer.device)
            self.metrics[f"accuracy_{name}"] = result["accuracy"]
            self.metrics[f"by_type_{name}"] = {k: v["accuracy"] for k, v in result["by_type"].items()}
            by_type = "  ".join(f"{k} {v['accuracy']:.4f}" for k, v in result["by_type"].items())
            lines.append(f"{name}: accuracy {result['accuracy']:.4f} on {result['questions']} questions  ({by_type})")
        self.metrics["eval_scenes"] = self.eval_scenes
        return lines

    def save_to(self, path, trained: dict) -> None:
        from rnnstudio.nn.vqa import save_vqa

        save_vqa(path, self.trainer.model, trained)

    def close(self) -> None:
        if self.prefetch is not None:
            self.prefetch.close()
            self.prefetch = None


def vqa_loop(options: VQADefaults, run: Run | None = None) -> VQALoop:
    """A new model trained as `options` say, in this process of `run`: `rnnstudio train vqa`."""
    from rnnstudio.data.easyvqa import load_easyvqa

    run = run if run is not None else Run(torch.device("cpu"))
    o = options
    settings = VQATrainSettings(
        batch_size=o.batch_size, questions_per_image=o.questions_per_image, lr=o.lr, steps=o.steps, seed=o.seed,
        easyvqa_fraction=o.easyvqa_fraction, single_fraction=o.single_fraction, camera_fraction=o.camera_fraction,
        relation_weight=o.relation_weight, shape_counts=o.shape_counts, glimpse_weight=o.glimpse_weight,
    )
    valid = load_easyvqa("valid", with_images=True)  # also checks that the package is there
    train = load_easyvqa("train", with_images=True) if o.easyvqa_fraction > 0 else None
    data = run.shard(MixedVQAData(o.image_size, settings, train))  # each process its own batches
    torch.manual_seed(o.seed)
    config = VQAConfig(vocab_size=len(data.vocab), answers=tuple(data.answers), image_size=o.image_size,
                       channels=o.channels, film=o.film, embed=o.embed, hidden=o.hidden, fused=o.fused)
    trainer = VQATrainer(data, config, settings, device=run.device)
    return VQALoop(trainer, o.steps, run, seed=o.seed, log_every=o.log_every, eval_every=o.eval_every,
                   eval_scenes=o.eval_scenes, workers=o.workers, valid=valid)
