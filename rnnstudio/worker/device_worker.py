"""The device worker: one long-lived thread that owns the accelerator and the models.

Panels call `submit()` from the GUI thread with callbacks and get an id back. The thread runs
requests in order, each by the handler its feature registered (rnnstudio.worker.protocol), and
steps the training job (rnnstudio.worker.jobs) only when no request waits, so a model can be
sampled while it trains. Each response reaches its request's callback once, on the GUI thread,
carrying plain Python / numpy data.

- A request submitted with a `slot` supersedes the previous request of that slot: the older
  one is cancelled if it has not finished, and anything it still sends is dropped on the GUI
  thread, so a panel never sees a stale result.
- Any exception in a request is caught, logged and sent to `on_error` (or, for a request
  submitted without one, as `unhandled_error`); the thread goes on.
- `shutdown()` stops the work between two steps (a training step is well under a second)
  and joins the thread.
- Python's cyclic garbage collector does not run on this thread: the app switches the
  automatic one off and collects on the GUI thread (rnnstudio/ui/garbage.py), so Qt objects
  caught in garbage cycles are never deleted here.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal, Slot

from rnnstudio.errors import UserError
from rnnstudio.worker.jobs import JobSlot, StartsJob
from rnnstudio.worker.protocol import ErrorInfo, Request, Response, WorkContext, check_answer, serve

log = logging.getLogger(__name__)

FINAL = ("result", "error", "cancelled")  # the kinds of response that end a request


@dataclass
class _Pending:
    request_id: int
    request: Request


def default_torch_threads() -> int:
    """Leave one core to the GUI on small machines.

    Measured on 2 cores: two torch threads competing with a painting GUI thread slow
    training 3x or worse; one thread trains at a steady rate. On bigger machines, all but one.
    """
    cores = os.cpu_count() or 1
    return max(1, cores - 1)


class DeviceWorker(QObject):
    ready = Signal(str)  # a description of the device, once torch is loaded
    activity_changed = Signal(str)  # what the worker is doing, for the status bar
    unhandled_error = Signal(object)  # the Response of a request that failed and has no on_error

    _deliver = Signal(str, object)  # (kind, Response), from the worker thread to the GUI thread

    def __init__(self, device: str = "auto", torch_threads: int | None = None, parent=None):
        super().__init__(parent)
        self._device_choice = device
        self._torch_threads = torch_threads or default_torch_threads()
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._queue: collections.deque[_Pending] = collections.deque()
        self._cancelled: set[int] = set()
        self._stopping = False
        self._current_in_slot: dict[str, int] = {}  # GUI thread only
        self._callbacks: dict[int, dict] = {}  # GUI thread only
        self._slot_of: dict[int, str] = {}  # GUI thread only
        self.device_name: str | None = None
        self.jobs = JobSlot(self._send)  # worker thread only
        self.context: WorkContext | None = None  # made on the worker thread once torch is loaded
        self._deliver.connect(self._on_deliver, Qt.ConnectionType.QueuedConnection)
        self._thread = threading.Thread(target=self._run, name="rnnstudio-device-worker", daemon=True)

    # --- GUI-thread API -------------------------------------------------------------------

    def start(self) -> None:
        from rnnstudio.nn.allocator import tune_allocator

        tune_allocator()  # before the thread exists: its malloc arena is chosen at its first allocation
        self._thread.start()

    def submit(
        self,
        request: Request,
        slot: str | None = None,
        on_partial: Callable | None = None,
        on_result: Callable | None = None,
        on_error: Callable | None = None,
        on_cancelled: Callable | None = None,
    ) -> int:
        """Queue `request`; each callback gets the payload of its kind of response."""
        request_id = next(self._ids)
        self._callbacks[request_id] = {"partial": on_partial, "result": on_result, "error": on_error,
                                       "cancelled": on_cancelled}
        if slot is not None:
            previous = self._current_in_slot.get(slot)
            self._current_in_slot[slot] = request_id
            self._slot_of[request_id] = slot
            if previous is not None:
                self.cancel(previous)
        with self._cond:
            self._queue.append(_Pending(request_id, request))
            self._cond.notify()
        return request_id

    def cancel(self, request_id: int) -> None:
        """Stop a request at its next step; a queued one never starts."""
        with self._cond:
            self._cancelled.add(request_id)
            self._cond.notify()

    def is_current(self, request_id: int) -> bool:
        slot = self._slot_of.get(request_id)
        return slot is None or self._current_in_slot.get(slot) == request_id

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Stop the thread between two steps and wait for it; True when it has ended."""
        with self._cond:
            self._stopping = True
            self._queue.clear()
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @Slot(str, object)
    def _on_deliver(self, kind: str, response: Response) -> None:
        if kind == "ready":
            self.device_name = response.payload
            self.ready.emit(response.payload)
            return
        if kind == "activity":
            self.activity_changed.emit(response.payload)
            return
        rid = response.request_id
        # A response to a superseded request is dropped here, on the GUI thread, so it can
        # never arrive after the newer request was submitted.
        current = self.is_current(rid)
        callback = self._callbacks.get(rid, {}).get(kind) if current else None
        if kind in FINAL:
            self._forget(rid)
        if callback is not None:
            callback(response.payload)
        elif current and kind == "error":
            self.unhandled_error.emit(response)

    def _forget(self, rid: int) -> None:
        self._callbacks.pop(rid, None)
        slot = self._slot_of.pop(rid, None)
        if slot is not None and self._current_in_slot.get(slot) == rid:
            del self._current_in_slot[slot]

    # --- worker thread --------------------------------------------------------------------

    def _send(self, kind: str, request_id: int, request: Request | None, payload=None) -> None:
        self._deliver.emit(kind, Response(request_id, request, payload))

    def _activity(self, text: str) -> None:
        self._send("activity", 0, None, text)

    def _run(self) -> None:
        try:
            self._activity("loading PyTorch ...")
            from rnnstudio.worker.engine import start_engine  # torch, on this thread only

            device, description = start_engine(self._device_choice, self._torch_threads)
        except Exception as e:  # torch missing or broken: say so, and serve nothing
            log.exception("the device worker could not start")
            self._activity(f"the model engine could not start: {e}")
            return
        self.context = WorkContext(device, self.jobs)
        self._send("ready", 0, None, description)
        self._activity("idle")
        while True:
            with self._cond:
                while not self._stopping and not self._queue and not self._job_due():
                    self._cond.wait()
                if self._stopping:
                    return
                item = self._queue.popleft() if self._queue else None
                skip = item is not None and self._take_cancel(item.request_id)
                job_cancelled = item is None and self._take_cancel(self.jobs.request_id)
            if skip:
                self._send("cancelled", item.request_id, item.request)
            elif item is not None:
                self._serve(item)
            elif job_cancelled:  # its panel asked for a new run or cancelled this one
                self.jobs.cancel()
                self._activity(self.jobs.activity())
            else:
                self.jobs.step()
                if not self.jobs.running:
                    self._activity(self.jobs.activity())

    def _job_due(self) -> bool:
        return self.jobs.running or (self.jobs.open and self.jobs.request_id in self._cancelled)

    def _take_cancel(self, request_id: int) -> bool:
        if request_id in self._cancelled:
            self._cancelled.discard(request_id)
            return True
        return False

    def _serve(self, item: _Pending) -> None:
        request, rid = item.request, item.request_id
        self._activity(request.describe())
        try:
            work = serve(request, self.context)
            while True:
                try:
                    partial = next(work)
                except StopIteration as stop:
                    result = stop.value
                    break
                if self._should_stop(rid):
                    work.close()
                    self._send("cancelled", rid, request)
                    return
                if partial is not None:
                    self._send("partial", rid, request, partial)
            if isinstance(result, StartsJob):  # the job answers this request from now on
                with self._cond:
                    previous_cancelled = self.jobs.open and self._take_cancel(self.jobs.request_id)
                self.jobs.start(result.job, rid, request, previous_cancelled)
            else:
                check_answer(request, result)
                self._send("result", rid, request, result)
        except UserError as e:
            log.info("request %s refused: %s", rid, e)
            details = getattr(e, "details", None)
            self._send("error", rid, request, ErrorInfo(str(e), user_error=True, details=details))
        except Exception as e:
            log.error("request %s failed:\n%s", rid, traceback.format_exc())
            message = f"internal error in {request.describe()}: {type(e).__name__}: {e}"
            self._send("error", rid, request, ErrorInfo(message, user_error=False))
        finally:
            with self._cond:
                self._cancelled.discard(rid)
            self._activity(self.jobs.activity())

    def _should_stop(self, request_id: int) -> bool:
        with self._cond:
            return self._stopping or request_id in self._cancelled
