"""Helpers shared by the CLI verbs: the -d option, opening a lab, printing progress."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..api import Lab


def add_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", dest="directory", default=".", metavar="DIR", help="lab folder (default: the current folder)")


def open_lab(args, overrides: list[str] | None = None, force: bool = False) -> Lab:
    return Lab.from_dir(Path(args.directory), overrides, force=force or getattr(args, "force", False))


def running_lab(args) -> Lab:
    return Lab.attach(args.directory)


class Progress:
    """Prints one line per machine state change, and warnings, to stderr."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    def __call__(self, ev: dict) -> None:
        if ev.get("event") == "warning":
            print(f"warning: {ev.get('machine', '') + ': ' if ev.get('machine') else ''}{ev['message']}", file=sys.stderr)
        elif ev.get("event") == "machine" and not self.quiet:
            detail = f" ({ev['detail']})" if ev.get("detail") else ""
            if ev["state"] in ("running", "failed", "halted", "crashed") or detail:
                print(f"{ev['machine']}: {ev['state']}{detail}", file=sys.stderr)
