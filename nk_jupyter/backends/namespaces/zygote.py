"""The zygote: a small process that forks machine inits for the supervisor.

Forking the supervisor itself is slow (pyroute2 makes it ~30 MB); the zygote is forked
before those imports, so each fork is cheap, and it works on the second core while the
supervisor wires links. It is not dumpable, and neither is anything it forks until exec.
Requests and answers travel on a socketpair (messages.ForkInit, messages.Forked).
Per machine it unshares a mount and a pid namespace (both the lab user namespace's), forks
the init into them and goes back home with setns: one fork per machine.
"""
from __future__ import annotations

import os
import signal
import socket

from ... import wire
from ...linux import ns
from . import nodeinit
from .messages import ForkInit, Forked, Orders
from .nodeinit import NodeLayout


def start() -> tuple[int, socket.socket]:
    """Fork the zygote; returns (its pid, the supervisor's end of the socketpair)."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        mine.close()
        try:
            ns.prctl(ns.PR_SET_PDEATHSIG, signal.SIGKILL)
            ns.not_dumpable()
            signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # machine inits are reaped by the supervisor
            _serve(theirs)
        finally:
            os._exit(0)
    theirs.close()
    return pid, mine


def _serve(sock: socket.socket) -> None:
    wire.decode(Orders, wire.encode(Orders()))  # its schema read once here, not in every init
    home = {k: os.open(f"/proc/self/ns/{f}", os.O_RDONLY | os.O_CLOEXEC)
            for k, f in (("mnt", "mnt"), ("pid", "pid_for_children"))}
    while True:
        try:
            msg, _fds = wire.recv(sock)
            request = wire.decode(ForkInit, msg, "zygote request")
        except (EOFError, OSError, wire.ProtocolError):
            return
        try:
            pid, theirs = fork_init(request.layout, home)
        except OSError as e:
            wire.send(sock, wire.encode(Forked(error=str(e))))
            continue
        wire.send(sock, wire.encode(Forked(pid)), fds=[theirs.fileno()])
        theirs.close()


def fork_init(lay: NodeLayout, home: dict[str, int]) -> tuple[int, socket.socket]:
    """Fork a machine's init into a new mount and pid namespace; returns (pid, our socket to it)."""
    theirs, mine = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        ns.unshare(ns.CLONE_NEWNS | ns.CLONE_NEWPID)
        init = os.fork()
        if init == 0:
            try:
                theirs.close()
                os.setsid()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                nodeinit.run(lay, mine)
            finally:
                os._exit(1)
    finally:
        ns.setns(home["mnt"], ns.CLONE_NEWNS)
        ns.setns(home["pid"], ns.CLONE_NEWPID)
        mine.close()
    return init, theirs


class Zygote:
    def __init__(self) -> None:
        self.pid, self.sock = start()

    def request(self, lay: NodeLayout) -> None:
        wire.send(self.sock, wire.encode(ForkInit(lay)))

    def answer(self) -> tuple[int, socket.socket]:
        """The next init forked: (pid, socket to it); NodeStartError if it failed."""
        from . import NodeStartError
        msg, fds = wire.recv(self.sock)
        answer = wire.decode(Forked, msg, "zygote answer")
        if answer.error or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise NodeStartError(answer.error or "the zygote sent no socket")
        return answer.pid, socket.socket(fileno=fds[0])
