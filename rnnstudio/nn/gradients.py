"""Vanishing and exploding gradients, measured by autograd (docs/LECTURE-MAP.md: vanishing and exploding
gradients; the forget gate and the gradient).

`gradient_norms` runs one recurrent layer over `steps + 1` random inputs, one step at a
time, takes a loss E that depends on the last hidden state only, and returns the norm of
dE/dh at every distance from the loss. Plotted on a log scale against the distance it is
the picture of the lecture: straight down (vanishing), flat, or straight up (exploding).
"""

from __future__ import annotations

import numpy as np
import torch

from rnnstudio.nn.charrnn import ARCHS, _onednn_off
from rnnstudio.nn.gates import arch_of

GRADIENT_EXPLANATION = (
    "Each step back multiplies the gradient by W_hh^T and the slope of tanh: "
    "dE/dh_{t-1} = W_hh^T diag(1 - h_t^2) dE/dh_t. "
    "Below a largest singular value of 1 it vanishes; above 1 it can explode. "
    "Along the LSTM's cell it is scaled by the forget gate instead, dE/dc_{t-1} = f_t * dE/dc_t: "
    "f_t near 1 keeps it alive."
)

INPUT_SIZE = 32  # inputs of a fresh layer; the curves do not depend on it
LINEAR_STATE = 1e-6  # a fresh vanilla RNN's state stays below this: tanh is linear there


def _set_singular_values(weight_hh: torch.Tensor, hidden: int, value: float, seed: int) -> None:
    """Make each gate's H x H block of weight_hh (in place) `value` times an orthogonal matrix.

    Then every singular value of the block, the largest included, is `value`, and so is
    every |eigenvalue|: repeated products with it scale a vector by exactly value^k. That
    makes the lecture's rule sharp in both directions: below 1 the gradient vanishes, above
    1 it explodes. (Merely rescaling a random matrix to a largest singular value of 1.5
    does not explode: its eigenvalues are about half as large.) For the LSTM (gates i, f,
    g, o) and the GRU (r, z, n) every gate's recurrent block gets the same treatment.
    """
    blocks = weight_hh.view(-1, hidden, hidden)  # (G, H, H), a view: edits go to weight_hh
    gen = torch.Generator().manual_seed(seed + 1)
    for block in blocks:
        q, r = torch.linalg.qr(torch.randn(hidden, hidden, generator=gen, dtype=torch.float64))
        q = q * torch.sign(torch.diagonal(r))  # a uniformly random orthogonal matrix
        block.copy_(q.to(block.dtype) * value)


def gradient_norms(
    arch: str,
    hidden: int = 64,
    steps: int = 200,
    singular_value: float | None = 1.0,
    forget_bias: float | None = None,
    seed: int = 0,
    model_rnn: torch.nn.RNNBase | None = None,
    input_scale: float | None = None,
) -> np.ndarray:
    """||dE/dh_{T-k}|| for k = 1..steps, by autograd: entry k-1 is distance k from the loss.

    The layer is a fresh single-layer torch.nn.LSTM / GRU / RNN (`arch`) of `hidden` units
    with PyTorch's default initialisation (seeded by `seed`), or, when `model_rnn` is
    given, a copy of that module's layer 0 (its weights are left untouched; `arch` must
    match it and `hidden` is its size). It reads steps + 1 random inputs (seeded), one
    step at a time from a zero state; E = v . h_T for a fixed random unit-scale vector v.

    - singular_value: make W_hh this value times a random orthogonal matrix, so its
      largest singular value (and its spectral radius) is this, every gate's block
      separately for the LSTM and GRU (see _set_singular_values); None keeps W_hh as it is.
    - forget_bias: for an LSTM, set b_if to this and b_hf to 0 (ignored for GRU and RNN).
    - input_scale: the standard deviation of the inputs. By default 1 for the LSTM, the
      GRU and a loaded layer. A fresh vanilla RNN is shown where the lecture's formula is
      exact, in tanh's linear part: its biases are set to 0 and its inputs scaled so small
      that |h_t| stays below 1e-6 for the whole run, whatever the singular value (a state that
      grows by the singular value each step would otherwise saturate tanh within a few dozen steps,
      and 1 - h_t^2 ~ 0 then cuts the gradient). There 1 - h_t^2 = 1 and the curve is
      ||(W_hh^T)^k v||: it falls by orders of magnitude over 200 steps for a value of 0.8
      (0.8^200 ~ 1e-19) and rises by orders of magnitude for 1.5 (1.5^200 ~ 1e35), for any
      seed. The computation is in float64, so neither end overflows or underflows (only
      past float64's range, some 1e308, would a value read inf or 0).

    Returns float64 (the values span far more than float32's range). Runs in well under a
    second for 64 units and 200 steps.
    """
    if steps < 1:
        raise ValueError("steps must be at least 1")
    if model_rnn is not None:
        model_arch = arch_of(model_rnn)
        if arch != model_arch:
            raise ValueError(f"arch is {arch!r} but the given module is an {model_arch}")
        hidden = model_rnn.hidden_size
    elif arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, not {arch!r}")
    if hidden < 1:
        raise ValueError("hidden must be at least 1")

    with torch.random.fork_rng(devices=[]):  # leave the caller's random stream alone
        torch.manual_seed(seed)
        kwargs = {"nonlinearity": model_rnn.nonlinearity} if isinstance(model_rnn, torch.nn.RNN) else {}
        input_size = model_rnn.input_size if model_rnn is not None else INPUT_SIZE
        layer = ARCHS[arch](input_size, hidden, batch_first=True, **kwargs)
    layer = layer.double()
    linear_rnn = arch == "rnn" and model_rnn is None
    with torch.no_grad():
        if model_rnn is not None:
            for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                getattr(layer, name).copy_(getattr(model_rnn, name))
        if singular_value is not None:
            if not singular_value >= 0:
                raise ValueError("singular_value must be at least 0")
            _set_singular_values(layer.weight_hh_l0, hidden, float(singular_value), seed)
        if forget_bias is not None and arch == "lstm":
            layer.bias_ih_l0[hidden : 2 * hidden] = float(forget_bias)
            layer.bias_hh_l0[hidden : 2 * hidden] = 0.0
        if linear_rnn:
            layer.bias_ih_l0.zero_()
            layer.bias_hh_l0.zero_()
    layer.requires_grad_(False)  # gradients with respect to the states only

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(steps + 1, 1, 1, input_size, generator=gen, dtype=torch.float64)  # (T, B=1, 1, in)
    v = torch.randn(hidden, generator=gen, dtype=torch.float64) / hidden**0.5  # (H,)
    if input_scale is None and linear_rnn:
        input_scale = _linear_input_scale(layer, steps + 1)
    x = x * (1.0 if input_scale is None else float(input_scale))

    h = torch.zeros(1, 1, hidden, dtype=torch.float64, requires_grad=True)  # (layers=1, B=1, H)
    c = torch.zeros(1, 1, hidden, dtype=torch.float64)
    hs = []
    with _onednn_off():  # single-step calls
        for t in range(steps + 1):
            if arch == "lstm":
                out, (_, c) = layer(x[t], (h, c))
            else:
                out, _ = layer(x[t], h)
            # Step t's output is the state step t + 1 reads: one tensor, so that dE/dh_t
            # gathers every path from h_t to the loss.
            h = out.transpose(0, 1)  # (1, B, H)
            hs.append(h)
        loss = (hs[-1].reshape(-1) * v).sum()
        grads = torch.autograd.grad(loss, hs[:-1])  # dE/dh_1 .. dE/dh_{T-1}
    g = torch.cat([g.reshape(1, -1) for g in reversed(grads)])  # (steps, H): distance 1, 2, .., steps
    scale = g.abs().amax(dim=1, keepdim=True).clamp_min(1e-300)  # so that squaring cannot overflow
    return ((g / scale).norm(dim=1) * scale[:, 0]).numpy().astype(np.float64)


def _linear_input_scale(layer: torch.nn.RNN, length: int) -> float:
    """An input scale that keeps a bias-free tanh RNN's |h_t| below LINEAR_STATE for `length` steps.

    With no bias, |h_t| <= sum_j s^j |W_ih| |x| <= length * max(1, s)^length * |W_ih| * |x|
    for s the largest singular value of W_hh (tanh only shrinks); the inputs are standard
    normal, so |x| is at most a few times sqrt(in).
    """
    s = max(1.0, float(torch.linalg.matrix_norm(layer.weight_hh_l0, 2)))
    w = max(float(torch.linalg.matrix_norm(layer.weight_ih_l0, 2)), 1e-300)
    bound_log10 = np.log10(length) + length * np.log10(s) + np.log10(w) + np.log10(10 * np.sqrt(layer.input_size))
    return float(10.0 ** max(np.log10(LINEAR_STATE) - bound_log10, -300.0))
