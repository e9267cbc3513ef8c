"""French-to-English translation: an encoder-decoder of GRU or LSTM cells, with additive
(Bahdanau) attention or without it (the bottleneck of the sequence to sequence task in docs/LECTURE-MAP.md).

    French tokens x_1 .. x_S --embed--> bidirectional RNN --> k_1 .. k_S     one state per French token (B, S, H)
    summary m = [forward state after x_S ; backward state after x_1]         all the decoder gets without attention
    s_0 = tanh(W_init m)                                                     the decoder's first state
    at each step t, from y_0 = <sos>:
        c_t = m                                     without attention: the same vector at every step
        or, with additive attention,
            e_ti = v . tanh(W_k k_i + W_q s_(t-1))  one score per French token
            a_t  = softmax(e_t)                     where the decoder looks (sums to 1 over the French tokens)
            c_t  = sum_i a_ti k_i                   what it sees there
        s_t = RNN([embed(y_(t-1)) ; c_t], s_(t-1))
        o_t = tanh(W_o [s_t ; c_t ; embed(y_(t-1))])                          (size E)
        P(y_t | y_<t, x) = softmax(E_en o_t + b)    the output layer shares the English embedding E_en

Training minimises L = -(1/N) sum_t log P(y*_t | y_<t, x), where y_(t-1) is the reference's
word (teacher forcing) with probability `teacher_forcing` and the model's own likeliest
word otherwise. Decoding is greedy or by beam search (width, length penalty, n-best list,
a forced prefix of English words); the beam can be recorded whole (`BeamTrace`) for a
tree view. `Translator.translate` goes from French text to English text and back to what a
panel or the command line shows (`TranslationResult.to_json`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnstudio.data.translation import (
    SPECIALS, UNK, Casing, Vocabulary, is_word, join_words, tokenize_english, tokenize_french,
)
from rnnstudio.errors import ModelFileError, UserError
from rnnstudio.nn.modelfile import ModelConfig

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}
ATTENTIONS = ("none", "additive")
TASK = "translate"
MAX_SOURCE_TOKENS = 60  # the training sentences have at most 25; longer text is several sentences
MAX_SOURCE_CHARS = 10_000  # checked before tokenising, so that a pasted book is refused at once
WHAT_IF_TOP = 5  # what step_top_k offers by default: the decoder's five likeliest next words


@dataclass(frozen=True)
class TranslatorConfig(ModelConfig):
    source_vocab_size: int
    target_vocab_size: int
    cell: str = "gru"  # gru | lstm, in the encoder and the decoder
    attention: str = "additive"  # additive (Bahdanau) | none (the decoder sees only the summary m)
    embed: int = 128  # word embedding size, French and English (and the output layer's o_t)
    hidden: int = 256  # decoder state; each of the encoder's two directions has half of it
    layers: int = 1  # stacked layers, in the encoder and the decoder
    dropout: float = 0.2  # on embeddings and before the output layer, during training only
    max_output: int = 30  # longest translation decoded, in tokens

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, not {self.cell!r}")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, not {self.attention!r}")
        sizes = (self.source_vocab_size, self.target_vocab_size, self.embed, self.hidden, self.layers, self.max_output)
        if min(sizes) < 1:
            raise ValueError("sizes must be positive")
        if min(self.source_vocab_size, self.target_vocab_size) <= len(SPECIALS):
            raise ValueError(f"each vocabulary needs words beyond the {len(SPECIALS)} special tokens")
        if self.hidden % 2:
            raise ValueError("hidden must be even: the encoder's two directions have half of it each")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")


class AdditiveAttention(nn.Module):
    """Bahdanau's score e_i = v . tanh(W_k k_i + W_q q), softmax over the French tokens, weighted sum."""

    def __init__(self, key_size: int, query_size: int, size: int):
        super().__init__()
        self.key = nn.Linear(key_size, size, bias=False)  # applied once per sentence: Encoded.keys_proj
        self.query = nn.Linear(query_size, size)
        self.score = nn.Linear(size, 1, bias=False)

    def forward(self, keys, keys_proj, mask, query):
        """keys (N, S, K), keys_proj (N, S, A), mask (N, S) True on real tokens, query (N, Q)
        -> context (N, K), weights (N, S)."""
        e = self.score(torch.tanh(keys_proj + self.query(query)[:, None, :])).squeeze(-1)  # (N, S)
        e = e.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(e, dim=-1)  # (N, S)
        context = torch.bmm(weights[:, None, :], keys).squeeze(1)  # (N, K)
        return context, weights


@dataclass
class Encoded:
    """A batch of French sentences read by the encoder: what every decoder step needs."""

    keys: torch.Tensor  # (B, S, H) the encoder's state at each French token
    keys_proj: torch.Tensor | None  # (B, S, H) W_k k_i, computed once (attention only)
    mask: torch.Tensor  # (B, S) True on real tokens, False on padding
    summary: torch.Tensor  # (B, H) m: the last forward and the first backward state

    def rows(self, index: torch.Tensor) -> Encoded:
        """The sentences at `index` (N,), repeated as needed (the hypotheses of a beam)."""
        proj = self.keys_proj[index] if self.keys_proj is not None else None
        return Encoded(self.keys[index], proj, self.mask[index], self.summary[index])


@dataclass
class ForcedLoss:
    loss: torch.Tensor  # scalar: mean negative log-likelihood per English token (<eos> included)
    nll: torch.Tensor  # (B, T) each step's negative log-likelihood, 0 on padding
    tokens: int  # English tokens counted (<eos> included, padding not)


@dataclass
class Hypothesis:
    """One translation a decoding found, as plain Python and numpy."""

    ids: list[int]  # English token indices, without <sos> and <eos>
    tokens: list[str]
    logprob: float  # total log-probability, <eos> included when finished
    score: float  # what the beam ranks by: logprob / ((5 + length) / 6) ** length_penalty
    token_logprobs: list[float]  # log P(token | tokens before, French), one per token (then <eos>'s if finished)
    attention: np.ndarray | None  # (len(tokens), S) float32, each row sums to 1; None without attention
    finished: bool  # ended with <eos>; False: cut at the length limit


@dataclass
class BeamNode:
    """One hypothesis the beam kept at a step: its newest token, scores and parent."""

    token: str
    logprob: float  # total log-probability of the hypothesis up to and including this token
    score: float  # logprob / length penalty, as the beam ranks finished hypotheses
    parent: int  # index of the node it extends in the previous step's list; -1 at the first step
    finished: bool = False  # this token is <eos>: the hypothesis ended here
    forced: bool = False  # a token of the forced prefix, not chosen by the beam
    winner: bool = False  # on the path of the best translation


@dataclass
class BeamTrace:
    """Every hypothesis the beam kept at each step, for drawing the search as a tree."""

    steps: list[list[BeamNode]] = field(default_factory=list)

    def path(self, step: int, index: int) -> list[BeamNode]:
        """The nodes from the first step to node `index` of `step`."""
        nodes = []
        while step >= 0 and index >= 0:
            node = self.steps[step][index]
            nodes.append(node)
            step, index = step - 1, node.parent
        return nodes[::-1]

    def _mark(self, step: int, index: int) -> None:
        for node in self.path(step, index):
            node.winner = True


@dataclass
class SourceReading:
    """A French text as the model reads it."""

    text: str
    typed: list[str]  # its tokens as typed
    unknown: list[int]  # positions in `typed` of the tokens the model does not know
    read: list[int]  # positions of the tokens the model reads: all but unknown signs (emoji, symbols)
    ids: list[int]  # the indices of those tokens, unknown words as <unk>

    def spread(self, attention: np.ndarray | None) -> np.ndarray | None:
        """Attention over the tokens read (T, len(read)) -> over the typed tokens (T, len(typed)), 0 where unread."""
        if attention is None:
            return None
        full = np.zeros((attention.shape[0], len(self.typed)), np.float32)
        full[:, self.read] = attention
        return full


@dataclass
class NBestEntry:
    translation: str
    tokens: list[str]
    logprob: float
    score: float


@dataclass
class TranslationResult:
    """A French text's translation, with everything a panel or the command line shows."""

    source: str  # the text as given
    source_tokens: list[str]  # the French tokens as typed
    unknown: list[str]  # French tokens the model does not know: read as <unk>, shown marked
    unknown_positions: list[int]  # their places in source_tokens
    read_positions: list[int]  # the places in source_tokens the model read (unknown signs are not read)
    tokens: list[str]  # the model's English tokens of the best translation (lower-case, n't 's split)
    words: list[str]  # each token as written in `translation` (cased; <unk> replaced by a copied French word)
    translation: str  # the best translation written as a person would
    attention: np.ndarray | None  # (len(tokens), len(source_tokens)): where each English token looked
    logprob: float
    nbest: list[NBestEntry]  # best first
    hypotheses: list[Hypothesis]  # the decodings behind nbest; their attention is over the tokens read

    def to_json(self) -> dict:
        """The command line's JSON: source, translation, tokens, source_tokens, attention, nbest, unknown."""
        attention = None
        if self.attention is not None:
            attention = [[round(float(a), 4) for a in row] for row in self.attention]
        return {
            "source": self.source,
            "translation": self.translation,
            "tokens": list(self.tokens),
            "source_tokens": list(self.source_tokens),
            "attention": attention,
            "nbest": [{"translation": n.translation, "logprob": round(n.logprob, 4)} for n in self.nbest],
            "unknown": list(self.unknown),
        }


@dataclass
class TopChoice:
    token: str
    logprob: float


@dataclass
class ForcingComparison:
    """One pair read with teacher forcing and run freely (exposure bias, step by step)."""

    reference: list[str]  # the reference's tokens, then <eos>
    teacher_forced_nll: list[float]  # -log P(reference token t | reference tokens before)
    free_tokens: list[str]  # what the model wrote feeding itself its own likeliest token, one a step,
    #   up to its own <eos> (then it has stopped: nothing after it is fed) or the reference's length
    free_running_nll: list[float]  # -log P(reference token t | the model's own tokens before), as long
    diverges_at: int | None  # first step where free running leaves the reference; None if never


def length_penalty_factor(length: int, alpha: float) -> float:
    """GNMT's ((5 + length) / 6) ** alpha: a score divides the log-probability by it (alpha 0: none)."""
    return ((5.0 + length) / 6.0) ** alpha


class Translator(nn.Module):
    def __init__(self, config: TranslatorConfig, source_vocab: Vocabulary, target_vocab: Vocabulary,
                 casing: Casing | None = None):
        super().__init__()
        if len(source_vocab) != config.source_vocab_size or len(target_vocab) != config.target_vocab_size:
            raise ValueError("the vocabularies do not have the config's sizes")
        self.config = config
        self.source_vocab = source_vocab
        self.target_vocab = target_vocab
        self.casing = casing or Casing()
        c = config
        cell = CELLS[c.cell]
        between = c.dropout if c.layers > 1 else 0.0
        self.source_embed = nn.Embedding(c.source_vocab_size, c.embed, padding_idx=source_vocab.pad)
        self.target_embed = nn.Embedding(c.target_vocab_size, c.embed, padding_idx=target_vocab.pad)
        self.encoder = cell(c.embed, c.hidden // 2, num_layers=c.layers, batch_first=True, bidirectional=True,
                            dropout=between)
        self.bridge = nn.Linear(c.hidden, c.layers * c.hidden)  # m -> s_0 of each decoder layer
        self.attention = AdditiveAttention(c.hidden, c.hidden, c.hidden) if c.attention == "additive" else None
        self.decoder = cell(c.embed + c.hidden, c.hidden, num_layers=c.layers, batch_first=True, dropout=between)
        self.output = nn.Linear(c.hidden + c.hidden + c.embed, c.embed)  # W_o
        self.output_bias = nn.Parameter(torch.zeros(c.target_vocab_size))  # b; the weights are E_en's
        self.drop = nn.Dropout(c.dropout)

    @property
    def device(self) -> torch.device:
        return self.output_bias.device

    # --- the encoder --------------------------------------------------------------------------

    def encode(self, source: torch.Tensor, lengths: torch.Tensor) -> Encoded:
        """source (B, S) French indices padded with <pad>, lengths (B,) -> Encoded."""
        B, S = source.shape
        x = self.drop(self.source_embed(source))  # (B, S, E)
        lengths_cpu = lengths.cpu()
        if bool((lengths_cpu == S).all()):  # nothing padded (one sentence): no packing needed
            keys, state = self.encoder(x)  # (B, S, H)
        else:
            packed = pack_padded_sequence(x, lengths_cpu, batch_first=True, enforce_sorted=False)
            keys, state = self.encoder(packed)
            keys, _ = pad_packed_sequence(keys, batch_first=True, total_length=S)  # (B, S, H)
        h = state[0] if self.config.cell == "lstm" else state  # (layers * 2, B, H/2)
        summary = torch.cat([h[-2], h[-1]], dim=-1)  # (B, H) the top layer's forward and backward states
        mask = torch.arange(S, device=source.device)[None, :] < lengths.to(source.device)[:, None]  # (B, S)
        keys_proj = self.attention.key(keys) if self.attention is not None else None  # (B, S, H)
        return Encoded(keys, keys_proj, mask, summary)

    def start_state(self, encoded: Encoded):
        """s_0 = tanh(W_init m) for each decoder layer: (layers, B, H), with zero memory cells for an LSTM."""
        B = encoded.summary.shape[0]
        c = self.config
        h = torch.tanh(self.bridge(encoded.summary)).view(B, c.layers, c.hidden).transpose(0, 1).contiguous()
        return (h, torch.zeros_like(h)) if c.cell == "lstm" else h  # (layers, B, H)

    def _top(self, state) -> torch.Tensor:
        return (state[0] if self.config.cell == "lstm" else state)[-1]  # (N, H) the top layer's s

    # --- one decoder step ---------------------------------------------------------------------

    def _context(self, encoded: Encoded, state):
        """c_t (N, H) and the attention weights a_t (N, S), or None without attention."""
        if self.attention is None:
            return encoded.summary, None
        return self.attention(encoded.keys, encoded.keys_proj, encoded.mask, self._top(state))

    def _logits(self, out, context, embedded):
        """s_t (..., H), c_t (..., H), embed(y_(t-1)) (..., E) -> logits (..., V)."""
        o = torch.tanh(self.output(torch.cat([out, context, embedded], dim=-1)))  # (..., E)
        return F.linear(self.drop(o), self.target_embed.weight, self.output_bias)  # (..., V)

    def decode_step(self, encoded: Encoded, words: torch.Tensor, state):
        """Previous words (N,) -> log-probabilities (N, V), attention (N, S) or None, new state."""
        embedded = self.drop(self.target_embed(words))  # (N, E)
        context, weights = self._context(encoded, state)  # (N, H), (N, S)
        out, state = self.decoder(torch.cat([embedded, context], dim=-1)[:, None, :], state)  # (N, 1, H)
        logits = self._logits(out[:, 0], context, embedded)  # (N, V)
        return torch.log_softmax(logits, dim=-1), weights, state

    # --- training -----------------------------------------------------------------------------

    def teacher_forced_loss(self, source: torch.Tensor, lengths: torch.Tensor, target: torch.Tensor,
                            teacher_forcing: float = 1.0, generator: torch.Generator | None = None) -> ForcedLoss:
        """source (B, S) and lengths (B,) as for encode; target (B, T + 1): <sos> y_1 .. y_n <eos> <pad> ...

        At each step the decoder is fed the reference's previous token with probability
        `teacher_forcing` (drawn for each sentence and step from `generator`), else its own
        likeliest token of the step before. Returns the mean loss per English token and each step's.
        """
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError("the teacher-forcing ratio must be in [0, 1]")
        encoded = self.encode(source, lengths)
        state = self.start_state(encoded)
        inputs, targets = target[:, :-1], target[:, 1:]  # (B, T) each
        embedded = self.drop(self.target_embed(inputs))  # (B, T, E)
        if self.attention is None and teacher_forcing == 1.0:
            # Every input is known and the context never changes: the whole sequence in one RNN call.
            context = encoded.summary[:, None, :].expand(-1, inputs.shape[1], -1)  # (B, T, H)
            out, _ = self.decoder(torch.cat([embedded, context], dim=-1), state)  # (B, T, H)
            logits = self._logits(out, context, embedded)  # (B, T, V)
        else:
            logits = self._free_or_forced(encoded, state, inputs, embedded, teacher_forcing, generator)
        nll = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=self.target_vocab.pad, reduction="none")
        real = targets != self.target_vocab.pad  # (B, T)
        count = int(real.sum())
        return ForcedLoss(loss=nll.sum() / max(count, 1), nll=nll, tokens=count)

    def _free_or_forced(self, encoded, state, inputs, embedded, teacher_forcing, generator):
        """The decoder run step by step over (B, T) inputs; logits (B, T, V)."""
        B, T = inputs.shape
        if teacher_forcing < 1.0:
            coins = torch.rand((B, T), generator=generator).to(inputs.device) < teacher_forcing  # (B, T) True: forced
            coins[:, 0] = True  # the first input is <sos> either way
        outs, contexts, step_logits = [], [], []
        emb = embedded[:, 0]  # (B, E)
        for t in range(T):
            context, _ = self._context(encoded, state)  # (B, H)
            out, state = self.decoder(torch.cat([emb, context], dim=-1)[:, None, :], state)  # (B, 1, H)
            if teacher_forcing < 1.0:
                step_logits.append(self._logits(out[:, 0], context, emb))  # (B, V)
                if t + 1 < T:
                    own = step_logits[-1].argmax(dim=-1)  # (B,) no gradient flows through a choice
                    emb = torch.where(coins[:, t + 1, None], embedded[:, t + 1], self.drop(self.target_embed(own)))
            else:
                outs.append(out[:, 0])
                contexts.append(context)
                if t + 1 < T:
                    emb = embedded[:, t + 1]
        if teacher_forcing < 1.0:
            return torch.stack(step_logits, dim=1)  # (B, T, V)
        # All steps' outputs at once: one large matrix product instead of T small ones.
        return self._logits(torch.stack(outs, dim=1), torch.stack(contexts, dim=1), embedded)  # (B, T, V)

    # --- decoding one sentence ----------------------------------------------------------------

    def _encode_one(self, source_ids: list[int]) -> Encoded:
        if not source_ids:
            raise UserError("there is nothing to translate: type a French sentence")
        src = torch.tensor([source_ids], dtype=torch.long, device=self.device)  # (1, S)
        return self.encode(src, torch.tensor([len(source_ids)]))

    def _prefix_ids(self, prefix) -> list[int]:
        """A forced prefix: English text, or a list of English tokens, or of indices."""
        if prefix is None:
            return []
        if isinstance(prefix, str):
            prefix = tokenize_english(prefix)
        ids = []
        for token in prefix:
            if isinstance(token, int):
                v = self.target_vocab
                if not 0 <= token < len(v) or token in (v.pad, v.sos, v.eos):
                    raise UserError(f"{token} is not an English token index of this model")
                ids.append(token)
            elif token in self.target_vocab and token not in SPECIALS[:3]:
                ids.append(self.target_vocab.index[token])
            else:
                raise UserError(f"the model does not know the English word {token!r}; choose words it can write")
        return ids

    def _read_prefix(self, encoded: Encoded, prefix_ids: list[int]):
        """Feed <sos> and the forced prefix: (state, next log-probabilities (1, V), attention (1, S), steps)."""
        words = torch.tensor([self.target_vocab.sos], device=self.device)
        logp, weights, state = self.decode_step(encoded, words, self.start_state(encoded))
        steps = []  # (token id, its log-probability, attention row) for each prefix token
        for token in prefix_ids:
            steps.append((token, float(logp[0, token]), weights))
            logp, weights, state = self.decode_step(encoded, torch.tensor([token], device=self.device), state)
        return state, logp, weights, steps

    @torch.no_grad()
    def greedy(self, source_ids: list[int], max_len: int | None = None, forced_prefix=None) -> Hypothesis:
        """The likeliest token at every step (after the forced prefix), until <eos> or `max_len` tokens."""
        max_len = max_len or self.config.max_output
        prefix_ids = self._prefix_ids(forced_prefix)
        if len(prefix_ids) > max_len:
            raise UserError(f"the forced prefix is longer than the longest translation ({max_len} tokens)")
        self.eval()
        encoded = self._encode_one(source_ids)
        state, logp, weights, prefix_steps = self._read_prefix(encoded, prefix_ids)
        ids = list(prefix_ids)
        lps = [lp for _, lp, _ in prefix_steps]
        maps = [w for _, _, w in prefix_steps]
        while True:
            best = int(torch.argmax(logp[0]))
            if best == self.target_vocab.eos:
                lps.append(float(logp[0, best]))
                return self._hypothesis(ids, lps, maps, sum(lps), sum(lps), True, len(source_ids))
            if len(ids) == max_len:  # out of room: the translation stops here, without <eos>
                return self._hypothesis(ids, lps, maps, sum(lps), sum(lps), False, len(source_ids))
            ids.append(best)
            lps.append(float(logp[0, best]))
            maps.append(weights)
            logp, weights, state = self.decode_step(encoded, torch.tensor([best], device=self.device), state)

    @torch.no_grad()
    def beam_search(self, source_ids: list[int], width: int = 5, length_penalty: float = 0.0, nbest: int | None = None,
                    forced_prefix=None, max_len: int | None = None, trace: BeamTrace | None = None) -> list[Hypothesis]:
        """The `width` likeliest partial translations kept at each step; the finished ones, best first.

        At each step every kept hypothesis is extended by every English token and the `width`
        highest total log-probabilities are kept; those that end in <eos> are finished. A finished
        hypothesis is scored logprob / ((5 + length) / 6) ** length_penalty (0: the plain
        log-probability; larger values favour longer translations). The search stops when no
        hypothesis is left, or when `width` have finished and none left can score higher.
        Width 1 is greedy decoding, token for token and number for number.

        forced_prefix: English tokens (or text) the translation must start with; decoding goes on
        from them. trace: a BeamTrace to fill with every step's kept hypotheses.
        """
        if width < 1:
            raise UserError("the beam width must be at least 1")
        if length_penalty < 0:
            raise UserError("the length penalty must be 0 or more")
        nbest = width if nbest is None else nbest
        if not 1 <= nbest <= width:
            raise UserError(f"the n-best list holds 1 to {width} translations (the beam width)")
        max_len = max_len or self.config.max_output
        eos = self.target_vocab.eos
        prefix_ids = self._prefix_ids(forced_prefix)
        if len(prefix_ids) > max_len:
            raise UserError(f"the forced prefix is longer than the longest translation ({max_len} tokens)")
        self.eval()
        encoded = self._encode_one(source_ids)
        state, logp, weights, prefix_steps = self._read_prefix(encoded, prefix_ids)
        parent, prefix_total = -1, 0.0
        for token, token_lp, _ in prefix_steps:
            prefix_total += token_lp
            if trace is not None:
                node = BeamNode(self.target_vocab.tokens[token], prefix_total, prefix_total, parent, forced=True)
                trace.steps.append([node])
                parent = 0
        rows = [w for _, _, w in prefix_steps]
        # A living hypothesis: (ids, token log-probs, attention rows (1, S) each, total, its node in the trace).
        alive = [(list(prefix_ids), [lp for _, lp, _ in prefix_steps], rows, prefix_total, parent)]
        finished = []  # (Hypothesis, trace step, trace index)
        bound_factor = length_penalty_factor(max_len + 1, length_penalty)
        last_words: list[int] = []  # the newest token of each living hypothesis
        for t in range(len(prefix_ids), max_len + 1):
            n = len(alive)
            if t > len(prefix_ids):
                words = torch.tensor(last_words, device=self.device)
                logp, weights, state = self.decode_step(encoded.rows(torch.zeros(n, dtype=torch.long)), words, state)
            totals = torch.tensor([a[3] for a in alive], dtype=logp.dtype, device=logp.device)
            scores = (totals[:, None] + logp).view(-1)  # (n * V,)
            top = torch.topk(scores, min(width, scores.numel()))
            vocab_size = logp.shape[1]
            next_alive, keep_rows, last_words, nodes = [], [], [], []
            cut = set()
            for flat in top.indices.tolist():
                row, word = divmod(flat, vocab_size)
                ids, lps, maps, old_total, node = alive[row]
                word_lp = float(logp[row, word])
                total = old_total + word_lp  # in Python floats, summed as greedy sums them
                row_map = weights[row: row + 1] if weights is not None else None
                if word == eos:
                    score = total / length_penalty_factor(len(ids) + 1, length_penalty)
                    nodes.append(BeamNode(self.target_vocab.tokens[word], total, score, node, finished=True))
                    hyp = self._hypothesis(ids, lps + [word_lp], maps, total, score, True, len(source_ids))
                    finished.append((hyp, len(trace.steps) if trace is not None else t, len(nodes) - 1))
                elif t == max_len:  # out of room: the hypothesis stops here, without <eos>
                    if row not in cut:
                        cut.add(row)
                        score = old_total / length_penalty_factor(len(ids), length_penalty)
                        step = len(trace.steps) - 1 if trace is not None else t - 1
                        hyp = self._hypothesis(ids, lps, maps, old_total, score, False, len(source_ids))
                        finished.append((hyp, step, node))
                else:
                    score = total / length_penalty_factor(len(ids) + 1, length_penalty)
                    nodes.append(BeamNode(self.target_vocab.tokens[word], total, score, node))
                    next_alive.append((ids + [word], lps + [word_lp], maps + [row_map], total, len(nodes) - 1))
                    keep_rows.append(row)
                    last_words.append(word)
            if trace is not None and nodes:
                trace.steps.append(nodes)
            finished.sort(key=lambda f: -f[0].score)
            if not next_alive:
                break
            best_possible = max(a[3] for a in next_alive) / bound_factor  # log-probabilities only fall
            if len(finished) >= width and finished[width - 1][0].score >= best_possible:
                break
            alive = next_alive
            index = torch.tensor(keep_rows, device=self.device)
            state = tuple(s[:, index] for s in state) if isinstance(state, tuple) else state[:, index]
        finished.sort(key=lambda f: -f[0].score)
        if trace is not None and finished:
            _, step, index = finished[0]
            if step >= 0 and index >= 0:
                trace._mark(step, index)
        return [f[0] for f in finished[:nbest]]

    def _hypothesis(self, ids, lps, maps, total, score, done, source_length: int) -> Hypothesis:
        attention = None
        if self.attention is not None:
            attention = torch.cat(maps).float().cpu().numpy() if maps else np.zeros((0, source_length), np.float32)
        return Hypothesis(ids=list(ids), tokens=self.target_vocab.decode(ids), logprob=float(total), score=float(score),
                          token_logprobs=[float(x) for x in lps], attention=attention, finished=done)

    @torch.no_grad()
    def step_top_k(self, source_ids: list[int], prefix=None, k: int = WHAT_IF_TOP) -> list[TopChoice]:
        """The decoder's k likeliest next tokens after `prefix` (English tokens or text), best first.

        For a what-if: choose one, then decode the rest with forced_prefix = prefix + [choice].
        """
        self.eval()
        encoded = self._encode_one(source_ids)
        _, logp, _, _ = self._read_prefix(encoded, self._prefix_ids(prefix))
        top = torch.topk(logp[0], min(k, logp.shape[1]))
        pairs = zip(top.values.tolist(), top.indices.tolist())
        return [TopChoice(self.target_vocab.tokens[i], float(v)) for v, i in pairs]

    @torch.no_grad()
    def forcing_comparison(self, french: str, english: str) -> ForcingComparison:
        """A pair read two ways: teacher forced (fed the reference) and free running (fed its own
        likeliest token), the reference's loss at each step of both, and where they part."""
        self.eval()
        source_ids = self.read_source(french).ids
        reference = self.target_vocab.encode(tokenize_english(english)) + [self.target_vocab.eos]
        encoded = self._encode_one(source_ids)
        start = self.start_state(encoded)
        forced_nll, free_nll, free_ids = [], [], []
        for feed_own, nll, state in ((False, forced_nll, start), (True, free_nll, start)):
            word = self.target_vocab.sos
            for target in reference:
                logp, _, state = self.decode_step(encoded, torch.tensor([word], device=self.device), state)
                nll.append(-float(logp[0, target]))
                if feed_own:
                    free_ids.append(int(logp[0].argmax()))
                    if free_ids[-1] == self.target_vocab.eos:
                        break  # it has finished its sentence: feeding it more would be a decoder nobody runs
                word = free_ids[-1] if feed_own else target
        diverges = next((t for t, (a, b) in enumerate(zip(free_ids, reference)) if a != b), None)
        return ForcingComparison(reference=self.target_vocab.decode(reference), teacher_forced_nll=forced_nll,
                                 free_tokens=self.target_vocab.decode(free_ids), free_running_nll=free_nll,
                                 diverges_at=diverges)

    # --- decoding a batch (evaluation) --------------------------------------------------------

    @torch.no_grad()
    def greedy_batch(self, sources: list[list[int]], max_len: int | None = None) -> list[Hypothesis]:
        """Greedy translations of many sentences at once (for evaluation), as `greedy` gives them."""
        self.eval()
        max_len = max_len or self.config.max_output
        source, lengths = pad_batch(sources, self.source_vocab.pad, self.device)
        encoded = self.encode(source, lengths)
        state = self.start_state(encoded)
        B, eos = len(sources), self.target_vocab.eos
        words = torch.full((B,), self.target_vocab.sos, dtype=torch.long, device=self.device)
        chosen, chosen_lps, maps = [], [], []
        done = torch.zeros(B, dtype=torch.bool, device=self.device)
        for _ in range(max_len + 1):
            logp, weights, state = self.decode_step(encoded, words, state)
            best_lp, words = logp.max(dim=-1)  # (B,) each
            chosen.append(words)
            chosen_lps.append(best_lp)
            maps.append(weights)
            done |= words == eos
            if bool(done.all()):
                break
        ids = torch.stack(chosen, dim=1).tolist()  # (B, T)
        lps = torch.stack(chosen_lps, dim=1).double().tolist()  # (B, T)
        attention = torch.stack(maps, dim=1).float().cpu().numpy() if self.attention is not None else None  # (B, T, S)
        hyps = []
        for b, row in enumerate(ids):
            finished = eos in row
            n = row.index(eos) if finished else min(len(row), max_len)
            token_lps = lps[b][: n + 1] if finished else lps[b][:n]
            rows = attention[b, :n, : int(lengths[b])] if attention is not None else None
            hyps.append(Hypothesis(ids=row[:n], tokens=self.target_vocab.decode(row[:n]), logprob=sum(token_lps),
                                   score=sum(token_lps), token_logprobs=token_lps, attention=rows, finished=finished))
        return hyps

    # --- text in, text out --------------------------------------------------------------------

    def read_source(self, text: str, refuse: bool = True) -> SourceReading:
        """French text -> what the model reads of it. Refuses (UserError) text that cannot be
        translated: empty, longer than one sentence, no French word the model knows, or English;
        with refuse=False (evaluation: the test split as it is) reads whatever there is."""
        if not isinstance(text, str) or (refuse and not text.strip()):
            raise UserError("there is nothing to translate: type a French sentence")
        if refuse and len(text) > MAX_SOURCE_CHARS:
            raise UserError(f"the text is {len(text):,} characters long; the model translates one sentence at a "
                            f"time (at most {MAX_SOURCE_TOKENS} words and signs): give it one sentence")
        typed = tokenize_french(text, lower=False)
        if refuse and not typed:
            raise UserError("there is nothing to translate: type a French sentence")
        if refuse and len(typed) > MAX_SOURCE_TOKENS:
            raise UserError(f"the text has {len(typed)} words and signs; the model translates one sentence at a "
                            f"time, of at most {MAX_SOURCE_TOKENS} (it learned on sentences of up to 25): "
                            f"give it one sentence")
        lower = [t.lower() for t in typed]
        unknown = [i for i, t in enumerate(lower) if t not in self.source_vocab]
        if refuse:
            self._refuse_unreadable(typed, lower, unknown)
        # Unknown words and numbers are read as <unk> (a translation can copy them); unknown signs
        # (emoji, symbols) carry no word to translate, and reading them as <unk> makes the model write one.
        read = [i for i, t in enumerate(lower) if t in self.source_vocab or _has_word_or_digit(t)]
        if not read:  # refuse=False only: nothing but unknown signs, or nothing at all
            typed, unknown = (typed, unknown) if typed else ([UNK], [0])
            read = list(range(len(typed)))
        ids = self.source_vocab.encode([lower[i] if i < len(lower) else UNK for i in read])
        return SourceReading(text=text, typed=typed, unknown=unknown, read=read, ids=ids)

    def _refuse_unreadable(self, typed: list[str], lower: list[str], unknown: list[int]) -> None:
        words = [t for t in lower if is_word(t)]
        known_words = [t for t in words if t in self.source_vocab]
        details = {"unknown": [typed[i] for i in unknown], "unknown_positions": unknown}
        english_like = [t for t in words if t not in self.source_vocab and t in self.target_vocab]
        if len(english_like) > len(known_words):
            shown = ", ".join(_short(t) for t in english_like[:6])
            raise UserError(f"this looks like English ({shown}); the model translates from French to English: "
                            f"type the French sentence", details=details)
        if not known_words:
            shown = ", ".join(_short(typed[i]) for i in unknown[:8]) or _short(" ".join(typed))
            raise UserError(f"the model knows none of these words as French ({shown}); type a French sentence",
                            details=details)

    def written(self, hypothesis: Hypothesis, reading: SourceReading) -> list[str]:
        """Each English token as written: cased, and <unk> replaced by the French word it copies
        (the one it looked at most, with attention; without, the unknown French words in turn)."""
        words = self.casing.words(hypothesis.tokens)
        queue = [reading.typed[i] for i in reading.unknown if i in reading.read]
        for t, token in enumerate(hypothesis.tokens):
            if token != UNK:
                continue
            if hypothesis.attention is not None and t < len(hypothesis.attention):
                words[t] = reading.typed[reading.read[int(np.argmax(hypothesis.attention[t]))]]
            elif queue:
                words[t] = queue.pop(0)
        return words

    def written_text(self, hypothesis: Hypothesis, reading: SourceReading) -> str:
        """The translation a hypothesis stands for, written as a person would."""
        return join_words(hypothesis.tokens, self.written(hypothesis, reading))

    @torch.no_grad()
    def translate(self, text: str, width: int = 5, length_penalty: float = 0.0, nbest: int | None = None,
                  forced_prefix=None, max_len: int | None = None, trace: BeamTrace | None = None) -> TranslationResult:
        """French text -> its English translation (beam search of `width`; 1 is greedy) and the n-best list.

        Raises UserError for text that cannot be translated: empty, longer than one sentence,
        no French word the model knows, or English.
        """
        reading = self.read_source(text)
        hyps = self.beam_search(reading.ids, width=width, length_penalty=length_penalty, nbest=nbest,
                                forced_prefix=forced_prefix, max_len=max_len, trace=trace)
        entries = [NBestEntry(self.written_text(h, reading), list(h.tokens), h.logprob, h.score) for h in hyps]
        best = hyps[0]
        return TranslationResult(
            source=text, source_tokens=reading.typed, unknown=[reading.typed[i] for i in reading.unknown],
            unknown_positions=reading.unknown, read_positions=reading.read, tokens=list(best.tokens),
            words=self.written(best, reading), translation=entries[0].translation,
            attention=reading.spread(best.attention), logprob=best.logprob, nbest=entries, hypotheses=hyps,
        )


def _has_word_or_digit(token: str) -> bool:
    return any(c.isalnum() for c in token)


def _short(token: str, most: int = 24) -> str:
    """A token to quote in a message: a pasted run of 5,000 letters is shown by its start."""
    return token if len(token) <= most else token[: most - 1] + "…"


def pad_batch(sequences: list[list[int]], pad: int, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Index lists -> (B, S) padded with `pad`, and lengths (B,)."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    batch = torch.full((len(sequences), int(lengths.max())), pad, dtype=torch.long)
    for i, s in enumerate(sequences):
        batch[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return batch.to(device), lengths


# --- model files ----------------------------------------------------------------------------


@dataclass
class LoadedTranslator:
    model: Translator
    trained: dict
    path: object = None


def translator_model_file(model: Translator, trained: dict, dtype: torch.dtype = torch.float16):
    """The model as a ModelFile: vocab holds the French and English vocabularies and the English
    casing table; weights are stored as `dtype` (float16 halves the file and changes no translation
    measurably: the shipped figures are measured after the rounding)."""
    from rnnstudio.nn.modelfile import ModelFile

    english = set(model.target_vocab.tokens)
    vocab = {
        "french": list(model.source_vocab.tokens),
        "english": list(model.target_vocab.tokens),
        "english_casing": {t: w for t, w in sorted(model.casing.written.items()) if t in english},
    }
    tensors = {k: v.detach().to(dtype) for k, v in model.state_dict().items()}
    return ModelFile(task=TASK, config=model.config.to_dict(), vocab=vocab, tensors=tensors, trained=trained)


def save_translator(path, model: Translator, trained: dict, dtype: torch.dtype = torch.float16) -> None:
    from rnnstudio.nn.modelfile import save_model_file

    save_model_file(path, translator_model_file(model, trained, dtype))


def round_weights(model: Translator, dtype: torch.dtype = torch.float16) -> None:
    """Round the weights as save_translator stores them, to measure exactly what is shipped."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).to(p.dtype))


def _vocabulary_from_file(path, entries, language: str) -> Vocabulary:
    if not isinstance(entries, list) or not all(isinstance(t, str) and t and t.isprintable() for t in entries):
        raise ModelFileError(f"{path} has a damaged {language} vocabulary: it must be a list of words")
    if any(0xD800 <= ord(c) <= 0xDFFF for t in entries for c in t):
        raise ModelFileError(f"{path} has a damaged {language} vocabulary: it holds half of a UTF-16 pair")
    try:
        return Vocabulary(entries)
    except ValueError as e:
        raise ModelFileError(f"{path} has a damaged {language} vocabulary: {e}") from None


def load_translator(path, device: str | torch.device = "cpu") -> LoadedTranslator:
    """Load a translation model file, refusing one of another task, a newer format or wrong tensors."""
    from rnnstudio.nn.modelfile import build_for_file, check_tensors_match, load_model_file

    mf = load_model_file(path, TASK)
    vocab = mf.vocab
    if not isinstance(vocab, dict):
        raise ModelFileError(f"{path} has a damaged vocabulary: it must hold the French and English words")
    source = _vocabulary_from_file(path, vocab.get("french"), "French")
    target = _vocabulary_from_file(path, vocab.get("english"), "English")
    casing = vocab.get("english_casing", {})
    if not isinstance(casing, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.isprintable()
                                               for k, v in casing.items()):
        raise ModelFileError(f"{path} has a damaged English casing table: it must map words to words")
    try:
        config = TranslatorConfig.from_dict({**mf.config, "source_vocab_size": len(source),
                                             "target_vocab_size": len(target)})
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{path} has an invalid config: {e}") from None
    model = build_for_file(path, lambda: Translator(config, source, target, Casing(casing)))
    expected = model.state_dict()
    check_tensors_match(mf.path, expected, mf.tensors)
    extra = sorted(set(mf.tensors) - set(expected))
    if extra:
        raise ModelFileError(f"{path} does not match its config: unexpected tensor {extra[0]}")
    model.load_state_dict({k: v.float() for k, v in mf.tensors.items()})
    model.to(device).eval()
    return LoadedTranslator(model=model, trained=mf.trained, path=mf.path)
