"""How panels and the device worker talk, and how a feature plugs its work into the worker.

Plain data and plain functions: no Qt, no torch.

- A request is a frozen dataclass. Its class names the module that handles it (`handled_in`),
  the type of the result that answers it (`answers`) and of the partial results sent on the
  way (`partials`). The worker gives each submitted request a growing id; every response
  carries that id.
- A feature's `*_work.py` registers a handler for each of its requests with `@handles`. The
  device worker imports that module by name, on its own thread, the first time it serves one
  of its requests: it imports no feature itself.
- A handler is `handler(request, context)`. A plain function returns the result; a generator
  yields partial results (None: no result, just a point where the request may be cancelled)
  and returns the result.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Request:
    """Base class of everything a panel asks of the worker."""

    handled_in: ClassVar[str] = ""  # the module that registers this request's handler
    answers: ClassVar[type] = object  # the type of the result that ends the request
    partials: ClassVar[tuple[type, ...]] = ()  # the types of the partial results it sends first

    def describe(self) -> str:
        """What the worker is doing while it serves this request, for the status bar."""
        return type(self).__name__.removesuffix("Request").lower()


@dataclass(frozen=True)
class Response:
    request_id: int
    request: Request | None
    payload: Any = None


@dataclass(frozen=True)
class ErrorInfo:
    message: str
    user_error: bool  # True: bad input; False: an internal failure (a bug)
    details: Any = None  # what a panel may show beside the message, e.g. the unknown characters


# --- the handler registry ---------------------------------------------------------------------

Handler = Callable[[Request, "WorkContext"], Any]
_handlers: dict[type[Request], Handler] = {}


def handles(*request_types: type[Request]) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of `request_types`."""

    def register(handler: Handler) -> Handler:
        for request_type in request_types:
            if _handlers.get(request_type, handler) is not handler:
                raise ValueError(f"{request_type.__name__} has a handler already: {_handlers[request_type].__name__}")
            _handlers[request_type] = handler
        return handler

    return register


def handler_for(request_type: type[Request]) -> Handler:
    """The handler of `request_type` (or of its nearest base class that has one)."""
    for attempt in range(2):
        for cls in request_type.__mro__:
            if cls in _handlers:
                return _handlers[cls]
        if attempt == 0 and request_type.handled_in:
            importlib.import_module(request_type.handled_in)  # registers the feature's handlers
    raise TypeError(f"no handler for {request_type.__name__} (in {request_type.handled_in or 'no module'})")


def serve(request: Request, context: WorkContext) -> Generator[Any, None, Any]:
    """The request's work as a generator, whatever kind of function its handler is: it yields
    the partial results and returns the result, each checked against what the request declares."""
    work = handler_for(type(request))(request, context)
    if not inspect.isgenerator(work):
        return work  # a plain function: the work is done, `work` is its result
    while True:
        try:
            partial = next(work)
        except StopIteration as stop:
            return stop.value
        if partial is not None:
            check_partial(request, partial)
        try:
            yield partial
        except GeneratorExit:
            work.close()
            raise


def check_answer(request: Request, result) -> None:
    if not isinstance(result, request.answers):
        raise TypeError(f"{type(request).__name__} is answered by {request.answers.__name__}, "
                        f"not by {type(result).__name__}")


def check_partial(request: Request, partial) -> None:
    if not isinstance(partial, request.partials):
        raise TypeError(f"{type(request).__name__} sends no partial result of type {type(partial).__name__}")


class WorkContext:
    """What a handler gets besides its request: the device, each feature's state, the worker's job."""

    def __init__(self, device, jobs):
        self.device = device  # the torch.device the models live on
        self.jobs = jobs  # the worker's JobSlot (rnnstudio.worker.jobs)
        self._states: dict[type, Any] = {}

    def state(self, cls: type):
        """The one `cls(device)` of this worker, made on first use (a feature's models, caches)."""
        if cls not in self._states:
            self._states[cls] = cls(self.device)
        return self._states[cls]

    @property
    def job(self):
        """The worker's training job: running, paused or ended (None after a reset or before any)."""
        return self.jobs.job


# --- requests of no feature -------------------------------------------------------------------


@dataclass(frozen=True)
class CallRequest(Request):
    """Run a plain function on the worker thread (tests, benchmarks, fault injection)."""

    handled_in: ClassVar[str] = __name__

    fn: Any = None
    args: tuple = ()


@dataclass(frozen=True)
class ReadFileRequest(CallRequest):
    """Read a file the user chose on the worker thread: `fn(*args)` reads it and returns what
    was read. The GUI thread never waits on a file: a large picture takes seconds to decode,
    and a file on a slow or stalled disk, or a named pipe, would freeze the window."""

    what: str = "a file"  # for the status bar: "reading a picture"

    def describe(self) -> str:
        return f"reading {self.what}"


@handles(CallRequest)
def _call(request: CallRequest, context: WorkContext):
    return request.fn(*request.args)
