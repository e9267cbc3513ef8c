"""The captioner: decoding (greedy, beam search), attention maps, model files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnnstudio.data.shapes import caption_words, random_scene, render
from rnnstudio.errors import ModelFileError, UserError
from rnnstudio.nn.captioner import (
    SPECIALS, Captioner, CaptionerConfig, images_to_tensor, load_captioner, load_resnet18_weights,
    ResNetEncoder, save_captioner,
)
from rnnstudio.nn.modelfile import load_model_file, save_model_file

VOCAB = SPECIALS + caption_words()


def tiny_model(seed=0, **overrides) -> Captioner:
    torch.manual_seed(seed)
    config = CaptionerConfig(vocab_size=len(VOCAB), channels=16, hidden=24, embed=8, attention=16, max_len=12, **overrides)
    return Captioner(config, VOCAB).eval()


def features(model, seeds=(0,)):
    pics = [render(random_scene(np.random.default_rng(s)), model.config.image_size) for s in seeds]
    with torch.no_grad():
        return model.encode(images_to_tensor(pics))


def test_encode_gives_a_grid_of_features():
    model = tiny_model()
    feats = features(model, seeds=(0, 1, 2))
    assert feats.shape == (3, 8 * 8, 16)


@pytest.mark.parametrize("seed", range(6))
def test_beam_width_one_equals_greedy(seed):
    model = tiny_model(seed)
    feats = features(model, seeds=(seed,))
    greedy = model.greedy(feats)
    beam = model.beam_search(feats, beam=1)
    assert beam.words == greedy.words
    assert beam.probs == greedy.probs
    assert beam.logprob == greedy.logprob
    assert np.array_equal(beam.attention, greedy.attention)
    assert beam.nbest == greedy.nbest == [(greedy.text, greedy.logprob)]
    assert model.greedy_batch(feats)[0] == greedy.words


def test_beam_search_nbest_is_sorted_and_maps_sum_to_one():
    model = tiny_model(3)
    feats = features(model, seeds=(5,))
    out = model.beam_search(feats, beam=4)
    assert 1 <= len(out.nbest) <= 4
    scores = [lp for _caption, lp in out.nbest]
    assert scores == sorted(scores, reverse=True)
    assert out.nbest[0] == (out.text, out.logprob)
    assert out.logprob >= model.greedy(feats).logprob - 1e-9  # a wider beam never finds worse
    assert len(out.words) == len(out.probs) == out.attention.shape[0]
    assert out.attention.shape[1:] == (8, 8) and out.attention.dtype == np.float32
    np.testing.assert_allclose(out.attention.sum(axis=(1, 2)), 1.0, atol=1e-5)
    assert all(0 < p <= 1 for p in out.probs)
    # the probabilities are those of the words: their logs add up to the total (without <end>)
    assert sum(np.log(out.probs)) >= out.logprob - 1e-6


def test_forward_loss_is_the_summed_caption_nll():
    model = tiny_model()
    pics = images_to_tensor([render(random_scene(np.random.default_rng(s)), 64) for s in range(2)])
    caps = torch.tensor([model.encode_caption(["a", "red", "circle"], 6), model.encode_caption(["two", "circles"], 6)])
    loss, logits, alphas = model(pics, caps)
    assert logits.shape == (2, 5, len(VOCAB)) and alphas.shape == (2, 5, 64)
    logp = torch.log_softmax(logits, -1)
    targets = caps[:, 1:]
    by_hand = -sum(logp[b, t, targets[b, t]] for b in range(2) for t in range(5) if targets[b, t] != 0) / 2
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-5)


def test_model_file_round_trip(tmp_path):
    model = tiny_model(1)
    path = tmp_path / "cap.safetensors"
    save_captioner(path, model, {"steps": 0, "corpus": "shapes", "metrics": {}})
    loaded = load_captioner(path)
    assert loaded.vocab == VOCAB and loaded.model.config == model.config
    feats_a, feats_b = features(model, (4,)), features(loaded.model, (4,))
    assert torch.equal(feats_a, feats_b)
    assert loaded.model.beam_search(feats_b, 3).nbest == model.beam_search(feats_a, 3).nbest


def test_model_file_refusals(tmp_path, tiny_model_file):
    model = tiny_model(1)
    path = tmp_path / "cap.safetensors"
    save_captioner(path, model, {})
    mf = load_model_file(path, "caption")

    with pytest.raises(ModelFileError, match="is a charrnn model, not a caption model"):
        load_captioner(tiny_model_file)

    bad = tmp_path / "hidden.safetensors"
    save_model_file(bad, type(mf)(task="caption", config={**mf.config, "hidden": 32}, vocab=mf.vocab, tensors=mf.tensors))
    with pytest.raises(ModelFileError, match="does not match its config"):
        load_captioner(bad)

    newer = tmp_path / "newer.safetensors"
    save_model_file(newer, mf)
    data = bytearray(newer.read_bytes())
    text = data.decode("latin-1").replace('\\"format\\": 1', '\\"format\\": 9')
    newer.write_bytes(text.encode("latin-1"))
    with pytest.raises(ModelFileError, match="newer"):
        load_captioner(newer)

    vocab = tmp_path / "vocab.safetensors"
    save_model_file(vocab, type(mf)(task="caption", config=mf.config, vocab=["a"] + mf.vocab[1:], tensors=mf.tensors))
    with pytest.raises(ModelFileError, match="damaged vocabulary"):
        load_captioner(vocab)


def test_resnet_weights_come_from_local_files_only(tmp_path):
    encoder = ResNetEncoder()
    with pytest.raises(UserError, match="does not exist"):
        load_resnet18_weights(encoder, tmp_path / "resnet18.pth")
    junk = tmp_path / "junk.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, junk)
    with pytest.raises(UserError, match="not a resnet18 weights file"):
        load_resnet18_weights(encoder, junk)
    import torchvision

    good = tmp_path / "resnet18-local.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), good)
    assert load_resnet18_weights(encoder, good) == good
    config = CaptionerConfig(vocab_size=len(VOCAB), encoder="resnet18", image_size=64, hidden=16, embed=8, attention=8)
    assert config.grid == 2 and json.dumps(config.to_dict())


def test_caption_one_picture():
    model = tiny_model(2)
    pic = render(random_scene(np.random.default_rng(9)), 64)
    with torch.no_grad():
        feats = model.encode(images_to_tensor([pic]))
    assert model.caption(pic).nbest == model.greedy(feats).nbest
    assert model.caption(pic, beam=3).nbest == model.beam_search(feats, 3).nbest


def test_resnet18_weights_from_a_named_pipe_are_refused_not_waited_on(tmp_path):
    import os

    pipe = tmp_path / "r18.pth"
    os.mkfifo(pipe)
    with pytest.raises(UserError, match="r18.pth") as refused:
        load_resnet18_weights(ResNetEncoder(), pipe)  # it waited for a writer forever
    assert "pipe" in str(refused.value)
    with pytest.raises(UserError, match="does not exist"):
        load_resnet18_weights(ResNetEncoder(), tmp_path / "missing.pth")
