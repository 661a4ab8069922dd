"""Verbs that run things inside a lab: vcmd, vconnect, shell."""
from __future__ import annotations

import argparse
import os
import select
import shlex
import signal
import sys

from ..errors import UserError
from ..text import TerminalFilter
from .common import add_dir, running_lab


def _setup_vcmd(p) -> None:
    add_dir(p)
    p.add_argument("machine", metavar="MACHINE")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND...",
                   help="run by the machine's shell; one argument is a command line ('ip a | grep inet'), "
                        "several keep their words (vtysh -c 'show ip route'); output streamed, status returned")


def vcmd(args) -> int:
    """The command's output is relayed through pipes: the machine never gets this terminal (or
    any descriptor of ours). Standard input is relayed when it is not a terminal (a pipe or a
    file); on a terminal the command gets none (use vconnect for interactive programs)."""
    if not args.command:
        raise UserError("vcmd: give a command, e.g. nk vcmd pc1 ip address")
    lab = running_lab(args)
    command = shlex.join(args.command) if len(args.command) > 1 else args.command[0]
    stream = lab.exec(args.machine, command, stdin=None if os.isatty(0) else 0)
    return _relay(stream)


def _relay(stream) -> int:
    """Copy the command's output to ours; Ctrl-C and friends are passed on to it."""
    def forward(sig, _frame):
        stream.signal({signal.SIGINT: "INT", signal.SIGTERM: "TERM", signal.SIGHUP: "HUP"}[sig])
    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    # on a terminal, the machine's control strings (title, clipboard, hyperlinks) are dropped
    filters = {fd: TerminalFilter() for fd in (1, 2) if os.isatty(fd)}
    try:
        for kind, data in stream.chunks():
            fd = 1 if kind == "stdout" else 2
            if fd in filters:
                data = filters[fd].feed(data)
            try:
                _write_all(fd, data)
            except BrokenPipeError:  # our reader went away (| head): hang the command up
                stream.close()
                return 141
        return stream.status if stream.status is not None else 1
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def _setup_vconnect(p) -> None:
    add_dir(p)
    p.add_argument("machine", metavar="MACHINE")
    p.add_argument("--shell", default=None, help="shell to run (default: the machine's shell)")


def vconnect(args) -> int:
    lab = running_lab(args)
    return _interactive(lab, args.machine, [args.shell, "-l"] if args.shell else None)


def shell(args) -> int:
    lab = running_lab(args)
    cmd = args.command or ["/bin/bash", "--norc", "-i"]
    if args.command:
        return _relay(lab.hub_exec(["/bin/sh", "-c", shlex.join(cmd)], stdin=None if os.isatty(0) else 0))
    return _interactive(lab, None, cmd)


def _setup_shell(p) -> None:
    add_dir(p)
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND...")


def _interactive(lab, machine: str | None, argv: list[str] | None) -> int:
    """Run argv (None: its login shell) on a new pty of the machine, relaying this terminal to it
    (raw mode) until it exits."""
    import termios
    import tty
    size = os.get_terminal_size(0) if sys.stdin.isatty() else os.terminal_size((80, 24))
    env = {"TERM": os.environ.get("TERM", "xterm")}
    running, master = lab.terminal(machine, argv, (size.lines, size.columns), env=env)
    saved = termios.tcgetattr(0) if sys.stdin.isatty() else None
    screen = TerminalFilter(keep_osc=(0, 1, 2))  # a shell may set the title, not the clipboard
    if saved:
        tty.setraw(0)
    try:
        fds = [0, master, running.fileno()]
        while True:
            ready, _, _ = select.select(fds, [], [])
            if running.fileno() in ready:
                break
            if 0 in ready:
                data = os.read(0, 4096)
                if not data:
                    fds.remove(0)
                else:
                    os.write(master, data)
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    fds.remove(master)
                else:
                    _write_all(1, screen.feed(data))
    finally:
        if saved:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        os.close(master)
    return running.wait()


COMMANDS = {
    "vcmd": (_setup_vcmd, vcmd, "run a command in a machine: nk vcmd pc1 ip address"),
    "vconnect": (_setup_vconnect, vconnect, "open an interactive shell in a machine"),
    "shell": (_setup_shell, shell, "a shell (or command) in the lab's fake-root hub namespace, like `rootlesskit bash`"),
}
