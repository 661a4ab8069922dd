"""The zygote: a small process that forks nodes for the supervisor.

Forking the supervisor itself is slow (pyroute2 makes it ~30 MB); the zygote is forked
before those imports, so each node fork is cheap, and it works on the second core while
the supervisor wires links. Requests and answers travel on a socketpair:
    -> {"layout": NodeLayout fields}
    <- {"pid": init pid} + fds [report, go]     or     {"error": text}
"""
from __future__ import annotations

import dataclasses
import os
import signal
import socket

from ..engine import protocol
from ..linux import ns
from .namespaces import Node, NodeStartError
from .nodeinit import NodeLayout


def start() -> tuple[int, socket.socket]:
    """Fork the zygote; returns (its pid, the supervisor's end of the socketpair)."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        mine.close()
        try:
            ns.prctl(ns.PR_SET_PDEATHSIG, signal.SIGKILL)
            signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # node inits are reaped by the supervisor
            _serve(theirs)
        finally:
            os._exit(0)
    theirs.close()
    return pid, mine


def _serve(sock: socket.socket) -> None:
    while True:
        try:
            msg, _fds = protocol.recv(sock)
        except (EOFError, OSError):
            return
        try:
            pid, rep, go = Node.fork_init(NodeLayout.from_json(msg["layout"]))
        except (NodeStartError, OSError) as e:
            protocol.send(sock, {"error": str(e)})
            continue
        protocol.send(sock, {"pid": pid}, fds=[rep, go])
        os.close(rep)
        os.close(go)


class Zygote:
    def __init__(self) -> None:
        self.pid, self.sock = start()

    def request(self, lay: NodeLayout) -> None:
        fields = {f.name: getattr(lay, f.name) for f in dataclasses.fields(lay)}  # shallow: asdict deep-copies
        protocol.send(self.sock, {"layout": fields})

    def answer(self) -> tuple[int, int, int]:
        """The next node forked: (init pid, report fd, go fd); NodeStartError if it failed."""
        msg, fds = protocol.recv(self.sock)
        if "error" in msg:
            raise NodeStartError(msg["error"])
        return int(msg["pid"]), fds[0], fds[1]
