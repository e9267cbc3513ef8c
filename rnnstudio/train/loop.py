"""A training run stepped by its driver: the app's worker, or `run_to_end` for the command line.

Each task's loop (rnnstudio.train.charrnn, .caption, .vqa) is a `TrainingLoop` around its
trainer. `step()` runs one optimisation step, then whatever the task measures on its schedule,
and returns the events that produced (`rnnstudio.train.progress`): an `Evaluation` per
measurement, task events such as a char-RNN's timeline samples, and, at most ten times a
second, the `TrainingProgress` since the last one. The driver decides when to step: pausing
is not stepping, and loses nothing.

`run_to_end` is the command line's driver, shared by the three `train` commands: the first
log line, the steps (a line per evaluation), then the final measurements, the model file and
the last line. Under torchrun (rnnstudio.train.distributed) every process steps; the loop
averages the losses it logs over the processes, and only rank 0 measures, logs and saves.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

from rnnstudio.errors import UserError
from rnnstudio.train.distributed import Run
from rnnstudio.train.progress import Evaluation, TrainingProgress

PROGRESS_INTERVAL_S = 0.1  # report training progress at most 10 times a second


def cosine_learning_rate(lr: float, iteration: int, steps: int) -> float:
    """The trainers' schedule: cosine decay from lr to lr/10 over the planned steps, then flat."""
    progress = min(iteration / steps, 1.0)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


class TrainingLoop:
    """One run of `trainer` (its step() returns plain numbers, its iteration counts from the
    model's first training step), `steps` iterations on from where the trainer is.

    A task's loop sets `rate_key` (what step() counts: 'chars', 'images'), `totals` (the
    trainer's counters summed over processes at the end), and overrides `measure(info)` (the
    events after a step), `describe()`, `finish()`, `save_to(path, trained)` and, where it
    wants, `compile_part()` and `closing_line(out)`. The driver sets `state` to paused or
    stopped (and steps only a running loop); the loop sets it to finished at its last step.
    """

    rate_key = "images"
    totals: tuple[str, ...] = ()
    compile_helps = False  # whether torch.compile pays on CUDA by default (train.accel)

    def __init__(self, trainer, steps: int, run: Run | None = None, seed: int = 0):
        self.trainer = trainer
        self.run = run if run is not None else Run(trainer.device)
        self.seed = seed
        self.state = "running"  # running | paused | stopped | finished; the driver sets all but finished
        self.first = trainer.iteration
        self.planned = self.first + steps
        self.speed: dict = {}  # what accel.prepare chose: precision, compiling, processes
        self.metrics: dict = {}  # final measurements (finish), kept in the model file
        self.seconds = 0.0  # training time, from start() to the last step
        self._started: float | None = None
        self._units = 0  # counted since start(), over all processes
        self._iters: list[int] = []
        self._losses: list[float] = []
        self._valid: list[tuple[int, float]] = []
        self._step_units = 0
        self._step_seconds = 0.0
        self._rate = 0.0
        self._last_report = time.perf_counter()

    # --- stepping -------------------------------------------------------------------------

    @property
    def iteration(self) -> int:
        return self.trainer.iteration

    @property
    def done(self) -> bool:
        return self.trainer.iteration >= self.planned

    def start(self) -> None:
        """Start the clock of `seconds` and of the logged rates (else the first step does)."""
        self._started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self._started if self._started is not None else 0.0

    def step(self) -> list:
        """One iteration; returns the events it produced (maybe none)."""
        if self._started is None:
            self.start()
        info = self.train_step()
        self._iters.append(info["iteration"])
        self._losses.append(info["loss"])
        self._step_units += info[self.rate_key]
        self._step_seconds += info["seconds"]
        self._units += info[self.rate_key] * self.run.world_size
        events = self.measure(info)
        if self.done:
            self.seconds = self.elapsed()
            self.state = "finished"
        if events or self.done or time.perf_counter() - self._last_report >= PROGRESS_INTERVAL_S:
            events.insert(0, self.progress())
        return events

    def train_step(self) -> dict:
        return self.trainer.step()

    def measure(self, info: dict) -> list:
        """The events after the step `info`: evaluations on the task's schedule, and the like."""
        return []

    def validated(self, iteration: int, loss: float) -> None:
        """Record a validation loss for the progress reports' curve."""
        self._valid.append((iteration, loss))

    def evaluation(self, line: str, **figures: float) -> Evaluation:
        return Evaluation(self.trainer.iteration, line, figures)

    def progress(self) -> TrainingProgress:
        """What was trained since the last call."""
        if self._step_seconds > 0:
            self._rate = self._step_units / self._step_seconds
        p = TrainingProgress(
            iterations=self._iters, losses=self._losses, valid=self._valid, chars_per_second=self._rate,
            learning_rate=self.trainer.learning_rate(), iteration=self.trainer.iteration, planned=self.planned,
            state=self.state,
        )
        self._iters, self._losses, self._valid = [], [], []
        self._step_units, self._step_seconds = 0, 0.0
        self._last_report = time.perf_counter()
        return p

    def units_per_second(self) -> float:
        """What all the processes trained on per second since start()."""
        return self._units / max(self.elapsed(), 1e-9)

    def iterations_per_second(self) -> float:
        return (self.trainer.iteration - self.first) / max(self.elapsed(), 1e-9)

    # --- the run's opening and ending -------------------------------------------------------

    def accelerate(self, amp: bool | None = None, compile: bool | None = None) -> None:
        """Mixed precision, torch.compile and DistributedDataParallel as `run` and the options
        say (rnnstudio.train.accel); without this the step is plain float32 in one process."""
        from rnnstudio.train import accel

        self.speed = accel.prepare(self.trainer, self.run, amp, compile, self.compile_part(),
                                   compile_helps=self.compile_helps, seed=self.seed)

    def compile_part(self):
        """What --compile compiles: None for the whole model."""
        return None

    def describe(self) -> str:
        """The first log line: the data, the model, where it trains."""
        raise NotImplementedError

    def speed_note(self) -> str:
        from rnnstudio.train import accel

        return accel.describe(self.speed)

    def sum_over_processes(self) -> None:
        """Every process: the trainer's counters become those of all the processes together."""
        for name in self.totals:
            setattr(self.trainer, name, self.run.total(getattr(self.trainer, name)))

    def finish(self) -> list[str]:
        """The final measurements (rank 0, after the last step) into `metrics`; their log lines."""
        return []

    def trained_info(self) -> dict:
        """What the model file keeps of the training (its `trained` metadata)."""
        trained = self.trainer.trained_info()
        trained["metrics"].update(self.metrics)
        if self.seconds:
            trained["seconds"] = round(self.seconds, 1)
        trained.update(self.speed)
        return trained

    def save(self, path) -> None:
        """Write the model and what it was trained on to `path`, atomically (rnnstudio.nn.modelfile)."""
        self.trainer.model.eval()
        self.save_to(path, self.trained_info())

    def save_to(self, path, trained: dict) -> None:
        raise NotImplementedError

    def closing_line(self, out) -> str:
        return f"trained in {self.seconds / 60:.1f} min; wrote {out}"

    def close(self) -> None:
        """Let go of what the run holds besides the model (helper processes)."""


def run_to_end(loop: TrainingLoop, out: Path, log) -> dict | None:
    """Train `loop` to its end for the command line and save it to `out`; returns the model
    file's `trained` metadata (None on a process other than rank 0, which saves nothing)."""
    run = loop.run
    if not run.is_main:
        log = _silent
    try:
        log(loop.describe())
        run.barrier()
        loop.start()
        while not loop.done:
            for event in loop.step():
                if isinstance(event, Evaluation):
                    log(event.line)
    finally:
        loop.close()
    loop.sum_over_processes()
    if not run.is_main:
        return None
    for line in loop.finish():
        log(line)
    save_or_keep(out, loop.save)
    log(loop.closing_line(out))
    return loop.trained_info()


def _silent(line: str) -> None:
    pass


def save_or_keep(out: Path, save) -> None:
    """`save(path)` to `out`; where that fails after all (a full disk, a folder removed during
    training), the trained model is kept in a new file in the current folder, or else the
    temporary one, and the error says where: hours of training are never lost to a failed save."""
    from rnnstudio.errors import ModelFileError

    try:
        save(out)
        return
    except ModelFileError as e:
        failure = str(e)
    name = f"{out.stem or 'model'}-kept-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.safetensors"
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        try:
            save(folder / name)
        except ModelFileError:
            continue
        raise UserError(f"{failure}; the trained model is kept in {folder / name} instead: move it where you want it")
    raise UserError(f"{failure}; it could not be kept in the current folder or {tempfile.gettempdir()} either, "
                    f"so it is lost: free some space and train again")
