"""The recurrence equations of docs/LECTURE-MAP.md with one unit's actual numbers filled in.

Numpy only (no torch): it reads arrays that the gates trace already computed, so the
GUI thread may call it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EquationLine:
    lhs: str  # e.g. "i_t"
    formula: str  # the symbols, e.g. "sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)"
    numbers: str  # the same with this unit's numbers, e.g. "sigmoid(0.41 + -1.20)"
    value: float


def _sigmoid(v: float) -> float:
    return float(1.0 / (1.0 + np.exp(-v)))


def step_equations(arch: str, values: dict, preacts: dict, t: int, unit: int) -> list[EquationLine]:
    """The equations for step `t` (0-based) of one unit; the state before step 0 is zero."""

    def v(name: str, step: int) -> float:
        return float(values[name][step, unit]) if step >= 0 else 0.0

    def p(name: str) -> float:
        return float(preacts[name][t, unit])

    lines: list[EquationLine] = []
    if arch == "lstm":
        for gate, act, label in (("i", "sigmoid", "i"), ("f", "sigmoid", "f"), ("g", "tanh", "g"), ("o", "sigmoid", "o")):
            x_part, h_part = p(f"{gate}_x"), p(f"{gate}_h")
            lines.append(EquationLine(
                f"{label}_t",
                f"{act}(W_i{gate} x_t + b_i{gate} + W_h{gate} h_{{t-1}} + b_h{gate})",
                f"{act}({x_part:+.3f} {h_part:+.3f})",
                v(gate, t),
            ))
        f, c_prev, i, g = v("f", t), v("c", t - 1), v("i", t), v("g", t)
        lines.append(EquationLine("c_t", "f_t * c_{t-1} + i_t * g_t", f"{f:.3f} * {c_prev:+.3f} + {i:.3f} * {g:+.3f}", v("c", t)))
        lines.append(EquationLine("h_t", "o_t * tanh(c_t)", f"{v('o', t):.3f} * tanh({v('c', t):+.3f})", v("h", t)))
    elif arch == "gru":
        for gate in ("r", "z"):
            lines.append(EquationLine(
                f"{gate}_t",
                f"sigmoid(W_i{gate} x_t + b_i{gate} + W_h{gate} h_{{t-1}} + b_h{gate})",
                f"sigmoid({p(gate + '_x'):+.3f} {p(gate + '_h'):+.3f})",
                v(gate, t),
            ))
        lines.append(EquationLine(
            "n_t", "tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))",
            f"tanh({p('n_x'):+.3f} + {v('r', t):.3f} * {p('n_h'):+.3f})", v("n", t),
        ))
        z, n, h_prev = v("z", t), v("n", t), v("h", t - 1)
        lines.append(EquationLine("h_t", "(1 - z_t) * n_t + z_t * h_{t-1}", f"{1 - z:.3f} * {n:+.3f} + {z:.3f} * {h_prev:+.3f}", v("h", t)))
    else:
        lines.append(EquationLine(
            "h_t", "tanh(W_xh x_t + b_xh + W_hh h_{t-1} + b_hh)",
            f"tanh({p('h_x'):+.3f} {p('h_h'):+.3f})", v("h", t),
        ))
    return lines


# The gate that scales the memory path from one step to the next: the LSTM's cell
# c_t = f_t * c_{t-1} + i_t * g_t, the GRU's state h_t = (1 - z_t) * n_t + z_t * h_{t-1}.
# A vanilla RNN has none: its only path back goes through W_hh and tanh.
KEEP_GATE = {"lstm": "f", "gru": "z"}


def memory_reach(keep: np.ndarray) -> np.ndarray:
    """How much of the gradient at the last step reaches each earlier step along the memory
    path alone, with the gates held as they were (docs/LECTURE-MAP.md, the forget gate and the
    gradient: dE/dc_{t-1} = f_t dE/dc_t):

        reach[t] = keep[t+1] * keep[t+2] * ... * keep[T-1],   reach[T-1] = 1

    for keep-gate values (T,) or (T, H). Summed as logarithms: a product of a few hundred
    numbers below 1 underflows float64, and the plot shows it on a log scale anyway.
    """
    keep = np.asarray(keep, dtype=np.float64)
    if keep.shape[0] == 0:
        return keep.copy()
    with np.errstate(divide="ignore"):  # a gate at exactly 0 stops it: log 0 = -inf, exp(-inf) = 0
        logs = np.log(np.clip(keep, 0.0, None))
    from_here = np.cumsum(logs[::-1], axis=0)[::-1]  # from_here[t] = log keep[t] + ... + log keep[T-1]
    reach = np.zeros_like(logs)
    reach[:-1] = from_here[1:]
    return np.exp(reach)
