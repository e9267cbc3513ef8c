"""Captioning on the device thread: loading the captioner and captioning frames.

Plain Python and torch, no Qt; the handlers registered here serve the requests of
rnnstudio.worker.caption_messages. OpenCV and the captioner load with this module, on the
first captioning request.
"""

from __future__ import annotations

import time

import torch

from rnnstudio.data.images import fit_square
from rnnstudio.errors import UserError
from rnnstudio.nn.captioner import images_to_tensor, load_captioner
from rnnstudio.paths import shipped_model
from rnnstudio.worker.caption_messages import (
    CaptionModelInfo,
    CaptionRequest,
    CaptionResult,
    LoadCaptionModelRequest,
)
from rnnstudio.worker.protocol import WorkContext, handles

MAX_BEAM = 20


class CaptionWorkspace:
    def __init__(self, device: torch.device):
        self.device = device
        self.loaded = None

    def load(self, request: LoadCaptionModelRequest) -> CaptionModelInfo:
        path = request.path or str(shipped_model("caption"))
        self.loaded = load_captioner(path, self.device)
        c = self.loaded.model.config
        return CaptionModelInfo(
            path=str(path), encoder=c.encoder, vocab_size=len(self.loaded.vocab), input_size=c.image_size,
            trained=dict(self.loaded.trained),
        )

    def caption(self, request: CaptionRequest) -> CaptionResult:
        if self.loaded is None:
            raise UserError("no captioning model is open; open one, or reinstall RNN Studio for the shipped one")
        if not 1 <= request.beam <= MAX_BEAM:
            raise UserError(f"the beam width must be between 1 and {MAX_BEAM}")
        image = request.image
        if image is None or getattr(image, "ndim", 0) != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 8:
            raise UserError("the frame is not an RGB picture of at least 8 x 8 pixels")
        t0 = time.perf_counter()
        model = self.loaded.model
        size = model.config.image_size
        with torch.inference_mode():
            features = model.encode(images_to_tensor([fit_square(image, size)], self.device))
            best = model.greedy(features) if request.beam == 1 else model.beam_search(features, beam=request.beam)
        grade = f1 = None
        if request.truth is not None and hasattr(request.truth, "shapes"):
            from rnnstudio.data import shapes

            grade = shapes.grade(best.text, request.truth)
            f1 = shapes.object_f1(best.text, request.truth)
        return CaptionResult(
            frame_index=request.frame_index,
            image=image,
            words=list(best.words),
            probabilities=list(best.probs),
            attention=best.attention,
            nbest=list(best.nbest),
            grade=grade,
            f1=f1,
            seconds=time.perf_counter() - t0,
        )


@handles(LoadCaptionModelRequest)
def _load(request: LoadCaptionModelRequest, context: WorkContext) -> CaptionModelInfo:
    return context.state(CaptionWorkspace).load(request)


@handles(CaptionRequest)
def _caption(request: CaptionRequest, context: WorkContext) -> CaptionResult:
    return context.state(CaptionWorkspace).caption(request)
