"""What every benchmark case shares: settings, result rows, the machine, Qt helpers, the
GUI stall probe and the app under test. See run.py."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

STALL_PROBE_MS = 5
STALL_GOAL_MS = 17.0  # one 60 Hz frame; the goal holds on an idle machine (other load stalls the GUI too)


@dataclass
class Settings:
    repeats: int  # train_throughput, sample_throughput, train_threads
    train_steps: int
    sample_length: int
    stall_repeats: int  # gui_stall, startup, first_train
    stall_seconds: float


DEFAULT = Settings(repeats=5, train_steps=60, sample_length=1500, stall_repeats=3, stall_seconds=1.5)
FULL = Settings(repeats=9, train_steps=200, sample_length=4000, stall_repeats=7, stall_seconds=4.0)


@dataclass
class Row:
    case: str
    rnnstudio: float
    baseline: float
    unit: str
    goal: str
    met: bool | None  # None: informational, no goal
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.rnnstudio / self.baseline if self.baseline else float("nan")

    def as_json(self) -> dict:
        return {"case": self.case, "rnnstudio": round(self.rnnstudio, 3), "baseline": round(self.baseline, 3),
                "unit": self.unit, "ratio": round(self.ratio, 4), "goal": self.goal}


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    return "[" + ", ".join(fmt.format(v) for v in values) + "]"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class ThreadStats:
    """One thread's CPU seconds, seconds runnable but waiting for a core, and minor page
    faults, from /proc (Linux; zeros elsewhere)."""

    def __init__(self, native_id: int | None):
        self.tid = native_id

    def read(self) -> tuple[float, float, int]:
        if self.tid is None:
            return 0.0, 0.0, 0
        try:
            on_cpu, waiting = Path(f"/proc/self/task/{self.tid}/schedstat").read_text().split()[:2]
            stat = Path(f"/proc/self/task/{self.tid}/stat").read_text().rsplit(")", 1)[1].split()
            return int(on_cpu) / 1e9, int(waiting) / 1e9, int(stat[7])  # stat[7]: minflt
        except (OSError, ValueError, IndexError):
            return 0.0, 0.0, 0


def worker_thread_id() -> int | None:
    for t in threading.enumerate():
        if t.name == "rnnstudio-device-worker" and t.is_alive():
            return t.native_id
    return None


# --- the machine ---------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class CpuShare:
    """How busy the CPUs were with other processes while the benchmarks ran (Linux only)."""

    def __init__(self):
        self.start = self._read()

    @staticmethod
    def _read():
        try:
            fields_ = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields_[3] + (fields_[4] if len(fields_) > 4 else 0)
        t = os.times()
        ours = t.user + t.system + t.children_user + t.children_system
        return sum(fields_), idle, ours

    def others_percent(self) -> float | None:
        end = self._read()
        if self.start is None or end is None:
            return None
        hz = os.sysconf("SC_CLK_TCK")
        total = (end[0] - self.start[0]) / hz
        busy = total - (end[1] - self.start[1]) / hz
        ours = end[2] - self.start[2]
        return max(0.0, 100.0 * (busy - ours) / total) if total > 0 else None


def busy_processes(min_percent: float = 20.0, seconds: float = 0.5) -> list[str]:
    """Other processes using at least `min_percent` of a core right now (Linux), busiest first."""
    def sample():
        out = {}
        for d in Path("/proc").iterdir():
            if not d.name.isdigit() or int(d.name) == os.getpid():
                continue
            try:
                stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
                out[d.name] = int(stat[11]) + int(stat[12])  # utime + stime, in clock ticks
            except (OSError, ValueError, IndexError):
                pass
        return out

    try:
        a = sample()
        time.sleep(seconds)
        b = sample()
    except OSError:
        return []
    hz = os.sysconf("SC_CLK_TCK")
    busy = []
    for pid, ticks in b.items():
        percent = 100.0 * (ticks - a.get(pid, ticks)) / hz / seconds
        if percent >= min_percent:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                cmd = "?"
            busy.append((percent, f"{percent:.0f}% pid {pid}: {cmd[:100]}"))
    return [text for _, text in sorted(busy, reverse=True)]


def machine_lines(threads: int) -> list[str]:
    import PySide6
    import torch

    return [
        f"date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"machine: {cpu_model()}, {os.cpu_count()} cores; {platform.system()} {platform.release()}",
        f"python {platform.python_version()}, torch {torch.__version__}, PySide6 {PySide6.__version__}, "
        f"Qt platform {os.environ.get('QT_QPA_PLATFORM')}",
        f"torch threads (both sides): {threads}",
    ]


# --- Qt helpers ------------------------------------------------------------------------------------

_app = None


def qt_app():
    global _app
    if _app is None:
        from rnnstudio.ui.app import make_application

        _app = make_application()
    return _app


def wait_until(predicate, timeout: float, what: str) -> None:
    """Run the Qt event loop until predicate() holds (polled every 10 ms), or fail."""
    from PySide6.QtCore import QEventLoop, QTimer

    if predicate():
        return
    deadline = time.perf_counter() + timeout
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(10)
    poll.timeout.connect(lambda: (predicate() or time.perf_counter() > deadline) and loop.quit())
    poll.start()
    loop.exec()
    poll.stop()
    if not predicate():
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def run_events(seconds: float) -> None:
    """Run the Qt event loop for `seconds`."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(max(0, round(seconds * 1000)), loop.quit)
    loop.exec()


class StallProbe:
    """A timer on the GUI thread every `interval_ms`; the longest gap beyond the interval.

    Also the longest gap less the time the GUI thread spent runnable but waiting for a core
    meanwhile (`own_ms`, from /proc; Linux): what the app itself held the thread for, which
    is what an idle machine would show. On a busy machine the two differ by other processes.
    """

    def __init__(self, interval_ms: int = STALL_PROBE_MS):
        from PySide6.QtCore import Qt, QTimer

        self.interval = interval_ms / 1000
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.gui = ThreadStats(threading.get_native_id())
        self.max_gap = self.max_own_gap = 0.0
        self.own_ms = 0.0
        self.ticks = 0
        self._prev = 0.0
        self._prev_wait = 0.0

    def start(self) -> None:
        self.max_gap = self.max_own_gap = 0.0
        self.ticks = 0
        self._prev = time.perf_counter()
        self._prev_wait = self.gui.read()[1]
        self.timer.start()

    def _tick(self) -> None:
        now, waited = time.perf_counter(), self.gui.read()[1]
        gap = now - self._prev - self.interval
        self.max_gap = max(self.max_gap, gap)
        self.max_own_gap = max(self.max_own_gap, gap - (waited - self._prev_wait))
        self.ticks += 1
        self._prev, self._prev_wait = now, waited

    def stop(self) -> float:
        """Stop; the longest stall in ms (and in `own_ms`, less the waits for a core)."""
        self.timer.stop()
        self._tick()  # a stall still going on when the probe ends counts too
        self.own_ms = 1000 * max(self.max_own_gap, 0.0)
        return 1000 * max(self.max_gap, 0.0)


class App:
    """The main window, shown offscreen, with its worker started and ready."""

    def __init__(self, threads: int, device: str):
        from rnnstudio.ui.app import build_window
        from rnnstudio.ui.garbage import freeze_what_is_loaded

        qt_app()
        self.window = build_window(device=device, torch_threads=threads, remember=False)
        self.window.show()
        self.window.worker.start()
        self.worker = self.window.worker
        self.panel = self.window.panels["charrnn"]
        wait_until(lambda: self.worker.device_name is not None, 120, "the worker to load PyTorch")
        # The panel opens the shipped model once the worker is ready; let that finish (or
        # fail, where no model is shipped yet) before measuring anything.
        done = []
        from rnnstudio.worker.protocol import CallRequest

        self.worker.submit(CallRequest(fn=lambda: None), on_result=done.append, on_error=done.append)
        wait_until(lambda: done, 60, "the worker to settle")
        # As run_app does once the worker is ready: what is loaded by now is kept out of the
        # GUI-thread collector's sight, or a full collection would stall the GUI for ~200 ms.
        freeze_what_is_loaded()
        run_events(0.2)

    def reset_panel(self) -> None:
        """Clear the panel's plot and forget the last run, as its Reset button does, so that
        every run starts from the same empty plot (the reset request is queued first)."""
        reset = getattr(self.panel, "reset_training", None)
        if reset is not None:
            reset()

    def forward(self, name: str):
        """The panel's own handler `name`, so the window shows what the app would show."""
        return getattr(self.panel, name, None) or (lambda *_: None)

    def close(self) -> None:
        self.window.close()  # closeEvent shuts the worker down
        if self.worker.running:
            self.worker.shutdown(timeout=5.0)
        if self.worker.running:
            log("warning: the device worker did not stop")
        self.window.deleteLater()
        run_events(0.05)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def training_stall(app: App, cfg: Settings, name: str, start_request, started_type, draw) -> tuple[list, list, list]:
    """The GUI thread's longest stalls with the worker idle, and while it trains (`start_request`, a
    request whose partials `draw` shows as the panel does; `started_type` marks the run under way);
    returns (idle, training, training less the GUI thread's waits for a core), one value a repeat."""
    from rnnstudio.worker.jobs import TrainingControlRequest

    idle, busy, own = [], [], []
    probe = StallProbe()
    for i in range(cfg.stall_repeats):
        probe.start()
        run_events(cfg.stall_seconds)
        idle.append(probe.stop())
        s = {"started": False, "ended": False, "error": None}

        def partial(p, s=s):
            s["started"] = s["started"] or isinstance(p, started_type)
            draw(p)

        app.worker.submit(start_request, slot=f"{name}.train", on_partial=partial,
                          on_result=lambda _p, s=s: s.update(ended=True),
                          on_error=lambda e, s=s: s.update(error=e.message, ended=True))
        wait_until(lambda s=s: s["started"] or s["error"], 180, f"{name} training to start")
        if s["error"]:
            raise RuntimeError(f"training through the worker failed: {s['error']}")
        probe.start()
        run_events(max(cfg.stall_seconds, 3.0))
        busy.append(probe.stop())
        own.append(probe.own_ms)
        app.worker.submit(TrainingControlRequest(action="stop"))
        wait_until(lambda s=s: s["ended"], 60, "training to stop")
        log(f"  {name}_train_stall {i + 1}/{cfg.stall_repeats}: idle {idle[-1]:.1f} ms, training {busy[-1]:.1f} ms")
    return idle, busy, own
