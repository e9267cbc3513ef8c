"""Sampling with clamped units: no clamps is exactly CharRNN.generate; clamps act as described."""

from __future__ import annotations

import pytest
import torch

from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig, sample_index
from rnnstudio.nn.interventions import generate_with_intervention

V, H = 11, 8


def make_model(arch, layers, embed=4, seed=0) -> CharRNN:
    torch.manual_seed(seed)
    return CharRNN(CharRNNConfig(vocab_size=V, arch=arch, layers=layers, hidden=H, embed=embed)).eval()


def sample(model, prime, steps=80, temperature=1.0, top_k=0, seed=5, clamps=None, state="h", plain=False):
    gen = torch.Generator().manual_seed(seed)
    if plain:
        return list(model.generate(prime, steps, temperature, top_k, gen))
    return list(generate_with_intervention(model, prime, steps, temperature, top_k, gen, clamps or {}, state))


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("embed", [0, 4])
def test_no_clamps_is_exactly_generate(arch, layers, embed):
    model = make_model(arch, layers, embed, seed=layers)
    for prime, temperature, top_k in (([1, 2, 3, 4], 1.0, 0), ([], 0.7, 3), ([5], 0.0, 0)):
        assert sample(model, prime, 80, temperature, top_k) == sample(model, prime, 80, temperature, top_k, plain=True)


def test_clamping_changes_the_sample(tiny_trainer):
    trainer = tiny_trainer(steps=20)
    model, vocab = trainer.model.eval(), trainer.vocab
    prime = vocab.encode("the cat")
    plain = sample(model, prime, 100)
    assert sample(model, prime, 100, clamps={}) == plain
    zeroed = sample(model, prime, 100, clamps={(0, u): 0.0 for u in range(16)})
    assert zeroed != plain
    assert sample(model, prime, 100, clamps={(0, 3): 5.0, (0, 7): -5.0}, state="c") != plain


def test_top_layer_clamped_to_zero_leaves_only_the_head_bias():
    """Every h unit of the top layer held at 0: every step's logits are the head's bias."""
    model = make_model("lstm", 2)
    clamps = {(1, u): 0.0 for u in range(H)}
    got = sample(model, [1, 2, 3], 50, clamps=clamps)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        want = [sample_index(model.head.bias, 1.0, 0, gen) for _ in range(50)]
    assert got == want


def test_clamps_match_a_step_by_step_reference():
    """Layer 0's unit 2 held at 0.9 from the first character: a one-character-at-a-time
    reference with the same clamp gives the same greedy text."""
    model = make_model("gru", 2, seed=4)
    prime = [1, 4, 2, 7]
    got = sample(model, prime, 30, temperature=0.0, clamps={(0, 2): 0.9})
    with torch.no_grad():
        layers = []
        for layer in range(2):
            m = torch.nn.GRU(4 if layer == 0 else H, H, batch_first=True)
            for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(m, f"{n}_l0").copy_(getattr(model.rnn, f"{n}_l{layer}"))
            layers.append(m)
        states = [None, None]
        want, seq = [], list(prime)
        for t in range(len(prime) + 30):
            x = model.inputs(torch.tensor([[seq[t]]]))
            for layer, m in enumerate(layers):
                x, states[layer] = m(x, states[layer])
                if layer == 0:
                    x[0, 0, 2] = 0.9
                    states[0][0, 0, 2] = 0.9
            if t >= len(prime) - 1:
                nxt = int(model.head(x)[0, -1].argmax())
                want.append(nxt)
                seq.append(nxt)
    assert got == want[:30]


def test_bad_clamps():
    model = make_model("gru", 2)
    with pytest.raises(ValueError, match="LSTM"):
        sample(model, [1], 5, clamps={(0, 0): 0.0}, state="c")
    with pytest.raises(ValueError, match="no unit"):
        sample(model, [1], 5, clamps={(2, 0): 0.0})
    with pytest.raises(ValueError, match="no unit"):
        sample(model, [1], 5, clamps={(0, H): 0.0})
