"""The worker's protocol: handlers registered by the features, found by name, normalised; every
request of the app has a handler and says what answers it. No worker thread, no Qt here."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass

import pytest

from rnnstudio.worker import caption_messages, charrnn_messages, gates_messages, jobs, protocol, vqa_messages
from rnnstudio.worker.protocol import CallRequest, Request, WorkContext, handler_for, handles, serve

MESSAGES = (protocol, jobs, charrnn_messages, gates_messages, caption_messages, vqa_messages)


def drive(work):
    """Run the generator `serve` returns to its end: (partials, result)."""
    partials = []
    while True:
        try:
            partials.append(next(work))
        except StopIteration as stop:
            return partials, stop.value


@dataclass(frozen=True)
class Echo(Request):
    answers = str
    partials = (int,)

    text: str = ""
    chunks: int = 0


@handles(Echo)
def _echo(request: Echo, context):
    if not request.chunks:
        return request.text  # a plain function
    return _echo_in_chunks(request)


def _echo_in_chunks(request: Echo):
    for k in range(request.chunks):
        yield k
        yield None  # a point to be cancelled at, sent to nobody
    return request.text


def test_plain_and_generator_handlers_are_served_alike():
    context = WorkContext(device="cpu", jobs=None)
    assert drive(serve(Echo("hi"), context)) == ([], "hi")
    assert drive(serve(Echo("hi", chunks=2), context)) == ([0, None, 1, None], "hi")


def test_partials_and_answers_are_checked_against_the_request():
    @dataclass(frozen=True)
    class Liar(Request):
        answers = int

    @handles(Liar)
    def _lie(request, context):
        yield "not declared"

    with pytest.raises(TypeError, match="sends no partial result of type str"):
        drive(serve(Liar(), WorkContext(device="cpu", jobs=None)))
    with pytest.raises(TypeError, match="Liar is answered by int, not by str"):
        protocol.check_answer(Liar(), "a string")


def test_a_request_has_one_handler():
    with pytest.raises(ValueError, match="Echo has a handler already"):
        handles(Echo)(lambda request, context: None)


def test_the_handler_module_is_imported_by_name_on_first_use(tmp_path, monkeypatch):
    (tmp_path / "late_feature.py").write_text(textwrap.dedent("""
        from rnnstudio.worker.protocol import handles
        from test_protocol_late_messages import Late

        @handles(Late)
        def late(request, context):
            return "served by " + __name__
    """))
    (tmp_path / "test_protocol_late_messages.py").write_text(textwrap.dedent("""
        from dataclasses import dataclass
        from rnnstudio.worker.protocol import Request

        @dataclass(frozen=True)
        class Late(Request):
            handled_in = "late_feature"
            answers = str
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    from test_protocol_late_messages import Late

    assert "late_feature" not in sys.modules
    assert drive(serve(Late(), WorkContext(device="cpu", jobs=None))) == ([], "served by late_feature")
    assert "late_feature" in sys.modules


def test_a_request_without_a_handler_is_named():
    @dataclass(frozen=True)
    class Orphan(Request):
        pass

    with pytest.raises(TypeError, match="no handler for Orphan"):
        handler_for(Orphan)


def _app_requests() -> list[type[Request]]:
    found = []
    for module in MESSAGES:
        found += [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Request)
                  and v is not Request and v.__module__ == module.__name__]
    return found


def test_every_request_of_the_app_has_a_handler_and_declares_its_answer():
    requests = _app_requests()
    assert len(requests) == 16
    for request_type in requests:
        assert request_type.handled_in, request_type
        handler = handler_for(request_type)
        assert handler.__module__ == request_type.handled_in, request_type
        if not issubclass(request_type, CallRequest):  # a call answers with whatever its function returns
            assert request_type.answers is not object, f"{request_type.__name__} says nothing of its answer"


def test_the_worker_and_the_messages_import_no_feature_and_no_torch():
    """What the GUI imports of the worker: the features' handlers and torch load on the worker
    thread, by name, when the first request needs them."""
    code = textwrap.dedent("""
        import sys
        import rnnstudio.worker.device_worker
        import rnnstudio.worker.caption_messages, rnnstudio.worker.charrnn_messages
        import rnnstudio.worker.gates_messages, rnnstudio.worker.vqa_messages
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision")
                        or m.endswith("_work") or m == "rnnstudio.worker.engine")
        print(loaded)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
