"""Where the shipped models and resources are, for every way of installing the app."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rnnstudio.errors import ModelFileError
from rnnstudio.panels import shipped_models

SHIPPED_MODELS = shipped_models()  # task -> file name, as the panels declare them (rnnstudio/panels.py)

_CHECKOUT_ROOT = Path(__file__).resolve().parent.parent


def models_dirs() -> list[Path]:
    """Folders searched for shipped models, first match wins.

    RNNSTUDIO_MODELS overrides; then the checkout (source tree or `pip install -e .`);
    then the copy a regular `pip install .` puts under <prefix>/share.
    """
    dirs = []
    if os.environ.get("RNNSTUDIO_MODELS"):
        dirs.append(Path(os.environ["RNNSTUDIO_MODELS"]))
    dirs.append(_CHECKOUT_ROOT / "models")
    for prefix in dict.fromkeys([sys.prefix, sys.base_prefix]):
        dirs.append(Path(prefix) / "share" / "rnnstudio" / "models")
    return dirs


def shipped_model(task: str) -> Path:
    """The path of the shipped model for `task`, or a ModelFileError saying where we looked."""
    name = SHIPPED_MODELS[task]
    searched = models_dirs()
    for folder in searched:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    where = ", ".join(str(d) for d in searched)
    raise ModelFileError(
        f"the shipped {task} model {name} is missing (looked in {where}); "
        f"reinstall RNN Studio, or train one with `rnnstudio train {task} --out FILE` "
        f"and pass it with --model FILE"
    )


def resources_dir() -> Path:
    """The checkout's resources/, or the copy a regular install puts under <prefix>/share."""
    for folder in (_CHECKOUT_ROOT / "resources", Path(sys.prefix) / "share" / "rnnstudio" / "resources"):
        if folder.is_dir():
            return folder
    return _CHECKOUT_ROOT / "resources"
