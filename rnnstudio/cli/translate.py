"""The translation commands: `train translate`, `translate` and `eval translate`."""

from __future__ import annotations

import json
import sys

from rnnstudio.cli import common
from rnnstudio.cli.common import add_device_option, fraction, interrupt_says, log, non_negative_float, positive_int
from rnnstudio.errors import UserError

MAX_BEAM = 20
BATCH_MAX_BYTES = 16 * 2**20


# Options left out keep TranslateSettings' defaults (rnnstudio.train.translation), read when the
# command runs: that module loads torch, which building the parser must not.
TRAIN_OPTIONS = (  # (option, settings field, type, help)
    ("--attention", "attention", ("additive", "none"),
     "additive (Bahdanau) attention, or none: the decoder sees only the encoder's summary (default additive)"),
    ("--cell", "cell", ("gru", "lstm"), "the recurrent cell (default gru)"),
    ("--hidden", "hidden", positive_int, "decoder state size, even (default 256)"),
    ("--embed", "embed", positive_int, "word embedding size (default 128)"),
    ("--layers", "layers", positive_int, "stacked layers (default 1)"),
    ("--dropout", "dropout", fraction, "dropout, below 1 (default 0.3)"),
    ("--min-count", "min_count", positive_int, "keep words seen at least this often (default 3)"),
    ("--steps", "steps", positive_int, "training batches (default 6000)"),
    ("--batch", "batch_size", positive_int, "pairs per batch (default 64)"),
    ("--lr", "lr", non_negative_float, "Adam's learning rate (default 0.002)"),
    ("--teacher-forcing", "teacher_forcing", fraction,
     "share of steps fed the reference's previous word, the rest their own (default 1)"),
    ("--eval-every", "eval_every", positive_int, "validation loss and BLEU this often (default 500)"),
    ("--beam", "beam", positive_int, "beam width of the final test figures (default 5)"),
    ("--seed", "seed", int, "for the same model from the same settings (default 0)"),
)


def add_train_parser(train) -> None:
    p = train.add_parser("translate", help="train a French-to-English translator (GRU/LSTM encoder-decoder)")
    for option, name, kind, text in TRAIN_OPTIONS:
        if isinstance(kind, tuple):
            p.add_argument(option, dest=name, choices=kind, default=None, help=text)
        else:
            p.add_argument(option, dest=name, type=kind, default=None, help=text)
    add_device_option(p)
    common.add_speed_options(p, "the whole model (default: off)")
    p.add_argument("--out", required=True, help="the .safetensors file to write")


def add_parser(sub) -> None:
    p = sub.add_parser("translate", help="translate French into English")
    p.add_argument("text", nargs="?", metavar="TEXT", help="a French sentence, in quotes")
    p.add_argument("--model", help="a translation model file (default: the shipped one, with attention)")
    p.add_argument("--beam", type=positive_int, default=5, help="beam width; 1 is greedy (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object a sentence (docs/COMMAND-LINE.md)")
    p.add_argument("--batch", metavar="FILE", help="a UTF-8 text file, one French sentence a line")
    add_device_option(p)


def add_eval_parser(evaluate) -> None:
    p = evaluate.add_parser("translate", help="BLEU and chrF of a translator on the test split")
    p.add_argument("--model", help="a translation model file (default: the shipped one, with attention)")
    p.add_argument("--beam", type=positive_int, default=5, help="beam width; 1 is greedy (default %(default)s)")
    add_device_option(p)


# --- train translate ----------------------------------------------------------------------------


def cmd_train(args) -> int:
    return common.train(args, _check_train, _training)


def _check_train(args):
    _settings(args)  # the settings' own checks (an odd --hidden, say), before any work
    return common.check_out(args.out)


def _settings(args):
    from rnnstudio.train.translation import TranslateSettings

    given = {name: getattr(args, name) for _, name, _, _ in TRAIN_OPTIONS if getattr(args, name) is not None}
    try:
        return TranslateSettings(**given)
    except ValueError as e:
        raise UserError(f"{e}; see `rnnstudio train translate --help`") from None


def _training(args, run):
    from rnnstudio.train.translation_loop import translation_loop

    return translation_loop(_settings(args), run)


# --- translate and eval translate ---------------------------------------------------------------


def load_model(model_arg, device_choice):
    from rnnstudio.nn.device import select_device
    from rnnstudio.nn.translation import load_translator
    from rnnstudio.paths import shipped_model

    return load_translator(model_arg or shipped_model("translate"), select_device(device_choice)).model


def read_lines(path: str) -> list[str]:
    """The batch file's lines, checked as every text file is (it exists, is UTF-8 text, not binary)."""
    from rnnstudio.data.text import codepoints_to_text, decode_codepoints

    return codepoints_to_text(decode_codepoints(path, max_bytes=BATCH_MAX_BYTES)).splitlines()


def _check_beam(beam: int) -> None:
    if beam > MAX_BEAM:
        raise UserError(f"--beam {beam} is too wide; at most {MAX_BEAM}")


def cmd_translate(args) -> int:
    _check_beam(args.beam)
    if args.batch and args.text is not None:
        raise UserError("give either --batch FILE or TEXT, not both")
    if not args.batch and args.text is None:
        raise UserError('give a French sentence: rnnstudio translate --json "Je suis content."')
    lines = read_lines(args.batch) if args.batch else None
    model = load_model(args.model, args.device)
    if lines is None:  # one sentence: its bad input is the command's
        result = model.translate(args.text, width=args.beam)
        _write(result.to_json() if args.json else result.translation, args.json)
        return 0
    written = 0
    with interrupt_says(lambda: f"the {written} lines above were written" if written else ""):
        for number, line in enumerate(lines, 1):
            try:
                result = model.translate(line, width=args.beam)
                item = result.to_json() if args.json else result.translation
            except UserError as e:  # one bad line: said in its place, and the batch goes on
                item = {"source": line, "error": str(e)} if args.json else f"error: {e}"
                log(f"{args.batch} line {number}: {e}")
            _write(item, args.json)
            written += 1
    return 0


def _write(item, as_json: bool) -> None:
    sys.stdout.write((json.dumps(item, ensure_ascii=False, allow_nan=False) if as_json else item) + "\n")
    sys.stdout.flush()


def cmd_eval(args) -> int:
    from rnnstudio.train.translation import evaluate_test

    _check_beam(args.beam)
    model = load_model(args.model, args.device)
    figures = evaluate_test(model, width=args.beam,
                            progress=lambda done, total: log(f"translated {done} of {total}"))
    out = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in figures.items() if k != "translations"}
    out["by_length"] = [{**b, "bleu": round(b["bleu"], 2)} for b in figures["by_length"]]
    json.dump(out, sys.stdout, ensure_ascii=False, separators=(",", ":"))
    sys.stdout.write("\n")
    return 0
