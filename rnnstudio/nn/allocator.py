"""glibc malloc settings that make training faster; no torch import, so the GUI thread can
call it before the worker thread exists."""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
_allocator_tuned = False


def tune_allocator() -> None:
    """Keep glibc from unmapping and re-mapping the big training buffers every iteration.

    Measured here: 26k page faults per iteration for a 2 x 256 LSTM by default, and 17-39%
    faster training once the mmap and trim thresholds are raised. A thread's malloc arena is
    fixed at its first allocation, and a non-main arena unmaps its free 64 MB heaps whatever
    the trim threshold says, so one arena for all threads keeps the worker on the main one:
    call this before the worker thread starts. No-op off glibc.
    """
    global _allocator_tuned
    if _allocator_tuned or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)  # glibc's largest allowed value on 64-bit
    libc.mallopt(_M_TRIM_THRESHOLD, 512 * 1024 * 1024)
    libc.mallopt(_M_ARENA_MAX, 1)
    _allocator_tuned = True
