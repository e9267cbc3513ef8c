"""Model files (docs/MODEL-FORMAT.md): round trips, refusals with clear messages, atomic saves."""

from __future__ import annotations

import json
import os
import pickle
import random

import pytest
import torch
from safetensors.torch import save as safetensors_save

from rnnstudio.errors import ModelFileError
from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig, charrnn_model_file, load_charrnn, save_charrnn
from rnnstudio.nn.modelfile import METADATA_KEY, ModelFile, load_model_file, save_model_file

VOCAB = list("\n .:abcdefghijklmnopqrstuvwxyz")


def make_model(arch="lstm", layers=1, hidden=16, embed=8, seed=0) -> CharRNN:
    torch.manual_seed(seed)
    return CharRNN(CharRNNConfig(vocab_size=len(VOCAB), arch=arch, layers=layers, hidden=hidden, embed=embed))


def write_raw(path, tensors: dict, meta: dict | None) -> None:
    """A safetensors file with exactly the given rnnstudio metadata (or none)."""
    metadata = {METADATA_KEY: json.dumps(meta)} if meta is not None else None
    path.write_bytes(safetensors_save({k: v.contiguous() for k, v in tensors.items()}, metadata=metadata))


def good_meta(model: CharRNN, **changes) -> dict:
    meta = {"format": 1, "task": "charrnn", "config": model.config.to_dict(), "vocab": VOCAB,
            "trained": {"steps": 0, "corpus": "test", "metrics": {}}}
    meta.update(changes)
    return meta


def refused(path, *fragments: str) -> str:
    """Load `path`, expect a ModelFileError whose message holds every fragment; return it."""
    with pytest.raises(ModelFileError) as info:
        load_charrnn(path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert "\n" not in message
    return message


@pytest.fixture
def saved(tmp_path):
    model = make_model(hidden=16, layers=2)
    path = tmp_path / "m.safetensors"
    save_charrnn(path, model, VOCAB, {"steps": 3, "corpus": "test", "metrics": {}})
    return path, model


# --- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arch,layers,embed",
    [("lstm", 2, 8), ("gru", 1, 8), ("rnn", 2, 8), ("lstm", 1, 0), ("gru", 2, 0), ("rnn", 1, 0)],
)
def test_round_trip(tmp_path, arch, layers, embed):
    model = make_model(arch=arch, layers=layers, hidden=12, embed=embed, seed=7)
    trained = {"steps": 42, "corpus": "somewhere", "metrics": {"valid_nats_per_char": 1.25}}
    path = tmp_path / f"{arch}.safetensors"
    save_charrnn(path, model, VOCAB, trained)

    loaded = load_charrnn(path)
    assert loaded.vocab == VOCAB
    assert loaded.trained == trained
    assert loaded.model.config == model.config
    assert loaded.optimizer_tensors == {}
    assert not loaded.model.training
    want = model.state_dict()
    got = loaded.model.state_dict()
    assert set(got) == set(want)
    for name in want:
        assert torch.equal(got[name], want[name]), name
    # PyTorch's own names under rnn., the embedding only when the config has one.
    assert "rnn.weight_ih_l0" in got and "head.weight" in got and "head.bias" in got
    assert ("embed.weight" in got) == (embed > 0)
    if layers > 1:
        assert f"rnn.weight_hh_l{layers - 1}" in got
    idx = torch.tensor([[1, 5, 9, 3, 0]])
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.model(idx)[0], model(idx)[0])


def test_header_metadata_follows_the_contract(saved):
    path, model = saved
    data = path.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    meta = json.loads(header["__metadata__"]["rnnstudio"])
    assert meta["format"] == 1
    assert meta["task"] == "charrnn"
    assert meta["vocab"] == VOCAB
    for key in ("arch", "layers", "hidden"):
        assert meta["config"][key] == model.config.to_dict()[key]
    assert meta["trained"]["steps"] == 3


def test_optimizer_tensors_are_loaded_back(tmp_path, tiny_trainer):
    trainer = tiny_trainer(steps=5)
    optim = trainer.optimizer_tensors()
    assert optim, "a trainer that has stepped has Adam state"
    path = tmp_path / "with-optim.safetensors"
    save_charrnn(path, trainer.model, trainer.vocab.chars, trainer.trained_info(), optim)
    loaded = load_charrnn(path)
    assert set(loaded.optimizer_tensors) == set(optim)
    for name, t in optim.items():
        assert torch.equal(loaded.optimizer_tensors[name], t), name
    # The optimizer state is not mistaken for weights.
    assert set(loaded.model.state_dict()) == set(trainer.model.state_dict())


# --- refusals -------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    refused(tmp_path / "nothing-here.safetensors", "does not exist", "nothing-here.safetensors")


def test_folder(tmp_path):
    refused(tmp_path, "is a folder")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    refused(path, "0 bytes", "empty")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(random.Random(1).randbytes(4096))
    refused(path, "not a safetensors model file")


def test_text_file(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_text("these are my notes about recurrent networks, not a model\n" * 10)
    refused(path, "not a safetensors model file")


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_truncated_data(saved, keep):
    path, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    refused(path, "truncated")


def test_truncated_header(saved):
    path, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[:40])  # the length prefix and a part of the JSON header
    refused(path, "truncated")


def test_one_byte_short(saved):
    path, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[:-1])
    refused(path, "truncated")


def test_safetensors_without_rnnstudio_metadata(tmp_path):
    path = tmp_path / "plain.safetensors"
    write_raw(path, {"w": torch.zeros(3)}, None)
    refused(path, "not an RNN Studio model")


def test_file_of_another_task(tmp_path):
    path = tmp_path / "vqa.safetensors"
    save_model_file(path, ModelFile(task="vqa", config={"hidden": 8}, vocab=["yes", "no"],
                                    tensors={"w": torch.zeros(2, 2)}))
    refused(path, "vqa model", "not a charrnn model")
    # The generic loader reads it fine as what it is.
    assert load_model_file(path, "vqa").task == "vqa"


def test_newer_format(tmp_path):
    model = make_model()
    path = tmp_path / "future.safetensors"
    write_raw(path, model.state_dict(), good_meta(model, format=2))
    refused(path, "format 2", "newer", "update")


def test_hand_written_current_format_loads(tmp_path):
    # The helper itself writes files the loader accepts, so the refusals above are real.
    model = make_model()
    path = tmp_path / "ok.safetensors"
    write_raw(path, model.state_dict(), good_meta(model))
    assert load_charrnn(path).vocab == VOCAB


def test_tensors_not_matching_config_hidden(tmp_path):
    small = make_model(hidden=8)
    config = {**small.config.to_dict(), "hidden": 16}
    path = tmp_path / "mismatch.safetensors"
    write_raw(path, small.state_dict(), good_meta(small, config=config))
    message = refused(path, "does not match its config", "shape")
    assert "rnn." in message or "head." in message  # it names the tensor


def test_tensors_not_matching_config_arch(tmp_path):
    gru = make_model(arch="gru")
    config = {**gru.config.to_dict(), "arch": "lstm"}
    path = tmp_path / "arch.safetensors"
    write_raw(path, gru.state_dict(), good_meta(gru, config=config))
    refused(path, "does not match its config")


def test_tensor_missing(tmp_path):
    model = make_model()
    tensors = dict(model.state_dict())
    del tensors["head.bias"]
    path = tmp_path / "missing.safetensors"
    write_raw(path, tensors, good_meta(model))
    refused(path, "does not match its config", "head.bias", "missing")


def test_unexpected_tensor(tmp_path):
    model = make_model()
    tensors = {**model.state_dict(), "rnn.weight_ih_l5": torch.zeros(3)}
    path = tmp_path / "extra.safetensors"
    write_raw(path, tensors, good_meta(model))
    refused(path, "does not match its config", "rnn.weight_ih_l5")


def test_vocab_size_not_matching_tensors(tmp_path):
    model = make_model()
    path = tmp_path / "vocab.safetensors"
    write_raw(path, model.state_dict(), good_meta(model, vocab=VOCAB[:-3]))
    refused(path, "does not match its config")


def test_damaged_vocab(tmp_path):
    model = make_model()
    path = tmp_path / "dup.safetensors"
    write_raw(path, model.state_dict(), good_meta(model, vocab=VOCAB[:-1] + ["a"]))
    refused(path, "vocabulary")


# --- pickles are refused and never unpickled ------------------------------------------------------


class _Trap:
    """Unpickling this creates the marker file: proof that something was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("how", ["torch-zip", "torch-legacy", "pickle-5", "pickle-2", "pickle-0"])
def test_pickle_renamed_safetensors_is_refused_and_never_unpickled(tmp_path, how):
    marker = tmp_path / "UNPICKLED"
    payload = {"rnn.weight_ih_l0": torch.zeros(4, 4), "trap": _Trap(marker)}
    path = tmp_path / "model.safetensors"
    if how == "torch-zip":
        torch.save(payload, path)
    elif how == "torch-legacy":
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=int(how[-1])))
    # The trap works: unpickling this very file really would create the marker.
    if how.startswith("pickle"):
        pickle.loads(path.read_bytes())
        assert marker.exists()
        marker.unlink()

    with pytest.raises(ModelFileError) as info:
        load_charrnn(path)
    message = str(info.value)
    if how != "pickle-0":  # protocol 0 has no magic number; it is refused as not safetensors
        assert "pickle" in message
    else:
        assert "not a safetensors model file" in message
    assert not marker.exists(), "loading a model file unpickled something"


# --- saving ---------------------------------------------------------------------------------------


def test_atomic_save_keeps_old_file_when_replace_fails(saved, monkeypatch):
    path, _ = saved
    before = path.read_bytes()
    other = make_model(arch="gru", seed=3)

    def failing_replace(src, dst, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(ModelFileError) as info:
        save_charrnn(path, other, VOCAB, {"steps": 9})
    monkeypatch.undo()
    assert "untouched" in str(info.value)
    assert "No space left on device" in str(info.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "a temporary file was left behind"
    assert load_charrnn(path).model.config.arch == "lstm"


def test_atomic_save_keeps_old_file_when_write_fails(saved, monkeypatch):
    path, _ = saved
    before = path.read_bytes()

    def failing_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(ModelFileError):
        save_charrnn(path, make_model(seed=5), VOCAB, {"steps": 1})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_save_over_existing_file_replaces_it(saved):
    path, _ = saved
    gru = make_model(arch="gru", seed=4)
    save_charrnn(path, gru, VOCAB, {"steps": 10})
    assert load_charrnn(path).model.config.arch == "gru"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        save_charrnn(tmp_path / "no" / "such" / "m.safetensors", make_model(), VOCAB, {})


def test_charrnn_model_file_prefixes_optimizer_tensors():
    model = make_model()
    mf = charrnn_model_file(model, VOCAB, {}, {"head.bias.exp_avg": torch.ones(len(VOCAB))})
    assert "optim.head.bias.exp_avg" in mf.tensors
    assert mf.task == "charrnn"


needs_linux = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc and /dev")


@needs_linux
def test_saving_where_no_file_can_be_created_is_a_model_file_error_not_an_internal_one():
    with pytest.raises(ModelFileError) as info:
        save_charrnn("/proc/m.safetensors", make_model(), VOCAB, {})
    assert "could not save /proc/m.safetensors" in str(info.value) and "choose another" in str(info.value)


@pytest.mark.parametrize("target, fragment", [
    ("", "no file name"),
    (".", "is a folder; give a file name in it"),
    ("missing/m.safetensors", "the folder missing does not exist"),
    ("pipe", "not a regular file"),  # never a device such as /dev/null: an old bug would replace it
    ("/proc/m.safetensors", "a file cannot be created in the folder /proc"),
])
def test_check_can_save_refuses_what_the_save_would_fail_on(tmp_path, monkeypatch, target, fragment):
    from rnnstudio.nn.modelfile import check_can_save

    if target.startswith("/proc") and not os.path.isdir("/proc/self"):
        pytest.skip("needs Linux's /proc")
    if target == "pipe":
        if not hasattr(os, "mkfifo"):
            pytest.skip("named pipes are a POSIX thing")
        os.mkfifo(tmp_path / "pipe")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelFileError, match=fragment):
        check_can_save(target)
    check_can_save(tmp_path / "fine.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["pipe"] if target == "pipe" else []), \
        "the trial file was removed"


def test_a_killed_save_leaves_temporaries_that_the_next_save_into_the_folder_removes(saved):
    path, model = saved
    folder = path.parent
    size = path.stat().st_size

    def leftover(name, age_s):
        file = folder / name
        file.write_bytes(b"\0" * size)  # as large as the model whose save was killed
        os.utime(file, (file.stat().st_atime - age_s, file.stat().st_mtime - age_s))
        return file

    stale = [leftover(".m.safetensors.ab3_x9zq.tmp", 3600), leftover(".other.safetensors.k2j4h6g8.tmp", 3600)]
    kept = [leftover(".m.safetensors.zz99yy88.tmp", 5),  # a save running now, in another process
            leftover(".notes.txt.ab3_x9zq.tmp", 3600),  # not a model's
            leftover(".m.safetensors.toolongname.tmp", 3600)]  # not mkstemp's pattern
    save_charrnn(path, model, VOCAB, {"steps": 4})
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)
    assert load_charrnn(path).trained["steps"] == 4


def test_a_vocabulary_with_a_lone_surrogate_is_refused(tmp_path):
    model = make_model()
    path = tmp_path / "m.safetensors"
    write_raw(path, model.state_dict(), good_meta(model, vocab=VOCAB[:-1] + ["\udc80"]))
    refused(path, "damaged vocabulary", "U+DC80", "not a character")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_named_pipe_as_a_model_file_is_refused_unopened(tmp_path):
    pipe = tmp_path / "m.safetensors"
    os.mkfifo(pipe)
    refused(pipe, "is a named pipe, not a regular file")  # without a writer, a read would wait forever


def test_a_model_file_over_the_size_limit_is_refused_unread(tmp_path):
    from rnnstudio.nn.modelfile import MAX_MODEL_BYTES

    path = tmp_path / "huge.safetensors"
    with open(path, "wb") as f:
        f.truncate(MAX_MODEL_BYTES + 1)  # sparse: no disk space, and never read
    refused(path, "over the limit of 2 GiB")
