"""Waiting on the real device worker in tests: every response it delivers, in order."""

from __future__ import annotations

import pytest

from rnnstudio.worker.protocol import Response

WAIT_MS = 30_000  # generous: the machine may be busy; nothing here asserts on speed

# The recorded kind of each callback of DeviceWorker.submit
KINDS = {"on_partial": "partial_ready", "on_result": "result_ready", "on_error": "errored", "on_cancelled": "cancelled"}
FINAL_KINDS = ("result_ready", "errored", "cancelled")


class Recorder:
    """Every response the worker delivers to the requests submitted after the recorder was made,
    in the order the GUI thread received them: it wraps `worker.submit` so that each request's
    callbacks record (kind, Response) before they run (the submitter's own callbacks still run)."""

    def __init__(self, worker):
        self.events: list[tuple[str, Response]] = []
        submit = worker.submit

        def recording_submit(request, slot=None, **callbacks):
            submitted = []  # the request's id, once submit has returned it (responses come later)

            def recorder(name):
                kind, callback = KINDS[name], callbacks.get(name)

                def record(payload):
                    self.events.append((kind, Response(submitted[0], request, payload)))
                    if callback is not None:
                        callback(payload)

                return record

            submitted.append(submit(request, slot, **{name: recorder(name) for name in KINDS}))
            return submitted[0]

        worker.submit = recording_submit

    def of(self, request_id: int, kind: str | None = None) -> list:
        return [r for k, r in self.events if r.request_id == request_id and (kind is None or k == kind)]

    def final(self, request_id: int):
        """('result_ready' | 'errored' | 'cancelled', response) once the request has ended, else None."""
        for k, r in self.events:
            if r.request_id == request_id and k in FINAL_KINDS:
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
