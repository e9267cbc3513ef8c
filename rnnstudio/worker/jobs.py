"""Training as a job of the device worker, for any model: started by a feature's handler, stepped
by the worker whenever no interactive request waits, paused, resumed, stopped or reset by the
generic `TrainingControlRequest`. No Qt, no torch.

A job is a training loop (rnnstudio.train): `state` (running | paused | stopped | finished),
`step()` (one small piece of training; returns the partial results it produced), `done`,
`progress()` (a TrainingProgress of the iterations since the last one), `iteration`, `planned`.
A handler starts one by returning `StartsJob(loop)`: from then on the job answers the handler's
request, with its events as partial results and its last progress as the result.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from rnnstudio.errors import UserError
from rnnstudio.train.progress import TrainingProgress
from rnnstudio.worker.protocol import ErrorInfo, Request, WorkContext, check_answer, check_partial, handles

log = logging.getLogger(__name__)

ACTIVITY_INTERVAL_S = 0.25  # how often a training job updates the status bar's activity text


class Job(Protocol):
    state: str
    planned: int

    @property
    def done(self) -> bool: ...

    @property
    def iteration(self) -> int: ...

    def step(self) -> list: ...

    def progress(self) -> TrainingProgress: ...


@dataclass(frozen=True)
class StartsJob:
    """What a handler returns to make `job` the worker's job: it answers the handler's request."""

    job: Any


@dataclass(frozen=True)
class TrainingControlRequest(Request):
    """Pause, resume or stop the worker's training job, or reset it (forget it and its model)."""

    handled_in = __name__
    answers = str  # the job's state after the action, or "reset"

    action: str = "pause"  # pause | resume | stop | reset

    def describe(self) -> str:
        return f"training: {self.action}"


@handles(TrainingControlRequest)
def _control(request: TrainingControlRequest, context: WorkContext) -> str:
    return context.jobs.control(request.action)


Send = Callable[[str, int, "Request | None", Any], None]  # (kind, request id, request, payload)


class JobSlot:
    """The worker's one job, and the request it answers while it is open.

    The job is kept once it has ended (finished, stopped, failed or superseded), so that its
    model can still be sampled and saved; a reset forgets it.
    """

    def __init__(self, send: Send):
        self._send = send
        self.job: Job | None = None
        self.request_id = 0
        self.request: Request | None = None
        self.open = False  # the job's request has not had its final response yet
        self._last_activity = 0.0

    @property
    def running(self) -> bool:
        return self.open and self.job.state == "running"

    def start(self, job: Job, request_id: int, request: Request, previous_cancelled: bool = False) -> None:
        """Make `job` the worker's job; one still open is stopped first (`previous_cancelled`: its
        request was cancelled or superseded, and ends so)."""
        if self.open:
            self.job.state = "stopped"
            if previous_cancelled:
                self._end("cancelled", None)
            else:
                self._end("result", self.job.progress())
        self.job, self.request_id, self.request, self.open = job, request_id, request, True

    def step(self) -> None:
        """One step of the running job; its events go to its request as partial results."""
        job = self.job
        try:
            now = time.monotonic()
            if now - self._last_activity >= ACTIVITY_INTERVAL_S:
                # Not every step: each status-bar update costs the GUI thread (and the GIL) time the step wants.
                self._last_activity = now
                self._send("activity", 0, None, f"training: iteration {job.iteration + 1} of {job.planned}")
            events = job.step()
            for event in events:
                if event is not None:
                    self._partial(event)
        except Exception as e:
            log.error("training step failed:\n%s", traceback.format_exc())
            job.state = "stopped"
            try:
                # The iterations trained since the last report are in the model: report them, so
                # the loss curve ends where the model stands, not up to 0.1 s of steps earlier.
                self._send("partial", self.request_id, self.request, job.progress())
            except Exception:  # a job too broken to report: the error below still ends its request
                log.error("the failed job's progress could not be read:\n%s", traceback.format_exc())
            user = isinstance(e, UserError)
            message = str(e) if user else f"training stopped by an internal error: {type(e).__name__}: {e}"
            self._end("error", ErrorInfo(message, user_error=user))
            return
        if job.done:
            job.state = "finished"
            self._end("result", job.progress())

    def cancel(self) -> None:
        """The job's request was cancelled or superseded: stop the job and end the request so."""
        self.job.state = "stopped"
        self._end("cancelled", None)

    def control(self, action: str) -> str:
        """What TrainingControlRequest does; returns the job's state after it."""
        job = self.job
        if action == "reset":
            if self.open:
                job.state = "stopped"
                self._end("result", job.progress())
            self.job = None
            return "reset"
        if action not in ("pause", "resume", "stop"):
            raise UserError(f"unknown training action {action!r}; pause, resume, stop or reset")
        if job is None:
            raise UserError("no training run to " + action)
        if action == "pause" and job.state == "running":
            job.state = "paused"
        elif action == "resume" and job.state == "paused":
            job.state = "running"
        elif action == "stop" and job.state in ("running", "paused"):
            job.state = "stopped"
            self._end("result", job.progress())
            return job.state
        if self.open:
            self._send("partial", self.request_id, self.request, job.progress())
        return job.state

    def activity(self) -> str:
        """The status bar's text while no request is served."""
        if self.open and self.job.state == "paused":
            return f"training paused at iteration {self.job.iteration}"
        if self.running:
            return f"training: iteration {self.job.iteration} of {self.job.planned}"
        return "idle"

    def _partial(self, payload) -> None:
        check_partial(self.request, payload)
        self._send("partial", self.request_id, self.request, payload)

    def _end(self, kind: str, payload) -> None:
        if kind == "result":
            try:
                check_answer(self.request, payload)
            except TypeError as e:  # a bug in the job: say so rather than hand the panel what it cannot read
                kind, payload = "error", ErrorInfo(f"internal error in training: {e}", user_error=False)
        self._send(kind, self.request_id, self.request, payload)
        self.open = False

