"""Fuzzing with arbitrary bytes as model files and as pictures.

Every model loader either loads the file or raises ModelFileError (a UserError) that says
what is wrong with it: never another exception, never unpickling. Every picture is read as
an RGB array or refused with an ImageFileError (a UserError).
"""

from __future__ import annotations

import io
import json
import pickle
import struct

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from rnnstudio.errors import ModelFileError

FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])

# Any JSON value Python's json module writes and reads (NaN and huge integers included).
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
TASKS = ("charrnn", "caption", "vqa")


def event(text: str) -> None:
    """Count an outcome in hypothesis's statistics (the plain tests share the helpers)."""
    if currently_in_test_context():
        hypothesis_event(text)


class Files(dict):
    def __repr__(self):  # hypothesis prints its test's arguments: not the files' bytes
        return "<valid model files>"


@pytest.fixture(scope="module")
def valid(caption_model, vqa_model, tmp_path_factory):
    """The bytes of a tiny, valid model file of each task."""
    from rnnstudio.nn.captioner import save_captioner
    from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig, save_charrnn
    from rnnstudio.nn.vqa import save_vqa

    folder = tmp_path_factory.mktemp("valid-models")
    torch.manual_seed(0)
    vocab = list("ab\nc")
    charrnn = CharRNN(CharRNNConfig(vocab_size=len(vocab), arch="gru", layers=1, hidden=4, embed=2))
    save_charrnn(folder / "charrnn.safetensors", charrnn, vocab, {"steps": 1},
                 {"rnn.weight_hh_l0.exp_avg": torch.zeros(12, 4)})
    save_captioner(folder / "caption.safetensors", caption_model, {"steps": 0})
    save_vqa(folder / "vqa.safetensors", vqa_model, {"steps": 0})
    return Files({task: (folder / f"{task}.safetensors").read_bytes() for task in TASKS})


@pytest.fixture
def load(tmp_path, monkeypatch):
    """load(task, data): write `data` as a model file and open it as the app does, with every
    way of unpickling booby-trapped. Returns the loaded model or the ModelFileError."""
    from rnnstudio.nn.captioner import load_captioner
    from rnnstudio.nn.charrnn import load_charrnn
    from rnnstudio.nn.vqa import load_vqa

    def never(*args, **kwargs):
        raise AssertionError("a model file was unpickled")

    for owner, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load"),
                        (torch.serialization, "load")):
        monkeypatch.setattr(owner, name, never)
    loaders = {"charrnn": load_charrnn, "caption": load_captioner, "vqa": load_vqa}
    path = tmp_path / "model.safetensors"

    def run(task: str, data: bytes):
        path.write_bytes(data)
        try:
            loaded = loaders[task](path)
        except ModelFileError as e:
            message = str(e)
            assert str(path) in message and "\n" not in message and len(message) < 800, message
            event(f"refused: {message.split(str(path))[-1][:40]}")
            return e
        event("loaded")
        use(task, loaded.model)
        return loaded

    return run


def use(task: str, model) -> None:
    """What the app does first with a model it opened: it must work (or refuse with a UserError)."""
    from rnnstudio.errors import UserError

    if task == "charrnn":
        assert len(list(model.generate([0], 3, 1.0, 0, torch.Generator().manual_seed(0)))) == 3
        return
    picture = np.zeros((model.config.image_size, model.config.image_size, 3), np.uint8)
    if task == "caption":
        assert len(model.caption(picture).words) <= model.config.max_len
        return
    try:
        answer = model.answer(model.encode_image(picture), "what color is the shape?")
    except UserError:
        return
    assert np.isfinite(answer.probs).all()


def split_file(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def join_file(header, body: bytes) -> bytes:
    raw = json.dumps(header).encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw + body


# --- arbitrary bytes, damaged files, crafted headers --------------------------------------------


@FUZZ
@given(task=st.sampled_from(TASKS), data=st.binary(max_size=3000))
def test_arbitrary_bytes_as_a_model_file(load, task, data):
    assert isinstance(load(task, data), ModelFileError)


@FUZZ
@given(task=st.sampled_from(TASKS), data=st.data())
def test_a_damaged_model_file(load, valid, task, data):
    """A real file with bytes changed, cut short, or put in: loaded (a change in a weight is
    just another weight) or refused."""
    raw = bytearray(valid[task])
    kind = data.draw(st.sampled_from(["change", "cut", "insert", "length"]), label="damage")
    if kind == "change":
        for _ in range(data.draw(st.integers(1, 8), label="bytes changed")):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    elif kind == "cut":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="cut at")]
    elif kind == "insert":
        at = data.draw(st.integers(0, len(raw)), label="insert at")
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=64), label="inserted")
    else:
        raw[:8] = struct.pack("<Q", data.draw(st.integers(0, 2**64 - 1), label="header length"))
    load(task, bytes(raw))


@FUZZ
@given(task=st.sampled_from(TASKS), data=st.data())
def test_a_crafted_header(load, valid, task, data):
    """A well-framed safetensors file whose header or RNN Studio metadata says anything at all."""
    header, body = split_file(valid[task])
    meta = json.loads(header["__metadata__"]["rnnstudio"])
    names = sorted(k for k in header if k != "__metadata__")
    where = data.draw(st.sampled_from(
        ["meta field", "config field", "vocab entry", "tensor entry", "tensor field", "metadata", "meta", "header"]
    ), label="where")
    value = data.draw(JSON, label="value")
    if where == "meta field":
        meta[data.draw(st.sampled_from(["format", "task", "config", "vocab", "trained"]))] = value
    elif where == "config field":
        meta["config"][data.draw(st.sampled_from(sorted(meta["config"]) + ["new"]))] = value
    elif where == "vocab entry":
        meta["vocab"][data.draw(st.integers(0, len(meta["vocab"]) - 1))] = value
    elif where == "tensor entry":
        header[data.draw(st.sampled_from(names))] = value
    elif where == "tensor field":
        header[data.draw(st.sampled_from(names))][data.draw(st.sampled_from(["dtype", "shape", "data_offsets"]))] = value
    elif where == "metadata":
        header["__metadata__"] = value
    elif where == "header":
        header = value
    if where not in ("metadata", "header"):
        header["__metadata__"]["rnnstudio"] = value if where == "meta" else json.dumps(meta)
    load(task, join_file(header, body))


@pytest.mark.parametrize("task, field, size", [
    ("charrnn", "hidden", 10**6), ("charrnn", "embed", 2**31), ("charrnn", "layers", 10**9),
    ("caption", "hidden", 10**6), ("caption", "channels", 2**20), ("caption", "image_size", 2**40),
    ("vqa", "hidden", 10**6), ("vqa", "fused", 2**31), ("vqa", "image_size", 2**40),
])
def test_a_config_asking_for_a_huge_model_is_refused_without_building_it(load, valid, task, field, size):
    """A few bytes of metadata must not make the app allocate gigabytes before the tensors are
    checked: the file's own tensors bound the model's size."""
    header, body = split_file(valid[task])
    meta = json.loads(header["__metadata__"]["rnnstudio"])
    meta["config"][field] = size
    header["__metadata__"]["rnnstudio"] = json.dumps(meta)
    error = load(task, join_file(header, body))
    assert isinstance(error, ModelFileError)
    assert "does not match its config" in str(error) or "invalid config" in str(error)


@pytest.mark.parametrize("task", TASKS)
def test_deeply_nested_json_is_refused(load, valid, task):
    header, body = split_file(valid[task])
    deep = "[" * 100_000 + "]" * 100_000
    raw = deep.encode()
    error = load(task, struct.pack("<Q", len(raw)) + raw + body)
    assert isinstance(error, ModelFileError) and "header is not JSON" in str(error)
    header["__metadata__"]["rnnstudio"] = deep
    error = load(task, join_file(header, body))
    assert isinstance(error, ModelFileError) and "damaged RNN Studio metadata" in str(error)


@pytest.mark.parametrize("task", TASKS)
def test_a_torch_save_file_is_refused_unopened(load, valid, task):
    from safetensors.torch import load as safetensors_load

    tensors = safetensors_load(valid[task])
    buffer = io.BytesIO()
    torch.serialization.save(tensors, buffer)  # the real torch.save, zip container
    error = load(task, buffer.getvalue())
    assert isinstance(error, ModelFileError) and "never unpickles" in str(error)
    error = load(task, pickle.dumps({"weights": [1, 2, 3]}, protocol=2))
    assert isinstance(error, ModelFileError) and "never unpickles" in str(error)


@pytest.mark.parametrize("task", TASKS)
def test_a_model_with_nan_weights_is_refused(load, valid, task):
    """Non-finite weights load as a model whose every answer fails later: refuse the file."""
    header, body = split_file(valid[task])
    name = next(k for k, v in header.items() if k != "__metadata__" and v["dtype"] == "F32")
    start, _ = header[name]["data_offsets"]
    body = body[:start] + struct.pack("<f", float("nan")) + body[start + 4 :]
    error = load(task, join_file(header, body))
    assert isinstance(error, ModelFileError) and name in str(error)


# --- pictures -----------------------------------------------------------------------------------


def _encoded_pictures():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    out = {}
    for ext, img in ((".png", rgb), (".jpg", rgb), (".bmp", rgb), (".webp", rgb),
                     (".tiff", rgb.astype(np.uint16) * 257), (".png", rgb[..., 0]),
                     (".png", np.dstack([rgb, rng.integers(0, 256, (9, 7, 1), dtype=np.uint8)])),
                     (".tiff", rgb.astype(np.float32) / 255), (".pgm", rgb[..., 1])):
        ok, buf = cv2.imencode(ext, img)
        if ok:
            out[f"{ext}-{img.dtype}-{img.shape}"] = buf.tobytes()
    return out


PICTURES = _encoded_pictures()


@pytest.fixture
def read(tmp_path):
    from rnnstudio.data.images import ImageFileError, read_image

    path = tmp_path / "picture"

    def run(data: bytes):
        path.write_bytes(data)
        try:
            img = read_image(path)
        except ImageFileError as e:
            message = str(e)
            assert str(path) in message and "\n" not in message, message
            event("refused")
            return e
        event("read")
        assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert img.flags.c_contiguous and min(img.shape[:2]) >= 1
        return img

    return run


@FUZZ
@given(data=st.binary(max_size=4000))
def test_arbitrary_bytes_as_a_picture(read, data):
    read(data)


@FUZZ
@given(kind=st.sampled_from(sorted(PICTURES)), data=st.data())
def test_a_damaged_picture(read, kind, data):
    raw = bytearray(PICTURES[kind])
    damage = data.draw(st.sampled_from(["change", "cut", "insert"]), label="damage")
    if damage == "change":
        for _ in range(data.draw(st.integers(1, 8), label="bytes changed")):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    elif damage == "cut":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="cut at")]
    else:
        at = data.draw(st.integers(0, len(raw)), label="insert at")
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=64), label="inserted")
    read(bytes(raw))


def test_the_undamaged_pictures_are_read(read):
    assert len(PICTURES) >= 7
    for kind, data in PICTURES.items():
        img = read(data)
        assert isinstance(img, np.ndarray) and img.shape == (9, 7, 3), kind
