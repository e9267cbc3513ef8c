"""A long-term recurrent convolutional network (LRCN, Donahue et al. 2015) for shapes-world clips.

    frame x_t (3, 64, 64) --SmallEncoder (the captioner's, frozen)--> (C, 8, 8) --avg pool--> f_t (C, P, P)
    c_t = ReLU(conv1x1(f_t))                       each grid cell's code (config.cell; 0: c_t = f_t)
    u_t = [c_t, c_t - c_(t-1), c_t - c_1]          what is there, what changed since the frame before
                                                   (config.delta) and since the clip began (config.since)
    u_t = ReLU(conv1x1(u_t)) per cell              config.mix: a cell sees what is there and how it
                                                   changed together, so "the red one moved" is local
    v_t = Dropout(ReLU(W_p u_t))                   a vector per frame
    h_t, c_t = LSTM(v_t, (h_{t-1}, c_{t-1}))       the memory across frames
    P(motion | x_1..x_t) = softmax(W_m h_t)        after every frame: the prediction as it forms
    P(object | x_1..x_t) = softmax(W_o h_t)        which (colour, shape) does it: "red circle"

    the sentence, after the last frame T (config.decoder > 0; `SentenceDecoder`):
    (g_0, m_0) = tanh(W_s h_T)                     a word LSTM starts from what the video LSTM holds
    g_k, m_k = LSTM_w(embed(w_(k-1)), (g, m))      and writes a word a step, from <bos>
    P(w_k | h_T, w_<k) = softmax(W_w g_k)          until <eos>: "the red circle moves left"

The config's defaults are the first model's (4 x 4 pooled grid, no codes, no decoder); the
trainer's defaults (rnnstudio.train.video_defaults) are the shipped model's.

The two heads say what happens after every frame (many to many); the decoder writes the clip's
sentence once it has ended (frames in, words out: sequence to sequence). A model file without a
decoder (config.decoder 0, the first shipped model) describes a clip with the template of its
two answers (rnnstudio.data.clips.sentence) instead.

The single-frame baseline (`FrameBaseline`, kept in the same model file) sees the same
encoder's features of the last frame only (with its own cell code), with no recurrence: it can tell which shapes are
there, not which way one of them went.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rnnstudio.data.clips import MOTIONS, OBJECTS, SENTENCE_WORDS, sentence
from rnnstudio.errors import ModelFileError
from rnnstudio.nn.captioner import SmallEncoder, images_to_tensor
from rnnstudio.nn.modelfile import ModelConfig

TASK = "video"
BOS, EOS = SENTENCE_WORDS.index("<bos>"), SENTENCE_WORDS.index("<eos>")
MAX_WORDS = 8  # a sentence of this world has at most 5 words and <eos>: more means the decoder is lost


@dataclass(frozen=True)
class VideoConfig(ModelConfig):
    image_size: int = 64
    channels: int = 128  # the encoder's (the shipped captioner's) width
    pool: int = 4  # the encoder's 8 x 8 grid averaged to pool x pool (8: the whole grid)
    proj: int = 256  # the per-frame vector fed to the LSTM
    hidden: int = 256  # LSTM units
    frozen_encoder: bool = True  # trained with the encoder's weights fixed (its features cached)
    delta: bool = False  # the LSTM also reads each frame's change from the one before, f_t - f_(t-1)
    since: bool = False  # ... and its change since the clip's first frame, f_t - f_1
    cell: int = 0  # > 0: a 1x1 conv with ReLU mixes each grid cell's inputs into `cell` channels first
    dropout: float = 0.0  # on the per-frame vector, while training
    mix: int = 0  # > 0 (with cell): a second 1x1 conv with ReLU on each cell's codes and their changes
    decoder: int = 0  # > 0: a sentence decoder, a word LSTM of this many units (0: the template describes)
    word_size: int = 32  # the decoder's word embedding

    def __post_init__(self):
        if (min(self.image_size, self.channels, self.pool, self.proj, self.hidden, self.word_size) < 1
                or min(self.cell, self.mix, self.decoder) < 0):
            raise ValueError("sizes must be positive")
        if self.mix and not self.cell:
            raise ValueError("mix needs cell codes")
        if self.image_size % 8 or self.image_size > 512 or self.pool > self.image_size // 8:
            raise ValueError("the image size must be a multiple of 8 up to 512, the pool at most its grid")
        if not 0 <= self.dropout < 1:
            raise ValueError("the dropout must be in [0, 1)")

    @property
    def feature_size(self) -> int:
        return self.channels * self.pool * self.pool

    @property
    def parts(self) -> int:
        """How many grids each frame's input stacks: f_t, and its changes where asked."""
        return 1 + int(self.delta) + int(self.since)


class FrameBaseline(nn.Module):
    """The rival without memory: one frame's features -> motion and object."""

    def __init__(self, config: VideoConfig):
        super().__init__()
        self.config = config
        c = config
        if c.cell:
            self.cell = nn.Sequential(nn.Conv2d(c.channels, c.cell, 1), nn.ReLU())
            size = c.cell * c.pool * c.pool
        else:
            size = c.feature_size
        self.net = nn.Sequential(nn.Linear(size, c.hidden), nn.ReLU())
        self.motion = nn.Linear(c.hidden, len(MOTIONS))
        self.object = nn.Linear(c.hidden, len(OBJECTS))

    def forward(self, feats: torch.Tensor):
        c = self.config
        if c.cell:
            lead = feats.shape[:-1]
            grid = feats.reshape(-1, c.channels, c.pool, c.pool)
            feats = self.cell(grid).reshape(*lead, -1)
        h = self.net(feats)
        return self.motion(h), self.object(h)


class SentenceDecoder(nn.Module):
    """Writes a clip's sentence word by word from the video LSTM's state after its last frame
    (module docstring): the "sequence out" of an LRCN describing a video."""

    def __init__(self, state_size: int, units: int, word_size: int):
        super().__init__()
        self.start = nn.Linear(state_size, 2 * units)
        self.embed = nn.Embedding(len(SENTENCE_WORDS), word_size)
        self.lstm = nn.LSTM(word_size, units, batch_first=True)
        self.out = nn.Linear(units, len(SENTENCE_WORDS))

    def initial(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, H) video state -> the word LSTM's first (g, m), each (1, B, units)."""
        g, m = torch.tanh(self.start(state)).chunk(2, -1)
        return g.unsqueeze(0).contiguous(), m.unsqueeze(0).contiguous()

    def forward(self, state: torch.Tensor, words_in: torch.Tensor) -> torch.Tensor:
        """Teacher forced: (B, H) states and (B, L) words given (from <bos>) -> (B, L, words) logits."""
        g, _ = self.lstm(self.embed(words_in), self.initial(state))
        return self.out(g)

    @torch.no_grad()
    def write(self, state: torch.Tensor, max_words: int = MAX_WORDS) -> torch.Tensor:
        """Greedy: (B, H) states -> (B, L, words) P(word) at each step, each step fed the likeliest
        word of the one before; a row's sentence ends at its first <eos> (later steps are padding)."""
        word = torch.full((len(state),), BOS, dtype=torch.long, device=state.device)
        carry, steps = self.initial(state), []
        ended = torch.zeros(len(state), dtype=torch.bool, device=state.device)
        for _ in range(max_words):
            g, carry = self.lstm(self.embed(word)[:, None], carry)
            p = self.out(g[:, 0]).softmax(-1)
            steps.append(p)
            word = p.argmax(-1)
            ended |= word == EOS
            if bool(ended.all()):
                break
        return torch.stack(steps, 1)


@dataclass(frozen=True)
class WrittenWord:
    word: str
    p: float  # P(word | the clip, the words before it)
    alternatives: tuple  # ((word, p), ...) the next likeliest at this step


def written_words(distributions: torch.Tensor, alternatives: int = 3) -> list[WrittenWord]:
    """One row of `SentenceDecoder.write` -> its words up to, not including, <eos>."""
    words = []
    for p in distributions:
        top = p.topk(alternatives + 1)
        ids, ps = top.indices.tolist(), top.values.tolist()
        if ids[0] == EOS:
            break
        words.append(WrittenWord(SENTENCE_WORDS[ids[0]], ps[0],
                                 tuple((SENTENCE_WORDS[i], q) for i, q in zip(ids[1:], ps[1:]))))
    return words


def sentence_ids(motions: torch.Tensor, objects: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The clips' sentences as word ids for teacher forcing: (inputs from <bos>, targets ending in
    <eos>), each (B, MAX_WORDS), the targets padded with -100 (ignored by the loss)."""
    inputs = torch.full((len(motions), MAX_WORDS), EOS, dtype=torch.long)
    targets = torch.full((len(motions), MAX_WORDS), -100, dtype=torch.long)
    for row, (m, o) in enumerate(zip(motions.tolist(), objects.tolist())):
        ids = [SENTENCE_WORDS.index(w) for w in sentence(MOTIONS[m], OBJECTS[o]).split()]
        inputs[row, :len(ids) + 1] = torch.tensor([BOS, *ids])
        targets[row, :len(ids) + 1] = torch.tensor([*ids, EOS])
    return inputs.to(motions.device), targets.to(motions.device)


class LRCN(nn.Module):
    def __init__(self, config: VideoConfig):
        super().__init__()
        self.config = config
        c = config
        self.encoder = SmallEncoder(c.channels)
        self.pool = nn.AdaptiveAvgPool2d(c.pool)
        if c.cell:
            self.cell = nn.Sequential(nn.Conv2d(c.channels, c.cell, 1), nn.ReLU())
            size = c.cell * c.pool * c.pool * c.parts
            if c.mix:
                self.mix = nn.Sequential(nn.Conv2d(c.cell * c.parts, c.mix, 1), nn.ReLU())
                size = c.mix * c.pool * c.pool
        else:
            size = c.feature_size * c.parts
        self.proj = nn.Sequential(nn.Linear(size, c.proj), nn.ReLU())
        self.drop = nn.Dropout(c.dropout)
        self.lstm = nn.LSTM(c.proj, c.hidden, batch_first=True)
        self.motion = nn.Linear(c.hidden, len(MOTIONS))
        self.object = nn.Linear(c.hidden, len(OBJECTS))
        self.baseline = FrameBaseline(c)
        self.decoder = None
        if c.decoder:
            # Its weights come from a copy of the random state, so the rest of the model's draws
            # (dropout's) are those of the same model without a decoder, seed for seed.
            with torch.random.fork_rng(devices=[]):
                self.decoder = SentenceDecoder(c.hidden, c.decoder, c.word_size)

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, S, S) in [0, 1] -> (B, T, F): the encoder's pooled grid of every frame."""
        b, t = frames.shape[:2]
        grid = self.pool(self.encoder(frames.flatten(0, 1)))
        return grid.flatten(1).view(b, t, -1)

    def codes(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, F) features -> (B, T, K): each grid cell's code (config.cell), or the features as they are."""
        c = self.config
        if not c.cell:
            return feats
        b, t = feats.shape[:2]
        return self.cell(feats.reshape(b * t, c.channels, c.pool, c.pool)).reshape(b, t, -1)

    def vectors(self, codes: torch.Tensor, previous: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        """The LSTM's input per frame: the frame's codes and, where asked, their change since the
        frame before (`previous`) and since the clip's first frame (`first`)."""
        c = self.config
        parts = [codes] + ([codes - previous] if c.delta else []) + ([codes - first] if c.since else [])
        x = torch.cat(parts, -1)
        if c.mix:  # each cell sees what is there and how it changed together: which shape moved
            b, t = x.shape[:2]
            grid = torch.cat([p.reshape(b * t, c.cell, c.pool, c.pool) for p in parts], 1)
            x = self.mix(grid).reshape(b, t, -1)
        return self.drop(self.proj(x))

    def states(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, F) features -> (B, T, hidden): the LSTM's h after every frame."""
        codes = self.codes(feats)
        previous = torch.cat([codes[:, :1], codes[:, :-1]], 1)
        h, _ = self.lstm(self.vectors(codes, previous, codes[:, :1]))
        return h

    def forward(self, feats: torch.Tensor):
        """(B, T, F) features -> motion logits (B, T, 8) and object logits (B, T, 24), after every frame."""
        h = self.states(feats)
        return self.motion(h), self.object(h)

    def describe(self, state: torch.Tensor, motion: str, obj: str | None) -> list[WrittenWord]:
        """The sentence for one clip, from the LSTM's (hidden,) state after its last frame: written by
        the decoder, or, for a model without one, the template of its answers (each word p 1)."""
        if self.decoder is None:
            return [WrittenWord(w, 1.0, ()) for w in sentence(motion, obj).split()]
        return written_words(self.decoder.write(state[None])[0])


@dataclass
class VideoAnswer:
    motion: str
    obj: str | None  # None where nothing moves
    sentence: str
    per_frame: list  # (motion, p) after every frame
    object_p: float
    words: list  # the sentence's WrittenWords


def answer(model: LRCN, frames: np.ndarray, device="cpu") -> VideoAnswer:
    """The model's reading of (T, S, S, 3) uint8 RGB frames, already S x S."""
    model.eval()
    with torch.no_grad():
        x = images_to_tensor(frames, device).unsqueeze(0)
        h = model.states(model.features(x))
        pm, po = model.motion(h[0]).softmax(-1), model.object(h[0, -1]).softmax(-1)
        per_frame = [(MOTIONS[int(p.argmax())], float(p.max())) for p in pm]
        m = per_frame[-1][0]
        o = None if m == "still" else OBJECTS[int(po.argmax())]
        words = model.describe(h[0, -1], m, o)
    return VideoAnswer(m, o, " ".join(w.word for w in words), per_frame, float(po.max()), words)


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
    def guess(self) -> str:
        """The two heads' answer so far in words ("the red circle moves left"): what the decoder
        would be asked to say if the clip ended here."""
        return sentence(self.motion, self.obj)


class ClipReader:
    """Reads a clip one frame at a time, as a live source delivers it, carrying the LSTM's state.

    `step(frame)` encodes one (S, S, 3) uint8 RGB frame and runs one LSTM step: the same numbers
    as `answer` on the whole clip (tests/nn/test_video.py checks). `describe()` writes the sentence
    of the clip read so far. `reset()` starts a new clip.
    """

    def __init__(self, model: "LRCN", device="cpu"):
        self.model, self.device = model.eval(), device
        self.reset()

    def reset(self) -> None:
        self.state = None  # the LSTM's (h, c)
        self.previous = None  # the last frame's codes, for the change since the frame before
        self.first = None  # the first frame's, for the change since the clip began
        self.count = 0
        self.last: FrameReading | None = None

    @torch.inference_mode()
    def step(self, frame: np.ndarray) -> FrameReading:
        m = self.model
        feats = m.features(images_to_tensor(frame[None], self.device).unsqueeze(0))  # (1, 1, F)
        codes = m.codes(feats)
        if self.first is None:
            self.first = self.previous = codes
        h, self.state = m.lstm(m.vectors(codes, self.previous, self.first), self.state)
        self.previous = codes
        self.count += 1
        motion, obj = m.motion(h[0, -1]).softmax(-1), m.object(h[0, -1]).softmax(-1)
        b_motion, b_obj = m.baseline(feats[0, -1])
        self.last = FrameReading(self.count, motion.cpu().numpy(), obj.cpu().numpy(), h[0, -1].cpu().numpy(),
                            b_motion.softmax(-1).cpu().numpy(), b_obj.softmax(-1).cpu().numpy())
        return self.last

    @torch.inference_mode()
    def describe(self) -> list[WrittenWord]:
        """The sentence of the clip read so far (from the LSTM's state after its last frame)."""
        if self.state is None:
            raise ValueError("no frame read yet")
        return self.model.describe(self.state[0][0, 0], self.last.motion, self.last.obj)


# --- model files --------------------------------------------------------------------------


@dataclass
class LoadedVideo:
    model: LRCN
    trained: dict
    path: object = None


def vocabulary(config: VideoConfig) -> list[str]:
    """A file's labels: the motions and objects, then the decoder's words where it has one."""
    return list(MOTIONS) + list(OBJECTS) + (list(SENTENCE_WORDS) if config.decoder else [])


def save_video_model(path, model: LRCN, trained: dict) -> None:
    from rnnstudio.nn.modelfile import ModelFile, save_model_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
               if not k.endswith("num_batches_tracked")}
    save_model_file(path, ModelFile(task=TASK, config=model.config.to_dict(), vocab=vocabulary(model.config),
                                    tensors=tensors, trained=trained))


def load_video_model(path, device: str | torch.device = "cpu") -> LoadedVideo:
    """Load a video model file, refusing one of another task, another label set or wrong tensors."""
    from rnnstudio.nn.modelfile import build_for_file, check_tensors_match, load_model_file

    mf = load_model_file(path, TASK)
    try:
        config = VideoConfig.from_dict(mf.config)
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{path} has an invalid config: {e}") from None
    if mf.vocab != vocabulary(config):
        raise ModelFileError(f"{path} has other labels than this RNN Studio knows (motions, shapes and words)")
    model = build_for_file(path, lambda: LRCN(config))
    expected = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    check_tensors_match(mf.path, expected, mf.tensors)
    extra = sorted(set(mf.tensors) - set(expected))
    if extra:
        raise ModelFileError(f"{path} does not match its config: unexpected tensor {extra[0]}")
    model.load_state_dict(mf.tensors, strict=False)
    return LoadedVideo(model.to(device).eval(), mf.trained, mf.path)
