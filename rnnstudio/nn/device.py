"""Choosing the accelerator."""

from __future__ import annotations

import torch

from rnnstudio.errors import UserError
from rnnstudio.nn.allocator import tune_allocator  # noqa: F401  (re-exported for callers)

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def select_device(choice: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then the CPU for 'auto'; an explicit choice must be present."""
    if choice not in DEVICE_CHOICES:
        raise UserError(f"unknown device {choice!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for, but PyTorch finds no CUDA GPU; use --device auto or cpu")
    if choice == "mps" and not mps_available():
        raise UserError("--device mps was asked for, but this machine has no Apple MPS; use --device auto or cpu")
    return torch.device(choice)


def describe_device(device: torch.device) -> str:
    """A short name for the status bar: 'CUDA: NVIDIA H100', 'MPS', 'CPU (2 threads)'."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'' if threads == 1 else 's'})"
