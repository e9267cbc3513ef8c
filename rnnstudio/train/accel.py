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
What the hardware can do is probed, never assumed, and each probe gives the same answer
however often it is asked:
- Mixed precision: before it is used, one tiny forward and backward of each of the model's
  own layers (its LSTM, GRU, convolutions, ...) runs under autocast on the training device
  (`amp_problem`). Not every CPU has every 16-bit kernel: oneDNN has no bfloat16 LSTM on a
  CPU without AVX-512 BF16 ("could not create a primitive descriptor ..."). Where the probe
  fails, an explicit `--amp` is refused with the reason, and an automatic choice trains in
  float32 and says why in its first log line.
- torch.compile needs a toolchain to build its kernels (a C++ compiler for the CPU, Triton
  for CUDA); before compiling, a tiny function is compiled and run in a fresh Python process
  (`compile_problem`), so that nothing compiled, cached or half-configured in this process
  sways the answer. If it fails, an explicit `--compile` is refused with the reason, and the
  CUDA default trains uncompiled (the log line says why).
The default, `Precision()`, is plain float32, and is what the app's own training uses.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

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


# --- probes: what this machine can do ---------------------------------------------------------

_RECURRENT = (nn.LSTM, nn.GRU, nn.RNN)
_amp_answers: dict[tuple, str | None] = {}


def _probe_input(layer: nn.Module, device: torch.device) -> torch.Tensor | None:
    """A tiny input of the right shape for one of the layers whose 16-bit kernels differ
    from host to host, or None for a layer that needs no probe of its own."""
    if isinstance(layer, _RECURRENT):
        shape = (2, 3, layer.input_size) if layer.batch_first else (3, 2, layer.input_size)  # 2 sequences, 3 steps
        return torch.randn(*shape, device=device)
    if isinstance(layer, (nn.LSTMCell, nn.GRUCell, nn.RNNCell)):
        return torch.randn(2, layer.input_size, device=device)
    if isinstance(layer, nn.Conv2d):
        size = max(8, *(d * (k - 1) + 1 for d, k in zip(layer.dilation, layer.kernel_size)))
        return torch.randn(2, layer.in_channels, size, size, device=device)
    if isinstance(layer, nn.Linear):
        return torch.randn(2, layer.in_features, device=device)
    return None


def _layer_signature(layer: nn.Module) -> str:
    return f"{type(layer).__name__}({layer.extra_repr()})"


def amp_problem(model: nn.Module, device: torch.device, dtype: torch.dtype) -> str | None:
    """Why mixed precision in `dtype` cannot train `model` on `device` here (the first line of
    the error), or None when it can.

    Runs a forward and backward of each of the model's own recurrent, convolution and linear
    layers on a tiny input under autocast, as a training step would; the gradients it leaves
    are cleared. Asked once per device, dtype and set of layers: the answer is remembered.
    """
    layers = [m for m in model.modules() if _probe_input(m, device) is not None]
    key = (str(device), str(dtype), tuple(sorted({_layer_signature(m) for m in layers})))
    if key in _amp_answers:
        return _amp_answers[key]
    problem = None
    seen = set()
    for layer in layers:
        signature = _layer_signature(layer)
        if signature in seen:
            continue
        seen.add(signature)
        was_training = layer.training
        layer.train()
        try:
            with torch.autocast(device.type, dtype=dtype):
                out = layer(_probe_input(layer, device))
            out = out[0] if isinstance(out, tuple) else out
            out.float().sum().backward()
        except Exception as e:  # oneDNN, cuDNN, "not implemented for 'BFloat16'": the hardware's kernels
            # oneDNN's first line goes on "Run workload with environment variable ...": its first sentence says it
            problem = f"{signature}: {_first_line(e).split('. ')[0]}"
            break
        finally:
            layer.train(was_training)
            for p in layer.parameters():
                p.grad = None
    _amp_answers[key] = problem
    return problem


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


# Run in a new interpreter: compiles and runs x * 2 + 1 on the device named in argv[1].
_COMPILE_PROBE = """
import sys, torch
def probe(x):
    return x * 2 + 1
try:
    out = torch.compile(probe, dynamic=False)(torch.ones(4, device=sys.argv[1]))
    print("ok" if bool((out == 3).all()) else "a compiled test function gave a wrong result")
except Exception as e:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    print(lines[0] if lines else type(e).__name__)
"""
# What sways the probe's answer besides the device: the toolchain the environment names.
_TOOLCHAIN_VARIABLES = ("CC", "CXX", "PATH", "CUDA_HOME", "CUDA_VISIBLE_DEVICES", "TRITON_CACHE_DIR",
                        "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")
_compile_answers: dict[tuple, str | None] = {}


def compile_problem(device: torch.device) -> str | None:
    """Why torch.compile cannot build kernels for `device` on this machine (its error's first
    line), or None when it can.

    Compiles and runs a tiny function in a fresh Python process (about 5 s the first time):
    in this process, a compilation that failed earlier leaves torch's compiler caches, worker
    threads and settings behind, and the same question could get another answer. Remembered
    per device and toolchain environment.
    """
    environment = tuple((name, os.environ.get(name)) for name in _TOOLCHAIN_VARIABLES)
    torch_settings = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(("TORCHINDUCTOR_", "TORCH_"))))
    key = (str(device), environment, torch_settings)
    if key not in _compile_answers:
        _compile_answers[key] = _run_compile_probe(device)
    return _compile_answers[key]


def _run_compile_probe(device: torch.device) -> str | None:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    try:
        proc = subprocess.run([sys.executable, "-c", _COMPILE_PROBE, str(device)], capture_output=True, text=True,
                              timeout=600, env=env, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"the compile probe could not run ({_first_line(e)})"
    answer = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode != 0 or not answer:
        return f"the compile probe ended with status {proc.returncode}: " + (_last_line(proc.stderr) or "no message")
    return None if answer == "ok" else answer


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


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
    amp_refused = None
    if trainer.precision.dtype is not None:
        amp_refused = amp_problem(trainer.model, run.device, trainer.precision.dtype)
        if amp_refused is not None:
            if amp:  # asked for by name
                raise UserError(f"--amp: mixed precision ({trainer.precision.name}) cannot train this model on "
                                f"{run.device.type} here ({amp_refused}); train without --amp")
            trainer.precision = FLOAT32  # the automatic choice: train in float32, and say why
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
    if amp_refused is not None:
        info["not_mixed_precision"] = amp_refused
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
    if "not_mixed_precision" in info:
        out += f", float32 (mixed precision cannot run here: {info['not_mixed_precision']})"
    if "compiled" in info:
        out += f", compiled {info['compiled']}"
    if "not_compiled" in info:
        out += f", not compiled (torch.compile cannot build kernels here: {info['not_compiled']})"
    return out
