"""The VADER sentences, their labels and split, the tokeniser and the vocabulary."""

from __future__ import annotations

import unicodedata
from collections import Counter

import pytest

from rnnstudio.data.sentiment import (
    NEGATIVE,
    POSITIVE,
    SOURCES,
    SPECIALS,
    EditError,
    SentimentDataError,
    Sentence,
    build_vocabulary,
    insert_not,
    label_for,
    load_sentences,
    load_sentiment_data,
    move_negation,
    order_subsets,
    parse_ground_truth,
    split_of,
    swap_but,
    tokenize,
    words_of,
)


@pytest.fixture(scope="module")
def sentences():
    return load_sentences()


# A contraction's first part is read as the word it stands for ("ca" of "can't" as "can").
CONTRACTION_PARTS = {("ca", "can"), ("wo", "will"), ("sha", "shall"), ("nt", "n't")}


def texts(text: str) -> list[str]:
    return [t.text for t in tokenize(text)]


# --- the data ---------------------------------------------------------------------------------


def test_all_four_sources_are_read_whole(sentences):
    counts = Counter(s.source for s in sentences)
    assert counts == {"movies": 10605, "tweets": 4200, "amazon": 3708, "nyt": 5190}
    assert len(sentences) == 23703
    assert all(-4 <= s.rating <= 4 and s.text for s in sentences)
    # HTML entities of the tweets are decoded.
    assert not any("&amp;" in s.text for s in sentences if s.source == "tweets")


def test_labels_follow_the_rating(sentences):
    for s in sentences[:2000]:
        assert s.label == label_for(s.rating)
    assert label_for(0.51) == POSITIVE and label_for(-0.51) == NEGATIVE
    assert label_for(0.5) is None and label_for(-0.5) is None and label_for(0.0) is None
    assert label_for(1.0, threshold=1.5) is None
    labels = Counter(s.label for s in sentences)
    assert labels[POSITIVE] > 9000 and labels[NEGATIVE] > 8000 and labels[None] > 4000


def test_split_is_about_80_10_10_and_no_text_straddles_it(sentences):
    by_split = Counter(s.split for s in sentences)
    assert 0.78 < by_split["train"] / len(sentences) < 0.82
    assert 0.08 < by_split["valid"] / len(sentences) < 0.12
    assert 0.08 < by_split["test"] / len(sentences) < 0.12
    splits_of_text: dict[str, set] = {}
    for s in sentences:
        splits_of_text.setdefault(" ".join(s.text.lower().split()), set()).add(s.split)
    assert all(len(v) == 1 for v in splits_of_text.values())
    # Deterministic: the same text, however spaced or cased, always lands in the same split.
    assert split_of("A fine  film") == split_of("a fine film") == split_of("a fine film")


def test_every_source_is_in_every_split(sentences):
    seen = {(s.source, s.split) for s in sentences}
    assert seen == {(source, split) for source in SOURCES for split in ("train", "valid", "test")}


def test_a_damaged_line_is_named():
    with pytest.raises(SentimentDataError, match="line 2"):
        parse_ground_truth(b"1\t0.5\tfine\nno tabs here\n", "movies")


def test_latin1_lines_are_read():
    [s] = parse_ground_truth("1\t-2.0\tun film ennuyeux, tr\xe8s\r\n".encode("latin-1"), "movies")
    assert s.text == "un film ennuyeux, très" and s.label == NEGATIVE


def test_a_missing_archive_is_a_clear_error(tmp_path):
    with pytest.raises(SentimentDataError, match="missing"):
        load_sentences(path=tmp_path / "nothing.tar.gz")


def test_vocabulary_comes_from_training_only():
    made = [
        Sentence("movies", "1", "good good film", 2.0, POSITIVE, "train"),
        Sentence("movies", "2", "good secret secret secret", 2.0, POSITIVE, "test"),
        Sentence("movies", "3", "bad film", -2.0, NEGATIVE, "train"),
    ]
    vocab = build_vocabulary(made, min_count=2)
    assert vocab.words[:2] == SPECIALS
    assert vocab.words[2:] == ["film", "good"]  # by count, then alphabetical; "bad" once, "secret" test only
    assert vocab.encode(["good", "secret"]) == [vocab.index["good"], vocab.unk]


def test_data_counts_and_subsets(sentences):
    data = load_sentiment_data(sentences=sentences[:3000])
    counts = data.counts()
    assert sum(c["sentences"] for c in counts.values()) == 3000
    rows = data.indices("test")
    assert rows and all(data.sentences[n].label is not None for n in rows)
    assert len(data.indices("test", labelled=False)) >= len(rows)
    assert len(data.ids) == 3000
    assert order_subsets(words_of("It wasn't bad, but it was long")) == {"negation", "but"}
    assert order_subsets(words_of("Never again")) == {"negation"}
    assert order_subsets(words_of("A great film")) == set()


# --- the tokeniser ----------------------------------------------------------------------------------


def test_contractions_split_so_that_negation_is_one_token():
    assert texts("I can't") == ["i", "can", "n't"]
    assert texts("it WASN'T good") == ["it", "was", "n't", "good"]
    assert texts("won't") == ["will", "n't"]
    assert texts("it’s fine") == ["it", "'s", "fine"]  # a curly apostrophe is read as '
    assert texts("I'm sure they're") == ["i", "'m", "sure", "they", "'re"]
    assert texts("dont cannot") == ["do", "n't", "can", "not"]
    assert texts("o'clock") == ["o'clock"]


def test_punctuation_runs_and_case():
    assert texts("GREAT!!!") == ["great", "!!!"]
    assert texts("Great!!!!!!!") == ["great", "!!!"]  # runs cut to 3
    assert texts("what?! ...") == ["what", "?", "!", "..."]
    assert texts("''Conan'' rocks") == ['"', "conan", '"', "rocks"]
    assert texts("Good") == texts("good") == texts("GOOD")


def test_emoticons_emoji_and_other_scripts_are_kept():
    assert texts("fun :-) :D <3") == ["fun", ":)", ":d", "<3"]
    tokens = tokenize("nice 👍🏽 family 👨‍👩‍👧 🇫🇷")
    assert [t.kind for t in tokens] == ["word", "emoji", "word", "emoji", "emoji"]
    assert texts("хороший фильм") == ["хороший", "фильм"]
    assert texts("我喜欢") == ["我", "喜", "欢"]
    assert texts("हिन्दी") == ["हिन्दी"]  # vowel signs stay in their word
    assert texts("@someone http://example.com/x") == ["<user>", "<url>"]


def test_control_characters_are_dropped():
    assert texts("bad\x00\x1b movie\u200b!") == ["bad", "movie", "!"]
    assert texts("\x00\x01\x02") == []
    assert texts("") == [] and texts("   \n\t") == []


@pytest.mark.parametrize("text", [
    "I can't believe it WASN'T good!!!!!! :-)",
    "The Rock's ''Conan'' -- well-made?! 3.5 stars, 10/10",
    "dont go @anonymous http://url_removed & 21st, won't, can't, shan't",
    "привет мир 我喜欢这部电影 👍🏽 👨‍👩‍👧 🇫🇷 café cafe\u0301",
    "go\x00od\x1b[31m red\u200b x",
])
def test_spans_map_back_to_the_text(text):
    tokens = tokenize(text)
    assert tokens
    previous_end = 0
    for token in tokens:
        surface = text[token.start : token.end]
        assert token.start >= previous_end and token.end > token.start
        assert surface.strip() == surface and surface
        if token.kind == "word":
            read_as = unicodedata.normalize("NFC", surface.lower().replace("’", "'"))
            assert read_as == token.text or (read_as, token.text) in CONTRACTION_PARTS
        previous_end = token.end
    # Nothing but spaces and control characters lies between the tokens.
    covered = set()
    for token in tokens:
        covered.update(range(token.start, token.end))
    for i, ch in enumerate(text):
        if i not in covered:
            assert ch.isspace() or not ch.isprintable() or ch == "\u200d"


# --- minimal pairs ----------------------------------------------------------------------------------


def test_insert_not_negates_and_takes_negation_out():
    assert insert_not("The film was good.") == "The film was not good."
    assert insert_not("it's fun") == "it's not fun"
    assert insert_not("The film wasn't good.") == "The film was good."
    assert insert_not("It can't fail") == "It can fail"
    assert insert_not("The film was not good!") == "The film was good!"
    with pytest.raises(EditError, match="verb"):
        insert_not("Great")


def test_swap_but_swaps_the_halves():
    assert swap_but("The cast was great, but the plot was dull.") == "The plot was dull, but the cast was great."
    assert swap_but("I liked it but the ending was bad!!!") == "The ending was bad but I liked it!!!"
    for text in ("but no", "no but", "nothing to swap"):
        with pytest.raises(EditError, match="but"):
            swap_but(text)


def test_move_negation_moves_it_k_words_earlier():
    text = "the film was not good"
    assert [move_negation(text, k) for k in range(4)] == [
        "the film was not good", "the film not was good", "the not film was good", "not the film was good"]
    assert move_negation(text, 10) == "not the film was good"
    assert move_negation("The film wasn't good", 3) == "Not the film was good"
    with pytest.raises(EditError, match="no 'not'"):
        move_negation("a good film", 1)
