"""Translation on the worker thread: the shipped models (with and without attention) and the
one trained in the app, translating with the beam recorded, the decoder's next words for a
what-if, teacher forcing against free running, BLEU by sentence length on the test split in
cancellable steps, and training as the worker's job. Serves rnnstudio.worker.translate_messages."""

from __future__ import annotations

import time

from rnnstudio.errors import ModelFileError, UserError
from rnnstudio.worker.jobs import StartsJob
from rnnstudio.worker.protocol import WorkContext, handles
from rnnstudio.worker.translate_messages import (
    PLAIN_MODEL_FILE, ROLES, BeamNodeView, CurvesProgress, Forcing, ForcingRequest, LengthCurves,
    LengthCurvesRequest, LoadTranslatorsRequest, NextWords, NextWordsRequest, StartTranslateTrainingRequest,
    TranslateRequest, TranslateTrainingStarted, Translation, TranslatorsInfo, TranslatorSummary,
)

MAX_WIDTH = 20  # the panel's spin box stops here too: a wider beam shows nothing new and takes long
MAX_LENGTH_PENALTY = 5.0
CURVE_CHUNK = 256  # test sentences translated between two chances to cancel
MISSING_PLAIN = ("the model without attention ({name}) is not shipped yet: the comparisons with it wait for it; "
                 "train one in the Train tab with attention off to compare now")


class TranslateWorkspace:
    def __init__(self, device):
        self.device = device
        self.models: dict = {}  # role -> LoadedTranslator (the shipped ones)
        self.training = None  # the worker's job while it is a TranslationLoop

    # --- models ----------------------------------------------------------------------------------

    def load(self, request: LoadTranslatorsRequest) -> TranslatorsInfo:
        from rnnstudio.data.translation import load_splits
        from rnnstudio.nn.translation import load_translator
        from rnnstudio.paths import models_dirs, shipped_model

        self.models = {"attention": load_translator(request.path or shipped_model("translate"), self.device)}
        missing = {}
        plain = next((d / PLAIN_MODEL_FILE for d in models_dirs() if (d / PLAIN_MODEL_FILE).is_file()), None)
        try:
            if plain is None:
                raise ModelFileError(MISSING_PLAIN.format(name=PLAIN_MODEL_FILE))
            self.models["plain"] = load_translator(plain, self.device)
        except ModelFileError as e:
            missing["plain"] = str(e)
        try:
            test = evenly_spaced(load_splits().test, request.test_pairs)
        except UserError as e:  # the models still translate what is typed
            test, missing["test_pairs"] = [], str(e)
        return TranslatorsInfo(models={role: self.summary(role) for role in self.models}, missing=missing,
                               test_pairs=[(p.french, p.english) for p in test])

    def summary(self, role: str) -> TranslatorSummary:
        model, trained, path = self._loaded(role)
        return TranslatorSummary(role=role, path=str(path) if path else None, attention=model.attention is not None,
                                 cell=model.config.cell, trained=dict(trained))

    def _loaded(self, role: str):
        if role == "trained":
            if self.training is None:
                raise UserError("no translator has been trained in the app yet; start one in the Train tab")
            return self.training.trainer.model, self.training.trainer.trained_info(), None
        if role not in ROLES:
            raise UserError(f"unknown model {role!r}; choose one of {', '.join(ROLES)}")
        if role not in self.models:
            if role == "plain":
                raise UserError(MISSING_PLAIN.format(name=PLAIN_MODEL_FILE))
            raise UserError("no translation model is open; reinstall RNN Studio for the shipped one")
        loaded = self.models[role]
        return loaded.model, loaded.trained, loaded.path

    def model(self, role: str):
        return self._loaded(role)[0]

    # --- translating -----------------------------------------------------------------------------

    def translate(self, request: TranslateRequest) -> Translation:
        from rnnstudio.nn.translation import BeamTrace

        if not 1 <= request.width <= MAX_WIDTH:
            raise UserError(f"the beam width must be between 1 and {MAX_WIDTH}")
        if not 0.0 <= request.length_penalty <= MAX_LENGTH_PENALTY:
            raise UserError(f"the length penalty must be between 0 and {MAX_LENGTH_PENALTY:g}")
        t0 = time.perf_counter()
        model = self.model(request.role)
        trace = BeamTrace()
        result = model.translate(request.text, width=request.width, length_penalty=request.length_penalty,
                                 nbest=max(1, min(request.nbest, request.width)),
                                 forced_prefix=list(request.forced_prefix) or None, trace=trace)
        seconds = time.perf_counter() - t0
        bleu = None
        if request.reference:
            from sacrebleu import sentence_bleu

            bleu = sentence_bleu(result.translation, [request.reference]).score
        beam = [[BeamNodeView(n.token, n.logprob, n.score, n.parent, n.finished, n.forced, n.winner) for n in step]
                for step in trace.steps]
        return Translation(
            role=request.role, source=result.source, source_tokens=list(result.source_tokens),
            unknown_positions=list(result.unknown_positions), tokens=list(result.tokens), words=list(result.words),
            translation=result.translation, attention=result.attention,
            token_logprobs=list(result.hypotheses[0].token_logprobs),
            nbest=[(n.translation, n.logprob, n.score) for n in result.nbest], beam=beam, width=request.width,
            length_penalty=request.length_penalty, forced=len(request.forced_prefix), reference=request.reference,
            sentence_bleu=bleu, seconds=seconds, json=result.to_json(),
        )

    def next_words(self, request: NextWordsRequest) -> NextWords:
        import math

        if not 1 <= request.k <= 50:
            raise UserError("ask for between 1 and 50 next words")
        model = self.model(request.role)
        reading = model.read_source(request.text)
        choices = model.step_top_k(reading.ids, list(request.prefix), k=request.k)
        return NextWords(position=len(request.prefix), choices=[(c.token, math.exp(c.logprob)) for c in choices])

    def forcing(self, request: ForcingRequest) -> Forcing:
        if not request.english.strip():
            raise UserError("teacher forcing needs a reference translation: pick a test pair")
        c = self.model(request.role).forcing_comparison(request.french, request.english)
        return Forcing(role=request.role, reference=c.reference, teacher_forced_nll=c.teacher_forced_nll,
                       free_tokens=c.free_tokens, free_running_nll=c.free_running_nll, diverges_at=c.diverges_at)

    def curves(self, request: LengthCurvesRequest):
        """Greedy translations of the test split by each model, CURVE_CHUNK sentences a step."""
        from rnnstudio.data.translation import load_splits
        from rnnstudio.train.translation import translate_pairs

        test = load_splits().test
        pairs = test[: request.limit] if request.limit > 0 else test
        roles = [r for r in request.roles if r == "trained" and self.training is not None or r in self.models]
        if not roles:
            raise UserError(MISSING_PLAIN.format(name=PLAIN_MODEL_FILE))
        curves, bleu = {}, {}
        for role in roles:
            model = self.model(role)
            written = []
            yield CurvesProgress(role, 0, len(pairs))
            for start in range(0, len(pairs), CURVE_CHUNK):
                written += translate_pairs(model, pairs[start: start + CURVE_CHUNK], width=1)
                yield CurvesProgress(role, len(written), len(pairs))
            bleu[role], curves[role] = bleu_by_length(written, pairs)
        return LengthCurves(curves=curves, bleu=bleu, pairs=len(pairs))

    # --- training --------------------------------------------------------------------------------

    def start_training(self, request: StartTranslateTrainingRequest):
        from rnnstudio.train.distributed import Run
        from rnnstudio.train.translation import TranslateSettings
        from rnnstudio.train.translation_loop import translation_loop

        s = request.spec
        if s.train_pairs < 0:
            raise UserError("the number of training pairs must be 0 (all) or more")
        try:
            settings = TranslateSettings(attention=s.attention, cell=s.cell, hidden=s.hidden, embed=s.embed,
                                         steps=s.steps, batch_size=s.batch_size, lr=s.lr,
                                         teacher_forcing=s.teacher_forcing, eval_every=s.eval_every,
                                         valid_pairs=s.valid_pairs, seed=s.seed)
        except ValueError as e:
            raise UserError(str(e)) from None
        yield None  # reading the pairs takes a moment: a chance to be cancelled
        loop = translation_loop(settings, Run(self.device), train_pairs=s.train_pairs)
        self.training = loop
        yield TranslateTrainingStarted(loop.describe())
        return loop


def evenly_spaced(pairs: list, n: int) -> list:
    """`n` pairs spread over the list: the file is sorted by length, so its first pairs are all short."""
    if n <= 0:
        return []
    return pairs[:: max(1, len(pairs) // n)][:n]


def bleu_by_length(written: list[str], pairs) -> tuple[float, list[tuple[str, int, float]]]:
    """Corpus BLEU of `written` against the pairs' references, and in the core's length buckets."""
    from sacrebleu.metrics import BLEU

    from rnnstudio.data.translation import tokenize_french
    from rnnstudio.train.translation import LENGTH_BUCKETS, source_words

    references = [p.english for p in pairs]
    lengths = [source_words(tokenize_french(p.french)) for p in pairs]
    rows = []
    for low, high in LENGTH_BUCKETS:
        chosen = [i for i, n in enumerate(lengths) if n >= low and (high is None or n <= high)]
        if chosen:
            score = BLEU().corpus_score([written[i] for i in chosen], [[references[i] for i in chosen]]).score
            label = f"{low}+" if high is None else (str(low) if low == high else f"{low}-{high}")
            rows.append((label, len(chosen), score))
    return BLEU().corpus_score(written, [references]).score, rows


# --- handlers -----------------------------------------------------------------------------------


def workspace(context: WorkContext) -> TranslateWorkspace:
    from rnnstudio.train.translation_loop import TranslationLoop

    ws = context.state(TranslateWorkspace)
    if isinstance(context.job, TranslationLoop):
        ws.training = context.job  # kept after it ends (until a reset), so the trained model can be used
    elif context.job is None:
        ws.training = None
    return ws


@handles(LoadTranslatorsRequest)
def _load(request: LoadTranslatorsRequest, context: WorkContext) -> TranslatorsInfo:
    return workspace(context).load(request)


@handles(TranslateRequest)
def _translate(request: TranslateRequest, context: WorkContext) -> Translation:
    return workspace(context).translate(request)


@handles(NextWordsRequest)
def _next_words(request: NextWordsRequest, context: WorkContext) -> NextWords:
    return workspace(context).next_words(request)


@handles(ForcingRequest)
def _forcing(request: ForcingRequest, context: WorkContext) -> Forcing:
    return workspace(context).forcing(request)


@handles(LengthCurvesRequest)
def _curves(request: LengthCurvesRequest, context: WorkContext):
    return workspace(context).curves(request)


@handles(StartTranslateTrainingRequest)
def _start_training(request: StartTranslateTrainingRequest, context: WorkContext):
    loop = yield from workspace(context).start_training(request)
    return StartsJob(loop)
