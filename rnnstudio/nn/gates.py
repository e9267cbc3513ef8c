"""The instrumented forward pass: every gate and state of a char-RNN, for every character.

For each layer of a CharRNN and each character of a text, starting from a zero state:

    LSTM  i, f, g, o, c, h      (the equations of docs/LECTURE-MAP.md, PyTorch's gate order)
    GRU   r, z, n, h            (torch.nn.GRU's equations)
    RNN   h

and the two halves of every gate's pre-activation (the x-part W_i* x_t + b_i* and the
h-part W_h* h_{t-1} + b_h*), so a step-through view can print each term. A word-level
sentiment classifier (rnnstudio.nn.sentiment) is traced the same way, one step per word
(`trace_word_gates`).

How it stays cheap (measured: a Python loop over time steps costs 4-5x one nn.LSTM
call). Per layer:

1. one call of torch's own recurrent kernel, for that layer alone and the whole text,
   gives every h_t (the very numbers nn.LSTM computes);
2. with every h_{t-1} known, all gate pre-activations are two batched matrix products,
   x @ W_ih^T + b_ih and h_prev @ W_hh^T + b_hh, followed by sigmoid / tanh;
3. only the LSTM cell c_t = f_t * c_{t-1} + i_t * g_t is a recurrence left to solve. It
   is linear in c, so it is solved as a parallel prefix scan of the affine maps
   c -> f_t * c + i_t g_t (log2(T) vectorised rounds), not a Python loop.

Dropout between layers is never applied here: this is the model in evaluation mode.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from rnnstudio.nn.charrnn import CharRNN

GATE_KEYS = {
    "lstm": ("i", "f", "g", "o", "c", "h"),
    "gru": ("r", "z", "n", "h"),
    "rnn": ("h",),
}
# The blocks of weight_ih / weight_hh, in PyTorch's order, and their pre-activation keys.
_BLOCKS = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn": ("h",)}
PREACT_KEYS = {arch: tuple(f"{b}_{part}" for b in blocks for part in ("x", "h")) for arch, blocks in _BLOCKS.items()}


@dataclass
class GateTrace:
    """Gates and states of every layer after reading each character (all numpy float32).

    layers[l][key] is (T, H): for an LSTM the keys i, f, g, o, c, h; GRU r, z, n, h; RNN h.
    probs is (T, V): the model's next-character distribution after each character (for a
    word-level sentiment classifier, trace_word_gates: (T, 1), p(positive) after each word).
    preacts[l] holds, per gate, the x-part "<gate>_x" = W_i<gate> x_t + b_i<gate> and the
    h-part "<gate>_h" = W_h<gate> h_{t-1} + b_h<gate> (for the GRU's n, before r multiplies
    it); for the RNN h_x and h_h.
    """

    arch: str
    layers: list[dict[str, np.ndarray]]
    probs: np.ndarray
    preacts: list[dict[str, np.ndarray]] = field(default_factory=list)

    @property
    def length(self) -> int:
        return int(self.probs.shape[0])


def arch_of(rnn: torch.nn.RNNBase) -> str:
    if isinstance(rnn, torch.nn.LSTM):
        return "lstm"
    if isinstance(rnn, torch.nn.GRU):
        return "gru"
    if isinstance(rnn, torch.nn.RNN):
        return "rnn"
    raise TypeError(f"not a torch LSTM, GRU or RNN: {type(rnn).__name__}")


def layer_params(rnn: torch.nn.RNNBase, layer: int) -> list[torch.Tensor]:
    """[weight_ih, weight_hh, bias_ih, bias_hh] of one layer (PyTorch's names, suffix _l<layer>)."""
    names = [f"weight_ih_l{layer}", f"weight_hh_l{layer}"]
    if rnn.bias:
        names += [f"bias_ih_l{layer}", f"bias_hh_l{layer}"]
    return [getattr(rnn, n) for n in names]


def zero_state(rnn: torch.nn.RNNBase, batch: int = 1):
    """The zero state of one layer: h (1, B, H), or (h, c) for an LSTM."""
    w = rnn.weight_hh_l0
    h = torch.zeros(1, batch, rnn.hidden_size, dtype=w.dtype, device=w.device)
    return (h, torch.zeros_like(h)) if isinstance(rnn, torch.nn.LSTM) else h


def run_layer(rnn: torch.nn.RNNBase, layer: int, x: torch.Tensor, state):
    """Run layer `layer` of `rnn` alone over x (B, T, in), batch first, from `state`.

    Calls the same kernel nn.LSTM / nn.GRU / nn.RNN call (torch.lstm, torch.gru,
    torch.rnn_tanh), with that layer's own weights and one layer: the numbers are
    torch's. Returns out (B, T, H) and the new state (h, or (h, c) for an LSTM).
    """
    params = layer_params(rnn, layer)
    args = (params, rnn.bias, 1, 0.0, False, False, True)  # layers, dropout, train, bidirectional, batch_first
    if isinstance(rnn, torch.nn.LSTM):
        fn = torch.lstm
    elif isinstance(rnn, torch.nn.GRU):
        fn = torch.gru
    elif rnn.nonlinearity == "tanh":
        fn = torch.rnn_tanh
    else:
        fn = torch.rnn_relu
    with warnings.catch_warnings():
        # On CUDA, cuDNN warns that one layer's weights are not one packed chunk and copies
        # them: measured 1.3x a whole nn.LSTM forward on an H200, inside the 3x budget.
        warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous")
        result = fn(x, state, *args)
    if isinstance(rnn, torch.nn.LSTM):
        out, h, c = result
        return out, (h, c)
    out, h = result
    return out, h


def affine_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Solve c_t = a_t * c_{t-1} + b_t along dim 0 with c_{-1} = 0, for a, b (T, ...).

    A Hillis-Steele prefix scan: after the round with shift s, (a_t, b_t) is the map that
    takes c_{t-2s} to c_t. Composing two maps only multiplies and adds (no division), so
    it is as accurate as the step-by-step loop, in log2(T) vectorised rounds.
    """
    T = a.shape[0]
    shift = 1
    while shift < T:
        b = torch.cat([b[:shift], torch.addcmul(b[shift:], a[shift:], b[:-shift])])
        if shift * 2 < T:  # the last round needs no a
            a = torch.cat([a[:shift], a[shift:] * a[:-shift]])
        shift *= 2
    return b


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).numpy()


def _trace_layers(rnn: torch.nn.RNNBase, x: torch.Tensor):
    """Every gate and state of every layer of `rnn` reading x (T, E) from a zero state:
    (layers, preacts, the top layer's h (T, H) as a tensor)."""
    arch = arch_of(rnn)
    H = rnn.hidden_size
    layers: list[dict[str, np.ndarray]] = []
    preacts: list[dict[str, np.ndarray]] = []
    for layer in range(rnn.num_layers):
        out, _ = run_layer(rnn, layer, x[None], zero_state(rnn))
        h = out[0]  # (T, H): h_t after each step, torch's numbers
        h_prev = torch.cat([h.new_zeros(1, H), h[:-1]])  # (T, H): h_{t-1}
        w_ih, w_hh, *biases = layer_params(rnn, layer)
        if biases:
            px = torch.addmm(biases[0], x, w_ih.t())  # (T, G*H): W_i* x_t + b_i*
            ph = torch.addmm(biases[1], h_prev, w_hh.t())  # (T, G*H): W_h* h_{t-1} + b_h*
        else:
            px, ph = x @ w_ih.t(), h_prev @ w_hh.t()
        blocks = _BLOCKS[arch]
        pre = {}
        for k, name in enumerate(blocks):
            pre[f"{name}_x"] = px[:, k * H : (k + 1) * H]  # (T, H)
            pre[f"{name}_h"] = ph[:, k * H : (k + 1) * H]  # (T, H)
        if arch == "lstm":
            ifgo = px + ph  # (T, 4H)
            i = torch.sigmoid(ifgo[:, :H])
            f = torch.sigmoid(ifgo[:, H : 2 * H])
            g = torch.tanh(ifgo[:, 2 * H : 3 * H])
            o = torch.sigmoid(ifgo[:, 3 * H :])
            c = affine_scan(f, i * g)  # (T, H): c_t = f_t * c_{t-1} + i_t * g_t
            states = {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}
        elif arch == "gru":
            r = torch.sigmoid(pre["r_x"] + pre["r_h"])
            z = torch.sigmoid(pre["z_x"] + pre["z_h"])
            n = torch.tanh(torch.addcmul(pre["n_x"], r, pre["n_h"]))  # tanh(W_in x + b_in + r * (W_hn h + b_hn))
            states = {"r": r, "z": z, "n": n, "h": h}
        else:
            states = {"h": h}
        layers.append({k: _numpy(v) for k, v in states.items()})
        preacts.append({k: _numpy(v) for k, v in pre.items()})
        x = h  # the next layer reads this layer's h (no dropout: evaluation)
    return layers, preacts, x


def _index_tensor(indices, device, what: str) -> torch.Tensor:
    idx_np = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx_np.size == 0:
        raise ValueError(f"there are no {what} to trace; give at least one")
    return torch.from_numpy(idx_np).to(device)[None]  # (1, T)


@torch.inference_mode()
def trace_gates(model: CharRNN, indices) -> GateTrace:
    """Every gate and state of every layer of `model` after each character of `indices`.

    `indices` are character indices (a list or an integer array), read from a zero
    state. The h values are torch's own (one call of the layer's recurrent kernel); the
    gates are recomputed from them with two matrix products; c by a prefix scan.
    """
    idx = _index_tensor(indices, model.head.weight.device, "characters")
    rnn = model.rnn
    # oneDNN stays on: over one long sequence it is 2x faster than torch's own kernel.
    x = model.inputs(idx)[0]  # (T, E)
    layers, preacts, top = _trace_layers(rnn, x)
    probs = torch.softmax(model.head(top).float(), dim=-1)  # (T, V)
    return GateTrace(arch=arch_of(rnn), layers=layers, probs=_numpy(probs), preacts=preacts)


@torch.inference_mode()
def trace_word_gates(model, ids) -> GateTrace:
    """The same trace for a word-level sentiment classifier (rnnstudio.nn.sentiment's, with an
    RNN, GRU or LSTM): one step per word of `ids`, read from a zero state, in evaluation mode
    (no dropout). `probs` is then (T, 1): p(positive) after each word, sigmoid(w . h_t + b),
    the classifier's own readout of the top layer."""
    rnn = getattr(model, "rnn", None)
    if rnn is None:
        raise ValueError("a bag of words has no recurrent layer, so no gates or states to trace")
    idx = _index_tensor(ids, model.head.weight.device, "words")
    x = model.embed(idx)[0]  # (T, E): the embeddings, as forward reads them without dropout
    layers, preacts, top = _trace_layers(rnn, x)
    p = torch.sigmoid(model.head(top).float())  # (T, 1)
    return GateTrace(arch=arch_of(rnn), layers=layers, probs=_numpy(p), preacts=preacts)


def saturation(values: np.ndarray, low: float = 0.1, high: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """For each unit of values (T, H): the fraction of steps below `low` and above `high`.

    Karpathy, Johnson and Fei-Fei (2015) plot these two fractions of each gate as a
    scatter: a forget gate right-saturated most of the time remembers for long.
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"values must be (T, H), not of shape {values.shape}")
    if values.shape[0] == 0:
        zeros = np.zeros(values.shape[1], dtype=np.float32)
        return zeros, zeros.copy()
    left = np.count_nonzero(values < low, axis=0) / values.shape[0]
    right = np.count_nonzero(values > high, axis=0) / values.shape[0]
    return left.astype(np.float32), right.astype(np.float32)


def top_next_chars(probs_row: np.ndarray, vocab_chars: list[str], k: int = 5) -> list[tuple[str, float]]:
    """The k likeliest next characters and their probabilities, likeliest first."""
    probs_row = np.asarray(probs_row).reshape(-1)
    k = max(0, min(k, probs_row.size))
    order = np.argsort(-probs_row, kind="stable")[:k]
    return [(vocab_chars[int(j)], float(probs_row[j])) for j in order]
