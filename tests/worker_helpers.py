"""Waiting on the real device worker in tests: every response it delivers, in order."""

from __future__ import annotations

import pytest

WAIT_MS = 30_000  # generous: the machine may be busy; nothing here asserts on speed


class Recorder:
    """Every response the worker delivers, in the order the GUI thread received them."""

    def __init__(self, worker):
        self.events: list[tuple[str, object]] = []
        for kind in ("result_ready", "partial_ready", "errored", "cancelled"):
            getattr(worker, kind).connect(lambda response, kind=kind: self.events.append((kind, response)))

    def of(self, request_id: int, kind: str | None = None) -> list:
        return [r for k, r in self.events if r.request_id == request_id and (kind is None or k == kind)]

    def final(self, request_id: int):
        """('result_ready' | 'errored' | 'cancelled', response) once the request has ended, else None."""
        for k, r in self.events:
            if r.request_id == request_id and k in ("result_ready", "errored", "cancelled"):
                return k, r
        return None


def wait_final(qtbot, recorder: Recorder, request_id: int, expect: str = "result_ready"):
    """The response that ended the request, which must be of the `expect` kind."""
    qtbot.waitUntil(lambda: recorder.final(request_id) is not None, timeout=WAIT_MS)
    kind, response = recorder.final(request_id)
    if kind != expect and kind == "errored":
        pytest.fail(f"request {request_id} failed: {response.payload.message}")
    assert kind == expect, (kind, response)
    return response
