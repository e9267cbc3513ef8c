"""The captioner's commands: `train caption` and `caption`."""

from __future__ import annotations

from rnnstudio.cli import common
from rnnstudio.cli.common import (
    Results, add_device_option, interrupt_says, non_negative_float, positive_int, probability, warn_if_not_numbers,
)
from rnnstudio.errors import UserError
from rnnstudio.train.defaults import CaptionDefaults

DEFAULTS = CaptionDefaults()


def add_train_parser(train) -> None:
    p = train.add_parser("caption", help="train an image captioner (CNN encoder, LSTM decoder with attention)")
    p.add_argument("--data", default=DEFAULTS.data,
                   help="shapes (the generated shapes world), or a COCO-format annotations JSON or a folder "
                        "holding one")
    p.add_argument("--images", help="the image folder of a COCO-format set (default: beside the JSON)")
    p.add_argument("--steps", type=positive_int, default=DEFAULTS.steps,
                   help="training iterations (default %(default)s)")
    p.add_argument("--encoder", choices=tuple(CaptionDefaults.IMAGE_SIZES), default=DEFAULTS.encoder,
                   help="the image encoder (default %(default)s)")
    p.add_argument("--encoder-weights", help="resnet18 only: a local .pth or .safetensors weights file "
                   "(default: torch's cache; none: from scratch); nothing is ever downloaded")
    sizes = CaptionDefaults.IMAGE_SIZES
    p.add_argument("--image-size", type=positive_int,
                   help=f"input size in pixels (default {sizes['small']} small, {sizes['resnet18']} resnet18)")
    p.add_argument("--hidden", type=positive_int, default=DEFAULTS.hidden, help="LSTM units")
    p.add_argument("--channels", type=positive_int, default=DEFAULTS.channels,
                   help="small encoder: features per grid cell")
    p.add_argument("--batch", type=positive_int, default=DEFAULTS.batch_size,
                   help="pictures per iteration (default %(default)s)")
    p.add_argument("--lr", type=non_negative_float, default=DEFAULTS.lr,
                   help="Adam's learning rate (default %(default)s)")
    p.add_argument("--camera-fraction", type=non_negative_float, default=DEFAULTS.camera_fraction,
                   help="shapes world: share of camera-look pictures (default %(default)s)")
    p.add_argument("--min-count", type=positive_int, default=DEFAULTS.min_count,
                   help="COCO: keep words seen at least this often")
    p.add_argument("--eval-scenes", type=positive_int, default=DEFAULTS.eval_scenes,
                   help="shapes world: unseen scenes measured at the end")
    common.add_image_model_run_options(p, DEFAULTS)


def add_parser(sub) -> None:
    p = sub.add_parser("caption", help="describe pictures with a captioner")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="picture files (PNG, JPEG, ...)")
    p.add_argument("--model", help="a caption model file (default: the shipped shapes captioner)")
    p.add_argument("--beam", type=positive_int, default=3, help="beam width; 1 is greedy (default 3)")
    p.add_argument("--json", action="store_true", help="print captions and word probabilities as JSON")
    add_device_option(p)


# --- train caption --------------------------------------------------------------------------


def cmd_train(args) -> int:
    return common.train(args, _check_train, _training)


def _options(args) -> CaptionDefaults:
    return CaptionDefaults(
        data=args.data, images=args.images, steps=args.steps, encoder=args.encoder,
        encoder_weights=args.encoder_weights, image_size=args.image_size, hidden=args.hidden,
        channels=args.channels, batch_size=args.batch, lr=args.lr, camera_fraction=args.camera_fraction,
        min_count=args.min_count, eval_scenes=args.eval_scenes, log_every=args.log_every, seed=args.seed,
    )


def _check_train(args):
    out = common.check_out(args.out, data=None if args.data == "shapes" else args.data, images=args.images,
                           encoder_weights=args.encoder_weights)
    if args.camera_fraction > 1:
        raise UserError("--camera-fraction must be between 0 and 1")
    if args.encoder_weights and args.encoder != "resnet18":
        raise UserError("--encoder-weights is for --encoder resnet18 only")
    multiple = CaptionDefaults.SIZE_MULTIPLES[args.encoder]
    if _options(args).input_size() % multiple:
        raise UserError(f"--image-size must be a multiple of {multiple} for the {args.encoder} encoder")
    if args.images and args.data == "shapes":
        raise UserError("--images goes with a COCO-format --data, not with the shapes world")
    return out


def _training(args, run):
    from rnnstudio.train.caption import caption_loop

    return caption_loop(_options(args), run)


# --- caption --------------------------------------------------------------------------------


def cmd_caption(args) -> int:
    import torch

    from rnnstudio.data.images import check_picture_file, decoder_warnings_dropped, fit_square, read_image
    from rnnstudio.nn.captioner import images_to_tensor, load_captioner
    from rnnstudio.nn.device import select_device
    from rnnstudio.paths import shipped_model

    for path in args.images:  # what can be checked quickly, before any output
        check_picture_file(path)
    device = select_device(args.device)
    loaded = load_captioner(args.model or shipped_model("caption"), device)
    model = loaded.model
    results = Results(len(args.images), as_json_list=args.json, verb="captioned")
    with interrupt_says(results.interrupted):
        try:
            for path in args.images:
                with decoder_warnings_dropped():
                    picture = read_image(path)
                x = images_to_tensor([fit_square(picture, model.config.image_size)], device)
                with torch.no_grad():
                    feats = model.encode(x)
                cap = model.beam_search(feats, beam=args.beam)
                warn_if_not_numbers(cap.probs)
                if args.json:
                    results.add({"image": path, "caption": cap.text,
                                 "words": [{"word": w, "p": probability(p)} for w, p in zip(cap.words, cap.probs)]})
                else:
                    results.add(lines=(f"{path}: {cap.text}" if len(args.images) > 1 else cap.text,))
        finally:
            results.close()
    return 0
