"""Training a French-to-English translator, and measuring it with sacrebleu.

`TranslationData` holds the split pairs as the model reads them (tokens, vocabularies with
a minimum count, the English casing table learned from the training references).
`TranslationTrainer.step()` runs one batch (a teacher-forced pass with the settings' ratio,
L = -(1/N) sum_t log P(y*_t | y_<t, x) over the batch's English tokens, backward, an Adam
update) and returns plain numbers. `evaluate_test` translates the test split (all of it, as
it is) and scores the written translations against the references as they are, with
sacrebleu: cased BLEU and chrF with their signatures, and BLEU by French sentence length.
`train_translation` is the whole run the command line starts.

No training pair is filtered out: every sentence of the data is short (at most 17 French
tokens in training, 25 with punctuation), so every one is trained on as it is.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np
import torch

from rnnstudio.data.translation import (
    Casing, Pair, Splits, Vocabulary, is_word, load_splits, tokenize_english, tokenize_french,
)
from rnnstudio.nn.translation import Translator, TranslatorConfig, pad_batch, round_weights, save_translator
from rnnstudio.train.loop import cosine_learning_rate

# BLEU by the French sentence's length in words (tokens with a letter or a digit): buckets of a
# few hundred test sentences each, the last open-ended.
LENGTH_BUCKETS = ((1, 3), (4, 4), (5, 5), (6, 6), (7, 7), (8, 8), (9, None))
VALID_SUBSET_SEED = 1234  # which validation pairs validate() translates: the same ones every time


@dataclass(frozen=True)
class TranslateSettings:
    """Every default of a translation run, in one place: the command line, the app and the
    trainer read them from here (`rnnstudio train translate --attention none` changes one)."""

    # the model (TranslatorConfig)
    attention: str = "additive"  # additive (Bahdanau) | none: the decoder sees only the encoder's summary
    cell: str = "gru"  # gru | lstm; the GRU has three gates' weights to the LSTM's four: faster on a CPU
    embed: int = 128  # word embeddings; the English one is also the output layer (tied), so it sets much of the size
    hidden: int = 256  # decoder state (the encoder's directions have half each): 0.1-0.2 s a batch on one thread
    layers: int = 1  # sentences of 5 words need no depth; a second layer doubles the time
    dropout: float = 0.3  # against overfitting 66,000 short pairs read six times
    max_output: int = 30  # tokens; the longest English reference has 13
    # the data
    min_count: int = 3  # a word seen less often is <unk>: 6,028 French and 4,008 English words, a 4.7 MB file
    # training
    steps: int = 6000  # batches; 6,000 of 64 is about 6 passes over the training pairs (17 min on one thread)
    batch_size: int = 64
    lr: float = 2e-3  # Adam; decays on a cosine to lr/10 over the steps
    grad_clip: float = 1.0  # largest gradient norm, against the rare exploding step
    teacher_forcing: float = 1.0  # share of steps fed the reference's previous word; the rest get the model's own
    seed: int = 0
    # measuring
    eval_every: int = 500  # validation loss and BLEU this often (and at the end)
    valid_pairs: int = 500  # validation pairs translated (greedy) for the BLEU during training
    beam: int = 5  # beam width for the final test figures (greedy is measured too)
    length_penalty: float = 0.0  # for the final test figures; 0: rank by log-probability

    def __post_init__(self):
        if min(self.steps, self.batch_size, self.eval_every, self.valid_pairs, self.beam, self.min_count) < 1:
            raise ValueError("steps, batch size, eval_every, valid_pairs, beam and min_count must be positive")
        if not self.lr > 0:
            raise ValueError("the learning rate must be positive")
        if not 0.0 <= self.teacher_forcing <= 1.0:
            raise ValueError("the teacher-forcing ratio must be between 0 and 1")
        if self.length_penalty < 0:
            raise ValueError("the length penalty must be 0 or more")
        self.model_config(10, 10)  # the model settings, checked by TranslatorConfig

    def model_config(self, source_vocab_size: int, target_vocab_size: int) -> TranslatorConfig:
        names = {f.name for f in fields(TranslatorConfig)}
        given = {k: v for k, v in asdict(self).items() if k in names}
        return TranslatorConfig(source_vocab_size=source_vocab_size, target_vocab_size=target_vocab_size, **given)


# --- data -----------------------------------------------------------------------------------


def source_words(french_tokens: list[str]) -> int:
    """A French sentence's length in words: its tokens with a letter or a digit."""
    return sum(1 for t in french_tokens if is_word(t) or any(c.isdigit() for c in t))


class TranslationData:
    """The split pairs, and the training pairs as the model reads them."""

    name = "tatoeba-fra-eng"

    def __init__(self, splits: Splits, min_count: int = TranslateSettings.min_count):
        self.splits = splits
        self.min_count = min_count
        french = [tokenize_french(p.french) for p in splits.train]
        english = [tokenize_english(p.english) for p in splits.train]
        self.source_vocab = Vocabulary.build(french, min_count)
        self.target_vocab = Vocabulary.build(english, min_count)
        self.casing = Casing.learn(p.english for p in splits.train)
        sos, eos = self.target_vocab.sos, self.target_vocab.eos
        self.train_sources = [self.source_vocab.encode(f) for f in french]
        self.train_targets = [[sos] + self.target_vocab.encode(e) + [eos] for e in english]
        order = np.random.default_rng(VALID_SUBSET_SEED).permutation(len(splits.valid))
        self.valid_order = [int(i) for i in order]  # validate() takes the first valid_pairs of these

    def valid_subset(self, n: int) -> list[Pair]:
        return [self.splits.valid[i] for i in self.valid_order[:n]]

    def describe(self) -> str:
        s = self.splits
        return (f"{self.name}: {len(s.train):,} training, {len(s.valid):,} validation and {len(s.test):,} test pairs; "
                f"{len(self.source_vocab):,} French and {len(self.target_vocab):,} English words "
                f"(seen at least {self.min_count} times)")


@lru_cache(maxsize=2)
def shipped_data(min_count: int = TranslateSettings.min_count) -> TranslationData:
    return TranslationData(load_splits(), min_count)


class LengthBatches:
    """Batches of pairs of similar length, so that little of a batch is padding: each pass over
    the pairs is shuffled, cut into pools of 32 batches, each pool sorted by length and cut into
    batches, and the batches shuffled. Made from (seed, pass): the same run draws the same batches."""

    POOL = 32

    def __init__(self, lengths: list[int], batch_size: int, seed: int):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.passes = 0
        self.queue: list[np.ndarray] = []

    def next(self) -> np.ndarray:
        if not self.queue:
            rng = np.random.default_rng([self.seed, self.passes])
            self.passes += 1
            order = rng.permutation(len(self.lengths))
            pool_size = self.batch_size * self.POOL
            batches = []
            for start in range(0, len(order), pool_size):
                pool = order[start: start + pool_size]
                pool = pool[np.argsort(self.lengths[pool], kind="stable")]
                batches += [pool[i: i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
            self.queue = [batches[i] for i in rng.permutation(len(batches))]
        return self.queue.pop()


# --- training -------------------------------------------------------------------------------


class TranslationTrainer:
    def __init__(self, settings: TranslateSettings, device: torch.device | str = "cpu",
                 data: TranslationData | None = None):
        self.settings = settings
        self.device = torch.device(device)
        self.data = data if data is not None else shipped_data(settings.min_count)
        d = self.data
        config = settings.model_config(len(d.source_vocab), len(d.target_vocab))
        torch.manual_seed(settings.seed)
        self.model = Translator(config, d.source_vocab, d.target_vocab, d.casing).to(self.device)
        self.config = config
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.lr)
        lengths = [len(s) + len(t) for s, t in zip(d.train_sources, d.train_targets)]
        self.batches = LengthBatches(lengths, settings.batch_size, settings.seed)
        self.generator = torch.Generator().manual_seed(settings.seed)  # the teacher-forcing coins
        self.iteration = 0
        self.pairs_seen = 0
        self.last_train_loss: float | None = None
        self.metrics: dict = {}

    def learning_rate(self) -> float:
        return cosine_learning_rate(self.settings.lr, self.iteration, self.settings.steps)

    def step(self) -> dict:
        """One training iteration. Returns {'iteration', 'loss' (nats per English token), 'items'
        (pairs), 'tokens', 'seconds', 'lr'}."""
        t0 = time.perf_counter()
        s, d = self.settings, self.data
        rows = self.batches.next()
        source, lengths = pad_batch([d.train_sources[i] for i in rows], d.source_vocab.pad, self.device)
        target, _ = pad_batch([d.train_targets[i] for i in rows], d.target_vocab.pad, self.device)
        lr = self.learning_rate()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        forced = self.model.teacher_forced_loss(source, lengths, target, s.teacher_forcing, self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        forced.loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), s.grad_clip)
        self.optimizer.step()
        self.iteration += 1
        self.pairs_seen += len(rows)
        self.last_train_loss = forced.loss.item()
        return {"iteration": self.iteration, "loss": self.last_train_loss, "items": len(rows), "tokens": forced.tokens,
                "seconds": time.perf_counter() - t0, "lr": lr}

    @torch.no_grad()
    def validate(self) -> dict:
        """Loss (nats per English token, teacher forced) and greedy BLEU on a fixed subset of validation."""
        pairs = self.data.valid_subset(self.settings.valid_pairs)
        loss = forced_loss(self.model, pairs)
        scores = score_translations(self.model, pairs, width=1)
        self.metrics.update({"valid_loss": round(loss, 4), "valid_bleu": round(scores["bleu"], 2)})
        return {"loss": loss, "bleu": scores["bleu"], "pairs": len(pairs)}

    def trained_info(self) -> dict:
        metrics = dict(self.metrics)
        if self.last_train_loss is not None:
            metrics["train_loss"] = round(self.last_train_loss, 4)
        return {
            "steps": self.iteration,
            "pairs": self.pairs_seen,
            "data": self.data.name,
            "split": "by French sentence (blake2b of its tokens): 5 % test, 5 % validation, 90 % training",
            "settings": asdict(self.settings),
            "metrics": metrics,
        }


@torch.no_grad()
def forced_loss(model: Translator, pairs: list[Pair], chunk: int = 256) -> float:
    """Mean teacher-forced loss in nats per English token (<eos> included) over `pairs`."""
    model.eval()
    sv, tv = model.source_vocab, model.target_vocab
    total, count = 0.0, 0
    for start in range(0, len(pairs), chunk):
        part = pairs[start: start + chunk]
        sources = [sv.encode(tokenize_french(p.french)) or [sv.unk] for p in part]
        source, lengths = pad_batch(sources, sv.pad, model.device)
        target, _ = pad_batch([[tv.sos] + tv.encode(tokenize_english(p.english)) + [tv.eos] for p in part], tv.pad,
                              model.device)
        forced = model.teacher_forced_loss(source, lengths, target)
        total += float(forced.nll.sum())
        count += forced.tokens
    return total / max(count, 1)


# --- measuring ------------------------------------------------------------------------------


def translate_pairs(model: Translator, pairs: list[Pair], width: int = 1, length_penalty: float = 0.0,
                    chunk: int = 256, progress=None) -> list[str]:
    """The written translation of each pair's French sentence, read as `Translator.translate` reads
    it but never refused: greedy in batches when width is 1, else beam search one by one."""
    readings = [model.read_source(p.french, refuse=False) for p in pairs]
    out = []
    for start in range(0, len(pairs), chunk):
        part = readings[start: start + chunk]
        if width == 1:
            hyps = model.greedy_batch([r.ids for r in part])
        else:
            hyps = [model.beam_search(r.ids, width=width, length_penalty=length_penalty, nbest=1)[0] for r in part]
        out += [model.written_text(hyp, reading) for hyp, reading in zip(hyps, part)]
        if progress is not None:
            progress(min(start + chunk, len(pairs)), len(pairs))
    return out


def score_translations(model: Translator, pairs: list[Pair], width: int = 1, length_penalty: float = 0.0,
                       progress=None) -> dict:
    """Translate `pairs` and score them: corpus BLEU and chrF (sacrebleu's defaults: BLEU cased,
    13a tokenisation, on the written translations against the references as they are), with
    their signatures, and BLEU by the French sentence's length in words."""
    from sacrebleu.metrics import BLEU, CHRF

    hypotheses = translate_pairs(model, pairs, width, length_penalty, progress=progress)
    references = [p.english for p in pairs]
    bleu, chrf = BLEU(), CHRF()
    result = {
        "pairs": len(pairs),
        "width": width,
        "length_penalty": length_penalty,
        "bleu": bleu.corpus_score(hypotheses, [references]).score,
        "bleu_signature": str(bleu.get_signature()),
        "chrf": chrf.corpus_score(hypotheses, [references]).score,
        "chrf_signature": str(chrf.get_signature()),
        "by_length": [],
        "translations": hypotheses,
    }
    lengths = [source_words(tokenize_french(p.french)) for p in pairs]
    for low, high in LENGTH_BUCKETS:
        rows = [i for i, n in enumerate(lengths) if n >= low and (high is None or n <= high)]
        if not rows:
            continue
        score = BLEU().corpus_score([hypotheses[i] for i in rows], [[references[i] for i in rows]]).score
        label = f"{low}-{high}" if high is not None and high != low else (f"{low}" if high else f"{low}+")
        result["by_length"].append({"words": label, "pairs": len(rows), "bleu": score})
    return result


def evaluate_test(model: Translator, pairs: list[Pair] | None = None, width: int = TranslateSettings.beam,
                  length_penalty: float = TranslateSettings.length_penalty, progress=None) -> dict:
    """The figures of a model on the test split (all of it, unfiltered; or on `pairs`):
    {'pairs', 'width', 'length_penalty', 'bleu', 'bleu_signature', 'chrf', 'chrf_signature',
    'by_length': [{'words', 'pairs', 'bleu'}], 'translations'}."""
    return score_translations(model, load_splits().test if pairs is None else pairs, width, length_penalty, progress)


def _rounded(figures: dict) -> dict:
    out = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in figures.items() if k != "translations"}
    out["by_length"] = [{**b, "bleu": round(b["bleu"], 2)} for b in figures["by_length"]]
    return out


def train_translation(settings: TranslateSettings, device: torch.device | str, out_path, log=print,
                      data: TranslationData | None = None) -> dict:
    """The whole run: train for settings.steps, validate every eval_every steps (one log line
    each), measure the test split (greedy and beam search of settings.beam) on the weights as
    they are saved, and write the model to `out_path` atomically. Returns the model's `trained`
    record (with the test figures under 'metrics')."""
    from rnnstudio.nn.modelfile import check_can_save

    check_can_save(out_path)  # before the work, which would be lost otherwise
    trainer = TranslationTrainer(settings, device, data)
    params = sum(p.numel() for p in trainer.model.parameters())
    s = settings
    log(f"{trainer.data.describe()}; {s.cell.upper()} encoder-decoder, attention {s.attention}, hidden {s.hidden}, "
        f"embed {s.embed}, {s.layers} layer(s), {params:,} parameters, on {trainer.device}")
    t0 = time.perf_counter()
    recent = []
    for _ in range(s.steps):
        info = trainer.step()
        recent.append(info["loss"])
        if trainer.iteration % s.eval_every == 0 or trainer.iteration == s.steps:
            valid = trainer.validate()
            elapsed = time.perf_counter() - t0
            log(f"iter {trainer.iteration:6d}  train {np.mean(recent):.3f}  valid {valid['loss']:.3f} nats/token  "
                f"valid BLEU {valid['bleu']:.2f} (greedy, {valid['pairs']} pairs)  {elapsed / 60:.1f} min")
            recent = []
    train_seconds = time.perf_counter() - t0
    round_weights(trainer.model)  # the figures are those of the file as saved (float16 weights)
    test = trainer.data.splits.test
    greedy = evaluate_test(trainer.model, test, width=1)
    beam = evaluate_test(trainer.model, test, width=s.beam, length_penalty=s.length_penalty)
    for name, figures in (("greedy", greedy), (f"beam {s.beam}", beam)):
        lengths = "  ".join(f"{b['words']}: {b['bleu']:.1f}" for b in figures["by_length"])
        log(f"test ({figures['pairs']:,} pairs), {name}: BLEU {figures['bleu']:.2f}  chrF {figures['chrf']:.2f}  "
            f"by French words: {lengths}")
    log(f"BLEU signature: {beam['bleu_signature']}; chrF signature: {beam['chrf_signature']}")
    trained = trainer.trained_info()
    trained["seconds"] = round(train_seconds, 1)
    trained["metrics"]["test_greedy"] = _rounded(greedy)
    trained["metrics"]["test_beam"] = _rounded(beam)
    save_translator(out_path, trainer.model, trained)
    log(f"trained in {train_seconds / 60:.1f} min; wrote {out_path}")
    return trained
