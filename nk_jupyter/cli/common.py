"""Helpers shared by the CLI verbs: the -d option, opening a lab, printing progress."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..api import Lab
from ..model.events import Event, MachineEvent, PullEvent, WarningEvent
from ..model.states import MachineState as S
from ..text import raw_write


def add_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", dest="directory", default=".", metavar="DIR", help="lab folder (default: the current folder)")


def open_lab(args, overrides: list[str] | None = None, force: bool = False) -> Lab:
    return Lab.from_dir(Path(args.directory), overrides, force=force or getattr(args, "force", False))


def running_lab(args) -> Lab:
    return Lab.attach(args.directory)


class Progress:
    """Boot progress on stderr: one line per machine, or on a terminal one status line
    that counts machines by state (problems are always printed on lines of their own)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.live = sys.stderr.isatty()
        self.states: dict[str, str] = {}

    def __call__(self, ev: Event) -> None:
        if isinstance(ev, WarningEvent):
            self._line(f"warning: {ev.machine + ': ' if ev.machine else ''}{ev.message}")
        elif isinstance(ev, PullEvent) and not self.quiet:
            if ev.done or not self.live:
                self._line(f"image {ev.image}: {ev.text}")
            else:
                raw_write(sys.stderr, "\r\033[K")
                print(f"image {ev.image}: {ev.text}"[:150], end="", file=sys.stderr, flush=True)
        elif isinstance(ev, MachineEvent) and not self.quiet:
            self.states[ev.machine] = ev.state.value
            detail = f" ({ev.detail})" if ev.detail else ""
            if detail or ev.state == S.FAILED:
                self._line(f"{ev.machine}: {ev.state}{detail}")
            elif not self.live and ev.state in (S.RUNNING, S.HALTED, S.CRASHED):
                print(f"{ev.machine}: {ev.state}", file=sys.stderr)
            if self.live:
                counts: dict[str, int] = {}
                for state in self.states.values():
                    counts[state] = counts.get(state, 0) + 1
                text = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
                raw_write(sys.stderr, "\r\033[K")
                print(f"{len(self.states)} machine(s): {text}", end="", file=sys.stderr, flush=True)

    def _line(self, text: str) -> None:
        if self.live:
            raw_write(sys.stderr, "\r\033[K")
        print(text, file=sys.stderr)

    def done(self) -> None:
        if self.live and self.states:
            print(file=sys.stderr)
        self.states = {}
