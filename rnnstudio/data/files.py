"""Opening the files a user names (texts, pictures, model files) safely.

Only a regular file is read. A named pipe would block the read until some other program
writes to it (forever, in practice), a device such as /dev/zero never ends, and a folder
has no bytes: each is refused with a message before a single byte is read. The file is
opened without blocking first and checked by its descriptor, so that what is checked is
what is read (a path swapped for a pipe in between cannot block the read either).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from rnnstudio.errors import UserError

# O_NONBLOCK: opening a named pipe for reading waits for a writer without it. Unknown on Windows,
# which has no named pipes in the file system.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _kind_of(mode: int) -> str | None:
    """What a file that is not a regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular_file(path: str | os.PathLike, what: str, error: type[UserError] = UserError, max_bytes=None):
    """`path` opened for reading in binary, after checking that it is a regular file of at
    most `max_bytes`; else `error` saying what the path is and what to give instead. `what`
    names the file the command wanted ("picture", "model file", "text file")."""
    path = Path(path)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise error(f"{path} is a folder; give the path of a {what}") from None
    except OSError as e:
        raise error(f"cannot read {what} {path}: {e.strerror or e}") from None
    try:
        info = os.fstat(fd)
        kind = _kind_of(info.st_mode)
        if kind is not None:
            article = "" if kind.startswith("not ") else "is "
            raise error(f"{path} {article}{kind}, not a regular file; give the path of a {what}")
        if max_bytes is not None and info.st_size > max_bytes:
            raise error(f"{path} is {_size_in_words(info.st_size)}, over the limit of {_size_in_words(max_bytes)} "
                        f"for a {what}; use a smaller one")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a regular file: the usual reads from here on
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_file(path: str | os.PathLike, what: str, error: type[UserError] = UserError,
                      max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (checked by open_regular_file), as
    many as its size said when it was opened: a file that grows while it is read is not read on."""
    with open_regular_file(path, what, error, max_bytes) as f:
        try:
            return f.read(os.fstat(f.fileno()).st_size)
        except OSError as e:
            raise error(f"cannot read {what} {path}: {e.strerror or e}") from None


def _size_in_words(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


class NotJSON(ValueError):
    """Text that json.loads cannot turn into a value; the message says why, in words."""


def load_json(text: str):
    """json.loads, where every way a text can fail is a NotJSON saying why: also lists or
    objects nested too deeply for Python's stack (RecursionError) and whole numbers longer than
    Python converts (a ValueError whose advice, sys.set_int_max_str_digits, is for programmers)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        where = f"line {e.lineno}, column {e.colno}" if "\n" in text.rstrip("\n") else f"column {e.colno}"
        raise NotJSON(f"not valid JSON ({where}: {e.msg})") from None
    except RecursionError:
        raise NotJSON("JSON nested too deeply to read") from None
    except ValueError as e:
        reason = "a number too long to read" if "integer string conversion" in str(e) else str(e)
        raise NotJSON(f"JSON holding {reason}") from None
