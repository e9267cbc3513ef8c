"""Training the LRCN on shapes-world clips, and measuring it (rnnstudio.nn.video, rnnstudio.data.clips).

The encoder is the shipped captioner's, frozen: it already tells the shapes and colours of this
world apart, and a frozen encoder's features are the same every epoch, so each clip is rendered
and encoded once and cached (the float16 grid of every frame). What trains is small: the cell
codes, the projection, the LSTM and its two heads, and the single-frame baseline beside it,
which makes an iteration a fraction of a second on a CPU instead of the seconds a CNN on 24
frames would take.

Losses, per clip: the motion's cross-entropy after every frame, weighted by how much of the clip
was seen (t / T: early frames cannot know yet), the object's the same way (or after the last
frame only; never for still clips, where no shape acts); the baseline's on the last frame alone;
the sentence decoder's, teacher forced on the clip's sentence from the LSTM's state after the
last frame. That state is detached for the decoder: the decoder learns to say what the state
holds without changing it, so the heads train exactly as they would without a decoder (its own
optimizer and gradient clipping too), and the decoder's part can be judged on its own.

`evaluate` measures on clips it never saw (another seed stream): motion accuracy, the acting
shape named correctly, the sentence written, the baseline's figures, and motion accuracy
against frames seen.
"""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np
import torch
from torch.nn import functional as F

from rnnstudio.data.clips import FRAMES, MOTIONS, OBJECTS, SENTENCE_WORDS, make_clip, sentence
from rnnstudio.nn.captioner import images_to_tensor
from rnnstudio.nn.video import EOS, LRCN, VideoConfig, sentence_ids
from rnnstudio.train.distributed import Run
from rnnstudio.train.loop import TrainingLoop
from rnnstudio.train.video_defaults import VideoDefaults

EVAL_SEED = 10**7  # evaluation clips' seeds start here: never a training clip
CHUNK = 16  # clips rendered and encoded per caching step
FRAMES_SEEN = (1, 2, 4, 8, 12, 16)
DIRECTIONS = ("left", "right", "up", "down")


class ClipCache:
    """Clips and their encoded frames: (N, 32, F) float16 features, lengths, labels."""

    def __init__(self, model: LRCN, n: int, seed: int, device, camera_fraction: float = 0.5):
        self.model, self.n, self.seed, self.device, self.camera_fraction = model, n, seed, device, camera_fraction
        self.feats = torch.zeros(n, FRAMES[1], model.config.feature_size, dtype=torch.float16)
        self.lengths = torch.zeros(n, dtype=torch.long)
        self.motion = torch.zeros(n, dtype=torch.long)
        self.object = torch.zeros(n, dtype=torch.long)
        self.camera = torch.zeros(n, dtype=torch.bool)
        self.kinds: list[str] = []
        self.filled = 0

    @property
    def full(self) -> bool:
        return self.filled >= self.n

    def fill_some(self, count: int = CHUNK) -> None:
        end = min(self.n, self.filled + count)
        f = self.camera_fraction
        clips = [make_clip(self.seed + i, camera=int((i + 1) * f) > int(i * f), size=self.model.config.image_size)
                 for i in range(self.filled, end)]
        frames = np.concatenate([c.frames for c in clips])
        with torch.no_grad():
            self.model.encoder.eval()
            feats = []
            for k in range(0, len(frames), 256):
                x = images_to_tensor(frames[k:k + 256], self.device)
                feats.append(self.model.pool(self.model.encoder(x)).flatten(1).cpu())
            feats = torch.cat(feats)
        at = 0
        for i, c in enumerate(clips, self.filled):
            t = len(c.frames)
            self.feats[i, :t] = feats[at:at + t].half()
            at += t
            self.lengths[i], self.motion[i] = t, MOTIONS.index(c.motion)
            self.object[i], self.camera[i] = OBJECTS.index(c.obj), c.camera
            self.kinds.append(c.clip_kind)
        self.filled = end

    def fill(self) -> None:
        while not self.full:
            self.fill_some()


def losses(model: LRCN, feats, lengths, motion, obj, smoothing: float = 0.0, every_frame: bool = False):
    """The LRCN's, the baseline's and the decoder's losses on a batch (module docstring):
    (total, motion, object, sentence), the sentence's 0 for a model without a decoder."""
    b, t = feats.shape[:2]
    h = model.states(feats)
    m_logits, o_logits = model.motion(h), model.object(h)
    steps = torch.arange(t, device=feats.device)
    valid = (steps[None] < lengths[:, None]).float()
    weight = valid * (steps[None] + 1).float() / lengths[:, None].float()
    ce = F.cross_entropy(m_logits.flatten(0, 1), motion.repeat_interleave(t), reduction="none",
                         label_smoothing=smoothing).view(b, t)
    loss_m = (ce * weight).sum() / weight.sum()
    last = lengths - 1
    moving = (motion != MOTIONS.index("still")).float()
    rows = torch.arange(b, device=feats.device)
    if every_frame:  # the object after every frame too, weighted as the motion is
        ce_o = F.cross_entropy(o_logits.flatten(0, 1), obj.repeat_interleave(t), reduction="none",
                               label_smoothing=smoothing).view(b, t)
        w_o = weight * moving[:, None]
        loss_o = (ce_o * w_o).sum() / w_o.sum().clamp(min=1e-6)
    else:
        ce_o = F.cross_entropy(o_logits[rows, last], obj, reduction="none", label_smoothing=smoothing)
        loss_o = (ce_o * moving).sum() / moving.sum().clamp(min=1)
    bm, bo = model.baseline(feats[rows, last])
    ce_b = F.cross_entropy(bo, obj, reduction="none")
    loss_b = F.cross_entropy(bm, motion) + (ce_b * moving).sum() / moving.sum().clamp(min=1)
    loss_s = torch.zeros((), device=feats.device)
    if model.decoder is not None:
        words_in, targets = sentence_ids(motion, obj)
        logits = model.decoder(h[rows, last].detach(), words_in)
        loss_s = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
    return loss_m + loss_o + loss_b + loss_s, loss_m, loss_o, loss_s


class VideoTrainer:
    def __init__(self, model: LRCN, defaults: VideoDefaults, device="cpu", trained: dict | None = None):
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.settings = defaults
        for p in self.model.encoder.parameters():
            p.requires_grad_(False)
        self.params = [p for p in self.model.parameters() if p.requires_grad]  # the decoder's included
        decoder = self.model.decoder
        self.decoder_params = list(decoder.parameters()) if decoder is not None else []
        in_decoder = {id(p) for p in self.decoder_params}
        self.lrcn_params = [p for p in self.params if id(p) not in in_decoder]
        self.optimizers = [torch.optim.Adam(group, lr=defaults.lr)
                           for group in (self.lrcn_params, self.decoder_params) if group]
        self.cache = ClipCache(self.model, defaults.clips, defaults.seed * 100_000, self.device)
        self.rng = torch.Generator().manual_seed(defaults.seed)
        self.iteration = int((trained or {}).get("steps", 0))
        self.clips_seen = 0
        self.metrics: dict = dict((trained or {}).get("metrics", {}))

    def learning_rate(self) -> float:
        s = self.settings
        return s.lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(self.iteration / s.steps, 1.0))))

    def step(self) -> dict:
        """Cache some more clips while any are missing, then one Adam step on cached ones."""
        t0 = time.perf_counter()
        if not self.cache.full:
            self.cache.fill_some()
        idx = torch.randint(self.cache.filled, (self.settings.batch_size,), generator=self.rng)
        c = self.cache
        longest = int(c.lengths[idx].max())
        feats = c.feats[idx, :longest].float().to(self.device)
        lr = self.learning_rate()
        for optimizer in self.optimizers:
            for g in optimizer.param_groups:
                g["lr"] = lr
        self.model.train()
        self.model.encoder.eval()
        loss, loss_m, loss_o, loss_s = losses(self.model, feats, c.lengths[idx].to(self.device), c.motion[idx].to(self.device),
                                      c.object[idx].to(self.device), self.settings.smoothing,
                                      self.settings.object_every_frame)
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for optimizer in self.optimizers:  # clipped apart: the decoder's gradient does not scale the heads'
            torch.nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], 1.0)
            optimizer.step()
        self.iteration += 1
        self.clips_seen += len(idx)
        return {"iteration": self.iteration, "loss": loss.item(), "motion_loss": loss_m.item(),
                "object_loss": loss_o.item(), "sentence_loss": loss_s.item(), "clips": len(idx),
                "seconds": time.perf_counter() - t0, "lr": lr}

    def trained_info(self) -> dict:
        return {"steps": self.iteration, "clips": self.settings.clips, "clips_seen": self.clips_seen,
                "corpus": "shapes-world clips", "settings": asdict(self.settings), "metrics": dict(self.metrics),
                "encoder": "the shipped captioner's small encoder, frozen"}


def rate(hits: torch.Tensor, where: torch.Tensor | None = None) -> float:
    hits = hits[where] if where is not None else hits
    return round(float(hits.float().mean()), 4) if len(hits) else 0.0


def evaluate(model: LRCN, n: int, camera: bool, device="cpu", seed: int = EVAL_SEED) -> dict:
    """Figures on `n` unseen clips of one look (module docstring)."""
    cache = ClipCache(model, n, seed, device, camera_fraction=1.0 if camera else 0.0)
    cache.fill()
    model.eval()
    rows, last = torch.arange(n), cache.lengths - 1
    m_pred, obj, bm, bo, written = [], [], [], [], []
    with torch.no_grad():
        for k in range(0, n, 100):  # in parts: a batch of whole 8 x 8 grids is large
            feats = cache.feats[k:k + 100].float().to(device)
            r, t = torch.arange(len(feats)), last[k:k + 100]
            h = model.states(feats)
            m_logits, o_logits = model.motion(h), model.object(h)
            m_pred.append(m_logits.argmax(-1).cpu())
            obj.append(o_logits[r, t].argmax(-1).cpu())
            for out, z in zip((bm, bo), model.baseline(feats[r, t])):
                out.append(z.argmax(-1).cpu())
            if model.decoder is not None:
                written += [_words(row) for row in model.decoder.write(h[r, t]).argmax(-1).cpu()]
    m_pred, obj, bm, bo = (torch.cat(v) for v in (m_pred, obj, bm, bo))
    final = m_pred[rows, last]
    truth, moving = cache.motion, cache.motion != MOTIONS.index("still")
    direction = torch.tensor([MOTIONS[int(m)] in DIRECTIONS for m in truth])
    sentences = {}
    if written:
        true_sentences = [sentence(MOTIONS[m], OBJECTS[o]) for m, o in zip(truth.tolist(), cache.object.tolist())]
        heads = [sentence(MOTIONS[m], OBJECTS[o]) for m, o in zip(final.tolist(), obj.tolist())]
        sentences = {"sentence_accuracy": rate(torch.tensor([w == s for w, s in zip(written, true_sentences)])),
                     "sentence_agrees_with_heads": rate(torch.tensor([w == s for w, s in zip(written, heads)]))}
    return {
        "clips": n,
        "motion_accuracy": rate(final == truth),
        "object_accuracy": rate(obj == cache.object, moving),
        "direction_accuracy": rate(final == truth, direction),
        **sentences,
        "baseline_motion_accuracy": rate(bm == truth),
        "baseline_direction_accuracy": rate(bm == truth, direction),
        "baseline_object_accuracy": rate(bo == cache.object, moving),
        "by_frames_seen": {str(t): rate(m_pred[:, t - 1] == truth) for t in FRAMES_SEEN},
        "by_motion": {m: rate(final == truth, truth == i) for i, m in enumerate(MOTIONS)},
    }


def _words(ids: torch.Tensor) -> str:
    """A row of greedy word ids -> its sentence, up to the first <eos>."""
    ids = ids.tolist()
    return " ".join(SENTENCE_WORDS[i] for i in ids[:ids.index(EOS) if EOS in ids else len(ids)])


class VideoLoop(TrainingLoop):
    """A run of a VideoTrainer: the mean loss every `log_every` iterations; at the end, unseen clips."""

    rate_key = "clips"
    totals = ("clips_seen",)

    def __init__(self, trainer: VideoTrainer, steps: int, run: Run | None = None, seed: int = 0,
                 log_every: int = VideoDefaults.log_every, eval_clips: int = VideoDefaults.eval_clips):
        super().__init__(trainer, steps, run, seed)
        self.log_every, self.eval_clips = log_every, eval_clips
        self._recent: list[tuple[float, float]] = []

    def accelerate(self, amp=None, compile=None) -> None:
        self.speed = {}  # a small LSTM on cached features: plain float32 in one process

    def measure(self, info: dict) -> list:
        self._recent.append((info["motion_loss"], info["object_loss"], info["sentence_loss"]))
        it = info["iteration"]
        if (it - self.first) % self.log_every and not self.done:
            return []
        m, o, s = (sum(v) / len(v) for v in zip(*self._recent))
        self._recent = []
        cached = self.trainer.cache
        words = f"  sentence loss {s:.3f}" if self.trainer.model.decoder is not None else ""
        line = (f"iter {it:6d}  motion loss {m:.3f}  object loss {o:.3f}{words}  {cached.filled}/{cached.n} clips "
                f"cached  {self.iterations_per_second():.2f} it/s")
        return [self.evaluation(line, loss=m + o)]

    def describe(self) -> str:
        c = self.trainer.model.config
        params = sum(p.numel() for p in self.trainer.params)
        inputs = " and ".join(["f_t"] + (["f_t - f_(t-1)"] if c.delta else []) + (["f_t - f_1"] if c.since else []))
        coded = f", each cell coded ({c.cell} channels{f', mixed {c.mix}' if c.mix else ''})" if c.cell else ""
        return (f"{self.trainer.settings.clips} shapes-world clips (half camera look); LRCN: the captioner's frozen "
                f"encoder at {c.image_size}x{c.image_size}, its {c.pool}x{c.pool} grid{coded}, reading {inputs}, "
                f"LSTM {c.hidden}{f', sentence decoder {c.decoder}' if c.decoder else ''}, {params:,} trained "
                f"parameters with the baseline; on {self.run.describe()}")

    def finish(self) -> list[str]:
        lines = []
        for look, camera in (("plain", False), ("camera", True)):
            r = evaluate(self.trainer.model, self.eval_clips, camera, self.trainer.device)
            self.metrics[look] = r
            written = f"sentence {r['sentence_accuracy']:.4f}  " if "sentence_accuracy" in r else ""
            lines.append(f"unseen {look} clips: motion {r['motion_accuracy']:.4f}  object {r['object_accuracy']:.4f}  "
                         f"{written}"
                         f"baseline motion {r['baseline_motion_accuracy']:.4f} (direction "
                         f"{r['baseline_direction_accuracy']:.4f})  by frames seen {r['by_frames_seen']}")
        return lines

    def save_to(self, path, trained: dict) -> None:
        from rnnstudio.nn.video import save_video_model

        save_video_model(path, self.trainer.model, trained)


def new_model(defaults: VideoDefaults) -> LRCN:
    """An LRCN whose encoder is a caption model's (the shipped one unless `defaults.encoder` names a file)."""
    from rnnstudio.nn.captioner import load_captioner
    from rnnstudio.paths import shipped_model

    captioner = load_captioner(defaults.encoder or shipped_model("caption")).model
    c = captioner.config
    torch.manual_seed(defaults.seed)
    model = LRCN(VideoConfig(image_size=c.image_size, channels=c.channels, hidden=defaults.hidden,
                             delta=defaults.delta, since=defaults.since, pool=defaults.pool, cell=defaults.cell,
                             dropout=defaults.dropout, mix=defaults.mix, decoder=defaults.decoder,
                             word_size=defaults.word_size))
    if c.encoder != "small":
        from rnnstudio.errors import UserError

        raise UserError("the video model needs a caption model with the small encoder")
    model.encoder.load_state_dict(captioner.encoder.state_dict())
    return model


def video_loop(defaults: VideoDefaults, run: Run | None = None) -> VideoLoop:
    """A new LRCN trained as `defaults` say: `rnnstudio train video`."""
    run = run if run is not None else Run(torch.device("cpu"))
    trainer = VideoTrainer(new_model(defaults), defaults, run.device)
    return VideoLoop(trainer, defaults.steps, run, seed=defaults.seed, log_every=defaults.log_every,
                     eval_clips=defaults.eval_clips)
