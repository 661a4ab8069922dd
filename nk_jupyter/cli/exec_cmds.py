"""Verbs that run things inside a lab: vcmd, vconnect, shell."""
from __future__ import annotations

import argparse
import os
import select
import shlex
import sys

from ..errors import UserError
from ..text import TerminalFilter
from .common import add_dir, running_lab
from .relay import command_line, relay, write_all


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
    stream = lab.exec(args.machine, command_line(args.command), stdin=None if os.isatty(0) else 0)
    return relay(stream)


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
        return relay(lab.hub_exec(["/bin/sh", "-c", shlex.join(cmd)], stdin=None if os.isatty(0) else 0))
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
                _drain(master, screen)
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
                    write_all(1, screen.feed(data))
    finally:
        if saved:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        os.close(master)
    return running.wait()


def _drain(master: int, screen) -> None:
    """Copy what the program wrote just before it exited: a pty hands written data to its reader
    asynchronously, and a busy reader may find both waiting. Stops at EOF (every writer gone), or
    after a quiet 0.2 s or 2 s in all (a background program of the machine may hold the terminal)."""
    import time
    end = time.monotonic() + 2
    while time.monotonic() < end and select.select([master], [], [], 0.2)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:
            return
        if not data:
            return
        write_all(1, screen.feed(data))


COMMANDS = {
    "vcmd": (_setup_vcmd, vcmd, "run a command in a machine: nk vcmd pc1 ip address"),
    "vconnect": (_setup_vconnect, vconnect, "open an interactive shell in a machine"),
    "shell": (_setup_shell, shell, "a shell (or command) in the lab's fake-root hub namespace, like `rootlesskit bash`"),
}
