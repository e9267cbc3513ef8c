"""The char-RNN's commands: `train charrnn`, `sample` and `eval charrnn`."""

from __future__ import annotations

import json
import math
import sys

from rnnstudio.cli import common
from rnnstudio.cli.common import add_device_option, interrupt_says, non_negative_float, positive_int
from rnnstudio.errors import UserError
from rnnstudio.train.defaults import CharRNNDefaults

DEFAULTS = CharRNNDefaults()


def add_train_parser(train) -> None:
    p = train.add_parser("charrnn", help="train a character-level language model")
    p.add_argument("--corpus", default=DEFAULTS.corpus, help="shakespeare, python, or a UTF-8 text file")
    p.add_argument("--arch", choices=("lstm", "gru", "rnn"), default=DEFAULTS.arch,
                   help="the recurrent cell (default %(default)s)")
    p.add_argument("--layers", type=positive_int, default=DEFAULTS.layers,
                   help="stacked recurrent layers (default %(default)s)")
    p.add_argument("--hidden", type=positive_int, default=DEFAULTS.hidden,
                   help="units in each layer's state (default %(default)s)")
    p.add_argument("--embed", type=int, default=DEFAULTS.embed, help="embedding size; 0 for one-hot input")
    p.add_argument("--steps", type=positive_int, default=DEFAULTS.steps,
                   help="training iterations, one batch each (default %(default)s)")
    p.add_argument("--seq-len", type=positive_int, default=DEFAULTS.seq_len, help="BPTT window in characters")
    p.add_argument("--batch", type=positive_int, default=DEFAULTS.batch_size,
                   help="text windows per iteration (default %(default)s)")
    p.add_argument("--lr", type=non_negative_float, default=DEFAULTS.lr,
                   help="Adam's learning rate, decayed to a tenth by the end (default %(default)s)")
    p.add_argument("--dropout", type=non_negative_float, default=DEFAULTS.dropout,
                   help="dropout between layers (default %(default)s)")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed,
                   help="for the same model from the same settings (default %(default)s)")
    p.add_argument("--eval-every", type=positive_int, default=DEFAULTS.eval_every,
                   help="measure on held-out text this often (default %(default)s)")
    add_device_option(p)
    common.add_speed_options(p, "the model (default: auto, which is off: cuDNN already runs the recurrent "
                                "layers as one call, and there is little else to fuse)")
    p.add_argument("--out", required=True, help="the .safetensors file to write")


def add_sample_parser(sub) -> None:
    p = sub.add_parser("sample", help="generate text from a char-RNN")
    p.add_argument("--model", help="a char-RNN model file (default: the shipped Shakespeare LSTM)")
    p.add_argument("--chars", type=positive_int, default=500, help="how many characters to write (default %(default)s)")
    p.add_argument("--temperature", type=non_negative_float, default=0.8, help="0 is greedy")
    p.add_argument("--top-k", type=int, default=0, help="sample from the k likeliest only; 0 for all")
    p.add_argument("--prime", default="", help="text the model reads before it writes")
    p.add_argument("--seed", type=int, default=None,
                   help="the same seed gives the same text (default: a new one each time)")
    add_device_option(p)


def add_eval_parser(evaluate) -> None:
    p = evaluate.add_parser("charrnn", help="nats and bits per character on a text")
    p.add_argument("--model", help="a char-RNN model file (default: the shipped Shakespeare LSTM)")
    p.add_argument("--text", required=True, help="a UTF-8 text file")
    add_device_option(p)


# --- train charrnn --------------------------------------------------------------------------


def cmd_train(args) -> int:
    return common.train(args, _check_train, _training)


def _check_train(args):
    from rnnstudio.data.text import BUILTIN_CORPORA

    out = common.check_out(args.out, corpus=None if args.corpus in BUILTIN_CORPORA else args.corpus)
    if args.embed < 0:
        raise UserError("--embed must be 0 (one-hot input) or a positive size")
    if args.dropout >= 1:
        raise UserError("--dropout must be below 1")
    return out


def _training(args, run):
    from rnnstudio.train.charrnn import charrnn_loop

    options = CharRNNDefaults(
        corpus=args.corpus, arch=args.arch, layers=args.layers, hidden=args.hidden, embed=args.embed,
        dropout=args.dropout, seq_len=args.seq_len, batch_size=args.batch, lr=args.lr, steps=args.steps,
        seed=args.seed, eval_every=args.eval_every,
    )
    return charrnn_loop(options, run)


# --- sample and eval charrnn ------------------------------------------------------------------


def load_model(model_arg, device_choice):
    """The char-RNN of --model (default: the shipped one) on the device of --device."""
    from rnnstudio.nn.charrnn import load_charrnn
    from rnnstudio.nn.device import select_device
    from rnnstudio.paths import shipped_model

    device = select_device(device_choice)
    path = model_arg or shipped_model("charrnn")
    return load_charrnn(path, device), device


def cmd_sample(args) -> int:
    import torch

    from rnnstudio.data.text import Vocab

    loaded, device = load_model(args.model, args.device)
    vocab = Vocab(loaded.vocab)
    prime = vocab.encode(args.prime)
    generator = torch.Generator().manual_seed(args.seed) if args.seed is not None else None
    out = sys.stdout
    written = 0
    with interrupt_says(lambda: f"the {written} characters above were written" if written else ""):
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
    from rnnstudio.data.text import Vocab, decode_codepoints
    from rnnstudio.errors import TextFileError
    from rnnstudio.train.charrnn import evaluate_text

    loaded, device = load_model(args.model, args.device)
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
    print(json.dumps({"nats_per_char": round(nats, 5), "bits_per_char": round(nats / math.log(2), 5),
                      "chars": int(len(points))}))
    return 0
