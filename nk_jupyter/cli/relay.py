"""Relaying a command's output (and Ctrl-C) between this terminal and a machine: what `nk vcmd`
and `nk shell` do once the command runs. Light (no argparse, no API import): `nk vcmd` starts
through here on its fast path (cli/__init__.py)."""
from __future__ import annotations

import _signal as signal  # (the C module `signal` wraps in enums: no enum at nk vcmd's start)
import os


def command_line(words: list[str]) -> str:
    """vcmd's words as one command line: one word is a line already ('ip a | grep inet');
    several keep their words (vtysh -c 'show ip route')."""
    if len(words) == 1:
        return words[0]
    import shlex
    return shlex.join(words)


def relay(stream) -> int:
    """Copy the command's output to ours; Ctrl-C and friends are passed on to it."""
    def forward(sig, _frame):
        stream.signal({signal.SIGINT: "INT", signal.SIGTERM: "TERM", signal.SIGHUP: "HUP"}[sig])
    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    # on a terminal, the machine's control strings (title, clipboard, hyperlinks) are dropped
    filters = {}
    for fd in (1, 2):
        if os.isatty(fd):
            from ..text import TerminalFilter
            filters[fd] = TerminalFilter()
    try:
        for kind, data in stream.chunks():
            fd = 1 if kind == "stdout" else 2
            if fd in filters:
                data = filters[fd].feed(data)
            try:
                write_all(fd, data)
            except BrokenPipeError:  # our reader went away (| head): hang the command up
                stream.close()
                return 141
        return stream.status if stream.status is not None else 1
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def quick_vcmd(args: list[str]) -> int | None:
    """`nk vcmd [-d DIR] MACHINE COMMAND...` through the API's fast door; None when the words are
    anything else (options, help, no command) or the door says no: argparse and the full API
    then take them."""
    directory = "."
    if args[:1] == ["-d"] and len(args) > 1 and not args[1].startswith("-"):
        directory, args = args[1], args[2:]
    if len(args) < 2 or args[0].startswith("-") or "--" in args:  # ("--" is argparse's to read)
        return None
    from ..quick import exec_stream
    stream = exec_stream(directory, args[0], command_line(args[1:]), stdin=None if os.isatty(0) else 0)
    return None if stream is None else relay(stream)
