"""The question-answering commands: `train vqa`, `vqa` and `eval vqa`."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

from rnnstudio.cli import common
from rnnstudio.cli.common import (
    Results, add_device_option, fraction, interrupt_says, log, non_negative_float, positive_int, probability,
    warn_if_not_numbers,
)
from rnnstudio.errors import UserError
from rnnstudio.train.defaults import VQADefaults

DEFAULTS = VQADefaults()
VQA_SPLITS = ("test", "valid", "scenes", "camera", "single")


def add_train_parser(train) -> None:
    p = train.add_parser("vqa", help="train a visual question answering model (CNN + LSTM)")
    p.add_argument("--steps", type=positive_int, default=DEFAULTS.steps,
                   help="training iterations (default %(default)s)")
    p.add_argument("--batch", type=positive_int, default=DEFAULTS.batch_size,
                   help="pictures per iteration (default %(default)s)")
    p.add_argument("--questions-per-image", type=positive_int, default=DEFAULTS.questions_per_image,
                   help="questions asked about each picture (default %(default)s)")
    p.add_argument("--lr", type=non_negative_float, default=DEFAULTS.lr,
                   help="Adam's learning rate (default %(default)s)")
    p.add_argument("--easyvqa-fraction", type=fraction, default=DEFAULTS.easyvqa_fraction,
                   help="share of easy-VQA pictures (default %(default)s)")
    p.add_argument("--single-fraction", type=fraction, default=DEFAULTS.single_fraction,
                   help="share of single shapes at other sizes, positions, rotations (default %(default)s)")
    p.add_argument("--camera-fraction", type=fraction, default=DEFAULTS.camera_fraction,
                   help="share of camera-look scenes (default %(default)s); the rest are plain shapes-world scenes")
    p.add_argument("--relation-weight", type=fraction, default=DEFAULTS.relation_weight,
                   help="share of relation questions about scenes that have one (default %(default)s)")
    p.add_argument("--glimpse-weight", type=non_negative_float, default=DEFAULTS.glimpse_weight,
                   help="weight of the hint that shows the glimpses where the shapes of a relation are, "
                        f"on plain scenes (default {DEFAULTS.glimpse_weight:g}; 0: none)")
    p.add_argument("--shape-counts", default=",".join(f"{w:g}" for w in DEFAULTS.shape_counts),
                   help="how often training scenes hold 1, 2 and 3 shapes, as relative weights (default %(default)s)")
    p.add_argument("--image-size", type=positive_int, default=DEFAULTS.image_size,
                   help="input size in pixels, a multiple of 8")
    p.add_argument("--channels", type=positive_int, default=DEFAULTS.channels, help="width of the CNN's last layer")
    p.add_argument("--film", type=positive_int, default=DEFAULTS.film, help="width of the question-steered conv blocks")
    p.add_argument("--embed", type=positive_int, default=DEFAULTS.embed, help="word embedding size")
    p.add_argument("--hidden", type=positive_int, default=DEFAULTS.hidden, help="LSTM units")
    p.add_argument("--fused", type=positive_int, default=DEFAULTS.fused, help="size of the fused vector")
    p.add_argument("--workers", type=int, default=DEFAULTS.workers,
                   help="processes making batches ahead (0: in the loop)")
    p.add_argument("--threads", type=int, default=DEFAULTS.threads,
                   help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--eval-every", type=positive_int, default=DEFAULTS.eval_every,
                   help="measure on held-out data this often")
    p.add_argument("--eval-scenes", type=positive_int, default=DEFAULTS.eval_scenes,
                   help="unseen generated pictures of each kind measured at the end (default %(default)s)")
    common.add_image_model_run_options(p, DEFAULTS)


def add_parser(sub) -> None:
    p = sub.add_parser("vqa", help="answer a question about a picture")
    p.add_argument("image", nargs="?", metavar="IMAGE", help="a picture file (PNG, JPEG, ...)")
    p.add_argument("question", nargs="?", metavar="QUESTION", help="the question, in quotes")
    p.add_argument("--model", help="a VQA model file (default: the shipped easy-VQA model)")
    p.add_argument("--topk", type=positive_int, default=3, help="how many answers to show (default 3)")
    p.add_argument("--json", action="store_true", help="print the answers as JSON (docs/COMMAND-LINE.md)")
    p.add_argument("--batch", metavar="FILE.jsonl", help='one {"image": PATH, "question": TEXT} a line')
    add_device_option(p)


def add_eval_parser(evaluate) -> None:
    p = evaluate.add_parser("vqa", help="accuracy of a VQA model, by question type, and the confusion matrix")
    p.add_argument("--model", help="a VQA model file (default: the shipped easy-VQA model)")
    p.add_argument("--split", choices=VQA_SPLITS, default="test",
                   help="easy-VQA's test or held-out validation split, or unseen generated pictures: "
                        "scenes (plain), camera (camera look), single (single shapes); default test")
    p.add_argument("--scenes", type=positive_int, default=1000, help="generated pictures to measure (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="which unseen generated pictures (default %(default)s)")
    add_device_option(p)


# --- train vqa ------------------------------------------------------------------------------


def cmd_train(args) -> int:
    return common.train(args, _check_train, _training)


def _check_train(args):
    out = common.check_out(args.out)
    if args.easyvqa_fraction + args.single_fraction + args.camera_fraction > 1:
        raise UserError("--easyvqa-fraction, --single-fraction and --camera-fraction add up to more than 1")
    if args.image_size % 8:
        raise UserError("--image-size must be a multiple of 8")
    if args.channels % 4:
        raise UserError("--channels must be a multiple of 4")
    if args.workers < 0 or args.threads < 0:
        raise UserError("--workers and --threads must be 0 or more")
    _shape_counts(args.shape_counts)
    if args.relation_weight >= 1:
        raise UserError("--relation-weight must be below 1")
    return out


def _shape_counts(text: str) -> tuple[float, ...]:
    try:
        counts = tuple(float(w) for w in text.split(","))
    except ValueError:
        counts = ()
    if len(counts) != 3 or min(counts) < 0 or sum(counts) <= 0:
        raise UserError(f"--shape-counts {text!r} must be three weights like 1,2,2, at least one above 0")
    return counts


def _training(args, run):
    import torch

    from rnnstudio.train.vqa import vqa_loop

    if args.threads:
        torch.set_num_threads(args.threads)
    options = VQADefaults(
        steps=args.steps, batch_size=args.batch, questions_per_image=args.questions_per_image, lr=args.lr,
        easyvqa_fraction=args.easyvqa_fraction, single_fraction=args.single_fraction,
        camera_fraction=args.camera_fraction, relation_weight=args.relation_weight,
        glimpse_weight=args.glimpse_weight, shape_counts=_shape_counts(args.shape_counts),
        image_size=args.image_size, channels=args.channels, film=args.film, embed=args.embed, hidden=args.hidden,
        fused=args.fused, workers=args.workers, threads=args.threads, eval_every=args.eval_every,
        eval_scenes=args.eval_scenes, log_every=args.log_every, seed=args.seed,
    )
    return vqa_loop(options, run)


# --- vqa and eval vqa ------------------------------------------------------------------------


def load_model(model_arg, device_choice):
    """The VQA model of --model (default: the shipped one) on the device of --device."""
    from rnnstudio.nn.device import select_device
    from rnnstudio.nn.vqa import load_vqa
    from rnnstudio.paths import shipped_model

    device = select_device(device_choice)
    return load_vqa(model_arg or shipped_model("vqa"), device), device


def read_batch(path: str) -> list[tuple[int, str, str, str]]:
    """(line number, image as written, the picture's path, question) for each line of a JSONL file."""
    from rnnstudio.data.files import NotJSON, load_json
    from rnnstudio.data.text import codepoints_to_text, decode_codepoints

    file = Path(path)
    items = []
    text = codepoints_to_text(decode_codepoints(file, max_bytes=64 * 2**20))  # checked: exists, UTF-8, not binary
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = load_json(line)
        except NotJSON as e:
            raise UserError(f"{file} line {number} is {e}; write one "
                            f'{{"image": PATH, "question": TEXT}} a line') from None
        if not (isinstance(item, dict) and isinstance(item.get("image"), str)
                and isinstance(item.get("question"), str)):
            raise UserError(f'{file} line {number} needs an "image" path and a "question", both strings')
        image = Path(item["image"])
        if not image.is_absolute() and not image.exists() and (file.parent / image).exists():
            image = file.parent / image  # relative to the current folder first, then to the file's
        items.append((number, item["image"], str(image), item["question"]))
    if not items:
        raise UserError(f"{file} holds no questions; write one {{\"image\": PATH, \"question\": TEXT}} a line")
    return items


def _on_line(batch: str | None, number: int):
    """Inside it, a UserError about one line of a batch file names the file and the line."""
    if batch is None:
        return contextlib.nullcontext()
    return _prefixed_errors(f"{batch} line {number}: ")


@contextlib.contextmanager
def _prefixed_errors(prefix: str):
    try:
        yield
    except UserError as e:
        raise type(e)(prefix + str(e), getattr(e, "details", None)) from None


def cmd_vqa(args) -> int:
    from rnnstudio.data.images import check_picture_file, decoder_warnings_dropped, fit_square, read_image

    if args.batch:
        if args.image or args.question:
            raise UserError("give either --batch FILE or IMAGE QUESTION, not both")
        items = read_batch(args.batch)
    else:
        if args.image is None or args.question is None:
            raise UserError('give a picture and a question: rnnstudio vqa IMAGE "what color is the shape?"')
        items = [(1, args.image, args.image, args.question)]
    loaded, _device = load_model(args.model, args.device)
    model = loaded.model
    for number, _shown, path, question in items:  # what can be checked quickly, before any output
        with _on_line(args.batch, number):
            model.tokenizer(question)
            check_picture_file(path)
    features: dict[str, object] = {}  # a picture asked about on several lines is read once
    results = Results(len(items), as_json_list=bool(args.batch and args.json), verb="answered")
    with interrupt_says(results.interrupted):
        try:
            for number, shown, path, question in items:
                with _on_line(args.batch, number):
                    if path not in features:
                        with decoder_warnings_dropped():
                            picture = read_image(path)
                        features[path] = model.encode_image(fit_square(picture, model.config.image_size))
                a = model.answer(features[path], question, topk=args.topk)
                warn_if_not_numbers(p for _, p in a.answers)
                answers = [{"answer": w, "p": probability(p)} for w, p in a.answers]
                result = {"question": question, "answers": answers, "unknown_words": a.unknown_words}
                if args.json and not args.batch:
                    results.add(lines=(json.dumps(result, ensure_ascii=False, allow_nan=False),))
                    continue
                if args.json:
                    results.add({"image": shown, **result})
                    continue
                head = (f"{shown}: {question}",) if args.batch else ()
                results.add(lines=head + tuple(f"{w}\t{p:.3f}" for w, p in a.answers))
                if a.unknown_words:
                    log(f"words the model does not know (read as <unk>): {', '.join(a.unknown_words)}")
        finally:
            results.close()
    return 0


def cmd_eval(args) -> int:
    from rnnstudio.train import vqa as tv

    loaded, device = load_model(args.model, args.device)
    size = loaded.model.config.image_size
    if args.split in ("test", "valid"):
        from rnnstudio.data.easyvqa import load_easyvqa

        eval_set = tv.easyvqa_eval_set(load_easyvqa(args.split, with_images=True), size)
    else:
        eval_set = tv.generated_eval_set(args.split, args.scenes, size, seed=args.seed)
    result = tv.evaluate(loaded.model, eval_set, device)
    json.dump({"accuracy": result["accuracy"], "questions": result["questions"], "split": args.split, **result},
              sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    return 0
