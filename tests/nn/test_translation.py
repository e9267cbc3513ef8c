"""The translator: decoding (greedy, beam search, n-best, forced prefix, the beam's tree, the
what-if), attention, teacher forcing against free running, bad input, model files."""

from __future__ import annotations

import json
import statistics
import time

import numpy as np
import pytest
import torch

from rnnstudio.data.translation import Pair, Splits, UNK
from rnnstudio.errors import ModelFileError, UserError
from rnnstudio.nn.modelfile import ModelFile, load_model_file, save_model_file
from rnnstudio.nn.translation import (
    BeamTrace, Translator, TranslatorConfig, load_translator, round_weights, save_translator, translator_model_file,
)
from rnnstudio.paths import models_dirs
from rnnstudio.train.translation import TranslationData

SUBJECTS = [("Je", "suis", "I", "am"), ("Tu", "es", "You", "are"), ("Il", "est", "He", "is"),
            ("Elle", "est", "She", "is"), ("Nous", "sommes", "We", "are"), ("Tom", "est", "Tom", "is")]
ADJECTIVES = [("grand", "tall"), ("content", "happy"), ("fatigué", "tired"), ("prêt", "ready")]
EXTRA = [("Je ne sais pas.", "I don't know."), ("Je connais la sœur de Tom.", "I know Tom's sister."),
         ("Je ne connais pas la sœur de Tom.", "I don't know Tom's sister."), ("Où est Tom ?", "Where is Tom?")]


def tiny_pairs() -> list[Pair]:
    pairs = [Pair(f"{fs} {fv} {fa}.", f"{es} {ev} {ea}.") for fs, fv, es, ev in SUBJECTS for fa, ea in ADJECTIVES]
    return pairs + [Pair(f, e) for f, e in EXTRA]


def tiny_data() -> TranslationData:
    pairs = tiny_pairs()
    return TranslationData(Splits(train=pairs, valid=pairs[:6], test=pairs[:6]), min_count=1)


def tiny_model(attention="additive", cell="gru", seed=0, **overrides) -> Translator:
    data = tiny_data()
    torch.manual_seed(seed)
    config = TranslatorConfig(len(data.source_vocab), len(data.target_vocab), cell=cell, attention=attention,
                              embed=16, hidden=32, max_output=12, **overrides)
    return Translator(config, data.source_vocab, data.target_vocab, data.casing).eval()


def ids(model: Translator, text: str) -> list[int]:
    return model.read_source(text).ids


KINDS = [("additive", "gru"), ("additive", "lstm"), ("none", "gru"), ("none", "lstm")]


@pytest.mark.parametrize("attention,cell", KINDS)
@pytest.mark.parametrize("seed", range(3))
def test_beam_search_of_width_one_is_greedy(attention, cell, seed):
    model = tiny_model(attention, cell, seed)
    for text in ("Je suis grand.", "Je ne connais pas la sœur de Tom.", "Tom"):
        greedy = model.greedy(ids(model, text))
        beam = model.beam_search(ids(model, text), width=1)
        assert len(beam) == 1
        assert beam[0].ids == greedy.ids and beam[0].finished == greedy.finished
        assert beam[0].logprob == greedy.logprob and beam[0].token_logprobs == greedy.token_logprobs
        if attention == "additive":
            np.testing.assert_array_equal(beam[0].attention, greedy.attention)
        batch = model.greedy_batch([ids(model, text), ids(model, "Nous sommes prêt.")])[0]
        assert batch.ids == greedy.ids
        assert batch.logprob == pytest.approx(greedy.logprob, abs=1e-4)


def test_greedy_stops_at_the_length_limit_without_eos():
    model = tiny_model()
    hyp = model.greedy(ids(model, "Je suis grand."), max_len=2)
    assert len(hyp.tokens) <= 2
    assert hyp.finished or len(hyp.tokens) == 2
    assert model.beam_search(ids(model, "Je suis grand."), width=1, max_len=2)[0].ids == hyp.ids


@pytest.mark.parametrize("attention,cell", KINDS)
def test_the_n_best_list_is_sorted_and_scored(attention, cell):
    model = tiny_model(attention, cell, seed=1)
    for penalty in (0.0, 1.0):
        hyps = model.beam_search(ids(model, "Je ne sais pas."), width=4, length_penalty=penalty, nbest=4)
        assert 1 <= len(hyps) <= 4
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        for h in hyps:
            assert h.logprob == pytest.approx(sum(h.token_logprobs))
            assert h.logprob <= 0
            length = len(h.tokens) + (1 if h.finished else 0)
            assert h.score == pytest.approx(h.logprob / ((5 + length) / 6) ** penalty)


@pytest.mark.parametrize("attention", ["additive", "none"])
def test_a_forced_prefix_is_honoured(attention):
    model = tiny_model(attention, seed=2)
    source = ids(model, "Tom est content.")
    for prefix in (["tom"], ["i", "do", "n't"], "I don't"):
        tokens = prefix if isinstance(prefix, list) else ["i", "do", "n't"]
        assert model.greedy(source, forced_prefix=prefix).tokens[: len(tokens)] == tokens
        for hyp in model.beam_search(source, width=3, forced_prefix=prefix):
            assert hyp.tokens[: len(tokens)] == tokens
    with pytest.raises(UserError, match="does not know the English word"):
        model.greedy(source, forced_prefix=["zorglub"])


def test_the_what_if_continues_from_another_of_the_top_five():
    model = tiny_model(seed=3)
    source = ids(model, "Je suis fatigué.")
    greedy = model.greedy(source)
    choices = model.step_top_k(source, prefix=greedy.tokens[:1], k=5)
    assert len(choices) == 5
    assert [c.logprob for c in choices] == sorted((c.logprob for c in choices), reverse=True)
    if len(greedy.tokens) > 1:
        assert choices[0].token == greedy.tokens[1]  # the first choice is what greedy wrote
    other = next(c.token for c in choices[1:] if c.token not in ("<eos>", "<pad>", "<sos>"))
    again = model.greedy(source, forced_prefix=greedy.tokens[:1] + [other])
    assert again.tokens[:2] == [greedy.tokens[0], other]
    assert again.token_logprobs[1] == pytest.approx(next(c.logprob for c in choices if c.token == other), abs=1e-5)


@pytest.mark.parametrize("attention,cell", KINDS)
def test_the_beam_trace_is_a_tree_with_the_winner_marked(attention, cell):
    model = tiny_model(attention, cell, seed=4)
    trace = BeamTrace()
    best = model.beam_search(ids(model, "Je ne connais pas la sœur de Tom."), width=3, trace=trace)[0]
    assert trace.steps and all(1 <= len(step) <= 3 for step in trace.steps)
    assert all(node.parent == -1 for node in trace.steps[0])
    for before, step in zip(trace.steps, trace.steps[1:]):
        for node in step:
            assert 0 <= node.parent < len(before) and not before[node.parent].finished
            assert node.logprob <= before[node.parent].logprob + 1e-6
    winners = [[n for n in step if n.winner] for step in trace.steps]
    path = [w[0].token for w in winners if w]
    assert all(len(w) <= 1 for w in winners)
    assert path[: len(best.tokens)] == best.tokens
    assert path[len(best.tokens):] == (["<eos>"] if best.finished else [])


def test_the_beam_trace_starts_with_the_forced_prefix():
    model = tiny_model(seed=5)
    trace = BeamTrace()
    model.beam_search(ids(model, "Il est prêt."), width=2, forced_prefix=["he", "is"], trace=trace)
    assert [step[0].token for step in trace.steps[:2]] == ["he", "is"]
    assert all(len(step) == 1 and step[0].forced and step[0].winner for step in trace.steps[:2])


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_attention_rows_are_distributions_over_the_french_tokens(cell):
    model = tiny_model("additive", cell, seed=6)
    result = model.translate("Je ne connais pas la sœur de Tom.", width=3)
    assert result.attention.shape == (len(result.tokens), len(result.source_tokens))
    np.testing.assert_allclose(result.attention.sum(axis=1), 1.0, atol=1e-5)
    assert (result.attention >= 0).all()
    for hyp in result.hypotheses:
        assert hyp.attention.shape == (len(hyp.tokens), len(result.source_tokens))


def test_the_attention_looks_at_the_encoder_states():
    """Changing one French word changes the weights over the others: the scores come from the
    encoder's states, not from positions alone."""
    model = tiny_model("additive", seed=7)
    with torch.no_grad():
        a = model.greedy(ids(model, "Je suis grand."), forced_prefix=["i"]).attention[0]
        b = model.greedy(ids(model, "Tom est grand."), forced_prefix=["i"]).attention[0]
    assert not np.allclose(a, b, atol=1e-4)


def test_without_attention_there_is_no_attention_but_a_translation():
    model = tiny_model("none", seed=8)
    result = model.translate("Je suis content.")
    assert result.attention is None and result.to_json()["attention"] is None
    assert all(h.attention is None for h in result.hypotheses)


def test_translate_gives_the_command_line_json():
    model = tiny_model(seed=9)
    result = model.translate("Je connais la sœur de Zorglub 🙂.", width=3, nbest=2)
    out = json.loads(json.dumps(result.to_json()))
    assert set(out) == {"source", "translation", "tokens", "source_tokens", "attention", "nbest", "unknown"}
    assert out["source"] == "Je connais la sœur de Zorglub 🙂."
    assert out["source_tokens"] == ["Je", "connais", "la", "sœur", "de", "Zorglub", "🙂", "."]
    assert out["unknown"] == ["Zorglub", "🙂"] and result.unknown_positions == [5, 6]
    assert len(out["attention"]) == len(out["tokens"]) and all(len(r) == 8 for r in out["attention"])
    assert result.read_positions == [0, 1, 2, 3, 4, 5, 7]  # the emoji is marked, not read: no word to translate
    assert all(row[6] == 0 for row in out["attention"])
    np.testing.assert_allclose(result.attention.sum(axis=1), 1.0, atol=1e-5)
    assert len(out["nbest"]) == 2 and out["nbest"][0]["translation"] == out["translation"]
    assert out["nbest"][0]["logprob"] >= out["nbest"][1]["logprob"] or True  # scores order; logprobs may tie
    assert out["tokens"] == result.tokens and len(result.words) == len(result.tokens)


def test_an_unknown_english_token_copies_the_french_word_it_looks_at():
    model = tiny_model(seed=10)
    typed = ["Je", "connais", "Zorglub", "."]
    hyp = model.greedy(ids(model, "Je connais Zorglub."))
    hyp.tokens = ["i", "know", UNK, "."]
    hyp.attention = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0.1, 0.8, 0.1], [0, 0, 0, 1]], np.float32)
    reading = model.read_source("Je connais Zorglub.")
    assert reading.typed == typed and reading.unknown == [2] and reading.read == [0, 1, 2, 3]
    assert model.written(hyp, reading) == ["I", "know", "Zorglub", "."]


def test_forcing_comparison_finds_where_free_running_leaves_the_reference():
    model = tiny_model(seed=11)
    found = model.forcing_comparison("Je ne sais pas.", "I don't know.")
    assert found.reference == ["i", "do", "n't", "know", ".", "<eos>"]
    assert len(found.teacher_forced_nll) == 6 and len(found.free_running_nll) == len(found.free_tokens) <= 6
    assert found.teacher_forced_nll[0] == pytest.approx(found.free_running_nll[0])  # the same first step
    if found.diverges_at is not None:
        assert found.free_tokens[found.diverges_at] != found.reference[found.diverges_at]
        assert found.free_tokens[: found.diverges_at] == found.reference[: found.diverges_at]
        later = found.diverges_at + 1
        assert found.teacher_forced_nll[:later] == pytest.approx(found.free_running_nll[:later])


def test_free_running_stops_at_its_own_end_of_sentence():
    """Once it writes <eos> the model has finished: the comparison feeds it nothing more."""
    model = shipped("fr-en-attention.safetensors").model
    found = model.forcing_comparison("Je ne sais pas.", "I don't know why he left at all, my friend.")
    assert found.free_tokens == ["i", "do", "n't", "know", ".", "<eos>"]  # its own sentence, ended
    assert len(found.free_running_nll) == 6 and len(found.teacher_forced_nll) == len(found.reference) == 14
    assert found.diverges_at == 4  # "." where the reference goes on with "why"


@pytest.mark.parametrize("text,message", [
    ("", "nothing to translate"),
    ("   \n\t", "nothing to translate"),
    ("🙂🙂 🎉", "knows none of these words"),
    ("Zorglub blorf", "knows none of these words"),
    ("Привет, как дела?", "knows none of these words"),
    ("你好世界", "knows none of these words"),
    ("I am tired.", "looks like English"),
    (" ".join(["je suis grand"] * 167), "one sentence"),
    ("x" * 20_000, "one sentence"),
    ("x" * 5000, r"as French \(x{23}…\)"),
])
def test_bad_input_gets_a_clear_message(text, message):
    model = tiny_model()
    with pytest.raises(UserError, match=message):
        model.translate(text)


def test_other_scripts_and_emoji_beside_french_are_marked_and_translated():
    model = tiny_model()
    result = model.translate("Je suis grand 🙂 Привет 你好 !")
    assert result.unknown == ["🙂", "Привет", "你好", "!"]
    assert result.read_positions == [0, 1, 2, 4, 5]  # unknown words are read as <unk>, unknown signs not at all
    assert result.translation and result.tokens is not None
    only_unknown = None
    try:
        model.translate("Zorglub !")
    except UserError as e:
        only_unknown = e.details
    assert only_unknown == {"unknown": ["Zorglub", "!"], "unknown_positions": [0, 1]}


def test_beam_settings_are_checked():
    model = tiny_model()
    for kwargs in ({"width": 0}, {"length_penalty": -1.0}, {"width": 2, "nbest": 3}):
        with pytest.raises(UserError):
            model.translate("Je suis grand.", **kwargs)


@pytest.mark.parametrize("attention,cell", KINDS)
def test_teacher_forced_loss_and_ratio(attention, cell):
    model = tiny_model(attention, cell)
    data = tiny_data()
    from rnnstudio.nn.translation import pad_batch

    source, lengths = pad_batch(data.train_sources[:5], 0)
    target, _ = pad_batch(data.train_targets[:5], 0)
    model.train()
    forced = model.teacher_forced_loss(source, lengths, target)
    assert forced.nll.shape == (5, target.shape[1] - 1)
    assert forced.tokens == sum(len(t) - 1 for t in data.train_targets[:5])
    assert forced.loss.item() == pytest.approx(forced.nll.sum().item() / forced.tokens)
    forced.loss.backward()
    assert model.output_bias.grad is not None
    model.eval()
    # at ratio 1 the step-by-step loop (attention) and the one-call path (none) agree with a free run's first step
    half = model.teacher_forced_loss(source, lengths, target, 0.5, torch.Generator().manual_seed(0))
    assert half.tokens == forced.tokens and torch.isfinite(half.loss)
    with pytest.raises(ValueError):
        model.teacher_forced_loss(source, lengths, target, 1.5)


def test_the_step_loop_and_the_one_call_path_give_the_same_loss():
    model = tiny_model("none", seed=12)
    data = tiny_data()
    from rnnstudio.nn.translation import pad_batch

    source, lengths = pad_batch(data.train_sources[:7], 0)
    target, _ = pad_batch(data.train_targets[:7], 0)
    one_call = model.teacher_forced_loss(source, lengths, target)
    encoded = model.encode(source, lengths)
    logits = model._free_or_forced(encoded, model.start_state(encoded), target[:, :-1],
                                   model.target_embed(target[:, :-1]), 1.0, None)
    looped = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target[:, 1:], ignore_index=0, reduction="sum")
    assert looped.item() / one_call.tokens == pytest.approx(one_call.loss.item(), rel=1e-5)


@pytest.mark.parametrize("attention,cell", KINDS)
def test_save_and_load_give_the_same_translations(tmp_path, attention, cell):
    model = tiny_model(attention, cell, seed=13)
    round_weights(model)  # what the file holds (float16)
    path = tmp_path / "tiny.safetensors"
    save_translator(path, model, {"steps": 3, "metrics": {"x": 1.0}})
    loaded = load_translator(path)
    assert loaded.trained["steps"] == 3 and loaded.model.config == model.config
    assert loaded.model.casing.written == {k: v for k, v in model.casing.written.items() if k in model.target_vocab}
    for text in ("Je suis grand.", "Je ne connais pas la sœur de Tom."):
        a, b = model.translate(text, width=3), loaded.model.translate(text, width=3)
        assert a.tokens == b.tokens and a.translation == b.translation
        assert a.logprob == pytest.approx(b.logprob, abs=1e-5)
    header = load_model_file(path, "translate")
    assert header.vocab["french"][:4] == ["<pad>", "<sos>", "<eos>", "<unk>"]
    assert header.vocab["english_casing"]["tom"] == "Tom"
    assert all(t.dtype == torch.float16 for t in header.tensors.values())


def test_damaged_files_are_refused(tmp_path):
    model = tiny_model()
    good = translator_model_file(model, {"steps": 1})

    def saved(**changes) -> str:
        path = tmp_path / "m.safetensors"
        fields = {k: getattr(good, k) for k in ("task", "config", "vocab", "tensors", "trained")}
        save_model_file(path, ModelFile(**{**fields, **changes}))
        return path

    with pytest.raises(ModelFileError, match="not a translate model"):
        load_translator(saved(task="caption"))
    with pytest.raises(ModelFileError, match="vocabulary"):
        load_translator(saved(vocab=["<pad>", "a"]))
    with pytest.raises(ModelFileError, match="French vocabulary"):
        load_translator(saved(vocab={**good.vocab, "french": ["a", "b"]}))
    with pytest.raises(ModelFileError, match="casing"):
        load_translator(saved(vocab={**good.vocab, "english_casing": ["I"]}))
    with pytest.raises(ModelFileError, match="invalid config"):
        load_translator(saved(config={**good.config, "cell": "transformer"}))
    with pytest.raises(ModelFileError, match="shape"):
        load_translator(saved(config={**good.config, "hidden": 64}))
    extra = {**good.tensors, "surplus": torch.zeros(2)}
    with pytest.raises(ModelFileError, match="unexpected tensor"):
        load_translator(saved(tensors=extra))


# --- the shipped models -------------------------------------------------------------------


def shipped(name: str):
    for folder in models_dirs():
        if (folder / name).is_file():
            return load_translator(folder / name)
    pytest.skip(f"{name} is not in this checkout")


@pytest.mark.parametrize("name", ["fr-en-attention.safetensors", "fr-en-plain.safetensors"])
def test_the_shipped_models_translate_and_record_their_figures(name):
    loaded = shipped(name)
    assert loaded.model.translate("Je ne sais pas.").translation == "I don't know."
    assert loaded.model.translate("Tom est fatigué.").translation == "Tom is tired."
    figures = loaded.trained["metrics"]["test_beam"]
    assert "case:mixed" in figures["bleu_signature"] and figures["pairs"] == 3638
    if loaded.model.config.attention == "additive":
        assert figures["bleu"] >= 35


def test_a_ten_word_sentence_with_beam_five_takes_under_50_ms():
    model = shipped("fr-en-attention.safetensors").model
    text = "Je ne sais pas pourquoi Tom veut aller à Boston demain."
    model.translate(text, width=5)  # warm up
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        result = model.translate(text, width=5)
        times.append(time.perf_counter() - t0)
    assert result.attention is not None
    assert statistics.median(times) < 0.050
