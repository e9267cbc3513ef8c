"""Training on several processes (GPUs, machines) with DistributedDataParallel, under torchrun.

`torchrun` (`python -m torch.distributed.run`) starts one process per GPU, on one machine
or several, and tells each who it is in its environment: RANK (0 .. WORLD_SIZE - 1 over all
machines), WORLD_SIZE, LOCAL_RANK (which GPU of its machine), MASTER_ADDR and MASTER_PORT
(where they meet). `rnnstudio train ...` looks for these; without them it is one process,
as always, and nothing here does anything.

Under torchrun every process:

- runs on its own device, `cuda:LOCAL_RANK`, and talks to the others over NCCL; on CPUs
  each process is a CPU worker and they talk over gloo;
- holds a whole copy of the model, wrapped in DistributedDataParallel: in `backward()` the
  processes average their gradients, so every copy takes the same optimizer step;
- draws its own batches: batch sources made from (seed, iteration) are `shard`ed, a
  stateful sampler gets a seed offset by rank (`seed`), so no two processes train on the
  same batch. `--batch` is per process: one step trains on WORLD_SIZE times as many;
- and only rank 0 prints progress, evaluates and writes the model file.

`session()` sets up the process group and always takes it down again, also on an error,
so that a failed run ends with its one line and never hangs.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from rnnstudio.errors import PeerLost, UserError

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
RANK_SEED_STRIDE = 100_003  # rank r trains with seed + r * this: far from any seed a person types


def launched_by_torchrun(environ=None) -> bool:
    environ = os.environ if environ is None else environ
    return all(name in environ for name in TORCHRUN_VARIABLES)


@dataclass
class Run:
    """Where this process trains, and its place among the others (one process: rank 0 of 1)."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None  # "nccl" or "gloo"; None: a single process, no process group

    @property
    def distributed(self) -> bool:
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that prints, evaluates and saves."""
        return self.rank == 0

    def describe(self) -> str:
        if not self.distributed:
            return str(self.device)
        return f"{self.world_size} processes ({self.backend}), rank 0 on {self.device}"

    def info(self) -> dict:
        """What a model file's `trained` metadata records of the run ({} for one process)."""
        return {"distributed": {"world_size": self.world_size, "backend": self.backend}} if self.distributed else {}

    # --- the model and the data ---------------------------------------------------------

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module a training step calls: `model` itself, or DistributedDataParallel around it.

        DDP copies rank 0's weights to every process here. Keep the unwrapped `model` for
        evaluating and saving: its parameter names have no `module.` prefix.
        """
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, output_device=self.device.index if ids else None)

    def shard(self, data):
        """This process's share of a batch source made from (seed, iteration)."""
        return ShardedData(data, self.rank, self.world_size) if self.distributed and self.world_size > 1 else data

    def seed(self, seed: int) -> int:
        """The seed of this process's own random draws (rank 0 keeps `seed`)."""
        return seed + RANK_SEED_STRIDE * self.rank

    # --- talking to the other processes ------------------------------------------------

    def _tensor(self, value, dtype) -> torch.Tensor:
        where = self.device if self.backend == "nccl" else "cpu"
        return torch.tensor([value], dtype=dtype, device=where)

    def mean(self, value: float) -> float:
        """`value` averaged over all processes (every process must call this, at the same point)."""
        if not self.distributed:
            return float(value)
        import torch.distributed as dist

        t = self._tensor(float(value), torch.float64)
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def total(self, value: int) -> int:
        """`value` summed over all processes (every process must call this, at the same point)."""
        if not self.distributed:
            return int(value)
        import torch.distributed as dist

        t = self._tensor(int(value), torch.int64)
        dist.all_reduce(t)
        return int(t.item())

    def barrier(self) -> None:
        """Wait here until every process has come here."""
        if not self.distributed:
            return
        import torch.distributed as dist

        if self.backend == "nccl":
            dist.barrier(device_ids=[self.device.index])
        else:
            dist.barrier()

    def close(self, failed: bool = False) -> None:
        """Take the process group down. After a failure NCCL's is aborted, not waited on:
        the other processes may be stuck in a collective that will never complete."""
        if not self.distributed:
            return
        import torch.distributed as dist

        if not dist.is_initialized():
            return
        abort = getattr(dist.distributed_c10d, "_abort_process_group", None)
        # A broken group may fail to come down too: the error that broke it is the one to report.
        with contextlib.suppress(RuntimeError):
            if failed and self.backend == "nccl" and abort is not None:
                abort()
            else:
                dist.destroy_process_group()
        self.backend = None


class ShardedData:
    """One process's share of a batch source whose batches are made from (seed, iteration).

    Process `rank` of `world_size` makes batch `iteration * world_size + rank`, so that the
    processes together train on the single-process run's batches, `world_size` at a time,
    and never two on the same one. Everything else (vocabulary, name, ...) is the source's.
    """

    def __init__(self, data, rank: int, world_size: int):
        self.data = data
        self.rank = rank
        self.world_size = world_size

    def batch(self, iteration: int, *args, **kwargs):
        return self.data.batch(iteration * self.world_size + self.rank, *args, **kwargs)

    def __getattr__(self, name):
        if name == "data":  # not set yet (while unpickling in a worker process)
            raise AttributeError(name)
        return getattr(self.data, name)


def start(device_choice: str = "auto", environ=None) -> Run:
    """The Run for this process: a single one, or its place in torchrun's process group."""
    from rnnstudio.nn.device import select_device

    environ = os.environ if environ is None else environ
    if not launched_by_torchrun(environ):
        return Run(select_device(device_choice))
    import torch.distributed as dist

    if not dist.is_available():
        raise UserError("this PyTorch was built without torch.distributed; run without torchrun")
    try:
        rank, world_size, local_rank = (int(environ[name]) for name in TORCHRUN_VARIABLES)
    except ValueError:
        raise UserError("RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers; start with torchrun") from None
    if device_choice == "mps":
        raise UserError("training on several processes needs CUDA GPUs or the CPU; use --device cuda or cpu")
    if device_choice == "cuda" or (device_choice == "auto" and torch.cuda.is_available()):
        select_device("cuda")  # says so if there is no CUDA GPU
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise UserError(
                f"process {local_rank} of this machine has no GPU of its own ({count} found); "
                f"start at most {count} processes per machine (torchrun --nproc_per_node {count})"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl" if dist.is_nccl_available() else "gloo"
    else:
        device, backend = torch.device("cpu"), "gloo"
    try:
        if backend == "nccl":
            try:  # device_id: NCCL connects now, on this process's own GPU (torch 2.3 and later)
                dist.init_process_group(backend, device_id=device)
            except TypeError:
                dist.init_process_group(backend)
        else:
            dist.init_process_group(backend)  # env://: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
    except (RuntimeError, ValueError) as e:
        raise UserError(f"could not join the other training processes ({_first_line(e)}); start with torchrun") from None
    return Run(device, rank, world_size, local_rank, backend)


@contextlib.contextmanager
def session(device_choice: str = "auto"):
    """`with session(args.device) as run:` the Run, its process group taken down at the end."""
    run = start(device_choice)
    try:
        yield run
    except BaseException as e:
        run.close(failed=True)
        if run.world_size > 1 and _peer_lost(e):
            raise PeerLost(f"another training process stopped ({_first_line(e)}); see its own message") from e
        raise
    run.close()


def _peer_lost(e: BaseException) -> bool:
    """Whether `e` is a collective that failed because another process went away."""
    import torch.distributed as dist

    text = str(e)
    return isinstance(e, getattr(dist, "DistError", ())) or any(
        sign in text for sign in ("closed by peer", "Connection reset", "Broken pipe", "collective operation timeout")
    )


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    line = text.splitlines()[0] if text else type(e).__name__
    return line.split("] ", 1)[-1].split(". ", 1)[0]  # gloo's "[file:line] Connection closed by peer ...."


def error_prefix(environ=None) -> str:
    """'rank 1 of 4: ' in the error line of a process other than rank 0 under torchrun, else ''."""
    environ = os.environ if environ is None else environ
    if not launched_by_torchrun(environ) or environ.get("RANK") == "0":
        return ""
    return f"rank {environ.get('RANK')} of {environ.get('WORLD_SIZE')}: "
