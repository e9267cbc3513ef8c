"""Running the `rnnstudio` command in tests: in this process, or as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rnnstudio.cli import main


def run_cli(*args, env_extra=None, timeout=120):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "offscreen"}
    env.pop("RNNSTUDIO_DEBUG", None)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "rnnstudio", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


def assert_one_line_error(stderr: str, *fragments: str, after_progress: bool = False) -> str:
    """Exactly one error line on stderr; with `after_progress`, progress logs may come first."""
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    if after_progress:
        assert lines and not any(line.startswith("rnnstudio") for line in lines[:-1]), stderr
        lines = lines[-1:]
    assert len(lines) == 1, f"expected one line on stderr, got {stderr!r}"
    line = lines[0]
    assert line.startswith("rnnstudio: error:") or line.startswith("rnnstudio "), line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def call_main(capsys, *args) -> tuple[int, str, str]:
    """rnnstudio.cli.main in this process; argparse's exit status is returned, not raised."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def write_test_pictures(folder: Path, rgb) -> dict[str, Path]:
    """The picture files a picture command must read or refuse, in `folder`: `plain` (the 8-bit
    RGB array `rgb` as a PNG), `grey` (the same in grey), `alpha` (an opaque red square on a
    transparent 32 x 32 picture), `16bit`, `huge` (9000 pixels wide), `text` (a text file named
    .png) and `empty` (an empty .jpg)."""
    import cv2
    import numpy as np

    paths = {name: folder / file for name, file in (
        ("plain", "plain.png"), ("grey", "grey.png"), ("alpha", "alpha.png"), ("16bit", "deep.png"),
        ("huge", "huge.png"), ("text", "notes.png"), ("empty", "empty.jpg"))}
    cv2.imwrite(str(paths["plain"]), rgb[..., ::-1])
    cv2.imwrite(str(paths["grey"]), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    bgra = np.zeros((32, 32, 4), np.uint8)
    bgra[8:24, 8:24] = (0, 0, 255, 255)
    cv2.imwrite(str(paths["alpha"]), bgra)
    cv2.imwrite(str(paths["16bit"]), (np.ones((20, 30, 3)) * np.array([0, 32768, 65535])).astype(np.uint16))
    cv2.imwrite(str(paths["huge"]), np.full((60, 9000, 3), 200, np.uint8))
    paths["text"].write_text("this is not a picture")
    paths["empty"].write_bytes(b"")
    return paths
