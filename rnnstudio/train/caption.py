"""Training a captioner, one iteration at a time, and measuring it.

Data comes from the shapes world, generated on the fly from the seed (a mix of plain
pictures and camera-look ones, each with its canonical caption), or from a COCO-format
caption set. `CaptionTrainer.step()` runs one batch (teacher-forced forward pass,
L = -sum_t log P(Y*_t | Y*_<t, I) averaged over the batch, backward, an Adam update) and
returns plain numbers.

`evaluate_shapes` measures a model on scenes it never saw (another seed stream):
object-level F1, corpus BLEU-4 against the canonical caption, and the grade counts.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
import torch

from rnnstudio.nn.captioner import SPECIALS, Captioner, CaptionerConfig, images_to_tensor
from rnnstudio.train.accel import FLOAT32

TRAIN_STREAM = 11  # first key of the training scenes' seeds
EVAL_STREAM = 23  # ... and of the evaluation scenes': never the same scenes


@dataclass(frozen=True)
class CaptionTrainSettings:
    batch_size: int = 64
    lr: float = 2e-3  # Adam; decays on a cosine to lr/10 over the planned steps
    steps: int = 3000
    grad_clip: float = 5.0
    seed: int = 0
    camera_fraction: float = 0.5  # shapes world: share of camera-look pictures in a batch
    variety: float = 0.0  # shapes world: share of captions in a variant form (0: canonical only)

    def __post_init__(self):
        if self.batch_size < 1 or self.steps < 1:
            raise ValueError("batch size and steps must be positive")
        if not self.lr > 0:
            raise ValueError("the learning rate must be positive")
        if not (0 <= self.camera_fraction <= 1 and 0 <= self.variety <= 1):
            raise ValueError("camera_fraction and variety must be in [0, 1]")


# --- data ---------------------------------------------------------------------------------


class ShapesData:
    """Batches of the shapes world, made from (seed, iteration): any batch can be made again."""

    name = "shapes"

    def __init__(self, image_size: int, settings: CaptionTrainSettings):
        from rnnstudio.data.shapes import caption_words

        self.image_size = image_size
        self.settings = settings
        self.vocab = SPECIALS + caption_words()

    def batch(self, iteration: int, size: int):
        from rnnstudio.data.shapes import caption_for, random_scene, render, tokenize

        s = self.settings
        rng = np.random.default_rng([TRAIN_STREAM, s.seed, iteration])
        images, captions = [], []
        for _ in range(size):
            scene = random_scene(rng)
            camera = bool(rng.random() < s.camera_fraction)
            images.append(render(scene, self.image_size, camera=camera, rng=rng))
            variant = s.variety > 0 and rng.random() < s.variety
            captions.append(tokenize(caption_for(scene, rng if variant else None)))
        return images, captions


class CocoData:
    """Batches from a COCO-format set: 90 % of the images train, the rest are held out."""

    def __init__(self, coco, image_size: int, settings: CaptionTrainSettings, min_count: int = 1, vocab=None):
        from rnnstudio.data.coco import build_vocab

        self.name = coco.name
        self.image_size = image_size
        self.settings = settings
        order = np.random.default_rng([settings.seed, 99]).permutation(len(coco.items))
        n_held = len(coco.items) // 10
        self.held = [coco.items[i] for i in order[:n_held]] or list(coco.items)  # a tiny set is measured on itself
        self.train = [coco.items[i] for i in order[n_held:]]
        self.vocab = vocab or build_vocab([c for item in self.train for c in item.captions], min_count, SPECIALS)

    def batch(self, iteration: int, size: int):
        from rnnstudio.data.coco import load_item_image

        rng = np.random.default_rng([TRAIN_STREAM, self.settings.seed, iteration])
        picks = rng.integers(0, len(self.train), size)
        images, captions = [], []
        for i in picks:
            item = self.train[int(i)]
            images.append(load_item_image(item, self.image_size))
            captions.append(item.captions[int(rng.integers(len(item.captions)))])
        return images, captions


# --- the trainer --------------------------------------------------------------------------


class CaptionTrainer:
    def __init__(self, data, config: CaptionerConfig, settings: CaptionTrainSettings, device="cpu",
                 model: Captioner | None = None, trained: dict | None = None):
        self.device = torch.device(device)
        self.data = data
        self.settings = settings
        if model is None:
            config = CaptionerConfig.from_dict({**config.to_dict(), "vocab_size": len(data.vocab)})
            model = Captioner(config, data.vocab)
        self.model = model.to(self.device)
        self.train_model = self.model  # what step() runs: the model, or DDP around it (train.accel.prepare)
        self.precision = FLOAT32  # float32, or mixed precision (train.accel)
        self.config = self.model.config
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.lr)
        self.iteration = int((trained or {}).get("steps", 0))
        self.images_seen = int((trained or {}).get("images", 0))
        self.last_loss: float | None = None
        self.metrics: dict = dict((trained or {}).get("metrics", {}))

    def learning_rate(self) -> float:
        s = self.settings
        progress = min(self.iteration / s.steps, 1.0)
        return s.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    def captions_tensor(self, captions: list[list[str]]) -> torch.Tensor:
        length = min(max(len(c) for c in captions), self.config.max_len) + 2
        rows = [self.model.encode_caption(c[: self.config.max_len], length) for c in captions]
        return torch.tensor(rows, dtype=torch.long, device=self.device)  # (B, T)

    def step(self) -> dict:
        """One iteration. Returns {'iteration', 'loss', 'nats_per_word', 'images', 'seconds', 'data_seconds', 'lr'}."""
        t0 = time.perf_counter()
        s = self.settings
        images, captions = self.data.batch(self.iteration, s.batch_size)
        t_data = time.perf_counter() - t0
        x = images_to_tensor(images, self.device)  # (B, 3, S, S)
        y = self.captions_tensor(captions)  # (B, T)
        lr = self.learning_rate()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        with self.precision.autocast():
            loss, _logits, _alphas = self.train_model(x, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.precision.backward(loss)
        self.precision.step(self.optimizer, self.model.parameters(), s.grad_clip)  # clips, then steps
        self.iteration += 1
        self.images_seen += len(images)
        self.last_loss = loss.item()
        words = int((y[:, 1:] != 0).sum())
        return {
            "iteration": self.iteration,
            "loss": self.last_loss,  # nats per caption: L of docs/LECTURE.md, averaged over the batch
            "nats_per_word": self.last_loss * len(images) / max(words, 1),
            "images": len(images),
            "seconds": time.perf_counter() - t0,
            "data_seconds": t_data,
            "lr": lr,
        }

    def trained_info(self) -> dict:
        return {
            "steps": self.iteration,
            "images": self.images_seen,
            "corpus": self.data.name,
            "settings": asdict(self.settings),
            "metrics": dict(self.metrics),
        }


# --- measuring ----------------------------------------------------------------------------


def _ngrams(words: list[str], n: int) -> Counter:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def corpus_bleu(hypotheses: list[list[str]], references: list[list[list[str]]], max_n: int = 4) -> float:
    """Corpus BLEU (Papineni et al. 2002): clipped n-gram precisions up to `max_n`, their
    geometric mean, times the brevity penalty (reference length: the closest, shorter on ties).
    No smoothing: 0 when some n-gram order has no match at all.
    """
    if len(hypotheses) != len(references):
        raise ValueError("one list of references per hypothesis")
    matched = [0] * max_n
    total = [0] * max_n
    hyp_len = ref_len = 0
    for hyp, refs in zip(hypotheses, references):
        hyp_len += len(hyp)
        ref_len += min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1]
        for n in range(1, max_n + 1):
            counts = _ngrams(hyp, n)
            best = Counter()
            for r in refs:
                best |= _ngrams(r, n)
            matched[n - 1] += sum((counts & best).values())
            total[n - 1] += max(len(hyp) - n + 1, 0)
    if hyp_len == 0 or min(matched) == 0:
        return 0.0
    log_p = sum(math.log(m / t) for m, t in zip(matched, total)) / max_n
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return bp * math.exp(log_p)


def eval_scenes(n: int, camera: bool, image_size: int, seed: int = 0):
    """`n` scenes the training never draws (their own seed stream), with their pictures."""
    from rnnstudio.data.shapes import random_scene, render

    scenes, images = [], []
    for i in range(n):
        rng = np.random.default_rng([EVAL_STREAM, seed, int(camera), i])
        scene = random_scene(rng)
        scenes.append(scene)
        images.append(render(scene, image_size, camera=camera, rng=rng))
    return scenes, images


@torch.no_grad()
def caption_batch(model: Captioner, images: list[np.ndarray], device="cpu", chunk: int = 250) -> list[list[str]]:
    model.eval()
    out = []
    for start in range(0, len(images), chunk):
        feats = model.encode(images_to_tensor(images[start : start + chunk], device))
        out += model.greedy_batch(feats)
    return out


def evaluate_shapes(model: Captioner, n: int = 500, camera: bool = False, device="cpu", seed: int = 0) -> dict:
    """Greedy captions of `n` unseen scenes: object F1 (micro), BLEU-4, grade counts."""
    from rnnstudio.data.shapes import GRADES, caption_for, grade, object_counts, tokenize

    scenes, images = eval_scenes(n, camera, model.config.image_size, seed)
    hyps = caption_batch(model, images, device)
    hits = named = true = 0
    grades = Counter({g: 0 for g in GRADES})
    refs = []
    for words, scene in zip(hyps, scenes):
        caption = " ".join(words)
        h, nm, t = object_counts(caption, scene)
        hits, named, true = hits + h, named + nm, true + t
        grades[grade(caption, scene)] += 1
        refs.append([tokenize(caption_for(scene))])
    return {
        "object_f1": round(2 * hits / (named + true), 4) if named + true else 1.0,
        "bleu4": round(corpus_bleu(hyps, refs), 4),
        "grades": {g: grades[g] for g in GRADES},
        "scenes": n,
    }


def evaluate_coco(model: Captioner, data: CocoData, device="cpu") -> dict:
    """Greedy captions of the held-out images: BLEU-4 against all their captions."""
    from rnnstudio.data.coco import load_item_image

    images = [load_item_image(item, model.config.image_size) for item in data.held]
    hyps = caption_batch(model, images, device)
    refs = [item.captions for item in data.held]
    return {"bleu4": round(corpus_bleu(hyps, refs), 4), "images": len(images)}
