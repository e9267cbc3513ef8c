"""The sentiment data: VADER's human-rated sentences, a tokeniser that keeps spans, a vocabulary.

The data are the 23,703 sentences Hutto & Gilbert had rated for VADER (ICWSM 2014):
movie-review snippets, tweets, Amazon review snippets and New York Times editorial
snippets, each rated by about 20 people from -4 (most negative) to +4 (most positive).
The archive ships unmodified in resources/data/vader-sentences and is read in memory.

Labels (the "many to one" task: one label for a whole sentence):

    rating >  +threshold  ->  positive (1)
    rating <  -threshold  ->  negative (0)
    otherwise             ->  neutral  (None): left out of training and of accuracy,
                              kept for the regression view (correlation with the rating)

with threshold 0.5 by default. Every sentence keeps its mean rating.

The split is by a hash of the sentence's normalised text (lower case, spaces collapsed),
so a sentence that appears twice always falls in the same split: SHA-1, first 8 hex
digits as a number mod 100; 0-79 training, 80-89 validation, 90-99 test. The test split
is never used to choose anything.
"""

from __future__ import annotations

import hashlib
import html
import re
import tarfile
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from rnnstudio.errors import UserError

ARCHIVE_NAME = "hutto_ICWSM_2014.tar.gz"
# Source name -> the ground-truth file inside the archive (`id<TAB>mean rating<TAB>text`).
SOURCES = {
    "movies": "movieReviewSnippets_GroundTruth.txt",
    "tweets": "tweets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
}
SOURCE_TITLES = {"movies": "movie reviews", "tweets": "tweets", "amazon": "Amazon reviews", "nyt": "NYT editorials"}
SPLITS = ("train", "valid", "test")
SPLIT_PERCENT = {"train": (0, 80), "valid": (80, 90), "test": (90, 100)}  # buckets [lo, hi) of 100
LABEL_THRESHOLD = 0.5
POSITIVE, NEGATIVE = 1, 0
LABEL_NAMES = {POSITIVE: "positive", NEGATIVE: "negative", None: "neutral"}

PAD, UNK = "<pad>", "<unk>"
SPECIALS = [PAD, UNK]
MIN_COUNT = 2  # a word seen once in training is <unk>: the model learns what to do with words it does not know

# The subsets where the order of the words matters (the figures the bag of words cannot reach).
NEGATIONS = frozenset("not n't no never nothing nobody none neither nor nowhere without".split())
BUT = "but"

SPLIT_DESCRIPTION = (
    "SHA-1 of the sentence lower-cased with runs of spaces made one, its first 8 hex digits mod 100: "
    "0-79 train, 80-89 valid, 90-99 test (duplicates never straddle splits)"
)


class SentimentDataError(UserError):
    """The shipped sentences cannot be read (missing or damaged archive)."""


# --- the sentences ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    source: str  # movies | tweets | amazon | nyt
    id: str  # the id in its source file
    text: str
    rating: float  # the raters' mean, -4 .. +4
    label: int | None  # POSITIVE, NEGATIVE, or None (neutral)
    split: str  # train | valid | test


def label_for(rating: float, threshold: float = LABEL_THRESHOLD) -> int | None:
    """POSITIVE above +threshold, NEGATIVE below -threshold, None (neutral) in between."""
    if rating > threshold:
        return POSITIVE
    if rating < -threshold:
        return NEGATIVE
    return None


def split_of(text: str) -> str:
    """The split a sentence belongs to, from a hash of its normalised text (see the module's doc)."""
    normalised = " ".join(text.lower().split())
    bucket = int(hashlib.sha1(normalised.encode("utf-8")).hexdigest()[:8], 16) % 100
    for name, (lo, hi) in SPLIT_PERCENT.items():
        if lo <= bucket < hi:
            return name
    raise AssertionError(bucket)  # the ranges cover 0..99


def vader_archive() -> Path:
    from rnnstudio.paths import resources_dir

    return resources_dir() / "data" / "vader-sentences" / ARCHIVE_NAME


def _decode_line(raw: bytes) -> str:
    """UTF-8, or Latin-1 where a line is not (a few lines of the originals were saved so)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_ground_truth(data: bytes, source: str, threshold: float = LABEL_THRESHOLD) -> list[Sentence]:
    """The sentences of one `*_GroundTruth.txt` file: `id<TAB>mean rating<TAB>text` a line.

    HTML entities of the tweets (`&amp;`) are decoded; the text is otherwise as rated.
    """
    sentences = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        line = _decode_line(raw).rstrip("\r")
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        try:
            ident, rating, text = parts[0], float(parts[1]), parts[2]
        except (IndexError, ValueError):
            raise SentimentDataError(f"{SOURCES[source]} line {number} is not `id<TAB>rating<TAB>text`") from None
        text = html.unescape(text).strip()
        sentences.append(Sentence(source, ident, text, rating, label_for(rating, threshold), split_of(text)))
    return sentences


@lru_cache(maxsize=1)
def _archive_members(path: str) -> dict[str, bytes]:
    """The ground-truth files of the archive by source, read in memory (nothing is extracted)."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            found = {}
            for member in archive.getmembers():
                name = member.name.rsplit("/", 1)[-1]
                for source, wanted in SOURCES.items():
                    if name == wanted and member.isfile():
                        found[source] = archive.extractfile(member).read()
    except FileNotFoundError:
        raise SentimentDataError(
            f"the VADER sentences are missing: {path} does not exist; reinstall RNN Studio"
        ) from None
    except (OSError, tarfile.TarError, EOFError) as e:
        raise SentimentDataError(f"cannot read the VADER sentences at {path}: {e}; reinstall RNN Studio") from None
    missing = [SOURCES[s] for s in SOURCES if s not in found]
    if missing:
        raise SentimentDataError(f"{path} lacks {', '.join(missing)}; reinstall RNN Studio")
    return found


def load_sentences(threshold: float = LABEL_THRESHOLD, path: str | Path | None = None) -> list[Sentence]:
    """All 23,703 rated sentences, in the order of the archive's files (movies, tweets, amazon, nyt)."""
    members = _archive_members(str(path or vader_archive()))
    out: list[Sentence] = []
    for source in SOURCES:
        out.extend(parse_ground_truth(members[source], source, threshold))
    return out


# --- the tokeniser ------------------------------------------------------------------------


class Token(NamedTuple):
    """One token: `text` as the model reads it, `text_span` where it stands in the original.

    start, end are Python string indices (code points) into the text given to `tokenize`:
    text[start:end] is the token's surface form. (Qt counts UTF-16 units: an emoji is 2.)
    """

    text: str  # normalised: lower case, NFC, "’" read as "'", runs of one mark cut to 3
    start: int
    end: int
    kind: str  # word | number | punct | emoticon | emoji | url | user | symbol


_APOSTROPHES = "'\u2019\u2018\u02bc"  # ' ’ ‘ ʼ
# Marks that continue a word (combining accents; the vowel signs of Indic, Thai and Arabic script).
_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    "\u0900-\u0dff\u0e31-\u0e4e\u0eb1-\u0ecd\u0f18-\u0fbc\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff"
    "\ufe20-\ufe2f\u200c"
)
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"  # one token a character
_EMOJI_BASE = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u231a-\u23ff\u24c2\u25aa-\u25fe\u2600-\u27bf"
    "\u2934\u2935\u2b05-\u2b55\u3030\u303d\u3297\u3299\U0001f000-\U0001faff"
)
_EMOJI_MODIFIERS = "\ufe0f\u20e3\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f"  # variation, keycap, skin tone, tags
_EMOTICONS = (
    r"<3|</3|\^_*\^|-_-"
    r"|[:;=][-o*'^]?[()\[\]dDpP/\\|3*$@{}oO](?![^\W_])"
    r"|(?<!\S)[()\[\]][-o*'^]?[:;=](?![^\W_])"
)
_TOKEN = re.compile(
    rf"""
    (?P<url>(?:https?://|www\.)[^\s<>"]+)
    |(?P<user>@[^\W]+)
    |(?P<number>\d+(?:[.,:/]\d+)+(?![^\W_])|\d+(?![^\W_]))
    |(?P<word>[^\W_{_CJK}](?:[^\W_{_CJK}]|[{_MARKS}])*(?:[{_APOSTROPHES}][^\W_{_CJK}]+)*)
    |(?P<emoticon>{_EMOTICONS})
    |(?P<emoji>[\U0001f1e6-\U0001f1ff]{{2}}
        |[{_EMOJI_BASE}][{_EMOJI_MODIFIERS}]*(?:\u200d[{_EMOJI_BASE}][{_EMOJI_MODIFIERS}]*)*)
    |(?P<cjk>[{_CJK}])
    |(?P<punct>(?P<mark>[^\w\s\u200d])(?P=mark)*|_+)
    """,
    re.VERBOSE,
)
_CLITICS = ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m")
_NEGATIVE_HEADS = {"ca": "can", "wo": "will", "sha": "shall"}  # can't -> can n't, won't -> will n't
# Contractions written without the apostrophe, common in tweets: (head, "n't"), so that
# "dont" is read as "do n't". Only words that are nothing else ("cant" is rare as a noun).
_BARE_NEGATIONS = {
    w: (w[:-2], w[-2:])
    for w in ("dont doesnt didnt isnt wasnt werent arent cant couldnt wouldnt shouldnt wont havent hasnt hadnt "
              "aint mustnt neednt").split()
}
_RUN_CAP = 3  # "!!!!!!" is read as "!!!": one emphasis token, not a new word for every length


def tokenize(text: str) -> list[Token]:
    """Split text into the tokens the sentiment models read, each with its span in `text`.

    - Case: lower-cased ("GREAT" and "great" are one word); NFC; curly apostrophes read as '.
    - Contractions: split Penn-Treebank style, so that negation is one token everywhere:
      "can't" -> "can" "n't", "won't" -> "will" "n't", "wasn't" -> "was" "n't", "it's" -> "it" "'s",
      "I'm" -> "i" "'m", "dont" -> "do" "n't", "cannot" -> "can" "not". The first part's span is
      its letters ("ca" of "can't"); its text is the word ("can").
    - Punctuation: a run of one mark is one token ("!!!", "...", "??"), runs longer than 3 cut
      to 3 in the token's text; mixed marks ("?!") are one token each. '' and “ ” read as ".
    - Emoticons (":)", ":-(", "<3", ":D") are tokens; so are emoji, one per emoji sequence
      (skin tones, flags and ZWJ families included), URLs (read as "<url>") and @users ("<user>").
    - Other scripts are kept: words of letters in any script (Cyrillic "привет" is one token),
      Chinese, Japanese and Korean syllables one character a token. Unknown to the models, they
      are reported as unknown, never dropped.
    - Control and format characters (Unicode category C*: NUL, escape, zero-width space, BOM...)
      are dropped like spaces: they end a token and are never part of one.
    """
    if not text.isprintable():
        text = _blank_controls(text)  # same length: the spans still index the caller's text
    tokens: list[Token] = []
    for found in _TOKEN.finditer(text):
        kind = found.lastgroup
        surface = found.group()
        start, end = found.span()
        if kind == "word":
            tokens.extend(_word_tokens(surface, start))
        elif kind == "cjk":
            tokens.append(Token(surface, start, end, "word"))
        elif kind == "punct":
            mark = surface[0]
            if mark in "\"“”„«»" or surface == "''" or mark == "`":
                norm = '"'
            elif mark in _APOSTROPHES:
                norm = "'" * min(len(surface), _RUN_CAP)
            else:
                norm = surface[:_RUN_CAP]
            category = unicodedata.category(mark)
            tokens.append(Token(norm, start, end, "punct" if category.startswith("P") else "symbol"))
        elif kind == "url":
            tokens.append(Token("<url>", start, end, kind))
        elif kind == "user":
            tokens.append(Token("<user>", start, end, kind))
        elif kind == "emoticon":
            norm = surface.lower()
            if len(norm) == 3 and norm[1] in "-o*'^" and norm[0] in ":;=":
                norm = norm[0] + norm[2]  # ":-)" is ":)"
            tokens.append(Token(norm, start, end, kind))
        else:
            tokens.append(Token(surface, start, end, kind))
    return tokens


def _blank_controls(text: str) -> str:
    """Every control, format or surrogate character as a space, except the zero-width joiner
    (it binds emoji sequences; elsewhere the tokeniser skips it)."""
    return "".join(
        " " if ch != "\u200d" and unicodedata.category(ch)[0] == "C" and ch not in "\u200c" else ch for ch in text
    )


def _word_tokens(surface: str, start: int) -> list[Token]:
    """One word, its contraction split off (see `tokenize`)."""
    word = surface.lower()
    if not word.isascii():
        word = unicodedata.normalize("NFC", word)
        for a in _APOSTROPHES[1:]:
            word = word.replace(a, "'")
    if len(word) != len(surface):  # NFC joined an accent to its letter: keep the word whole
        return [Token(word, start, start + len(surface), "word")]
    end = start + len(surface)
    if "'" not in word and word not in _BARE_NEGATIONS and word != "cannot":
        return [Token(word, start, end, "word")]  # the common case, quickly
    if word in _BARE_NEGATIONS:
        head, tail = _BARE_NEGATIONS[word]
        cut = start + len(head)
        return [Token(_NEGATIVE_HEADS.get(head, head), start, cut, "word"), Token("n't", cut, end, "word")]
    if word == "cannot":
        return [Token("can", start, start + 3, "word"), Token("not", start + 3, end, "word")]
    for clitic in _CLITICS:
        if word.endswith(clitic) and len(word) > len(clitic):
            head = word[: -len(clitic)]
            if clitic == "n't" and head in _NEGATIVE_HEADS:
                text = _NEGATIVE_HEADS[head]
            else:
                text = head
            cut = start + len(head)
            return [Token(text, start, cut, "word"), Token(clitic, cut, end, "word")]
    return [Token(word, start, end, "word")]


def words_of(text: str) -> list[str]:
    """The normalised token texts of `text` (what a vocabulary counts)."""
    return [t.text for t in tokenize(text)]


# --- the vocabulary -----------------------------------------------------------------------


@dataclass
class Vocabulary:
    """Words by index: <pad> (0) and <unk> (1), then the training words by falling count."""

    words: list[str]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self):
        if self.words[: len(SPECIALS)] != SPECIALS:
            raise ValueError(f"a vocabulary starts with {' '.join(SPECIALS)}")
        if len(set(self.words)) != len(self.words):
            raise ValueError("a vocabulary lists each word once")
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    @property
    def unk(self) -> int:
        return 1

    def encode(self, words: Iterable[str]) -> list[int]:
        unk = self.unk
        return [self.index.get(w, unk) for w in words]

    def known(self, word: str) -> bool:
        return word in self.index and word not in SPECIALS


def build_vocabulary(sentences: Sequence[Sentence], min_count: int = MIN_COUNT,
                     words: Sequence[list[str]] | None = None) -> Vocabulary:
    """The words of the training split seen at least `min_count` times (ties in alphabetical order).

    Only training sentences are counted, neutral ones included (their words are words too);
    validation and test words the training split lacks stay unknown, as in use. `words`, if
    given, are the sentences' words_of, already computed.
    """
    if words is None:
        words = [words_of(s.text) for s in sentences]
    counts = Counter(w for s, ws in zip(sentences, words) if s.split == "train" for w in ws)
    kept = sorted((w for w, n in counts.items() if n >= min_count and w not in SPECIALS), key=lambda w: (-counts[w], w))
    return Vocabulary(SPECIALS + kept)


# --- the data a trainer uses -----------------------------------------------------------------


@dataclass
class SentimentData:
    """The sentences by split, their token ids under `vocab`, and the subsets for the figures."""

    sentences: list[Sentence]
    vocab: Vocabulary
    threshold: float = LABEL_THRESHOLD
    min_count: int = MIN_COUNT  # what `vocab` was built with
    words: list[list[str]] | None = field(default=None, repr=False)  # per sentence: words_of(text)
    ids: list[list[int]] = field(init=False, repr=False)  # per sentence, the words' indices in `vocab`

    def __post_init__(self):
        if self.words is None:
            self.words = [words_of(s.text) for s in self.sentences]
        self.ids = [self.vocab.encode(ws) for ws in self.words]

    def indices(self, split: str, labelled: bool = True) -> list[int]:
        """Positions in `sentences` of a split's sentences (only positive and negative ones if `labelled`)."""
        return [i for i, s in enumerate(self.sentences) if s.split == split and (s.label is not None or not labelled)]

    def counts(self) -> dict:
        """Sentences per split and label, for the model file and the README."""
        out = {}
        for split in SPLITS:
            in_split = [s for s in self.sentences if s.split == split]
            out[split] = {
                "sentences": len(in_split),
                "positive": sum(s.label == POSITIVE for s in in_split),
                "negative": sum(s.label == NEGATIVE for s in in_split),
                "neutral": sum(s.label is None for s in in_split),
            }
        return out

    def description(self) -> dict:
        """What a model file says about the data it was trained on (the panel shows it)."""
        return {
            "data": "VADER human-rated sentences (Hutto & Gilbert, ICWSM 2014): movie reviews, tweets, Amazon reviews, "
                    "NYT editorials",
            "label_rule": f"positive if the mean rating > +{self.threshold:g}, negative if < -{self.threshold:g}, "
                          f"otherwise neutral (left out of the accuracy, kept for the correlation)",
            "label_threshold": self.threshold,
            "split": SPLIT_DESCRIPTION,
            "counts": self.counts(),
            "min_count": self.min_count,
        }


def load_sentiment_data(threshold: float = LABEL_THRESHOLD, min_count: int = MIN_COUNT,
                        sentences: Sequence[Sentence] | None = None) -> SentimentData:
    """The shipped sentences (or `sentences`), labelled at `threshold`, with a training vocabulary."""
    if sentences is None:
        sentences = load_sentences(threshold)
    else:
        sentences = [s if s.label == label_for(s.rating, threshold) else
                     Sentence(s.source, s.id, s.text, s.rating, label_for(s.rating, threshold), s.split)
                     for s in sentences]
    sentences = list(sentences)
    words = [words_of(s.text) for s in sentences]  # tokenised once: most of the time this takes
    return SentimentData(sentences, build_vocabulary(sentences, min_count, words), threshold, min_count, words)


def order_subsets(tokens: Sequence[str]) -> set[str]:
    """The order-matters subsets a sentence belongs to: "negation" (a negation word: not, n't,
    no, never, nothing, nobody, none, neither, nor, nowhere, without) and "but"."""
    found = set()
    if any(w in NEGATIONS for w in tokens):
        found.add("negation")
    if BUT in tokens:
        found.add("but")
    return found


# --- minimal pairs: one small edit, to see whether a model reads the order ------------------------

AUXILIARIES = frozenset("is was are were am be been being do does did has have had will would can could shall "
                        "should must may might".split())
_CLITIC_VERBS = ("'s", "'re", "'m")  # "it's good" -> "it's not good" (tried after the real auxiliaries)


class EditError(UserError):
    """A minimal-pair edit that does not apply to the text (no "but" to swap around, ...)."""


def _negations(tokens: list[Token]) -> list[int]:
    return [n for n, t in enumerate(tokens) if t.text in ("not", "n't")]


def _without_negation(text: str, tokens: list[Token], n: int) -> tuple[str, int]:
    """`text` with negation token n taken out ("was not good" -> "was good", "wasn't" -> "was",
    "can't" -> "can"), and where it stood in the new text."""
    token = tokens[n]
    if token.text == "n't" and n > 0 and tokens[n - 1].end == token.start:
        head = tokens[n - 1]
        word = text[head.start : head.end]
        if head.text != word.lower():  # "ca" of "can't" is "can", "wo" of "won't" is "will"
            word = head.text.upper() if word.isupper() else head.text
        return text[: head.start] + word + text[token.end :], head.start + len(word)
    start = token.start
    if start > 0 and text[start - 1] == " ":
        start -= 1  # take one space with it
    return text[:start] + text[token.end :], start


def insert_not(text: str) -> str:
    """Negate the text, or take its negation out: the first "not" or "n't" is removed if there is
    one ("wasn't good" -> "was good"); otherwise "not" goes after the first auxiliary verb
    ("was good" -> "was not good", "it's fun" -> "it's not fun"). EditError if neither applies."""
    tokens = tokenize(text)
    found = _negations(tokens)
    if found:
        return _without_negation(text, tokens, found[0])[0]
    for wanted in (AUXILIARIES, _CLITIC_VERBS):
        for token in tokens:
            if token.kind == "word" and token.text in wanted:
                return text[: token.end] + " not" + text[token.end :]
    raise EditError("there is no 'not' to take out and no verb such as 'is' or 'was' to put 'not' after")


def swap_but(text: str) -> str:
    """The two halves around the first "but" swapped: "The cast was great, but the plot was dull."
    -> "The plot was dull, but the cast was great." The end mark stays at the end, a capital
    moves to the new first word. EditError without a "but" that has words on both sides."""
    tokens = tokenize(text)
    at = next((n for n, t in enumerate(tokens) if t.text == BUT), None)
    if at is None or at == 0 or at == len(tokens) - 1:
        raise EditError("the text needs a 'but' with words before and after it to swap the halves around")
    but = tokens[at]
    end = len(tokens)
    while end > at + 1 and tokens[end - 1].kind == "punct" and tokens[end - 1].text[0] in ".!?":
        end -= 1
    closing = text[tokens[end].start :].rstrip() if end < len(tokens) else ""
    right = text[but.end : tokens[end - 1].end].strip()
    left = text[: but.start].rstrip()
    comma = left.endswith((",", ";"))
    left = left.rstrip(",; ")
    if not right or not left:
        raise EditError("the text needs words on both sides of 'but' to swap the halves around")
    if left[:1].isupper() and right[:1].islower():
        right = right[0].upper() + right[1:]
        first_word = left.split(maxsplit=1)[0]
        if first_word != "I" and not first_word.isupper():
            left = left[0].lower() + left[1:]
    return f"{right}{',' if comma else ''} {text[but.start : but.end]} {left}{closing}"


def move_negation(text: str, k: int) -> str:
    """The first negation moved k words earlier, away from the words it negates: with k = 2,
    "the film was not good" -> "the not film was good" ("n't" moves as "not"). The grammar
    suffers; the question is whether a model still carries the "not" to "good". k is clamped
    to the words before the negation. EditError if the text has no "not" or "n't"."""
    if k < 0:
        raise ValueError("k must be at least 0")
    tokens = tokenize(text)
    found = _negations(tokens)
    if not found:
        raise EditError("the text has no 'not' or 'n't' to move; insert one first")
    n = found[0]
    word = "NOT" if text[tokens[n].start : tokens[n].end].isupper() and tokens[n].text == "not" else "not"
    shorter, _ = _without_negation(text, tokens, n)
    # Where the word k tokens before the negation stands in the shorter text (it is unchanged before it).
    target = max(n - k, 0)
    if target == n:
        at = _without_negation(text, tokens, n)[1]
        return shorter[:at] + " " + word + shorter[at:]
    at = tokens[target].start
    rest = shorter[at:]
    if at == 0 and rest[:1].isupper() and word == "not":  # "The film ..." -> "Not the film ..."
        first_word = rest.split(maxsplit=1)[0]
        word = "Not"
        if first_word != "I" and not first_word.isupper():
            rest = rest[0].lower() + rest[1:]
    return shorter[:at] + word + " " + rest
