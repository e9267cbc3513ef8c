#!/usr/bin/env python
"""Checks that need a CUDA GPU, run by hand where one is at hand (CI has none):

    python benchmarks/gpu_checks.py

cuDNN runs an LSTM under autocast in float16 whatever the autocast type; with the loss
scaled (rnnstudio.train.accel) a char-RNN must still learn, its weights staying float32.
Exits 0 when every check passes, 1 otherwise, 2 where there is no CUDA GPU.
"""

from __future__ import annotations

import sys

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


CHECKS = [check_lstm_trains_through_cudnn_under_autocast]


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA GPU here: nothing checked", file=sys.stderr)
        return 2
    failed = 0
    for check in CHECKS:
        try:
            check()
            print(f"ok      {check.__name__}")
        except AssertionError as e:
            failed += 1
            print(f"FAILED  {check.__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
