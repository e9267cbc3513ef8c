"""The `rnnstudio` command (docs/COMMAND-LINE.md).

Each command module adds its parsers and holds its commands, which parse, call the task's
code in rnnstudio.train and rnnstudio.nn, and raise UserError for bad input; `main` maps the
errors to exit codes (rnnstudio.cli.common): bad input exits with status 2 and one line on
standard error, an internal failure with 1. Heavy imports (torch, Qt) happen inside the
commands that need them.
"""

from __future__ import annotations

import argparse
import sys

from rnnstudio.cli import app, caption, charrnn, common, gates, sentiment, translate, video, vqa
from rnnstudio.cli.common import Parser
from rnnstudio.errors import UserError

EXAMPLES = """examples:
  rnnstudio                                   open the app
  rnnstudio train charrnn --corpus shakespeare --steps 2000 --out my-lstm.safetensors
  rnnstudio sample --model my-lstm.safetensors --prime "ROMEO:" --chars 300
  rnnstudio gates --text "To be, or not to be"   how the gates and states behave (--json: every value)
  rnnstudio caption photo.png                 describe a picture
  rnnstudio vqa photo.png "what color is the circle?"
  rnnstudio sentiment --json "not bad at all"   p(positive) after every word
  rnnstudio translate --json "Une voiture rouge."
each command has its own --help."""

# Commands by name, and those of `train` and `eval` by task.
TRAIN = {"charrnn": charrnn.cmd_train, "sentiment": sentiment.cmd_train,
         "caption": caption.cmd_train, "vqa": vqa.cmd_train,
         "translate": translate.cmd_train, "video": video.cmd_train}
EVAL = {"charrnn": charrnn.cmd_eval, "sentiment": sentiment.cmd_eval, "vqa": vqa.cmd_eval,
        "translate": translate.cmd_eval}


def cmd_train(args) -> int:
    if args.task not in TRAIN:
        raise UserError("say what to train: `rnnstudio train charrnn|caption|vqa ...`")
    return TRAIN[args.task](args)


def cmd_eval(args) -> int:
    if args.task not in EVAL:
        raise UserError("say what to evaluate: `rnnstudio eval charrnn --text FILE` or `rnnstudio eval vqa`")
    return EVAL[args.task](args)


COMMANDS = {
    **app.COMMANDS,
    "train": cmd_train,
    "sample": charrnn.cmd_sample,
    "eval": cmd_eval,
    "gates": gates.cmd_gates,
    "caption": caption.cmd_caption,
    "vqa": vqa.cmd_vqa,
    "sentiment": sentiment.cmd_sentiment,
    "translate": translate.cmd_translate,
    "video": video.cmd_video,
}


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="rnnstudio", description="See recurrent neural networks work, live.", epilog=EXAMPLES,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", parser_class=Parser)
    app.add_gui_options(p)
    app.add_parsers(sub)
    train = sub.add_parser("train", help="train a model").add_subparsers(dest="task", parser_class=Parser)
    charrnn.add_train_parser(train)
    caption.add_train_parser(train)
    vqa.add_train_parser(train)
    sentiment.add_train_parser(train)
    translate.add_train_parser(train)
    video.add_train_parser(train)
    caption.add_parser(sub)
    charrnn.add_sample_parser(sub)
    evaluate = sub.add_parser("eval", help="measure a model").add_subparsers(dest="task", parser_class=Parser)
    charrnn.add_eval_parser(evaluate)
    vqa.add_eval_parser(evaluate)
    sentiment.add_eval_parser(evaluate)
    translate.add_eval_parser(evaluate)
    gates.add_parser(sub)
    vqa.add_parser(sub)
    sentiment.add_parser(sub)
    translate.add_parser(sub)
    video.add_parser(sub)
    return p


def _version() -> str:
    from rnnstudio import __version__

    return f"rnnstudio {__version__}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    common.output_never_fails_to_encode()
    return common.run_command(COMMANDS[args.command], args)


def gui_main() -> int:
    """Entry point for the desktop launcher (no console)."""
    return main(sys.argv[1:] or ["gui"])
