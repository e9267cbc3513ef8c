"""Reading text safely, the Shakespeare corpus, the vocabulary."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rnnstudio.data import text as textmod
from rnnstudio.data.text import (
    MIN_CORPUS_CHARS,
    Vocab,
    codepoints_to_text,
    corpus_from_file,
    decode_codepoints,
    load_corpus,
    split_for_validation,
    text_to_codepoints,
)
from rnnstudio.errors import TextFileError, UserError

CHUNK = 1 << 20


def decoded(path, **kw) -> str:
    return codepoints_to_text(decode_codepoints(path, **kw))


def bad_byte_error(path) -> str:
    with pytest.raises(TextFileError) as info:
        decode_codepoints(path)
    return str(info.value)


# --- decoding -------------------------------------------------------------------------------------


def test_decode_small_utf8(tmp_path):
    text = "Hello, wörld! ∑ 日本語 🎭\nsecond line\n"
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    points = decode_codepoints(path)
    assert np.issubdtype(points.dtype, np.unsignedinteger)
    assert len(points) == len(text)
    assert codepoints_to_text(points) == text


@pytest.mark.parametrize(
    "char,shift",
    [(c, k) for c in ("é", "€", "🎭") for k in range(1, len(c.encode("utf-8")))],  # 2-, 3-, 4-byte
)
def test_multibyte_characters_across_chunk_boundary(tmp_path, char, shift):
    width = len(char.encode("utf-8"))
    # ASCII up to just before the boundary, so the character is cut after `shift` bytes.
    head = "a" * (CHUNK - shift)
    text = head + char + "tail" + char * 3 + "\n"
    path = tmp_path / "boundary.txt"
    path.write_bytes(text.encode("utf-8"))
    assert text.encode("utf-8")[CHUNK - shift : CHUNK - shift + width] == char.encode("utf-8")
    assert decoded(path) == text


def test_multibyte_text_over_several_chunks(tmp_path):
    # Mixed widths, so chunk boundaries fall at every position within a character.
    text = ("ab€cd🎭éf日" * 300_000)[: 2_500_000]
    path = tmp_path / "big.txt"
    path.write_bytes(text.encode("utf-8"))
    assert path.stat().st_size > 3 * CHUNK
    assert decoded(path) == text


def test_text_to_codepoints_round_trip():
    text = "To be, or not to be — ∀x 🎭"
    assert codepoints_to_text(text_to_codepoints(text)) == text


# --- bad bytes: the exact offset of the first bad byte --------------------------------------------


@pytest.mark.parametrize("offset", [0, 7, CHUNK - 1, CHUNK, CHUNK + 12345, 2 * CHUNK + 3])
def test_non_utf8_names_exact_byte_offset(tmp_path, offset):
    data = bytearray(b"x" * (offset + 100))
    for i in range(50, offset, 80):
        data[i] = ord("\n")
    data[offset] = 0xFF
    path = tmp_path / "latin.txt"
    path.write_bytes(bytes(data))
    message = bad_byte_error(path)
    assert "not UTF-8" in message
    assert f"byte {offset} " in message, message
    assert "0xff" in message
    line = bytes(data[:offset]).count(b"\n") + 1
    assert f"(line {line})" in message, message


def test_bad_byte_after_multibyte_char_split_across_chunks(tmp_path):
    # "é" straddles the boundary (its first byte ends chunk 1), then a Latin-1 byte later on.
    head = b"a" * (CHUNK - 1) + "é".encode("utf-8") + b"bc\n"
    bad_at = len(head) + 10
    data = head + b"z" * 10 + b"\xe9" + b"z" * 20
    path = tmp_path / "mixed.txt"
    path.write_bytes(data)
    message = bad_byte_error(path)
    assert f"byte {bad_at} " in message, message
    assert "0xe9" in message
    assert "(line 2)" in message


def test_incomplete_sequence_cut_by_the_next_chunk(tmp_path):
    # A 3-byte sequence whose first two bytes end chunk 1 and whose third byte is missing:
    # the bad sequence starts at its first byte.
    data = b"a" * (CHUNK - 2) + b"\xe2\x82" + b"A" * 50
    path = tmp_path / "cut.txt"
    path.write_bytes(data)
    message = bad_byte_error(path)
    assert f"byte {CHUNK - 2} " in message, message
    assert "0xe2" in message


def test_incomplete_sequence_at_end_of_file(tmp_path):
    data = "hello wörld\n".encode("utf-8") + "€".encode("utf-8")[:2]
    path = tmp_path / "end.txt"
    path.write_bytes(data)
    message = bad_byte_error(path)
    assert f"byte {len(data) - 2} " in message, message
    assert "(line 2)" in message


def test_latin1_file_is_not_guessed(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Zoë's café\n".encode("latin-1"))
    message = bad_byte_error(path)
    assert "byte 2 " in message and "UTF-8" in message


# --- other refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("nul_at", [0, 123, CHUNK + 5])
def test_binary_file_refused(tmp_path, nul_at):
    data = bytearray(b"y" * (nul_at + 10))
    data[nul_at] = 0
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(TextFileError) as info:
        decode_codepoints(path)
    assert "binary" in str(info.value)
    assert f"byte {nul_at}" in str(info.value)


def test_file_over_max_bytes_refused(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("z" * 5000)
    with pytest.raises(TextFileError, match="limit"):
        decode_codepoints(path, max_bytes=4096)
    assert len(decode_codepoints(path, max_bytes=5000)) == 5000


def test_folder_refused(tmp_path):
    with pytest.raises(TextFileError, match="folder"):
        decode_codepoints(tmp_path)
    with pytest.raises(TextFileError, match="folder"):
        corpus_from_file(tmp_path)


def test_missing_file_refused(tmp_path):
    with pytest.raises(TextFileError, match="does not exist"):
        decode_codepoints(tmp_path / "nope.txt")
    with pytest.raises(TextFileError, match="does not exist"):
        load_corpus(str(tmp_path / "nope.txt"))


def test_empty_file_refused_as_corpus(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert len(decode_codepoints(path)) == 0
    with pytest.raises(TextFileError, match="0 characters"):
        corpus_from_file(path)


def test_too_short_text_refused_as_corpus(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("x" * (MIN_CORPUS_CHARS - 1))
    with pytest.raises(TextFileError, match=f"at least {MIN_CORPUS_CHARS}"):
        corpus_from_file(path)
    path.write_text("x" * MIN_CORPUS_CHARS)
    corpus = corpus_from_file(path)
    assert len(corpus.train) + len(corpus.valid) == MIN_CORPUS_CHARS


def test_text_errors_are_user_errors():
    assert issubclass(TextFileError, UserError)


def test_split_for_validation_holds_out_the_end():
    points = text_to_codepoints("".join(chr(ord("a") + i % 26) for i in range(2000)))
    corpus = split_for_validation("abc", points, fraction=0.1)
    assert len(corpus.valid) == 200
    assert np.array_equal(np.concatenate([corpus.train, corpus.valid]), points)
    assert corpus.vocab() == [chr(ord("a") + i) for i in range(26)]


# --- Shakespeare ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shakespeare():
    return textmod.shakespeare_text("train"), textmod.shakespeare_text("valid")


def _speaker_lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [lines[i] for i in range(len(lines)) if lines[i] and (i == 0 or lines[i - 1] == "")]


def test_the_tempest_is_held_out(shakespeare):
    train, valid = shakespeare
    assert "the-tempest" in textmod.shakespeare_plays()
    assert len(valid) > 50_000 and len(train) > 20 * len(valid)
    # Characters only The Tempest has speak in the validation text and never in training.
    for name in ("PROSPERO:", "CALIBAN:", "ARIEL:", "MIRANDA:"):
        assert f"\n{name}\n" in valid
        assert f"\n{name}\n" not in train and not train.startswith(name)
    # Not one line of its speeches is in the training text (short common lines aside).
    speeches = [line for line in valid.split("\n") if len(line) > 45]
    assert len(speeches) > 500
    leaked = [line for line in speeches if line in train]
    assert len(leaked) < 0.01 * len(speeches), leaked[:5]


def test_speaker_lines_are_names_in_capitals(shakespeare):
    for text in shakespeare:
        speakers = _speaker_lines(text)
        assert len(speakers) > 500
        bad = [s for s in speakers if not re.fullmatch(r"[^a-z:]*[A-Z][^a-z:]*:", s)]
        assert not bad, bad[:10]
        # Each speaker line is followed by the speech, not by a blank line.
        lines = text.split("\n")
        for i, line in enumerate(lines[:-1]):
            if line and (i == 0 or lines[i - 1] == "") and i + 1 < len(lines):
                assert lines[i + 1], f"speaker {line!r} has no speech"


def test_no_headings_markup_or_trailing_spaces(shakespeare):
    for text in shakespeare:
        assert "#" not in text
        assert "_" not in text
        assert "**" not in text
        assert "\\" not in text
        assert "\n\n\n" not in text, "speeches are separated by exactly one blank line"
        assert not any(line != line.rstrip() for line in text.split("\n"))
        headings = [line for line in text.split("\n") if re.match(r"\s*(ACT|SCENE) [IVXLC]+\b", line, re.I)]
        assert not headings, f"act or scene headings left in the corpus: {headings[:5]}"


def test_shakespeare_layout_matches_tiny_shakespeare(shakespeare):
    train, _ = shakespeare
    first = train.split("\n\n")[0].split("\n")
    assert re.fullmatch(r"[A-Z][A-Z .'-]*:", first[0])
    assert len(first) >= 2


def test_play_as_plain_text_drops_directions():
    md = "\n".join([
        "# A Play", "", "## ACT I", "", "### SCENE 1. A heath.", "",
        "_Thunder. Enter three Witches._", "",
        "**First Witch**", "", "When shall we three meet again _[Aside.]_", "In thunder, lightning, or in rain?   ", "",
        "_Exeunt, with a long direction", "over two lines._", "",
        "**Second Witch**", "", "When the hurlyburly\\'s done,", "",
    ])
    assert textmod.play_as_plain_text(md) == (
        "FIRST WITCH:\nWhen shall we three meet again\nIn thunder, lightning, or in rain?\n\n"
        "SECOND WITCH:\nWhen the hurlyburly's done,\n"
    )


# --- the vocabulary -------------------------------------------------------------------------------


def test_vocab_encode_decode():
    vocab = Vocab(list("zyx ab\n"))
    assert len(vocab) == 7
    assert vocab.encode("ab z") == [4, 5, 3, 0]
    assert vocab.decode(vocab.encode("xyz\n")) == "xyz\n"
    assert vocab.encode("") == []


def test_vocab_unknown_characters():
    vocab = Vocab(list("abc"))
    assert vocab.unknown("abcabc") == []
    assert vocab.unknown("aXbYXc!") == ["X", "Y", "!"]
    with pytest.raises(TextFileError) as info:
        vocab.encode("abZ")
    assert "'Z'" in str(info.value)


def test_vocab_encode_points_marks_unknown():
    vocab = Vocab(list("dcba"))  # not in code point order
    points = text_to_codepoints("abcdeA")
    assert vocab.encode_points(points).tolist() == [3, 2, 1, 0, -1, -1]
    assert np.issubdtype(vocab.encode_points(points).dtype, np.signedinteger)


@pytest.mark.parametrize("encoding, bom", [("utf-16", True), ("utf-16-le", False), ("utf-16-be", False)])
def test_utf16_text_is_named_with_how_to_convert_it_not_called_binary(tmp_path, encoding, bom):
    path = tmp_path / "notepad.txt"
    path.write_bytes("To be, or not to be: that is the question.\n".encode(encoding))
    for read in (decode_codepoints, lambda p: textmod.read_text_start(p, 100)):
        with pytest.raises(TextFileError) as info:
            read(path)
        message = str(info.value)
        assert "is UTF-16 text" in message and "iconv -f UTF-16 -t UTF-8" in message and "binary" not in message
        assert ("without a byte order mark" in message) != bom


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_named_pipe_is_refused_before_it_is_opened_for_reading(tmp_path):
    import os

    pipe = tmp_path / "pipe.txt"
    os.mkfifo(pipe)
    for read in (decode_codepoints, corpus_from_file, lambda p: textmod.read_text_start(p, 100)):
        with pytest.raises(TextFileError, match="pipe.txt is a named pipe, not a regular file"):
            read(pipe)  # without a writer, opening it for reading would wait forever


def test_the_start_of_a_text_is_read_and_says_whether_there_was_more(tmp_path):
    path = tmp_path / "accents.txt"
    path.write_text("é" * 10, encoding="utf-8")  # two bytes a character: the read may stop inside one
    assert textmod.read_text_start(path, 4) == ("éééé", True)
    assert textmod.read_text_start(path, 10) == ("é" * 10, False)
    path.write_bytes(b"caf\xc3")  # cut inside its last character: not UTF-8
    with pytest.raises(TextFileError, match="is not UTF-8 text: byte 3"):
        textmod.read_text_start(path, 100)
