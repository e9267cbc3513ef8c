"""Visual question answering: a CNN reads the picture, an LSTM reads the question.

The "LSTM Q + I" baseline of the VQA paper (Antol et al. 2015), with the fusion made
strong enough for counting and for relations between shapes (FiLM, Perez et al. 2018):

    picture (B, 3, S, S) --CNN--> grid F (B, C, G, G)            question-independent: cache it
    question w_1 .. w_T  --embed--> x_t (E)  --LSTM--> h_t (H)    one hidden state per word
    q = [h_T, max_t h_t]                                           the whole question, and each
                                                                   word's mark wherever it stood
    grid + two coordinate maps --1x1 conv--> R (B, K, G, G)
    twice:  R <- R + relu((1 + gamma_i(q)) * BN(conv3x3(R)) + beta_i(q))   the question steers
    v = relu(W_v flatten(1x1 conv(R)))  (B, D)                     where things are, kept
    two glimpses over the G*G cells r_i at positions x_i (for relations):
        a1 = softmax_i(w1 . tanh(U1 r_i + V1 q))                   look at one thing ...
        c1, p1 = sum_i a1_i r_i, sum_i a1_i x_i                    ... what and where it is
        a2 = softmax_i(w2 . tanh(U2 r_i + W (x_i - p1) + V2 [q, c1, p1]))   ... then at another,
        c2, p2 = sum_i a2_i r_i, sum_i a2_i x_i                          placed relative to it
    g = p1, p2, p2 - p1;  facts = relu(W_g g) * (V_g q)              the question picks which facts
    P(answer | picture, question) = softmax(W_2 relu(W_1 [v, q, c1, c2, g, facts]))

Words outside the vocabulary are read as <unk> and reported back, never silently
dropped. `answer` takes cached image features, so a panel encodes a picture once and asks
about it as often as it likes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rnnstudio.errors import UserError
from rnnstudio.nn.captioner import MAX_IMAGE_SIZE, SmallEncoder, images_to_tensor
from rnnstudio.nn.modelfile import ModelConfig

PAD, UNK = "<pad>", "<unk>"
SPECIALS = [PAD, UNK]
TASK = "vqa"
MAX_QUESTION_WORDS = 40
MAX_QUESTION_CHARS = 400
# Spellings read as the word the model knows; they are not unknown words.
SPELLINGS = {"colour": "color", "colours": "colors", "grey": "gray", "an": "a"}


class QuestionError(UserError):
    """A question the model cannot read: empty, too long, or without one known word.

    `details` holds the unknown words, when that is the trouble.
    """


@dataclass(frozen=True)
class VQAConfig(ModelConfig):
    vocab_size: int
    answers: tuple = ()  # the answers in output order
    image_size: int = 64  # input pictures are square, this many pixels a side
    channels: int = 128  # width of the CNN's last layer
    film: int = 64  # width of the question-steered conv blocks
    squeeze: int = 32  # maps kept (1x1 conv) before the grid is flattened
    embed: int = 32  # word embedding size
    hidden: int = 128  # LSTM units
    fused: int = 256  # size of the fused image-question vector
    attention: int = 64  # size of the glimpses' hidden layer
    dropout: float = 0.1  # before the classifier, during training only

    def __post_init__(self):
        object.__setattr__(self, "answers", tuple(self.answers))
        if len(self.answers) < 2 or not all(isinstance(a, str) and a for a in self.answers):
            raise ValueError("answers must list at least two non-empty answers")
        if len(set(self.answers)) != len(self.answers):
            raise ValueError("answers must list each answer once")
        if min(self.vocab_size, self.image_size, self.channels, self.film, self.squeeze, self.embed, self.hidden, self.fused,
               self.attention) < 1:
            raise ValueError("sizes must be positive")
        if self.image_size > MAX_IMAGE_SIZE:
            raise ValueError(f"the image size must be at most {MAX_IMAGE_SIZE} pixels")
        if self.image_size % 8 or self.channels % 4:
            raise ValueError("the image size must be a multiple of 8 and channels a multiple of 4")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")

    @property
    def grid(self) -> int:
        return self.image_size // 8

    def to_dict(self) -> dict:
        d = asdict(self)
        d["answers"] = list(self.answers)
        return d



# --- words --------------------------------------------------------------------------------


def split_words(question: str) -> list[str]:
    """Lower-case words (letters and digits of any script), with known spelling variants mapped."""
    return [SPELLINGS.get(w, w) for w in re.findall(r"[^\W_]+", question.lower())]


@dataclass(frozen=True)
class Tokens:
    words: list[str]  # the question's words as the model reads them
    ids: list[int]  # their indices, unknown words as <unk>
    unknown: list[str]  # the words outside the vocabulary, each once, in order of appearance


class Tokenizer:
    def __init__(self, vocab: list[str]):
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}

    def __call__(self, question: str, strict: bool = True) -> Tokens:
        """The question's words and indices; with `strict`, QuestionError on an empty or overlong
        question, or one without a single known word."""
        if strict and len(question) > MAX_QUESTION_CHARS:
            raise QuestionError(f"the question is {len(question)} characters long; ask in at most {MAX_QUESTION_CHARS}")
        words = split_words(question)
        unk = self.index[UNK]
        ids = [self.index.get(w, unk) for w in words]
        unknown = list(dict.fromkeys(w for w, i in zip(words, ids) if i == unk))
        if strict:
            if not words:
                raise QuestionError("the question is empty; ask something like 'what color is the shape?'")
            if len(words) > MAX_QUESTION_WORDS:
                raise QuestionError(f"the question has {len(words)} words; ask in at most {MAX_QUESTION_WORDS}")
            if len(unknown) == len(set(words)):
                shown = ", ".join(unknown[:6]) + (" ..." if len(unknown) > 6 else "")
                raise QuestionError(
                    f"the model knows none of the words of the question ({shown}); ask with words such as "
                    f"'what color is the circle?', 'is there a red shape?', 'how many shapes are there?'",
                    details=unknown,
                )
        return Tokens(words, ids, unknown)


# --- the model ----------------------------------------------------------------------------


def _coordinates(g: int) -> torch.Tensor:
    """Two maps (1, 2, G, G): x and y of each cell's centre, from -1 to 1."""
    axis = (torch.arange(g, dtype=torch.float32) + 0.5) / g * 2 - 1
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs, ys])[None]


class FiLMBlock(nn.Module):
    """R + relu((1 + gamma) * BN(conv3x3(R)) + beta): the question scales and shifts each map."""

    def __init__(self, width: int):
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(width, affine=False)

    def forward(self, r: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(r))  # (N, K, G, G)
        x = (1 + gamma[:, :, None, None]) * x + beta[:, :, None, None]
        return r + F.relu(x)


@dataclass
class VQAAnswer:
    """One question answered, as plain Python and numpy."""

    question: str
    words: list[str]  # the words as the model read them
    unknown_words: list[str]
    answers: list[tuple[str, float]]  # the top k (answer, probability), most likely first
    probs: np.ndarray  # (n_answers,) float32: the whole distribution, in model.answers order
    hidden: np.ndarray  # (len(words), hidden) float32: the LSTM's h after each word
    glimpses: np.ndarray  # (2, G, G) float32: where the two glimpses looked, each sums to 1


class VQAModel(nn.Module):
    def __init__(self, config: VQAConfig, vocab: list[str]):
        super().__init__()
        if len(vocab) != config.vocab_size:
            raise ValueError("the vocabulary does not have config.vocab_size words")
        if vocab[: len(SPECIALS)] != SPECIALS:
            raise ValueError(f"the vocabulary must start with {SPECIALS}")
        self.config = c = config
        self.vocab = list(vocab)
        self.answers = list(config.answers)
        self.tokenizer = Tokenizer(self.vocab)
        self.encoder = SmallEncoder(c.channels)
        self.embed = nn.Embedding(c.vocab_size, c.embed, padding_idx=0)
        self.lstm = nn.LSTM(c.embed, c.hidden, batch_first=True)
        self.register_buffer("coords", _coordinates(c.grid), persistent=False)
        self.reduce = nn.Conv2d(c.channels + 2, c.film, 1)
        qd = 2 * c.hidden  # the question vector: h_T and the maximum over the words
        self.steer = nn.Linear(qd, 2 * 2 * c.film)  # gamma and beta for both blocks
        self.blocks = nn.ModuleList([FiLMBlock(c.film), FiLMBlock(c.film)])
        self.squeeze = nn.Conv2d(c.film, c.squeeze, 1)
        self.spatial = nn.Linear(c.squeeze * c.grid * c.grid, c.fused)
        self.look_cell = nn.ModuleList([nn.Linear(c.film, c.attention) for _ in range(2)])
        self.look_query = nn.ModuleList([nn.Linear(qd, c.attention), nn.Linear(qd + c.film + 2, c.attention)])
        self.look_where = nn.Linear(2, c.attention)  # glimpse 2: a cell's place relative to glimpse 1
        self.look_score = nn.ModuleList([nn.Linear(c.attention, 1) for _ in range(2)])
        self.geometry = nn.Linear(6, c.attention)  # where the glimpses are: p1, p2, p2 - p1
        self.geometry_gate = nn.Linear(qd, c.attention)  # which of those facts the question asks about
        self.drop = nn.Dropout(c.dropout)
        self.hidden_layer = nn.Linear(c.fused + qd + 2 * c.film + 6 + c.attention, c.fused)
        self.classify = nn.Linear(c.fused, len(c.answers))

    # --- the two readers ------------------------------------------------------------------

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, S, S) floats in [0, 1] -> features (B, C, G, G). Cache these."""
        return self.encoder(images)

    def read_questions(self, ids: torch.Tensor, lengths: torch.Tensor):
        """ids (N, T) padded with 0, lengths (N,) -> (h_t for every word (N, T, H), q (N, 2H)).

        q is h_T, the state after the last word, beside the largest value each unit took
        over the words: a unit that marks "left" keeps its mark however many words follow.
        """
        out, _ = self.lstm(self.embed(ids))  # (N, T, H); padding comes after: it never changes h_t
        lengths = lengths.to(out.device)
        last = out[torch.arange(out.shape[0], device=out.device), (lengths - 1).clamp(min=0)]  # (N, H)
        words = torch.arange(out.shape[1], device=out.device)[None, :, None] < lengths[:, None, None]  # (N, T, 1)
        most = out.masked_fill(~words, -1.0).amax(dim=1)  # (N, H); h is in (-1, 1)
        return out, torch.cat([last, most], dim=1)

    def fuse(self, features: torch.Tensor, q: torch.Tensor, glimpses: bool = False):
        """features (N, C, G, G), one row per question, q (N, 2H) -> logits (N, n_answers)
        (and, with `glimpses`, the two glimpses' weights (N, 2, G*G))."""
        n = features.shape[0]
        x = torch.cat([features, self.coords.expand(n, -1, -1, -1)], dim=1)  # (N, C + 2, G, G)
        r = F.relu(self.reduce(x))  # (N, K, G, G)
        steer = self.steer(q).view(n, len(self.blocks), 2, -1)  # (N, 2 blocks, gamma|beta, K)
        for i, block in enumerate(self.blocks):
            r = block(r, steer[:, i, 0], steer[:, i, 1])  # (N, K, G, G)
        v = F.relu(self.spatial(F.relu(self.squeeze(r)).flatten(1)))  # (N, D)
        cells = r.flatten(2).transpose(1, 2)  # (N, L, K)
        where = self.coords.flatten(2).transpose(1, 2)  # (1, L, 2)
        e1 = self.look_score[0](torch.tanh(self.look_cell[0](cells) + self.look_query[0](q)[:, None]))  # (N, L, 1)
        a1 = torch.softmax(e1.squeeze(-1), dim=-1)  # (N, L)
        c1, p1 = a1[:, None] @ cells, a1[:, None] @ where  # (N, 1, K), (N, 1, 2)
        query2 = self.look_query[1](torch.cat([q, c1[:, 0], p1[:, 0]], dim=1))  # (N, A')
        e2 = self.look_score[1](torch.tanh(self.look_cell[1](cells) + self.look_where(where - p1) + query2[:, None]))
        a2 = torch.softmax(e2.squeeze(-1), dim=-1)  # (N, L)
        c2, p2 = a2[:, None] @ cells, a2[:, None] @ where  # (N, 1, K), (N, 1, 2)
        places = torch.cat([p1[:, 0], p2[:, 0], p2[:, 0] - p1[:, 0]], dim=1)  # (N, 6)
        facts = F.relu(self.geometry(places)) * self.geometry_gate(q)  # (N, A'): "is it left of ...?"
        seen = torch.cat([self.drop(torch.cat([v, q, c1[:, 0], c2[:, 0]], dim=1)), places, facts], dim=1)
        logits = self.classify(self.drop(F.relu(self.hidden_layer(seen))))  # (N, A)
        return (logits, torch.stack([a1, a2], dim=1)) if glimpses else logits

    def forward(self, images: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor,
                image_of: torch.Tensor | None = None, glimpses: bool = False):
        """Logits (N, n_answers) for N questions; question n is about image image_of[n]
        (default: the n-th), so that a picture asked several questions is encoded once.
        With `glimpses`, also the glimpses' weights (N, 2, G*G)."""
        feats = self.encode(images)  # (B, C, G, G)
        if image_of is not None:
            feats = feats[image_of]  # (N, C, G, G)
        _, q = self.read_questions(ids, lengths)
        return self.fuse(feats, q, glimpses)

    # --- asking ---------------------------------------------------------------------------

    def questions_tensor(self, questions: list[list[int]], device=None):
        """Index lists -> (ids (N, T) padded with 0, lengths (N,))."""
        device = device or self.classify.weight.device
        longest = max(1, max(len(q) for q in questions))
        ids = torch.zeros((len(questions), longest), dtype=torch.long)
        for n, q in enumerate(questions):
            ids[n, : len(q)] = torch.tensor(q, dtype=torch.long)
        lengths = torch.tensor([max(1, len(q)) for q in questions], dtype=torch.long)
        return ids.to(device), lengths

    @torch.no_grad()
    def encode_image(self, image: np.ndarray) -> torch.Tensor:
        """One (S, S, 3) uint8 RGB picture of config.image_size -> its features (1, C, G, G).

        Make any picture that size with `rnnstudio.data.images.fit_square` first.
        """
        s = self.config.image_size
        if not isinstance(image, np.ndarray) or image.shape != (s, s, 3) or image.dtype != np.uint8:
            shape = getattr(image, "shape", None)
            raise ValueError(f"encode_image needs an ({s}, {s}, 3) uint8 RGB array, not {shape}; use fit_square")
        self.eval()
        return self.encode(images_to_tensor([image], self.classify.weight.device))

    @torch.no_grad()
    def answer(self, features: torch.Tensor, question: str, topk: int = 3) -> VQAAnswer:
        """Answer one question about a picture whose features `encode_image` gave.

        Raises QuestionError for an empty or overlong question, or one without a known word.
        """
        if topk < 1:
            raise ValueError("topk must be at least 1")
        self.eval()
        tokens = self.tokenizer(question)
        ids, lengths = self.questions_tensor([tokens.ids])
        hidden, q = self.read_questions(ids, lengths)  # (1, T, H), (1, H)
        feats = features if features.dim() == 4 else features[None]
        logits, looks = self.fuse(feats[:1].to(q.device), q, glimpses=True)
        probs = torch.softmax(logits, dim=-1)[0].float().cpu().numpy()
        g = self.config.grid
        order = np.argsort(-probs, kind="stable")[: min(topk, len(self.answers))]
        return VQAAnswer(
            question=question,
            words=list(tokens.words),
            unknown_words=list(tokens.unknown),
            answers=[(self.answers[i], float(probs[i])) for i in order],
            probs=probs.astype(np.float32),
            hidden=hidden[0].float().cpu().numpy().astype(np.float32),
            glimpses=looks[0].float().cpu().numpy().reshape(2, g, g).astype(np.float32),
        )

    @torch.no_grad()
    def predict(self, features: torch.Tensor, questions: list[list[int]]) -> np.ndarray:
        """The likeliest answer index for each question (row n about features[n]): for evaluation."""
        self.eval()
        ids, lengths = self.questions_tensor(questions, features.device)
        _, q = self.read_questions(ids, lengths)
        return self.fuse(features, q).argmax(dim=-1).cpu().numpy()


# --- model files --------------------------------------------------------------------------


@dataclass
class LoadedVQA:
    model: VQAModel
    vocab: list[str]
    answers: list[str]
    trained: dict
    path: object = None


def _state_tensors(model: VQAModel) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def save_vqa(path, model: VQAModel, trained: dict) -> None:
    from rnnstudio.nn.modelfile import ModelFile, save_model_file

    save_model_file(path, ModelFile(task=TASK, config=model.config.to_dict(), vocab=list(model.vocab),
                                    tensors=_state_tensors(model), trained=trained))


def load_vqa(path, device: str | torch.device = "cpu") -> LoadedVQA:
    """Load a VQA model file, refusing one of another task, a newer format or wrong tensors."""
    from rnnstudio.nn.modelfile import load_word_model

    model, mf = load_word_model(path, TASK, SPECIALS, VQAConfig, VQAModel, device)
    return LoadedVQA(model=model, vocab=mf.vocab, answers=list(model.config.answers), trained=mf.trained, path=mf.path)
