"""The Tatoeba French-English pairs: reading, the split, tokens, casing, vocabularies."""

from __future__ import annotations

import lzma
from collections import defaultdict

import pytest

from rnnstudio.data.translation import (
    SPECIALS, Casing, Pair, Vocabulary, french_key, join_words, load_splits, read_pairs, split_of, split_pairs,
    tokenize_english, tokenize_french,
)
from rnnstudio.errors import UserError


@pytest.fixture(scope="module")
def splits():
    return load_splits()


@pytest.fixture(scope="module")
def casing(splits):
    return Casing.learn(p.english for p in splits.train)


def test_the_shipped_pairs_are_read_whole():
    pairs = read_pairs()
    assert len(pairs) == 73_726
    assert pairs[0] == Pair("Va !", "Go.")
    assert all(p.french.strip() and p.english.strip() for p in pairs)


def test_the_split_keeps_every_test_french_sentence_out_of_training(splits):
    train_french = {french_key(p.french) for p in splits.train}
    assert not any(french_key(p.french) in train_french for p in splits.test)
    assert not any(french_key(p.french) in train_french for p in splits.valid)
    assert not {p.french for p in splits.test} & {p.french for p in splits.train}  # the raw text too


def test_the_split_is_by_hash_whole_and_in_proportion(splits):
    total = len(splits.train) + len(splits.valid) + len(splits.test)
    assert total == 73_726
    assert 0.04 < len(splits.test) / total < 0.06 and 0.04 < len(splits.valid) / total < 0.06
    # pairs that share a French sentence are in one split
    where = defaultdict(set)
    for name in ("train", "valid", "test"):
        for p in getattr(splits, name):
            where[french_key(p.french)].add(name)
    assert all(len(names) == 1 for names in where.values())
    assert split_of("Je ne sais pas.") == split_of("Je ne sais pas.") == split_of("je ne sais  pas .")
    again = split_pairs(read_pairs())
    assert again.test == splits.test


def test_french_tokens():
    assert tokenize_french("Je ne sais pas, c'est à Tom.") == [
        "je", "ne", "sais", "pas", ",", "c'", "est", "à", "tom", "."]
    assert tokenize_french("Puis-je venir aujourd’hui\u202f?") == ["puis", "-je", "venir", "aujourd'", "hui", "?"]
    assert tokenize_french("A-t-il 3,5 euros ?", lower=False) == ["A", "-t", "-il", "3,5", "euros", "?"]
    assert tokenize_french("Bonjour 🙂 Привет") == ["bonjour", "🙂", "привет"]
    assert tokenize_french("   ") == []


def test_english_tokens_split_clitics():
    assert tokenize_english("I don't know Tom's sister.") == ["i", "do", "n't", "know", "tom", "'s", "sister", "."]
    assert tokenize_english("You're late, aren't you?") == ["you", "'re", "late", ",", "are", "n't", "you", "?"]
    assert tokenize_english("I can’t wear my T-shirt at 8:10 a.m.") == [
        "i", "ca", "n't", "wear", "my", "t-shirt", "at", "8:10", "a.m."]


def test_a_sentence_is_written_back_as_a_person_writes_it(casing):
    for sentence in ("I don't know Tom's sister.", "Where's Mary?", "I'm sure he said \"no\" to me.",
                     "Tom and I watched TV in Boston.", "Let's go, shall we?", "It's five o'clock."):
        assert casing.detokenize(tokenize_english(sentence)) == sentence
    assert casing.detokenize(["i", "do", "n't", "know", "tom", "'s", "sister", "."]) == "I don't know Tom's sister."
    assert casing.detokenize(["what", "?", "i", "ca", "n't", "."]) == "What? I can't."


def test_nearly_every_reference_survives_the_round_trip(splits, casing):
    same = sum(casing.detokenize(tokenize_english(p.english)) == p.english for p in splits.test)
    assert same / len(splits.test) > 0.99  # the misses: "New York" (new is lower-case elsewhere), unseen names


def test_casing_is_learned_away_from_the_start_of_sentences():
    casing = Casing.learn(["Tom is here.", "I know Tom.", "Ask Tom.", "Paris is big.", "He likes Paris.",
                           "Big dogs bark.", "It is big."])
    assert casing.written == {"tom": "Tom", "paris": "Paris"}  # "big" starts a sentence once: not a name
    assert casing.words(["tom", "is", "big", "."]) == ["Tom", "is", "big", "."]


def test_join_attaches_punctuation_and_quotes():
    tokens = ["he", "said", '"', "yes", '"', "(", "twice", ")", "."]
    assert join_words(tokens, tokens) == 'he said "yes" (twice).'


def test_vocabulary_keeps_frequent_words_after_the_specials():
    vocab = Vocabulary.build([["a", "b", "a"], ["a", "c", "b"]], min_count=2)
    assert vocab.tokens == SPECIALS + ["a", "b"]
    assert vocab.encode(["a", "c", "b"]) == [4, vocab.unk, 5]
    assert vocab.decode([4, 5]) == ["a", "b"]
    assert vocab.pad == 0 and "a" in vocab and "c" not in vocab
    with pytest.raises(ValueError):
        Vocabulary(["a", "b"])


def test_bad_data_files_are_refused_with_a_message(tmp_path):
    with pytest.raises(UserError, match="missing"):
        read_pairs(tmp_path / "absent.tsv.xz")
    bad = tmp_path / "bad.tsv.xz"
    with lzma.open(bad, "wt", encoding="utf-8") as f:
        f.write("Va !\tGo.\nno tab here\n")
    with pytest.raises(UserError, match="line 2"):
        read_pairs(bad)
    not_xz = tmp_path / "plain.tsv.xz"
    not_xz.write_text("Va !\tGo.\n")
    with pytest.raises(UserError, match="cannot be read"):
        read_pairs(not_xz)
