"""The char-RNN trainer, for real at tiny sizes: learning, evaluation, exact resume."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnstudio.data.text import split_for_validation, text_to_codepoints
from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig, load_charrnn, save_charrnn
from rnnstudio.train.charrnn import CharRNNTrainer, TrainSettings, evaluate_text


def mean(xs):
    return sum(xs) / len(xs)


def losses_of(trainer, steps):
    return [trainer.step()["loss"] for _ in range(steps)]


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_loss_goes_down_on_repetitive_text(tiny_trainer, arch):
    trainer = tiny_trainer(arch=arch, hidden=32, steps=0, seq_len=24, batch_size=16, lr=1e-2, planned=100)
    vocab_size = len(trainer.vocab)
    losses = losses_of(trainer, 100)
    assert all(math.isfinite(x) for x in losses)
    first, last = mean(losses[:10]), mean(losses[-10:])
    # It starts near uniform guessing and learns the verse: far below it after 100 steps.
    assert first > 0.6 * math.log(vocab_size)
    assert last < 0.5 * first, (arch, first, last)
    assert last < 0.6, (arch, last)
    assert trainer.iteration == 100
    assert trainer.chars_seen == 100 * 16 * 24
    valid = trainer.validate()
    assert math.isfinite(valid) and valid < 0.5 * math.log(vocab_size)


def test_step_reports_plain_numbers(tiny_trainer):
    trainer = tiny_trainer(steps=0)
    info = trainer.step()
    assert set(info) == {"iteration", "loss", "chars", "seconds", "lr"}
    assert info["iteration"] == 1 and info["chars"] == 8 * 16
    assert all(isinstance(v, (int, float)) for v in info.values())


def test_learning_rate_decays_to_a_tenth(tiny_trainer):
    trainer = tiny_trainer(steps=0, lr=1e-2)
    assert trainer.learning_rate() == pytest.approx(1e-2)
    trainer.iteration = trainer.settings.steps
    assert trainer.learning_rate() == pytest.approx(1e-3)
    trainer.iteration = 10 * trainer.settings.steps
    assert trainer.learning_rate() == pytest.approx(1e-3)


def test_evaluate_text_trained_beats_untrained(tiny_trainer):
    trainer = tiny_trainer(hidden=32, steps=100, seq_len=24, batch_size=16, lr=1e-2)
    torch.manual_seed(123)
    untrained = CharRNN(trainer.model.config)
    text = "the cat sat on the mat.\nthe dog sat on the log.\n" * 8
    indices = trainer.vocab.encode_points(text_to_codepoints(text))
    trained_nats = evaluate_text(trainer.model, indices)
    untrained_nats = evaluate_text(untrained, indices)
    assert math.isfinite(trained_nats) and math.isfinite(untrained_nats)
    assert trained_nats > 0
    assert untrained_nats == pytest.approx(math.log(len(trainer.vocab)), rel=0.25)
    assert trained_nats < 0.5 * untrained_nats


def test_evaluate_text_equals_a_plain_forward_pass(tiny_trainer):
    # One stream and one chunk: the mean cross-entropy of predicting each next character.
    trainer = tiny_trainer(steps=10)
    text = "the dog sat on the mat.\n" * 4
    indices = trainer.vocab.encode_points(text_to_codepoints(text))
    model = trainer.model.eval()
    with torch.no_grad():
        x = torch.as_tensor(np.asarray(indices[:-1], dtype=np.int64))[None]
        y = torch.as_tensor(np.asarray(indices[1:], dtype=np.int64))
        want = float(torch.nn.functional.cross_entropy(model(x)[0][0], y))
    got = evaluate_text(model, indices, streams=1, chunk=1000)
    assert got == pytest.approx(want, rel=1e-5)
    # Carrying the state across chunks gives the same figure.
    assert evaluate_text(model, indices, streams=1, chunk=7) == pytest.approx(want, rel=1e-5)


def test_evaluate_text_needs_two_characters(tiny_trainer):
    trainer = tiny_trainer(steps=0)
    with pytest.raises(ValueError):
        evaluate_text(trainer.model, np.array([1]))


def test_trainer_refuses_a_too_short_text():
    from rnnstudio.errors import TextFileError

    corpus = split_for_validation("short", text_to_codepoints("abcdefghij" * 100))
    with pytest.raises(TextFileError, match="too short"):
        CharRNNTrainer(corpus, CharRNNConfig(vocab_size=1), TrainSettings(seq_len=2000), device="cpu")


def test_continuing_on_a_text_with_new_characters_is_refused(tiny_trainer):
    from rnnstudio.errors import TextFileError

    trainer = tiny_trainer(steps=1)
    corpus = split_for_validation("new", text_to_codepoints("XYZ the cat " * 100))
    with pytest.raises(TextFileError, match="'X'"):
        CharRNNTrainer(corpus, trainer.config, trainer.settings, vocab=trainer.vocab.chars, model=trainer.model)


# --- exact resume ---------------------------------------------------------------------------------


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("arch", ["lstm", "gru"])
def test_resume_from_file_is_exact(tmp_path, tiny_trainer, arch):
    """Train N steps, save with the optimizer state, load, train M more: the same weights as
    N + M steps in one go.

    The trainer draws its batches from a generator seeded with settings.seed + iteration
    when it is made; the uninterrupted run goes on drawing from the generator seeded at
    iteration 0, so the resumed run only matches if the file carries where that
    generator was (or the batches do not depend on how the run was cut).
    """
    n, m = 12, 9
    straight = tiny_trainer(arch=arch, steps=n + m, planned=n + m)
    first = tiny_trainer(arch=arch, steps=n, planned=n + m)
    assert first.settings == straight.settings
    path = tmp_path / "half.safetensors"
    save_charrnn(path, first.model, first.vocab.chars, first.trained_info(), first.optimizer_tensors())

    loaded = load_charrnn(path)
    assert loaded.trained["steps"] == n
    corpus = split_for_validation("tiny", text_to_codepoints(_text_of(first)), fraction=0.1)
    resumed = CharRNNTrainer(
        corpus, loaded.model.config, straight.settings, device="cpu", vocab=loaded.vocab, model=loaded.model,
        trained=loaded.trained, optimizer_tensors=loaded.optimizer_tensors,
    )
    assert resumed.iteration == n
    assert resumed.learning_rate() == first.learning_rate()
    for _ in range(m):
        resumed.step()
    assert resumed.iteration == straight.iteration == n + m

    want, got = _weights(straight.model), _weights(resumed.model)
    differing = [k for k in want if not torch.equal(want[k], got[k])]
    assert not differing, (
        f"resuming from a file is not exact: {differing} differ (largest difference "
        f"{max(float((want[k] - got[k]).abs().max()) for k in differing):.3g}); the batch generator "
        f"is re-seeded with seed + iteration on resume, while the uninterrupted run keeps "
        f"drawing from the generator seeded at iteration 0"
    )


def test_resume_restores_adam_state_exactly(tmp_path, tiny_trainer):
    """The part of resuming that the file does carry: weights and Adam's moments, bit for bit."""
    trainer = tiny_trainer(steps=7)
    path = tmp_path / "m.safetensors"
    save_charrnn(path, trainer.model, trainer.vocab.chars, trainer.trained_info(), trainer.optimizer_tensors())
    loaded = load_charrnn(path)
    corpus = split_for_validation("tiny", text_to_codepoints(_text_of(trainer)), fraction=0.1)
    resumed = CharRNNTrainer(
        corpus, loaded.model.config, trainer.settings, device="cpu", vocab=loaded.vocab, model=loaded.model,
        trained=loaded.trained, optimizer_tensors=loaded.optimizer_tensors,
    )
    want, got = trainer.optimizer_tensors(), resumed.optimizer_tensors()
    assert set(got) == set(want)
    for k in want:
        assert torch.equal(got[k], want[k]), k
    for k, v in _weights(trainer.model).items():
        assert torch.equal(resumed.model.state_dict()[k], v), k
    # The same batch from here on gives the same update.
    trainer.generator = torch.Generator().manual_seed(99)
    resumed.generator = torch.Generator().manual_seed(99)
    trainer.step()
    resumed.step()
    for k, v in _weights(trainer.model).items():
        assert torch.equal(resumed.model.state_dict()[k], v), k


def _text_of(trainer) -> str:
    from rnnstudio.data.text import codepoints_to_text

    vocab = np.array([ord(c) for c in trainer.vocab.chars], dtype=np.uint32)
    train = vocab[trainer.train_data.long().numpy()]
    valid = vocab[trainer.valid_data.long().numpy()]
    return codepoints_to_text(np.concatenate([train, valid]))


def test_training_is_reproducible_with_a_seed(tiny_trainer):
    a = tiny_trainer(steps=15, seed=3)
    b = tiny_trainer(steps=15, seed=3)
    c = tiny_trainer(steps=15, seed=4)
    wa, wb, wc = _weights(a.model), _weights(b.model), _weights(c.model)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_trained_info_describes_the_run(tiny_trainer):
    trainer = tiny_trainer(steps=5)
    trainer.validate()
    info = trainer.trained_info()
    assert info["steps"] == 5
    assert info["corpus"] == "tiny"
    assert info["chars"] == 5 * 8 * 16
    assert set(info["metrics"]) == {"valid_nats_per_char", "train_nats_per_char"}
    assert info["settings"]["seq_len"] == 16


# --- the run: CharRNNLoop, what the app's worker steps and `train charrnn` runs to the end ---------


def run_all(loop) -> list:
    events = []
    while not loop.done:
        events += loop.step()
    return events


def test_the_loop_measures_on_its_schedule_and_reports_every_iteration(tiny_trainer):
    from rnnstudio.train.charrnn import CharRNNLoop
    from rnnstudio.train.progress import Evaluation, TimelineSample, TrainingProgress

    loop = CharRNNLoop(tiny_trainer(steps=0, planned=25), 25, eval_every=10, sample_at=(5,), sample_length=12)
    assert (loop.first, loop.planned, loop.iteration, loop.state) == (0, 25, 0, "running")
    events = run_all(loop)
    assert loop.state == "finished" and loop.iteration == 25
    evaluations = [e for e in events if isinstance(e, Evaluation)]
    assert [e.iteration for e in evaluations] == [5, 10, 20, 25]  # every 10, at the timeline sample, at the end
    assert evaluations[1].line.startswith("iter     10  train ") and " nats/char  " in evaluations[1].line
    assert set(evaluations[1].figures) == {"train", "valid"}
    (sample,) = [e for e in events if isinstance(e, TimelineSample)]
    assert sample.iteration == 5 and len(sample.text) == 12 and sample.valid_loss == evaluations[0].figures["valid"]
    progress = [e for e in events if isinstance(e, TrainingProgress)]
    assert [i for p in progress for i in p.iterations] == list(range(1, 26))  # none lost between reports
    assert [v for p in progress for v in p.valid] == [(e.iteration, e.figures["valid"]) for e in evaluations]
    assert progress[-1].state == "finished" and progress[-1].planned == 25 and progress[-1].chars_per_second > 0
    assert loop.progress().iterations == []  # what was trained since the last report: nothing


def test_a_continued_model_goes_on_from_its_iteration(tiny_trainer):
    from rnnstudio.train.charrnn import CharRNNLoop
    from rnnstudio.train.progress import Evaluation, TimelineSample

    loop = CharRNNLoop(tiny_trainer(steps=12, planned=30), 10, eval_every=4, sample_at=(3,))
    assert (loop.first, loop.planned) == (12, 22)
    events = run_all(loop)
    assert [e.iteration for e in events if isinstance(e, Evaluation)] == [15, 16, 20, 22]
    assert [e.iteration for e in events if isinstance(e, TimelineSample)] == [15]


def test_the_loop_trains_as_the_trainer_alone_does(tiny_trainer):
    """Evaluations and samples between the steps change nothing of what is learnt."""
    from rnnstudio.train.charrnn import CharRNNLoop

    plain = tiny_trainer(steps=15, planned=15)
    loop = CharRNNLoop(tiny_trainer(steps=0, planned=15), 15, eval_every=4, sample_at=(2, 9))
    run_all(loop)
    want, got = _weights(plain.model), _weights(loop.trainer.model)
    assert all(torch.equal(want[k], got[k]) for k in want)


def test_run_to_end_logs_measures_and_saves_as_the_command_line(tmp_path):
    from rnnstudio.train.charrnn import CharRNNDefaults, charrnn_loop
    from rnnstudio.train.loop import run_to_end

    text = tmp_path / "verse.txt"
    text.write_text("the cat sat on the mat.\nthe dog sat on the log.\n" * 40, encoding="utf-8")
    options = CharRNNDefaults(corpus=str(text), layers=1, hidden=16, embed=8, seq_len=16, batch_size=8, steps=6,
                              eval_every=3, seed=2)
    out = tmp_path / "m.safetensors"
    lines = []
    trained = run_to_end(charrnn_loop(options), out, lines.append)
    assert lines[0].startswith(f"{text}: ") and lines[0].endswith("lstm 1 x 16 on cpu")
    assert [line[:11] for line in lines[1:3]] == ["iter      3", "iter      6"]
    assert lines[3] == (f"validation on all of the held-out text: {trained['metrics']['valid_nats_per_char']:.4f} "
                        f"nats/char; wrote {out}")
    assert len(lines) == 4
    loaded = load_charrnn(out)
    assert loaded.trained == trained
    assert trained["steps"] == 6 and trained["settings"]["seed"] == 2 and trained["seconds"] >= 0
    assert set(trained["metrics"]) == {"valid_nats_per_char", "train_nats_per_char", "valid_bits_per_char"}


def test_one_set_of_defaults_for_the_trainer_the_command_line_and_the_app():
    from dataclasses import fields

    from rnnstudio.cli import build_parser
    from rnnstudio.train.charrnn import CharRNNDefaults

    defaults = CharRNNDefaults()
    settings = TrainSettings()
    for f in fields(settings):
        if hasattr(defaults, f.name):
            assert getattr(settings, f.name) == getattr(defaults, f.name), f.name
    args = build_parser().parse_args(["train", "charrnn", "--out", "m.safetensors"])
    parsed = {**vars(args), "batch_size": args.batch}
    for f in fields(defaults):
        if f.name in parsed:
            assert parsed[f.name] == getattr(defaults, f.name), f.name
    # The app plots the validation loss: about 40 points a run, at least 10 and at most eval_every apart.
    assert [CharRNNDefaults.curve_eval_every(n) for n in (10, 400, 2000, 20_000, 1_000_000)] == [10, 10, 50, 500, 500]
