"""The VQA model: the tokenizer and its unknown words, answers, per-word states, model files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnstudio.data.scene_questions import answers, question_words
from rnnstudio.data.shapes import random_scene, render
from rnnstudio.errors import ModelFileError, UserError
from rnnstudio.nn.captioner import images_to_tensor
from rnnstudio.nn.modelfile import load_model_file, save_model_file
from rnnstudio.nn.vqa import (
    MAX_QUESTION_CHARS,
    MAX_QUESTION_WORDS,
    SPECIALS,
    UNK,
    QuestionError,
    Tokenizer,
    VQAConfig,
    VQAModel,
    load_vqa,
    save_vqa,
    split_words,
)

VOCAB = SPECIALS + question_words()
ANSWERS = tuple(answers())


def tiny_model(seed=0, **overrides) -> VQAModel:
    torch.manual_seed(seed)
    config = VQAConfig(vocab_size=len(VOCAB), answers=ANSWERS, channels=16, film=8, squeeze=4, embed=8, hidden=12,
                       fused=16, attention=8, **overrides)
    return VQAModel(config, VOCAB).eval()


def picture(seed=0):
    return render(random_scene(np.random.default_rng(seed)), 64)


def test_tokenizer_reports_unknown_words_and_reads_spellings():
    tok = Tokenizer(VOCAB)
    t = tok("What COLOUR is the purple, purple thing?")
    assert t.words == ["what", "color", "is", "the", "purple", "purple", "thing"]
    assert t.unknown == ["purple", "thing"]  # each once, in order; never dropped
    assert t.ids[4] == t.ids[5] == t.ids[6] == VOCAB.index(UNK)
    assert t.ids[:4] == [VOCAB.index(w) for w in ("what", "color", "is", "the")]
    assert split_words("is there a grey shape?") == ["is", "there", "a", "gray", "shape"]
    assert tok("is there an über-circle?").unknown == ["über"]


@pytest.mark.parametrize("question, fragment", [
    ("", "empty"),
    ("  ?!  ", "empty"),
    ("shape " * (MAX_QUESTION_WORDS + 1), f"at most {MAX_QUESTION_WORDS}"),
    ("x" * (MAX_QUESTION_CHARS + 1), f"at most {MAX_QUESTION_CHARS}"),
    ("wie viele Formen?", "knows none of the words"),
])
def test_questions_the_model_cannot_read(question, fragment):
    tok = Tokenizer(VOCAB)
    with pytest.raises(QuestionError, match=fragment) as info:
        tok(question)
    assert isinstance(info.value, UserError)
    assert "\n" not in str(info.value)
    if "none" in fragment:
        assert info.value.details == ["wie", "viele", "formen"]
    assert tok(question, strict=False).words == split_words(question)  # training reads anything


def test_answer_format_topk_and_full_distribution():
    model = tiny_model()
    feats = model.encode_image(picture())
    assert feats.shape == (1, 16, 8, 8)
    a = model.answer(feats, "is there a red circle, please?", topk=4)
    assert a.unknown_words == ["please"] and a.words[-1] == "please"
    assert len(a.answers) == 4
    ps = [p for _, p in a.answers]
    assert ps == sorted(ps, reverse=True) and all(0 < p < 1 for p in ps)
    assert a.probs.shape == (len(ANSWERS),) and a.probs.dtype == np.float32
    assert a.probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert a.answers[0] == (ANSWERS[int(np.argmax(a.probs))], pytest.approx(float(a.probs.max())))
    assert a.hidden.shape == (len(a.words), 12) and a.hidden.dtype == np.float32
    assert a.glimpses.shape == (2, 8, 8)
    np.testing.assert_allclose(a.glimpses.sum(axis=(1, 2)), 1.0, atol=1e-5)
    assert len(model.answer(feats, "what color is the shape?", topk=99).answers) == len(ANSWERS)
    with pytest.raises(ValueError):
        model.answer(feats, "what color is the shape?", topk=0)


def test_hidden_states_are_the_lstm_read_word_by_word_from_zero():
    model = tiny_model(1)
    feats = model.encode_image(picture(1))
    long = model.answer(feats, "what color is the shape left of the circle?")
    short = model.answer(feats, "what color is the shape")
    np.testing.assert_allclose(long.hidden[:5], short.hidden, atol=1e-6)  # a prefix reads the same
    ids = torch.tensor([Tokenizer(VOCAB)("what color is the shape").ids])
    out, _ = model.lstm(model.embed(ids))
    np.testing.assert_allclose(short.hidden, out[0].detach().numpy(), atol=1e-6)


def test_batched_padded_questions_match_one_at_a_time():
    model = tiny_model(2)
    pics = [picture(s) for s in range(3)]
    questions = ["how many shapes are there?", "is there a blue triangle?", "what color is the shape left of the red circle?"]
    with torch.no_grad():
        feats = model.encode(images_to_tensor(pics))
        predicted = model.predict(feats, [model.tokenizer(q).ids for q in questions])
        image_of = torch.tensor([2, 0, 1])
        ids, lengths = model.questions_tensor([model.tokenizer(q).ids for q in questions])
        logits = model(images_to_tensor(pics), ids, lengths, image_of)
    for n, q in enumerate(questions):
        one = model.answer(feats[n : n + 1], q, topk=1)
        assert one.answers[0][0] == ANSWERS[int(predicted[n])]
        alone = model.answer(feats[int(image_of[n]) : int(image_of[n]) + 1], q)
        np.testing.assert_allclose(torch.softmax(logits[n], -1).numpy(), alone.probs, atol=1e-5)


def test_encode_image_wants_the_model_input_size():
    model = tiny_model()
    with pytest.raises(ValueError, match="fit_square"):
        model.encode_image(np.zeros((80, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="fit_square"):
        model.encode_image(np.zeros((64, 64, 4), np.uint8))
    with pytest.raises(ValueError):
        VQAConfig(vocab_size=5, answers=("yes",))
    with pytest.raises(ValueError):
        VQAConfig(vocab_size=5, answers=("yes", "no"), image_size=60)


def test_model_file_round_trip(tmp_path):
    model = tiny_model(3)
    path = tmp_path / "vqa.safetensors"
    save_vqa(path, model, {"steps": 0, "metrics": {}})
    loaded = load_vqa(path)
    assert loaded.vocab == VOCAB and loaded.answers == list(ANSWERS) and loaded.model.config == model.config
    assert load_model_file(path, "vqa").config["answers"] == list(ANSWERS)
    feats = model.encode_image(picture(4))
    assert torch.equal(feats, loaded.model.encode_image(picture(4)))
    a, b = model.answer(feats, "what shape is in the image?"), loaded.model.answer(feats, "what shape is in the image?")
    assert a.answers == b.answers and np.array_equal(a.hidden, b.hidden)


def test_model_file_refusals(tmp_path, tiny_model_file):
    path = tmp_path / "vqa.safetensors"
    save_vqa(path, tiny_model(), {})
    mf = load_model_file(path, "vqa")
    with pytest.raises(ModelFileError, match="is a charrnn model, not a vqa model"):
        load_vqa(tiny_model_file)

    wider = tmp_path / "wider.safetensors"
    save_model_file(wider, type(mf)(task="vqa", config={**mf.config, "hidden": 16}, vocab=mf.vocab, tensors=mf.tensors))
    with pytest.raises(ModelFileError, match="does not match its config"):
        load_vqa(wider)

    newer = tmp_path / "newer.safetensors"
    newer.write_bytes(path.read_bytes().replace(b'\\"format\\": 1', b'\\"format\\": 7'))
    with pytest.raises(ModelFileError, match="newer"):
        load_vqa(newer)

    for name, vocab, config in [("vocab", ["the"] + mf.vocab[1:], mf.config),
                                ("answers", mf.vocab, {**mf.config, "answers": ["yes"]})]:
        bad = tmp_path / f"{name}.safetensors"
        save_model_file(bad, type(mf)(task="vqa", config=config, vocab=vocab, tensors=mf.tensors))
        with pytest.raises(ModelFileError, match="damaged vocabulary|invalid config"):
            load_vqa(bad)

    pickle = tmp_path / "pickle.safetensors"
    torch.save(tiny_model().state_dict(), pickle)
    with pytest.raises(ModelFileError, match="pickle"):
        load_vqa(pickle)
