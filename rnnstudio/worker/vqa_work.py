"""Visual question answering on the worker thread: the model, a cache of picture features,
and evaluation on easy-VQA in small, cancellable steps. The handlers registered here serve
the requests of rnnstudio.worker.vqa_messages."""

from __future__ import annotations

import collections
import time

import torch

from rnnstudio.data.images import fit_square
from rnnstudio.errors import UserError
from rnnstudio.nn.vqa import load_vqa
from rnnstudio.paths import shipped_model
from rnnstudio.worker.protocol import WorkContext, handles
from rnnstudio.worker.vqa_messages import (
    LoadVQAModelRequest,
    VQAEvalProgress,
    VQAEvalRequest,
    VQAEvalResult,
    VQAModelInfo,
    VQAQuestionRequest,
    VQAResult,
)

FEATURE_CACHE_SIZE = 32  # pictures whose features are kept: a class asks many questions of few pictures
EVAL_PICTURES_PER_STEP = 100  # evaluation yields (and can be cancelled) after this many pictures
MAX_TOPK = 50


class VQAWorkspace:
    def __init__(self, device: torch.device):
        self.device = device
        self.loaded = None
        self._features: collections.OrderedDict[str, torch.Tensor] = collections.OrderedDict()

    def load(self, request: LoadVQAModelRequest) -> VQAModelInfo:
        path = request.path or str(shipped_model("vqa"))
        self.loaded = load_vqa(path, self.device)
        self._features.clear()  # features of another model mean nothing to this one
        model = self.loaded.model
        return VQAModelInfo(path=str(path), answers=list(model.answers), vocab=list(model.vocab),
                            image_size=model.config.image_size, trained=dict(self.loaded.trained))

    def _model(self):
        if self.loaded is None:
            raise UserError(
                "no question-answering model is open; open one, or reinstall RNN Studio for the shipped one")
        return self.loaded.model

    def features(self, key: str, image) -> tuple[torch.Tensor, bool]:
        """The picture's features, from the cache when `key` was seen before; (features, cached)."""
        if key and key in self._features:
            self._features.move_to_end(key)
            return self._features[key], True
        if image is None or getattr(image, "ndim", 0) != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 8:
            raise UserError("there is no picture to ask about; choose one on the left (at least 8 x 8 pixels)")
        model = self._model()
        feats = model.encode_image(fit_square(image, model.config.image_size))
        if key:
            self._features[key] = feats
            while len(self._features) > FEATURE_CACHE_SIZE:
                self._features.popitem(last=False)
        return feats, False

    def ask(self, request: VQAQuestionRequest) -> VQAResult:
        if not 1 <= request.topk <= MAX_TOPK:
            raise UserError(f"top-k must be between 1 and {MAX_TOPK}")
        t0 = time.perf_counter()
        model = self._model()
        feats, cached = self.features(request.image_key, request.image)
        a = model.answer(feats, request.question, topk=request.topk)
        order = sorted(range(len(model.answers)), key=lambda i: -float(a.probs[i]))
        return VQAResult(
            image_key=request.image_key, question=request.question, words=a.words, unknown_words=a.unknown_words,
            answers=a.answers, all_answers=[(model.answers[i], float(a.probs[i])) for i in order],
            hidden=a.hidden, glimpses=a.glimpses, features_cached=cached, seconds=time.perf_counter() - t0,
        )

    def evaluate(self, request: VQAEvalRequest):
        """Every question of an easy-VQA split, a hundred pictures a step; progress as partials."""
        from rnnstudio.data.easyvqa import load_easyvqa
        from rnnstudio.train.vqa import easyvqa_eval_set, predict_answers, score

        model = self._model()
        split = load_easyvqa(request.split)
        yield VQAEvalProgress(0, len(split.image_paths))
        data = easyvqa_eval_set(split, model.config.image_size)
        by_picture = collections.defaultdict(list)
        for n, picture in enumerate(data.image_of):
            by_picture[picture].append(n)
        predicted = [""] * len(data.questions)
        pictures = sorted(by_picture)
        for start in range(0, len(pictures), EVAL_PICTURES_PER_STEP):
            rows = [n for p in pictures[start : start + EVAL_PICTURES_PER_STEP] for n in by_picture[p]]
            answers = predict_answers(model, data.images, [data.questions[n] for n in rows],
                                      [data.image_of[n] for n in rows], self.device)
            for n, answer in zip(rows, answers):
                predicted[n] = answer
            yield VQAEvalProgress(min(start + EVAL_PICTURES_PER_STEP, len(pictures)), len(pictures))
        return VQAEvalResult(
            split=request.split, metrics=score(predicted, data.answers, data.kinds, model.answers),
            questions=list(data.questions), truth=list(data.answers), predicted=predicted,
            image_paths=[split.image_paths[p] for p in data.image_of],
        )


@handles(LoadVQAModelRequest)
def _load(request: LoadVQAModelRequest, context: WorkContext) -> VQAModelInfo:
    return context.state(VQAWorkspace).load(request)


@handles(VQAQuestionRequest)
def _ask(request: VQAQuestionRequest, context: WorkContext) -> VQAResult:
    return context.state(VQAWorkspace).ask(request)


@handles(VQAEvalRequest)
def _evaluate(request: VQAEvalRequest, context: WorkContext):
    return context.state(VQAWorkspace).evaluate(request)
