"""Model files: one .safetensors file whose metadata describes the model (CONTRACTS.md s. 2).

Loading never unpickles: the header is read and checked by hand first, so that every
kind of bad file gets a message that says what it is, then safetensors reads the
tensors. Saving writes a temporary file beside the target and renames it into place,
so a crash or a full disk never leaves a half-written model.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save
from torch.overrides import TorchFunctionMode

from rnnstudio.errors import ModelFileError

FORMAT_VERSION = 1
METADATA_KEY = "rnnstudio"
_MAX_HEADER = 100 * 1024 * 1024  # the safetensors library's own limit
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default container (a zip holding a pickle)


@dataclass
class ModelFile:
    """What a model file holds: its task, config, vocabulary and tensors."""

    task: str
    config: dict
    vocab: list
    tensors: dict[str, torch.Tensor]
    trained: dict = field(default_factory=dict)
    path: Path | None = None


def save_model_file(path: str | os.PathLike, model: ModelFile) -> None:
    """Write `model` to `path` atomically: the old file survives any failure."""
    path = Path(path)
    meta = {
        "format": FORMAT_VERSION,
        "task": model.task,
        "config": model.config,
        "vocab": model.vocab,
        "trained": model.trained,
    }
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.tensors.items()}
    data = safetensors_save(tensors, metadata={METADATA_KEY: json.dumps(meta)})
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ModelFileError(f"cannot save to {path}: the folder {folder} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, _new_file_mode(path))  # mkstemp makes 0600; a model is a normal file
        os.replace(tmp_name, path)
    except OSError as e:
        _remove_quietly(tmp_name)
        raise ModelFileError(
            f"could not save {path}: {e.strerror or e}; the previous file, if any, is untouched"
        ) from e
    except BaseException:
        _remove_quietly(tmp_name)
        raise


def _new_file_mode(path: Path) -> int:
    """The mode of the file being replaced, or what the umask gives a new file."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def load_model_file(path: str | os.PathLike, task: str) -> ModelFile:
    """Read and check a model file of `task`; raise ModelFileError saying what is wrong."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path} is a folder; give the path of a .safetensors model file") from None
    except OSError as e:
        raise ModelFileError(f"cannot read model file {path}: {e.strerror or e}") from None
    meta = _read_header(path, data)
    _check_meta(path, meta, task)
    try:
        tensors = safetensors_load(data)
    except Exception as e:  # the library raises its own error types for damaged data
        raise ModelFileError(f"{path} is damaged: its tensors cannot be read ({e}); use another copy") from None
    return ModelFile(
        task=meta["task"],
        config=meta["config"],
        vocab=meta.get("vocab", []),
        tensors=tensors,
        trained=meta.get("trained", {}),
        path=path,
    )


def _read_header(path: Path, data: bytes) -> dict:
    """The header's rnnstudio metadata, after checking that the file is safetensors at all."""
    if data.startswith(_PICKLE_MAGIC) or data.startswith(_ZIP_MAGIC):
        raise ModelFileError(
            f"{path} is a pickle (a torch.save file), not a safetensors model; RNN Studio never "
            f"unpickles files, as they can run code. Open a .safetensors model made by RNN Studio"
        )
    if len(data) < 8:
        raise ModelFileError(f"{path} is too short ({len(data)} bytes) to be a model file; it is truncated or empty")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > _MAX_HEADER:
        raise ModelFileError(f"{path} is not a safetensors model file (its first bytes are not a safetensors header)")
    if 8 + header_len > len(data):
        raise ModelFileError(
            f"{path} is truncated: its header says {header_len} bytes but the file has {len(data) - 8}; "
            f"copy or download it again"
        )
    try:
        header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # RecursionError: [[[[...]]]] nested deep
        raise ModelFileError(f"{path} is not a safetensors model file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path} is not a safetensors model file (its header is not a JSON object)")
    end = 8 + header_len
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)):
            raise ModelFileError(f"{path} is damaged: the header's entry for tensor {name} is not valid")
        if end + offsets[1] > len(data):
            raise ModelFileError(f"{path} is truncated: tensor {name} runs past the end of the file")
    metadata = header.get("__metadata__") or {}
    raw = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    if raw is None:
        raise ModelFileError(
            f"{path} is a safetensors file but not an RNN Studio model (no '{METADATA_KEY}' metadata)"
        )
    try:
        meta = json.loads(raw)
    except (TypeError, json.JSONDecodeError, RecursionError):  # TypeError: not a string
        raise ModelFileError(f"{path} has damaged RNN Studio metadata (not JSON)") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path} has damaged RNN Studio metadata (not a JSON object)")
    return meta


def _check_meta(path: Path, meta: dict, task: str) -> None:
    fmt = meta.get("format")
    if not isinstance(fmt, int):
        raise ModelFileError(f"{path} has no valid format number in its metadata")
    if fmt > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format {fmt}, newer than this RNN Studio reads ({FORMAT_VERSION}); "
            f"update RNN Studio to open it"
        )
    found = meta.get("task")
    if found != task:
        named = found if isinstance(found, str) and found.isprintable() and found else "unknown"
        raise ModelFileError(f"{path} is a {named} model, not a {task} model; open a {task} model here")
    if not isinstance(meta.get("config"), dict):
        raise ModelFileError(f"{path} has no model config in its metadata")
    # What the app reads of `trained` (the panels show the steps; training goes on from them).
    trained = meta.get("trained", {})
    steps = trained.get("steps", 0) if isinstance(trained, dict) else None
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ModelFileError(f"{path} has damaged metadata: 'trained' must say how many steps the model trained")


class _WithoutInit(TorchFunctionMode):
    """Inside it, torch.nn.init's functions leave their tensor as it is."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__module__", None) == "torch.nn.init":
            return args[0] if args else kwargs["tensor"]
        return func(*args, **(kwargs or {}))


def build_for_file(path, build):
    """`build()`: the model a file's config describes, its weights left uninitialised.

    The file's tensors replace every weight, so initialising them is wasted work; and a
    config of a few bytes that asks for a model of terabytes then costs address space that
    is never touched (or a failed allocation, refused here) until check_tensors_match
    refuses it, where initialising would first fill that memory.
    """
    try:
        with _WithoutInit():
            return build()
    except (TypeError, ValueError, RuntimeError, OverflowError, MemoryError) as e:  # sizes torch refuses
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__  # torch appends a C++ stack
        raise ModelFileError(f"{path} has an invalid config: no model can be built from it ({reason})") from None


def check_tensors_match(path: Path | None, expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> None:
    """Refuse a file whose tensors do not fit the model its config describes, or hold NaN or
    infinite values (a model that diverged in training: every answer it gave would fail)."""
    where = str(path) if path else "the model file"
    missing = sorted(set(expected) - set(found))
    if missing:
        raise ModelFileError(f"{where} does not match its config: tensor {missing[0]} is missing")
    for name, want in expected.items():
        got = found[name]
        if tuple(got.shape) != tuple(want.shape):
            raise ModelFileError(
                f"{where} does not match its config: {name} has shape {tuple(got.shape)}, "
                f"the config needs {tuple(want.shape)}"
            )
        if not got.is_floating_point():
            raise ModelFileError(f"{where} does not match its config: {name} is not a floating-point tensor")
        if not bool(torch.isfinite(got).all()):
            raise ModelFileError(
                f"{where} is damaged: {name} holds values that are not numbers (NaN or infinity), as a model "
                f"whose training diverged does; use another model or train again with a lower learning rate"
            )


def load_word_model(path, task: str, specials: list[str], config_cls, model_cls, device="cpu"):
    """Load a model over a word vocabulary (the captioner, the VQA model): check the file's
    vocabulary starts with `specials` and lists each word once, build `model_cls(config,
    vocab)` from its config, and load exactly the tensors that model has. (model, ModelFile)."""
    mf = load_model_file(path, task)
    vocab = mf.vocab
    if not isinstance(vocab, list) or len(vocab) <= len(specials) or not all(isinstance(w, str) and w for w in vocab):
        raise ModelFileError(f"{path} has a damaged vocabulary: it must be a list of words")
    if vocab[: len(specials)] != specials or len(set(vocab)) != len(vocab):
        raise ModelFileError(f"{path} has a damaged vocabulary: it must start with {' '.join(specials)} and list each word once")
    try:
        config = config_cls.from_dict({**mf.config, "vocab_size": len(vocab)})
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{path} has an invalid config: {e}") from None
    model = build_for_file(path, lambda: model_cls(config, vocab))
    expected = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    check_tensors_match(mf.path, expected, mf.tensors)
    extra = sorted(set(mf.tensors) - set(expected))
    if extra:
        raise ModelFileError(f"{path} does not match its config: unexpected tensor {extra[0]}")
    model.load_state_dict({k: v.float() for k, v in mf.tensors.items()}, strict=False)
    model.to(device).eval()
    return model, mf
