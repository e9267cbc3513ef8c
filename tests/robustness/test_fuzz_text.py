"""Fuzzing with arbitrary Unicode text: training corpora, sampling primes, the gates lab's text and
its selections, and questions about a picture. Each either works or is refused with a UserError
whose message says what is wrong; nothing else may escape.

The worker's own request handlers are driven here on the main thread (the worker thread only
adds the exception handling that the fault tests check).
"""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rnnstudio.errors import TextFileError, UserError
from rnnstudio.train.progress import TimelineSample, TrainingProgress
from rnnstudio.worker.charrnn_messages import (
    SHIPPED,
    CharRNNTrainSpec,
    CharRNNTrainingStarted,
    LoadCharRNNRequest,
    SampleRequest,
    SampleResult,
    StartCharRNNTrainingRequest,
    TextChunk,
)
from rnnstudio.worker.gates_messages import (
    GatesRequest,
    GatesResult,
    HypothesisRequest,
    HypothesisResult,
    InterventionRequest,
)
from rnnstudio.worker.vqa_messages import VQAQuestionRequest, VQAResult

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# The tiny models' alphabet: ASCII, accented and astral characters, so that encoding and
# decoding are tried on more than one byte a character.
ALPHABET = list(dict.fromkeys("the cat sat on mat.\nTHE DOG!,?é—ß中😀\t"))
# Any character, lone surrogates (which no file holds but a str can) included.
ANY_CHAR = st.characters(exclude_categories=())
# Half the texts in the model's alphabet (they must work), half with anything in them.
MIXED_TEXT = st.one_of(st.text(alphabet=st.sampled_from(ALPHABET), max_size=120),
                       st.text(alphabet=st.one_of(st.sampled_from(ALPHABET), ANY_CHAR), max_size=120))


def drive(handler):
    """Run a request handler's work to its end: (partials, result). A generator yields its partials
    and returns the result; a plain function has returned its result already."""
    if not inspect.isgenerator(handler):
        return [], handler
    partials = []
    while True:
        try:
            partials.append(next(handler))
        except StopIteration as stop:
            return partials, stop.value


def assert_clear(error: UserError):
    """A message for a person: one line, no traceback, not an essay."""
    message = str(error)
    event(f"refused: {type(error).__name__}")
    assert message and message == message.strip() and "\n" not in message
    assert "Traceback" not in message and len(message) < 600


@pytest.fixture(scope="module", params=["lstm", "gru", "rnn"])
def workspace(request, tmp_path_factory):
    """The worker's char-RNN workspace with a tiny model of each architecture opened from a file."""
    from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig, save_charrnn
    from rnnstudio.worker.charrnn_work import CharRNNWorkspace

    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(vocab_size=len(ALPHABET), arch=request.param, layers=2, hidden=8, embed=4))
    path = tmp_path_factory.mktemp("fuzz") / f"tiny-{request.param}.safetensors"
    save_charrnn(path, model, ALPHABET, {"steps": 0})
    ws = CharRNNWorkspace(torch.device("cpu"))
    drive(ws.load(LoadCharRNNRequest(path=str(path))))
    return ws


# --- training corpora -----------------------------------------------------------------------------


@FUZZ
@given(unit=st.text(min_size=1, max_size=40), length=st.one_of(st.integers(1000, 2500), st.integers(0, 999)))
def test_any_text_file_trains_or_is_refused_clearly(unit, length):
    """A UTF-8 file of any text: the corpus holds exactly its characters, and a tiny model trains
    two steps on it (with a validation and a timeline sample), or a TextFileError says why not."""
    from rnnstudio.data.text import codepoints_to_text, load_corpus
    from rnnstudio.worker.charrnn_work import CharRNNWorkspace

    text = (unit * (length // len(unit) + 1))[:length]  # any text, as short or as long as needed
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "corpus.txt"
        path.write_bytes(text.encode("utf-8"))
        try:
            corpus = load_corpus(str(path))
        except TextFileError as e:
            assert_clear(e)
            assert "\x00" in text or len(text) < 1000, str(e)
            return
        assert codepoints_to_text(np.concatenate([corpus.train, corpus.valid])) == text
        spec = CharRNNTrainSpec(corpus=str(path), arch="gru", layers=1, hidden=8, embed=4, seq_len=8, batch_size=4,
                         steps=2, eval_every=1, sample_at=(1,), sample_length=12)
        ws = CharRNNWorkspace(torch.device("cpu"))
        try:
            partials, _ = drive(ws.start_training(StartCharRNNTrainingRequest(spec=spec), 1))
        except TextFileError as e:
            assert_clear(e)
            return
    event("trained")
    started = [p for p in partials if isinstance(p, CharRNNTrainingStarted)]
    assert len(started) == 1 and set(started[0].model.vocab) == set(text)
    run = ws.training
    events = run.step() + run.step()
    assert run.state == "finished"
    losses = [x for e in events if isinstance(e, TrainingProgress) for x in e.losses]
    assert len(losses) == 2 and all(np.isfinite(losses))
    (timeline,) = [e for e in events if isinstance(e, TimelineSample)]
    assert len(timeline.text) == 12 and set(timeline.text) <= set(text)
    assert np.isfinite(timeline.valid_loss)


def test_a_text_with_too_many_different_characters_is_refused(tmp_path):
    from rnnstudio.data.text import MAX_VOCAB, load_corpus
    from rnnstudio.nn.charrnn import CharRNNConfig
    from rnnstudio.train.charrnn import CharRNNTrainer, TrainSettings

    path = tmp_path / "many.txt"
    path.write_text("".join(chr(0x4E00 + k) for k in range(MAX_VOCAB + 1)), encoding="utf-8")
    corpus = load_corpus(str(path))
    with pytest.raises(TextFileError, match=f"{MAX_VOCAB + 1} different characters"):
        CharRNNTrainer(corpus, CharRNNConfig(vocab_size=1), TrainSettings())


# --- sampling primes ------------------------------------------------------------------------------


@FUZZ
@given(prime=MIXED_TEXT, temperature=st.integers(0, 200).map(lambda v: v / 100), top_k=st.integers(0, 40),
       seed=st.integers(0, 2**32 - 1))
def test_any_prime_samples_or_names_the_unknown_characters(workspace, prime, temperature, top_k, seed):
    """The sample panel's request with any prime and any of its temperatures and top-k values."""
    unknown = list(dict.fromkeys(c for c in prime if c not in ALPHABET))
    request = SampleRequest(role=SHIPPED, prime=prime, length=25, temperature=temperature, top_k=top_k, seed=seed)
    try:
        partials, result = drive(workspace.sample(request))
    except TextFileError as e:
        assert unknown, f"a prime in the model's alphabet was refused: {e}"
        assert_clear(e)
        assert repr(unknown[0]) in str(e)  # it names the characters, as the panel shows them
        return
    event("sampled")
    assert not unknown
    assert isinstance(result, SampleResult) and result.prime == prime
    assert len(result.text) == 25 and set(result.text) <= set(ALPHABET)
    assert "".join(p.text for p in partials if isinstance(p, TextChunk)) == result.text
    # The same seed gives the same text: sampling drew only from its own generator.
    assert drive(workspace.sample(request))[1].text == result.text


@FUZZ
@given(logits=st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=30), temperature=st.floats(0, 1e6),
       top_k=st.integers(0, 40), seed=st.integers(0, 2**32 - 1))
def test_any_temperature_draws_a_character(logits, temperature, top_k, seed):
    """`rnnstudio sample --temperature` takes any finite number of at least 0: 1e-40 too."""
    from rnnstudio.nn.charrnn import sample_index

    scores = torch.tensor(logits)
    i = sample_index(scores, temperature, top_k, torch.Generator().manual_seed(seed))
    assert 0 <= i < len(logits)
    if 0 < top_k < len(logits):
        assert scores[i] >= torch.topk(scores, top_k).values[-1]
    if temperature < torch.finfo(torch.float32).tiny:  # greedy
        assert scores[i] == scores.max()
    else:
        # Never a character with next to no chance: at most e^-60 as likely as the best. (Not "the
        # best" for tiny temperatures: two logits 1e-38 apart are a near tie even at 1e-31, and
        # which one multinomial draws then differs between CPUs.)
        assert (float(scores.max()) - float(scores[i])) / temperature < 60


@FUZZ
@given(prime=MIXED_TEXT, value=st.floats(-1, 1), unit=st.integers(0, 7))
def test_any_prime_in_an_intervention(workspace, prime, value, unit):
    from rnnstudio.worker.gates_work import intervene

    state = "c" if workspace.models[SHIPPED].model.config.arch == "lstm" else "h"
    request = InterventionRequest(prime=prime, length=15, seed=1, clamps=((1, unit, value),), state=state)
    try:
        _, result = drive(intervene(workspace, request))
    except TextFileError as e:
        assert any(c not in ALPHABET for c in prime)
        assert_clear(e)
        return
    event("sampled")
    assert len(result.plain) == len(result.intervened) == 15
    assert set(result.plain + result.intervened) <= set(ALPHABET)


# --- the gates lab --------------------------------------------------------------------------------


@FUZZ
@given(text=MIXED_TEXT, data=st.data())
def test_any_text_in_the_gates_lab(workspace, text, data):
    """Any text read by the lab, then any selection searched for units, as the panel sends them."""
    from rnnstudio.worker.gates_work import compute_gates, search_units

    try:
        _, result = drive(compute_gates(workspace, GatesRequest(role=SHIPPED, text=text)))
    except UserError as e:
        assert_clear(e)
        unknown = [c for c in text if c not in ALPHABET]
        assert not text or unknown, f"a text in the model's alphabet was refused: {e}"
        if unknown:
            assert e.details == {"unknown_characters": list(dict.fromkeys(unknown))}  # the panel marks them
        return
    event("gates computed")
    assert isinstance(result, GatesResult)
    T = len(text)
    assert result.probs.shape == (T, len(ALPHABET))
    assert np.allclose(result.probs.sum(axis=1), 1.0, atol=1e-4)
    for layer in result.layers:
        for name, values in layer.items():
            assert values.shape == (T, 8) and np.isfinite(values).all(), name
            if name in ("i", "f", "o", "r", "z"):
                assert values.min() >= 0.0 and values.max() <= 1.0, name

    inside = st.integers(0, T - 1).flatmap(lambda s: st.tuples(st.just(s), st.integers(s + 1, T)))
    start, end = data.draw(st.one_of(inside, st.tuples(st.integers(-2, T + 2), st.integers(-2, T + 2))), label="span")
    threshold = data.draw(st.floats(-1, 1), label="threshold")
    request = HypothesisRequest(values=result.layers[-1]["h"], start=start, end=end, threshold=threshold)
    try:
        _, found = drive(search_units(request))
    except UserError as e:
        assert_clear(e)
        assert not 0 <= start < end <= T
        return
    event("units searched")
    assert isinstance(found, HypothesisResult)
    assert all(0 <= u < 8 and 0 < score <= 1 for u, score in found.ranked)
    assert all(0 <= s < e <= T for s, e in found.matches)


# --- questions about a picture --------------------------------------------------------------------


@pytest.fixture(scope="module")
def vqa_workspace(vqa_model, tmp_path_factory):
    """The worker's VQA workspace with a tiny model opened from a file, and one picture cached."""
    from rnnstudio.data.shapes import random_scene, render
    from rnnstudio.nn.vqa import save_vqa
    from rnnstudio.worker.vqa_messages import LoadVQAModelRequest
    from rnnstudio.worker.vqa_work import VQAWorkspace

    path = tmp_path_factory.mktemp("fuzz") / "tiny-vqa.safetensors"
    save_vqa(path, vqa_model, {"steps": 0})
    ws = VQAWorkspace(torch.device("cpu"))
    drive(ws.load(LoadVQAModelRequest(path=str(path))))
    picture = render(random_scene(np.random.default_rng(11)), 96)
    drive(ws.ask(VQAQuestionRequest(image_key="scene", image=picture, question="is there a circle?")))
    return ws


def _questions(vocab):
    words = st.sampled_from([w for w in vocab if not w.startswith("<")] + ["colour", "grey", "<unk>", "?"])
    return st.one_of(
        st.text(alphabet=ANY_CHAR, max_size=450),
        st.lists(st.one_of(words, st.text(alphabet=ANY_CHAR, max_size=8)), max_size=45).map(" ".join),
    )


@FUZZ
@given(data=st.data())
def test_any_question_is_answered_or_refused_clearly(vqa_workspace, data):
    from rnnstudio.nn.vqa import MAX_QUESTION_CHARS, MAX_QUESTION_WORDS, QuestionError, split_words

    vqa_model = vqa_workspace.loaded.model
    question = data.draw(_questions(vqa_model.vocab), label="question")
    topk = data.draw(st.integers(1, 50), label="topk")
    request = VQAQuestionRequest(image_key="scene", image=None, question=question, topk=topk)
    words = split_words(question)
    known = [w for w in words if w in vqa_model.tokenizer.index and w not in ("<pad>", "<unk>")]
    try:
        _, r = drive(vqa_workspace.ask(request))
    except QuestionError as e:
        assert_clear(e)
        assert len(question) > MAX_QUESTION_CHARS or not words or len(words) > MAX_QUESTION_WORDS or not known, e
        return
    event("answered")
    assert isinstance(r, VQAResult) and r.features_cached
    assert r.words == words and 0 < len(words) <= MAX_QUESTION_WORDS and known
    assert r.unknown_words == list(dict.fromkeys(w for w in words if w not in vqa_model.tokenizer.index))
    assert len(r.answers) == min(topk, len(vqa_model.answers))
    assert abs(sum(p for _, p in r.all_answers) - 1.0) < 1e-4
    assert r.hidden.shape == (len(words), vqa_model.config.hidden) and np.isfinite(r.hidden).all()


@FUZZ
@given(question=st.text(alphabet=ANY_CHAR, max_size=2000))
def test_the_tokenizer_reads_any_text_when_not_strict(vqa_model, question):
    """What evaluation uses: never raises, and every word is a known index or <unk>."""
    from rnnstudio.nn.vqa import UNK

    tokens = vqa_model.tokenizer(question, strict=False)
    assert len(tokens.words) == len(tokens.ids)
    unk = vqa_model.tokenizer.index[UNK]
    for w, i in zip(tokens.words, tokens.ids):
        assert w and i == vqa_model.tokenizer.index.get(w, unk) and i != 0  # never <pad>
