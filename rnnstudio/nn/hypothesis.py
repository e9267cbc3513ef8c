"""Hypothesis search, after LSTMVis (Strobelt et al.): which units track a selected span?

A person selects a span of text they think is special (inside brackets, inside a quote,
the end of a line). `rank_units` finds the hidden units that are on (above a threshold)
inside the span and off just around it; `find_matches` marks every other place in the
text where a chosen set of units is on together, to check the hypothesis elsewhere.

Both work on one (T, H) array of a state or gate: values[t, u] is unit u after reading
character t.
"""

from __future__ import annotations

import numpy as np


def rank_units(
    values: np.ndarray, start: int, end: int, threshold: float, margin: int = 3
) -> list[tuple[int, float]]:
    """Units that are on inside [start, end) and off in the `margin` characters around it.

    score = (fraction of the span's steps the unit is above `threshold`)
          - (fraction of the up to 2 * margin steps just before and after the span it is).
    Only units with a positive score are returned, best first; equal scores (common for a
    short span) are ordered by how far the unit's mean value inside the span exceeds its
    mean just around it, then by unit number.
    A span that reaches both ends of the text has nothing around it: the score is then
    the fraction on inside.
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"values must be (T, H), not of shape {values.shape}")
    T = values.shape[0]
    if not 0 <= start < end <= T:
        raise ValueError(f"the span [{start}, {end}) is not a non-empty part of a text of {T} characters")
    if margin < 0:
        raise ValueError("margin must be at least 0")
    on = values > threshold  # (T, H)
    inside = on[start:end].mean(axis=0)  # (H,)
    around = np.concatenate([on[max(0, start - margin) : start], on[end : end + margin]])  # (<= 2 margin, H)
    outside = around.mean(axis=0) if len(around) else np.zeros_like(inside)
    score = inside - outside  # (H,)
    span_vals = values[start:end].astype(np.float64)
    around_vals = np.concatenate([values[max(0, start - margin) : start], values[end : end + margin]]).astype(np.float64)
    contrast = span_vals.mean(axis=0) - (around_vals.mean(axis=0) if len(around_vals) else 0.0)  # (H,)
    units = np.flatnonzero(score > 0)
    order = units[np.lexsort((units, -contrast[units], -score[units]))]
    return [(int(u), float(score[u])) for u in order]


def find_matches(
    values: np.ndarray, units: list[int], threshold: float, min_length: int = 1
) -> list[tuple[int, int]]:
    """Spans [start, end) where every one of `units` is above `threshold`, at least `min_length` long.

    No units: no matches.
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"values must be (T, H), not of shape {values.shape}")
    units = [int(u) for u in units]
    if not units or values.shape[0] == 0:
        return []
    H = values.shape[1]
    bad = [u for u in units if not 0 <= u < H]
    if bad:
        raise ValueError(f"no unit {bad[0]}: the layer has units 0..{H - 1}")
    together = (values[:, units] > threshold).all(axis=1)  # (T,)
    edges = np.diff(np.concatenate([[0], together.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return [(int(s), int(e)) for s, e in zip(starts, ends) if e - s >= max(1, min_length)]
