"""The `rnnstudio` command (docs/COMMAND-LINE.md), through a real process where it matters."""

from __future__ import annotations

import json
import math
import sys

import pytest
from cli_helpers import assert_one_line_error, call_main, run_cli

import rnnstudio.paths
from rnnstudio.nn.charrnn import load_charrnn

TINY = ["--arch", "lstm", "--layers", "1", "--hidden", "16", "--embed", "8", "--seq-len", "16", "--batch", "8",
        "--device", "cpu"]


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    """A model made by the real command in a real process, shared by this module's tests."""
    folder = tmp_path_factory.mktemp("cli")
    text = folder / "verse.txt"
    text.write_text("the cat sat on the mat.\nthe dog sat on the log.\n" * 60, encoding="utf-8")
    out = folder / "tiny.safetensors"
    proc = run_cli("train", "charrnn", "--corpus", text, *TINY, "--steps", "30", "--eval-every", "10",
                   "--seed", "1", "--out", out)
    return proc, out, text


# --- usage errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--frobnicate"],
        ["fly-to-the-moon"],
        ["sample", "--chars", "zero"],
        ["sample", "--chars", "0"],
        ["sample", "--temperature", "-1"],
        ["sample", "--temperature", "inf"],
        ["sample", "--device", "tpu"],
        ["train", "charrnn", "--corpus", "x.txt"],  # --out is required
        ["train", "charrnn", "--out", "m.safetensors", "--arch", "transformer"],
        ["train", "charrnn", "--out", "m.safetensors", "--layers", "-2"],
        ["eval", "charrnn"],  # --text is required
        ["eval", "vqa-of-doom"],
        ["screenshot", "--out", "shots", "--size", "tiny"],
        ["train"],  # no task
        ["eval"],
    ],
)
def test_nonsense_arguments_exit_2_with_one_line(args):
    proc = run_cli(*args)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert_one_line_error(proc.stderr)
    assert proc.stdout == ""


def test_nonsense_arguments_in_process(capsys):
    code, out, err = call_main(capsys, "sample", "--chars", "many")
    assert code == 2 and out == ""
    assert_one_line_error(err, "--chars", "'many' is not a whole number")


def test_every_option_of_every_command_says_what_it_does():
    """`rnnstudio ... --help` is where a student learns the command line: no bare option."""
    import argparse

    from rnnstudio.cli import build_parser

    bare = []

    def walk(parser, command):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*command, name])
            elif action.option_strings and not action.help:
                bare.append(f"{' '.join(command)} {action.option_strings[0]}")

    walk(build_parser(), ["rnnstudio"])
    assert bare == []


def test_version(capsys):
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip().startswith("rnnstudio ")


# --- train, sample, eval --------------------------------------------------------------------------


def test_train_charrnn_writes_a_model(trained_model):
    proc, out, text = trained_model
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""  # progress and logs go to stderr
    assert "iter" in proc.stderr and str(out) in proc.stderr
    loaded = load_charrnn(out)
    assert loaded.model.config.arch == "lstm"
    assert (loaded.model.config.layers, loaded.model.config.hidden, loaded.model.config.embed) == (1, 16, 8)
    assert set(loaded.vocab) == set(text.read_text())
    assert loaded.trained["steps"] == 30
    assert loaded.trained["corpus"] == str(text)
    metrics = loaded.trained["metrics"]
    assert metrics["valid_bits_per_char"] == pytest.approx(metrics["valid_nats_per_char"] / math.log(2), abs=2e-4)


def test_sample_prints_text_and_is_reproducible(trained_model, capsys):
    _, model, _ = trained_model
    proc = run_cli("sample", "--model", model, "--chars", "80", "--prime", "the ", "--seed", "7",
                   "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("the ")
    assert len(proc.stdout) == len("the ") + 80 + 1 and proc.stdout.endswith("\n")
    # The same seed gives the same text, in another process too.
    common = ["sample", "--model", model, "--chars", "80", "--prime", "the ", "--device", "cpu"]
    code, out, err = call_main(capsys, *common, "--seed", "7")
    assert code == 0, err
    assert out == proc.stdout
    code, other, _ = call_main(capsys, *common, "--seed", "8")
    assert code == 0 and other != out
    vocab = set(load_charrnn(model).vocab)
    assert set(out[:-1]) <= vocab


def test_sample_greedy_is_deterministic(trained_model, capsys):
    _, model, _ = trained_model
    args = ["sample", "--model", model, "--chars", "40", "--temperature", "0", "--device", "cpu"]
    first = call_main(capsys, *args)
    second = call_main(capsys, *args)
    assert first[0] == 0 and first == second


def test_sample_with_unknown_prime_characters(trained_model, capsys):
    _, model, _ = trained_model
    code, out, err = call_main(capsys, "sample", "--model", model, "--prime", "QZ", "--device", "cpu")
    assert code == 2
    assert_one_line_error(err, "'Q'", "'Z'")


def test_eval_prints_json(trained_model, capsys, tmp_path):
    _, model, _ = trained_model
    text = tmp_path / "held-out.txt"
    body = "the dog sat on the mat.\nthe cat sat on the log.\n" * 5
    text.write_text(body, encoding="utf-8")
    code, out, err = call_main(capsys, "eval", "charrnn", "--model", model, "--text", text, "--device", "cpu")
    assert code == 0, err
    result = json.loads(out)  # one JSON document on stdout
    assert set(result) == {"nats_per_char", "bits_per_char", "chars"}
    assert result["chars"] == len(body)
    assert 0 < result["nats_per_char"] < math.log(len(load_charrnn(model).vocab))
    assert result["bits_per_char"] == pytest.approx(result["nats_per_char"] / math.log(2), abs=1e-4)


def test_eval_text_with_unknown_characters(trained_model, capsys, tmp_path):
    _, model, _ = trained_model
    text = tmp_path / "other.txt"
    text.write_text("the cat sat on the XYLOPHONE\n", encoding="utf-8")
    code, out, err = call_main(capsys, "eval", "charrnn", "--model", model, "--text", text, "--device", "cpu")
    assert code == 2 and out == ""
    assert_one_line_error(err, "'X'")


def test_eval_too_short_text(trained_model, capsys, tmp_path):
    _, model, _ = trained_model
    text = tmp_path / "one.txt"
    text.write_text("t", encoding="utf-8")
    code, _, err = call_main(capsys, "eval", "charrnn", "--model", model, "--text", text, "--device", "cpu")
    assert code == 2
    assert_one_line_error(err, "fewer than two characters")


def test_eval_non_utf8_text_names_the_byte(trained_model, capsys, tmp_path):
    _, model, _ = trained_model
    text = tmp_path / "latin1.txt"
    data = b"the cat sat on the mat.\n" * 50 + b"caf\xe9\n"
    text.write_bytes(data)
    code, out, err = call_main(capsys, "eval", "charrnn", "--model", model, "--text", text, "--device", "cpu")
    assert code == 2 and out == ""
    assert_one_line_error(err, f"byte {len(data) - 2} ", "UTF-8", "0xe9")


def test_eval_missing_text_file(trained_model, capsys, tmp_path):
    _, model, _ = trained_model
    code, _, err = call_main(capsys, "eval", "charrnn", "--model", model, "--text", tmp_path / "nope.txt",
                             "--device", "cpu")
    assert code == 2
    assert_one_line_error(err, "nope.txt", "does not exist")


# --- bad model files ------------------------------------------------------------------------------


def test_bad_model_file_in_a_real_process(tmp_path):
    import torch

    bad = tmp_path / "pickled.safetensors"
    torch.save({"rnn.weight_ih_l0": torch.zeros(2, 2)}, bad)
    proc = run_cli("sample", "--model", bad, "--device", "cpu")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert_one_line_error(proc.stderr, "pickle")


@pytest.mark.parametrize("kind", ["missing", "folder", "empty", "noise", "truncated"])
def test_bad_model_file(trained_model, capsys, tmp_path, kind):
    _, model, _ = trained_model
    path = tmp_path / "bad.safetensors"
    if kind == "folder":
        path = tmp_path
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "noise":
        path.write_bytes(bytes(range(256)) * 8)
    elif kind == "truncated":
        path.write_bytes(model.read_bytes()[:-100])
    for args in (["sample", "--model", path], ["eval", "charrnn", "--model", path, "--text", model]):
        code, out, err = call_main(capsys, *args, "--device", "cpu")
        assert code == 2, (args, err)
        assert out == ""
        assert_one_line_error(err, str(path))


def test_model_of_another_task(capsys, tmp_path):
    import torch

    from rnnstudio.nn.modelfile import ModelFile, save_model_file

    path = tmp_path / "easyvqa.safetensors"
    save_model_file(path, ModelFile(task="vqa", config={}, vocab=[], tensors={"w": torch.zeros(1)}))
    code, _, err = call_main(capsys, "sample", "--model", path, "--device", "cpu")
    assert code == 2
    assert_one_line_error(err, "vqa model", "not a charrnn model")


# --- the shipped model missing --------------------------------------------------------------------


def test_missing_shipped_model_says_how_to_fix(capsys, tmp_path, monkeypatch):
    empty = tmp_path / "models"
    empty.mkdir()
    monkeypatch.setenv("RNNSTUDIO_MODELS", str(empty))
    # paths.models_dirs also looks in the checkout and under the install prefix.
    monkeypatch.setattr(rnnstudio.paths, "_CHECKOUT_ROOT", tmp_path / "checkout")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path / "prefix"))
    assert all(not (d / "shakespeare-lstm.safetensors").exists() for d in rnnstudio.paths.models_dirs())
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat\n")
    for args in (["sample", "--chars", "5"], ["eval", "charrnn", "--text", text]):
        code, out, err = call_main(capsys, *args, "--device", "cpu")
        assert code == 2 and out == ""
        line = assert_one_line_error(err, "shakespeare-lstm.safetensors", "missing", str(empty))
        assert "rnnstudio train charrnn" in line and "--model" in line  # how to fix it


def test_rnnstudio_models_overrides_the_checkout(capsys, tmp_path, monkeypatch, tiny_model_file):
    folder = tmp_path / "shipped"
    folder.mkdir()
    (folder / "shakespeare-lstm.safetensors").write_bytes(tiny_model_file.read_bytes())
    monkeypatch.setenv("RNNSTUDIO_MODELS", str(folder))
    assert rnnstudio.paths.shipped_model("charrnn") == folder / "shakespeare-lstm.safetensors"
    code, out, err = call_main(capsys, "sample", "--chars", "12", "--seed", "1", "--device", "cpu")
    assert code == 0, err
    assert len(out) == 13


# --- train refusals -------------------------------------------------------------------------------


def test_train_into_missing_folder(capsys, tmp_path, tiny_text_file):
    code, _, err = call_main(capsys, "train", "charrnn", "--corpus", tiny_text_file, *TINY, "--steps", "1",
                             "--out", tmp_path / "no" / "m.safetensors")
    assert code == 2
    assert_one_line_error(err, "does not exist")


def test_train_on_too_short_text(capsys, tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("hello\n" * 10)
    out = tmp_path / "m.safetensors"
    code, _, err = call_main(capsys, "train", "charrnn", "--corpus", short, *TINY, "--steps", "1", "--out", out)
    assert code == 2
    # `train` logs what it reads before it finds the text too short; the error is one line.
    assert_one_line_error(err, "short.txt", "at least", after_progress=True)
    assert not out.exists()


def test_train_one_hot_gru_in_process(capsys, tmp_path, tiny_text_file):
    out = tmp_path / "gru.safetensors"
    args = ["train", "charrnn", "--corpus", tiny_text_file, "--arch", "gru", "--layers", "2", "--hidden", "8",
            "--embed", "0", "--seq-len", "16", "--batch", "4", "--steps", "5", "--device", "cpu", "--out", out]
    code, stdout, err = call_main(capsys, *args)
    assert code == 0, err
    loaded = load_charrnn(out)
    assert loaded.model.config.arch == "gru" and loaded.model.config.embed == 0
    assert "embed.weight" not in loaded.model.state_dict()
