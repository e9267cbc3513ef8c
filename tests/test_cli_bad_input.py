"""The command line given what it cannot use: an --out it could not write, a named pipe or a
device as an input, texts and batch lines too large or too deep, models whose output the
terminal cannot show; and what it writes when interrupted or when a save fails late."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import pytest
import torch
from cli_helpers import assert_one_line_error, call_main, run_cli

from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig, load_charrnn, save_charrnn

TINY_CHARRNN = ["--arch", "lstm", "--layers", "1", "--hidden", "8", "--embed", "4", "--seq-len", "16", "--batch", "4",
                "--steps", "3", "--device", "cpu"]
TINY_CAPTION = ["--steps", "2", "--batch", "4", "--hidden", "8", "--channels", "8", "--eval-scenes", "2", "--device",
                "cpu"]
TINY_VQA = ["--steps", "2", "--batch", "4", "--channels", "8", "--film", "8", "--hidden", "8", "--embed", "4",
            "--fused", "8", "--eval-scenes", "2", "--workers", "0", "--device", "cpu"]
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")


def train_args(command, corpus):
    return {"charrnn": ["train", "charrnn", "--corpus", corpus, *TINY_CHARRNN],
            "caption": ["train", "caption", *TINY_CAPTION], "vqa": ["train", "vqa", *TINY_VQA]}[command]


def charrnn_file(path, vocab, seed=0):
    torch.manual_seed(seed)
    model = CharRNN(CharRNNConfig(vocab_size=len(vocab), arch="lstm", layers=1, hidden=4, embed=0))
    save_charrnn(path, model, vocab, {"steps": 0})
    return path


# --- 1. and 2.: --out is checked before any training ----------------------------------------------


@pytest.mark.parametrize("command", ["charrnn", "caption", "vqa"])
@pytest.mark.parametrize("bad_out, fragment", [
    ("", "--out is empty"),
    ("{tmp}", "is a folder; give a file name in it"),
    ("{tmp}/missing/m.safetensors", "does not exist"),
    ("/proc/m.safetensors", "a file cannot be created in the folder /proc"),
    # A pipe, never a device such as /dev/null: run as root, the old code replaced the device with the model.
    ("{tmp}/pipe", "not a regular file"),
], ids=["empty", "folder", "missing folder", "folder not writable", "pipe"])
def test_every_train_command_refuses_an_out_it_could_not_write_before_training(
        capsys, tmp_path, tiny_text_file, command, bad_out, fragment):
    if bad_out.startswith("/proc") and not os.path.isdir("/proc/self"):
        pytest.skip("needs Linux's /proc")
    if bad_out.endswith("pipe"):
        if not hasattr(os, "mkfifo"):
            pytest.skip("named pipes are a POSIX thing")
        os.mkfifo(tmp_path / "pipe")
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = call_main(capsys, *train_args(command, tiny_text_file), "--out", bad_out.format(tmp=tmp_path))
    assert code == 2 and out == ""
    assert_one_line_error(err, fragment)  # one line: no training progress came before it
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "nothing was written, no temporary left"


def test_train_refuses_to_write_the_model_over_its_own_corpus(capsys, tmp_path, tiny_text_file):
    before = tiny_text_file.read_bytes()
    for same in (tiny_text_file, tmp_path / "." / "tiny.txt"):
        code, _, err = call_main(capsys, *train_args("charrnn", tiny_text_file), "--out", same)
        assert code == 2
        assert_one_line_error(err, "is the --corpus input", "choose another file name")
    assert tiny_text_file.read_bytes() == before


def test_train_caption_refuses_to_write_the_model_over_its_annotations(capsys, tmp_path):
    annotations = tmp_path / "captions.json"
    annotations.write_text("{}")
    code, _, err = call_main(capsys, *train_args("caption", None), "--data", annotations, "--out", annotations)
    assert code == 2
    assert_one_line_error(err, "is the --data input")
    assert annotations.read_text() == "{}"


def test_a_save_that_fails_after_training_keeps_the_model_and_says_where(tmp_path, monkeypatch, tiny_trainer):
    """The folder of --out removed during training: the model goes to the current folder."""
    from rnnstudio.errors import UserError
    from rnnstudio.train.loop import save_or_keep

    monkeypatch.chdir(tmp_path)
    trainer = tiny_trainer(steps=3)
    out = tmp_path / "gone" / "verse.safetensors"
    with pytest.raises(UserError) as refused:
        save_or_keep(out, lambda path: save_charrnn(path, trainer.model, trainer.vocab.chars, trainer.trained_info()))
    message = str(refused.value)
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("verse-kept-")]
    assert len(kept) == 1 and kept[0].suffix == ".safetensors"
    assert f"could not save {out}" in message or f"cannot save to {out}" in message
    assert f"the trained model is kept in {kept[0].resolve()} instead" in message and "\n" not in message
    assert load_charrnn(kept[0]).vocab == trainer.vocab.chars


# --- 3.: only regular files are read --------------------------------------------------------------


@needs_fifo
@pytest.mark.parametrize("args, what", [
    (["sample", "--model", "{fifo}"], "model file"),
    (["eval", "charrnn", "--text", "{fifo}"], "text file"),
    (["train", "charrnn", "--corpus", "{fifo}", "--out", "{tmp}/m.safetensors"], "text file"),
    (["vqa", "--batch", "{fifo}"], "text file"),
    (["vqa", "{fifo}", "what color is it?"], "picture"),
    (["caption", "{fifo}"], "picture"),
], ids=["sample", "eval", "train", "vqa batch", "vqa", "caption"])
def test_a_named_pipe_as_an_input_is_refused_not_waited_on(tmp_path, args, what):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    proc = run_cli(*(a.format(fifo=fifo, tmp=tmp_path) for a in args), "--device", "cpu", timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert_one_line_error(proc.stderr, f"{fifo} is a named pipe, not a regular file", f"the path of a {what}")


def test_a_device_as_the_model_is_refused_unread():
    if not os.path.exists("/dev/zero"):
        pytest.skip("needs /dev/zero")
    proc = run_cli("sample", "--model", "/dev/zero", "--device", "cpu", timeout=60)
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr, "/dev/zero is a device, not a regular file")


# --- 4.: gates reads as much as the app, and writes short numbers --------------------------------------


def test_gates_refuses_a_text_longer_than_the_app_reads(tiny_model_file, capsys):
    from rnnstudio.worker.gates_messages import MAX_GATES_CHARS

    text = "the cat sat. " * (MAX_GATES_CHARS // 12)
    assert len(text) > MAX_GATES_CHARS
    code, out, err = call_main(capsys, "gates", "--model", tiny_model_file, "--text", text, "--json", "--device", "cpu")
    assert code == 2 and out == ""
    assert_one_line_error(err, f"{len(text):,} characters", f"at most {MAX_GATES_CHARS:,}", "shorten", "split")


def test_gates_json_writes_four_significant_digits(tiny_model_file, capsys):
    code, out, err = call_main(capsys, "gates", "--model", tiny_model_file, "--text", "the cat sat on the mat.\n" * 4,
                               "--json", "--device", "cpu")
    assert code == 0, err
    numbers = re.findall(r"-?\d+\.\d+(?:e-?\d+)?", out)
    assert len(numbers) == 96 * 16 * 6
    significant = [len(n.lstrip("-").split("e")[0].replace(".", "").lstrip("0")) for n in numbers]
    assert max(significant) == 4


# --- 5.: bad input is a clear line, never an internal error -------------------------------------------


@pytest.mark.parametrize("line, fragment", [
    ("[" * 100_000 + "]" * 100_000, "is JSON nested too deeply to read"),
    ('{"image": "a.png", "question": "how many?", "n": ' + "9" * 5000 + "}", "is JSON holding a number too long"),
], ids=["nested", "huge number"])
def test_a_batch_line_nested_too_deep_or_with_a_huge_number_is_refused(tmp_path, capsys, line, fragment):
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"image": "a.png", "question": "how many?"}\n' + line + "\n")
    code, out, err = call_main(capsys, "vqa", "--json", "--batch", batch, "--device", "cpu")
    assert code == 2 and out == ""
    assert_one_line_error(err, f"{batch} line 2", fragment)


def test_a_model_whose_vocabulary_holds_a_lone_surrogate_is_refused(tmp_path, capsys):
    path = charrnn_file(tmp_path / "odd.safetensors", [" ", "a", "\ud800"])
    code, out, err = call_main(capsys, "sample", "--model", path, "--chars", "20", "--device", "cpu")
    assert code == 2 and out == ""
    assert_one_line_error(err, str(path), "damaged vocabulary", "U+D800")


def test_characters_the_terminal_cannot_encode_are_escaped(tmp_path):
    path = charrnn_file(tmp_path / "emoji.safetensors", [" ", "a", "\U0001f600"])
    proc = run_cli("sample", "--model", path, "--prime", "\U0001f600a", "--chars", "30", "--seed", "1",
                   "--device", "cpu", env_extra={"PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("\\U0001f600a") and len(proc.stdout.splitlines()) == 1


# --- 6.: interrupts, output as it comes ----------------------------------------------------------------


def test_ctrl_c_during_sample_says_how_much_was_written(tiny_model_file):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rnnstudio", "sample", "--model", str(tiny_model_file),
                             "--chars", "100000000", "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    timer = threading.Timer(60, proc.kill)  # never hang the suite
    timer.start()
    try:
        assert len(proc.stdout.read(200)) == 200  # it is writing
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        timer.cancel()
    assert proc.returncode == 130
    line = err.decode().strip()
    assert re.fullmatch(r"rnnstudio: interrupted; the \d+ characters above were written", line), line
    assert out.endswith(b"\n")  # the prompt comes back on a line of its own
