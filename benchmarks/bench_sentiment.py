"""sentiment_read: a 40-word sentence read by every shipped sentiment model (per-word curves,
contributions, integrated gradients, projection, sentiment unit) and VADER through the worker,
as the panel asks while one types, against the same models' bare forward pass on this thread;
sentiment_train_stall: the GUI thread's longest stall while a sentiment model trains."""

from __future__ import annotations

import time
from pathlib import Path

from bench_common import (STALL_PROBE_MS, App, Row, Settings, log, median, spread,
                          training_stall, wait_until)

WORDS = ("the movie had slow parts , but overall was worth watching and the acting was not bad at all "
         "although the ending").split()
FRAME_MS = 1000 / 60


def sentence(n: int, i: int) -> str:
    words = (WORDS * (n // len(WORDS) + 2))[i % 7 : i % 7 + n]
    return " ".join(words)


def case_sentiment_read(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    import torch

    from rnnstudio.worker.sentiment_messages import VADER, LoadSentimentModelsRequest, SentimentReadRequest
    from rnnstudio.worker.sentiment_work import shipped_sentiment_files
    from rnnstudio.nn.sentiment import load_sentiment

    torch.set_num_threads(threads)
    files = shipped_sentiment_files()
    bare_models = [load_sentiment(p, device).model.eval() for p in files.values()]
    repeats = max(cfg.repeats, 5) * 4

    def bare(text: str) -> float:
        t0 = time.perf_counter()
        with torch.no_grad():
            for model in bare_models:
                _, ids, _ = model.tokens_for(text)
                model(torch.tensor([ids]))
        return 1000 * (time.perf_counter() - t0)

    base, ours = [], []
    with App(threads, device) as app:
        done = []
        app.worker.submit(LoadSentimentModelsRequest(), on_result=done.append, on_error=done.append)
        wait_until(lambda: done, 60, "the worker to open the sentiment models")
        models = (*files, VADER)

        def through_worker(text: str) -> float:
            got = []
            t0 = time.perf_counter()

            def arrived(r):  # timed in the GUI thread's handler
                got.append((time.perf_counter(), r))

            app.worker.submit(SentimentReadRequest(text=text, models=models, salience_of="lstm"), slot="sentiment.read",
                              on_result=arrived, on_error=arrived)
            wait_until(lambda: got, 30, "a reading")
            t1, r = got[0]
            if not hasattr(r, "readings"):
                raise RuntimeError(f"the worker could not read: {r.message}")
            return 1000 * (t1 - t0)

        bare(sentence(40, 0)), through_worker(sentence(40, 0))
        for i in range(repeats):
            text = sentence(40, i) + " " + WORDS[i % len(WORDS)]  # a new last word, as typing makes
            base.append(bare(text))
            ours.append(through_worker(text))
        log(f"  sentiment_read: {median(ours):.1f} ms through the worker, bare forward {median(base):.1f} ms")
    row = Row("sentiment_read", median(ours), median(base), "ms", f"<= {FRAME_MS:.1f} ms", median(ours) <= FRAME_MS)
    row.notes.append(f"{len(files)} shipped models ({', '.join(files)}) and VADER, 40 words, {threads} torch "
                     f"thread(s); submit to result on the GUI thread, with every model's curve, contributions, "
                     f"projection, the LSTM's integrated gradients (8 intervals) and sentiment "
                     f"unit, against the same models' bare forward pass on this thread; "
                     f"rnnstudio {spread(ours, '{:.1f}')}, baseline {spread(base, '{:.1f}')} ms")
    return [row]


def case_sentiment_train_stall(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    from rnnstudio.worker.sentiment_messages import SentimentTrainingStarted, SentimentTrainSpec
    from rnnstudio.worker.sentiment_messages import StartSentimentTrainingRequest

    with App(threads, device) as app:
        tab = app.window.panels["sentiment"].training
        request = StartSentimentTrainingRequest(spec=SentimentTrainSpec(steps=10**6, eval_every=100))
        idle, busy, own = training_stall(app, cfg, "sentiment", request, SentimentTrainingStarted, tab._on_partial)
    row = Row("sentiment_train_stall", median(busy), median(idle), "ms", "<= 50 ms", median(busy) <= 50.0)
    row.notes.append(f"probe every {STALL_PROBE_MS} ms, {threads} torch thread(s), the app's default sentiment LSTM; "
                     f"training {spread(busy, '{:.1f}')}, idle {spread(idle, '{:.1f}')} ms; less the GUI thread's "
                     f"waits for a core {spread(own, '{:.1f}')} ms")
    return [row]
