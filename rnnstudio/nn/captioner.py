"""An image captioner: a CNN encoder and an LSTM decoder with soft attention.

Show, Attend and Tell (Xu et al. 2015), small enough to train on a laptop CPU:

    image (B, 3, S, S) --CNN--> grid of features (B, L = G*G, C), plus a learned position code
    h_0, c_0 = tanh(W (mean of the grid))
    at each step t:
        e_ti   = w . tanh(W_f f_i + W_h h_{t-1})          one score per grid cell i
        alpha_t = softmax(e_t)                            where the model looks (sums to 1)
        z_t    = sum_i alpha_ti f_i                       what it sees there
        h_t, c_t = LSTM([embed(y_{t-1}), z_t], (h_{t-1}, c_{t-1}))
        P(y_t | y_<t, I) = softmax(W_o [h_t, z_t])

Training minimises the caption negative log-likelihood of docs/LECTURE-MAP.md,
L(I, Y*) = - sum_t log P(Y*_t | Y*_<t, I), with the true previous word fed in (teacher
forcing). Decoding is greedy or by beam search; both return, for the best caption, each
word's probability and attention map, so a panel can colour words and overlay maps.

The encoder is a small conv net ("small"), or a torchvision ResNet-18 ("resnet18") whose
weights come from a local file only: nothing is ever downloaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rnnstudio.errors import UserError
from rnnstudio.nn.modelfile import ModelConfig

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = [PAD, START, END, UNK]
ENCODERS = ("small", "resnet18")
# The models see 64 to a few hundred pixels a side. A larger size in a config (of a damaged
# file, say) would make the position and coordinate tensors built from it gigabytes.
MAX_IMAGE_SIZE = 1024
TASK = "caption"


@dataclass(frozen=True)
class CaptionerConfig(ModelConfig):
    vocab_size: int
    encoder: str = "small"  # small (a 4-block conv net) | resnet18 (torchvision, local weights)
    image_size: int = 64  # input pictures are square, this many pixels a side
    channels: int = 128  # width of the encoder's last layer = size of each grid feature
    embed: int = 64  # word embedding size
    hidden: int = 256  # LSTM units
    attention: int = 128  # size of the attention's hidden layer
    dropout: float = 0.1  # before the output layer, during training only
    max_len: int = 20  # longest caption decoded, in words

    def __post_init__(self):
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, not {self.encoder!r}")
        if min(self.vocab_size, self.image_size, self.channels, self.embed, self.hidden, self.attention, self.max_len) < 1:
            raise ValueError("sizes must be positive")
        if self.image_size > MAX_IMAGE_SIZE:
            raise ValueError(f"the image size must be at most {MAX_IMAGE_SIZE} pixels")
        if self.encoder == "small" and self.image_size % 8:
            raise ValueError("the small encoder needs an image size that is a multiple of 8")
        if self.encoder == "resnet18" and self.image_size % 32:
            raise ValueError("the resnet18 encoder needs an image size that is a multiple of 32")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")

    @property
    def grid(self) -> int:
        """The side of the encoder's feature grid: 8 for 64 x 64 with the small encoder."""
        return self.image_size // (8 if self.encoder == "small" else 32)

    @property
    def feature_size(self) -> int:
        return self.channels if self.encoder == "small" else 512


# --- the encoder --------------------------------------------------------------------------


def _block(cin: int, cout: int, pool: bool) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class SmallEncoder(nn.Module):
    """Four 3x3 conv blocks; three halve the picture: 64 x 64 -> an 8 x 8 grid."""

    def __init__(self, channels: int):
        super().__init__()
        c = channels
        self.net = nn.Sequential(_block(3, c // 4, True), _block(c // 4, c // 2, True), _block(c // 2, c, True), _block(c, c, False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - 0.5) / 0.25)  # (B, C, G, G)


def resnet18_trunk() -> nn.Module:
    """torchvision's ResNet-18 without its pooling and classifier, randomly initialised."""
    import torchvision

    net = torchvision.models.resnet18(weights=None)
    return nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)


class ResNetEncoder(nn.Module):
    MEAN = (0.485, 0.456, 0.406)
    STD = (0.229, 0.224, 0.225)

    def __init__(self):
        super().__init__()
        self.trunk = resnet18_trunk()
        self.register_buffer("mean", torch.tensor(self.MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk((x - self.mean) / self.std)  # (B, 512, S/32, S/32)


def find_resnet18_weights() -> Path | None:
    """torch's own cache of downloaded ResNet-18 weights, if some earlier program filled it."""
    try:
        folder = Path(torch.hub.get_dir()) / "checkpoints"
    except Exception:
        return None
    found = sorted(folder.glob("resnet18-*.pth")) if folder.is_dir() else []
    return found[0] if found else None


def load_resnet18_weights(encoder: ResNetEncoder, path: str | Path | None) -> Path:
    """Initialise the trunk from a local ResNet-18 weights file (.pth state dict or .safetensors).

    With no path, torch's cache is searched. Nothing is downloaded: a missing file is a
    UserError that says where to put one.
    """
    if path is None:
        path = find_resnet18_weights()
        if path is None:
            cache = Path(torch.hub.get_dir()) / "checkpoints"
            raise UserError(
                f"the resnet18 encoder needs ImageNet weights and none were found in torch's cache ({cache}); "
                f"pass --encoder-weights FILE (a resnet18 .pth or .safetensors state dict you have), "
                f"or --encoder small. RNN Studio never downloads weights"
            )
    import io

    from rnnstudio.data.files import read_regular_file

    path = Path(path)
    data = read_regular_file(path, "resnet18 weights file")  # a pipe or a device is refused, never waited on
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load as load_safetensors

            state = load_safetensors(data)
        else:
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)  # tensors only, no code
    except Exception as e:
        raise UserError(f"cannot read resnet18 weights from {path}: {e}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"{path} holds no state dict of tensors; give a resnet18 weights file")
    # torchvision names (conv1.weight, layer1.0.conv1.weight, ...) -> our trunk's indices
    names = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}
    mapped = {}
    for k, v in state.items():
        k = k.removeprefix("module.")
        head, _, rest = k.partition(".")
        if head in names:
            mapped[f"{names[head]}.{rest}"] = v
    want = encoder.trunk.state_dict()
    missing = [k for k in want if k not in mapped]
    bad = [k for k in want if k in mapped and tuple(mapped[k].shape) != tuple(want[k].shape)]
    if missing or bad:
        which = (missing or bad)[0]
        raise UserError(f"{path} is not a resnet18 weights file: {'missing' if missing else 'wrong shape for'} {which}")
    encoder.trunk.load_state_dict({k: mapped[k] for k in want})
    return path


# --- the attention decoder ----------------------------------------------------------------


class Attention(nn.Module):
    """Additive (Bahdanau) attention over the grid: scores, softmax, weighted sum."""

    def __init__(self, feat: int, hidden: int, size: int):
        super().__init__()
        self.from_feat = nn.Linear(feat, size)
        self.from_hidden = nn.Linear(hidden, size)
        self.score = nn.Linear(size, 1)

    def forward(self, feats: torch.Tensor, feats_proj: torch.Tensor, h: torch.Tensor):
        """feats (B, L, C), feats_proj (B, L, A), h (B, H) -> context (B, C), alpha (B, L)."""
        e = self.score(torch.tanh(feats_proj + self.from_hidden(h)[:, None, :])).squeeze(-1)  # (B, L)
        alpha = torch.softmax(e, dim=-1)  # (B, L)
        context = torch.bmm(alpha[:, None, :], feats).squeeze(1)  # (B, C)
        return context, alpha


@dataclass
class Caption:
    """The best caption of a decoding, as plain Python and numpy."""

    words: list[str]
    probs: list[float]  # P(word | words before, image), one per word
    attention: np.ndarray  # (len(words), G, G) float32, each map sums to 1
    logprob: float  # total log-probability, the end token included
    nbest: list[tuple[str, float]]  # (caption, total log-probability), best first

    @property
    def text(self) -> str:
        return " ".join(self.words)


class Captioner(nn.Module):
    def __init__(self, config: CaptionerConfig, vocab: list[str]):
        super().__init__()
        if len(vocab) != config.vocab_size:
            raise ValueError("the vocabulary does not have config.vocab_size words")
        if vocab[: len(SPECIALS)] != SPECIALS:
            raise ValueError(f"the vocabulary must start with {SPECIALS}")
        self.config = config
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(vocab)}
        c = config
        self.encoder = SmallEncoder(c.channels) if c.encoder == "small" else ResNetEncoder()
        feat = c.feature_size
        self.position = nn.Parameter(torch.zeros(1, c.grid * c.grid, feat))  # where each cell is
        nn.init.normal_(self.position, std=0.1)
        self.init_h = nn.Linear(feat, c.hidden)
        self.init_c = nn.Linear(feat, c.hidden)
        self.embed = nn.Embedding(c.vocab_size, c.embed)
        self.attend = Attention(feat, c.hidden, c.attention)
        self.lstm = nn.LSTMCell(c.embed + feat, c.hidden)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden + feat, c.vocab_size)

    # --- encoding -------------------------------------------------------------------------

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, S, S) floats in [0, 1] -> grid features (B, L, C), L = G * G.

        Cache these: decoding needs only them.
        """
        grid = self.encoder(images)  # (B, C, G, G)
        feats = grid.flatten(2).transpose(1, 2)  # (B, L, C)
        return feats + self.position

    def _start(self, feats: torch.Tensor):
        mean = feats.mean(dim=1)  # (B, C)
        return torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean))  # (B, H) each

    def _step(self, feats, feats_proj, words, state):
        """One decoder step: previous words (B,) -> log-probs (B, V), attention (B, L), state."""
        h, c = state
        context, alpha = self.attend(feats, feats_proj, h)  # (B, C), (B, L)
        x = torch.cat([self.embed(words), context], dim=-1)  # (B, E + C)
        h, c = self.lstm(x, (h, c))  # (B, H) each
        logits = self.head(self.drop(torch.cat([h, context], dim=-1)))  # (B, V)
        return logits, alpha, (h, c)

    # --- training -------------------------------------------------------------------------

    def forward(self, images: torch.Tensor, captions: torch.Tensor):
        """Teacher-forced pass. captions (B, T): <start> w_1 .. w_N <end> <pad>...

        Returns (loss, logits (B, T-1, V), alphas (B, T-1, L)); loss is
        L = - sum_t log P(Y*_t | Y*_<t, I), summed over each caption's words (the end
        token included, pads not) and averaged over the batch.
        """
        feats = self.encode(images)  # (B, L, C)
        return self.decode_teacher_forced(feats, captions)

    def decode_teacher_forced(self, feats: torch.Tensor, captions: torch.Tensor):
        feats_proj = self.attend.from_feat(feats)  # (B, L, A), computed once
        state = self._start(feats)
        inputs, targets = captions[:, :-1], captions[:, 1:]  # (B, T-1) each
        logits, alphas = [], []
        for words in inputs.unbind(1):  # (B,) a step
            step_logits, alpha, state = self._step(feats, feats_proj, words, state)
            logits.append(step_logits)
            alphas.append(alpha)
        logits = torch.stack(logits, dim=1)  # (B, T-1, V)
        alphas = torch.stack(alphas, dim=1)  # (B, T-1, L)
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=0, reduction="none")
        loss = nll.view(targets.shape).sum(dim=1).mean()  # sum over words, mean over images
        return loss, logits, alphas

    # --- decoding -------------------------------------------------------------------------

    def _features(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() == 2:
            features = features[None]
        if features.dim() != 3 or features.shape[0] != 1:
            raise ValueError("decode one picture at a time: features (L, C) or (1, L, C)")
        return features

    @torch.no_grad()
    def greedy(self, features: torch.Tensor, max_len: int | None = None) -> Caption:
        """The likeliest word at every step, until <end> or max_len words."""
        feats = self._features(features)
        max_len = max_len or self.config.max_len
        feats_proj = self.attend.from_feat(feats)
        state = self._start(feats)
        word = torch.tensor([self.index[START]], device=feats.device)
        ids, probs, maps, total = [], [], [], 0.0
        for _ in range(max_len + 1):
            logits, alpha, state = self._step(feats, feats_proj, word, state)
            logp = torch.log_softmax(logits[0], dim=-1)  # (V,)
            best = int(torch.argmax(logp))
            if best == self.index[END]:
                total += float(logp[best])
                break
            if len(ids) == max_len:  # out of room: the caption stops here, without an end token
                break
            total += float(logp[best])
            ids.append(best)
            probs.append(math.exp(float(logp[best])))
            maps.append(alpha[0])
            word = torch.tensor([best], device=feats.device)
        return self._result(ids, probs, maps, total, [(ids, total)])

    @torch.no_grad()
    def beam_search(self, features: torch.Tensor, beam: int = 3, max_len: int | None = None) -> Caption:
        """Keep the `beam` likeliest partial captions at each step; the n-best list by log-probability.

        Width 1 is greedy decoding, word for word and number for number.
        """
        if beam < 1:
            raise ValueError("the beam width must be at least 1")
        feats = self._features(features)
        max_len = max_len or self.config.max_len
        feats_proj = self.attend.from_feat(feats)
        h, c = self._start(feats)
        end = self.index[END]
        # alive hypotheses: (ids, probs, maps, total log-prob), with their states row by row
        alive = [([], [], [], 0.0)]
        words = torch.tensor([self.index[START]], device=feats.device)
        finished = []
        for t in range(max_len + 1):
            n = len(alive)
            logits, alpha, (h, c) = self._step(feats.expand(n, -1, -1), feats_proj.expand(n, -1, -1), words, (h, c))
            logp = torch.log_softmax(logits, dim=-1)  # (n, V)
            totals = torch.tensor([a[3] for a in alive], device=logp.device, dtype=logp.dtype)
            scores = (totals[:, None] + logp).view(-1)  # (n * V,)
            k = min(beam, scores.numel())
            top = torch.topk(scores, k)
            keep_rows, next_alive, next_words, cut = [], [], [], set()
            for flat in top.indices.tolist():
                row, word = divmod(flat, logp.shape[1])
                ids, probs, maps, total = alive[row]
                step_total = total + float(logp[row, word])
                if word == end:
                    finished.append((ids, probs, maps, step_total))
                    continue
                if t == max_len:  # out of room: the caption stops here, without an end token
                    if row not in cut:
                        finished.append((ids, probs, maps, total))
                        cut.add(row)
                    continue
                next_alive.append((ids + [word], probs + [math.exp(float(logp[row, word]))], maps + [alpha[row]], step_total))
                keep_rows.append(row)
                next_words.append(word)
            finished.sort(key=lambda f: -f[3])
            best_alive = max((a[3] for a in next_alive), default=-math.inf)
            if not next_alive or (len(finished) >= beam and finished[beam - 1][3] >= best_alive):
                break  # log-probabilities only fall: no living hypothesis can still make the list
            alive = next_alive
            rows = torch.tensor(keep_rows, device=feats.device)
            h, c = h[rows], c[rows]
            words = torch.tensor(next_words, device=feats.device)
        finished.sort(key=lambda f: -f[3])
        best = finished[0]
        return self._result(best[0], best[1], best[2], best[3], [(f[0], f[3]) for f in finished[:beam]])

    def _result(self, ids, probs, maps, total, nbest) -> Caption:
        g = self.config.grid
        if maps:
            attention = torch.stack(maps).float().cpu().numpy().reshape(len(maps), g, g)
            attention = attention / attention.sum(axis=(1, 2), keepdims=True)  # exact sums after float error
        else:
            attention = np.zeros((0, g, g), np.float32)
        return Caption(
            words=[self.vocab[i] for i in ids],
            probs=[float(p) for p in probs],
            attention=attention.astype(np.float32),
            logprob=float(total),
            nbest=[(" ".join(self.vocab[i] for i in n_ids), float(lp)) for n_ids, lp in nbest],
        )

    @torch.no_grad()
    def caption(self, image: np.ndarray, beam: int = 1, max_len: int | None = None) -> Caption:
        """One (S, S, 3) uint8 RGB picture of config.image_size -> its caption (greedy when beam is 1)."""
        self.eval()
        device = self.head.weight.device
        feats = self.encode(images_to_tensor([image], device))  # (1, L, C)
        return self.greedy(feats, max_len) if beam == 1 else self.beam_search(feats, beam, max_len)

    @torch.no_grad()
    def greedy_batch(self, features: torch.Tensor, max_len: int | None = None) -> list[list[str]]:
        """Greedy captions of a whole batch at once (for evaluation): a list of word lists."""
        max_len = max_len or self.config.max_len
        b = features.shape[0]
        feats_proj = self.attend.from_feat(features)
        state = self._start(features)
        words = torch.full((b,), self.index[START], device=features.device, dtype=torch.long)
        out = torch.zeros((b, max_len), dtype=torch.long)
        done = torch.zeros(b, dtype=torch.bool)
        for t in range(max_len):
            logits, _alpha, state = self._step(features, feats_proj, words, state)
            words = logits.argmax(dim=-1)
            out[:, t] = words.cpu()
            done |= (words == self.index[END]).cpu()
            if bool(done.all()):
                break
        end = self.index[END]
        captions = []
        for row in out.tolist():
            ws = []
            for i in row:
                if i == end:
                    break
                ws.append(self.vocab[i])
            captions.append(ws)
        return captions

    # --- words <-> indices ----------------------------------------------------------------

    def encode_caption(self, words: list[str], length: int | None = None) -> list[int]:
        """<start> words <end>, unknown words as <unk>, padded with <pad> to `length`."""
        unk = self.index[UNK]
        ids = [self.index[START]] + [self.index.get(w, unk) for w in words] + [self.index[END]]
        if length is not None:
            ids = ids[:length] + [0] * max(0, length - len(ids))
        return ids


def images_to_tensor(images, device="cpu") -> torch.Tensor:
    """A list of (S, S, 3) uint8 RGB arrays (or one (B, S, S, 3) array) -> (B, 3, S, S) in [0, 1]."""
    batch = np.ascontiguousarray(np.stack(images) if isinstance(images, (list, tuple)) else images)
    if batch.ndim == 3:
        batch = batch[None]
    t = torch.from_numpy(batch).to(device)
    return t.permute(0, 3, 1, 2).float().div_(255.0)


# --- model files --------------------------------------------------------------------------


@dataclass
class LoadedCaptioner:
    model: Captioner
    vocab: list[str]
    trained: dict
    path: object = None


def captioner_model_file(model: Captioner, trained: dict):
    from rnnstudio.nn.modelfile import ModelFile

    tensors = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    return ModelFile(task=TASK, config=model.config.to_dict(), vocab=list(model.vocab), tensors=tensors, trained=trained)


def save_captioner(path, model: Captioner, trained: dict) -> None:
    from rnnstudio.nn.modelfile import save_model_file

    save_model_file(path, captioner_model_file(model, trained))


def load_captioner(path, device: str | torch.device = "cpu") -> LoadedCaptioner:
    """Load a caption model file, refusing one of another task, a newer format or wrong tensors."""
    from rnnstudio.nn.modelfile import load_word_model

    model, mf = load_word_model(path, TASK, SPECIALS, CaptionerConfig, Captioner, device)
    return LoadedCaptioner(model=model, vocab=mf.vocab, trained=mf.trained, path=mf.path)
