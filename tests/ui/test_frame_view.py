"""The attention overlay of the captioning and question-answering pictures: a spotlight."""

from __future__ import annotations

import numpy as np

from rnnstudio.ui.frame_view import SPOTLIGHT_DIM, spotlight_rgba


def test_the_most_looked_at_cell_stays_clear_and_the_rest_is_dimmed_by_how_little_it_was_looked_at():
    weights = np.array([[0.0, 0.1], [0.2, 0.7]])
    rgba = spotlight_rgba(weights)
    assert rgba.shape == (2, 2, 4) and rgba.dtype == np.uint8
    assert (rgba[..., :3] == 0).all()  # black: dims whatever colour is under it
    alpha = rgba[..., 3].astype(int)
    assert alpha[1, 1] == 0 and alpha[0, 0] == SPOTLIGHT_DIM
    assert alpha[0, 0] > alpha[0, 1] > alpha[1, 0] > alpha[1, 1]


def test_no_attention_at_all_dims_everything_evenly():
    assert (spotlight_rgba(np.zeros((3, 3)))[..., 3] == SPOTLIGHT_DIM).all()
