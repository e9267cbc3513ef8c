"""Video on the device thread: loading the LRCN, reading clips frame by frame, training a small one.

Plain Python and torch, no Qt; the handlers registered here serve the requests of
rnnstudio.worker.video_messages. The LSTM's state between two requests is the workspace's
`ClipReader`: frames arrive in order, a few at a time, as the source delivers them.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from rnnstudio.data.clips import MOTIONS, OBJECTS
from rnnstudio.data.images import fit_square
from rnnstudio.errors import UserError
from rnnstudio.nn.video import LRCN, ClipReader, FrameReading, load_video_model
from rnnstudio.paths import shipped_model
from rnnstudio.train.distributed import Run
from rnnstudio.train.video import VideoLoop, VideoTrainer, new_model
from rnnstudio.train.video_defaults import VideoDefaults
from rnnstudio.worker.jobs import StartsJob
from rnnstudio.worker.protocol import WorkContext, handles
from rnnstudio.worker.video_messages import (
    ClipDescription,
    ClipWord,
    DescribeClipRequest,
    FrameRead,
    LoadVideoModelRequest,
    StartVideoTrainingRequest,
    UseTrainedVideoModelRequest,
    VideoFramesRequest,
    VideoFramesResult,
    VideoModelInfo,
    VideoTrainingStarted,
)

MAX_FRAMES_PER_REQUEST = 64  # the panel sends what arrived since its last request: a few frames
MAX_TRAIN = {"clips": 2000, "steps": 5000, "hidden": 512}


def frame_problem(frame) -> str | None:
    """Why `frame` cannot be read as a video frame, or None."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        return "a frame is not an RGB picture (8-bit, 3 channels)"
    if min(frame.shape[:2]) < 8:
        return f"a frame of {frame.shape[1]}x{frame.shape[0]} pixels is too small; frames need at least 8 x 8"
    return None


def frame_read(r: FrameReading) -> FrameRead:
    return FrameRead(index=r.index, motion_p=r.motion_p, object_p=r.object_p, hidden=r.hidden,
                     baseline_motion_p=r.baseline_motion_p, motion=r.motion, obj=r.obj, guess=r.guess,
                     baseline_motion=r.baseline_motion)


class VideoWorkspace:
    def __init__(self, device: torch.device):
        self.device = device
        self.reader: ClipReader | None = None
        self.clip = -1  # the panel's clip the reader is in

    def use(self, model: LRCN, path, trained: dict) -> VideoModelInfo:
        self.reader, self.clip = ClipReader(model, self.device), -1
        c = model.config
        return VideoModelInfo(path=None if path is None else str(path), image_size=c.image_size, hidden=c.hidden,
                              motions=MOTIONS, objects=OBJECTS, trained=dict(trained), decoder=model.decoder is not None)

    def load(self, request: LoadVideoModelRequest) -> VideoModelInfo:
        path = request.path or shipped_model("video")
        loaded = load_video_model(path, self.device)
        return self.use(loaded.model, loaded.path or path, loaded.trained)

    def use_trained(self, job) -> VideoModelInfo:
        if not isinstance(job, VideoLoop):
            raise UserError("no video model was trained in this session; press Train first")
        if job.state in ("running", "paused"):
            raise UserError("the video model is still training; wait for it to finish, or stop it")
        return self.use(job.trainer.model, None, job.trainer.trained_info())

    def read(self, request: VideoFramesRequest) -> VideoFramesResult:
        if self.reader is None:
            raise UserError("no video model is open; open one, or reinstall RNN Studio for the shipped one")
        if not 1 <= len(request.frames) <= MAX_FRAMES_PER_REQUEST:
            raise UserError(f"send 1 to {MAX_FRAMES_PER_REQUEST} frames at a time")
        for frame in request.frames:
            problem = frame_problem(frame)
            if problem:
                raise UserError(f"{problem}; choose another source")
        t0 = time.perf_counter()
        if request.new_clip or request.clip != self.clip:
            self.reader.reset()
            self.clip = request.clip
        size = self.reader.model.config.image_size
        readings = [frame_read(self.reader.step(fit_square(f, size))) for f in request.frames]
        return VideoFramesResult(clip=request.clip, readings=readings, seconds=time.perf_counter() - t0)

    def describe(self, request: DescribeClipRequest) -> ClipDescription:
        if self.reader is None:
            raise UserError("no video model is open; open one, or reinstall RNN Studio for the shipped one")
        model = self.reader.model
        hidden = request.hidden
        if not isinstance(hidden, np.ndarray) or hidden.shape != (model.config.hidden,):
            raise UserError(f"the clip's state is not a vector of the model's {model.config.hidden} units; "
                            f"read the clip again")
        if request.motion not in MOTIONS or (request.obj is not None and request.obj not in OBJECTS):
            raise UserError(f"{request.motion!r} / {request.obj!r} is not a motion and shape this model knows")
        with torch.inference_mode():
            state = torch.as_tensor(hidden, dtype=torch.float32, device=self.device)
            words = model.describe(state, request.motion, request.obj)
        return ClipDescription(request.clip, [ClipWord(w.word, w.p, w.alternatives) for w in words],
                               written=model.decoder is not None)

    def start_training(self, request: StartVideoTrainingRequest):
        spec = request.spec
        for name, most in MAX_TRAIN.items():
            value = getattr(spec, name)
            if not 1 <= value <= most:
                raise UserError(f"{name} must be between 1 and {most}, not {value}")
        defaults = VideoDefaults(clips=spec.clips, steps=spec.steps, hidden=spec.hidden,
                                 batch_size=min(VideoDefaults.batch_size, spec.clips),
                                 log_every=max(1, spec.steps // 20))
        trainer = VideoTrainer(new_model(defaults), defaults, self.device)
        run = VideoLoop(trainer, spec.steps, Run(self.device), seed=defaults.seed, log_every=defaults.log_every)
        yield VideoTrainingStarted(clips=spec.clips, parameters=sum(p.numel() for p in trainer.params))
        return StartsJob(run)


def _workspace(context: WorkContext) -> VideoWorkspace:
    return context.state(VideoWorkspace)


@handles(LoadVideoModelRequest)
def _load(request: LoadVideoModelRequest, context: WorkContext) -> VideoModelInfo:
    return _workspace(context).load(request)


@handles(UseTrainedVideoModelRequest)
def _use_trained(request: UseTrainedVideoModelRequest, context: WorkContext) -> VideoModelInfo:
    return _workspace(context).use_trained(context.job)


@handles(VideoFramesRequest)
def _read(request: VideoFramesRequest, context: WorkContext) -> VideoFramesResult:
    return _workspace(context).read(request)


@handles(DescribeClipRequest)
def _describe(request: DescribeClipRequest, context: WorkContext) -> ClipDescription:
    return _workspace(context).describe(request)


@handles(StartVideoTrainingRequest)
def _train(request: StartVideoTrainingRequest, context: WorkContext):
    started = yield from _workspace(context).start_training(request)
    return started  # the run answers this request with progress until it ends
