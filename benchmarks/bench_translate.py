"""Translation cases (the translation issue's speed goals):

- translate_beam: a 10-word French sentence translated with beam width 5, attention, n-best
  and the beam's tree returned, through the worker (submit to result on the GUI thread), against
  a bare-PyTorch greedy decoder over the same weights on this thread (the least a translation
  can cost: one decoder step per English word, no beam, no bookkeeping). Goal: 50 ms.
- translate_train_stall: the GUI thread's longest stall while the worker trains a translator
  (the shipped model's size, the app's default settings), against the same probe idle.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench_common import STALL_GOAL_MS, STALL_PROBE_MS, App, Row, Settings, log, median
from bench_common import spread, training_stall, wait_until

SENTENCE = "Je ne pense pas que Tom veuille venir avec nous ce soir."  # 10 words (11 with the full stop)
GOAL_MS = 50.0


def bare_greedy(model, ids: list[int]) -> list[int]:
    """Greedy decoding written out in bare PyTorch from the model's own layers (GRU, one layer,
    additive attention, as shipped): encode, then argmax one word at a time until <eos>."""
    import torch

    c = model.config
    with torch.no_grad():
        keys, h = model.encoder(model.source_embed(torch.tensor([ids])))  # (1, S, H), (2, 1, H/2)
        summary = torch.cat([h[-2], h[-1]], dim=-1)  # (1, H)
        state = torch.tanh(model.bridge(summary)).view(1, 1, c.hidden).transpose(0, 1).contiguous()
        att = model.attention
        keys_proj = att.key(keys)
        word, out = model.target_vocab.sos, []
        for _ in range(c.max_output):
            e = att.score(torch.tanh(keys_proj + att.query(state[-1])[:, None, :])).squeeze(-1)
            context = torch.bmm(torch.softmax(e, -1)[:, None, :], keys).squeeze(1)  # (1, H)
            emb = model.target_embed(torch.tensor([word]))
            dec, state = model.decoder(torch.cat([emb, context], -1)[:, None, :], state)
            o = torch.tanh(model.output(torch.cat([dec[:, 0], context, emb], -1)))
            word = int(torch.argmax(o @ model.target_embed.weight.T + model.output_bias))
            if word == model.target_vocab.eos:
                break
            out.append(word)
    return out


def case_translate_beam(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    import torch

    from rnnstudio.nn.translation import load_translator
    from rnnstudio.paths import shipped_model
    from rnnstudio.worker.translate_messages import LoadTranslatorsRequest, TranslateRequest

    torch.set_num_threads(threads)
    model = load_translator(shipped_model("translate")).model
    ids = model.read_source(SENTENCE).ids
    repeats = max(cfg.repeats, 5) * 4
    bare, ours, handler, gui = [], [], [], []
    with App(threads, device) as app:
        panel = app.window.panels["translate"]
        app.window.show_panel("translate")
        done = []
        app.worker.submit(LoadTranslatorsRequest(test_pairs=0), on_result=done.append, on_error=done.append)
        wait_until(lambda: done, 120, "the worker to load the translators")
        for i in range(repeats + 2):
            t0 = time.perf_counter()
            bare_greedy(model, ids)
            b = 1000 * (time.perf_counter() - t0)
            got = []
            t0 = time.perf_counter()
            app.worker.submit(TranslateRequest(text=SENTENCE, width=5), slot="translate.text",
                              on_result=lambda r: got.append((time.perf_counter(), r)),
                              on_error=lambda e: got.append((time.perf_counter(), e)))
            wait_until(lambda: got, 30, "a translation")
            t1, r = got[0]
            if not hasattr(r, "attention"):
                raise RuntimeError(f"the worker could not translate: {r.message}")
            t2 = time.perf_counter()
            panel.translating.show_result(r)
            panel.translating.show_all_words()
            panel.translating.repaint()  # painted too: the attention's numbers, the beam's tree
            shown = 1000 * (time.perf_counter() - t2)
            if i >= 2:  # the first two warm up both sides
                bare.append(b), ours.append(1000 * (t1 - t0)), handler.append(1000 * r.seconds), gui.append(shown)
        log(f"  translate_beam: worker {median(ours):.1f} ms (handler {median(handler):.1f} ms), "
            f"bare greedy {median(bare):.1f} ms, shown in {median(gui):.1f} ms")
    row = Row("translate_beam", median(ours), median(bare), "ms", f"<= {GOAL_MS:.0f} ms", median(ours) <= GOAL_MS)
    row.notes.append(f"the shipped fr-en-attention model, {len(ids)} French tokens, beam 5 with attention, n-best "
                     f"and the beam's tree, submit to result on the GUI thread: {spread(ours, '{:.1f}')} ms "
                     f"(the handler itself {spread(handler, '{:.1f}')}); bare-PyTorch greedy on this thread "
                     f"{spread(bare, '{:.1f}')} ms; showing and painting the result on the GUI thread "
                     f"{spread(gui, '{:.1f}')} ms")
    return [row]


def case_translate_train_stall(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    from rnnstudio.worker.translate_messages import (
        StartTranslateTrainingRequest, TranslateTrainingStarted, TranslateTrainSpec,
    )

    with App(threads, device) as app:
        tab = app.window.panels["translate"].training
        request = StartTranslateTrainingRequest(spec=TranslateTrainSpec(steps=10**6, eval_every=200))
        idle, busy, own = training_stall(app, cfg, "translate", request, TranslateTrainingStarted, tab._partial)
    row = Row("translate_train_stall", median(busy), median(idle), "ms", "<= 50 ms", median(busy) <= 50.0)
    row.notes.append(f"probe every {STALL_PROBE_MS} ms, {threads} torch thread(s), the app's default translator "
                     f"(GRU 256, attention); training {spread(busy, '{:.1f}')}, idle {spread(idle, '{:.1f}')} ms; "
                     f"less the GUI thread's waits for a core {spread(own, '{:.1f}')} ms "
                     f"(the char-RNN's own goal is {STALL_GOAL_MS:.0f} ms)")
    return [row]
