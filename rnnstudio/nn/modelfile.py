"""Model files: one .safetensors file whose metadata describes the model (docs/MODEL-FORMAT.md).

Loading never unpickles: the header is read and checked by hand first, so that every
kind of bad file gets a message that says what it is, then safetensors reads the
tensors. Saving writes a temporary file beside the target and renames it into place,
so a crash or a full disk never leaves a half-written model.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save
from torch.overrides import TorchFunctionMode

from rnnstudio.data.files import read_regular_file
from rnnstudio.errors import ModelFileError

FORMAT_VERSION = 1
METADATA_KEY = "rnnstudio"
_MAX_HEADER = 100 * 1024 * 1024  # the safetensors library's own limit
# A file is read whole, and its tensors copied once more: the largest model the app trains (with
# its optimizer state) is a few hundred MB; anything over this is not a model of ours, and
# reading it would only exhaust memory.
MAX_MODEL_BYTES = 2 * 2**30
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


class ModelConfig:
    """A model's config as a file's header holds it: a dataclass written with `to_dict()` and
    read back with `from_dict()`, which ignores keys it does not know (a file from a later
    version may carry more)."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def save_model_file(path: str | os.PathLike, model: ModelFile) -> None:
    """Write `model` to `path` atomically: the old file survives any failure."""
    folder = _check_save_target(path)
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
    _remove_stale_temporaries(folder, path.name)
    tmp_name = None
    try:
        fd, tmp_name = _temporary_beside(path, folder)  # fails first where the folder cannot be written
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, _new_file_mode(path))  # mkstemp makes 0600; a model is a normal file
        os.replace(tmp_name, path)
    except OSError as e:
        if tmp_name:
            _remove_quietly(tmp_name)
        raise ModelFileError(
            f"could not save {path}: {e.strerror or e}; the previous file, if any, is untouched; "
            f"choose another file or folder"
        ) from e
    except BaseException:
        if tmp_name:
            _remove_quietly(tmp_name)
        raise


def check_can_save(path: str | os.PathLike) -> None:
    """Refuse, before any work that ends in a save, a path `save_model_file` could not write:
    an empty name, a folder, a pipe or device, a missing folder, or a folder that cannot be
    written, found by really creating (and removing) a temporary file there, as the save will."""
    folder = _check_save_target(path)
    try:
        fd, tmp_name = _temporary_beside(Path(path), folder)
    except OSError as e:
        raise ModelFileError(
            f"cannot save to {path}: a file cannot be created in the folder {folder} ({e.strerror or e}); "
            f"choose a folder you can write to"
        ) from None
    os.close(fd)
    _remove_quietly(tmp_name)


def _check_save_target(path: str | os.PathLike) -> Path:
    """The folder a model file at `path` would go to, after checking that `path` names a file."""
    if not os.fspath(path).strip():
        raise ModelFileError("no file name was given to save the model to; give one, like model.safetensors")
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder; give a file name in it, like {path / 'model.safetensors'}")
    if path.exists() and not path.is_file():
        raise ModelFileError(f"{path} exists and is not a regular file (a pipe or a device); choose another name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ModelFileError(f"cannot save to {path}: the folder {folder} does not exist; create it or choose another")
    return folder


def _temporary_beside(path: Path, folder: Path) -> tuple[int, str]:
    """A new temporary file in `folder` named after `path` (see STALE_TEMPORARY): (fd, name)."""
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)


# A save interrupted for good (kill -9, a power cut) leaves its temporary file behind, as large as
# the model. The next save into the folder removes those: names exactly as _temporary_beside makes
# them (mkstemp's 8 random characters) for a model file (.safetensors) or the file being saved,
# untouched for longer than any save takes, so that a save running now in another process is safe.
STALE_TEMPORARY = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp")
STALE_TEMPORARY_S = 600


def _remove_stale_temporaries(folder: Path, name: str) -> None:
    cutoff = time.time() - STALE_TEMPORARY_S
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return  # the save itself says what is wrong with the folder
    for entry in entries:
        found = STALE_TEMPORARY.fullmatch(entry.name)
        if not found or not (found["target"].endswith(".safetensors") or found["target"] == name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
        except OSError:
            pass  # another process removed it, or it is not ours to remove


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
    data = read_regular_file(path, "model file", ModelFileError, max_bytes=MAX_MODEL_BYTES)
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
    _check_vocab_is_text(path, meta.get("vocab", []))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_vocab_is_text(path: Path, vocab) -> None:
    """Refuse a vocabulary holding a lone surrogate (U+D800..U+DFFF), which JSON's \\uXXXX escapes
    can carry. It is half of a UTF-16 pair, not a character: no text the model read held it,
    and what the model writes with it cannot be encoded as UTF-8 for a terminal, a file or the
    app. Refused here, once, rather than escaped in every place that writes a model's output."""
    for entry in vocab if isinstance(vocab, list) else ():
        found = _SURROGATE.search(entry) if isinstance(entry, str) else None
        if found:
            raise ModelFileError(
                f"{path} has a damaged vocabulary: it holds U+{ord(found.group()):04X}, half of a UTF-16 pair "
                f"and not a character; use another copy of the model or train it again"
            )


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
