"""The `rnnstudio` command (CONTRACTS.md section 1).

Bad input exits with status 2 and one line on standard error; internal failure exits 1.
Heavy imports (torch, Qt) happen inside the commands that need them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path

from rnnstudio.errors import PeerLost, UserError

PANELS = ("charrnn", "gates", "caption", "vqa")
DEVICES = ("auto", "cpu", "cuda", "mps")
EXAMPLES = """examples:
  rnnstudio                                   open the app
  rnnstudio train charrnn --corpus shakespeare --steps 2000 --out my-lstm.safetensors
  rnnstudio sample --model my-lstm.safetensors --prime "ROMEO:" --chars 300
  rnnstudio gates --text "To be, or not to be"   how the gates and states behave (--json: every value)
  rnnstudio caption photo.png                 describe a picture
  rnnstudio vqa photo.png "what color is the circle?"
each command has its own --help."""
DEVICE_HELP = "where the model runs: auto (a CUDA GPU, else Apple MPS, else the CPU), or one of them"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message):  # noqa: D401 - argparse's hook
        sys.stderr.write(f"{self.prog}: error: {message}; see `{self.prog} --help`\n")
        raise SystemExit(2)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number of at least 0")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1280x800") from None
    if not (200 <= w <= 8000 and 200 <= h <= 8000):
        raise argparse.ArgumentTypeError(f"{text} is out of range; use 200 to 8000 pixels a side")
    return w, h


def _add_speed_options(q, compiled: str) -> None:
    """--amp and --compile for a train command (rnnstudio.train.accel); default None: auto."""
    q.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision: bfloat16 autocast where the GPU has it, else float16, with loss "
                        "scaling (default: auto, on for CUDA, off on the CPU and MPS)")
    q.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help=f"torch.compile {compiled}")


def _add_image_model_run_options(p) -> None:
    """The run options `train caption` and `train vqa` share: logging, seed, device, speed, output."""
    p.add_argument("--log-every", type=_positive_int, default=100, help="print the loss this often (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="for the same model from the same settings (default %(default)s)")
    p.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)
    _add_speed_options(p, "the image encoder (default: auto, on for CUDA, off on the CPU and MPS)")
    p.add_argument("--out", required=True, help="the .safetensors file to write")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rnnstudio", description="See recurrent neural networks work, live.", epilog=EXAMPLES,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    def add_gui_options(q):
        q.add_argument("--panel", choices=PANELS, help="the panel to open first")
        q.add_argument("--presenter", action="store_true", help="large fonts and thick lines for a projector")
        q.add_argument("--device", choices=DEVICES, default="auto", help="where models run (default: auto)")

    add_gui_options(p)
    add_gui_options(sub.add_parser("gui", help="open the desktop app (the default)"))

    d = sub.add_parser("install-desktop", help="add RNN Studio to this user's desktop application menu")
    d.add_argument("--uninstall", action="store_true", help="remove the launcher and icon again")

    s = sub.add_parser("screenshot", help="render panels to PNG after real work, without a display")
    s.add_argument("--out", required=True, help="folder for <panel>.png")
    s.add_argument("--panel", default="all", choices=PANELS + ("all",), help="one panel, or all of them (default)")
    s.add_argument("--size", type=_size, default=(1280, 800), help="window size, default 1280x800")
    s.add_argument("--presenter", action="store_true", help="in presenter mode's large type")

    t = sub.add_parser("train", help="train a model").add_subparsers(dest="task", parser_class=_Parser)
    tc = t.add_parser("charrnn", help="train a character-level language model")
    tc.add_argument("--corpus", default="shakespeare", help="shakespeare, python, or a UTF-8 text file")
    tc.add_argument("--arch", choices=("lstm", "gru", "rnn"), default="lstm", help="the recurrent cell (default %(default)s)")
    tc.add_argument("--layers", type=_positive_int, default=2, help="stacked recurrent layers (default %(default)s)")
    tc.add_argument("--hidden", type=_positive_int, default=128, help="units in each layer's state (default %(default)s)")
    tc.add_argument("--embed", type=int, default=64, help="embedding size; 0 for one-hot input")
    tc.add_argument("--steps", type=_positive_int, default=2000, help="training iterations, one batch each (default %(default)s)")
    tc.add_argument("--seq-len", type=_positive_int, default=64, help="BPTT window in characters")
    tc.add_argument("--batch", type=_positive_int, default=32, help="text windows per iteration (default %(default)s)")
    tc.add_argument("--lr", type=_non_negative_float, default=2e-3, help="Adam's learning rate, decayed to a tenth by the end (default %(default)s)")
    tc.add_argument("--dropout", type=_non_negative_float, default=0.0, help="dropout between layers (default %(default)s)")
    tc.add_argument("--seed", type=int, default=0, help="for the same model from the same settings (default %(default)s)")
    tc.add_argument("--eval-every", type=_positive_int, default=500, help="measure on held-out text this often (default %(default)s)")
    tc.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)
    _add_speed_options(tc, "the model (default: auto, which is off: cuDNN already runs the recurrent "
                           "layers as one call, and there is little else to fuse)")
    tc.add_argument("--out", required=True, help="the .safetensors file to write")

    tp = t.add_parser("caption", help="train an image captioner (CNN encoder, LSTM decoder with attention)")
    tp.add_argument("--data", default="shapes",
                    help="shapes (the generated shapes world), or a COCO-format annotations JSON or a folder holding one")
    tp.add_argument("--images", help="the image folder of a COCO-format set (default: beside the JSON)")
    tp.add_argument("--steps", type=_positive_int, default=3000, help="training iterations (default %(default)s)")
    tp.add_argument("--encoder", choices=("small", "resnet18"), default="small", help="the image encoder (default %(default)s)")
    tp.add_argument("--encoder-weights", help="resnet18 only: a local .pth or .safetensors weights file "
                    "(default: torch's cache; none: from scratch); nothing is ever downloaded")
    tp.add_argument("--image-size", type=_positive_int, help="input size in pixels (default 64 small, 224 resnet18)")
    tp.add_argument("--hidden", type=_positive_int, default=256, help="LSTM units")
    tp.add_argument("--channels", type=_positive_int, default=128, help="small encoder: features per grid cell")
    tp.add_argument("--batch", type=_positive_int, default=64, help="pictures per iteration (default %(default)s)")
    tp.add_argument("--lr", type=_non_negative_float, default=2e-3, help="Adam's learning rate (default %(default)s)")
    tp.add_argument("--camera-fraction", type=_non_negative_float, default=0.5,
                    help="shapes world: share of camera-look pictures (default 0.5)")
    tp.add_argument("--min-count", type=_positive_int, default=1, help="COCO: keep words seen at least this often")
    tp.add_argument("--eval-scenes", type=_positive_int, default=500, help="shapes world: unseen scenes measured at the end")
    _add_image_model_run_options(tp)

    cp = sub.add_parser("caption", help="describe pictures with a captioner")
    cp.add_argument("images", nargs="+", metavar="IMAGE", help="picture files (PNG, JPEG, ...)")
    cp.add_argument("--model", help="a caption model file (default: the shipped shapes captioner)")
    cp.add_argument("--beam", type=_positive_int, default=3, help="beam width; 1 is greedy (default 3)")
    cp.add_argument("--json", action="store_true", help="print captions and word probabilities as JSON")
    cp.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)

    sm = sub.add_parser("sample", help="generate text from a char-RNN")
    sm.add_argument("--model", help="a char-RNN model file (default: the shipped Shakespeare LSTM)")
    sm.add_argument("--chars", type=_positive_int, default=500, help="how many characters to write (default %(default)s)")
    sm.add_argument("--temperature", type=_non_negative_float, default=0.8, help="0 is greedy")
    sm.add_argument("--top-k", type=int, default=0, help="sample from the k likeliest only; 0 for all")
    sm.add_argument("--prime", default="", help="text the model reads before it writes")
    sm.add_argument("--seed", type=int, default=None, help="the same seed gives the same text (default: a new one each time)")
    sm.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)

    e = sub.add_parser("eval", help="measure a model").add_subparsers(dest="task", parser_class=_Parser)
    ec = e.add_parser("charrnn", help="nats and bits per character on a text")
    ec.add_argument("--model", help="a char-RNN model file (default: the shipped Shakespeare LSTM)")
    ec.add_argument("--text", required=True, help="a UTF-8 text file")
    ec.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)

    g = sub.add_parser("gates", help="every gate and state of a char-RNN after each character of a text")
    g.add_argument("--model", help="a char-RNN model file (default: the shipped Shakespeare LSTM)")
    g.add_argument("--text", required=True, help="the text the model reads, from a zero state")
    g.add_argument("--json", action="store_true", help="print every value as JSON (CONTRACTS.md section 3)")
    g.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)
    _add_vqa_parsers(sub, t, e)
    return p


def _version() -> str:
    from rnnstudio import __version__

    return f"rnnstudio {__version__}"


_quiet = False  # under torchrun, every process but rank 0 keeps its progress to itself


def log(message: str) -> None:
    if not _quiet:
        print(message, file=sys.stderr, flush=True)


# --- checks and output shared by the commands -------------------------------------------


def _check_out(out: str, **inputs: str | None) -> Path:
    """--out, checked before any training (it would be lost otherwise): not empty, not a
    folder, in a folder that exists and can be written (tried, as the save will), and none of
    the command's input files `inputs` (option name without dashes -> path), which the model
    would overwrite."""
    from rnnstudio.nn.modelfile import check_can_save

    if not out.strip():
        raise UserError("--out is empty; give the .safetensors file to write, like --out model.safetensors")
    for option, given in inputs.items():
        if given and _same_file(out, given):
            raise UserError(f"--out {out} is the --{option.replace('_', '-')} input; the model would overwrite it; "
                            f"choose another file name")
    check_can_save(out)
    return Path(out)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist yet: the same path, however it is written
        return Path(a).resolve() == Path(b).resolve()


def _save_trained(out: Path, save) -> None:
    """`save(path)` to --out; where that fails after all (a full disk, a folder removed during
    training), the trained model is kept in a new file in the current folder, or else the
    temporary one, and the error says where: hours of training are never lost to a failed save."""
    import tempfile

    from rnnstudio.errors import ModelFileError

    try:
        save(out)
        return
    except ModelFileError as e:
        failure = str(e)
    name = f"{out.stem or 'model'}-kept-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.safetensors"
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        try:
            save(folder / name)
        except ModelFileError:
            continue
        raise UserError(f"{failure}; the trained model is kept in {folder / name} instead: move it where you want it")
    raise UserError(f"{failure}; it could not be kept in the current folder or {tempfile.gettempdir()} either, "
                    f"so it is lost: free some space and train again")


def _probability(p: float) -> float | None:
    """A probability for JSON: rounded; null where the model gave no number (NaN or infinite,
    when its values overflow), which JSON cannot hold."""
    return round(p, 5) if math.isfinite(p) else None


def _warn_if_not_numbers(probabilities) -> None:
    if not all(math.isfinite(p) for p in probabilities):
        log("the model gave probabilities that are not numbers (NaN), shown as null or nan: its values "
            "overflow; use another model")


PROGRESS_EVERY_S = 1.0  # progress of a run of several results, on standard error, at most this often


class _Results:
    """Results written to standard output one at a time, each flushed as soon as it is ready:
    a JSON list item by item (valid JSON once closed, even after a failure part-way), or plain
    lines. Progress goes to standard error where the run takes more than a second."""

    def __init__(self, total: int, as_json_list: bool, verb: str):
        self.total, self.as_json_list, self.verb = total, as_json_list, verb
        self.written = 0
        self._last_progress = time.monotonic()
        self._progress_shown = False

    def add(self, item=None, lines: tuple[str, ...] = ()) -> None:
        if self.as_json_list:
            separator = "[" if self.written == 0 else ",\n"
            sys.stdout.write(separator + json.dumps(item, ensure_ascii=False, allow_nan=False))
        else:
            sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()
        self.written += 1
        now = time.monotonic()
        due = now - self._last_progress >= PROGRESS_EVERY_S or (self._progress_shown and self.written == self.total)
        if self.total > 1 and due:
            log(f"{self.verb} {self.written} of {self.total}")
            self._last_progress, self._progress_shown = now, True

    def close(self) -> None:
        if self.as_json_list and self.written:
            sys.stdout.write("]\n")
            sys.stdout.flush()

    def interrupted(self) -> str:
        return f"the {self.written} results above were written" if self.written else ""


@contextlib.contextmanager
def _interrupt_says(written):
    """Ctrl-C inside: the interrupt carries `written()`, what is already on standard output,
    for main's message (an empty string: nothing was written)."""
    try:
        yield
    except KeyboardInterrupt:
        raise KeyboardInterrupt(written()) from None


def _output_never_fails_to_encode() -> None:
    """Characters the terminal's encoding lacks (an emoji in a sample under PYTHONIOENCODING=ascii)
    are written as backslash escapes instead of ending the command with UnicodeEncodeError."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="backslashreplace")


# --- commands ---------------------------------------------------------------------------


def cmd_gui(args) -> int:
    from rnnstudio.ui.app import run_app

    return run_app(panel=args.panel, presenter=args.presenter, device=args.device)


def cmd_install_desktop(args) -> int:
    from rnnstudio.desktop import install_desktop, uninstall_desktop

    if args.uninstall:
        removed = uninstall_desktop()
        log("removed " + ", ".join(map(str, removed)) if removed else "no launcher was installed")
        return 0
    for path in install_desktop():
        log(f"wrote {path}")
    log("RNN Studio is in the application menu (Education); log out and in if it does not show yet")
    return 0


def cmd_screenshot(args) -> int:
    from rnnstudio.ui.screenshot import take_screenshots

    panels = list(PANELS) if args.panel == "all" else [args.panel]
    for path in take_screenshots(args.out, panels, args.size, presenter=args.presenter):
        log(f"wrote {path}")
    return 0


def cmd_train(args) -> int:
    """One process, or one of several that torchrun started (rnnstudio.train.distributed)."""
    commands = {"charrnn": cmd_train_charrnn, "caption": cmd_train_caption, "vqa": cmd_train_vqa}
    if args.task not in commands:
        raise UserError("say what to train: `rnnstudio train charrnn|caption|vqa ...`")
    from rnnstudio.train.distributed import session

    global _quiet
    with session(args.device) as run:
        _quiet = not run.is_main
        try:
            return commands[args.task](args, run)
        finally:
            _quiet = False


def cmd_train_charrnn(args, run) -> int:
    from rnnstudio.data.text import BUILTIN_CORPORA

    out = _check_out(args.out, corpus=None if args.corpus in BUILTIN_CORPORA else args.corpus)
    if args.embed < 0:
        raise UserError("--embed must be 0 (one-hot input) or a positive size")
    if args.dropout >= 1:
        raise UserError("--dropout must be below 1")

    from rnnstudio.data.text import load_corpus
    from rnnstudio.nn.charrnn import CharRNNConfig, save_charrnn
    from rnnstudio.nn.device import tune_allocator
    from rnnstudio.train import accel
    from rnnstudio.train.charrnn import CharRNNTrainer, TrainSettings, evaluate_text

    tune_allocator()
    device = run.device
    corpus = load_corpus(args.corpus)
    config = CharRNNConfig(
        vocab_size=1, arch=args.arch, layers=args.layers, hidden=args.hidden, embed=args.embed, dropout=args.dropout
    )
    settings = TrainSettings(  # each process draws its own windows: rank 0 keeps the seed
        seq_len=args.seq_len, batch_size=args.batch, lr=args.lr, steps=args.steps, seed=run.seed(args.seed)
    )
    import torch

    torch.manual_seed(args.seed)
    trainer = CharRNNTrainer(corpus, config, settings, device=device)
    scale = accel.prepare(trainer, run, args.amp, args.compile, seed=args.seed)
    log(
        f"{corpus.name}: {len(corpus.train):,} training and {len(corpus.valid):,} validation characters, "
        f"{len(trainer.vocab)} symbols; {args.arch} {args.layers} x {args.hidden} on {run.describe()}"
        f"{accel.describe(scale)}"
    )
    run.barrier()
    t0 = time.perf_counter()
    chars = 0
    for _ in range(args.steps):
        info = trainer.step()
        chars += info["chars"] * run.world_size
        if trainer.iteration % args.eval_every == 0 or trainer.iteration == args.steps:
            train_loss = run.mean(info["loss"])  # every process, at the same steps
            if run.is_main:
                valid = trainer.validate()
                rate = chars / (time.perf_counter() - t0)
                log(
                    f"iter {trainer.iteration:6d}  train {train_loss:.3f}  valid {valid:.3f} nats/char  "
                    f"{rate:,.0f} chars/s"
                )
    trainer.chars_seen = run.total(trainer.chars_seen)  # what all the processes read
    if not run.is_main:
        return 0
    valid_idx = trainer.vocab.encode_points(corpus.valid)
    full_valid = evaluate_text(trainer.model, valid_idx, device=device)
    trained = trainer.trained_info()
    trained["metrics"]["valid_nats_per_char"] = round(full_valid, 4)
    trained["metrics"]["valid_bits_per_char"] = round(full_valid / 0.6931471805599453, 4)
    trained["seconds"] = round(time.perf_counter() - t0, 1)
    trained.update(scale)
    _save_trained(out, lambda path: save_charrnn(path, trainer.model, trainer.vocab.chars, trained))
    log(f"validation on all of the held-out text: {full_valid:.4f} nats/char; wrote {out}")
    return 0


def cmd_train_caption(args, run) -> int:
    out = _check_out(args.out, data=None if args.data == "shapes" else args.data, images=args.images,
                     encoder_weights=args.encoder_weights)
    if args.camera_fraction > 1:
        raise UserError("--camera-fraction must be between 0 and 1")
    if args.encoder_weights and args.encoder != "resnet18":
        raise UserError("--encoder-weights is for --encoder resnet18 only")
    image_size = args.image_size or (64 if args.encoder == "small" else 224)
    multiple = 8 if args.encoder == "small" else 32
    if image_size % multiple:
        raise UserError(f"--image-size must be a multiple of {multiple} for the {args.encoder} encoder")
    if args.images and args.data == "shapes":
        raise UserError("--images goes with a COCO-format --data, not with the shapes world")

    import torch

    from rnnstudio.nn.captioner import Captioner, CaptionerConfig, load_resnet18_weights, save_captioner
    from rnnstudio.nn.device import tune_allocator
    from rnnstudio.train import accel
    from rnnstudio.train.caption import (
        CaptionTrainer, CaptionTrainSettings, CocoData, ShapesData, evaluate_coco, evaluate_shapes,
    )

    tune_allocator()
    device = run.device
    settings = CaptionTrainSettings(
        batch_size=args.batch, lr=args.lr, steps=args.steps, seed=args.seed, camera_fraction=args.camera_fraction
    )
    if args.data == "shapes":
        data = ShapesData(image_size, settings)
        described = "the shapes world (generated, {:.0%} camera look)".format(args.camera_fraction)
    else:
        from rnnstudio.data.coco import load_coco

        coco = load_coco(args.data, args.images)
        data = CocoData(coco, image_size, settings, min_count=args.min_count)
        described = f"{coco.name}: {len(data.train):,} training and {len(data.held):,} held-out images"
    torch.manual_seed(args.seed)
    config = CaptionerConfig(vocab_size=len(data.vocab), encoder=args.encoder, image_size=image_size,
                             channels=args.channels, hidden=args.hidden)
    model = Captioner(config, data.vocab)
    weights_note = ""
    if args.encoder == "resnet18":
        if args.encoder_weights and args.encoder_weights.lower() == "none":
            weights_note = ", encoder from scratch"
        else:
            used = load_resnet18_weights(model.encoder, args.encoder_weights)
            weights_note = f", encoder from {used}"
    trainer = CaptionTrainer(run.shard(data), config, settings, device=device, model=model)
    scale = accel.prepare(trainer, run, args.amp, args.compile, model.encoder, compile_helps=True, seed=args.seed)
    params = sum(p.numel() for p in model.parameters())
    log(f"{described}; {len(data.vocab)} words; {args.encoder} encoder at {image_size}x{image_size}, "
        f"LSTM {args.hidden}, {params:,} parameters{weights_note}; on {run.describe()}{accel.describe(scale)}")
    run.barrier()
    t0 = time.perf_counter()
    recent = []
    for _ in range(args.steps):
        info = trainer.step()
        recent.append(info["loss"])
        if trainer.iteration % args.log_every == 0 or trainer.iteration == args.steps:
            loss = run.mean(sum(recent) / len(recent))  # every process, at the same steps
            rate = trainer.iteration / (time.perf_counter() - t0)
            log(f"iter {trainer.iteration:6d}  loss {loss:.3f} nats/caption  "
                f"({info['nats_per_word']:.3f} nats/word)  {rate:.2f} it/s")
            recent = []
    train_seconds = time.perf_counter() - t0
    trainer.images_seen = run.total(trainer.images_seen)  # what all the processes saw
    if not run.is_main:
        return 0
    if args.data == "shapes":
        plain = evaluate_shapes(trainer.model, args.eval_scenes, camera=False, device=device)
        camera = evaluate_shapes(trainer.model, args.eval_scenes, camera=True, device=device)
        trainer.metrics.update({
            "object_f1_plain": plain["object_f1"], "object_f1_camera": camera["object_f1"],
            "bleu4_plain": plain["bleu4"], "bleu4_camera": camera["bleu4"],
            "grades_plain": plain["grades"], "grades_camera": camera["grades"], "eval_scenes": args.eval_scenes,
        })
        log(f"unseen plain scenes:  object F1 {plain['object_f1']:.4f}  BLEU-4 {plain['bleu4']:.4f}  {plain['grades']}")
        log(f"unseen camera scenes: object F1 {camera['object_f1']:.4f}  BLEU-4 {camera['bleu4']:.4f}  {camera['grades']}")
    else:
        held = evaluate_coco(trainer.model, data, device=device)
        trainer.metrics.update({"bleu4_held_out": held["bleu4"], "held_out_images": held["images"]})
        log(f"held-out images: BLEU-4 {held['bleu4']:.4f} on {held['images']} images")
    trained = trainer.trained_info()
    trained["seconds"] = round(train_seconds, 1)
    trained.update(scale)
    trainer.model.eval()
    _save_trained(out, lambda path: save_captioner(path, trainer.model, trained))
    log(f"trained in {train_seconds / 60:.1f} min; wrote {out}")
    return 0


def cmd_caption(args) -> int:
    from rnnstudio.data.images import check_picture_file, decoder_warnings_dropped, fit_square, read_image
    from rnnstudio.nn.captioner import images_to_tensor, load_captioner
    from rnnstudio.nn.device import select_device
    from rnnstudio.paths import shipped_model

    for path in args.images:  # what can be checked quickly, before any output
        check_picture_file(path)
    device = select_device(args.device)
    loaded = load_captioner(args.model or shipped_model("caption"), device)
    model = loaded.model
    results = _Results(len(args.images), as_json_list=args.json, verb="captioned")
    with _interrupt_says(results.interrupted):
        try:
            for path in args.images:
                with decoder_warnings_dropped():
                    picture = read_image(path)
                x = images_to_tensor([fit_square(picture, model.config.image_size)], device)
                with __import__("torch").no_grad():
                    feats = model.encode(x)
                cap = model.beam_search(feats, beam=args.beam)
                _warn_if_not_numbers(cap.probs)
                if args.json:
                    results.add({"image": path, "caption": cap.text,
                                 "words": [{"word": w, "p": _probability(p)} for w, p in zip(cap.words, cap.probs)]})
                else:
                    results.add(lines=(f"{path}: {cap.text}" if len(args.images) > 1 else cap.text,))
        finally:
            results.close()
    return 0


def _load_charrnn_for_cli(model_arg, device_choice):
    from rnnstudio.nn.charrnn import load_charrnn
    from rnnstudio.nn.device import select_device
    from rnnstudio.paths import shipped_model

    device = select_device(device_choice)
    path = model_arg or shipped_model("charrnn")
    return load_charrnn(path, device), device


def cmd_sample(args) -> int:
    import torch

    from rnnstudio.data.text import Vocab

    loaded, device = _load_charrnn_for_cli(args.model, args.device)
    vocab = Vocab(loaded.vocab)
    prime = vocab.encode(args.prime)
    generator = torch.Generator().manual_seed(args.seed) if args.seed is not None else None
    out = sys.stdout
    written = 0
    with _interrupt_says(lambda: f"the {written} characters above were written" if written else ""):
        try:
            out.write(args.prime)
            for idx in loaded.model.generate(prime, args.chars, args.temperature, args.top_k, generator=generator):
                out.write(vocab.chars[idx])
                written += 1
                if written % 64 == 1:
                    out.flush()
        finally:
            out.write("\n")  # the shell's prompt on a line of its own, however the sample ended
            out.flush()
    return 0


def cmd_eval(args) -> int:
    if args.task == "vqa":
        return cmd_eval_vqa(args)
    if args.task != "charrnn":
        raise UserError("say what to evaluate: `rnnstudio eval charrnn --text FILE` or `rnnstudio eval vqa`")
    import math

    from rnnstudio.data.text import Vocab, decode_codepoints
    from rnnstudio.errors import TextFileError
    from rnnstudio.train.charrnn import evaluate_text

    loaded, device = _load_charrnn_for_cli(args.model, args.device)
    points = decode_codepoints(args.text)
    if len(points) < 2:
        raise TextFileError(f"{args.text} has fewer than two characters; there is nothing to predict")
    indices = Vocab(loaded.vocab).encode_points(points)
    if (indices < 0).any():
        import numpy as np

        unknown = ", ".join(repr(chr(int(p))) for p in np.unique(points[indices < 0])[:8])
        raise TextFileError(
            f"{args.text} has characters the model has never seen ({unknown}); remove them to evaluate"
        )
    nats = evaluate_text(loaded.model, indices, device=device)
    print(json.dumps({"nats_per_char": round(nats, 5), "bits_per_char": round(nats / math.log(2), 5), "chars": int(len(points))}))
    return 0


def cmd_gates(args) -> int:
    from rnnstudio.data.text import Vocab
    from rnnstudio.worker.gates_messages import MAX_GATES_CHARS

    if not args.text:
        raise UserError("--text is empty; give the text the model should read, at least one character")
    if len(args.text) > MAX_GATES_CHARS:  # the app's limit: memory and output grow with the text
        raise UserError(f"--text has {len(args.text):,} characters; gates reads at most {MAX_GATES_CHARS:,}, as the "
                        f"app does; shorten the text or split it into parts")
    loaded, _device = _load_charrnn_for_cli(args.model, args.device)
    indices = Vocab(loaded.vocab).encode(args.text)  # names any characters the model has never seen

    from rnnstudio.nn.gates import saturation, trace_gates

    trace = trace_gates(loaded.model, indices)
    if args.json:  # written one (characters x units) array at a time: memory holds one array's numbers
        out = sys.stdout
        out.write(f'{{"text":{json.dumps(args.text)},"arch":{json.dumps(trace.arch)},"layers":[')
        for n, layer in enumerate(trace.layers):
            out.write("," * (n > 0) + "{")
            for m, (key, values) in enumerate(layer.items()):
                numbers = json.dumps(_significant(values), separators=(",", ":"), allow_nan=False)
                out.write(f'{"," * (m > 0)}{json.dumps(key)}:{numbers}')
            out.write("}")
        out.write("]}\n")
        return 0
    print(f"{trace.arch}, {len(trace.layers)} layer(s) of {trace.layers[0]['h'].shape[1]} units, {len(args.text)} characters")
    for n, layer in enumerate(trace.layers):
        for key, values in layer.items():
            if key in ("i", "f", "o", "r", "z"):  # sigmoid gates, 0..1
                left, right = saturation(values)
                print(f"layer {n} {key}: mean {values.mean():.3f}, below 0.1 {left.mean():.0%}, above 0.9 {right.mean():.0%}")
            else:
                print(f"layer {n} {key}: mean {values.mean():+.3f}, largest |value| {abs(values).max():.3f}")
    print("add --json for every value")
    return 0


GATES_DIGITS = 4  # significant digits in gates --json: a heatmap shows 2 or 3; float32 holds 7


def _significant(values, digits: int = GATES_DIGITS, finest: float = 1e-6) -> list:
    """An array as nested lists of floats rounded to `digits` significant digits (none finer
    than `finest`: smaller values become 0), for JSON without digits nobody reads. Measured on
    5,000 characters through the shipped 2 x 256 LSTM: 110 MB of JSON (124 MB at 5 decimals)."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    magnitude = np.floor(np.log10(np.abs(values), out=np.zeros_like(values), where=values != 0))
    decimals = np.clip(digits - 1 - magnitude, 0, round(-math.log10(finest))).astype(int)
    rounded = np.empty_like(values)
    for d in np.unique(decimals):  # a handful of magnitudes: one np.round each
        where = decimals == d
        rounded[where] = np.round(values[where], int(d))
    return rounded.tolist()


# --- visual question answering ----------------------------------------------------------

VQA_SPLITS = ("test", "valid", "scenes", "camera", "single")


def _fraction(text: str) -> float:
    value = _non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} must be between 0 and 1")
    return value


def _add_vqa_parsers(sub, train, evaluate) -> None:
    tv = train.add_parser("vqa", help="train a visual question answering model (CNN + LSTM)")
    tv.add_argument("--steps", type=_positive_int, default=3000, help="training iterations (default %(default)s)")
    tv.add_argument("--batch", type=_positive_int, default=64, help="pictures per iteration (default %(default)s)")
    tv.add_argument("--questions-per-image", type=_positive_int, default=4, help="questions asked about each picture (default %(default)s)")
    tv.add_argument("--lr", type=_non_negative_float, default=2e-3, help="Adam's learning rate (default %(default)s)")
    tv.add_argument("--easyvqa-fraction", type=_fraction, default=0.25, help="share of easy-VQA pictures (default 0.25)")
    tv.add_argument("--single-fraction", type=_fraction, default=0.15,
                    help="share of single shapes at other sizes, positions, rotations (default 0.15)")
    tv.add_argument("--camera-fraction", type=_fraction, default=0.35,
                    help="share of camera-look scenes (default 0.35); the rest are plain shapes-world scenes")
    tv.add_argument("--relation-weight", type=_fraction, default=0.45,
                    help="share of relation questions about scenes that have one (default 0.45)")
    tv.add_argument("--glimpse-weight", type=_non_negative_float, default=1.0,
                    help="weight of the hint that shows the glimpses where the shapes of a relation are, "
                         "on plain scenes (default 1; 0: none)")
    tv.add_argument("--shape-counts", default="1,2,2",
                    help="how often training scenes hold 1, 2 and 3 shapes, as relative weights (default 1,2,2)")
    tv.add_argument("--image-size", type=_positive_int, default=64, help="input size in pixels, a multiple of 8")
    tv.add_argument("--channels", type=_positive_int, default=128, help="width of the CNN's last layer")
    tv.add_argument("--film", type=_positive_int, default=64, help="width of the question-steered conv blocks")
    tv.add_argument("--embed", type=_positive_int, default=32, help="word embedding size")
    tv.add_argument("--hidden", type=_positive_int, default=128, help="LSTM units")
    tv.add_argument("--fused", type=_positive_int, default=256, help="size of the fused vector")
    tv.add_argument("--workers", type=int, default=1, help="processes making batches ahead (0: in the loop)")
    tv.add_argument("--threads", type=int, default=0, help="CPU threads for torch (default: torch's choice)")
    tv.add_argument("--eval-every", type=_positive_int, default=500, help="measure on held-out data this often")
    tv.add_argument("--eval-scenes", type=_positive_int, default=500,
                    help="unseen generated pictures of each kind measured at the end (default 500)")
    _add_image_model_run_options(tv)

    q = sub.add_parser("vqa", help="answer a question about a picture")
    q.add_argument("image", nargs="?", metavar="IMAGE", help="a picture file (PNG, JPEG, ...)")
    q.add_argument("question", nargs="?", metavar="QUESTION", help="the question, in quotes")
    q.add_argument("--model", help="a VQA model file (default: the shipped easy-VQA model)")
    q.add_argument("--topk", type=_positive_int, default=3, help="how many answers to show (default 3)")
    q.add_argument("--json", action="store_true", help="print the answers as JSON (CONTRACTS.md section 1)")
    q.add_argument("--batch", metavar="FILE.jsonl", help='one {"image": PATH, "question": TEXT} a line')
    q.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)

    ev = evaluate.add_parser("vqa", help="accuracy of a VQA model, by question type, and the confusion matrix")
    ev.add_argument("--model", help="a VQA model file (default: the shipped easy-VQA model)")
    ev.add_argument("--split", choices=VQA_SPLITS, default="test",
                    help="easy-VQA's test or held-out validation split, or unseen generated pictures: "
                         "scenes (plain), camera (camera look), single (single shapes); default test")
    ev.add_argument("--scenes", type=_positive_int, default=1000, help="generated pictures to measure (default 1000)")
    ev.add_argument("--seed", type=int, default=0, help="which unseen generated pictures (default %(default)s)")
    ev.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)


def cmd_train_vqa(args, run) -> int:
    out = _check_out(args.out)
    if args.easyvqa_fraction + args.single_fraction + args.camera_fraction > 1:
        raise UserError("--easyvqa-fraction, --single-fraction and --camera-fraction add up to more than 1")
    if args.image_size % 8:
        raise UserError("--image-size must be a multiple of 8")
    if args.channels % 4:
        raise UserError("--channels must be a multiple of 4")
    if args.workers < 0 or args.threads < 0:
        raise UserError("--workers and --threads must be 0 or more")
    try:
        shape_counts = tuple(float(w) for w in args.shape_counts.split(","))
    except ValueError:
        shape_counts = ()
    if len(shape_counts) != 3 or min(shape_counts) < 0 or sum(shape_counts) <= 0:
        raise UserError(f"--shape-counts {args.shape_counts!r} must be three weights like 1,2,2, at least one above 0")
    if args.relation_weight >= 1:
        raise UserError("--relation-weight must be below 1")

    import torch

    from rnnstudio.nn.device import tune_allocator
    from rnnstudio.nn.vqa import VQAConfig, save_vqa
    from rnnstudio.train import accel
    from rnnstudio.train import vqa as tv

    tune_allocator()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = run.device
    settings = tv.VQATrainSettings(
        batch_size=args.batch, questions_per_image=args.questions_per_image, lr=args.lr, steps=args.steps,
        seed=args.seed, easyvqa_fraction=args.easyvqa_fraction, single_fraction=args.single_fraction,
        camera_fraction=args.camera_fraction, relation_weight=args.relation_weight, shape_counts=shape_counts,
        glimpse_weight=args.glimpse_weight,
    )
    from rnnstudio.data.easyvqa import load_easyvqa

    valid = load_easyvqa("valid", with_images=True)  # also checks that the package is there
    train = load_easyvqa("train", with_images=True) if args.easyvqa_fraction > 0 else None
    data = run.shard(tv.MixedVQAData(args.image_size, settings, train))  # each process its own batches
    torch.manual_seed(args.seed)
    config = VQAConfig(vocab_size=len(data.vocab), answers=tuple(data.answers), image_size=args.image_size,
                       channels=args.channels, film=args.film, embed=args.embed, hidden=args.hidden, fused=args.fused)
    trainer = tv.VQATrainer(data, config, settings, device=device)
    scale = accel.prepare(trainer, run, args.amp, args.compile, trainer.model.encoder, compile_helps=True,
                          seed=args.seed)
    params = sum(p.numel() for p in trainer.model.parameters())
    mix = ", ".join(f"{w:.0%} {s}" for s, w in zip(tv.SOURCES, settings.source_weights()) if w > 0)
    log(f"pictures: {mix}; {args.questions_per_image} questions each; {len(data.vocab)} words, "
        f"{len(data.answers)} answers; {params:,} parameters; on {run.describe()}{accel.describe(scale)}")
    sets = {"valid": tv.easyvqa_eval_set(valid, args.image_size)}
    for source in tv.GENERATED:
        sets[source] = tv.generated_eval_set(source, args.eval_scenes, args.image_size)
    n_quick = min(150, args.eval_scenes)
    quick = {"valid": sets["valid"], **{s: tv.generated_eval_set(s, n_quick, args.image_size, seed=1) for s in tv.GENERATED}}
    prefetch = tv.Prefetcher(data, 0, args.steps, args.workers) if args.workers > 0 else None
    t0 = time.perf_counter()
    recent, right = [], []
    try:
        for _ in range(args.steps):
            info = trainer.step(next(prefetch) if prefetch else None)
            recent.append(info["loss"])
            right.append(info["accuracy"])
            if trainer.iteration % args.log_every == 0 or trainer.iteration == args.steps:
                loss, accuracy = run.mean(sum(recent) / len(recent)), run.mean(sum(right) / len(right))
                rate = trainer.iteration / (time.perf_counter() - t0)
                log(f"iter {trainer.iteration:6d}  loss {loss:.4f}  train accuracy {accuracy:.4f}  {rate:.2f} it/s")
                recent, right = [], []
            if trainer.iteration % args.eval_every == 0 and trainer.iteration < args.steps and run.is_main:
                found = {k: tv.evaluate(trainer.model, v, device)["accuracy"] for k, v in quick.items()}
                log("held out: " + "  ".join(f"{k} {v:.4f}" for k, v in found.items()))
    finally:
        if prefetch:
            prefetch.close()
    train_seconds = time.perf_counter() - t0
    trainer.images_seen, trainer.questions_seen = run.total(trainer.images_seen), run.total(trainer.questions_seen)
    if not run.is_main:
        return 0
    for name, eval_set in sets.items():
        result = tv.evaluate(trainer.model, eval_set, device)
        trainer.metrics[f"accuracy_{name}"] = result["accuracy"]
        trainer.metrics[f"by_type_{name}"] = {k: v["accuracy"] for k, v in result["by_type"].items()}
        by_type = "  ".join(f"{k} {v['accuracy']:.4f}" for k, v in result["by_type"].items())
        log(f"{name}: accuracy {result['accuracy']:.4f} on {result['questions']} questions  ({by_type})")
    trainer.metrics["eval_scenes"] = args.eval_scenes
    trained = trainer.trained_info()
    trained["seconds"] = round(train_seconds, 1)
    trained.update(scale)
    trainer.model.eval()
    _save_trained(out, lambda path: save_vqa(path, trainer.model, trained))
    log(f"trained in {train_seconds / 60:.1f} min; wrote {out}")
    return 0


def _load_vqa_for_cli(model_arg, device_choice):
    from rnnstudio.nn.device import select_device
    from rnnstudio.nn.vqa import load_vqa
    from rnnstudio.paths import shipped_model

    device = select_device(device_choice)
    return load_vqa(model_arg or shipped_model("vqa"), device), device


def _read_vqa_batch(path: str) -> list[tuple[int, str, str, str]]:
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
        if not isinstance(item, dict) or not isinstance(item.get("image"), str) or not isinstance(item.get("question"), str):
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
        items = _read_vqa_batch(args.batch)
    else:
        if args.image is None or args.question is None:
            raise UserError('give a picture and a question: rnnstudio vqa IMAGE "what color is the shape?"')
        items = [(1, args.image, args.image, args.question)]
    loaded, _device = _load_vqa_for_cli(args.model, args.device)
    model = loaded.model
    for number, _shown, path, question in items:  # what can be checked quickly, before any output
        with _on_line(args.batch, number):
            model.tokenizer(question)
            check_picture_file(path)
    features: dict[str, object] = {}  # a picture asked about on several lines is read once
    results = _Results(len(items), as_json_list=bool(args.batch and args.json), verb="answered")
    with _interrupt_says(results.interrupted):
        try:
            for number, shown, path, question in items:
                with _on_line(args.batch, number):
                    if path not in features:
                        with decoder_warnings_dropped():
                            picture = read_image(path)
                        features[path] = model.encode_image(fit_square(picture, model.config.image_size))
                a = model.answer(features[path], question, topk=args.topk)
                _warn_if_not_numbers(p for _, p in a.answers)
                answers = [{"answer": w, "p": _probability(p)} for w, p in a.answers]
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


def cmd_eval_vqa(args) -> int:
    from rnnstudio.train import vqa as tv

    loaded, device = _load_vqa_for_cli(args.model, args.device)
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


COMMANDS = {
    None: cmd_gui,
    "gui": cmd_gui,
    "screenshot": cmd_screenshot,
    "install-desktop": cmd_install_desktop,
    "train": cmd_train,
    "sample": cmd_sample,
    "eval": cmd_eval,
    "gates": cmd_gates,
    "caption": cmd_caption,
    "vqa": cmd_vqa,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _output_never_fails_to_encode()
    try:
        return COMMANDS[args.command](args)
    except UserError as e:
        sys.stderr.write(f"rnnstudio: error: {_rank_prefix()}{e}\n")
        return 2
    except PeerLost as e:  # under torchrun: the process that failed says why
        sys.stderr.write(f"rnnstudio: error: {_rank_prefix()}{e}\n")
        return 1
    except KeyboardInterrupt as e:  # its message, if any, says what a command had written (_interrupt_says)
        sys.stderr.write(f"rnnstudio: interrupted; {str(e) or 'nothing was written'}\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # an internal failure: one line, and the details for a bug report
        import traceback

        if "RNNSTUDIO_DEBUG" in __import__("os").environ:
            traceback.print_exc()
        sys.stderr.write(f"rnnstudio: internal error: {_rank_prefix()}{type(e).__name__}: {e}; please report it "
                         f"(set RNNSTUDIO_DEBUG=1 for details)\n")
        return 1


def _rank_prefix() -> str:
    """'rank 1 of 4: ' in the error line of a process other than rank 0 under torchrun."""
    if "RANK" not in __import__("os").environ:
        return ""
    from rnnstudio.train.distributed import error_prefix

    return error_prefix()


def gui_main() -> int:
    """Entry point for the desktop launcher (no console)."""
    return main(sys.argv[1:] or ["gui"])
