"""Running the `rnnstudio` command in tests: in this process, or as a real process."""

from __future__ import annotations

import os
import subprocess
import sys

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
