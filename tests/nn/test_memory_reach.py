"""The forget gate and the gradient (docs/LECTURE-MAP.md) in numbers: along the LSTM's cell
the gradient is multiplied by the forget gate at each step back (dE/dc_{t-1} = f_t dE/dc_t);
`memory_reach` is that product."""

from __future__ import annotations

import numpy as np
import torch

from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig
from rnnstudio.nn.explain import KEEP_GATE, memory_reach
from rnnstudio.nn.gates import trace_gates


def test_reach_is_the_product_of_the_later_gates():
    keep = np.array([0.5, 0.9, 0.2, 0.8])
    np.testing.assert_allclose(memory_reach(keep), [0.9 * 0.2 * 0.8, 0.2 * 0.8, 0.8, 1.0])
    units = np.random.default_rng(0).uniform(0.3, 1.0, size=(6, 3))  # (T, H): per unit
    for j in range(3):
        np.testing.assert_allclose(memory_reach(units)[:, j], memory_reach(units[:, j]))
    assert memory_reach(np.zeros((0, 2))).shape == (0, 2)


def test_long_texts_underflow_to_zero_not_nan():
    reach = memory_reach(np.full(3000, 0.5))
    assert np.all(np.isfinite(reach)) and reach[-1] == 1.0
    np.testing.assert_allclose(reach[-101], 0.5 ** 100)  # still exact where float64 can hold it
    assert reach[0] == 0.0  # 0.5 ** 2999 is below float64's range
    assert memory_reach(np.array([0.0, 0.0, 1.0]))[0] == 0.0  # a closed gate stops it


def test_reach_is_autograds_gradient_along_a_real_cells_path():
    """Through a real LSTM's traced gates: rebuild c_t = f_t c_(t-1) + i_t g_t with the gates held,
    and autograd's d c_T / d c_t is the reach, for every step and unit."""
    torch.manual_seed(3)
    model = CharRNN(CharRNNConfig(vocab_size=11, arch="lstm", layers=1, hidden=6, embed=5)).eval()
    trace = trace_gates(model, torch.randint(0, 11, (40,)))
    values = trace.layers[0]
    f, i, g = (torch.tensor(values[k], dtype=torch.float64) for k in ("f", "i", "g"))
    cells = []
    c = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    for t in range(f.shape[0]):
        c = f[t] * c + i[t] * g[t]
        c.retain_grad()
        cells.append(c)
    np.testing.assert_allclose(torch.stack(cells).detach().numpy(), values["c"], atol=1e-5)  # the traced cell
    cells[-1].sum().backward()
    autograd = torch.stack([c.grad for c in cells]).numpy()
    np.testing.assert_allclose(memory_reach(values[KEEP_GATE["lstm"]]), autograd, rtol=1e-4, atol=1e-12)
