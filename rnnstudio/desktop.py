"""The freedesktop launcher: `rnnstudio install-desktop` puts RNN Studio in the desktop's
application menu for the current user (Linux and other freedesktop systems), with its icon.

Files go where the XDG base directory spec says ($XDG_DATA_HOME, default ~/.local/share):
applications/rnnstudio.desktop and icons/hicolor/scalable/apps/rnnstudio.svg.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from rnnstudio.errors import UserError
from rnnstudio.paths import resources_dir

APP_ID = "rnnstudio"  # also the Qt desktop file name (ui/app.py), so the window finds its launcher


def data_home() -> Path:
    value = os.environ.get("XDG_DATA_HOME")
    return Path(value) if value and Path(value).is_absolute() else Path.home() / ".local" / "share"


def launch_command() -> str:
    """How the launcher starts the app: the installed GUI script, or this Python with -m."""
    script = shutil.which("rnnstudio-gui")
    if script:
        return shlex.quote(str(Path(script).resolve()))
    return f"{shlex.quote(sys.executable)} -m rnnstudio gui"


def desktop_entry(exec_line: str) -> str:
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.0",
        "Name=RNN Studio",
        "GenericName=Recurrent neural networks, live",
        "Comment=See recurrent neural networks work: char-RNN, LSTM internals, captioning and VQA",
        f"Exec={exec_line}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Education;Science;ArtificialIntelligence;",
        "Keywords=RNN;LSTM;neural network;machine learning;lecture;",
        "StartupWMClass=rnnstudio",
        "",
    ])


def install_desktop() -> list[Path]:
    """Write the launcher and the icon for the current user; the files written."""
    icon_source = resources_dir() / "rnnstudio.svg"
    if not icon_source.is_file():
        raise UserError(f"the icon {icon_source} is missing; reinstall RNN Studio")
    base = data_home()
    entry = base / "applications" / f"{APP_ID}.desktop"
    icon = base / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    try:
        for path, write in ((icon, lambda p: shutil.copyfile(icon_source, p)),
                            (entry, lambda p: p.write_text(desktop_entry(launch_command()), encoding="utf-8"))):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            write(tmp)
            os.replace(tmp, path)
    except OSError as e:
        raise UserError(f"could not write the launcher under {base}: {e.strerror or e}; check that folder") from None
    return [entry, icon]


def uninstall_desktop() -> list[Path]:
    base = data_home()
    removed = []
    for path in (base / "applications" / f"{APP_ID}.desktop", base / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"):
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed
