"""The device worker: one long-lived thread that owns the accelerator and the models.

Panels call `submit()` from the GUI thread and get an id back. The thread runs
interactive requests first, in order, and steps the training run only when none is
waiting, so a model can be sampled while it trains. Responses come back as Qt signals
on the GUI thread, carrying plain Python / numpy data.

- A request submitted with a `slot` supersedes the previous request of that slot: the
  older one is cancelled if it has not finished, and anything it still sends is dropped
  on the GUI thread, so a panel never sees a stale result.
- Any exception in a request is caught, logged and sent as `errored`; the thread goes on.
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
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal, Slot

from rnnstudio.errors import UserError
from rnnstudio.worker.requests import (
    STAYS_OPEN,
    CallRequest,
    CaptionRequest,
    ErrorInfo,
    GatesRequest,
    GradientRequest,
    HypothesisRequest,
    InterventionRequest,
    LoadCaptionModelRequest,
    LoadModelRequest,
    LoadVQAModelRequest,
    Request,
    Response,
    SampleRequest,
    SaveModelRequest,
    StartTrainingRequest,
    TrainingControlRequest,
    VQAEvalRequest,
    VQAQuestionRequest,
)

log = logging.getLogger(__name__)

TRAINING_ACTIVITY_INTERVAL_S = 0.25  # how often training updates the status bar's activity text


@dataclass
class _Pending:
    request_id: int
    request: Request
    slot: str | None
    callbacks: dict


def default_torch_threads() -> int:
    """Leave one core to the GUI on small machines.

    Measured on 2 cores: two torch threads competing with a painting GUI thread slow
    training 3x or worse; one thread trains at a steady rate. On bigger machines, all but one.
    """
    cores = os.cpu_count() or 1
    return max(1, cores - 1)


class DeviceWorker(QObject):
    ready = Signal(str)  # a description of the device, once torch is loaded
    result_ready = Signal(object)  # Response
    partial_ready = Signal(object)  # Response
    errored = Signal(object)  # Response with ErrorInfo
    cancelled = Signal(object)  # Response
    activity_changed = Signal(str)  # what the worker is doing, for the status bar

    _deliver = Signal(str, object)  # (kind, Response), from the worker thread to the GUI thread

    def __init__(self, device: str = "auto", torch_threads: int | None = None, parent=None):
        super().__init__(parent)
        self._device_choice = device
        self._torch_threads = torch_threads or default_torch_threads()
        self._ids = itertools.count(1)
        self._last_training_activity = 0.0
        self._cond = threading.Condition()
        self._queue: collections.deque[_Pending] = collections.deque()
        self._cancelled: set[int] = set()
        self._stopping = False
        self._current_in_slot: dict[str, int] = {}  # GUI thread only
        self._callbacks: dict[int, dict] = {}  # GUI thread only
        self._slot_of: dict[int, str] = {}
        self.device_name: str | None = None
        self.workspace = None  # the CharRNNWorkspace, made on the worker thread
        self.caption_workspace = None
        self.vqa_workspace = None
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
        request_id = next(self._ids)
        callbacks = {"partial": on_partial, "result": on_result, "error": on_error, "cancelled": on_cancelled}
        self._callbacks[request_id] = callbacks
        if slot is not None:
            previous = self._current_in_slot.get(slot)
            self._current_in_slot[slot] = request_id
            self._slot_of[request_id] = slot
            if previous is not None:
                self.cancel(previous)
        with self._cond:
            self._queue.append(_Pending(request_id, request, slot, callbacks))
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
        rid = response.request_id
        final = kind in ("result", "error", "cancelled")
        # A response to a superseded request is dropped here, on the GUI thread, so it can
        # never arrive after the newer request was submitted.
        if kind != "activity" and not self.is_current(rid):
            if final:
                self._forget(rid)
            return
        if kind == "ready":
            self.device_name = response.payload
            self.ready.emit(response.payload)
            return
        if kind == "activity":
            self.activity_changed.emit(response.payload)
            return
        signal = {"partial": self.partial_ready, "result": self.result_ready, "error": self.errored,
                  "cancelled": self.cancelled}[kind]
        signal.emit(response)
        callback = self._callbacks.get(rid, {}).get(kind)
        if final:
            self._forget(rid)
        if callback is not None:
            callback(response.payload)

    def _forget(self, rid: int) -> None:
        self._callbacks.pop(rid, None)
        slot = self._slot_of.pop(rid, None)
        if slot is not None and self._current_in_slot.get(slot) == rid:
            del self._current_in_slot[slot]

    # --- worker thread --------------------------------------------------------------------

    def _send(self, kind: str, request_id: int, request: Request | None, payload=None) -> None:
        self._deliver.emit(kind, Response(request_id, request, payload))

    def _activity(self, text: str) -> None:
        self._deliver.emit("activity", Response(0, None, text))

    def _run(self) -> None:
        try:
            self._activity("loading PyTorch ...")
            self._setup()
        except Exception as e:  # torch missing or broken: say so, and serve nothing
            log.exception("the device worker could not start")
            self._activity(f"the model engine could not start: {e}")
            return
        self._activity("idle")
        while True:
            with self._cond:
                while not self._stopping and not self._queue and not self._training_due():
                    self._cond.wait()
                if self._stopping:
                    return
                item = self._queue.popleft() if self._queue else None
                skip = item is not None and item.request_id in self._cancelled
                if skip:
                    self._cancelled.discard(item.request_id)
            if skip:
                self._send("cancelled", item.request_id, item.request)
            elif item is not None:
                self._serve(item)
            else:
                self._train_one_step()

    def _setup(self) -> None:
        import torch

        from rnnstudio.nn.device import describe_device, select_device
        from rnnstudio.worker.charrnn_work import CharRNNWorkspace

        torch.set_num_threads(self._torch_threads)
        try:
            device = select_device(self._device_choice)
        except UserError as e:
            log.warning("%s; using the CPU", e)
            device = select_device("cpu")
        _warm_optimizer()
        self.workspace = CharRNNWorkspace(device)
        self._send("ready", 0, None, describe_device(device))

    def _training_due(self) -> bool:
        run = self.workspace.training if self.workspace is not None else None
        return run is not None and run.state == "running"

    def _serve(self, item: _Pending) -> None:
        request = item.request
        self._activity(request.describe())
        try:
            work = self._work_for(item)
            result = None
            while True:
                try:
                    partial = next(work)
                except StopIteration as stop:
                    result = stop.value
                    break
                if self._should_stop(item.request_id):
                    work.close()
                    self._send("cancelled", item.request_id, request)
                    return
                if partial is not None:
                    self._send("partial", item.request_id, request, partial)
            if result is not STAYS_OPEN:
                self._send("result", item.request_id, request, result)
        except UserError as e:
            log.info("request %s refused: %s", item.request_id, e)
            details = getattr(e, "details", None)
            self._send("error", item.request_id, request, ErrorInfo(str(e), user_error=True, details=details))
        except Exception as e:
            log.error("request %s failed:\n%s", item.request_id, traceback.format_exc())
            message = f"internal error in {request.describe()}: {type(e).__name__}: {e}"
            self._send("error", item.request_id, request, ErrorInfo(message, user_error=False))
        finally:
            with self._cond:
                self._cancelled.discard(item.request_id)
            self._activity(self._idle_text())

    def _should_stop(self, request_id: int) -> bool:
        with self._cond:
            return self._stopping or request_id in self._cancelled

    def _work_for(self, item: _Pending):
        request, ws = item.request, self.workspace
        if isinstance(request, SampleRequest):
            return ws.sample(request)
        if isinstance(request, LoadModelRequest):
            return ws.load(request)
        if isinstance(request, SaveModelRequest):
            return ws.save(request)
        if isinstance(request, StartTrainingRequest):
            return ws.start_training(request, item.request_id)
        if isinstance(request, TrainingControlRequest):
            return self._control_training(request)
        if isinstance(request, CallRequest):
            return _call(request)
        if isinstance(request, (CaptionRequest, LoadCaptionModelRequest)):
            if self.caption_workspace is None:  # OpenCV and the captioner load on first use
                from rnnstudio.worker.caption_work import CaptionWorkspace

                self.caption_workspace = CaptionWorkspace(ws.device)
            if isinstance(request, CaptionRequest):
                return self.caption_workspace.caption(request)
            return self.caption_workspace.load(request)
        if isinstance(request, (LoadVQAModelRequest, VQAQuestionRequest, VQAEvalRequest)):
            if self.vqa_workspace is None:
                from rnnstudio.worker.vqa_work import VQAWorkspace

                self.vqa_workspace = VQAWorkspace(ws.device)
            if isinstance(request, VQAQuestionRequest):
                return self.vqa_workspace.ask(request)
            if isinstance(request, VQAEvalRequest):
                return self.vqa_workspace.evaluate(request)
            return self.vqa_workspace.load(request)
        from rnnstudio.worker import gates_work

        if isinstance(request, GatesRequest):
            return gates_work.compute_gates(ws, request)
        if isinstance(request, HypothesisRequest):
            return gates_work.search_units(request)
        if isinstance(request, InterventionRequest):
            return gates_work.intervene(ws, request)
        if isinstance(request, GradientRequest):
            return gates_work.gradient_flow(ws, request)
        raise TypeError(f"the worker has no handler for {type(request).__name__}")

    def _control_training(self, request: TrainingControlRequest):
        run = self.workspace.training
        if request.action == "reset":
            if run is not None:
                run.state = "stopped"
                self._send("result", run.request_id, None, run.progress())
            self.workspace.training = None
            return "reset"
        if run is None:
            raise UserError("no training run to " + request.action)
        if request.action == "pause" and run.state == "running":
            run.state = "paused"
        elif request.action == "resume" and run.state == "paused":
            run.state = "running"
        elif request.action == "stop" and run.state in ("running", "paused"):
            run.state = "stopped"
            self._send("result", run.request_id, None, run.progress())
            return run.state
        self._send("partial", run.request_id, None, run.progress())
        return run.state
        yield

    def _train_one_step(self) -> None:
        run = self.workspace.training
        with self._cond:
            superseded = run.request_id in self._cancelled
        if superseded:  # its panel asked for a new run or cancelled this one
            run.state = "stopped"
            self._send("cancelled", run.request_id, None)
            return
        now = time.monotonic()
        if now - self._last_training_activity >= TRAINING_ACTIVITY_INTERVAL_S:
            # Not every iteration: each status-bar update costs the GUI thread (and the GIL)
            # time the training step wants.
            self._last_training_activity = now
            self._activity(f"training: iteration {run.trainer.iteration + 1} of {run.planned}")
        try:
            events = run.step()
        except Exception as e:
            log.error("training step failed:\n%s", traceback.format_exc())
            run.state = "stopped"
            # The iterations trained since the last report are in the model: report them, so
            # the loss curve ends where the model stands, not up to 0.1 s of steps earlier.
            self._send("partial", run.request_id, None, run.progress())
            user = isinstance(e, UserError)
            message = str(e) if user else f"training stopped by an internal error: {type(e).__name__}: {e}"
            self._send("error", run.request_id, None, ErrorInfo(message, user_error=user))
            self._activity(self._idle_text())
            return
        for event in events:
            self._send("partial", run.request_id, None, event)
        if run.state == "finished":
            self._send("result", run.request_id, None, run.progress())
            self._activity(self._idle_text())

    def _idle_text(self) -> str:
        run = self.workspace.training if self.workspace else None
        if run is not None and run.state == "paused":
            return f"training paused at iteration {run.trainer.iteration}"
        if run is not None and run.state == "running":
            return f"training: iteration {run.trainer.iteration} of {run.planned}"
        return "idle"


def _warm_optimizer() -> None:
    """Build an optimizer once while the window still says "loading PyTorch".

    torch.optim imports torch._dynamo on first use (about 1 s, in long GIL-holding calls):
    done here, the first Train press starts as quickly as the second and the GUI does not
    stall for ~180 ms then.
    """
    import torch

    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])


def _call(request: CallRequest):
    return request.fn(*request.args)
    yield
