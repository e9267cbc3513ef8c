"""What the commands share: option types, errors and their exit codes, the log, the checks of
--out, and results written to standard output one at a time (docs/COMMAND-LINE.md).

Heavy imports (torch, Qt) happen inside the commands that need them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path

from rnnstudio.errors import PeerLost, UserError

DEVICES = ("auto", "cpu", "cuda", "mps")
DEVICE_HELP = "where the model runs: auto (a CUDA GPU, else Apple MPS, else the CPU), or one of them"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message):  # noqa: D401 - argparse's hook
        sys.stderr.write(f"{self.prog}: error: {message}; see `{self.prog} --help`\n")
        raise SystemExit(2)


# --- option types ---------------------------------------------------------------------------


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number of at least 0")
    return value


def fraction(text: str) -> float:
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} must be between 0 and 1")
    return value


def add_device_option(parser, help: str = DEVICE_HELP) -> None:
    parser.add_argument("--device", choices=DEVICES, default="auto", help=help)


# --- errors and the log -----------------------------------------------------------------------


def run_command(command, args) -> int:
    """`command(args)`, its errors mapped to the exit codes and the one line of the contract."""
    try:
        return command(args)
    except UserError as e:
        sys.stderr.write(f"rnnstudio: error: {rank_prefix()}{e}\n")
        return 2
    except PeerLost as e:  # under torchrun: the process that failed says why
        sys.stderr.write(f"rnnstudio: error: {rank_prefix()}{e}\n")
        return 1
    except KeyboardInterrupt as e:  # its message, if any, says what a command had written (interrupt_says)
        sys.stderr.write(f"rnnstudio: interrupted; {str(e) or 'nothing was written'}\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # an internal failure: one line, and the details for a bug report
        import traceback

        if "RNNSTUDIO_DEBUG" in os.environ:
            traceback.print_exc()
        sys.stderr.write(f"rnnstudio: internal error: {rank_prefix()}{type(e).__name__}: {e}; please report it "
                         f"(set RNNSTUDIO_DEBUG=1 for details)\n")
        return 1


def rank_prefix() -> str:
    """'rank 1 of 4: ' in the error line of a process other than rank 0 under torchrun."""
    if "RANK" not in os.environ:
        return ""
    from rnnstudio.train.distributed import error_prefix

    return error_prefix()


_quiet = False  # under torchrun, every process but rank 0 keeps its progress to itself


def log(message: str) -> None:
    if not _quiet:
        print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet(on: bool):
    """Inside it, log() writes nothing where `on`."""
    global _quiet
    _quiet = on
    try:
        yield
    finally:
        _quiet = False


def output_never_fails_to_encode() -> None:
    """Characters the terminal's encoding lacks (an emoji in a sample under PYTHONIOENCODING=ascii)
    are written as backslash escapes instead of ending the command with UnicodeEncodeError."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="backslashreplace")


# --- checks ---------------------------------------------------------------------------------


def check_out(out: str, **inputs: str | None) -> Path:
    """--out, checked before any training (it would be lost otherwise): not empty, not a
    folder, in a folder that exists and can be written (tried, as the save will), and none of
    the command's input files `inputs` (option name without dashes -> path), which the model
    would overwrite."""
    from rnnstudio.nn.modelfile import check_can_save

    if not out.strip():
        raise UserError("--out is empty; give the .safetensors file to write, like --out model.safetensors")
    for option, given in inputs.items():
        if given and same_file(out, given):
            raise UserError(f"--out {out} is the --{option.replace('_', '-')} input; the model would overwrite it; "
                            f"choose another file name")
    check_can_save(out)
    return Path(out)


def same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist yet: the same path, however it is written
        return Path(a).resolve() == Path(b).resolve()


# --- results --------------------------------------------------------------------------------


def probability(p: float) -> float | None:
    """A probability for JSON: rounded; null where the model gave no number (NaN or infinite,
    when its values overflow), which JSON cannot hold."""
    return round(p, 5) if math.isfinite(p) else None


def warn_if_not_numbers(probabilities) -> None:
    if not all(math.isfinite(p) for p in probabilities):
        log("the model gave probabilities that are not numbers (NaN), shown as null or nan: its values "
            "overflow; use another model")


PROGRESS_EVERY_S = 1.0  # progress of a run of several results, on standard error, at most this often


class Results:
    """Results written to standard output one at a time, each flushed as soon as it is ready:
    a JSON list item by item (valid JSON once closed, even after a failure part-way), or plain
    lines. Progress goes to standard error where the run takes more than a second."""

    def __init__(self, total: int, as_json_list: bool, verb: str):
        self.total, self.as_json_list, self.verb = total, as_json_list, verb
        self.written = 0
        self._last_progress = time.monotonic()
        self._progress_shown = False

    def add(self, item=None, lines: tuple[str, ...] = ()) -> None:
        if self.as_json_list:
            separator = "[" if self.written == 0 else ",\n"
            sys.stdout.write(separator + json.dumps(item, ensure_ascii=False, allow_nan=False))
        else:
            sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()
        self.written += 1
        now = time.monotonic()
        due = now - self._last_progress >= PROGRESS_EVERY_S or (self._progress_shown and self.written == self.total)
        if self.total > 1 and due:
            log(f"{self.verb} {self.written} of {self.total}")
            self._last_progress, self._progress_shown = now, True

    def close(self) -> None:
        if self.as_json_list and self.written:
            sys.stdout.write("]\n")
            sys.stdout.flush()

    def interrupted(self) -> str:
        return f"the {self.written} results above were written" if self.written else ""


@contextlib.contextmanager
def interrupt_says(written):
    """Ctrl-C inside: the interrupt carries `written()`, what is already on standard output,
    for the error line (an empty string: nothing was written)."""
    try:
        yield
    except KeyboardInterrupt:
        raise KeyboardInterrupt(written()) from None


# --- the train commands -----------------------------------------------------------------------


def add_speed_options(parser, compiled: str) -> None:
    """--amp and --compile for a train command (rnnstudio.train.accel); default None: auto."""
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                        help="mixed precision: bfloat16 autocast where the GPU has it, else float16, with loss "
                             "scaling (default: auto, on for CUDA, off on the CPU and MPS)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help=f"torch.compile {compiled}")


def add_image_model_run_options(parser, defaults) -> None:
    """The run options `train caption` and `train vqa` share: logging, seed, device, speed, output."""
    parser.add_argument("--log-every", type=positive_int, default=defaults.log_every,
                        help="print the loss this often (default %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="for the same model from the same settings (default %(default)s)")
    add_device_option(parser)
    add_speed_options(parser, "the image encoder (default: auto, on for CUDA, off on the CPU and MPS)")
    parser.add_argument("--out", required=True, help="the .safetensors file to write")


def train(args, check, build) -> int:
    """A train command, in one process or in one of several that torchrun started
    (rnnstudio.train.distributed): `check(args)` checks the options before any work and returns
    --out; `build(args, run)` makes the task's TrainingLoop, which is sped up as --amp and
    --compile say and trained to its end; rank 0 measures, saves and logs (rnnstudio.train.loop)."""
    from rnnstudio.nn.device import tune_allocator
    from rnnstudio.train.distributed import session
    from rnnstudio.train.loop import run_to_end

    with session(args.device) as run, quiet(not run.is_main):
        out = check(args)
        tune_allocator()
        loop = build(args, run)
        loop.accelerate(args.amp, args.compile)
        run_to_end(loop, out, log)
    return 0
