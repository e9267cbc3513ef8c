"""The LSTM internals lab's work on the device thread: gates, unit search, interventions,
gradient flow, on the char-RNN workspace's models (one character a step), and gates on the
sentiment workspace's word-level models (one word a step). Plain Python and torch, no Qt; the
handlers registered here serve the requests of rnnstudio.worker.gates_messages.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rnnstudio.errors import TextFileError, UserError
from rnnstudio.nn.gates import saturation, trace_gates, trace_word_gates
from rnnstudio.nn.gradients import GRADIENT_EXPLANATION, gradient_norms
from rnnstudio.nn.hypothesis import find_matches, rank_units
from rnnstudio.nn.interventions import generate_with_intervention
from rnnstudio.worker.charrnn_work import CharRNNWorkspace, workspace
from rnnstudio.worker.gates_messages import (
    MAX_GATES_CHARS,
    WORD,
    GatesRequest,
    GatesResult,
    GradientRequest,
    GradientResult,
    HypothesisRequest,
    HypothesisResult,
    InterventionRequest,
    InterventionResult,
)
from rnnstudio.worker.protocol import WorkContext, handles

SATURATED_GATES = {"lstm": ("i", "f", "o"), "gru": ("r", "z"), "rnn": ()}


def compute_gates(ws: CharRNNWorkspace, request: GatesRequest) -> GatesResult:
    if not request.text:
        raise UserError("there is no text to read; type or paste some, or take the latest sample")
    if len(request.text) > MAX_GATES_CHARS:
        raise UserError(f"the text has {len(request.text):,} characters; the lab reads at most {MAX_GATES_CHARS:,}")
    loaded = ws.model(request.role)
    unknown = loaded.vocab.unknown(request.text)
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:8])
        raise TextFileError(
            f"the text has characters this model has never seen: {shown}; remove or replace them "
            f"(they are marked in the text)",
            details={"unknown_characters": unknown},
        )
    model = loaded.model
    was_training = model.training
    model.eval()
    try:
        trace = trace_gates(model, loaded.vocab.encode(request.text))
    finally:
        model.train(was_training)
    gates = SATURATED_GATES[trace.arch]
    return GatesResult(
        text=request.text,
        arch=trace.arch,
        vocab=list(loaded.vocab.chars),
        layers=trace.layers,
        preacts=trace.preacts,
        probs=trace.probs,
        saturation=[{g: saturation(layer[g]) for g in gates} for layer in trace.layers],
        model_title=(f"the opened char-{trace.arch.upper()} ({Path(loaded.path).name})" if loaded.path
                     else f"the char-{trace.arch.upper()} in training"),
    )


def compute_word_gates(ws, request: GatesRequest, job) -> GatesResult:
    """`request.text` read through a sentiment model (ws: the SentimentWorkspace), one word a
    step, with the sentiment tokeniser: unknown words are read as <unk> and marked (`known`)."""
    from rnnstudio.nn.sentiment import ARCH_TITLES, load_sentiment
    from rnnstudio.worker.sentiment_messages import TRAINING
    from rnnstudio.worker.sentiment_work import shipped_sentiment_files

    name = request.sentiment
    loaded = ws.readers((name,), job).get(name)
    if loaded is None and name != TRAINING:
        path = shipped_sentiment_files().get(name)
        if path is not None:  # the sentiment panel has not opened it yet: open it here, once
            loaded = ws.models[name] = load_sentiment(path, ws.device)
    if loaded is None:
        raise UserError("no sentiment model is training or trained in this session; train one on the Sentiment "
                        "panel's Train tab" if name == TRAINING else
                        f"there is no sentiment model {name!r} (models/sentiment-{name}.safetensors); choose another")
    if loaded.arch not in ("rnn", "gru", "lstm"):
        raise UserError("the bag of words has no recurrent layer, so no gates or states: choose the sentiment LSTM")
    model = loaded.model
    tokens, ids, _unknown = model.tokens_for(request.text)  # SentimentTextError: empty, too long, no known word
    was_training = model.training
    model.eval()
    try:
        trace = trace_word_gates(model, ids)
    finally:
        model.train(was_training)
    if name == TRAINING:
        title = f"the sentiment {ARCH_TITLES[loaded.arch]} trained in this session"
    else:
        title = f"the sentiment {ARCH_TITLES[loaded.arch]}" + (f" ({loaded.path.name})" if loaded.path else "")
    gates = SATURATED_GATES[trace.arch]
    return GatesResult(
        text=request.text, arch=trace.arch, vocab=[], layers=trace.layers, preacts=trace.preacts, probs=trace.probs,
        saturation=[{g: saturation(layer[g]) for g in gates} for layer in trace.layers],
        level=WORD, steps=[t.text for t in tokens], spans=[(t.start, t.end) for t in tokens],
        known=np.array([i != model.vocabulary.unk for i in ids], dtype=bool), model_title=title,
        sentiment_unit=loaded.sentiment_unit,
    )


def search_units(request: HypothesisRequest) -> HypothesisResult:
    values = request.values
    if values is None:
        raise UserError("compute the gates of a text first")
    if not 0 <= request.start < request.end <= len(values):
        raise UserError("select a part of the text first: the units that are on inside it are searched")
    ranked = rank_units(values, request.start, request.end, request.threshold)[: request.top]
    units = [u for u, _ in ranked[:3]]
    matches = find_matches(values, units, request.threshold) if units else []
    return HypothesisResult(ranked=ranked, matches=matches, units=units)


def intervene(ws: CharRNNWorkspace, request: InterventionRequest):
    loaded = ws.model(request.role)
    config = loaded.model.config
    if request.state == "c" and config.arch != "lstm":
        raise UserError("only an LSTM has a memory cell c; clamp h instead")
    for layer, unit, _ in request.clamps:
        if not (0 <= layer < config.layers and 0 <= unit < config.hidden):
            raise UserError(
                f"there is no unit {unit} in layer {layer + 1}; units go from 0 to {config.hidden - 1}, "
                f"layers from 1 to {config.layers}"
            )
    prime = loaded.vocab.encode(request.prime)
    clamps = {(layer, unit): value for layer, unit, value in request.clamps}
    model = loaded.model
    was_training = model.training
    model.eval()
    texts = []
    try:
        for chosen in ({}, clamps):
            generator = torch.Generator(device="cpu").manual_seed(request.seed)
            indices = generate_with_intervention(
                model, prime, request.length, request.temperature, 0, generator, chosen, request.state
            )
            texts.append(loaded.vocab.decode(indices))
            yield None  # a chance to be cancelled between the two samples
    finally:
        model.train(was_training)
    return InterventionResult(plain=texts[0], intervened=texts[1])


def gradient_flow(ws: CharRNNWorkspace, request: GradientRequest):
    curves = {}
    if request.role is not None:
        loaded = ws.model(request.role)
        arch = loaded.model.config.arch
        curves[arch] = gradient_norms(
            arch, loaded.model.config.hidden, request.steps, request.singular_value, request.forget_bias,
            request.seed, model_rnn=loaded.model.rnn,
        )
    else:
        for arch in request.archs:
            curves[arch] = gradient_norms(
                arch, request.hidden, request.steps, request.singular_value, request.forget_bias, request.seed
            )
            yield None
    return GradientResult(curves=curves, explanation=GRADIENT_EXPLANATION, request=request)


# --- handlers -----------------------------------------------------------------------------------


@handles(GatesRequest)
def _gates(request: GatesRequest, context: WorkContext) -> GatesResult:
    if request.sentiment is not None:
        from rnnstudio.worker.sentiment_work import SentimentWorkspace

        return compute_word_gates(context.state(SentimentWorkspace), request, context.job)
    return compute_gates(workspace(context), request)


@handles(HypothesisRequest)
def _search_units(request: HypothesisRequest, context: WorkContext) -> HypothesisResult:
    return search_units(request)


@handles(InterventionRequest)
def _intervene(request: InterventionRequest, context: WorkContext):
    return intervene(workspace(context), request)


@handles(GradientRequest)
def _gradient_flow(request: GradientRequest, context: WorkContext):
    return gradient_flow(workspace(context), request)
