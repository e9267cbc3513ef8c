"""Interventions: sample from a char-RNN while chosen hidden units are held at a value.

`generate_with_intervention` is CharRNN.generate with one change: after every step, the
chosen (layer, unit) entries of h (or, for an LSTM with state="c", of the cell c) are
set to their clamp value. A clamped h is what the next time step of that layer reads,
what the layer above reads at this step, and, for the top layer, what the output head
reads. A clamped c is what the next time step's cell starts from (h_t of this step was
already computed from the unclamped c_t).

The clamps hold from the first character on: the prime is read with them too. Layers
are run one at a time with torch's own kernel, one call per layer and step (a layer
without clamps reads the whole prime in one call), so with no clamps the numbers, and
therefore the sample for the same generator, are exactly those of CharRNN.generate.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from rnnstudio.nn.charrnn import CharRNN, _onednn_off, sample_index
from rnnstudio.nn.gates import run_layer, zero_state


def _check_clamps(model: CharRNN, clamps: dict[tuple[int, int], float], state: str) -> None:
    if state not in ("h", "c"):
        raise ValueError(f"state must be 'h' or 'c', not {state!r}")
    if state == "c" and not isinstance(model.rnn, torch.nn.LSTM):
        raise ValueError("only an LSTM has a cell state c to clamp; clamp h instead")
    layers, hidden = model.rnn.num_layers, model.rnn.hidden_size
    for layer, unit in clamps:
        if not (0 <= layer < layers and 0 <= unit < hidden):
            raise ValueError(
                f"no unit ({layer}, {unit}): the model has layers 0..{layers - 1} of units 0..{hidden - 1}"
            )


@torch.inference_mode()
def generate_with_intervention(
    model: CharRNN,
    prime: list[int],
    steps: int,
    temperature: float = 1.0,
    top_k: int = 0,
    generator: torch.Generator | None = None,
    clamps: dict[tuple[int, int], float] | None = None,
    state: str = "h",
) -> Iterator[int]:
    """Yield `steps` sampled character indices, with the `clamps` applied after every step.

    clamps maps (layer, unit) -> value (0.0 to zero a unit). state is "h" or, for an
    LSTM, "c". With no clamps this yields exactly what model.generate yields for the
    same arguments and generator state.
    """
    clamps = dict(clamps or {})
    _check_clamps(model, clamps, state)
    rnn = model.rnn
    lstm = isinstance(rnn, torch.nn.LSTM)
    device = model.head.weight.device
    dtype = model.head.weight.dtype
    by_layer: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for layer in sorted({layer for layer, _ in clamps}):
        units = sorted(u for (l_, u) in clamps if l_ == layer)
        by_layer[layer] = (
            torch.tensor(units, dtype=torch.long, device=device),
            torch.tensor([float(clamps[(layer, u)]) for u in units], dtype=dtype, device=device),
        )

    def clamp(layer, out, st):
        """Apply the clamps of `layer` to a one-step output (1, 1, H) and state, in place."""
        units, values = by_layer[layer]
        if state == "h":
            out[0, 0, units] = values
            h = st[0] if lstm else st
            h[0, 0, units] = values
        else:
            st[1][0, 0, units] = values

    def step(layer, x, st):
        """One layer, one character: x (1, 1, E) -> out (1, 1, H), state; clamped."""
        out, st = run_layer(rnn, layer, x, st)
        if layer in by_layer:
            clamp(layer, out, st)
        return out, st

    with _onednn_off():  # single-step calls: oneDNN would repack the weights on every one
        states = [zero_state(rnn) for _ in range(rnn.num_layers)]
        if prime:
            x = model.inputs(torch.tensor([prime], dtype=torch.long, device=device))  # (1, P, E)
            for layer in range(rnn.num_layers):
                if layer in by_layer:  # clamped from the first character: one step at a time
                    outs = []
                    for t in range(x.shape[1]):
                        out, states[layer] = step(layer, x[:, t : t + 1], states[layer])
                        outs.append(out)
                    x = torch.cat(outs, dim=1)  # (1, P, H)
                else:
                    x, states[layer] = run_layer(rnn, layer, x, states[layer])  # (1, P, H)
            last = model.head(x)[0, -1]  # (V,)
        else:
            # No prime: start from the zero state and a uniform first guess, as generate does.
            last = torch.zeros(model.config.vocab_size, device=device)
        step_in = torch.empty((1, 1), dtype=torch.long, device=device)
        for _ in range(steps):
            nxt = sample_index(last, temperature, top_k, generator)
            yield nxt
            step_in.fill_(nxt)
            x = model.inputs(step_in)  # (1, 1, E)
            for layer in range(rnn.num_layers):
                x, states[layer] = step(layer, x, states[layer])  # (1, 1, H)
            last = model.head(x)[0, -1]  # (V,)
