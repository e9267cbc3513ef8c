#!/usr/bin/env python
"""Checks that need a CUDA GPU, run by hand where one is at hand (CI has none):

    python benchmarks/gpu_checks.py

With the figures for docs/PERFORMANCE.md, on a GPU machine that has only PyTorch (about
3 minutes on an H100 or H200):

    PYTHONPATH=$PWD python benchmarks/gpu_checks.py; PYTHONPATH=$PWD python benchmarks/gpu.py --repeats 3

- cuDNN runs an LSTM under autocast in float16 whatever the autocast type; with the loss
  scaled (rnnstudio.train.accel) a char-RNN must still learn, its weights staying float32.
- torch.compile builds kernels for CUDA here (Triton works).
- `train caption` and `train vqa` on CUDA with their defaults (mixed precision, the image
  encoder compiled) learn, and write files that open and answer on the CPU.
- `train charrnn` under torchrun over NCCL, one process per GPU of the machine.
Exits 0 when every check passes, 1 otherwise, 2 where there is no CUDA GPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

VERSE = "the cat sat on the mat.\nthe dog sat on the log.\n" * 60


def check_lstm_trains_through_cudnn_under_autocast() -> None:
    from rnnstudio.data.text import split_for_validation, text_to_codepoints
    from rnnstudio.nn.charrnn import CharRNNConfig
    from rnnstudio.train import accel
    from rnnstudio.train.charrnn import CharRNNTrainer, TrainSettings

    assert torch.backends.cudnn.enabled
    corpus = split_for_validation("verse", text_to_codepoints(VERSE), fraction=0.1)
    settings = TrainSettings(seq_len=24, batch_size=16, lr=1e-2, steps=60, valid_windows=8)
    torch.manual_seed(0)
    trainer = CharRNNTrainer(corpus, CharRNNConfig(vocab_size=1, hidden=64, layers=2, embed=16), settings, "cuda")
    trainer.precision = accel.resolve_amp(None, torch.device("cuda"))
    assert trainer.precision.dtype in (torch.bfloat16, torch.float16) and trainer.precision.scaler is not None
    with trainer.precision.autocast():
        out, _ = trainer.model.rnn(trainer.model.embed(torch.zeros((2, 5), dtype=torch.long, device="cuda")))
    assert out.dtype == torch.float16, out.dtype  # autocast's cuDNN RNN path
    losses = [trainer.step()["loss"] for _ in range(60)]
    assert np.isfinite(losses).all()
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5]), losses
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())


def check_compile_builds_cuda_kernels() -> None:
    from rnnstudio.train import accel

    problem = accel.compile_problem(torch.device("cuda"))
    assert problem is None, problem


def train_on_cuda(task: str, *args: str) -> tuple[str, Path]:
    """`rnnstudio train TASK ARGS --device cuda` in a fresh process -> (its log, the model file)."""
    out = Path(tempfile.mkdtemp()) / f"{task}.safetensors"
    proc = subprocess.run([sys.executable, "-m", "rnnstudio", "train", task, *args, "--device", "cuda", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "RNNSTUDIO_DEBUG": "1"})
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    print(log.strip())
    return log, out


def check_caption_command_defaults_on_cuda() -> None:
    from rnnstudio.data.shapes import object_f1, random_scene, render
    from rnnstudio.nn.captioner import load_captioner

    log, out = train_on_cuda("caption", "--steps", "400", "--batch", "64", "--eval-scenes", "50", "--log-every", "100")
    assert "mixed precision (" in log and "compiled SmallEncoder" in log, log
    loaded = load_captioner(out, "cpu")
    assert loaded.trained["precision"] in ("bfloat16", "float16") and loaded.trained["compiled"] == "SmallEncoder"
    rng = np.random.default_rng(0)
    scenes = [random_scene(rng, 1) for _ in range(20)]
    f1 = [object_f1(loaded.model.caption(render(s, loaded.model.config.image_size)).text, s) for s in scenes]
    assert np.mean(f1) > 0.5, f1  # 400 steps name a lone shape's colour or kind most of the time


class Skipped(Exception):
    """A check that cannot run on this machine, and why."""


def check_vqa_command_defaults_on_cuda() -> None:
    import importlib.util

    from rnnstudio.nn.vqa import load_vqa

    if importlib.util.find_spec("easy_vqa") is None:  # train vqa measures on easy-VQA's validation split
        raise Skipped("the easy-vqa package is not installed here")

    log, out = train_on_cuda("vqa", "--steps", "200", "--batch", "32", "--easyvqa-fraction", "0", "--workers", "0",
                             "--eval-every", "100", "--eval-scenes", "50")
    assert "mixed precision (" in log and "compiled" in log, log
    loaded = load_vqa(out, "cpu")
    assert loaded.trained["precision"] in ("bfloat16", "float16") and "compiled" in loaded.trained


def check_torchrun_over_nccl() -> None:
    """DistributedDataParallel over NCCL, as many processes as this machine has GPUs (one GPU:
    a world of one, which still sets up NCCL, wraps the model and all-reduces every step)."""
    from rnnstudio.nn.charrnn import load_charrnn

    folder = Path(tempfile.mkdtemp())
    (folder / "verse.txt").write_text(VERSE, encoding="utf-8")
    gpus = torch.cuda.device_count()
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(gpus), "--standalone",
         "-m", "rnnstudio", "train", "charrnn", "--corpus", str(folder / "verse.txt"), "--layers", "1",
         "--hidden", "64", "--steps", "60", "--eval-every", "30", "--device", "cuda", "--out", str(folder / "m.safetensors")],
        capture_output=True, text=True, timeout=600, cwd=folder)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    print(log.strip())
    assert f"{gpus} processes (nccl)" in log, log
    trained = load_charrnn(folder / "m.safetensors").trained
    assert trained["distributed"] == {"world_size": gpus, "backend": "nccl"}, trained


CHECKS = [check_lstm_trains_through_cudnn_under_autocast, check_compile_builds_cuda_kernels,
          check_caption_command_defaults_on_cuda, check_vqa_command_defaults_on_cuda, check_torchrun_over_nccl]


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA GPU here: nothing checked", file=sys.stderr)
        return 2
    failed = 0
    for check in CHECKS:
        try:
            check()
            print(f"ok      {check.__name__}")
        except Skipped as e:
            print(f"skipped {check.__name__}: {e}")
        except Exception as e:  # one check's failure must not hide the others' results
            failed += 1
            print(f"FAILED  {check.__name__}: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
