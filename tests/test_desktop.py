"""The desktop launcher: `rnnstudio install-desktop` for the current user, and back out."""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import sys
from pathlib import Path

from rnnstudio.desktop import desktop_entry


def run_cli(*args, env):
    return subprocess.run([sys.executable, "-m", "rnnstudio", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


def test_install_writes_a_valid_launcher_and_icon_and_uninstall_removes_them(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path)}
    out = run_cli("install-desktop", env=env)
    assert out.returncode == 0, out.stderr
    entry = tmp_path / "applications" / "rnnstudio.desktop"
    icon = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "rnnstudio.svg"
    assert icon.read_bytes().lstrip().startswith(b"<") and b"<svg" in icon.read_bytes()
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(entry.read_text(encoding="utf-8"))
    section = parser["Desktop Entry"]
    assert section["Type"] == "Application" and section["Icon"] == "rnnstudio" and section["Name"] == "RNN Studio"
    program = shlex.split(section["Exec"])[0]
    assert Path(program).is_file() and os.access(program, os.X_OK)  # the launcher starts something real
    assert not list(tmp_path.rglob("*.tmp"))
    out = run_cli("install-desktop", "--uninstall", env=env)
    assert out.returncode == 0 and not entry.exists() and not icon.exists()


def test_an_unwritable_place_is_one_clear_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = run_cli("install-desktop", env={"XDG_DATA_HOME": str(blocker)})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "could not write the launcher" in out.stderr


def test_the_shipped_launcher_matches_what_install_writes():
    shipped = Path(__file__).resolve().parents[1] / "resources" / "rnnstudio.desktop"
    assert shipped.read_text(encoding="utf-8") == desktop_entry("rnnstudio-gui")
