"""What the app remembers between runs: window layout, last panel, presenter mode, and each
panel's choices (corpus, network, sources). One small JSON file, written atomically.

A file that cannot be read is set aside (renamed `.bad`, so nothing is lost) and the app
starts with the defaults, saying so.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QStandardPaths

VERSION = 1
ENV_PATH = "RNNSTUDIO_SETTINGS"  # another settings file (tests, or a class's shared set-up)


def settings_path() -> Path:
    override = os.environ.get(ENV_PATH)
    if override:
        return Path(override)
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation)
    return Path(folder or Path.home() / ".config" / "rnnstudio") / "settings.json"


def load_settings(path: Path | None = None) -> tuple[dict, str | None]:
    """(settings, problem): the saved settings, or {} and a sentence saying why not."""
    path = path or settings_path()
    if not path.exists():
        return {}, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("it does not hold a JSON object")
        if int(data.get("version", VERSION)) > VERSION:
            raise ValueError("it was written by a newer RNN Studio")
        return data, None
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        aside = path.with_name(path.name + ".bad")
        try:
            os.replace(path, aside)
            kept = f"; it was kept as {aside.name}"
        except OSError:
            kept = ""
        return {}, f"the settings in {path} could not be read ({reason}), so RNN Studio started with its defaults{kept}"


def save_settings(data: dict, path: Path | None = None) -> str | None:
    """Write atomically; None, or a sentence saying why the settings were not saved."""
    path = path or settings_path()
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({**data, "version": VERSION}, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
        return None
    except (OSError, TypeError, ValueError) as e:
        tmp.unlink(missing_ok=True)
        return f"the settings could not be saved to {path}: {getattr(e, 'strerror', None) or e}"


def choose(combo, key) -> None:
    """Select the combo box entry whose data is `key`, if there is one."""
    index = combo.findData(key)
    if index >= 0:
        combo.setCurrentIndex(index)


def set_number(spin, value) -> None:
    """Set a spin box from a saved value, ignoring one that is not a number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        spin.setValue(value)
