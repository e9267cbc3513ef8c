"""CharRNN.generate: the same characters for a seed as the plain way of sampling, and it streams."""

from __future__ import annotations

import pytest
import torch

from rnnstudio.nn import charrnn
from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig, load_charrnn
from rnnstudio.paths import shipped_model

V = 13


def plain_sample(model: CharRNN, prime: list[int], steps: int, temperature: float, top_k: int, seed: int) -> list[int]:
    """The reference: the model's own forward one character at a time, softmax(shifted logits /
    temperature), torch.multinomial. What generate did before it was made faster."""
    gen = torch.Generator().manual_seed(seed)
    drawn = []
    with torch.no_grad(), charrnn._onednn_off():
        state = None
        if prime:
            logits, state = model(torch.tensor([prime]), None)
            last = logits[0, -1]
        else:
            last = torch.zeros(model.config.vocab_size)
        for _ in range(steps):
            if temperature < torch.finfo(torch.float32).tiny:
                nxt = int(torch.argmax(last))
            else:
                scaled = (last - last.max()) / temperature
                if 0 < top_k < scaled.numel():
                    scaled = scaled.masked_fill(scaled < torch.topk(scaled, top_k).values[-1], float("-inf"))
                nxt = int(torch.multinomial(torch.softmax(scaled, dim=-1), 1, generator=gen))
            drawn.append(nxt)
            logits, state = model(torch.tensor([[nxt]]), state)
            last = logits[0, -1]
    return drawn


def generated(model, prime, steps, temperature, top_k, seed) -> list[int]:
    return list(model.generate(prime, steps, temperature, top_k, torch.Generator().manual_seed(seed)))


SETTINGS = [([1, 2, 3], 1.0, 0), ([], 1.0, 0), ([4], 0.8, 0), ([5, 6], 1.0, 4), ([], 1.7, 3), ([2], 0.0, 0)]


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("embed", [0, 6])
def test_generate_draws_what_plain_sampling_draws(arch, layers, embed):
    torch.manual_seed(layers + embed)
    model = CharRNN(CharRNNConfig(vocab_size=V, arch=arch, layers=layers, hidden=12, embed=embed)).eval()
    for prime, temperature, top_k in SETTINGS:
        want = plain_sample(model, prime, 150, temperature, top_k, seed=9)
        assert generated(model, prime, 150, temperature, top_k, seed=9) == want, (prime, temperature, top_k)


def test_the_shipped_model_writes_the_same_text_for_a_seed():
    loaded = load_charrnn(shipped_model("charrnn"))
    prime = [loaded.vocab.index(c) for c in "the "]
    for temperature, top_k in ((1.0, 0), (0.8, 0), (1.0, 10)):
        want = plain_sample(loaded.model, prime, 400, temperature, top_k, seed=3)
        assert generated(loaded.model, prime, 400, temperature, top_k, seed=3) == want


def test_generate_yields_as_it_goes_and_leaves_no_mode_on(monkeypatch):
    """The first character comes after one short burst, not after the whole sample; between
    yields the caller runs outside inference mode and with oneDNN as it was."""
    draws = []
    real = charrnn.sample_index
    monkeypatch.setattr(charrnn, "sample_index", lambda *a: draws.append(1) or real(*a))
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(vocab_size=V, layers=1, hidden=8, embed=4)).eval()
    stream = model.generate([1], 1_000_000, 1.0, 0, torch.Generator().manual_seed(0))
    first = next(stream)
    assert 0 <= first < V
    assert 0 < len(draws) < 1_000_000
    assert not torch.is_inference_mode_enabled()
    assert torch.backends.mkldnn.enabled
    stream.close()


@pytest.mark.parametrize("steps", [0, -3])
def test_no_steps_yield_nothing(steps):
    model = CharRNN(CharRNNConfig(vocab_size=V, layers=1, hidden=8)).eval()
    assert list(model.generate([1, 2], steps)) == []
