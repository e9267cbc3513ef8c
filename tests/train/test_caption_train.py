"""Training a tiny captioner for real, and the measures: BLEU-4, object F1 on unseen scenes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnstudio.nn.captioner import CaptionerConfig
from rnnstudio.train.caption import (
    CaptionTrainer, CaptionTrainSettings, ShapesData, corpus_bleu, eval_scenes, evaluate_shapes,
)

TINY = dict(channels=16, hidden=32, embed=16, attention=16, max_len=16)


def tiny_trainer(steps_planned=40, seed=0, **settings):
    s = CaptionTrainSettings(batch_size=16, lr=1e-2, steps=steps_planned, seed=seed, **settings)
    torch.manual_seed(seed)
    return CaptionTrainer(ShapesData(64, s), CaptionerConfig(vocab_size=1, **TINY), s)


def test_training_lowers_the_loss():
    trainer = tiny_trainer()
    losses = [trainer.step()["loss"] for _ in range(25)]
    assert trainer.iteration == 25
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:3])
    info = trainer.step()
    assert set(info) >= {"iteration", "loss", "nats_per_word", "images", "seconds", "lr"}
    assert all(isinstance(v, (int, float)) for v in info.values())
    trained = trainer.trained_info()
    assert trained["steps"] == 26 and trained["images"] == 26 * 16 and trained["corpus"] == "shapes"


def test_batches_are_reproducible_from_the_seed():
    s = CaptionTrainSettings(batch_size=4, seed=3)
    a_imgs, a_caps = ShapesData(64, s).batch(7, 4)
    b_imgs, b_caps = ShapesData(64, s).batch(7, 4)
    assert a_caps == b_caps and all(np.array_equal(a, b) for a, b in zip(a_imgs, b_imgs))
    c_imgs, _ = ShapesData(64, s).batch(8, 4)
    assert not all(np.array_equal(a, c) for a, c in zip(a_imgs, c_imgs))


def test_evaluation_scenes_are_never_training_scenes():
    s = CaptionTrainSettings(batch_size=8, camera_fraction=0.0)
    train = {img.tobytes() for it in range(3) for img in ShapesData(64, s).batch(it, 8)[0]}
    _scenes, held = eval_scenes(20, camera=False, image_size=64)
    assert not train & {img.tobytes() for img in held}


def test_evaluate_shapes_reports_f1_bleu_and_grades():
    trainer = tiny_trainer()
    for _ in range(3):
        trainer.step()
    result = evaluate_shapes(trainer.model, n=12, camera=True)
    assert 0 <= result["object_f1"] <= 1 and 0 <= result["bleu4"] <= 1
    assert sum(result["grades"].values()) == 12 and result["scenes"] == 12


def test_corpus_bleu():
    ref = "a large red circle left of a small blue triangle".split()
    assert corpus_bleu([ref], [[ref]]) == pytest.approx(1.0)
    assert corpus_bleu([["a", "cat"]], [[ref]]) == 0.0  # no 3- or 4-gram matches, no smoothing
    short = ref[:6]  # all n-grams match; only the brevity penalty counts
    assert corpus_bleu([short], [[ref]]) == pytest.approx(math.exp(1 - len(ref) / len(short)))
    # the closest reference length is used with several references
    assert corpus_bleu([short], [[ref, short]]) == pytest.approx(1.0)
    # clipping: "the the the ..." gets credit for at most as many "the" as the reference has
    hyp = "the the the the the the the".split()
    refs = ["the cat is on the mat".split()]
    assert corpus_bleu([hyp], [refs], max_n=1) == pytest.approx(2 / 7)


def test_coco_training_a_few_steps(tmp_path):
    import json

    import cv2

    from rnnstudio.data.coco import load_coco
    from rnnstudio.train.caption import CocoData, evaluate_coco

    for n in range(4):
        img = np.full((48, 48, 3), 250, np.uint8)
        cv2.rectangle(img, (10, 10), (38, 38), [(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 0, 0)][n], -1)
        cv2.imwrite(str(tmp_path / f"{n}.jpg"), img)
    colours = ["red", "green", "blue", "black"]
    doc = {"images": [{"id": n, "file_name": f"{n}.jpg"} for n in range(4)],
           "annotations": [{"image_id": n, "caption": f"A {colours[n]} square."} for n in range(4)]}
    (tmp_path / "captions.json").write_text(json.dumps(doc))
    s = CaptionTrainSettings(batch_size=4, lr=1e-2, steps=8)
    data = CocoData(load_coco(tmp_path), 64, s)
    assert data.vocab[4:6] == ["a", "square"]
    torch.manual_seed(0)
    trainer = CaptionTrainer(data, CaptionerConfig(vocab_size=1, **TINY), s)
    losses = [trainer.step()["loss"] for _ in range(8)]
    assert losses[-1] < losses[0]
    assert 0 <= evaluate_coco(trainer.model, data)["bleu4"] <= 1


def test_the_loop_logs_the_mean_loss_on_its_schedule_and_measures_unseen_scenes_at_the_end(tmp_path):
    from rnnstudio.nn.captioner import load_captioner
    from rnnstudio.train.caption import CaptionLoop
    from rnnstudio.train.progress import Evaluation

    trainer = tiny_trainer(steps_planned=5)
    loop = CaptionLoop(trainer, 5, log_every=2, eval_scenes=3)
    events = []
    while not loop.done:
        events += loop.step()
    evaluations = [e for e in events if isinstance(e, Evaluation)]
    assert [e.iteration for e in evaluations] == [2, 4, 5]
    assert all(" nats/caption  (" in e.line and e.line.endswith(" it/s") for e in evaluations)
    lines = loop.finish()
    assert lines[0].startswith("unseen plain scenes:  object F1 ") and lines[1].startswith("unseen camera scenes: ")
    loop.save(tmp_path / "c.safetensors")
    trained = load_captioner(tmp_path / "c.safetensors").trained
    assert trained["steps"] == 5 and trained["metrics"]["eval_scenes"] == 3
    assert {"object_f1_plain", "bleu4_camera", "grades_plain"} <= set(trained["metrics"])


def test_one_set_of_defaults_for_the_trainer_and_the_command_line():
    from rnnstudio.cli import build_parser
    from rnnstudio.train.caption import CaptionDefaults

    defaults, settings = CaptionDefaults(), CaptionTrainSettings()
    assert (settings.batch_size, settings.lr, settings.steps, settings.seed, settings.camera_fraction) == (
        defaults.batch_size, defaults.lr, defaults.steps, defaults.seed, defaults.camera_fraction)
    args = vars(build_parser().parse_args(["train", "caption", "--out", "m.safetensors"]))
    assert {k: args[k] for k in ("data", "steps", "encoder", "hidden", "channels", "lr", "min_count", "log_every")} == {
        k: getattr(defaults, k) for k in ("data", "steps", "encoder", "hidden", "channels", "lr", "min_count",
                                          "log_every")}
    assert args["batch"] == defaults.batch_size and args["image_size"] is None
    assert defaults.input_size() == 64 and CaptionDefaults(encoder="resnet18").input_size() == 224
