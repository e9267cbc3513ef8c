"""`rnnstudio gates`: every gate and state of a char-RNN after each character of a text."""

from __future__ import annotations

import json
import math
import sys

from rnnstudio.cli.common import add_device_option
from rnnstudio.errors import UserError

GATES_DIGITS = 4  # significant digits in gates --json: a heatmap shows 2 or 3; float32 holds 7


def add_parser(sub) -> None:
    p = sub.add_parser("gates", help="every gate and state of a char-RNN after each character of a text")
    p.add_argument("--model", help="a char-RNN model file (default: the shipped Shakespeare LSTM)")
    p.add_argument("--text", required=True, help="the text the model reads, from a zero state")
    p.add_argument("--json", action="store_true", help="print every value as JSON (docs/COMMAND-LINE.md)")
    add_device_option(p)


def cmd_gates(args) -> int:
    from rnnstudio.cli.charrnn import load_model
    from rnnstudio.data.text import Vocab
    from rnnstudio.worker.gates_messages import MAX_GATES_CHARS

    if not args.text:
        raise UserError("--text is empty; give the text the model should read, at least one character")
    if len(args.text) > MAX_GATES_CHARS:  # the app's limit: memory and output grow with the text
        raise UserError(f"--text has {len(args.text):,} characters; gates reads at most {MAX_GATES_CHARS:,}, as the "
                        f"app does; shorten the text or split it into parts")
    loaded, _device = load_model(args.model, args.device)
    indices = Vocab(loaded.vocab).encode(args.text)  # names any characters the model has never seen

    from rnnstudio.nn.gates import saturation, trace_gates

    trace = trace_gates(loaded.model, indices)
    if args.json:  # written one (characters x units) array at a time: memory holds one array's numbers
        out = sys.stdout
        out.write(f'{{"text":{json.dumps(args.text)},"arch":{json.dumps(trace.arch)},"layers":[')
        for n, layer in enumerate(trace.layers):
            out.write("," * (n > 0) + "{")
            for m, (key, values) in enumerate(layer.items()):
                numbers = json.dumps(significant(values), separators=(",", ":"), allow_nan=False)
                out.write(f'{"," * (m > 0)}{json.dumps(key)}:{numbers}')
            out.write("}")
        out.write("]}\n")
        return 0
    print(f"{trace.arch}, {len(trace.layers)} layer(s) of {trace.layers[0]['h'].shape[1]} units, "
          f"{len(args.text)} characters")
    for n, layer in enumerate(trace.layers):
        for key, values in layer.items():
            if key in ("i", "f", "o", "r", "z"):  # sigmoid gates, 0..1
                left, right = saturation(values)
                print(f"layer {n} {key}: mean {values.mean():.3f}, below 0.1 {left.mean():.0%}, "
                      f"above 0.9 {right.mean():.0%}")
            else:
                print(f"layer {n} {key}: mean {values.mean():+.3f}, largest |value| {abs(values).max():.3f}")
    print("add --json for every value")
    return 0


def significant(values, digits: int = GATES_DIGITS, finest: float = 1e-6) -> list:
    """An array as nested lists of floats rounded to `digits` significant digits (none finer
    than `finest`: smaller values become 0), for JSON without digits nobody reads. Measured on
    5,000 characters through the shipped 2 x 256 LSTM: 110 MB of JSON (124 MB at 5 decimals)."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    magnitude = np.floor(np.log10(np.abs(values), out=np.zeros_like(values), where=values != 0))
    decimals = np.clip(digits - 1 - magnitude, 0, round(-math.log10(finest))).astype(int)
    rounded = np.empty_like(values)
    for d in np.unique(decimals):  # a handful of magnitudes: one np.round each
        where = decimals == d
        rounded[where] = np.round(values[where], int(d))
    return rounded.tolist()
