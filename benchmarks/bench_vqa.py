"""vqa_answer: the time from asking a question in the panel's way (a request to the worker)
to its answer, with the picture's features computed and with them reused from the cache,
each against the same model called bare on this thread (issue 5)."""

from __future__ import annotations

import time
from pathlib import Path

from bench_common import App, Row, Settings, log, median, spread, wait_until

QUESTION = "what color is the shape left of the triangle?"


def _model_file(tmp: Path) -> tuple[str, str]:
    """The shipped model, or (on a checkout without it) a fresh one of the shipped size."""
    from rnnstudio.errors import UserError
    from rnnstudio.paths import shipped_model

    try:
        return str(shipped_model("vqa")), "the shipped model"
    except UserError:
        from rnnstudio.nn.vqa import VQAConfig, VQAModel, save_vqa
        from rnnstudio.train.vqa import model_answers, model_vocab

        vocab = model_vocab()
        path = tmp / "vqa-untrained.safetensors"
        save_vqa(path, VQAModel(VQAConfig(vocab_size=len(vocab), answers=tuple(model_answers())), vocab), {"steps": 0})
        return str(path), "an untrained model of the default size (no shipped model found)"


def case_vqa_answer(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    import numpy as np
    import torch

    from rnnstudio.data import shapes
    from rnnstudio.data.images import fit_square
    from rnnstudio.nn.vqa import load_vqa
    from rnnstudio.worker.vqa_messages import LoadVQAModelRequest, VQAQuestionRequest

    torch.set_num_threads(threads)
    path, what = _model_file(tmp)
    model = load_vqa(path, device).model.eval()
    rng = np.random.default_rng(11)
    pictures = [shapes.render(shapes.random_scene(rng), size=256) for _ in range(8)]
    repeats = max(cfg.repeats, 5) * 4

    def bare(image, cached_features=None) -> float:
        t0 = time.perf_counter()
        feats = cached_features if cached_features is not None else model.encode_image(fit_square(image, 64))
        model.answer(feats, QUESTION)
        return 1000 * (time.perf_counter() - t0)

    rows = {"uncached": ([], []), "cached": ([], [])}
    with App(threads, device) as app:
        done = []
        app.worker.submit(LoadVQAModelRequest(path=path), on_result=done.append, on_error=done.append)
        wait_until(lambda: done, 60, "the worker to load the VQA model")

        def through_worker(key, image) -> float:
            got = []
            t0 = time.perf_counter()
            # The time is taken in the GUI thread's handler, not after wait_until's 10 ms polling.
            def arrived(r):
                got.append((time.perf_counter(), r))

            app.worker.submit(VQAQuestionRequest(image_key=key, image=image, question=QUESTION), slot="vqa.ask",
                              on_result=arrived, on_error=arrived)
            wait_until(lambda: got, 30, "an answer")
            t1, r = got[0]
            if not hasattr(r, "answers"):
                raise RuntimeError(f"the worker could not answer: {r.message}")
            return 1000 * (t1 - t0)

        bare(pictures[0]), through_worker("warm-up", pictures[0])
        for i in range(repeats):
            image = pictures[i % len(pictures)]
            rows["uncached"][0].append(bare(image))
            rows["uncached"][1].append(through_worker(f"new-{i}", image))  # a new key: features computed
            feats = model.encode_image(fit_square(image, 64))
            rows["cached"][0].append(bare(image, feats))
            rows["cached"][1].append(through_worker(f"new-{i}", image))  # the same key again: reused
        log(f"  vqa_answer: uncached {median(rows['uncached'][1]):.1f} ms, cached {median(rows['cached'][1]):.1f} ms")
    out = []
    for name, (base, ours) in rows.items():
        row = Row(f"vqa_answer_{name}", median(ours), median(base), "ms", "info", None)
        row.notes.append(
            f"{what}; a question through the worker, submit to result on the GUI thread, picture features "
            f"{'computed (a new picture)' if name == 'uncached' else 'reused from the cache'}, against the "
            f"model called on this thread ({'encode + answer' if name == 'uncached' else 'answer only'}); "
            f"rnnstudio {spread(ours, '{:.1f}')}, baseline {spread(base, '{:.1f}')} ms")
        out.append(row)
    return out
