"""Sentiment classifiers: "many to one", the label of a whole sentence from its last state.

Words w_1 .. w_T (rnnstudio.data.sentiment.tokenize) are read one at a time:

    x_t = E[w_t]                                     (E)    a learned word embedding
    h_t = f(x_t, h_(t-1)),  h_0 = 0                  (H)    vanilla RNN (tanh), GRU or LSTM
      bag of words instead:  h_t = (x_1 + ... + x_t) / t   (E)    no order at all
    p_t = sigmoid(w . h_t + b)                              p(positive) after word t

The label is p_T's, from the last state only. Because the recurrence is causal (no word
after t changes h_t), p_t is exactly what the model says of the sentence cut after word
t: the per-word curve is the prediction "as it forms", and the training loss only ever
sees p_T:

    L = -[q log p_T + (1 - q) log(1 - p_T)]           q: the target, 1 positive, 0 negative
                                                      (or sigmoid(k x rating): rnnstudio.train.sentiment)

`read(text)` gives, for one text: p_t after every word, which words the model knows,
two measures of how much each word moved the prediction, and the hidden states:

- contribution_t = p_t - p_(t-1), with p_0 = sigmoid(b) (h_0 = 0: before any word): the
  change when word t is read. They sum to p_T - p_0. Cheap and exact, but blind to what a
  word does later (a "not" moves little when read and a lot through the next word).
- salience_t: integrated gradients (Sundararajan et al. 2017) of p_T with respect to the
  embedding x_t, from the baseline x'_t = E[<unk>] (every word replaced by the word the
  model does not know: the salience of a word is what knowing it was worth):

      IG_t = sum_e (x_t,e - x'_t,e) * integral_0^1 d p_T(x' + a (x - x')) / d x_t,e  da

  the integral by the trapezoid rule, IG_STEPS intervals (one batch of IG_STEPS + 1
  rows). By completeness, sum_t IG_t = p_T(x) - p_T(x'); where the rule misses that by
  more than IG_TOLERANCE the intervals are halved (the new midpoints only), up to
  IG_MAX_STEPS. The vanilla RNN needs that: its p_T can swing sharply as its inputs move
  along the path (its gradients explode), where the LSTM's and GRU's move smoothly.
  `salience_error` reports what is left. (<unk> rather than zero vectors: the model has
  read <unk> in training; a sentence of zero vectors is far from anything it has seen, and
  there the vanilla RNN's path was twice as often too rough for 32 intervals.)

`gradient_reach` gives |d p_T / d x_t| per word: how strongly the prediction can still
feel a word t steps back (it fades fast in a vanilla RNN, slowly in an LSTM).

VADER (Hutto & Gilbert 2014, the `vaderSentiment` package), the rule-based baseline,
is wrapped at the end: its compound score c in [-1, 1] read as p(positive) = (c + 1) / 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from rnnstudio.data.sentiment import PAD, SPECIALS, UNK, Token, Vocabulary, tokenize
from rnnstudio.errors import UserError
from rnnstudio.nn.modelfile import ModelConfig

TASK = "sentiment"
ARCHS = ("rnn", "gru", "lstm", "bow")
RECURRENT = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
ARCH_TITLES = {"rnn": "vanilla RNN", "gru": "GRU", "lstm": "LSTM", "bow": "bag of words"}
IG_STEPS = 16  # trapezoid intervals of the integrated-gradients integral (17 forward rows, one batch)
IG_TOLERANCE = 0.01  # ... halved while sum_t IG_t misses p_T(x) - p_T(baseline) by more than this
IG_MAX_STEPS = 64  # ... but not beyond this many (the vanilla RNN's worst sentences: ~3 ms more)
MAX_READ_TOKENS = 1_000  # `read` refuses longer texts: a screen of text is a few hundred
MAX_READ_CHARS = 100_000  # ... and texts far too long to be worth tokenising (~15,000 words)
PROJECTION_PREFIX = "projection."  # the 2-D projection's tensors in a model file


class SentimentTextError(UserError):
    """A text the models cannot read: empty, too long, or without one known word.

    `details` holds the unknown words, when that is the trouble.
    """


@dataclass(frozen=True)
class SentimentConfig(ModelConfig):
    vocab_size: int
    arch: str = "lstm"  # rnn (vanilla tanh RNN) | gru | lstm | bow (mean of the embeddings, no order)
    embed: int = 64  # word embedding size
    hidden: int = 128  # recurrent units (the bag of words has none: its state is the mean embedding)
    layers: int = 1  # stacked recurrent layers; the readout reads the top one
    dropout: float = 0.3  # on the embeddings, between layers and before the readout, in training only

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, not {self.arch!r}")
        if min(self.vocab_size, self.embed, self.hidden, self.layers) < 1:
            raise ValueError("vocab_size, embed, hidden and layers must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")

    @property
    def state_size(self) -> int:
        """The width of h_t: hidden units, or the embedding size for the bag of words."""
        return self.embed if self.arch == "bow" else self.hidden


@dataclass
class SentimentReading:
    """One text read by one model, as plain Python and numpy (T tokens, S = state size)."""

    text: str
    tokens: list[Token]  # with their spans in `text`, for colouring
    known: np.ndarray  # (T,) bool: False where the model read <unk>
    unknown: list[str]  # the unknown tokens' texts, each once, in order
    p_positive: np.ndarray  # (T,) float32: p(positive) after each token; the last is the prediction
    p_start: float  # p before any word (h_0 = 0)
    contributions: np.ndarray  # (T,) p_t - p_(t-1): the change when each token is read
    salience: np.ndarray | None  # (T,) integrated gradients of p_T on each token's embedding (baseline: <unk>)
    p_baseline: float | None  # p_T with every token read as <unk>: salience sums to about p_T - p_baseline
    salience_error: float | None  # |sum(salience) - (p_T - p_baseline)|: what the integration left over
    ig_steps: int  # the intervals the integral took (IG_STEPS, or more where needed; 0: no salience asked)
    states: np.ndarray  # (T, S) float32: h_t after each token (the top layer; the running mean for bow)
    path_2d: np.ndarray | None = None  # (T, 2) the states in the model's fitted projection, if it has one

    @property
    def p(self) -> float:
        """p(positive) of the whole text."""
        return float(self.p_positive[-1])

    @property
    def label(self) -> str:
        return "positive" if self.p >= 0.5 else "negative"

    @property
    def final_state(self) -> np.ndarray:
        """(S,) the last state, the one the label is read from."""
        return self.states[-1]


@dataclass
class GradientReach:
    """|d p_T / d x_t| for each token of a text: how much the prediction feels word t."""

    tokens: list[Token]
    reach: np.ndarray  # (T,) float32: the gradient's L2 norm over the embedding of token t
    distance: np.ndarray  # (T,) int: tokens from the end (0 for the last)


class SentimentClassifier(nn.Module):
    def __init__(self, config: SentimentConfig, vocab: list[str]):
        super().__init__()
        if len(vocab) != config.vocab_size:
            raise ValueError("the vocabulary does not have config.vocab_size words")
        self.config = c = config
        self.vocabulary = Vocabulary(list(vocab))  # checks it starts with <pad> <unk>
        self.vocab = self.vocabulary.words
        self.embed = nn.Embedding(c.vocab_size, c.embed, padding_idx=0)
        if c.arch in RECURRENT:
            kwargs = dict(input_size=c.embed, hidden_size=c.hidden, num_layers=c.layers, batch_first=True,
                          dropout=c.dropout if c.layers > 1 else 0.0)
            self.rnn = RECURRENT[c.arch](**kwargs)
            if c.arch == "lstm":
                _open_forget_gates(self.rnn)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.state_size, 1)

    # --- reading ------------------------------------------------------------------------------

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B, T), padded with 0 after each sentence -> (logits (B, T), states (B, T, S)).

        logits[:, t] is the readout after word t: the sentence's logit is at its last word
        (padding comes after, and never changes an earlier state).
        """
        return self.forward_embedded(self.drop(self.embed(ids)))  # (B, T, E) in

    def forward_embedded(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings x (B, T, E) -> (logits (B, T), states (B, T, S)): for gradients on the inputs."""
        if self.config.arch == "bow":
            counts = torch.arange(1, x.shape[1] + 1, device=x.device, dtype=x.dtype)  # (T,)
            states = x.cumsum(dim=1) / counts[None, :, None]  # (B, T, E): the mean of the words so far
        else:
            states, _ = self.rnn(x)  # (B, T, H)
        logits = self.head(self.drop(states)).squeeze(-1)  # (B, T)
        return logits, states

    def final_logits(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B, T) padded, lengths (B,) -> (the logit after each sentence's last word (B,), its state (B, S))."""
        logits, states = self(ids)  # (B, T), (B, T, S)
        last = (lengths.to(ids.device) - 1).clamp(min=0)  # (B,)
        rows = torch.arange(ids.shape[0], device=ids.device)
        return logits[rows, last], states[rows, last]

    def p_start(self) -> float:
        """p(positive) before any word: the readout of h_0 = 0, sigmoid(b)."""
        return float(torch.sigmoid(self.head.bias.detach()[0]))

    # --- one text, for the panel -----------------------------------------------------------

    def tokens_for(self, text: str) -> tuple[list[Token], list[int], list[str]]:
        """(tokens, ids, unknown words), or SentimentTextError for a text the model cannot read."""
        if not isinstance(text, str):
            raise TypeError("the text must be a str")
        if len(text) > MAX_READ_CHARS:
            raise SentimentTextError(
                f"the text is {len(text):,} characters long; the sentiment models read at most "
                f"{MAX_READ_CHARS:,}: read a sentence or a paragraph at a time"
            )
        if not text.strip():
            raise SentimentTextError("the text is empty; type a sentence, such as 'not bad at all'")
        tokens = tokenize(text)
        if not tokens:
            raise SentimentTextError("the text has no words, only spaces or control characters; type a sentence")
        if len(tokens) > MAX_READ_TOKENS:
            raise SentimentTextError(
                f"the text has {len(tokens):,} words and marks; the sentiment models read at most "
                f"{MAX_READ_TOKENS:,} at a time: read a sentence or a paragraph at a time"
            )
        ids = self.vocabulary.encode(t.text for t in tokens)
        unk = self.vocabulary.unk
        unknown = list(dict.fromkeys(t.text for t, i in zip(tokens, ids) if i == unk))
        if all(i == unk for i in ids):
            shown = ", ".join(unknown[:6]) + (" ..." if len(unknown) > 6 else "")
            raise SentimentTextError(
                f"the model knows none of the words of the text ({shown}); it learnt English from movie "
                f"reviews, tweets, product reviews and editorials: try 'the film was not good'",
                details=unknown,
            )
        return tokens, ids, unknown

    def read(self, text: str, projection: SentimentProjection | None = None,
             ig_steps: int = IG_STEPS, max_steps: int = IG_MAX_STEPS, salience: bool = True) -> SentimentReading:
        """Read `text`: p(positive) after every token, what each token did, the states.

        One batch of ig_steps + 1 rows (the points baseline + a (x - baseline), a = 0,
        1/ig_steps, .. 1) forward and backward gives everything: the row a = 1 is the text
        itself (the curve, the states), a = 0 the baseline, and the gradients of p_T along
        the rows make the integrated gradients, refined up to max_steps intervals where they
        miss completeness. With salience=False only the text's own row is run, without
        gradients (about a fifth of the time): salience, p_baseline and salience_error are
        None, ig_steps 0. Raises SentimentTextError for an empty or overlong text, or one
        without a single known word (the unknown words in `details`).
        """
        if ig_steps < 1 or max_steps < 1:
            raise ValueError("ig_steps and max_steps must be at least 1")
        tokens, ids, unknown = self.tokens_for(text)
        was_training = self.training
        self.eval()
        try:  # inference_mode(False): a caller's inference mode would forbid the gradients
            with torch.inference_mode(False):
                return self._read(text, tokens, ids, unknown, projection, ig_steps if salience else 0, max_steps)
        finally:
            self.train(was_training)

    def _read(self, text, tokens, ids, unknown, projection, ig_steps, max_steps) -> SentimentReading:
        device = self.head.weight.device
        with torch.no_grad():
            x = self.embed(torch.tensor([ids], dtype=torch.long, device=device))  # (1, T, E)
            baseline = self.embed.weight[self.vocabulary.unk].detach().expand_as(x)  # (1, T, E)
        if not ig_steps:
            with torch.no_grad():
                logits, states = self.forward_embedded(x)  # (1, T), (1, T, S)
            return self._reading(text, tokens, ids, unknown, projection, torch.sigmoid(logits[0]), states[0])
        alphas = torch.linspace(0.0, 1.0, ig_steps + 1, device=device)  # (K,)
        grads, logits, states = self._path_gradients(x, baseline, alphas)  # (K, T, E), (K, T), (K, T, S)
        weights = torch.full_like(alphas, 1.0 / ig_steps)  # (K,) the trapezoid rule
        weights[0] = weights[-1] = 0.5 / ig_steps
        mean_grad = (weights[:, None, None] * grads).sum(dim=0)  # (T, E)
        p = torch.sigmoid(logits)  # (K, T)
        p_text, p_baseline = float(p[-1, -1]), float(p[0, -1])
        difference = (x - baseline)[0]  # (T, E)
        salience = (mean_grad * difference).sum(dim=-1)  # (T,)
        error = abs(float(salience.sum()) - (p_text - p_baseline))
        while error > IG_TOLERANCE and 2 * ig_steps <= max_steps:
            # Halve the intervals: the trapezoid rule on 2n is the mean of the rule on n and the midpoint rule on n.
            midpoints = (torch.arange(ig_steps, device=device, dtype=x.dtype) + 0.5) / ig_steps  # (n,)
            mid_grads, _, _ = self._path_gradients(x, baseline, midpoints)  # (n, T, E)
            mean_grad = (mean_grad + mid_grads.mean(dim=0)) / 2
            ig_steps *= 2
            salience = (mean_grad * difference).sum(dim=-1)  # (T,)
            error = abs(float(salience.sum()) - (p_text - p_baseline))
        return self._reading(text, tokens, ids, unknown, projection, p[-1], states[-1],
                             salience, p_baseline, error, ig_steps)

    def _reading(self, text, tokens, ids, unknown, projection, p, states, salience=None, p_baseline=None,
                 error=None, ig_steps=0) -> SentimentReading:
        """The reading from the text's own row: p (T,), states (T, S), and the integrated gradients if computed."""
        curve = p.float().cpu().numpy().astype(np.float32)  # (T,)
        state_rows = states.float().cpu().numpy().astype(np.float32)  # (T, S)
        p_start = self.p_start()
        unk = self.vocabulary.unk
        return SentimentReading(
            text=text,
            tokens=tokens,
            known=np.array([i != unk for i in ids], dtype=bool),
            unknown=unknown,
            p_positive=curve,
            p_start=p_start,
            contributions=np.diff(curve, prepend=np.float32(p_start)).astype(np.float32),
            salience=None if salience is None else salience.float().cpu().numpy().astype(np.float32),
            p_baseline=p_baseline,
            salience_error=error,
            ig_steps=ig_steps,
            states=state_rows,
            path_2d=projection.project(state_rows) if projection is not None else None,
        )

    def _path_gradients(self, x: torch.Tensor, baseline: torch.Tensor, alphas: torch.Tensor):
        """d p_T / d x at the points baseline + a (x - baseline), one row per a (K,): (grads (K, T, E),
        logits (K, T), states (K, T, S)), all detached."""
        points = (baseline + alphas[:, None, None] * (x - baseline)).requires_grad_(True)  # (K, T, E)
        with torch.enable_grad():
            logits, states = self.forward_embedded(points)  # (K, T), (K, T, S)
            # Rows are separate sentences: the gradient of the sum is each row's own gradient.
            (grads,) = torch.autograd.grad(torch.sigmoid(logits[:, -1]).sum(), points)
        return grads, logits.detach(), states.detach()

    def gradient_reach(self, text_or_ids: str | list[int]) -> GradientReach:
        """|d p_T / d x_t| for every token t of a text (or a list of word indices): the L2 norm,
        over the embedding's components, of the gradient of the final p(positive) with respect to
        token t's embedding. Plotted against the distance from the end, it shows how far back
        the prediction still feels a word (a vanilla RNN's falls off fast; an LSTM's slowly)."""
        if isinstance(text_or_ids, str):
            tokens, ids, _ = self.tokens_for(text_or_ids)
        else:
            ids = [int(i) for i in text_or_ids]
            if not ids or len(ids) > MAX_READ_TOKENS or min(ids) < 0 or max(ids) >= self.config.vocab_size:
                raise ValueError(f"ids must be 1 to {MAX_READ_TOKENS} indices into the vocabulary")
            tokens = [Token(self.vocab[i], n, n + 1, "word") for n, i in enumerate(ids)]  # spans count words
        was_training = self.training
        self.eval()
        try:
            device = self.head.weight.device
            with torch.inference_mode(False), torch.enable_grad():
                x = self.embed(torch.tensor([ids], dtype=torch.long, device=device)).detach()  # (1, T, E)
                x.requires_grad_(True)
                logits, _ = self.forward_embedded(x)  # (1, T)
                (grad,) = torch.autograd.grad(torch.sigmoid(logits[0, -1]), x)  # (1, T, E)
        finally:
            self.train(was_training)
        reach = grad[0].norm(dim=-1).float().cpu().numpy().astype(np.float32)  # (T,)
        return GradientReach(tokens=tokens, reach=reach, distance=np.arange(len(ids))[::-1].copy())

    # --- many sentences, for evaluation -------------------------------------------------------

    @torch.no_grad()
    def predict_ids(self, sentences: list[list[int]], batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """p(positive) (N,) and final states (N, S) of sentences given as index lists.

        Sentences are batched by length (less padding); an empty one is read as a single <unk>.
        """
        was_training = self.training
        self.eval()
        device = self.head.weight.device
        order = sorted(range(len(sentences)), key=lambda n: len(sentences[n]))
        p = np.zeros(len(sentences), dtype=np.float32)
        finals = np.zeros((len(sentences), self.config.state_size), dtype=np.float32)
        try:
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                ids, lengths = pad_batch([sentences[n] for n in rows], self.vocabulary.unk, device)
                logits, states = self.final_logits(ids, lengths)  # (b,), (b, S)
                p[rows] = torch.sigmoid(logits).float().cpu().numpy()
                finals[rows] = states.float().cpu().numpy()
        finally:
            self.train(was_training)
        return p, finals


def _open_forget_gates(lstm: nn.LSTM) -> None:
    """Start each forget gate's bias at 1 (Jozefowicz et al. 2015): the cell keeps what it
    holds until it learns not to, so early gradients reach the first words."""
    h = lstm.hidden_size
    with torch.no_grad():
        for name, bias in lstm.named_parameters():
            if name.startswith("bias_ih"):
                bias[h : 2 * h].fill_(1.0)  # PyTorch's gate order: input, forget, cell, output
            elif name.startswith("bias_hh"):
                bias[h : 2 * h].fill_(0.0)


def pad_batch(sentences: list[list[int]], unk: int = 1, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Index lists -> (ids (B, T) padded with 0 = <pad> after each, lengths (B,)). An empty list
    becomes one <unk>, so that every sentence has a last word to read the label from."""
    rows = [s if s else [unk] for s in sentences]
    longest = max(len(s) for s in rows)
    ids = torch.zeros((len(rows), longest), dtype=torch.long)
    for n, s in enumerate(rows):
        ids[n, : len(s)] = torch.tensor(s, dtype=torch.long)
    lengths = torch.tensor([len(s) for s in rows], dtype=torch.long)
    return ids.to(device) if device is not None else ids, lengths


# --- what training leaves beside the weights -------------------------------------------------


@dataclass
class SentimentProjection:
    """A 2-D view of the states: PCA fitted once on the training sentences' final states.

    project(h) = (h - mean) @ components.T. `cloud` holds some training sentences' final
    states so projected, `cloud_labels` their labels (1 positive, 0 negative), so that a
    panel can draw them without the training data.
    """

    mean: np.ndarray  # (S,)
    components: np.ndarray  # (2, S), orthonormal rows, the directions of largest variance first
    cloud: np.ndarray  # (N, 2)
    cloud_labels: np.ndarray  # (N,) int8

    def project(self, states: np.ndarray) -> np.ndarray:
        """states (..., S) -> (..., 2)."""
        return ((np.asarray(states, dtype=np.float32) - self.mean) @ self.components.T).astype(np.float32)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            PROJECTION_PREFIX + "mean": torch.from_numpy(self.mean.astype(np.float32)),
            PROJECTION_PREFIX + "components": torch.from_numpy(self.components.astype(np.float32)),
            PROJECTION_PREFIX + "cloud": torch.from_numpy(self.cloud.astype(np.float32)),
            PROJECTION_PREFIX + "cloud_labels": torch.from_numpy(self.cloud_labels.astype(np.float32)),
        }


def fit_projection(final_states: np.ndarray, labels: np.ndarray, cloud_size: int = 2000, seed: int = 0
                   ) -> SentimentProjection:
    """PCA of final states (N, S) to 2-D, and a random sample of up to `cloud_size` of them projected."""
    states = torch.from_numpy(np.asarray(final_states, dtype=np.float64))  # (N, S)
    mean = states.mean(dim=0)  # (S,)
    _, _, vh = torch.linalg.svd(states - mean, full_matrices=False)  # vh (min(N, S), S)
    components = vh[:2]  # (2, S)
    if components.shape[0] < 2:  # one sentence or a 1-wide state: pad with a zero direction
        components = torch.cat([components, torch.zeros(2 - components.shape[0], states.shape[1], dtype=states.dtype)])
    # The sign of a principal direction is arbitrary: point the first one towards the positive sentences.
    labels = np.asarray(labels)
    projected = ((states - mean) @ components.T).numpy()  # (N, 2)
    if (labels == 1).any() and (labels == 0).any():
        if projected[labels == 1, 0].mean() < projected[labels == 0, 0].mean():
            components[0] = -components[0]
            projected[:, 0] = -projected[:, 0]
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.permutation(len(states))[:cloud_size])
    return SentimentProjection(
        mean=mean.numpy().astype(np.float32),
        components=components.numpy().astype(np.float32),
        cloud=projected[pick].astype(np.float32),
        cloud_labels=labels[pick].astype(np.int8),
    )


def find_sentiment_unit(final_states: np.ndarray, labels: np.ndarray) -> dict:
    """The unit whose final value alone best predicts the label, with one threshold.

    For each unit, every threshold between its sorted values is tried, in both directions
    (above means positive, or above means negative). Returns {"index", "sign" (+1: high
    values mean positive), "threshold", "accuracy"} on the states given.
    """
    values = np.asarray(final_states, dtype=np.float64)  # (N, S)
    y = np.asarray(labels).astype(np.int64)  # (N,)
    n = len(y)
    order = np.argsort(values, axis=0, kind="stable")  # (N, S)
    sorted_y = y[order]  # (N, S)
    # Cut before sorted position k (k = 0..N): below the cut say negative, from it on positive.
    positives_below = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(sorted_y, axis=0)])  # (N+1, S)
    negatives_below = np.arange(n + 1)[:, None] - positives_below
    positives_total = y.sum()
    right_up = (negatives_below + (positives_total - positives_below)) / n  # (N+1, S) high = positive
    right_down = 1.0 - right_up  # high = negative
    best_up, best_down = right_up.max(axis=0), right_down.max(axis=0)  # (S,)
    accuracy = np.maximum(best_up, best_down)
    unit = int(np.argmax(accuracy))
    sign = 1 if best_up[unit] >= best_down[unit] else -1
    k = int(np.argmax(right_up[:, unit] if sign > 0 else right_down[:, unit]))
    column = values[order[:, unit], unit]
    if k == 0:
        threshold = column[0] - 1.0
    elif k == n:
        threshold = column[-1] + 1.0
    else:
        threshold = (column[k - 1] + column[k]) / 2
    return {"index": unit, "sign": sign, "threshold": float(threshold), "accuracy": float(accuracy[unit])}


def unit_accuracy(final_states: np.ndarray, labels: np.ndarray, unit: dict) -> float:
    """How often `unit` (from find_sentiment_unit) gets the label right on other states."""
    values = np.asarray(final_states)[:, unit["index"]]
    said = (values > unit["threshold"]) if unit["sign"] > 0 else (values <= unit["threshold"])
    return float((said.astype(np.int64) == np.asarray(labels)).mean())


# --- model files ---------------------------------------------------------------------------


@dataclass
class LoadedSentiment:
    """A sentiment model file: the model, what its training left beside it, and `read`.

    The sentiment unit's value after each word of a reading is
    reading.states[:, sentiment_unit["index"]]; "sign" +1 means high values say positive.
    """

    model: SentimentClassifier
    trained: dict
    projection: SentimentProjection | None  # None for a file saved without one
    sentiment_unit: dict | None  # find_sentiment_unit's answer (plus accuracy_valid), if fitted
    label_threshold: float  # |mean rating| beyond which training sentences were labelled
    path: object = None

    @property
    def arch(self) -> str:
        return self.model.config.arch

    def read(self, text: str, ig_steps: int = IG_STEPS, max_steps: int = IG_MAX_STEPS,
             salience: bool = True) -> SentimentReading:
        """model.read with the file's projection: the reading's path_2d is filled in."""
        return self.model.read(text, self.projection, ig_steps, max_steps, salience)


def save_sentiment(path, model: SentimentClassifier, trained: dict, projection: SentimentProjection | None = None
                   ) -> None:
    """Write a sentiment model file atomically (task "sentiment", the words in the header's vocab).

    `trained` is JSON: steps, settings, metrics, and under "data" the label rule and its
    "label_threshold", the split, and under "sentiment_unit" find_sentiment_unit's answer.
    """
    from rnnstudio.nn.modelfile import ModelFile, save_model_file

    tensors = dict(model.state_dict())
    if projection is not None:
        tensors.update(projection.tensors())
    save_model_file(path, ModelFile(task=TASK, config=model.config.to_dict(), vocab=list(model.vocab),
                                    tensors=tensors, trained=trained))


def load_sentiment(path, device: str | torch.device = "cpu") -> LoadedSentiment:
    """Load a sentiment model file, refusing (ModelFileError) one of another task, a newer
    format, a damaged vocabulary, or tensors that do not fit its config."""
    from rnnstudio.data.sentiment import LABEL_THRESHOLD
    from rnnstudio.errors import ModelFileError
    from rnnstudio.nn.modelfile import build_for_file, check_tensors_match, load_model_file

    mf = load_model_file(path, TASK)
    vocab = mf.vocab
    if not isinstance(vocab, list) or len(vocab) <= len(SPECIALS) or not all(isinstance(w, str) and w for w in vocab):
        raise ModelFileError(f"{path} has a damaged vocabulary: it must be a list of words")
    if vocab[: len(SPECIALS)] != SPECIALS or len(set(vocab)) != len(vocab):
        raise ModelFileError(f"{path} has a damaged vocabulary: it must start with {PAD} {UNK} and list each word once")
    try:
        config = SentimentConfig.from_dict({**mf.config, "vocab_size": len(vocab)})
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{path} has an invalid config: {e}") from None
    weights = {k: v for k, v in mf.tensors.items() if not k.startswith(PROJECTION_PREFIX)}
    if config.arch in RECURRENT and config.layers > sum(k.startswith("rnn.weight_ih_l") for k in weights):
        raise ModelFileError(f"{path} does not match its config: it holds fewer layers than its config says")
    model = build_for_file(path, lambda: SentimentClassifier(config, vocab))
    expected = model.state_dict()
    check_tensors_match(mf.path, expected, weights)
    extra = sorted(set(weights) - set(expected))
    if extra:
        raise ModelFileError(f"{path} does not match its config: unexpected tensor {extra[0]}")
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    model.to(device).eval()
    projection = _projection_from(mf.path, mf.tensors, config.state_size)
    trained = mf.trained if isinstance(mf.trained, dict) else {}
    unit = trained.get("sentiment_unit")
    if unit is not None and not (isinstance(unit, dict) and isinstance(unit.get("index"), int)
                                 and 0 <= unit["index"] < config.state_size):
        raise ModelFileError(f"{path} has damaged metadata: its sentiment unit is not one of the model's units")
    data = trained.get("data") if isinstance(trained.get("data"), dict) else {}
    threshold = data.get("label_threshold", LABEL_THRESHOLD)
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
        raise ModelFileError(f"{path} has damaged metadata: the label threshold is not a number")
    return LoadedSentiment(model=model, trained=trained, projection=projection, sentiment_unit=unit,
                           label_threshold=float(threshold), path=mf.path)


def _projection_from(path, tensors: dict[str, torch.Tensor], state_size: int) -> SentimentProjection | None:
    from rnnstudio.errors import ModelFileError

    names = ("mean", "components", "cloud", "cloud_labels")
    found = {n: tensors.get(PROJECTION_PREFIX + n) for n in names}
    if all(t is None for t in found.values()):
        return None
    shapes = {n: tuple(t.shape) if t is not None else None for n, t in found.items()}
    cloud = shapes["cloud"]
    ok = (shapes["mean"] == (state_size,) and shapes["components"] == (2, state_size)
          and cloud is not None and len(cloud) == 2 and cloud[1] == 2 and shapes["cloud_labels"] == (cloud[0],)
          and all(found[n].is_floating_point() and bool(torch.isfinite(found[n]).all()) for n in names))
    if not ok:
        raise ModelFileError(f"{path} is damaged: its 2-D projection does not fit the model's {state_size}-wide states")
    return SentimentProjection(
        mean=found["mean"].float().numpy(),
        components=found["components"].float().numpy(),
        cloud=found["cloud"].float().numpy(),
        cloud_labels=found["cloud_labels"].numpy().astype(np.int8),
    )


# --- VADER, the rule-based baseline --------------------------------------------------------------


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_compound(text: str) -> float:
    """VADER's compound score of `text`, in [-1, 1] (0: no sentiment word found)."""
    return float(_vader().polarity_scores(text)["compound"])


@lru_cache(maxsize=4096)
def _prefix_compound(prefix: str) -> float:
    # Typing changes the end of a text: the prefixes before it were scored on the last keystroke.
    return vader_compound(prefix)


def compound_to_p(compound: float | np.ndarray):
    """VADER's compound score read as p(positive) = (c + 1) / 2: a straight map of [-1, 1] onto
    [0, 1], so that p > 0.5 exactly where VADER says positive (c > 0) and p = 0.5 where it
    finds no sentiment. It is not a calibrated probability: VADER's c = s / sqrt(s^2 + 15)
    squashes the sum s of its word scores, it does not estimate a chance."""
    return (np.asarray(compound, dtype=np.float64) + 1.0) / 2.0


def vader_p_positive(text: str, tokens: list[Token] | None = None) -> np.ndarray:
    """VADER's p(positive) after each token: of text[:end of token t] for every t, (T,) float32,
    on the same tokens as the models' (tokenize(text) unless given). About 0.1 ms a prefix;
    prefixes scored before are remembered (4,096 of them), so typing at the end costs one."""
    if tokens is None:
        tokens = tokenize(text)
    return np.array([compound_to_p(_prefix_compound(text[: t.end])) for t in tokens], dtype=np.float32)
