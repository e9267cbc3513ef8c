"""French-English sentence pairs for translation: reading, tokens, the split, vocabularies, casing.

The pairs are Tatoeba's (tatoeba.org, CC-BY 2.0 FR), shipped unmodified in
resources/data/tatoeba-fra-eng/fra-eng.tsv.xz: one `french<TAB>english` a line, short
sentences ordered by the English length.

The model reads and writes lower-cased tokens:

    "Je ne sais pas, c'est à Tom."     -> je ne sais pas , c' est à tom .
    "I don't know Tom's sister."       -> i do n't know tom 's sister .

French elisions keep their apostrophe on the left (c', l', qu'), inverted pronouns their
hyphen on the right (-vous, -t, -il); English clitics are split as in the Penn Treebank
('s 're 'll 've 'm 'd n't), so "don't" and "isn't" share "n't" and every name's possessive
is the name and "'s". `Casing` writes English tokens back as a person would: the first
word capitalised, "I", names as the training references write them, punctuation and
clitics attached.

The split goes by French sentence (its tokens, so that "Viens !" and "Viens\u202f!" are one
sentence): a hash decides train, valid or test, so pairs sharing a French sentence stay
together and no French sentence of the test split occurs in training.
"""

from __future__ import annotations

import hashlib
import lzma
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rnnstudio.errors import UserError

PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
SPECIALS = [PAD, SOS, EOS, UNK]  # the first four entries of every vocabulary, in this order (pad is 0)
DATA_FOLDER = "tatoeba-fra-eng"
DATA_FILE = "fra-eng.tsv.xz"
SPLIT_PERCENT = {"test": 5, "valid": 5}  # of French sentences, by hash; the other 90 % train
SPLITS = ("train", "valid", "test")

# Apostrophes and spaces as Tatoeba writes them, made plain before tokenising: curly
# apostrophes, and the narrow no-break spaces French puts before ! ? : ;
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_SPACES = re.compile(r"[\s\u00a0\u2009\u202f]+")

# French: numbers with their separators; elided words with their apostrophe (c' qu' aujourd');
# a hyphen and the word after it (-vous in "avez-vous"); other words; any other single character.
_FRENCH_TOKEN = re.compile(r"\d+(?:[.,:]\d+)+|\w+'|-\w+|\w+|[^\w\s]")
# English: the clitics first ('s 're 'll 've 'm 'd, and n't taken off its verb), numbers with
# separators, abbreviations (a.m.), words (hyphens inside them kept: t-shirt), any other single character.
_ENGLISH_CLITIC = re.compile(r"(?i)(\w)(n't)\b")
_ENGLISH_TOKEN = re.compile(r"(?i)n't|'(?:s|re|ll|ve|m|d)\b|\d+(?:[.,:]\d+)+|(?:\w\.){2,}|\w+(?:-\w+)*|'\w+|[^\w\s]")

# Written against the word before them, with no space.
_ATTACH_LEFT = {".", ",", "?", "!", ";", ":", "%", ")", "…"}
_ATTACH_RIGHT = {"(", "$", "¿", "¡"}
_SENTENCE_END = {".", "?", "!"}


@dataclass(frozen=True)
class Pair:
    french: str
    english: str


def data_path() -> Path:
    from rnnstudio.paths import resources_dir

    return resources_dir() / "data" / DATA_FOLDER / DATA_FILE


def read_pairs(path: str | Path | None = None) -> list[Pair]:
    """Every pair of the shipped file (or of `path`, the same format), in file order."""
    path = Path(path) if path is not None else data_path()
    try:
        with lzma.open(path, "rt", encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise UserError(f"the translation data {path} is missing; reinstall RNN Studio") from None
    except (OSError, lzma.LZMAError, UnicodeDecodeError) as e:
        raise UserError(f"the translation data {path} cannot be read ({e}); reinstall RNN Studio") from None
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise UserError(f"{path} line {number} is not `french<TAB>english`; reinstall RNN Studio")
        pairs.append(Pair(parts[0], parts[1]))
    return pairs


# --- tokens ----------------------------------------------------------------------------------


def _plain(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text).translate(_APOSTROPHES)).strip()


def tokenize_french(text: str, lower: bool = True) -> list[str]:
    """French text -> tokens; lower=False keeps them as typed (to copy an unknown name)."""
    tokens = _FRENCH_TOKEN.findall(_plain(text))
    return [t.lower() for t in tokens] if lower else tokens


def tokenize_english(text: str) -> list[str]:
    """English text -> lower-cased tokens, clitics split off: "Tom's" -> tom 's, "don't" -> do n't."""
    return [t.lower() for t in _english_forms(text)]


def _english_forms(text: str) -> list[str]:
    """The tokens of English text as written."""
    return _ENGLISH_TOKEN.findall(_ENGLISH_CLITIC.sub(r"\1 \2", _plain(text)))


def is_word(token: str) -> bool:
    """A token with a letter in it (not punctuation, a number, an emoji)."""
    return any(c.isalpha() for c in token)


class Casing:
    """How each English token is written: its most frequent form in the training references
    where it does not start a sentence ("i" -> "I", "tom" -> "Tom", "tv" -> "TV"); tokens
    never seen there are written lower-case. `detokenize` joins tokens into a sentence."""

    def __init__(self, written: dict[str, str] | None = None):
        self.written = dict(written or {})  # token -> its written form, only where they differ

    @classmethod
    def learn(cls, references: Iterable[str]) -> Casing:
        seen: dict[str, Counter] = {}
        for reference in references:
            start = True
            for form in _english_forms(reference):
                if not start and is_word(form):
                    seen.setdefault(form.lower(), Counter())[form] += 1
                start = form in _SENTENCE_END
        written = {}
        for token, forms in seen.items():
            # most frequent; on a tie the lower-case form, then the first in code-point order
            best = max(sorted(forms), key=lambda f: (forms[f], f == token))
            if best != token:
                written[token] = best
        return cls(written)

    def word(self, token: str) -> str:
        return self.written.get(token, token)

    def words(self, tokens: list[str]) -> list[str]:
        """Each token as written in the sentence: cased, the first word of a sentence capitalised."""
        out, start = [], True
        for token in tokens:
            form = self.word(token)
            if start and is_word(form):
                first = next(i for i, c in enumerate(form) if c.isalpha())
                form = form[:first] + form[first].upper() + form[first + 1:]
                start = False
            if token in _SENTENCE_END:
                start = True
            out.append(form)
        return out

    def detokenize(self, tokens: list[str]) -> str:
        """Tokens -> a sentence: "i do n't know tom 's sister ." -> "I don't know Tom's sister." """
        return join_words(tokens, self.words(tokens))


def join_words(tokens: list[str], words: list[str]) -> str:
    """The written `words` of `tokens` joined with spaces, except before punctuation and clitics
    (n't 's 're ...) and after an opening bracket; straight double quotes open and close in turn."""
    text, glue_next, quote_open = "", True, False
    for token, word in zip(tokens, words):
        if token == '"':
            closing = quote_open  # a closing quote sticks to the word before it, an opening one to the word after
            text += ("" if closing or glue_next else " ") + word
            quote_open = not quote_open
            glue_next = not closing
            continue
        glue = glue_next or token in _ATTACH_LEFT or token == "n't" or token.startswith("'")
        text += ("" if glue else " ") + word
        glue_next = token in _ATTACH_RIGHT
    return text


# --- the split -------------------------------------------------------------------------------


def french_key(french: str) -> str:
    """What makes two French sentences the same one for the split: their lower-cased tokens."""
    return " ".join(tokenize_french(french))


def split_of(french: str) -> str:
    """'train', 'valid' or 'test' for a French sentence: from a hash, the same on every machine."""
    bucket = int.from_bytes(hashlib.blake2b(french_key(french).encode("utf-8"), digest_size=8).digest(), "big") % 100
    if bucket < SPLIT_PERCENT["test"]:
        return "test"
    if bucket < SPLIT_PERCENT["test"] + SPLIT_PERCENT["valid"]:
        return "valid"
    return "train"


@dataclass
class Splits:
    train: list[Pair]
    valid: list[Pair]  # for choices during development and validation during training
    test: list[Pair]  # for the final figures only


def split_pairs(pairs: Iterable[Pair]) -> Splits:
    parts: dict[str, list[Pair]] = {name: [] for name in SPLITS}
    for pair in pairs:
        parts[split_of(pair.french)].append(pair)
    return Splits(**parts)


@lru_cache(maxsize=1)
def load_splits() -> Splits:
    """The shipped pairs, split (read once per process)."""
    return split_pairs(read_pairs())


# --- vocabularies ----------------------------------------------------------------------------


class Vocabulary:
    """Tokens <-> indices: the four SPECIALS, then the tokens in order of frequency."""

    def __init__(self, tokens: list[str]):
        if tokens[: len(SPECIALS)] != SPECIALS:
            raise ValueError(f"a vocabulary starts with {' '.join(SPECIALS)}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("a vocabulary lists each token once")
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(tokens)}
        self.pad, self.sos, self.eos, self.unk = (self.index[s] for s in SPECIALS)

    @classmethod
    def build(cls, sentences: Iterable[list[str]], min_count: int = 1) -> Vocabulary:
        """From tokenised training sentences: every token seen at least `min_count` times, the
        most frequent first (ties in code-point order)."""
        counts = Counter(t for sentence in sentences for t in sentence)
        kept = [t for t, n in counts.items() if n >= min_count and t not in SPECIALS]
        kept.sort(key=lambda t: (-counts[t], t))
        return cls(SPECIALS + kept)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def encode(self, tokens: list[str]) -> list[int]:
        """Tokens -> indices, unknown ones as <unk> (no <sos> or <eos> added)."""
        return [self.index.get(t, self.unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[i] for i in ids]
