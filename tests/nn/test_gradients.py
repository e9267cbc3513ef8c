"""The gradient-flow plot's numbers: vanishing, exploding, and the LSTM's forget gate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig
from rnnstudio.nn.gradients import GRADIENT_EXPLANATION, gradient_norms


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_shape_and_values(arch):
    norms = gradient_norms(arch, hidden=16, steps=50)
    assert norms.shape == (50,)
    assert np.isfinite(norms).all() and (norms > 0).all()
    again = gradient_norms(arch, hidden=16, steps=50)
    np.testing.assert_array_equal(norms, again)  # seeded
    assert not np.array_equal(norms, gradient_norms(arch, hidden=16, steps=50, seed=1))


@pytest.mark.parametrize("seed", [0, 1])
def test_vanilla_rnn_vanishes_below_one_and_explodes_above(seed):
    vanishing = gradient_norms("rnn", hidden=64, steps=200, singular_value=0.8, seed=seed)
    assert vanishing[199] < 1e-3 * vanishing[0]
    exploding = gradient_norms("rnn", hidden=64, steps=200, singular_value=1.5, seed=seed)
    assert exploding[199] > 1e3 * exploding[0]
    assert np.isfinite(exploding).all()


def test_high_forget_bias_keeps_the_lstm_gradient_alive():
    remembering = gradient_norms("lstm", hidden=64, steps=100, forget_bias=3.0)
    forgetting = gradient_norms("lstm", hidden=64, steps=100, forget_bias=-3.0)
    assert remembering[99] > 1e6 * forgetting[99]


def test_the_caller_random_stream_is_left_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    gradient_norms("gru", hidden=8, steps=5)
    torch.testing.assert_close(torch.rand(3), expected)


def test_layer_of_a_loaded_model_is_used_and_not_changed():
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(vocab_size=10, arch="lstm", layers=2, hidden=12, embed=4))
    before = {k: v.clone() for k, v in model.rnn.state_dict().items()}
    norms = gradient_norms("lstm", steps=30, singular_value=1.5, forget_bias=2.0, model_rnn=model.rnn)
    assert norms.shape == (30,) and np.isfinite(norms).all()
    for k, v in model.rnn.state_dict().items():
        torch.testing.assert_close(v, before[k], atol=0, rtol=0)
    # Its own weights, untouched (no rescaling) differ from a fresh layer's.
    own = gradient_norms("lstm", steps=30, singular_value=None, model_rnn=model.rnn)
    assert not np.allclose(own, gradient_norms("lstm", hidden=12, steps=30, singular_value=None))
    with pytest.raises(ValueError, match="lstm"):
        gradient_norms("gru", model_rnn=model.rnn)


def test_bad_arguments():
    with pytest.raises(ValueError):
        gradient_norms("transformer")
    with pytest.raises(ValueError):
        gradient_norms("rnn", steps=0)


def test_explanation_names_the_formula():
    assert "dE/dh_{t-1} = W_hh^T diag(1 - h_t^2) dE/dh_t" in GRADIENT_EXPLANATION
    assert "singular value" in GRADIENT_EXPLANATION and "f_t" in GRADIENT_EXPLANATION
