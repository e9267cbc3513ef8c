"""Mixed precision and torch.compile for the training step, where they help: on CUDA GPUs.

Mixed precision (`--amp`): the forward pass runs under `torch.autocast`, matrix products
and convolutions in 16 bits (bfloat16 on GPUs that have it, else float16), the weights and
the optimizer's state stay float32. cuDNN runs an LSTM, GRU or RNN under autocast in
float16 whatever autocast's own type (it casts and re-flattens the weights itself), so the
loss is always scaled (`GradScaler`): small gradients of the recurrent layers would
otherwise underflow float16 to zero. A step whose gradients overflowed is skipped and the
scale halved; gradients are unscaled before they are clipped.

`torch.compile` (`--compile`) turns a module into fused kernels, once, on the first step.
It pays where a module runs the same shapes step after step: the image encoders (a fixed
batch of fixed-size pictures). The recurrent parts are left as they are: cuDNN already
runs an LSTM as one call, and a decoder's loop over the words would be unrolled and
compiled again for every caption length.

On the CPU and Apple MPS both are off unless asked for: they are seldom faster there.
torch.compile needs a toolchain to build its kernels (a C++ compiler for the CPU, Triton
for CUDA); before compiling, a tiny function is compiled and run to check that it works
here. If not, an explicit `--compile` is refused with the reason, and the CUDA default
quietly trains uncompiled (the log line says why).
The default, `Precision()`, is plain float32, and is what the app's own training uses.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from rnnstudio.errors import UserError


class Precision:
    """How a training step runs forward and backward: `with p.autocast(): loss = ...`,
    then `p.backward(loss)` and `p.step(optimizer, parameters, clip)`."""

    def __init__(self, dtype: torch.dtype | None = None, device_type: str = "cpu", scale: bool = False):
        self.dtype = dtype  # None: float32 throughout
        self.device_type = device_type
        self.scaler = _grad_scaler(device_type) if dtype is not None and scale else None

    @property
    def name(self) -> str:
        return "float32" if self.dtype is None else str(self.dtype).replace("torch.", "")

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self, optimizer: torch.optim.Optimizer, parameters, grad_clip: float) -> None:
        """Clip the gradients' norm to `grad_clip` and take the optimizer's step."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        nn.utils.clip_grad_norm_(parameters, grad_clip)
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)  # skipped when a gradient is inf or nan
            self.scaler.update()


FLOAT32 = Precision()


def _grad_scaler(device_type: str):
    amp = getattr(torch, "amp", None)
    if amp is not None and hasattr(amp, "GradScaler"):
        return amp.GradScaler(device_type)
    return torch.cuda.amp.GradScaler()  # torch before 2.3


def _cuda_has_bf16() -> bool:
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # torch before 2.4 has no `including_emulation`
        return bool(torch.cuda.is_bf16_supported())


def resolve_amp(choice: bool | None, device: torch.device) -> Precision:
    """--amp (True), --no-amp (False) or auto (None) on `device` -> the Precision to train with."""
    if choice is False or (choice is None and device.type != "cuda"):
        return FLOAT32
    if device.type == "cuda":
        return Precision(torch.bfloat16 if _cuda_has_bf16() else torch.float16, "cuda", scale=True)
    if device.type == "cpu":
        return Precision(torch.bfloat16, "cpu")  # the CPU's LSTM keeps float32 gradients: nothing to scale
    raise UserError(f"--amp is for CUDA GPUs and the CPU, not {device.type}; train with --no-amp")


def resolve_compile(choice: bool | None, device: torch.device, helps: bool) -> bool:
    """--compile / --no-compile / auto: auto compiles on CUDA only, and only where it helps."""
    if choice is None:
        return device.type == "cuda" and helps
    return bool(choice)


def compile_problem(device: torch.device) -> str | None:
    """Why torch.compile cannot build kernels for `device` on this machine (its error's first
    line), or None when it can: compiles and runs a tiny function (about 2 s the first time)."""

    def probe(x):
        return x * 2 + 1

    try:
        out = torch.compile(probe, dynamic=False)(torch.ones(4, device=device))
        if not bool((out == 3).all()):
            return "a compiled test function gave a wrong result"
    except Exception as e:  # InductorError, BackendCompilerFailed, ...: the toolchain, not our code
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        return lines[0] if lines else type(e).__name__
    return None


def prepare(trainer, run, amp: bool | None = None, compile: bool | None = None, compile_part=None,
            compile_helps: bool = False, seed: int | None = None) -> dict:
    """Set `trainer` up for this run: mixed precision, torch.compile of `compile_part`
    (default: the whole model), and DistributedDataParallel when `run` is one of several.

    The trainer keeps its unwrapped `model` (for evaluating and saving); its step calls
    `trainer.train_model`. With several processes, torch's own random numbers (dropout) are
    seeded anew from `seed` offset by rank. Returns what the model file's `trained`
    metadata records of it.
    """
    trainer.precision = resolve_amp(amp, run.device)
    compiled = resolve_compile(compile, run.device, compile_helps)
    problem = compile_problem(run.device) if compiled else None
    if problem is not None:
        if compile:  # asked for by name
            raise UserError(f"--compile: torch.compile cannot build kernels on this machine ({problem}); "
                            f"train without --compile")
        compiled = False  # the CUDA default: train as it is, and say why
    part = compile_part if compile_part is not None else trainer.model
    if compiled:
        part.compile()  # in place: parameter names stay as they are
    trainer.train_model = run.wrap(trainer.model)
    if run.distributed and seed is not None:
        torch.manual_seed(run.seed(seed))
    info = dict(run.info())
    if trainer.precision.dtype is not None:
        info["precision"] = trainer.precision.name
    if compiled:
        info["compiled"] = "model" if part is trainer.model else type(part).__name__
    if problem is not None:
        info["not_compiled"] = problem
    return info


def describe(info: dict) -> str:
    """', mixed precision (bfloat16), compiled SmallEncoder' for a log line ('' when neither)."""
    out = ""
    if "precision" in info:
        out += f", mixed precision ({info['precision']})"
    if "compiled" in info:
        out += f", compiled {info['compiled']}"
    if "not_compiled" in info:
        out += f", not compiled (torch.compile cannot build kernels here: {info['not_compiled']})"
    return out
