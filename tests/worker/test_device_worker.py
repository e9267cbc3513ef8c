"""The real device worker on the CPU: ordering, cancelling, superseding, errors, shutdown."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from worker_helpers import WAIT_MS, Recorder, wait_final

from rnnstudio.errors import UserError
from rnnstudio.train.progress import TimelineSample, TrainingProgress
from rnnstudio.worker.charrnn_messages import (
    TRAINING,
    CharRNNModelInfo,
    CharRNNTrainingStarted,
    CharRNNTrainSpec,
    LoadCharRNNRequest,
    SampleRequest,
    SampleResult,
    SaveCharRNNRequest,
    StartCharRNNTrainingRequest,
    TextChunk,
)
from rnnstudio.worker.device_worker import DeviceWorker
from rnnstudio.worker.jobs import StartsJob, TrainingControlRequest
from rnnstudio.worker.protocol import CallRequest, ErrorInfo, Request, handles

def load_tiny(qtbot, worker, recorder, path) -> CharRNNModelInfo:
    rid = worker.submit(LoadCharRNNRequest(path=str(path)))
    info = wait_final(qtbot, recorder, rid).payload
    assert isinstance(info, CharRNNModelInfo)
    return info


def training_spec(corpus, steps=1_000_000, **kw) -> CharRNNTrainSpec:
    base = dict(corpus=str(corpus), arch="lstm", layers=1, hidden=16, embed=8, seq_len=16, batch_size=8,
                lr=1e-2, steps=steps, eval_every=1_000_000, sample_at=(), sample_length=20)
    base.update(kw)
    return CharRNNTrainSpec(**base)


def progress_of(recorder, rid) -> list[TrainingProgress]:
    return [r.payload for r in recorder.of(rid, "partial_ready") if isinstance(r.payload, TrainingProgress)]


# --- loading and sampling -------------------------------------------------------------------------


def test_load_and_sample(qtbot, worker, recorder, tiny_model_file):
    info = load_tiny(qtbot, worker, recorder, tiny_model_file)
    assert info.arch == "lstm" and info.layers == 1 and info.hidden == 16
    assert info.path == str(tiny_model_file)
    assert info.trained["steps"] == 20
    rid = worker.submit(SampleRequest(prime="the ", length=60, temperature=0.8, seed=5))
    result = wait_final(qtbot, recorder, rid).payload
    assert isinstance(result, SampleResult)
    assert len(result.text) == 60 and result.prime == "the "
    assert set(result.text) <= set(info.vocab)
    streamed = "".join(r.payload.text for r in recorder.of(rid, "partial_ready"))
    assert streamed == result.text  # the streamed chunks add up to the result
    # The same seed gives the same text.
    again = worker.submit(SampleRequest(prime="the ", length=60, temperature=0.8, seed=5))
    assert wait_final(qtbot, recorder, again).payload.text == result.text


def test_sample_without_a_model_is_a_user_error(qtbot, worker, recorder):
    rid = worker.submit(SampleRequest(length=10))
    error = wait_final(qtbot, recorder, rid, "errored").payload
    assert isinstance(error, ErrorInfo) and error.user_error
    assert "no model is open" in error.message


def test_loading_a_bad_file_is_a_user_error(qtbot, worker, recorder, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model at all, just some bytes in a file")
    rid = worker.submit(LoadCharRNNRequest(path=str(bad)))
    error = wait_final(qtbot, recorder, rid, "errored").payload
    assert error.user_error and "bad.safetensors" in error.message


# --- ordering -------------------------------------------------------------------------------------


def test_interactive_requests_run_in_submission_order(qtbot, worker, recorder, tiny_model_file):
    load_tiny(qtbot, worker, recorder, tiny_model_file)
    ran: list[str] = []

    def work(name, pause):
        time.sleep(pause)
        ran.append(name)
        return name

    ids = [
        worker.submit(CallRequest(fn=work, args=("a", 0.05))),
        worker.submit(SampleRequest(length=30, seed=1)),
        worker.submit(CallRequest(fn=work, args=("b", 0.0))),
        worker.submit(CallRequest(fn=work, args=("c", 0.02))),
        worker.submit(SampleRequest(length=5, seed=2)),
        worker.submit(CallRequest(fn=work, args=("d", 0.0))),
    ]
    wait_final(qtbot, recorder, ids[-1])
    results = [r.request_id for k, r in recorder.events if k == "result_ready" and r.request_id in ids]
    assert results == ids
    assert ran == ["a", "b", "c", "d"]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_sampling_the_training_model_during_training(qtbot, worker, recorder, tiny_text_file):
    train_id = worker.submit(StartCharRNNTrainingRequest(spec=training_spec(tiny_text_file)))
    qtbot.waitUntil(lambda: len(progress_of(recorder, train_id)) >= 2, timeout=WAIT_MS)
    started = [r.payload for r in recorder.of(train_id, "partial_ready")
               if isinstance(r.payload, CharRNNTrainingStarted)]
    assert len(started) == 1 and started[0].resumed_from == 0 and started[0].model.role == TRAINING

    sample_id = worker.submit(SampleRequest(role=TRAINING, length=40, seed=3))
    result = wait_final(qtbot, recorder, sample_id).payload
    assert len(result.text) == 40
    # Served while the run goes on: training has not ended ...
    assert recorder.final(train_id) is None
    at_sample = max(p.iteration for p in progress_of(recorder, train_id))
    assert at_sample < 1_000_000
    # ... and its progress keeps coming after the sample arrived.
    qtbot.waitUntil(
        lambda: max(p.iteration for p in progress_of(recorder, train_id)) > at_sample + 5, timeout=WAIT_MS
    )
    assert all(p.state == "running" for p in progress_of(recorder, train_id))
    losses = [x for p in progress_of(recorder, train_id) for x in p.losses]
    iterations = [i for p in progress_of(recorder, train_id) for i in p.iterations]
    assert iterations == list(range(1, len(iterations) + 1)), "every iteration is reported once, in order"
    assert len(losses) == len(iterations)


def test_requests_submitted_during_training_are_served_in_order(qtbot, worker, recorder, tiny_text_file):
    train_id = worker.submit(StartCharRNNTrainingRequest(spec=training_spec(tiny_text_file)))
    qtbot.waitUntil(lambda: len(progress_of(recorder, train_id)) >= 1, timeout=WAIT_MS)
    ran: list[int] = []
    ids = [worker.submit(CallRequest(fn=ran.append, args=(i,))) for i in range(5)]
    wait_final(qtbot, recorder, ids[-1])
    assert ran == list(range(5))
    results = [r.request_id for k, r in recorder.events if k == "result_ready" and r.request_id in ids]
    assert results == ids
    assert recorder.final(train_id) is None


def test_training_runs_to_the_end_and_can_be_saved(qtbot, worker, recorder, tiny_text_file, tmp_path):
    from rnnstudio.nn.charrnn import load_charrnn

    spec = training_spec(tiny_text_file, steps=30, eval_every=10, sample_at=(15,))
    train_id = worker.submit(StartCharRNNTrainingRequest(spec=spec))
    final = wait_final(qtbot, recorder, train_id).payload
    assert final.state == "finished" and final.iteration == 30
    valid = [v for p in progress_of(recorder, train_id) + [final] for v in p.valid]
    assert [it for it, _ in valid] == [10, 15, 20, 30]
    timeline = [r.payload for r in recorder.of(train_id, "partial_ready") if isinstance(r.payload, TimelineSample)]
    assert len(timeline) == 1 and timeline[0].iteration == 15 and len(timeline[0].text) == 20

    out = tmp_path / "trained.safetensors"
    save_id = worker.submit(SaveCharRNNRequest(path=str(out)))
    assert wait_final(qtbot, recorder, save_id).payload == str(out)
    loaded = load_charrnn(out)
    assert loaded.trained["steps"] == 30
    assert loaded.optimizer_tensors, "a saved training run keeps its optimizer state"


def test_pause_and_resume_training(qtbot, worker, recorder, tiny_text_file):
    train_id = worker.submit(StartCharRNNTrainingRequest(spec=training_spec(tiny_text_file)))
    qtbot.waitUntil(lambda: len(progress_of(recorder, train_id)) >= 1, timeout=WAIT_MS)
    pause_id = worker.submit(TrainingControlRequest("pause"))
    assert wait_final(qtbot, recorder, pause_id).payload == "paused"
    paused_at = max(p.iteration for p in progress_of(recorder, train_id))
    # While paused, the worker still serves requests and trains not a single step.
    marker = worker.submit(CallRequest(fn=lambda: worker.jobs.job.trainer.iteration))
    at = wait_final(qtbot, recorder, marker).payload
    time.sleep(0.2)
    again = worker.submit(CallRequest(fn=lambda: worker.jobs.job.trainer.iteration))
    assert wait_final(qtbot, recorder, again).payload == at == paused_at
    resume_id = worker.submit(TrainingControlRequest("resume"))
    assert wait_final(qtbot, recorder, resume_id).payload == "running"
    qtbot.waitUntil(lambda: max(p.iteration for p in progress_of(recorder, train_id)) > paused_at, timeout=WAIT_MS)
    stop_id = worker.submit(TrainingControlRequest("stop"))
    assert wait_final(qtbot, recorder, stop_id).payload == "stopped"
    assert wait_final(qtbot, recorder, train_id).payload.state == "stopped"


# --- cancelling and superseding -------------------------------------------------------------------


def test_cancel_a_long_sample(qtbot, worker, recorder, tiny_model_file):
    load_tiny(qtbot, worker, recorder, tiny_model_file)
    rid = worker.submit(SampleRequest(length=10_000_000, seed=1))
    qtbot.waitUntil(lambda: len(recorder.of(rid, "partial_ready")) >= 1, timeout=WAIT_MS)
    assert isinstance(recorder.of(rid, "partial_ready")[0].payload, TextChunk)
    worker.cancel(rid)
    wait_final(qtbot, recorder, rid, "cancelled")
    # The worker is free again, and the cancelled sample never sends a result.
    after = worker.submit(CallRequest(fn=lambda: "next"))
    assert wait_final(qtbot, recorder, after).payload == "next"
    assert recorder.of(rid, "result_ready") == []
    assert recorder.of(rid, "errored") == []
    assert len(recorder.of(rid, "cancelled")) == 1


def test_cancel_a_queued_request_before_it_starts(qtbot, worker, recorder):
    started = threading.Event()
    ran = []
    blocker = worker.submit(CallRequest(fn=lambda: (started.set(), time.sleep(0.3))))
    queued = worker.submit(CallRequest(fn=lambda: ran.append("ran")))
    worker.cancel(queued)
    wait_final(qtbot, recorder, queued, "cancelled")
    wait_final(qtbot, recorder, blocker)
    assert started.is_set() and ran == []


def test_superseded_sample_delivers_only_the_newer_result(qtbot, worker, recorder, tiny_model_file):
    load_tiny(qtbot, worker, recorder, tiny_model_file)
    got = {"first": [], "second": []}
    first = worker.submit(
        SampleRequest(length=5_000_000, seed=1), slot="sample",
        on_result=got["first"].append, on_cancelled=got["first"].append, on_error=got["first"].append,
    )
    qtbot.waitUntil(lambda: len(recorder.of(first, "partial_ready")) >= 1, timeout=WAIT_MS)  # it is running
    seen_before = len(recorder.events)
    second = worker.submit(
        SampleRequest(prime="the", length=25, seed=2), slot="sample",
        on_result=got["second"].append, on_cancelled=got["second"].append, on_error=got["second"].append,
    )
    assert not worker.is_current(first) and worker.is_current(second)
    result = wait_final(qtbot, recorder, second).payload
    assert len(result.text) == 25 and result.prime == "the"
    # Let anything the first one still sends arrive, then check none of it was delivered.
    marker = worker.submit(CallRequest(fn=lambda: None))
    wait_final(qtbot, recorder, marker)
    later = [(k, r.request_id) for k, r in recorder.events[seen_before:]]
    assert all(rid != first for _, rid in later), later
    assert got["first"] == [] and got["second"] == [result]


def test_superseded_queued_request_never_runs(qtbot, worker, recorder):
    ran = []
    blocker = worker.submit(CallRequest(fn=time.sleep, args=(0.3,)))
    first = worker.submit(CallRequest(fn=lambda: ran.append(1) or 1), slot="s")
    second = worker.submit(CallRequest(fn=lambda: ran.append(2) or 2), slot="s")
    assert wait_final(qtbot, recorder, second).payload == 2
    wait_final(qtbot, recorder, blocker)
    assert ran == [2]
    assert recorder.of(first) == []


# --- errors ---------------------------------------------------------------------------------------


def test_a_failing_request_is_reported_and_the_worker_goes_on(qtbot, worker, recorder):
    def boom():
        raise RuntimeError("the flux capacitor broke")

    bad = worker.submit(CallRequest(fn=boom))
    good = worker.submit(CallRequest(fn=lambda x: x * 2, args=(21,)))
    error = wait_final(qtbot, recorder, bad, "errored").payload
    assert isinstance(error, ErrorInfo)
    assert "the flux capacitor broke" in error.message
    assert "RuntimeError" in error.message
    assert error.user_error is False
    assert wait_final(qtbot, recorder, good).payload == 42
    assert worker.running


def test_user_error_is_marked_as_user_error(qtbot, worker, recorder):
    def refuse():
        raise UserError("that file is not a text file; choose another")

    rid = worker.submit(CallRequest(fn=refuse))
    error = wait_final(qtbot, recorder, rid, "errored").payload
    assert error.user_error is True
    assert error.message == "that file is not a text file; choose another"
    assert wait_final(qtbot, recorder, worker.submit(CallRequest(fn=lambda: "ok"))).payload == "ok"


def test_bad_training_spec_is_a_user_error(qtbot, worker, recorder, tmp_path):
    missing = tmp_path / "no-such-corpus.txt"
    rid = worker.submit(StartCharRNNTrainingRequest(spec=training_spec(missing)))
    error = wait_final(qtbot, recorder, rid, "errored").payload
    assert error.user_error and "no-such-corpus.txt" in error.message
    rid = worker.submit(StartCharRNNTrainingRequest(spec=training_spec(missing, arch="transformer")))
    error = wait_final(qtbot, recorder, rid, "errored").payload
    assert error.user_error and "arch" in error.message


def test_error_callback_gets_the_error(qtbot, worker, recorder):
    errors = []
    rid = worker.submit(CallRequest(fn=lambda: 1 / 0), on_error=errors.append)
    wait_final(qtbot, recorder, rid, "errored")
    assert len(errors) == 1 and "ZeroDivisionError" in errors[0].message


# --- shutdown -------------------------------------------------------------------------------------


def test_shutdown_while_training_is_prompt(qtbot, tiny_text_file):
    w = DeviceWorker(device="cpu", torch_threads=1)
    recorder = Recorder(w)
    try:
        with qtbot.waitSignal(w.ready, timeout=WAIT_MS):
            w.start()
        train_id = w.submit(StartCharRNNTrainingRequest(spec=training_spec(tiny_text_file)))
        qtbot.waitUntil(lambda: len(progress_of(recorder, train_id)) >= 2, timeout=WAIT_MS)
        # More work queued behind it is dropped, not run.
        ran = []
        w.submit(CallRequest(fn=time.sleep, args=(0.05,)))
        w.submit(CallRequest(fn=ran.append, args=("late",)))
        assert w.shutdown(timeout=1.0), "the worker did not stop within 1 second while training"
        assert not w.running
        assert not [t for t in threading.enumerate() if t.name == "rnnstudio-device-worker"]
        assert ran == []
    finally:
        w.shutdown(timeout=5.0)


def test_shutdown_during_a_long_sample(qtbot, tiny_model_file):
    w = DeviceWorker(device="cpu", torch_threads=1)
    recorder = Recorder(w)
    try:
        with qtbot.waitSignal(w.ready, timeout=WAIT_MS):
            w.start()
        load_tiny(qtbot, w, recorder, tiny_model_file)
        rid = w.submit(SampleRequest(length=10_000_000))
        qtbot.waitUntil(lambda: len(recorder.of(rid, "partial_ready")) >= 1, timeout=WAIT_MS)
        assert w.shutdown(timeout=1.0), "the worker did not stop within 1 second while sampling"
        assert not w.running
    finally:
        w.shutdown(timeout=5.0)


def test_shutdown_of_an_idle_worker_and_twice(qtbot):
    w = DeviceWorker(device="cpu", torch_threads=1)
    try:
        with qtbot.waitSignal(w.ready, timeout=WAIT_MS):
            w.start()
        assert w.running
        assert w.shutdown(timeout=1.0)
        assert w.shutdown(timeout=1.0)
        assert not w.running
    finally:
        w.shutdown(timeout=5.0)


# --- the training job, for any model --------------------------------------------------------------


class CountingLoop:
    """A training loop of no model at all: the members of rnnstudio.train.loop.TrainingLoop that
    the worker uses are all it knows of training."""

    def __init__(self, steps: int, fail_at: int | None = None):
        self.state = "running"
        self.iteration = 0
        self.planned = steps
        self.fail_at = fail_at
        self._iters: list[int] = []

    @property
    def done(self) -> bool:
        return self.iteration >= self.planned

    def step(self) -> list:
        if self.iteration + 1 == self.fail_at:
            raise RuntimeError("the counter overflowed")
        time.sleep(0.001)
        self.iteration += 1
        self._iters.append(self.iteration)
        return [self.progress()] if self.iteration % 10 == 0 else []

    def progress(self) -> TrainingProgress:
        p = TrainingProgress(iterations=self._iters, losses=[0.5] * len(self._iters), valid=[], chars_per_second=0.0,
                             learning_rate=0.1, iteration=self.iteration, planned=self.planned, state=self.state)
        self._iters = []
        return p


@dataclass(frozen=True)
class CountRequest(Request):
    answers = TrainingProgress
    partials = (TrainingProgress,)

    steps: int = 100
    fail_at: int | None = None


@handles(CountRequest)
def _start_counting(request: CountRequest, context):
    return StartsJob(CountingLoop(request.steps, request.fail_at))


def counted(recorder, rid) -> list[int]:
    return [i for r in recorder.of(rid) if isinstance(r.payload, TrainingProgress) for i in r.payload.iterations]


def test_a_job_of_any_model_trains_pauses_resumes_and_finishes(qtbot, worker, recorder):
    rid = worker.submit(CountRequest(steps=1_000_000))
    qtbot.waitUntil(lambda: len(counted(recorder, rid)) >= 20, timeout=WAIT_MS)
    assert wait_final(qtbot, recorder, worker.submit(TrainingControlRequest("pause"))).payload == "paused"
    paused_at = worker.jobs.job.iteration
    assert counted(recorder, rid) == list(range(1, paused_at + 1)), "the pause reports every iteration so far"
    time.sleep(0.1)
    assert worker.jobs.job.iteration == paused_at
    assert wait_final(qtbot, recorder, worker.submit(TrainingControlRequest("resume"))).payload == "running"
    qtbot.waitUntil(lambda: worker.jobs.job.iteration > paused_at, timeout=WAIT_MS)
    assert wait_final(qtbot, recorder, worker.submit(TrainingControlRequest("stop"))).payload == "stopped"
    final = wait_final(qtbot, recorder, rid).payload
    assert final.state == "stopped" and counted(recorder, rid) == list(range(1, final.iteration + 1))

    short = worker.submit(CountRequest(steps=25))
    final = wait_final(qtbot, recorder, short).payload
    assert final.state == "finished" and final.iteration == 25 and counted(recorder, short) == list(range(1, 26))


def test_a_failing_job_ends_its_request_with_the_error_and_the_worker_goes_on(qtbot, worker, recorder):
    rid = worker.submit(CountRequest(steps=100, fail_at=15))
    error = wait_final(qtbot, recorder, rid, "errored").payload
    assert not error.user_error and "RuntimeError: the counter overflowed" in error.message
    assert counted(recorder, rid) == list(range(1, 15)), "the steps before the fault are all reported"
    assert wait_final(qtbot, recorder, worker.submit(CallRequest(fn=lambda: "on"))).payload == "on"


def test_a_new_job_stops_the_running_one(qtbot, worker, recorder):
    first = worker.submit(CountRequest(steps=1_000_000))
    qtbot.waitUntil(lambda: len(counted(recorder, first)) >= 10, timeout=WAIT_MS)
    second = worker.submit(CountRequest(steps=30))
    assert wait_final(qtbot, recorder, first).payload.state == "stopped"
    assert wait_final(qtbot, recorder, second).payload.iteration == 30

    # Superseded in its slot while paused: it ends (cancelled, and dropped) and the new one trains.
    third = worker.submit(CountRequest(steps=1_000_000), slot="train")
    qtbot.waitUntil(lambda: len(counted(recorder, third)) >= 10, timeout=WAIT_MS)
    wait_final(qtbot, recorder, worker.submit(TrainingControlRequest("pause")))
    fourth = worker.submit(CountRequest(steps=20), slot="train")
    assert wait_final(qtbot, recorder, fourth).payload.iteration == 20
    assert recorder.final(third) is None


def test_reset_forgets_the_run_and_its_model(qtbot, worker, recorder, tiny_text_file):
    train_id = worker.submit(StartCharRNNTrainingRequest(spec=training_spec(tiny_text_file)))
    qtbot.waitUntil(lambda: len(progress_of(recorder, train_id)) >= 1, timeout=WAIT_MS)
    assert len(wait_final(qtbot, recorder, worker.submit(SampleRequest(role=TRAINING, length=5))).payload.text) == 5
    assert wait_final(qtbot, recorder, worker.submit(TrainingControlRequest("reset"))).payload == "reset"
    assert wait_final(qtbot, recorder, train_id).payload.state == "stopped"
    error = wait_final(qtbot, recorder, worker.submit(SampleRequest(role=TRAINING, length=5)), "errored").payload
    assert error.user_error and "no model is being trained" in error.message
    error = wait_final(qtbot, recorder, worker.submit(TrainingControlRequest("pause")), "errored").payload
    assert error.user_error and error.message == "no training run to pause"


def test_an_error_nobody_asked_for_is_still_delivered(qtbot, worker):
    """A request submitted without on_error: its error goes to unhandled_error (the main window's
    status bar), once."""
    errors = []
    worker.unhandled_error.connect(errors.append)
    rid = worker.submit(CallRequest(fn=lambda: 1 / 0))
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    handled = []
    done = worker.submit(CallRequest(fn=lambda: 1 / 0), on_error=handled.append)
    qtbot.waitUntil(lambda: bool(handled), timeout=WAIT_MS)
    assert [e.request_id for e in errors] == [rid] and done != rid
    assert "ZeroDivisionError" in errors[0].payload.message
