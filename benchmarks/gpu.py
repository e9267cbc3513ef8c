#!/usr/bin/env python
"""RNN Studio's model code on an accelerator, against bare PyTorch loops on the same device.

    python benchmarks/gpu.py [--device cuda] [--cases train,sample,gates,caption,accel] [--json FILE]

No Qt: this runs where only PyTorch is installed (a GPU server). It measures what the
worker thread runs (CharRNNTrainer.step, CharRNN.generate, trace_gates, Captioner.caption),
each against a bare loop in the same process, alternating, medians of the repeats, with the
largest GPU memory held. docs/PERFORMANCE.md keeps the published figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from bench_common import DEFAULT, Row, log, median, spread
from bench_gates import case_gates_cost
from run import (
    SAMPLE_MODEL,
    SAMPLE_VOCAB,
    TRAIN,
    BareTrainer,
    _bare_sample_loop,
    corpus_file,
    table,
)

# A second, GPU-sized configuration beside the 2 x 128: the kind of model a user with
# a GPU would train on a large corpus.
BIG_TRAIN = dict(TRAIN, layers=3, hidden=512, embed=128, seq_len=128, batch_size=128)


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def trainer_rate(corpus_path: str, cfg: dict, device, steps: int) -> tuple[float, float]:
    """CharRNNTrainer steps: (chars/s, peak GPU memory in MB)."""
    import torch

    from rnnstudio.data.text import load_corpus
    from rnnstudio.nn.charrnn import CharRNNConfig
    from rnnstudio.train.charrnn import CharRNNTrainer, TrainSettings

    corpus = load_corpus(corpus_path)
    config = CharRNNConfig(vocab_size=1, arch="lstm", layers=cfg["layers"], hidden=cfg["hidden"], embed=cfg["embed"])
    settings = TrainSettings(seq_len=cfg["seq_len"], batch_size=cfg["batch_size"], lr=cfg["lr"], steps=10**6)
    torch.manual_seed(0)
    trainer = CharRNNTrainer(corpus, config, settings, device=device)
    for _ in range(3):
        trainer.step()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    sync(device)
    wall = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
    return steps * cfg["batch_size"] * cfg["seq_len"] / wall, peak


def bare_rate(corpus_path: str, cfg: dict, device, steps: int) -> float:
    import run

    saved = dict(run.TRAIN)
    run.TRAIN.update(cfg)  # BareTrainer reads the configuration from run.TRAIN
    try:
        bare = BareTrainer(corpus_path, str(device))
        bare.run(3, threads=1)
        return bare.run(steps, threads=1)
    finally:
        run.TRAIN.clear()
        run.TRAIN.update(saved)


def case_train(name: str, cfg: dict, corpus_path: str, device, steps: int, repeats: int) -> Row:
    base, ours, peaks = [], [], []
    for i in range(repeats):
        base.append(bare_rate(corpus_path, cfg, device, steps))
        rate, peak = trainer_rate(corpus_path, cfg, device, steps)
        ours.append(rate)
        peaks.append(peak)
        log(f"  {name} {i + 1}/{repeats}: baseline {base[-1]:,.0f}, rnnstudio {ours[-1]:,.0f} chars/s")
    row = Row(name, median(ours), median(base), "chars/s", "info", None)
    row.notes.append(f"{cfg['layers']} x {cfg['hidden']} LSTM, sequence {cfg['seq_len']}, batch {cfg['batch_size']}; "
                     f"CharRNNTrainer.step against a bare nn.LSTM + Adam loop; peak GPU memory {max(peaks):,.0f} MB; "
                     f"rnnstudio {spread(ours)}, baseline {spread(base)}")
    return row


def case_sample(device, length: int, repeats: int) -> Row:
    import torch

    from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig

    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(vocab_size=len(SAMPLE_VOCAB), **SAMPLE_MODEL)).to(device).eval()

    def ours(seed: int) -> float:
        gen = torch.Generator().manual_seed(seed)  # the app seeds a CPU generator, on every device
        t0 = time.perf_counter()
        n = sum(1 for _ in model.generate([0], length, temperature=1.0, generator=gen))
        return n / (time.perf_counter() - t0)

    def bare(seed: int) -> float:
        gen = torch.Generator(device=device).manual_seed(seed)
        with torch.inference_mode():
            return _bare_sample_loop_on(model, length, gen, device)

    ours(0), bare(0)
    base, mine = [], []
    for i in range(repeats):
        base.append(bare(i + 1))
        mine.append(ours(i + 1))
    row = Row("sample_throughput", median(mine), median(base), "chars/s", "info", None)
    row.notes.append(f"{length} characters from a 2 x 256 LSTM, one step per character: CharRNN.generate with a "
                     f"seeded CPU generator as the app does (the draw on the host) against the bare loop drawing on "
                     f"the device; rnnstudio {spread(mine)}, baseline {spread(base)}")
    return row


def _bare_sample_loop_on(model, length, gen, device) -> float:
    if device.type == "cpu":
        return _bare_sample_loop(model.embed, model.rnn, model.head, length, gen)
    import torch

    t0 = time.perf_counter()
    probs = torch.full((model.head.out_features,), 1.0 / model.head.out_features, device=device)
    idx = torch.multinomial(probs, 1, generator=gen)
    state, out = None, []
    for _ in range(length):
        out.append(idx)
        h, state = model.rnn(model.embed(idx.view(1, 1)), state)
        idx = torch.multinomial(torch.softmax(model.head(h.view(-1)), dim=-1), 1, generator=gen)
    torch.cat(out).tolist()
    return length / (time.perf_counter() - t0)


def case_caption(device, repeats: int) -> Row:
    import numpy as np
    import torch

    from rnnstudio.data import shapes
    from rnnstudio.data.images import fit_square
    from rnnstudio.nn.captioner import images_to_tensor, load_captioner
    from rnnstudio.paths import shipped_model

    model = load_captioner(shipped_model("caption"), device).model.eval()
    rng = np.random.default_rng(0)
    frames = [fit_square(shapes.render(shapes.random_scene(rng), size=256, camera=True, rng=rng), model.config.image_size)
              for _ in range(16)]

    def one_by_one() -> float:
        t0 = time.perf_counter()
        with torch.inference_mode():
            for f in frames:
                model.greedy(model.encode(images_to_tensor([f], device)))
        return 1000 * (time.perf_counter() - t0) / len(frames)

    def batched() -> float:
        t0 = time.perf_counter()
        with torch.inference_mode():
            model.greedy_batch(model.encode(images_to_tensor(frames, device)))
        return 1000 * (time.perf_counter() - t0) / len(frames)

    one_by_one(), batched()
    base, ours = [], []
    for _ in range(repeats):
        base.append(batched())
        ours.append(one_by_one())
    row = Row("caption_latency", median(ours), median(base), "ms", "info", None)
    row.notes.append(f"one frame at a time (what the live panel does), against 16 frames batched, per frame; "
                     f"rnnstudio {spread(ours, '{:.2f}')}, baseline {spread(base, '{:.2f}')} ms")
    return row


ACCEL_WARM_STEPS = 5  # compiling (and cuDNN's autotuning) happens in these; timed apart


def case_accel(device, steps: int, repeats: int) -> list[Row]:
    """`train caption`'s step with --amp, --compile and both (what the command does on CUDA by
    default), each against plain float32 steps in the same process, alternating."""
    import torch

    from rnnstudio.nn.captioner import Captioner, CaptionerConfig
    from rnnstudio.train import accel
    from rnnstudio.train.caption import CaptionTrainer, CaptionTrainSettings, ShapesData
    from rnnstudio.train.distributed import Run

    def trainer_for(amp: bool, compiled: bool):
        torch.manual_seed(0)
        settings = CaptionTrainSettings(steps=ACCEL_WARM_STEPS + 2 * repeats * steps)
        data = ShapesData(64, settings)
        config = CaptionerConfig(vocab_size=len(data.vocab))
        model = Captioner(config, data.vocab)
        trainer = CaptionTrainer(data, config, settings, device=device, model=model)
        accel.prepare(trainer, Run(device), amp, compiled, model.encoder, compile_helps=True)
        t0 = time.perf_counter()
        for _ in range(ACCEL_WARM_STEPS):
            trainer.step()
        sync(device)
        return trainer, time.perf_counter() - t0

    def rate(trainer) -> float:
        sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            trainer.step()
        sync(device)
        return steps / (time.perf_counter() - t0)

    plain, plain_warm = trainer_for(False, False)
    rows = []
    for name, amp, compiled in (("amp", True, False), ("compile", False, True), ("amp_compile", True, True)):
        trainer, warm = trainer_for(amp, compiled)
        ours, base = [], []
        for _ in range(repeats):
            base.append(rate(plain))
            ours.append(rate(trainer))
        row = Row(f"train_caption_{name}", median(ours), median(base), "steps/s", "info", None)
        row.notes.append(f"{trainer.precision.name}; batch 64 at 64x64, {steps} steps a run; rnnstudio "
                         f"{spread(ours, '{:.1f}')}, float32 {spread(base, '{:.1f}')}; first {ACCEL_WARM_STEPS} "
                         f"steps {warm:.1f} s against {plain_warm:.1f} s in float32 (compiling happens there)")
        rows.append(row)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json")
    parser.add_argument("--cases", default="train,sample,gates,caption,accel",
                        help="which, comma-separated (default all): train, sample, gates, caption, accel")
    parser.add_argument("--accel-steps", type=int, default=50, help="timed steps a run in the accel case")
    args = parser.parse_args(argv)
    cases = set(args.cases.split(","))
    import torch

    from rnnstudio.nn.device import describe_device, select_device

    device = select_device(args.device)
    rows = []
    if "train" in cases:
        with tempfile.TemporaryDirectory(prefix="rnnstudio-gpu-") as tmp:
            corpus = corpus_file(Path(tmp))
            for name, cfg, steps in (("train_throughput", TRAIN, 100), ("train_throughput_big", BIG_TRAIN, 50)):
                log(f"{name} ...")
                rows.append(case_train(name, cfg, corpus, device, steps, args.repeats))
    if "sample" in cases:
        log("sample_throughput ...")
        rows.append(case_sample(device, 1500, args.repeats))
    if "gates" in cases:
        log("gates_cost ...")
        rows += case_gates_cost(DEFAULT, 1, device, Path("."))
    if "caption" in cases:
        log("caption_latency ...")
        rows.append(case_caption(device, args.repeats))
    if "accel" in cases:
        log("train_caption with --amp / --compile ...")
        rows += case_accel(device, args.accel_steps, args.repeats)
    print(f"device: {describe_device(device)}; python {platform.python_version()}, torch {torch.__version__}")
    print(table(rows))
    for r in rows:
        for note in r.notes:
            print(f"- {r.case}: {note}")
    if args.json:
        Path(args.json).write_text(json.dumps([r.as_json() for r in rows], indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
