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
    from rnnstudio.worker.charrnn_messages import SHIPPED, SampleRequest

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


CLOSE_GOAL_S = 2.0


def _close_after(start, running, threads: int, device: str) -> float:
    """Open the app, start some work, wait until it runs, close the window: seconds until
    the worker and capture threads have ended."""
    import threading

    from bench_common import qt_app, run_events

    from rnnstudio.ui.app import build_window

    qt_app()
    window = build_window(device=device, torch_threads=threads, remember=False)
    window.show()
    window.worker.start()
    wait_until(lambda: window.worker.device_name is not None, 120, "the worker to load PyTorch")
    start(window)
    wait_until(lambda: running(window), 120, "the work to run")
    run_events(0.3)
    t0 = time.perf_counter()
    window.close()
    names = ("rnnstudio-device-worker", "rnnstudio-capture")
    while any(t.name in names for t in threading.enumerate()) and time.perf_counter() - t0 < 10:
        time.sleep(0.005)
    seconds = time.perf_counter() - t0
    window.deleteLater()
    run_events(0.05)
    return seconds


def case_close_time(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    from run import corpus_file

    corpus = corpus_file(tmp)

    def train(window):
        panel = window.panels["charrnn"]
        panel.set_corpus_file(corpus)
        panel.training.hidden_spin.setValue(128)
        panel.training.steps_spin.setValue(100_000)
        panel.start_training()

    def caption(window):
        panel = window.panels["caption"]
        window.show_panel("caption")
        wait_until(lambda: panel.model is not None, 60, "the captioner")
        panel.sources.choose("generated-camera")
        panel.start_source()

    def evaluate(window):
        panel = window.panels["vqa"]
        wait_until(lambda: panel.model is not None, 60, "the VQA model")
        panel.evaluate()

    cases = {
        "training (2 x 128 LSTM)": (train, lambda w: w.panels["charrnn"]._training_state == "running"
                                    and len(w.panels["charrnn"].loss_plot.iterations) > 3),
        "live captioning": (caption, lambda w: w.panels["caption"].result is not None),
        "VQA evaluation": (evaluate, lambda w: w.panels["vqa"].evaluation.progress.value() > 0),
    }
    rows = []
    for what, (start, running) in cases.items():
        times = [_close_after(start, running, threads, device) for _ in range(3)]
        log(f"  close_time during {what}: {', '.join(f'{t:.2f}' for t in times)} s")
        row = Row(f"close_time ({what})", max(times), CLOSE_GOAL_S, "s", f"<= {CLOSE_GOAL_S:.0f} s",
                  max(times) <= CLOSE_GOAL_S)
        row.notes.append(f"from window.close() until no worker or capture thread is left, during {what}; "
                         f"3 runs: {', '.join(f'{t:.3f}' for t in times)} s; the table shows the slowest")
        rows.append(row)
    return rows
