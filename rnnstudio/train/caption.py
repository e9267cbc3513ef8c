"""Training a captioner, one iteration at a time, and measuring it.

Data comes from the shapes world, generated on the fly from the seed (a mix of plain
pictures and camera-look ones, each with its canonical caption), or from a COCO-format
caption set. `CaptionTrainer.step()` runs one batch (teacher-forced forward pass,
L = -sum_t log P(Y*_t | Y*_<t, I) averaged over the batch, backward, an Adam update) and
returns plain numbers.

`evaluate_shapes` measures a model on scenes it never saw (another seed stream):
object-level F1, corpus BLEU-4 against the canonical caption, and the grade counts.
`CaptionLoop` is a run of the trainer (rnnstudio.train.loop) with those measurements at its
end; `caption_loop` makes the one `rnnstudio train caption` runs.
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
from rnnstudio.train.defaults import CaptionDefaults
from rnnstudio.train.distributed import Run
from rnnstudio.train.loop import cosine_learning_rate, TrainingLoop

TRAIN_STREAM = 11  # first key of the training scenes' seeds
EVAL_STREAM = 23  # ... and of the evaluation scenes': never the same scenes


@dataclass(frozen=True)
class CaptionTrainSettings:
    batch_size: int = CaptionDefaults.batch_size
    lr: float = CaptionDefaults.lr  # Adam; decays on a cosine to lr/10 over the planned steps
    steps: int = CaptionDefaults.steps
    grad_clip: float = 5.0
    seed: int = CaptionDefaults.seed
    camera_fraction: float = CaptionDefaults.camera_fraction  # shapes world: share of camera-look pictures in a batch
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
        return cosine_learning_rate(self.settings.lr, self.iteration, self.settings.steps)

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
            "loss": self.last_loss,  # nats per caption: L of docs/LECTURE-MAP.md, averaged over the batch
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


# --- a run ------------------------------------------------------------------------------------


class CaptionLoop(TrainingLoop):
    """A run of a CaptionTrainer (rnnstudio.train.loop): the mean loss since the last line every
    `log_every` iterations; at the end, the shapes world's unseen scenes (`eval_scenes` of each
    look) or a COCO-format set's held-out images."""

    totals = ("images_seen",)
    compile_helps = True  # a fixed batch of fixed-size pictures: the encoder compiles well

    def __init__(self, trainer: CaptionTrainer, steps: int, run: Run | None = None, seed: int = 0,
                 log_every: int = CaptionDefaults.log_every, eval_scenes: int = CaptionDefaults.eval_scenes,
                 data=None, described: str = "", weights_note: str = ""):
        super().__init__(trainer, steps, run, seed)
        self.log_every = log_every
        self.eval_scenes = eval_scenes
        self.data = data if data is not None else trainer.data  # all of it, not one process's share
        self.described = described or trainer.data.name
        self.weights_note = weights_note  # where a resnet18 encoder's first weights came from
        self._recent: list[float] = []

    def compile_part(self):
        return self.trainer.model.encoder

    def measure(self, info: dict) -> list:
        self._recent.append(info["loss"])
        it = info["iteration"]
        if (it - self.first) % self.log_every and not self.done:
            return []
        loss = self.run.mean(sum(self._recent) / len(self._recent))  # every process, at the same steps
        self._recent = []
        line = (f"iter {it:6d}  loss {loss:.3f} nats/caption  ({info['nats_per_word']:.3f} nats/word)  "
                f"{self.iterations_per_second():.2f} it/s")
        return [self.evaluation(line, loss=loss)] if self.run.is_main else []

    def describe(self) -> str:
        c = self.trainer.config
        params = sum(p.numel() for p in self.trainer.model.parameters())
        return (f"{self.described}; {len(self.data.vocab)} words; {c.encoder} encoder at "
                f"{c.image_size}x{c.image_size}, LSTM {c.hidden}, {params:,} parameters{self.weights_note}; "
                f"on {self.run.describe()}{self.speed_note()}")

    def finish(self) -> list[str]:
        model, device = self.trainer.model, self.trainer.device
        if not isinstance(self.data, ShapesData):
            held = evaluate_coco(model, self.data, device=device)
            self.metrics.update({"bleu4_held_out": held["bleu4"], "held_out_images": held["images"]})
            return [f"held-out images: BLEU-4 {held['bleu4']:.4f} on {held['images']} images"]
        plain = evaluate_shapes(model, self.eval_scenes, camera=False, device=device)
        camera = evaluate_shapes(model, self.eval_scenes, camera=True, device=device)
        self.metrics.update({
            "object_f1_plain": plain["object_f1"], "object_f1_camera": camera["object_f1"],
            "bleu4_plain": plain["bleu4"], "bleu4_camera": camera["bleu4"],
            "grades_plain": plain["grades"], "grades_camera": camera["grades"], "eval_scenes": self.eval_scenes,
        })
        return [f"unseen plain scenes:  object F1 {plain['object_f1']:.4f}  BLEU-4 {plain['bleu4']:.4f}  "
                f"{plain['grades']}",
                f"unseen camera scenes: object F1 {camera['object_f1']:.4f}  BLEU-4 {camera['bleu4']:.4f}  "
                f"{camera['grades']}"]

    def save_to(self, path, trained: dict) -> None:
        from rnnstudio.nn.captioner import save_captioner

        save_captioner(path, self.trainer.model, trained)


def caption_loop(options: CaptionDefaults, run: Run | None = None) -> CaptionLoop:
    """A new captioner trained as `options` say, in this process of `run`: `rnnstudio train caption`."""
    from rnnstudio.nn.captioner import load_resnet18_weights

    run = run if run is not None else Run(torch.device("cpu"))
    o = options
    image_size = o.input_size()
    settings = CaptionTrainSettings(batch_size=o.batch_size, lr=o.lr, steps=o.steps, seed=o.seed,
                                    camera_fraction=o.camera_fraction)
    if o.data == "shapes":
        data = ShapesData(image_size, settings)
        described = f"the shapes world (generated, {o.camera_fraction:.0%} camera look)"
    else:
        from rnnstudio.data.coco import load_coco

        coco = load_coco(o.data, o.images)
        data = CocoData(coco, image_size, settings, min_count=o.min_count)
        described = f"{coco.name}: {len(data.train):,} training and {len(data.held):,} held-out images"
    torch.manual_seed(o.seed)
    config = CaptionerConfig(vocab_size=len(data.vocab), encoder=o.encoder, image_size=image_size,
                             channels=o.channels, hidden=o.hidden)
    model = Captioner(config, data.vocab)
    weights_note = ""
    if o.encoder == "resnet18":
        if o.encoder_weights and o.encoder_weights.lower() == "none":
            weights_note = ", encoder from scratch"
        else:
            weights_note = f", encoder from {load_resnet18_weights(model.encoder, o.encoder_weights)}"
    trainer = CaptionTrainer(run.shard(data), config, settings, device=run.device, model=model)
    return CaptionLoop(trainer, o.steps, run, seed=o.seed, log_every=o.log_every, eval_scenes=o.eval_scenes,
                       data=data, described=described, weights_note=weights_note)
