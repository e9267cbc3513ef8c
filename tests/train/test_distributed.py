"""Training at scale: the train commands under torchrun (two CPU processes over gloo, tiny
models), a failure on one rank, each rank's own batches, and --amp/--compile on the CPU."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from cli_helpers import call_main
from safetensors.torch import load_file

from rnnstudio.errors import UserError
from rnnstudio.train import accel
from rnnstudio.train.distributed import Run, ShardedData, error_prefix, launched_by_torchrun

VERSE = "the cat sat on the mat.\nthe dog sat on the log.\n" * 60
CHARRNN = ["--layers", "1", "--hidden", "16", "--embed", "8", "--seq-len", "16", "--batch", "8", "--steps", "6",
           "--eval-every", "3", "--seed", "3", "--device", "cpu"]


def torchrun(tmp_path, *args, script=None, timeout=90):
    """`python -m torch.distributed.run --nproc_per_node 2 --standalone -m rnnstudio ARGS`, for real."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "offscreen"}
    for name in ("RNNSTUDIO_DEBUG", "RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    target = [str(script)] if script else ["-m", "rnnstudio"]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
               *target, *map(str, args)]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path)


@pytest.fixture
def verse(tmp_path):
    path = tmp_path / "verse.txt"
    path.write_text(VERSE, encoding="utf-8")
    return path


def only_model_files(folder):
    return sorted(p.name for p in folder.iterdir() if ".safetensors" in p.name)


# --- the three commands under torchrun ----------------------------------------------------


def test_charrnn_under_torchrun_trains_on_both_ranks(tmp_path, verse, capsys):
    from rnnstudio.nn.charrnn import load_charrnn

    out = tmp_path / "ddp.safetensors"
    proc = torchrun(tmp_path, "train", "charrnn", "--corpus", verse, *CHARRNN, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert only_model_files(tmp_path) == ["ddp.safetensors"]  # one file, no temporary left behind
    assert "2 processes (gloo)" in proc.stderr
    assert proc.stderr.count("iter ") == 2  # progress from rank 0 only: steps 3 and 6
    assert proc.stderr.count("wrote ") == 1

    loaded = load_charrnn(out)
    trained = loaded.trained
    assert trained["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert trained["steps"] == 6
    assert trained["chars"] == 2 * 6 * 8 * 16  # both ranks' windows counted, summed over the group
    assert trained["settings"]["seed"] == 3  # rank 0's seed is the one asked for
    assert set(load_file(out)) == {"embed.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                                   "rnn.bias_hh_l0", "head.weight", "head.bias"}  # no DDP "module." prefix

    # The same command in one process trains on rank 0's batches alone. Had rank 1 drawn the same
    # batches, or not taken part, averaging would change nothing and the weights would be equal.
    single = tmp_path / "single.safetensors"
    code, _out, err = call_main(capsys, "train", "charrnn", "--corpus", verse, *CHARRNN, "--out", single)
    assert code == 0, err
    assert "distributed" not in load_charrnn(single).trained
    a, b = load_file(out), load_file(single)
    assert set(a) == set(b)
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_caption_under_torchrun(tmp_path):
    from rnnstudio.nn.captioner import load_captioner

    out = tmp_path / "cap.safetensors"
    proc = torchrun(tmp_path, "train", "caption", "--steps", "3", "--batch", "4", "--channels", "8", "--hidden", "16",
                    "--eval-scenes", "2", "--log-every", "3", "--device", "cpu", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert only_model_files(tmp_path) == ["cap.safetensors"]
    loaded = load_captioner(out)
    assert loaded.trained["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert loaded.trained["images"] == 2 * 3 * 4
    assert "precision" not in loaded.trained and "compiled" not in loaded.trained  # auto: off on the CPU


def test_vqa_under_torchrun(tmp_path):
    from rnnstudio.nn.vqa import load_vqa

    out = tmp_path / "vqa.safetensors"
    proc = torchrun(tmp_path, "train", "vqa", "--steps", "2", "--batch", "4", "--questions-per-image", "2",
                    "--channels", "8", "--film", "8", "--embed", "8", "--hidden", "16", "--fused", "16",
                    "--workers", "0", "--easyvqa-fraction", "0", "--eval-scenes", "1", "--log-every", "2",
                    "--device", "cpu", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert only_model_files(tmp_path) == ["vqa.safetensors"]
    loaded = load_vqa(out)
    assert loaded.trained["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert loaded.trained["images"] == 2 * 2 * 4 and loaded.trained["questions"] == 2 * 2 * 4 * 2


def test_a_failure_on_one_rank_ends_the_run_with_its_line_and_no_hang(tmp_path, verse):
    """Rank 0 fails in the middle of training while rank 1 waits for it in DDP's all-reduce."""
    script = tmp_path / "broken.py"
    script.write_text(
        "import sys\n"
        "from rnnstudio.train.charrnn import CharRNNTrainer\n"
        "def validate(self):\n"
        "    raise RuntimeError('the validation text caught fire')\n"
        "CharRNNTrainer.validate = validate  # only rank 0 validates\n"
        "from rnnstudio.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    out = tmp_path / "never.safetensors"
    t0 = time.monotonic()
    proc = torchrun(tmp_path, "train", "charrnn", "--corpus", verse, *CHARRNN, "--out", out, script=script, timeout=60)
    assert time.monotonic() - t0 < 45
    assert proc.returncode != 0
    ours = [line for line in proc.stderr.splitlines() if line.startswith("rnnstudio: internal error: RuntimeError")]
    assert ours == [("rnnstudio: internal error: RuntimeError: the validation text caught fire; please report it "
                     "(set RNNSTUDIO_DEBUG=1 for details)")], proc.stderr
    # Rank 1, if torchrun had not stopped it first, says that its partner went away, in one line.
    others = [line for line in proc.stderr.splitlines() if line.startswith("rnnstudio:") and line not in ours]
    assert all(line.startswith("rnnstudio: error: rank 1 of 2: another training process stopped (")
               for line in others), others
    assert only_model_files(tmp_path) == []


# --- the pieces, in this process -----------------------------------------------------------


def test_a_single_process_is_left_alone():
    assert not launched_by_torchrun({})
    assert not launched_by_torchrun({"RANK": "0", "WORLD_SIZE": "2"})  # not all of torchrun's variables
    assert launched_by_torchrun({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert error_prefix({}) == ""
    assert error_prefix({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}) == ""
    assert error_prefix({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}) == "rank 1 of 2: "
    run = Run(torch.device("cpu"))
    model = torch.nn.Linear(2, 2)
    assert not run.distributed and run.is_main and run.info() == {}
    assert run.wrap(model) is model
    data = object()
    assert run.shard(data) is data
    assert run.seed(5) == 5
    assert run.mean(2.5) == 2.5 and run.total(7) == 7
    run.barrier()
    run.close()


def test_each_rank_makes_its_own_batches():
    from rnnstudio.train.caption import CaptionTrainSettings, ShapesData

    data = ShapesData(32, CaptionTrainSettings(batch_size=2))
    ranks = [ShardedData(data, r, 2) for r in range(2)]
    assert ranks[0].vocab == data.vocab and ranks[1].name == "shapes"
    for iteration in range(3):
        for r, shard in enumerate(ranks):
            images, captions = shard.batch(iteration, 2)
            want_images, want_captions = data.batch(2 * iteration + r, 2)
            assert captions == want_captions
            assert all(np.array_equal(a, b) for a, b in zip(images, want_images))
    assert not np.array_equal(ranks[0].batch(0, 2)[0][0], ranks[1].batch(0, 2)[0][0])
    two = Run(torch.device("cpu"), rank=1, world_size=2, backend="gloo")
    assert two.seed(3) != 3 and Run(torch.device("cpu"), rank=0, world_size=2, backend="gloo").seed(3) == 3


def test_amp_and_compile_resolve_to_off_on_the_cpu():
    cpu = torch.device("cpu")
    assert accel.resolve_amp(None, cpu) is accel.FLOAT32
    assert accel.resolve_amp(False, cpu) is accel.FLOAT32
    assert accel.resolve_amp(True, cpu).dtype == torch.bfloat16  # asked for: the CPU's bfloat16
    assert accel.resolve_compile(None, cpu, helps=True) is False
    assert accel.resolve_compile(True, cpu, helps=False) is True
    assert accel.resolve_amp(False, torch.device("cuda")) is accel.FLOAT32  # no GPU needed to say no
    assert accel.resolve_compile(None, torch.device("cuda"), helps=True) is True
    assert accel.resolve_compile(None, torch.device("cuda"), helps=False) is False
    assert accel.resolve_compile(None, torch.device("mps"), helps=True) is False
    assert accel.resolve_amp(None, torch.device("mps")) is accel.FLOAT32
    with pytest.raises(UserError, match="--no-amp"):
        accel.resolve_amp(True, torch.device("mps"))


def test_the_train_commands_say_amp_and_compile_in_their_help(capsys):
    for task in ("charrnn", "caption", "vqa"):
        code, out, _err = call_main(capsys, "train", task, "--help")
        assert code == 0
        flat = " ".join(out.split())
        assert "--amp, --no-amp" in flat and "--compile, --no-compile" in flat
        assert "off on the CPU" in flat


def test_cpu_training_by_default_is_plain_float32(tmp_path, verse, capsys):
    out = tmp_path / "m.safetensors"
    code, _out, err = call_main(capsys, "train", "charrnn", "--corpus", verse, *CHARRNN, "--out", out)
    assert code == 0, err
    meta = __import__("rnnstudio.nn.charrnn", fromlist=["x"]).load_charrnn(out).trained
    assert "precision" not in meta and "compiled" not in meta and "distributed" not in meta
    assert "mixed precision" not in err and "compiled" not in err


CPU = torch.device("cpu")


def bf16_on_the_cpu_as_on_cuda(choice, device):
    """resolve_amp as CUDA's automatic choice behaves (mixed precision on), for the CPU's bfloat16."""
    return accel.FLOAT32 if choice is False else accel.Precision(torch.bfloat16, "cpu", scale=True)


@pytest.mark.hardware
def test_mixed_precision_with_loss_scaling_learns_where_the_probe_allows_it_and_is_refused_by_name_elsewhere(
        tiny_trainer):
    """The autocast + GradScaler path (the one CUDA takes), run with the CPU's bfloat16 where this
    CPU has bfloat16 kernels for the model's layers; where it has not (oneDNN's LSTM without
    AVX-512 BF16), --amp named by the user is refused with the probe's reason, before a step."""
    trainer = tiny_trainer(steps=0, hidden=32, seq_len=24, batch_size=16, lr=1e-2, planned=60)
    problem = accel.amp_problem(trainer.model, CPU, torch.bfloat16)
    if problem is not None:
        with pytest.raises(UserError) as refused:
            accel.prepare(trainer, Run(CPU), amp=True, compile=False)
        message = str(refused.value)
        assert message.startswith("--amp: mixed precision (bfloat16) cannot train this model on cpu here")
        assert problem in message and message.endswith("train without --amp") and "\n" not in message
        assert trainer.iteration == 0
        return
    trainer.precision = accel.Precision(torch.bfloat16, "cpu", scale=True)
    assert trainer.precision.scaler is not None
    losses = [trainer.step()["loss"] for _ in range(60)]
    assert np.isfinite(losses).all()
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # the weights stay float32
    assert trainer.precision.scaler.get_scale() > 0


@pytest.mark.hardware
def test_an_automatic_mixed_precision_choice_trains_in_float32_where_the_probe_fails(tiny_trainer, monkeypatch):
    """CUDA's default (mixed precision on) on a device without the model's 16-bit kernels: the
    run goes on in float32 and its first log line says why; where the kernels exist, it uses them."""
    monkeypatch.setattr(accel, "resolve_amp", bf16_on_the_cpu_as_on_cuda)
    trainer = tiny_trainer(steps=0)
    problem = accel.amp_problem(trainer.model, CPU, torch.bfloat16)
    info = accel.prepare(trainer, Run(CPU), amp=None, compile=False)
    if problem is None:
        assert trainer.precision.dtype == torch.bfloat16 and info["precision"] == "bfloat16"
        assert "not_mixed_precision" not in info
    else:
        assert trainer.precision is accel.FLOAT32 and "precision" not in info
        assert info["not_mixed_precision"] == problem
        assert f", float32 (mixed precision cannot run here: {problem})" == accel.describe(info)
    assert np.isfinite(trainer.step()["loss"])


@pytest.mark.hardware
def test_the_mixed_precision_probe_runs_the_models_own_layers_and_leaves_no_gradient(tiny_trainer):
    trainer = tiny_trainer(steps=0)
    first = accel.amp_problem(trainer.model, CPU, torch.bfloat16)
    assert all(p.grad is None for p in trainer.model.parameters())
    assert trainer.model.training  # as it was
    accel._amp_answers.clear()  # asked again for real, not from memory: the same answer
    assert accel.amp_problem(trainer.model, CPU, torch.bfloat16) == first



@pytest.mark.hardware
def test_caption_training_compiled_and_in_mixed_precision_when_asked(tmp_path):
    """--compile --amp on the CPU: where this machine can, the encoder goes through torch.compile
    (inductor) for real and the steps run under autocast, and the file keeps the plain parameter
    names, so the app opens it; where the probes say it cannot, the command refuses in one line
    with their reason and writes nothing."""
    from cli_helpers import assert_one_line_error, run_cli

    from rnnstudio.data.shapes import caption_words
    from rnnstudio.nn.captioner import SPECIALS, Captioner, CaptionerConfig, load_captioner

    vocab = SPECIALS + caption_words()
    same_model = Captioner(CaptionerConfig(vocab_size=len(vocab), channels=8, hidden=16), vocab)
    amp_problem = accel.amp_problem(same_model, CPU, torch.bfloat16)
    compile_problem = accel.compile_problem(CPU) if amp_problem is None else None  # --amp is checked first
    out = tmp_path / "cap.safetensors"
    proc = run_cli("train", "caption", "--steps", "3", "--batch", "4", "--channels", "8", "--hidden", "16",
                   "--eval-scenes", "2", "--log-every", "3", "--device", "cpu", "--compile", "--amp", "--out", out,
                   timeout=300)
    if amp_problem is not None or compile_problem is not None:
        assert proc.returncode == 2, proc.stderr
        flag = "--amp" if amp_problem is not None else "--compile"
        assert_one_line_error(proc.stderr, flag, amp_problem or compile_problem, f"without {flag}",
                              after_progress=True)
        assert only_model_files(tmp_path) == []
        return
    assert proc.returncode == 0, proc.stderr
    assert "mixed precision (bfloat16), compiled SmallEncoder" in proc.stdout + proc.stderr
    loaded = load_captioner(out)
    assert loaded.trained["precision"] == "bfloat16" and loaded.trained["compiled"] == "SmallEncoder"
    assert not any("_orig_mod" in name for name in load_file(out))


def test_compile_without_a_working_toolchain_is_refused_with_the_reason(tmp_path, verse):
    """A machine without a C++ compiler (a student's laptop): --compile says so before training,
    in one line, and writes nothing; a fresh inductor cache so nothing compiled earlier is reused."""
    from cli_helpers import assert_one_line_error, run_cli

    out = tmp_path / "m.safetensors"
    proc = run_cli("train", "charrnn", "--corpus", verse, *CHARRNN, "--compile", "--out", out, timeout=300,
                   env_extra={"CXX": str(tmp_path / "no-such-compiler"),
                              "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")})
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc.stderr, "--compile", "cannot build kernels", "no-such-compiler", "without --compile",
                          after_progress=True)
    assert not out.exists() and only_model_files(tmp_path) == []


@pytest.mark.hardware
def test_the_default_trains_uncompiled_where_compiling_cannot_work(tiny_trainer, monkeypatch, tmp_path):
    """The CUDA default (compile where it helps) meets a machine that cannot compile: the run goes
    on uncompiled and the log line says why. Shown on the CPU with its compiler taken away; the
    probe then gives the answer it gave before, however often it is asked."""
    before = accel.compile_problem(CPU)
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))  # nothing compiled earlier reused
    monkeypatch.setattr(accel, "resolve_compile", lambda choice, device, helps: True)  # as on CUDA
    trainer = tiny_trainer(steps=0)
    info = accel.prepare(trainer, Run(CPU), amp=False, compile=None)
    assert "compiled" not in info and "no-such-compiler" in info["not_compiled"]
    assert "not compiled (torch.compile cannot build kernels here" in accel.describe(info)
    assert trainer.train_model is trainer.model and getattr(trainer.model, "_compiled_call_impl", None) is None
    assert np.isfinite(trainer.step()["loss"])
    assert accel.compile_problem(CPU) == info["not_compiled"]
    monkeypatch.undo()
    accel._compile_answers.clear()  # asked again for real, with the compiler back
    assert accel.compile_problem(CPU) == before


@pytest.mark.hardware
def test_amp_named_on_the_command_line_trains_where_the_probe_allows_it_and_stops_with_one_line_elsewhere(
        tmp_path, verse, capsys):
    """`train charrnn --amp`: on a CPU with bfloat16 LSTM kernels it trains in mixed precision;
    on one without (an AVX2 host), it stops before training with exit 2, one line saying why,
    and writes nothing (it ended in 'internal error' from oneDNN)."""
    from rnnstudio.data.text import load_corpus
    from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig

    symbols = len(load_corpus(str(verse)).vocab())
    same_model = CharRNN(CharRNNConfig(vocab_size=symbols, layers=1, hidden=16, embed=8))
    problem = accel.amp_problem(same_model, CPU, torch.bfloat16)
    out = tmp_path / "m.safetensors"
    code, _out, err = call_main(capsys, "train", "charrnn", "--corpus", verse, *CHARRNN, "--amp", "--out", out)
    if problem is None:
        assert code == 0, err
        assert "mixed precision (bfloat16)" in err.splitlines()[0]
        assert load_file(out)  # a model file was written
    else:
        assert code == 2, err
        assert err.strip().splitlines()[-1] == (f"rnnstudio: error: --amp: mixed precision (bfloat16) cannot train "
                                                f"this model on cpu here ({problem}); train without --amp")
        assert "iter " not in err and not out.exists()
