"""The sentiment commands: `sentiment`, `eval sentiment` and `train sentiment`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnnstudio.cli.common import (
    add_device_option, check_out, fraction, interrupt_says, log, non_negative_float, positive_int, probability,
)
from rnnstudio.errors import UserError
from rnnstudio.train.defaults import SentimentDefaults

DEFAULTS = SentimentDefaults()
MAX_BATCH_BYTES = 64 * 2**20


def below_one(text: str) -> float:
    """A number in [0, 1): a dropout share or a moving average's decay."""
    value = non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 0 and below 1")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text} must be above 0")
    return value


def add_parser(sub) -> None:
    p = sub.add_parser("sentiment", help="is a sentence positive or negative? p(positive) after every word")
    p.add_argument("text", nargs="?", metavar="TEXT", help="the text, in quotes")
    p.add_argument("--model", help="a sentiment model file (default: the shipped LSTM)")
    p.add_argument("--json", action="store_true", help="print one JSON object (docs/COMMAND-LINE.md)")
    p.add_argument("--batch", metavar="FILE", help="one UTF-8 text a line; one JSON object a line out")
    add_device_option(p)


def add_eval_parser(evaluate) -> None:
    p = evaluate.add_parser("sentiment", help="accuracy of a sentiment model on the test split, and VADER's")
    p.add_argument("--model", help="a sentiment model file (default: the shipped LSTM)")
    add_device_option(p)


def add_train_parser(train) -> None:
    p = train.add_parser("sentiment", help="train a sentiment classifier on VADER's rated sentences")
    p.add_argument("--arch", choices=("rnn", "gru", "lstm", "bow"), default=DEFAULTS.arch,
                   help="vanilla RNN, GRU, LSTM, or a bag of words (default %(default)s)")
    p.add_argument("--embed", type=positive_int, default=DEFAULTS.embed,
                   help="word embedding size (default %(default)s)")
    p.add_argument("--hidden", type=positive_int, default=DEFAULTS.hidden, help="recurrent units (default %(default)s)")
    p.add_argument("--layers", type=positive_int, default=DEFAULTS.layers, help="stacked layers (default %(default)s)")
    p.add_argument("--dropout", type=fraction, default=DEFAULTS.dropout, help="below 1 (default %(default)s)")
    p.add_argument("--steps", type=positive_int, default=DEFAULTS.steps, help="iterations (default %(default)s)")
    p.add_argument("--batch", type=positive_int, default=DEFAULTS.batch_size,
                   help="sentences an iteration (default %(default)s)")
    p.add_argument("--lr", type=non_negative_float, default=DEFAULTS.lr,
                   help="Adam's learning rate (default %(default)s)")
    p.add_argument("--eval-every", type=positive_int, default=DEFAULTS.eval_every,
                   help="validate and keep the best weights this often (default %(default)s)")
    p.add_argument("--word-dropout", type=below_one, default=DEFAULTS.word_dropout,
                   help="share of training words read as <unk>, in [0, 1) (default %(default)s)")
    p.add_argument("--weight-decay", type=non_negative_float, default=DEFAULTS.weight_decay,
                   help="Adam's L2 penalty, at least 0 (default %(default)s)")
    p.add_argument("--grad-clip", type=positive_float, default=DEFAULTS.grad_clip,
                   help="largest gradient norm, above 0 (default %(default)s)")
    p.add_argument("--soft-targets", type=non_negative_float, default=DEFAULTS.soft_targets, metavar="K",
                   help="train towards sigmoid(K x mean rating), neutral sentences too; 0: the labels, "
                        "positive and negative sentences only (default %(default)s)")
    p.add_argument("--average", type=below_one, default=DEFAULTS.average, metavar="DECAY",
                   help="validate and keep a moving average of the weights, this decay a step, in [0, 1); "
                        "0: off (default %(default)s)")
    p.add_argument("--label-threshold", type=non_negative_float, default=DEFAULTS.label_threshold, metavar="X",
                   help="a sentence is positive above +X and negative below -X of the -4..+4 mean rating, "
                        "X in [0, 4) (default %(default)s)")
    p.add_argument("--min-count", type=positive_int, default=DEFAULTS.min_count, metavar="N",
                   help="a word seen fewer than N times in training is read as <unk> (default %(default)s)")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed, help="(default %(default)s)")
    add_device_option(p)
    p.add_argument("--out", required=True, help="the .safetensors file to write")


def load_model(model_arg, device_choice):
    """The sentiment model of --model (default: the shipped LSTM) on the device of --device."""
    from rnnstudio.nn.device import select_device
    from rnnstudio.nn.sentiment import load_sentiment
    from rnnstudio.paths import shipped_model

    return load_sentiment(model_arg or shipped_model("sentiment"), select_device(device_choice))


def reading_json(loaded, text: str) -> dict:
    """The contract's object for one text (UserError for a text the model cannot read)."""
    r = loaded.read(text, ig_steps=1)  # the contributions need no integrated gradients
    words = [{"word": t.text, "p_positive": probability(float(p)), "contribution": round(float(c), 5),
              "known": bool(k)} for t, p, c, k in zip(r.tokens, r.p_positive, r.contributions, r.known)]
    return {"text": text, "label": r.label, "p_positive": probability(r.p), "words": words}


def batch_lines(path: str):
    """(line number, text or None, why not) for each line of a batch file, read as bytes so that
    one line that is not UTF-8 spoils only itself."""
    file = Path(path)
    if not file.is_file():
        raise UserError(f"batch file {path} does not exist or is not a file; check the path")
    if file.stat().st_size > MAX_BATCH_BYTES:
        raise UserError(f"batch file {path} is over {MAX_BATCH_BYTES // 2**20} MiB; split it")
    try:
        data = file.read_bytes()
    except OSError as e:
        raise UserError(f"batch file {path} cannot be read: {e.strerror}") from None
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the last line's newline ends the file, it does not start an empty line
    for number, raw in enumerate(lines, 1):
        raw = raw.removesuffix(b"\r")
        try:
            text = raw.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            yield number, None, "the line is not UTF-8 text; save the file as UTF-8"
            continue
        yield number, text, None if text.strip() else "the line is empty"


def cmd_sentiment(args) -> int:
    if args.batch and args.text is not None:
        raise UserError("give either --batch FILE or a TEXT, not both")
    if not args.batch and args.text is None:
        raise UserError('give a text: rnnstudio sentiment --json "not bad at all" (or --batch FILE)')
    loaded = load_model(args.model, args.device)
    if not args.batch:
        result = reading_json(loaded, args.text)
        if args.json:
            print(json.dumps(result, ensure_ascii=False, allow_nan=False))
        else:
            print(f"{result['label']}\t{result['p_positive']:.3f}")
        return 0
    written = [0]
    with interrupt_says(lambda: f"the {written[0]} results above were written" if written[0] else ""):
        for number, text, why in batch_lines(args.batch):
            try:
                if why is not None:
                    raise UserError(why)
                result = reading_json(loaded, text)
            except UserError as e:
                result = {"line": number, "text": text, "error": str(e)}
            sys.stdout.write(json.dumps(result, ensure_ascii=False, allow_nan=False) + "\n")
            sys.stdout.flush()
            written[0] += 1
    return 0


def cmd_eval(args) -> int:
    from rnnstudio.train.sentiment import evaluate_test

    loaded = load_model(args.model, args.device)
    log("measuring the test split (the model and VADER) ...")
    json.dump(evaluate_test(loaded.model), sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    return 0


def settings_from(args):
    """The SentimentSettings of `train sentiment`'s options (UserError for a combination that does not work)."""
    from rnnstudio.train.sentiment import SentimentSettings

    try:
        return SentimentSettings(arch=args.arch, embed=args.embed, hidden=args.hidden, layers=args.layers,
                                 dropout=args.dropout, steps=args.steps, batch_size=args.batch, lr=args.lr,
                                 eval_every=args.eval_every, seed=args.seed, word_dropout=args.word_dropout,
                                 weight_decay=args.weight_decay, grad_clip=args.grad_clip,
                                 soft_targets=args.soft_targets, average=args.average,
                                 label_threshold=args.label_threshold, min_count=args.min_count)
    except ValueError as e:
        raise UserError(f"these settings do not work: {e}") from None


def cmd_train(args) -> int:
    from rnnstudio.nn.device import select_device
    from rnnstudio.train.sentiment import train_sentiment

    out = check_out(args.out)
    settings = settings_from(args)
    train_sentiment(settings, select_device(args.device), out, log)
    return 0
