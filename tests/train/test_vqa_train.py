"""Training a tiny VQA model for real, the data mix, and the measures (accuracy by type, confusion)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnstudio.data.easyvqa import load_easyvqa
from rnnstudio.nn.vqa import VQAConfig
from rnnstudio.train.vqa import (
    GENERATED,
    SOURCES,
    MixedVQAData,
    Prefetcher,
    VQATrainer,
    VQATrainSettings,
    evaluate,
    generated_eval_set,
    glimpse_hint_loss,
    model_answers,
    score,
)

TINY = dict(channels=16, film=16, squeeze=8, embed=16, hidden=32, fused=64, attention=16, dropout=0.0)


@pytest.fixture(scope="module")
def valid_split():
    return load_easyvqa("valid", with_images=True)


def tiny_trainer(data_settings: VQATrainSettings, easyvqa=None, seed=0):
    torch.manual_seed(seed)
    data = MixedVQAData(64, data_settings, easyvqa)
    return VQATrainer(data, VQAConfig(vocab_size=1, answers=("yes", "no"), **TINY), data_settings)


def test_training_learns_easy_vqa_questions(valid_split):
    """Yes/no, colour and shape questions of easy-VQA pictures: well above the majority answer."""
    s = VQATrainSettings(batch_size=16, questions_per_image=4, lr=5e-3, steps=60, easyvqa_fraction=1.0,
                         single_fraction=0.0, camera_fraction=0.0, unknown_rate=0.0)
    trainer = tiny_trainer(s, valid_split)
    first = [trainer.step()["loss"] for _ in range(5)]
    for _ in range(55):
        info = trainer.step()
    assert info["loss"] < 0.6 * np.mean(first)
    assert set(info) >= {"iteration", "loss", "accuracy", "glimpse_loss", "images", "questions", "seconds", "lr"}
    from rnnstudio.train.vqa import easyvqa_eval_set

    held = easyvqa_eval_set(valid_split)
    result = evaluate(trainer.model, held)
    majority = max(held.answers.count(a) for a in set(held.answers)) / len(held.answers)
    assert result["accuracy"] > majority + 0.1, (result["accuracy"], majority)
    trained = trainer.trained_info()
    assert trained["steps"] == 60 and trained["images"] == 60 * 16 and trained["corpus"] == "easyvqa"
    assert trainer.model.answers == model_answers()  # easy-VQA's 13, then the counts
    assert trainer.model.answers[:13] == valid_split.answers and trainer.model.answers[13:] == ["0", "1", "2", "3"]


def test_batches_mix_sources_and_are_reproducible(valid_split):
    s = VQATrainSettings(batch_size=40, questions_per_image=3, seed=4)
    a = MixedVQAData(64, s, valid_split).batch(7)
    b = MixedVQAData(64, s, valid_split).batch(7)
    assert a.questions == b.questions and all(np.array_equal(x, y) for x, y in zip(a.images, b.images))
    assert set(a.sources) == set(SOURCES)
    assert len(a.questions) == len(a.answers) == len(a.image_of) == len(a.kinds) == len(a.focus)
    assert max(a.image_of) == 39 and all(img.shape == (64, 64, 3) for img in a.images)
    for n, i in enumerate(a.image_of):  # an easy-VQA question belongs to its picture
        if a.sources[i] == "easyvqa":
            assert a.kinds[n] in ("colour", "shape", "yes/no")
        if a.focus[n]:
            assert a.kinds[n] == "relation" and a.sources[i] == "scenes"  # hints only where places are exact
    c = MixedVQAData(64, s, valid_split).batch(8)
    assert c.questions != a.questions


def test_prefetched_batches_are_the_same_batches():
    s = VQATrainSettings(batch_size=6, easyvqa_fraction=0.0, steps=3)
    data = MixedVQAData(64, s, None)
    pre = Prefetcher(data, 0, 3, workers=1, ahead=2)
    try:
        assert len(pre.waiting) == 2  # a few ahead, never the whole run
        got = [next(pre) for _ in range(3)]
        with pytest.raises(StopIteration):
            next(pre)
    finally:
        pre.close()
    for it, batch in enumerate(got):
        assert batch.questions == data.batch(it).questions


def test_evaluation_pictures_are_never_training_pictures():
    s = VQATrainSettings(batch_size=16, easyvqa_fraction=0.0, single_fraction=0.5, camera_fraction=0.0)
    seen = {img.tobytes() for it in range(3) for img in MixedVQAData(64, s, None).batch(it).images}
    for source in GENERATED:
        held = generated_eval_set(source, 10)
        assert not seen & {img.tobytes() for img in held.images}
        assert len(set(held.image_of)) == 10


def test_score_counts_by_type_and_fills_the_confusion_matrix():
    answers = ["yes", "no", "red", "2"]
    result = score(["yes", "no", "red", "yes", "2"], ["yes", "yes", "red", "no", "2"],
                   ["yes/no", "yes/no", "colour", "relation", "count"], answers)
    assert result["accuracy"] == 0.6 and result["questions"] == 5
    assert result["by_type"]["yes/no"] == {"accuracy": 0.5, "questions": 2}
    assert result["by_type"]["relation"] == {"accuracy": 0.0, "questions": 1}
    matrix = np.array(result["confusion"]["matrix"])
    assert result["confusion"]["answers"] == answers
    assert matrix[0, 0] == 1 and matrix[0, 1] == 1 and matrix[1, 0] == 1 and matrix[2, 2] == 1 and matrix.sum() == 5


def test_glimpse_hint_rewards_looking_at_the_shape():
    grid = 8
    looks = torch.full((2, 2, grid * grid), 1 / 64)
    on = torch.zeros(2, 2, grid * grid)
    on[:, 0, 2 * grid + 1] = 1.0  # the cell at row 2, column 1: x, y about 0.19, 0.31
    on[:, 1, 5 * grid + 6] = 1.0
    focus = [((0.19, 0.31, 0.05), (0.81, 0.69, 0.05))]
    spread = glimpse_hint_loss(looks, focus, [1], grid)
    right = glimpse_hint_loss(on, focus, [1], grid)
    wrong = glimpse_hint_loss(on.flip(1), focus, [1], grid)
    assert right.item() < 1e-4 < spread.item() < wrong.item()


def test_bad_settings_are_refused():
    for bad in (dict(batch_size=0), dict(easyvqa_fraction=0.7, camera_fraction=0.5), dict(shape_counts=(1, 1)),
                dict(relation_weight=1.0), dict(glimpse_weight=-1), dict(lr=0)):
        with pytest.raises(ValueError):
            VQATrainSettings(**bad)
    with pytest.raises(ValueError, match="no easy-VQA split"):
        MixedVQAData(64, VQATrainSettings(), None)


def test_the_loop_logs_its_loss_and_held_out_accuracy_on_schedule_and_measures_everything_at_the_end():
    from rnnstudio.train.progress import Evaluation
    from rnnstudio.train.vqa import VQALoop

    s = VQATrainSettings(batch_size=4, questions_per_image=2, steps=5, easyvqa_fraction=0.0)
    loop = VQALoop(tiny_trainer(s), 5, log_every=2, eval_every=2, eval_scenes=2, workers=1)
    events = []
    try:
        while not loop.done:
            events += loop.step()
    finally:
        loop.close()
    assert loop.prefetch is None
    lines = [(e.iteration, e.line.split()[0]) for e in events if isinstance(e, Evaluation)]
    assert lines == [(2, "iter"), (2, "held"), (4, "iter"), (4, "held"), (5, "iter")]  # none held out at the end
    held = [e for e in events if isinstance(e, Evaluation) and e.line.startswith("held out: ")]
    assert set(held[0].figures) == set(GENERATED)  # no easy-VQA split given: generated pictures only
    finals = loop.finish()
    assert [line.split(":")[0] for line in finals] == list(GENERATED)
    trained = loop.trained_info()
    assert trained["steps"] == 5 and trained["images"] == 20 and trained["metrics"]["eval_scenes"] == 2
    assert {f"accuracy_{g}" for g in GENERATED} <= set(trained["metrics"])


def test_one_set_of_defaults_for_the_trainer_and_the_command_line():
    from dataclasses import fields

    from rnnstudio.cli import build_parser
    from rnnstudio.train.vqa import VQADefaults

    defaults, settings = VQADefaults(), VQATrainSettings()
    for f in fields(settings):
        if hasattr(defaults, f.name):
            assert getattr(settings, f.name) == getattr(defaults, f.name), f.name  # (1, 2, 2) == (1.0, 2.0, 2.0)
    args = vars(build_parser().parse_args(["train", "vqa", "--out", "m.safetensors"]))
    for f in fields(defaults):
        name = {"batch_size": "batch"}.get(f.name, f.name)
        want = getattr(defaults, f.name)
        if name == "shape_counts":
            want = ",".join(f"{w:g}" for w in want)
        assert args[name] == want, name
