"""The model engine, started on the device worker's thread: torch, its threads, the device.

The device worker imports this module, and through it torch, on its own thread only; it is the
one way from the GUI to torch that the import contracts allow (pyproject.toml). The features'
handler modules are imported by name when their first request comes.
"""

from __future__ import annotations

import logging

import torch

from rnnstudio.errors import UserError
from rnnstudio.nn.device import describe_device, select_device

log = logging.getLogger(__name__)


def start_engine(device_choice: str, torch_threads: int) -> tuple[torch.device, str]:
    """Load torch and choose the device (the CPU when the chosen one cannot be used): (device, its description)."""
    torch.set_num_threads(torch_threads)
    try:
        device = select_device(device_choice)
    except UserError as e:
        log.warning("%s; using the CPU", e)
        device = select_device("cpu")
    _warm_optimizer()
    return device, describe_device(device)


def _warm_optimizer() -> None:
    """Build an optimizer once while the window still says "loading PyTorch".

    torch.optim imports torch._dynamo on first use (about 1 s, in long GIL-holding calls):
    done here, the first Train press starts as quickly as the second and the GUI does not
    stall for ~180 ms then.
    """
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
