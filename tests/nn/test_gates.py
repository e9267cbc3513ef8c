"""The instrumented forward pass agrees with torch's own nn.LSTM / nn.GRU / nn.RNN."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig
from rnnstudio.nn.gates import GATE_KEYS, PREACT_KEYS, affine_scan, saturation, top_next_chars, trace_gates

V, H = 13, 9
TOL = 1e-5
MODULES = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def make_model(arch, layers, embed, seed=0, weight_scale=1.0) -> CharRNN:
    torch.manual_seed(seed)
    model = CharRNN(CharRNNConfig(vocab_size=V, arch=arch, layers=layers, hidden=H, embed=embed)).eval()
    if weight_scale != 1.0:  # larger weights: saturated gates, cells far from 0
        with torch.no_grad():
            for p in model.rnn.parameters():
                p.mul_(weight_scale)
    return model


def one_layer(model: CharRNN, layer: int, input_size: int) -> nn.RNNBase:
    """A separate torch module with the weights of one layer of the model."""
    module = MODULES[model.config.arch](input_size, H, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(module, f"{name}_l0").copy_(getattr(model.rnn, f"{name}_l{layer}"))
    return module


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def reference(model: CharRNN, idx: torch.Tensor):
    """Per layer: torch's h for every step, stepping each layer's module one character at a
    time (so the LSTM's c after each step comes from nn.LSTM's own state), and the gates by
    the equations of docs/LECTURE-MAP.md (LSTM) / torch's documentation (GRU), in float64."""
    arch = model.config.arch
    with torch.no_grad():
        x = model.inputs(idx[None])  # (1, T, E)
        layers = []
        for layer in range(model.config.layers):
            module = one_layer(model, layer, x.shape[-1])
            out_full, _ = module(x)  # one call: every h
            state = None
            hs, cs = [], []
            for t in range(x.shape[1]):
                out, state = module(x[:, t : t + 1], state)
                hs.append(out[0, 0].numpy())
                if arch == "lstm":
                    cs.append(state[1][0, 0].numpy())
            w_ih, w_hh, b_ih, b_hh = (getattr(module, f"{n}_l0").double().numpy()
                                      for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            xs = x[0].double().numpy()
            h_prev = np.vstack([np.zeros((1, H)), np.array(hs[:-1], dtype=np.float64)])
            a = xs @ w_ih.T + b_ih
            b = h_prev @ w_hh.T + b_hh
            ref = {"h_full": out_full[0].numpy(), "h_steps": np.array(hs)}
            if arch == "lstm":
                i, f, g, o = (a[:, k * H : (k + 1) * H] + b[:, k * H : (k + 1) * H] for k in range(4))
                i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
                c = np.zeros(H)
                c_eq = []
                for t in range(len(xs)):
                    c = f[t] * c + i[t] * g[t]
                    c_eq.append(c)
                ref.update(i=i, f=f, g=g, o=o, c_steps=np.array(cs), c_eq=np.array(c_eq))
            elif arch == "gru":
                r = sigmoid(a[:, :H] + b[:, :H])
                z = sigmoid(a[:, H : 2 * H] + b[:, H : 2 * H])
                n = np.tanh(a[:, 2 * H :] + r * b[:, 2 * H :])
                ref.update(r=r, z=z, n=n, h_eq=(1 - z) * n + z * h_prev)
            else:
                ref.update(h_eq=np.tanh(a + b))
            ref.update(x_part=a, h_part=b)
            layers.append(ref)
            x = out_full
        logits, state = model(idx[None])
    return layers, torch.softmax(logits[0], -1).numpy(), state


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("embed", [0, 5])
def test_agrees_with_torch_modules(arch, layers, embed):
    model = make_model(arch, layers, embed, seed=layers)
    idx = torch.randint(0, V, (40,), generator=torch.Generator().manual_seed(1))
    trace = trace_gates(model, idx.tolist())
    ref, probs, final_state = reference(model, idx)

    assert trace.arch == arch
    assert len(trace.layers) == len(trace.preacts) == layers
    for layer, (got, want) in enumerate(zip(trace.layers, ref)):
        assert set(got) == set(GATE_KEYS[arch])
        assert set(trace.preacts[layer]) == set(PREACT_KEYS[arch])
        for key, values in got.items():
            assert values.shape == (40, H) and values.dtype == np.float32, key
        # h: torch's module, one call and one character at a time
        np.testing.assert_allclose(got["h"], want["h_full"], atol=TOL, rtol=0)
        np.testing.assert_allclose(got["h"], want["h_steps"], atol=TOL, rtol=0)
        final_h = (final_state[0] if arch == "lstm" else final_state)[layer, 0].numpy()
        np.testing.assert_allclose(got["h"][-1], final_h, atol=TOL, rtol=0)
        for key in set(GATE_KEYS[arch]) - {"h", "c"}:
            np.testing.assert_allclose(got[key], want[key], atol=TOL, rtol=0, err_msg=key)
        if arch == "lstm":
            np.testing.assert_allclose(got["c"], want["c_steps"], atol=TOL, rtol=0)  # nn.LSTM's own c
            np.testing.assert_allclose(got["c"], want["c_eq"], atol=TOL, rtol=0)  # c_t = f c_{t-1} + i g
            np.testing.assert_allclose(got["c"][-1], final_state[1][layer, 0].numpy(), atol=TOL, rtol=0)
            np.testing.assert_allclose(got["h"], got["o"] * np.tanh(got["c"]), atol=TOL, rtol=0)
        else:
            np.testing.assert_allclose(got["h"], want["h_eq"], atol=TOL, rtol=0)
        # The pre-activation parts, block by block in PyTorch's order.
        blocks = [k[:-2] for k in PREACT_KEYS[arch][::2]]
        for k, gate in enumerate(blocks):
            np.testing.assert_allclose(trace.preacts[layer][f"{gate}_x"], want["x_part"][:, k * H : (k + 1) * H], atol=TOL)
            np.testing.assert_allclose(trace.preacts[layer][f"{gate}_h"], want["h_part"][:, k * H : (k + 1) * H], atol=TOL)
    np.testing.assert_allclose(trace.probs, probs, atol=TOL, rtol=0)
    assert trace.probs.shape == (40, V)
    np.testing.assert_allclose(trace.probs.sum(axis=1), 1.0, atol=1e-5)


def test_long_text_and_saturated_gates():
    """300 characters through large weights: cells far from 0, gates near 0 and 1."""
    model = make_model("lstm", 2, 6, seed=3, weight_scale=4.0)
    idx = torch.randint(0, V, (300,), generator=torch.Generator().manual_seed(2))
    trace = trace_gates(model, idx.numpy())
    ref, _, state = reference(model, idx)
    for got, want in zip(trace.layers, ref):
        np.testing.assert_allclose(got["h"], want["h_steps"], atol=TOL, rtol=0)
        np.testing.assert_allclose(got["c"], want["c_steps"], atol=TOL, rtol=1e-6)
    assert np.abs(trace.layers[0]["c"]).max() > 2  # the test did reach large cells
    left, right = saturation(trace.layers[0]["f"])
    assert left.max() > 0.2 and right.max() > 0.2


def test_dropout_is_not_applied_in_training_mode():
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(vocab_size=V, arch="lstm", layers=2, hidden=H, embed=4, dropout=0.5))
    idx = list(range(V)) * 2
    model.train()
    in_training = trace_gates(model, idx)
    model.eval()
    evaluated = trace_gates(model, idx)
    for a, b in zip(in_training.layers, evaluated.layers):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_one_character_and_no_characters():
    model = make_model("gru", 2, 0)
    trace = trace_gates(model, [3])
    assert trace.layers[1]["h"].shape == (1, H) and trace.probs.shape == (1, V)
    with pytest.raises(ValueError, match="no characters"):
        trace_gates(model, [])


def test_affine_scan_matches_a_loop():
    g = torch.Generator().manual_seed(0)
    for length in (1, 2, 3, 7, 64, 100):
        a = torch.rand(length, 5, generator=g)
        b = torch.randn(length, 5, generator=g)
        c, want = torch.zeros(5), []
        for t in range(length):
            c = a[t] * c + b[t]
            want.append(c)
        torch.testing.assert_close(affine_scan(a, b), torch.stack(want), atol=1e-6, rtol=1e-6)


def test_saturation_fractions():
    values = np.array([[0.05, 0.5], [0.95, 0.5], [0.0, 0.91], [0.5, 0.09]], dtype=np.float32)
    left, right = saturation(values)
    np.testing.assert_allclose(left, [0.5, 0.25])
    np.testing.assert_allclose(right, [0.25, 0.25])
    assert left.dtype == np.float32
    left, right = saturation(np.zeros((0, 3)))
    assert left.shape == right.shape == (3,)


def test_top_next_chars():
    probs = np.array([0.1, 0.5, 0.05, 0.35], dtype=np.float32)
    top = top_next_chars(probs, ["a", "b", "c", "d"], k=3)
    assert [c for c, _ in top] == ["b", "d", "a"]
    assert top[0][1] == pytest.approx(0.5)
    assert len(top_next_chars(probs, list("abcd"), k=10)) == 4


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_word_trace_is_the_sentiment_classifiers_own_reading(arch):
    from rnnstudio.nn.gates import trace_word_gates
    from rnnstudio.nn.sentiment import SentimentClassifier, SentimentConfig

    torch.manual_seed(0)
    vocab = ["<pad>", "<unk>", "the", "film", "was", "not", "bad", "but", "dull"]
    model = SentimentClassifier(SentimentConfig(vocab_size=len(vocab), arch=arch, embed=6, hidden=H, layers=2),
                                vocab).eval()
    ids = [2, 3, 4, 5, 6, 1, 7, 8]
    trace = trace_word_gates(model, ids)
    assert trace.arch == arch and len(trace.layers) == 2 and set(trace.layers[0]) == set(GATE_KEYS[arch])
    with torch.no_grad():
        logits, states = model(torch.tensor([ids]))
    np.testing.assert_allclose(trace.layers[1]["h"], states[0].numpy(), atol=TOL)  # the top layer's h
    assert trace.probs.shape == (len(ids), 1)
    np.testing.assert_allclose(trace.probs[:, 0], torch.sigmoid(logits[0]).numpy(), atol=TOL)
    assert all(v.shape == (len(ids), H) for layer in trace.layers for v in layer.values())


def test_a_bag_of_words_has_no_gates_to_trace():
    from rnnstudio.nn.gates import trace_word_gates
    from rnnstudio.nn.sentiment import SentimentClassifier, SentimentConfig

    model = SentimentClassifier(SentimentConfig(vocab_size=3, arch="bow", embed=4), ["<pad>", "<unk>", "a"])
    with pytest.raises(ValueError, match="bag of words"):
        trace_word_gates(model, [2])
