"""Faults: an exception inside each kind of request, a model file deleted while in use, a full disk.

Faults are injected with monkeypatch into the real functions the worker calls (never by
mocking the worker): the worker must send the error to the caller with a message, keep
serving, and serve the next request of the same kind.
"""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from rnnstudio.errors import ModelFileError
from rnnstudio.train.progress import TrainingProgress
from rnnstudio.worker.caption_messages import CaptionModelInfo, CaptionRequest, CaptionResult, LoadCaptionModelRequest
from rnnstudio.worker.charrnn_messages import (
    SHIPPED,
    CharRNNModelInfo,
    CharRNNTrainSpec,
    LoadCharRNNRequest,
    SampleRequest,
    SampleResult,
    SaveCharRNNRequest,
    StartCharRNNTrainingRequest,
)
from rnnstudio.worker.gates_messages import (
    GatesRequest,
    GatesResult,
    GradientRequest,
    GradientResult,
    HypothesisRequest,
    HypothesisResult,
    InterventionRequest,
    InterventionResult,
)
from rnnstudio.worker.protocol import ErrorInfo
from rnnstudio.worker.sentiment_messages import (
    GradientReachRequest,
    GradientReachResult,
    LoadSentimentModelsRequest,
    MinimalPairRequest,
    MinimalPairResult,
    SentimentExamplesRequest,
    SentimentExamplesResult,
    SentimentModelsInfo,
    SentimentReadRequest,
    SentimentReadResult,
    SentimentModelInfo,
    SentimentTrainSpec,
    StartSentimentTrainingRequest,
    TrainingModelRequest,
)
from rnnstudio.worker.translate_messages import (
    Forcing,
    ForcingRequest,
    LengthCurves,
    LengthCurvesRequest,
    LoadTranslatorsRequest,
    NextWords,
    NextWordsRequest,
    StartTranslateTrainingRequest,
    TranslateRequest,
    TranslateTrainSpec,
    Translation,
    TranslatorsInfo,
)
from rnnstudio.worker.video_messages import (
    ClipDescription,
    DescribeClipRequest,
    LoadVideoModelRequest,
    StartVideoTrainingRequest,
    UseTrainedVideoModelRequest,
    VideoFramesRequest,
    VideoFramesResult,
    VideoModelInfo,
    VideoTrainSpec,
)
from rnnstudio.worker.vqa_messages import (
    LoadVQAModelRequest,
    VQAEvalRequest,
    VQAEvalResult,
    VQAModelInfo,
    VQAQuestionRequest,
    VQAResult,
)


@pytest.fixture
def files(tiny_model_file, caption_file, vqa_file, tmp_path):
    return {"charrnn": tiny_model_file, "caption": caption_file, "vqa": vqa_file, "tmp": tmp_path}


def _open_models(client, files, *tasks):
    if "charrnn" in tasks:
        client.run(LoadCharRNNRequest(path=str(files["charrnn"])))
    if "caption" in tasks:
        client.run(LoadCaptionModelRequest(path=str(files["caption"])))
    if "vqa" in tasks:
        client.run(LoadVQAModelRequest(path=str(files["vqa"])))
    if "translate" in tasks:
        client.run(LoadTranslatorsRequest(path=_translator_path(files), test_pairs=4))
    if "sentiment" in tasks:
        client.run(LoadSentimentModelsRequest(paths=_sentiment_paths(files)))
    if "video" in tasks:
        client.run(LoadVideoModelRequest())  # the shipped LRCN


def _sentiment_paths(files) -> tuple[str, ...]:
    """Tiny, really trained sentiment models (an LSTM and a vanilla RNN), written when a case needs them."""
    from sentiment_files import write_tiny_models

    folder = files["tmp"] / "sentiment"
    if not folder.is_dir():
        folder.mkdir()
        write_tiny_models(folder)
    return tuple(str(p) for p in sorted(folder.glob("*.safetensors")))


def _translator_path(files) -> str:
    """A tiny, really trained translator, written when a case needs it."""
    from translate_helpers import train_tiny_translator

    path = files["tmp"] / "tiny-translator.safetensors"
    if not path.is_file():
        train_tiny_translator(path)
    return str(path)


def _picture():
    from rnnstudio.data.shapes import random_scene, render

    return render(random_scene(np.random.default_rng(7)), 72)


# Each kind of request the worker serves: the models it needs open, the function the fault is
# injected into (owner, name, on which call), the request, and what its result must be.
def _cases():
    import rnnstudio.train.vqa as train_vqa
    from rnnstudio.nn import charrnn, modelfile
    from rnnstudio.data import sentiment as sentiment_data
    from rnnstudio.nn.captioner import Captioner
    from rnnstudio.nn.sentiment import SentimentClassifier
    from rnnstudio.nn import translation
    from rnnstudio.nn.video import LRCN, ClipReader
    from rnnstudio.nn.vqa import VQAModel
    from rnnstudio.train import translation as train_translation
    from rnnstudio.worker import caption_work, charrnn_work, gates_work, sentiment_work, video_work, vqa_work

    values = np.random.default_rng(0).random((40, 16)).astype(np.float32)
    return {
        # mid-stream: chunks have been sent when the fault strikes
        "sample": (("charrnn",), (charrnn, "sample_index", 30),
                   lambda f: SampleRequest(length=200, seed=1), SampleResult),
        "load": (("charrnn",), (charrnn_work, "load_charrnn", 0),
                 lambda f: LoadCharRNNRequest(path=str(f["charrnn"])), CharRNNModelInfo),
        "save": (("charrnn",), (modelfile, "safetensors_save", 0),
                 lambda f: SaveCharRNNRequest(path=str(f["tmp"] / "saved.safetensors"), role=SHIPPED), str),
        "gates": (("charrnn",), (gates_work, "trace_gates", 0),
                  lambda f: GatesRequest(text="the cat sat on the mat.\n"), GatesResult),
        "hypothesis": ((), (gates_work, "rank_units", 0),
                       lambda f: HypothesisRequest(values=values, start=5, end=12), HypothesisResult),
        # the second of its two samples fails, after the first was yielded
        "intervention": (("charrnn",), (gates_work, "generate_with_intervention", 1),
                         lambda f: InterventionRequest(prime="the ", length=40, clamps=((0, 3, 1.0),)),
                         InterventionResult),
        "gradient flow": ((), (gates_work, "gradient_norms", 1),
                          lambda f: GradientRequest(archs=("rnn", "lstm"), hidden=8, steps=20), GradientResult),
        "caption": (("caption",), (Captioner, "beam_search", 0),
                    lambda f: CaptionRequest(image=_picture(), beam=2), CaptionResult),
        "caption load": ((), (caption_work, "load_captioner", 0),
                         lambda f: LoadCaptionModelRequest(path=str(f["caption"])), CaptionModelInfo),
        "vqa load": ((), (vqa_work, "load_vqa", 0),
                     lambda f: LoadVQAModelRequest(path=str(f["vqa"])), VQAModelInfo),
        "vqa ask": (("vqa",), (VQAModel, "answer", 0),
                    lambda f: VQAQuestionRequest(image_key="p", image=_picture(), question="what color is it?"),
                    VQAResult),
        # after 3 of its 10 steps, with progress sent
        "vqa eval": (("vqa",), (train_vqa, "predict_answers", 3), lambda f: VQAEvalRequest(), VQAEvalResult),
        "translate load": ((), (translation, "load_translator", 0),
                           lambda f: LoadTranslatorsRequest(path=_translator_path(f), test_pairs=4), TranslatorsInfo),
        "translate": (("translate",), (translation.Translator, "translate", 0),
                      lambda f: TranslateRequest(text="Je suis content.", width=3), Translation),
        "translate next words": (("translate",), (translation.Translator, "step_top_k", 0),
                                 lambda f: NextWordsRequest(text="Je suis content.", k=3), NextWords),
        "translate forcing": (("translate",), (translation.Translator, "forcing_comparison", 0),
                              lambda f: ForcingRequest(french="Je suis content.", english="I am happy."), Forcing),
        # its second chunk of test sentences fails, after the first chunk's progress was sent
        "translate curves": (("translate",), (train_translation, "translate_pairs", 1),
                             lambda f: LengthCurvesRequest(roles=("attention",), limit=300), LengthCurves),
        # the second of the two files fails, after the first was opened
        "sentiment load": ((), (sentiment_work, "load_sentiment", 1),
                           lambda f: LoadSentimentModelsRequest(paths=_sentiment_paths(f)), SentimentModelsInfo),
        # the second model's forward-only curve (the first one's is read with its integrated gradients)
        "sentiment read": (("sentiment",), (sentiment_work, "curve_only", 0),
                           lambda f: SentimentReadRequest(text="the film was not good", models=("lstm", "rnn"),
                                                          salience_of="lstm"), SentimentReadResult),
        "sentiment reach": (("sentiment",), (SentimentClassifier, "gradient_reach", 1),
                            lambda f: GradientReachRequest(text="the film was not good at all"), GradientReachResult),
        "sentiment pair": (("sentiment",), (sentiment_data, "insert_not", 0),
                           lambda f: MinimalPairRequest(text="the film was good", edit="not"), MinimalPairResult),
        "sentiment examples": (("sentiment",), (SentimentClassifier, "predict_ids", 0),
                               lambda f: SentimentExamplesRequest(model="lstm", per_source=3),
                               SentimentExamplesResult),
        "video load": ((), (video_work, "load_video_model", 0), lambda f: LoadVideoModelRequest(), VideoModelInfo),
        # the second of its three frames fails, after the first was read
        "video frames": (("video",), (ClipReader, "step", 1),
                         lambda f: VideoFramesRequest(frames=(_picture(),) * 3, new_clip=True, clip=1),
                         VideoFramesResult),
        "video describe": (("video",), (LRCN, "describe", 0),
                           lambda f: DescribeClipRequest(clip=1, hidden=np.zeros(256, np.float32)), ClipDescription),
    }


CASES = list(_cases())


@pytest.mark.parametrize("kind", CASES)
def test_a_fault_in_a_request_is_reported_and_the_next_one_is_served(kind, client, files, fail_once):
    tasks, (owner, name, after), make, result_type = _cases()[kind]
    _open_models(client, files, *tasks)
    raised = fail_once(owner, name, after=after)

    rid = client.worker.submit(make(files))
    error = client.wait(rid, "errored")
    assert raised == [name], "the fault was injected where the request runs"
    assert isinstance(error, ErrorInfo) and not error.user_error
    assert f"InjectedFault: injected fault in {name}" in error.message
    assert client.recorder.of(rid, "result_ready") == []
    if kind == "vqa eval":  # it failed part-way, after reporting progress
        assert [r.payload.pictures_done for r in client.recorder.of(rid, "partial_ready")] == [0, 100, 200, 300]
    if kind == "translate curves":
        assert [r.payload.done for r in client.recorder.of(rid, "partial_ready")] == [0, 256]
    assert client.worker.running

    again = client.run(make(files))  # the same request, now without a fault
    assert isinstance(again, result_type)
    if kind == "sample":
        assert len(again.text) == 200
    if kind == "vqa eval":
        assert again.metrics["questions"] == len(again.questions) > 9000
    if kind == "save":
        from rnnstudio.nn.charrnn import load_charrnn

        assert load_charrnn(again).vocab == load_charrnn(files["charrnn"]).vocab
        assert sorted(p.name for p in files["tmp"].iterdir() if p.name.startswith(".")) == []  # no temp file


def test_every_kind_of_request_is_covered():
    """A new request type needs its fault case here (training has its own test below)."""
    import importlib
    import pkgutil

    import rnnstudio.worker
    from rnnstudio.worker.protocol import Request

    for module in pkgutil.iter_modules(rnnstudio.worker.__path__):  # every request the worker knows of
        importlib.import_module(f"rnnstudio.worker.{module.name}")

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    served = {r.__name__ for r in subclasses(Request) if r.__module__.startswith("rnnstudio.")}
    covered = {"SampleRequest", "LoadCharRNNRequest", "SaveCharRNNRequest", "GatesRequest", "HypothesisRequest",
               "InterventionRequest", "GradientRequest", "CaptionRequest", "LoadCaptionModelRequest",
               "LoadVQAModelRequest", "VQAQuestionRequest", "VQAEvalRequest",
               "LoadSentimentModelsRequest", "SentimentReadRequest", "GradientReachRequest", "MinimalPairRequest",
               "SentimentExamplesRequest",
               "LoadTranslatorsRequest", "TranslateRequest", "NextWordsRequest", "ForcingRequest",
               "LengthCurvesRequest", "LoadVideoModelRequest", "VideoFramesRequest",
               "DescribeClipRequest"}  # one case each in CASES
    # tests' hook, and reading a file the user chose (a plain function, like it); pause/resume/stop flags
    not_model_work = {"CallRequest", "ReadFileRequest", "TrainingControlRequest"}
    assert served - not_model_work == covered | TRAINING_REQUESTS
    assert len(CASES) == len(covered)


# Requests about a training run: covered by the tests of a fault in a run, below.
TRAINING_REQUESTS = {"StartCharRNNTrainingRequest", "StartSentimentTrainingRequest", "TrainingModelRequest",
                     "StartTranslateTrainingRequest", "StartVideoTrainingRequest", "UseTrainedVideoModelRequest"}


def _spec(corpus, steps):
    return CharRNNTrainSpec(corpus=str(corpus), arch="lstm", layers=1, hidden=16, embed=8, seq_len=16, batch_size=8,
                     lr=1e-2, steps=steps, eval_every=5, sample_at=(10,), sample_length=20)


@pytest.mark.parametrize("exc", [None, MemoryError("cannot allocate 2 GB")], ids=["bug", "out-of-memory"])
def test_a_fault_in_a_training_step_stops_that_run_and_the_next_run_trains(exc, client, tiny_text_file, fail_once):
    from rnnstudio.train.charrnn import CharRNNTrainer

    raised = fail_once(CharRNNTrainer, "step", after=6, exc=exc)
    first = client.worker.submit(StartCharRNNTrainingRequest(spec=_spec(tiny_text_file, 30)))
    error = client.wait(first, "errored")
    assert raised == ["step"]
    assert not error.user_error and error.message.startswith("training stopped by an internal error")
    assert ("InjectedFault: injected fault in step" if exc is None else "MemoryError: cannot allocate 2 GB") \
        in error.message
    iterations = [i for r in client.recorder.of(first, "partial_ready") if isinstance(r.payload, TrainingProgress)
                  for i in r.payload.iterations]
    assert iterations == list(range(1, 7))  # six steps, then the fault
    assert client.worker.jobs.job.state == "stopped"

    # The stopped run's model can still be sampled, and a new run trains to its end.
    assert len(client.run(SampleRequest(role="training", length=15, seed=0)).text) == 15
    second = client.worker.submit(StartCharRNNTrainingRequest(spec=_spec(tiny_text_file, 12)))
    final = client.wait(second)
    assert final.state == "finished" and final.iteration == 12


def test_a_fault_in_a_timeline_sample_stops_the_run_not_the_worker(client, tiny_text_file, fail_once):
    from rnnstudio.nn import charrnn

    raised = fail_once(charrnn, "sample_index", after=3)  # in the timeline sample at iteration 10
    rid = client.worker.submit(StartCharRNNTrainingRequest(spec=_spec(tiny_text_file, 30)))
    error = client.wait(rid, "errored")
    assert raised == ["sample_index"] and "injected fault in sample_index" in error.message
    assert client.worker.jobs.job.iteration == 10
    final = client.run(StartCharRNNTrainingRequest(spec=_spec(tiny_text_file, 12)))
    assert final.iteration == 12


def test_a_fault_in_a_sentiment_training_step_stops_that_run_and_the_next_run_trains(client, fail_once):
    from rnnstudio.train.sentiment import SentimentTrainer

    spec = SentimentTrainSpec(arch="rnn", steps=20, hidden=8, eval_every=10, probe_every=5)
    raised = fail_once(SentimentTrainer, "step", after=6)
    first = client.worker.submit(StartSentimentTrainingRequest(spec=spec))
    error = client.wait(first, "errored")
    assert raised == ["step"]
    assert not error.user_error and error.message.startswith("training stopped by an internal error")
    assert "InjectedFault: injected fault in step" in error.message
    assert client.worker.jobs.job.state == "stopped"
    # The stopped run's model can still read a sentence and be drawn (a fault there is said too),
    # and a new run trains to its end.
    reading = client.run(SentimentReadRequest(text="the film was good", models=("training",)))
    assert set(reading.readings) == {"training"}
    from rnnstudio.train.sentiment_loop import SentimentLoop

    raised = fail_once(SentimentLoop, "fit_view")
    error = client.run(TrainingModelRequest(), "errored")
    assert raised == ["fit_view"] and "injected fault in fit_view" in error.message and not error.user_error
    assert isinstance(client.run(TrainingModelRequest()), SentimentModelInfo)
    final = client.run(StartSentimentTrainingRequest(spec=spec))
    assert final.state == "finished" and final.iteration == 20


def test_a_fault_in_a_translation_training_step_stops_that_run_and_the_next_run_trains(client, files, fail_once):
    from rnnstudio.train.translation import TranslationTrainer

    client.run(LoadTranslatorsRequest(path=_translator_path(files), test_pairs=4))
    spec = TranslateTrainSpec(hidden=16, embed=8, steps=6, batch_size=8, eval_every=3, valid_pairs=4, train_pairs=300)
    raised = fail_once(TranslationTrainer, "step", after=4)
    first = client.worker.submit(StartTranslateTrainingRequest(spec=spec))
    error = client.wait(first, "errored")
    assert raised == ["step"]
    assert not error.user_error and error.message.startswith("training stopped by an internal error")
    assert "InjectedFault: injected fault in step" in error.message
    assert client.worker.jobs.job.state == "stopped"
    final = client.run(StartTranslateTrainingRequest(spec=spec))  # a new run trains to its end
    assert final.state == "finished" and final.iteration == 6
    again = client.run(TranslateRequest(text="Je suis content.", role="trained", width=2))
    assert again.role == "trained" and isinstance(again.translation, str)


def test_a_fault_in_a_video_training_step_stops_that_run_and_the_next_run_trains(client, fail_once):
    from rnnstudio.train.video import VideoTrainer

    spec = VideoTrainSpec(clips=8, steps=6, hidden=8)
    raised = fail_once(VideoTrainer, "step", after=3)
    first = client.worker.submit(StartVideoTrainingRequest(spec=spec))
    error = client.wait(first, "errored")
    assert raised == ["step"]
    assert not error.user_error and error.message.startswith("training stopped by an internal error")
    assert client.worker.jobs.job.state == "stopped"
    # The stopped run's model reads clips; a new run trains to its end and reads them too.
    assert client.run(UseTrainedVideoModelRequest()).hidden == 8
    assert len(client.run(VideoFramesRequest(frames=(_picture(),) * 2, new_clip=True, clip=1)).readings) == 2
    final = client.run(StartVideoTrainingRequest(spec=spec))
    assert final.state == "finished" and final.iteration == 6
    assert client.run(UseTrainedVideoModelRequest()).trained["steps"] == 6


# --- a model file deleted while in use ------------------------------------------------------------


def test_a_model_file_deleted_while_in_use(client, files, tiny_text_file):
    """The loaded models go on working; opening the file again says it is gone."""
    _open_models(client, files, "charrnn", "caption", "vqa")
    for task in ("charrnn", "caption", "vqa"):
        files[task].unlink()

    assert len(client.run(SampleRequest(prime="the ", length=50, seed=2)).text) == 50
    assert isinstance(client.run(GatesRequest(text="the dog sat on the log.")), GatesResult)
    kept = files["tmp"] / "kept.safetensors"
    assert client.run(SaveCharRNNRequest(path=str(kept), role=SHIPPED)) == str(kept)
    from rnnstudio.nn.charrnn import load_charrnn

    assert load_charrnn(kept).trained["steps"] == 20
    spec = _spec(tiny_text_file, 5)
    assert client.run(StartCharRNNTrainingRequest(spec=spec, continue_role=SHIPPED)).iteration == 25
    assert client.run(CaptionRequest(image=_picture(), beam=1)).words is not None
    assert client.run(VQAQuestionRequest(image_key="x", image=_picture(), question="is there a circle?")).answers

    for request in (LoadCharRNNRequest(path=str(files["charrnn"])), LoadCaptionModelRequest(path=str(files["caption"])),
                    LoadVQAModelRequest(path=str(files["vqa"]))):
        error = client.run(request, "errored")
        assert error.user_error
        assert error.message == f"model file {request.path} does not exist; check the path"
    # ... and a failed re-open leaves the open models as they were.
    assert len(client.run(SampleRequest(length=10, seed=2)).text) == 10
    assert client.run(CaptionRequest(image=_picture(), beam=1)).words is not None


# --- the disk full while saving -------------------------------------------------------------------


class _DiskFills:
    """os.fdopen for modelfile: its file writes part of the data, then the disk is full."""

    def __init__(self, real_fdopen, allow_bytes: int):
        self.real_fdopen, self.allow = real_fdopen, allow_bytes
        self.written = 0

    def __call__(self, fd, mode="r", *args, **kwargs):
        f = self.real_fdopen(fd, mode, *args, **kwargs)
        owner = self

        class Filling:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                f.close()
                return False

            def write(self, data):
                room = owner.allow - owner.written
                if len(data) > room:
                    f.write(data[:room])
                    f.flush()
                    owner.written += room
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as the OS raises it
                owner.written += len(data)
                return f.write(data)

            def __getattr__(self, name):
                return getattr(f, name)

        return Filling()


@pytest.mark.parametrize("room", [0, 1000, "half"])
def test_a_full_disk_while_saving_keeps_the_old_file(room, tiny_model_file, tmp_path, monkeypatch):
    from rnnstudio.nn import modelfile
    from rnnstudio.nn.charrnn import load_charrnn, save_charrnn

    folder = tmp_path / "models"
    folder.mkdir()
    target = folder / "mine.safetensors"
    old = tiny_model_file.read_bytes()
    target.write_bytes(old)
    loaded = load_charrnn(tiny_model_file)
    filling = _DiskFills(os.fdopen, len(old) // 2 if room == "half" else room)
    monkeypatch.setattr(modelfile.os, "fdopen", filling)

    with pytest.raises(ModelFileError) as raised:
        save_charrnn(target, loaded.model, loaded.vocab, {**loaded.trained, "steps": 99})
    assert filling.written == filling.allow  # the write really began, then failed
    assert target.read_bytes() == old, "the old file survives byte for byte"
    assert [p.name for p in folder.iterdir()] == ["mine.safetensors"], "no temporary file is left"
    message = str(raised.value)
    assert str(target) in message and "No space left on device" in message
    assert "the previous file, if any, is untouched" in message


def test_a_full_disk_while_saving_through_the_worker(client, files, monkeypatch):
    from rnnstudio.nn import modelfile

    _open_models(client, files, "charrnn")
    target = files["charrnn"]
    old = target.read_bytes()
    monkeypatch.setattr(modelfile.os, "fdopen", _DiskFills(os.fdopen, 4096))
    error = client.run(SaveCharRNNRequest(path=str(target), role=SHIPPED), "errored")
    assert error.user_error and "No space left on device" in error.message and str(target) in error.message
    assert target.read_bytes() == old
    assert sorted(p.name for p in files["tmp"].iterdir()) == sorted(
        ["tiny-lstm.safetensors", "tiny-caption.safetensors", "tiny-vqa.safetensors"])
    monkeypatch.undo()  # space again: the same save succeeds
    assert client.run(SaveCharRNNRequest(path=str(target), role=SHIPPED)) == str(target)
    assert client.run(LoadCharRNNRequest(path=str(target))).trained["steps"] == 20
