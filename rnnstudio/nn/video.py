"""A long-term recurrent convolutional network (LRCN, Donahue et al. 2015) for shapes-world clips.

    frame x_t (3, 64, 64) --SmallEncoder (the captioner's, frozen)--> (C, 8, 8) --avg pool--> (C, 4, 4)
    v_t = ReLU(W_p [f_t, f_t - f_(t-1)])           a vector per frame: what is there, what changed
                                                   (config.delta; without it, W_p f_t)
    h_t, c_t = LSTM(v_t, (h_{t-1}, c_{t-1}))       the memory across frames
    P(motion | x_1..x_t) = softmax(W_m h_t)        after every frame: the prediction as it forms
    P(object | x_1..x_t) = softmax(W_o h_t)        which (colour, shape) does it: "red circle"

The description is a template of the two answers (rnnstudio.data.clips.sentence: "the red
circle moves left", "nothing moves"): the label says all a sentence of this world can say, so
a word decoder would only learn the template back.

The single-frame baseline (`FrameBaseline`, kept in the same model file) sees the same
encoder's features of the last frame only, with no recurrence: it can tell which shapes are
there, not which way one of them went.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rnnstudio.data.clips import MOTIONS, OBJECTS, sentence
from rnnstudio.errors import ModelFileError
from rnnstudio.nn.captioner import SmallEncoder, images_to_tensor
from rnnstudio.nn.modelfile import ModelConfig

TASK = "video"


@dataclass(frozen=True)
class VideoConfig(ModelConfig):
    image_size: int = 64
    channels: int = 128  # the encoder's (the shipped captioner's) width
    pool: int = 4  # the encoder's 8 x 8 grid averaged to pool x pool
    proj: int = 256  # the per-frame vector fed to the LSTM
    hidden: int = 256  # LSTM units
    frozen_encoder: bool = True  # trained with the encoder's weights fixed (its features cached)
    delta: bool = False  # the LSTM also reads each frame's change from the one before, f_t - f_(t-1)

    def __post_init__(self):
        if min(self.image_size, self.channels, self.pool, self.proj, self.hidden) < 1:
            raise ValueError("sizes must be positive")
        if self.image_size % 8 or self.image_size > 512 or self.pool > self.image_size // 8:
            raise ValueError("the image size must be a multiple of 8 up to 512, the pool at most its grid")

    @property
    def feature_size(self) -> int:
        return self.channels * self.pool * self.pool


class FrameBaseline(nn.Module):
    """The rival without memory: one frame's features -> motion and object."""

    def __init__(self, config: VideoConfig):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(config.feature_size, config.hidden), nn.ReLU())
        self.motion = nn.Linear(config.hidden, len(MOTIONS))
        self.object = nn.Linear(config.hidden, len(OBJECTS))

    def forward(self, feats: torch.Tensor):
        h = self.net(feats)
        return self.motion(h), self.object(h)


class LRCN(nn.Module):
    def __init__(self, config: VideoConfig):
        super().__init__()
        self.config = config
        self.encoder = SmallEncoder(config.channels)
        self.pool = nn.AdaptiveAvgPool2d(config.pool)
        self.proj = nn.Sequential(nn.Linear(config.feature_size * (2 if config.delta else 1), config.proj), nn.ReLU())
        self.lstm = nn.LSTM(config.proj, config.hidden, batch_first=True)
        self.motion = nn.Linear(config.hidden, len(MOTIONS))
        self.object = nn.Linear(config.hidden, len(OBJECTS))
        self.baseline = FrameBaseline(config)

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, S, S) in [0, 1] -> (B, T, F): the encoder's pooled grid of every frame."""
        b, t = frames.shape[:2]
        grid = self.pool(self.encoder(frames.flatten(0, 1)))
        return grid.flatten(1).view(b, t, -1)

    def forward(self, feats: torch.Tensor):
        """(B, T, F) features -> motion logits (B, T, 8) and object logits (B, T, 24), after every frame."""
        if self.config.delta:
            feats = torch.cat([feats, feats - torch.cat([feats[:, :1], feats[:, :-1]], 1)], -1)
        h, _ = self.lstm(self.proj(feats))
        return self.motion(h), self.object(h)


@dataclass
class VideoAnswer:
    motion: str
    obj: str | None  # None where nothing moves
    sentence: str
    per_frame: list  # (motion, p) after every frame
    object_p: float


def answer(model: LRCN, frames: np.ndarray, device="cpu") -> VideoAnswer:
    """The model's reading of (T, S, S, 3) uint8 RGB frames, already S x S."""
    model.eval()
    with torch.no_grad():
        x = images_to_tensor(frames, device).unsqueeze(0)
        motion, obj = model(model.features(x))
        pm, po = motion[0].softmax(-1), obj[0, -1].softmax(-1)
    per_frame = [(MOTIONS[int(p.argmax())], float(p.max())) for p in pm]
    m = per_frame[-1][0]
    o = None if m == "still" else OBJECTS[int(po.argmax())]
    return VideoAnswer(m, o, sentence(m, o), per_frame, float(po.max()))


@dataclass
class FrameReading:
    """What the model makes of the clip so far, after one more frame (numpy, for the panel)."""

    index: int  # frames read so far, this one included (1 after the first)
    motion_p: np.ndarray  # (8,) P(motion | frames so far), in MOTIONS order
    object_p: np.ndarray  # (24,) P(acting shape | frames so far), in OBJECTS order
    hidden: np.ndarray  # (hidden,) the LSTM's h_t: one column of the panel's heatmap
    baseline_motion_p: np.ndarray  # (8,) the single-frame baseline on this frame alone
    baseline_object_p: np.ndarray  # (24,)

    @property
    def motion(self) -> str:
        return MOTIONS[int(self.motion_p.argmax())]

    @property
    def obj(self) -> str | None:
        return None if self.motion == "still" else OBJECTS[int(self.object_p.argmax())]

    @property
    def baseline_motion(self) -> str:
        return MOTIONS[int(self.baseline_motion_p.argmax())]

    @property
    def sentence(self) -> str:
        return sentence(self.motion, self.obj)


class ClipReader:
    """Reads a clip one frame at a time, as a live source delivers it, carrying the LSTM's state.

    `step(frame)` encodes one (S, S, 3) uint8 RGB frame and runs one LSTM step: the same numbers
    as `answer` on the whole clip (tests/nn/test_video.py checks). `reset()` starts a new clip.
    """

    def __init__(self, model: "LRCN", device="cpu"):
        self.model, self.device = model.eval(), device
        self.reset()

    def reset(self) -> None:
        self.state = None  # the LSTM's (h, c)
        self.previous = None  # the last frame's features, for the change f_t - f_(t-1)
        self.count = 0

    @torch.inference_mode()
    def step(self, frame: np.ndarray) -> FrameReading:
        m = self.model
        feats = m.features(images_to_tensor(frame[None], self.device).unsqueeze(0))  # (1, 1, F)
        v = feats
        if m.config.delta:
            before = feats if self.previous is None else self.previous
            v = torch.cat([feats, feats - before], -1)
        h, self.state = m.lstm(m.proj(v), self.state)
        self.previous = feats
        self.count += 1
        motion, obj = m.motion(h[0, -1]).softmax(-1), m.object(h[0, -1]).softmax(-1)
        b_motion, b_obj = m.baseline(feats[0, -1])
        return FrameReading(self.count, motion.cpu().numpy(), obj.cpu().numpy(), h[0, -1].cpu().numpy(),
                            b_motion.softmax(-1).cpu().numpy(), b_obj.softmax(-1).cpu().numpy())


# --- model files --------------------------------------------------------------------------


@dataclass
class LoadedVideo:
    model: LRCN
    trained: dict
    path: object = None


def vocabulary() -> list[str]:
    return list(MOTIONS) + list(OBJECTS)


def save_video_model(path, model: LRCN, trained: dict) -> None:
    from rnnstudio.nn.modelfile import ModelFile, save_model_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
               if not k.endswith("num_batches_tracked")}
    save_model_file(path, ModelFile(task=TASK, config=model.config.to_dict(), vocab=vocabulary(),
                                    tensors=tensors, trained=trained))


def load_video_model(path, device: str | torch.device = "cpu") -> LoadedVideo:
    """Load a video model file, refusing one of another task, another label set or wrong tensors."""
    from rnnstudio.nn.modelfile import build_for_file, check_tensors_match, load_model_file

    mf = load_model_file(path, TASK)
    if mf.vocab != vocabulary():
        raise ModelFileError(f"{path} has other labels than this RNN Studio knows (motions and shapes)")
    try:
        config = VideoConfig.from_dict(mf.config)
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{path} has an invalid config: {e}") from None
    model = build_for_file(path, lambda: LRCN(config))
    expected = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    check_tensors_match(mf.path, expected, mf.tensors)
    extra = sorted(set(mf.tensors) - set(expected))
    if extra:
        raise ModelFileError(f"{path} does not match its config: unexpected tensor {extra[0]}")
    model.load_state_dict(mf.tensors, strict=False)
    return LoadedVideo(model.to(device).eval(), mf.trained, mf.path)
