"""The video commands: `train video` and `video` (an LRCN reading a motion in a clip)."""

from __future__ import annotations

import argparse
import json
import sys

from rnnstudio.cli import common
from rnnstudio.cli.common import add_device_option, non_negative_float, positive_int, probability
from rnnstudio.train.video_defaults import VideoDefaults

DEFAULTS = VideoDefaults()


def _fraction(text: str) -> float:
    value = non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text} must be below 1")
    return value


def _non_negative_int(text: str) -> int:
    return 0 if text.strip() == "0" else positive_int(text)


def add_train_parser(train) -> None:
    p = train.add_parser("video", help="train an LRCN (frozen CNN per frame, LSTM across frames) on shapes clips")
    p.add_argument("--clips", type=positive_int, default=DEFAULTS.clips,
                   help="training clips, half of them camera look (default %(default)s)")
    p.add_argument("--steps", type=positive_int, default=DEFAULTS.steps,
                   help="training iterations (default %(default)s)")
    p.add_argument("--batch", type=positive_int, default=DEFAULTS.batch_size,
                   help="clips per iteration (default %(default)s)")
    p.add_argument("--lr", type=non_negative_float, default=DEFAULTS.lr,
                   help="Adam's learning rate (default %(default)s)")
    p.add_argument("--hidden", type=positive_int, default=DEFAULTS.hidden, help="LSTM units (default %(default)s)")
    p.add_argument("--delta", action=argparse.BooleanOptionalAction, default=DEFAULTS.delta,
                   help="the LSTM also reads each frame's change from the one before (default %(default)s)")
    p.add_argument("--since", action=argparse.BooleanOptionalAction, default=DEFAULTS.since,
                   help="... and its change since the clip's first frame (default %(default)s)")
    p.add_argument("--pool", type=positive_int, choices=(1, 2, 4, 8), default=DEFAULTS.pool,
                   help="the encoder's 8 x 8 grid averaged to this size (default %(default)s: the whole grid)")
    p.add_argument("--cell", type=_non_negative_int, default=DEFAULTS.cell,
                   help="channels of a 1x1 conv coding each grid cell, 0 for none (default %(default)s)")
    p.add_argument("--mix", type=_non_negative_int, default=DEFAULTS.mix,
                   help="channels of a second 1x1 conv over each cell's codes and their changes, 0 for none "
                        "(default %(default)s)")
    p.add_argument("--dropout", type=_fraction, default=DEFAULTS.dropout,
                   help="dropout on the per-frame vector (default %(default)s)")
    p.add_argument("--smoothing", type=_fraction, default=DEFAULTS.smoothing,
                   help="label smoothing of the motion and object losses (default %(default)s)")
    p.add_argument("--object-every-frame", action=argparse.BooleanOptionalAction,
                   default=DEFAULTS.object_every_frame,
                   help="train the object head after every frame, not only the last (default %(default)s)")
    p.add_argument("--decoder", type=_non_negative_int, default=DEFAULTS.decoder,
                   help="units of the sentence decoder's word LSTM, 0 for none: the sentence is then the template "
                        "of the motion and object answers (default %(default)s)")
    p.add_argument("--word-size", type=positive_int, default=DEFAULTS.word_size,
                   help="the sentence decoder's word embedding (default %(default)s)")
    p.add_argument("--encoder",
                   help="a caption model file whose small encoder is used, frozen (default: the shipped one)")
    p.add_argument("--eval-clips", type=positive_int, default=DEFAULTS.eval_clips,
                   help="unseen clips of each look measured at the end (default %(default)s)")
    p.add_argument("--log-every", type=positive_int, default=DEFAULTS.log_every, help="print the loss this often")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed, help="for the same model from the same settings")
    add_device_option(p)
    common.add_speed_options(p, "(ignored: a small LSTM on cached features trains in float32)")
    p.add_argument("--out", required=True, help="the .safetensors file to write")


def add_parser(sub) -> None:
    p = sub.add_parser("video", help="say what moves in a clip (a video file or a folder of frames)")
    p.add_argument("path", metavar="PATH", help="a video file, or a folder of frame images in name order")
    p.add_argument("--model", help="a video model file (default: the shipped shapes-video model)")
    p.add_argument("--json", action="store_true", help="print the answer and the motion after every frame as JSON")
    add_device_option(p)


def cmd_train(args) -> int:
    return common.train(args, lambda a: common.check_out(a.out, encoder=a.encoder), _training)


def _training(args, run):
    from rnnstudio.train.video import video_loop

    options = VideoDefaults(clips=args.clips, steps=args.steps, batch_size=args.batch, lr=args.lr, hidden=args.hidden,
                            delta=args.delta, since=args.since, pool=args.pool, cell=args.cell, mix=args.mix,
                            dropout=args.dropout, smoothing=args.smoothing,
                            object_every_frame=args.object_every_frame, decoder=args.decoder,
                            word_size=args.word_size, encoder=args.encoder, eval_clips=args.eval_clips,
                            log_every=args.log_every, seed=args.seed)
    return video_loop(options, run)


def cmd_video(args) -> int:
    import numpy as np

    from rnnstudio.media.clipfiles import read_clip
    from rnnstudio.nn.device import select_device
    from rnnstudio.nn.video import answer, load_video_model
    from rnnstudio.paths import shipped_model

    device = select_device(args.device)
    model = load_video_model(args.model or shipped_model("video"), device).model
    frames = read_clip(args.path, square=model.config.image_size)  # scaled as read: never the whole clip full size
    a = answer(model, np.stack(frames), device)
    if args.json:
        out = {"motion": a.motion, "object": a.obj, "sentence": a.sentence, "frames": len(frames),
               "per_frame": [{"motion": m, "p": probability(p)} for m, p in a.per_frame]}
        sys.stdout.write(json.dumps(out, allow_nan=False) + "\n")
    else:
        sys.stdout.write(a.sentence + "\n")
    return 0
