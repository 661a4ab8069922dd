"""The zygote: a small process that spawns machine inits for the supervisor.

It is forked before the supervisor's heavy imports (pyroute2) and holds few descriptors, so each
spawn is cheap, and it works on the second core while the supervisor wires links. It is not
dumpable. Requests and answers travel on a socketpair (messages.ForkInit, messages.Forked).
Per machine it unshares a mount and a pid namespace (both the lab user namespace's),
posix_spawns nk's static init (helpers/nk-init.c) into them with its plan (initplan.py) and
goes back home with setns.
"""
from __future__ import annotations

import fcntl
import os
import signal
import socket

from ... import helpers, records, wire
from ...linux import ns
from ...linux.spawn import DEFAULT_SIGNALS
from . import initplan
from .initplan import LAB_FD, SOCK_FD, USERNS_FD
from .messages import ForkInit, Forked, NodeLayout


def start() -> tuple[int, socket.socket]:
    """Fork the zygote; returns (its pid, the supervisor's end of the socketpair)."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    program, tiny = helpers.path("nk-init"), initplan.tiny_init()  # (raises before the fork)
    records.make(ForkInit, Forked, NodeLayout)  # once, for the zygote and us
    pid = os.fork()
    if pid == 0:
        mine.close()
        try:
            ns.prctl(ns.PR_SET_PDEATHSIG, signal.SIGKILL)
            ns.not_dumpable()
            from ...linux import seccomp
            seccomp.install()  # machines' inits and their pid 1 (catatonit) are filtered as all the lab is
            signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # machine inits are reaped by the supervisor
            _serve(theirs, program, tiny)
        finally:
            os._exit(0)
    theirs.close()
    return pid, mine


def _serve(sock: socket.socket, program: str, tiny: str) -> None:
    home = {k: os.open(f"/proc/self/ns/{f}", os.O_RDONLY | os.O_CLOEXEC)
            for k, f in (("mnt", "mnt"), ("pid", "pid_for_children"))}
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    while True:
        try:
            msg, _fds = wire.recv(sock)
            request = wire.decode(ForkInit, msg, "zygote request")
        except (EOFError, OSError, wire.ProtocolError):
            return
        try:
            pid, theirs = spawn_init(request.layout, home, program, tiny, null)
        except OSError as e:
            wire.send(sock, wire.encode(Forked(error=str(e))))
            continue
        wire.send(sock, wire.encode(Forked(pid)), fds=[theirs.fileno()])
        theirs.close()


def spawn_init(lay: NodeLayout, home: dict[str, int], program: str, tiny: str, null: int
               ) -> tuple[int, socket.socket]:
    """Spawn a machine's init into a new mount and pid namespace; returns (pid, our socket to it)."""
    argv = ["nk-init", *initplan.plan(lay, tiny)]
    theirs, mine = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    # its descriptors 3, 4, 5 (dup2s in order: a source below 6 is moved out of the way first)
    originals = (mine.fileno(), lay.labfd, lay.usernsfd, null)
    sources = [_above(fd, 5) for fd in originals]
    actions = [(os.POSIX_SPAWN_DUP2, sources[3], i) for i in (0, 1, 2)]
    actions += [(os.POSIX_SPAWN_DUP2, fd, target) for fd, target in zip(sources, (SOCK_FD, LAB_FD, USERNS_FD))]
    try:
        ns.unshare(ns.CLONE_NEWNS | ns.CLONE_NEWPID)
        try:
            pid = os.posix_spawn(program, argv, {}, file_actions=actions, setsid=True, setsigdef=DEFAULT_SIGNALS,
                                 setsigmask=())
        finally:
            ns.setns(home["mnt"], ns.CLONE_NEWNS)
            ns.setns(home["pid"], ns.CLONE_NEWPID)
    except BaseException:
        theirs.close()
        raise
    finally:
        for fd, moved in zip(originals, sources):
            if moved != fd:
                os.close(moved)
        mine.close()
    return pid, theirs


def _above(fd: int, low: int) -> int:
    return fd if fd > low else fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low + 1)


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
