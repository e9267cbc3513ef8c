"""The app's commands: `rnnstudio [gui]`, `install-desktop` and `screenshot`."""

from __future__ import annotations

import argparse

from rnnstudio.cli.common import DEVICES, log
from rnnstudio.panels import PANEL_KEYS

PANELS = PANEL_KEYS  # the panels --panel may name, in the app's order (rnnstudio/panels.py)


def size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1280x800") from None
    if not (200 <= w <= 8000 and 200 <= h <= 8000):
        raise argparse.ArgumentTypeError(f"{text} is out of range; use 200 to 8000 pixels a side")
    return w, h


def add_gui_options(parser) -> None:
    """The app's options, on `rnnstudio` itself and on `rnnstudio gui`."""
    parser.add_argument("--panel", choices=PANELS, help="the panel to open first")
    parser.add_argument("--presenter", action="store_true", help="large fonts and thick lines for a projector")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where models run (default: auto)")


def add_parsers(sub) -> None:
    add_gui_options(sub.add_parser("gui", help="open the desktop app (the default)"))

    d = sub.add_parser("install-desktop", help="add RNN Studio to this user's desktop application menu")
    d.add_argument("--uninstall", action="store_true", help="remove the launcher and icon again")

    s = sub.add_parser("screenshot", help="render panels to PNG after real work, without a display")
    s.add_argument("--out", required=True, help="folder for <panel>.png")
    s.add_argument("--panel", default="all", choices=PANELS + ("all",), help="one panel, or all of them (default)")
    s.add_argument("--size", type=size, default=(1280, 800), help="window size, default 1280x800")
    s.add_argument("--presenter", action="store_true", help="in presenter mode's large type")


def cmd_gui(args) -> int:
    from rnnstudio.ui.app import run_app

    return run_app(panel=args.panel, presenter=args.presenter, device=args.device)


def cmd_install_desktop(args) -> int:
    from rnnstudio.desktop import install_desktop, uninstall_desktop

    if args.uninstall:
        removed = uninstall_desktop()
        log("removed " + ", ".join(map(str, removed)) if removed else "no launcher was installed")
        return 0
    for path in install_desktop():
        log(f"wrote {path}")
    log("RNN Studio is in the application menu (Education); log out and in if it does not show yet")
    return 0


def cmd_screenshot(args) -> int:
    from rnnstudio.ui.screenshot import take_screenshots

    panels = list(PANELS) if args.panel == "all" else [args.panel]
    for path in take_screenshots(args.out, panels, args.size, presenter=args.presenter):
        log(f"wrote {path}")
    return 0


COMMANDS = {None: cmd_gui, "gui": cmd_gui, "install-desktop": cmd_install_desktop, "screenshot": cmd_screenshot}
