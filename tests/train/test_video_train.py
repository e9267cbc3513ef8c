"""Training the LRCN (rnnstudio.train.video): caching, a tiny run that learns, the evaluation's figures."""

from __future__ import annotations

import torch

from rnnstudio.nn.video import LRCN, VideoConfig, load_video_model
from rnnstudio.train.loop import run_to_end
from rnnstudio.train.progress import Evaluation
from rnnstudio.train.video import FRAMES_SEEN, ClipCache, VideoLoop, VideoTrainer, evaluate
from rnnstudio.train.video_defaults import VideoDefaults


def tiny_model() -> LRCN:
    torch.manual_seed(0)
    return LRCN(VideoConfig(channels=16, proj=64, hidden=64))


def test_the_cache_holds_each_clip_once_with_its_labels():
    cache = ClipCache(tiny_model(), 5, seed=0, device="cpu")
    cache.fill_some(3)
    assert cache.filled == 3 and not cache.full
    cache.fill()
    assert cache.full and cache.camera.tolist() == [False, True, False, True, False]
    assert all(16 <= n <= 32 for n in cache.lengths.tolist())
    assert (cache.feats[0, cache.lengths[0]:] == 0).all()


def test_a_tiny_run_learns_and_the_encoder_stays_frozen(tmp_path):
    model = tiny_model()
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    defaults = VideoDefaults(clips=32, steps=120, batch_size=16, lr=1e-2, eval_clips=16, log_every=20)
    trainer = VideoTrainer(model, defaults)
    loop = VideoLoop(trainer, defaults.steps, log_every=20, eval_clips=16)
    lines: list[str] = []
    losses = []
    while not loop.done:
        for e in loop.step():
            if isinstance(e, Evaluation):
                losses.append(e.figures["loss"])
    assert losses[-1] < 0.8 * losses[0]  # a random encoder: learning the clips, slowly
    assert all(torch.equal(v, model.encoder.state_dict()[k]) for k, v in encoder_before.items())
    out = tmp_path / "v.safetensors"
    lines += loop.finish()
    loop.save(out)
    loaded = load_video_model(out)
    assert loaded.trained["steps"] == 120 and "plain" in loaded.trained["metrics"]
    assert any("baseline" in line for line in lines)


def test_evaluation_reports_every_figure():
    r = evaluate(tiny_model(), 8, camera=True)
    for key in ("motion_accuracy", "object_accuracy", "baseline_motion_accuracy", "baseline_direction_accuracy"):
        assert 0 <= r[key] <= 1
    assert list(r["by_frames_seen"]) == [str(t) for t in FRAMES_SEEN]


def test_run_to_end_logs_and_saves(tmp_path):
    defaults = VideoDefaults(clips=16, steps=4, batch_size=4, eval_clips=4, log_every=2)
    loop = VideoLoop(VideoTrainer(tiny_model(), defaults), 4, log_every=2, eval_clips=4)
    lines: list[str] = []
    trained = run_to_end(loop, tmp_path / "m.safetensors", lines.append)
    assert trained["steps"] == 4 and lines[0].startswith("16 shapes-world clips") and "wrote" in lines[-1]


def test_the_decoder_learns_to_write_without_changing_how_the_heads_train():
    """Its state is detached, with its own optimizer and clipping: the heads' weights after a run are
    those of the same run without a decoder, to the bit, while the sentence loss falls."""
    defaults = VideoDefaults(clips=16, steps=40, batch_size=8, lr=1e-2, eval_clips=8, log_every=10)
    weights, sentence_losses = [], []
    for decoder in (0, 32):
        torch.manual_seed(0)
        model = LRCN(VideoConfig(channels=16, proj=64, hidden=64, dropout=0.2, decoder=decoder, word_size=8))
        trainer = VideoTrainer(model, defaults)
        steps = [trainer.step() for _ in range(defaults.steps)]
        sentence_losses.append([s["sentence_loss"] for s in steps])
        weights.append({k: v for k, v in model.state_dict().items() if not k.startswith("decoder.")})
    assert all(torch.equal(v, weights[1][k]) for k, v in weights[0].items())
    assert set(sentence_losses[0]) == {0.0}
    assert sum(sentence_losses[1][-5:]) < 0.65 * sum(sentence_losses[1][:5])  # the sentences' form, at least
    r = evaluate(model, 8, camera=False)
    assert 0 <= r["sentence_accuracy"] <= 1 and 0 <= r["sentence_agrees_with_heads"] <= 1
