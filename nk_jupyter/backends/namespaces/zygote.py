"""Where machine inits come from: an nk-spawn (helpers/nk-spawn.c) of their own, flag "z".

It clones each init into a new mount namespace (a copy of the lab's) and a new pid namespace,
as its pid 1 leading a new session, with /dev/null, its socket to the supervisor, the lab
folder and the machines' user namespace as descriptors 0-2, 3, 4 and 5 (initplan.SOCK_FD...),
and runs nk's init there (helpers/init.h, part of nk-spawn: no exec) with its plan (initplan.py)
as argv. The answer carries the init's pidfd, made by the clone itself: it names this init even
if it died at once.
nk-spawn is a static C program holding only its socket: the supervisor's Python builds the
plan, and a thousand machines cost no Python process anything. Requests are pipelined (the
supervisor sends a few ahead and reads the answers in order) while nk-spawn works on the other
core. It is started at the first machine, so the supervisor's seccomp filter is on it and all it
starts. If it dies, every later machine of the lab fails to start (as with the Python zygote
before it): nothing of a lab can reach it.
"""
from __future__ import annotations

import collections
import os
import socket

from ... import helpers
from . import initplan
from .messages import NodeLayout


class Zygote:
    def __init__(self) -> None:
        self.tiny = initplan.tiny_init()
        self.spawner = None
        self.null = -1
        self.waiting: collections.deque[socket.socket] = collections.deque()

    def request(self, lay: NodeLayout) -> None:
        """Ask for lay's init; answer() returns it (requests are answered in order)."""
        from ...linux import seccomp, spawn
        if self.spawner is None:
            if seccomp.SUPPORTED and not seccomp.INSTALLED:  # (a machine's init must be under it)
                raise RuntimeError("machine inits are started only once the seccomp filter is in place")
            self.spawner = spawn.Spawner(helpers.path("nk-spawn"))
            self.null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        argv = ["nk-init", *initplan.plan(lay, self.tiny)]
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.spawner.send_request("z", "nk-init", argv, {}, (self.null, theirs.fileno(), lay.labfd, lay.usernsfd))
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.waiting.append(ours)

    def answer(self) -> tuple[int, int, socket.socket]:
        """The next init asked for: (pid, its pidfd, our socket to it); NodeStartError if it failed."""
        from . import NodeStartError
        ours = self.waiting.popleft()
        try:
            pid, err, pidfd = self.spawner.read_reply()
        except OSError as e:
            ours.close()
            raise NodeStartError(f"the machines' spawner is gone: {e.strerror or e}") from None
        if err or pid <= 0 or pidfd is None:
            ours.close()
            if pidfd is not None:
                os.close(pidfd)
            raise NodeStartError(f"cannot start its init: {os.strerror(err) if err else 'no pid'}")
        return pid, pidfd, ours

    def drain(self) -> None:
        """Answers still due (a create() that stopped half way): their inits are killed."""
        import signal
        while self.waiting:
            try:
                _pid, pidfd, sock = self.answer()
            except Exception:
                continue
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.close(pidfd)
            sock.close()

    def close(self) -> None:
        while self.waiting:
            self.waiting.popleft().close()
        if self.spawner is not None and self.spawner.sock is not None:
            self.spawner.sock.close()
            self.spawner.sock = None
        if self.null >= 0:
            os.close(self.null)
            self.null = -1


__all__ = ["Zygote"]
