"""soak_sampling: resident memory after 1,000 sampling requests through the worker, each
streamed into the char-RNN panel, against after the first 100 (issue 6: growth <= 50 MB).
caption_memory (bench_caption.py) is the same check for 10,000 captioned frames."""

from __future__ import annotations

import time
from pathlib import Path

from bench_caption import MEMORY_GOAL_MB, rss_mb
from bench_common import App, Row, Settings, log, wait_until

REQUESTS = 1000
CHARS = 40


def case_soak_sampling(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    from rnnstudio.worker.requests import SHIPPED, SampleRequest

    marks = {}
    t0 = time.perf_counter()
    with App(threads, device) as app:
        to_view = app.forward("_on_sample_chunk")
        for n in range(1, REQUESTS + 1):
            done = []
            app.worker.submit(SampleRequest(role=SHIPPED, length=CHARS, temperature=1.0, seed=n), slot="charrnn.sample",
                              on_partial=to_view, on_result=done.append, on_error=done.append)
            wait_until(lambda: done, 60, f"sampling request {n}")
            if not hasattr(done[0], "text"):
                raise RuntimeError(f"sampling failed: {done[0].message}")
            if n in (100, REQUESTS):
                marks[n] = rss_mb()
            if n % 250 == 0:
                log(f"  soak_sampling: {n} requests, {rss_mb():.1f} MB")
    growth = marks[REQUESTS] - marks[100]
    row = Row("soak_sampling", marks[REQUESTS], marks[100], "MB", f"growth <= {MEMORY_GOAL_MB:.0f} MB",
              growth <= MEMORY_GOAL_MB)
    row.notes.append(f"resident memory after {REQUESTS:,} sampling requests of {CHARS} characters from the shipped model "
                     f"through the worker, streamed into the panel ({time.perf_counter() - t0:.0f} s), minus after "
                     f"100: {growth:+.1f} MB")
    return [row]
