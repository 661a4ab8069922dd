"""Where machine inits come from: an nk-spawn (helpers/nk-spawn.c) of their own, flag "z".

It clones each init into a new mount namespace (a copy of the lab's) and a new pid namespace,
as its pid 1 leading a new session, with /dev/null, its socket to the supervisor, the lab
folder, the machines' user namespace and nk-reap as descriptors 0-2, 3, 4, 5 and 6
(initplan.SOCK_FD...),
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
import errno
import os
import socket

from ... import helpers
from . import initplan
from .messages import NodeLayout


class Zygote:
    def __init__(self) -> None:
        self.spawner = None
        self.null = self.reaper = -1
        self.waiting: collections.deque[socket.socket] = collections.deque()

    def request(self, lay: NodeLayout) -> None:
        """Ask for lay's init; answer() returns it (requests are answered in order)."""
        from ...linux import seccomp, spawn
        if self.spawner is None:
            if seccomp.SUPPORTED and not seccomp.INSTALLED:  # (a machine's init must be under it)
                raise RuntimeError("machine inits are started only once the seccomp filter is in place")
            self.reaper = sealed_copy(helpers.path("nk-reap"))
            self.spawner = spawn.Spawner(helpers.path("nk-spawn"))
            self.null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        argv = ["nk-init", *initplan.plan(lay)]
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.spawner.send_request("z", "nk-init", argv, {}, (self.null, theirs.fileno(), lay.labfd, lay.usernsfd,
                                                            self.reaper))
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
        for fd in (self.null, self.reaper):
            if fd >= 0:
                os.close(fd)
        self.null = self.reaper = -1


MFD_EXEC, F_SEAL_EXEC = 0x10, 0x20  # (Linux 6.3; not in Python 3.11's os and fcntl)


def sealed_copy(path: str) -> int:
    """A memfd holding the program at path, sealed (no write, growing, shrinking, exec-bit
    change, further seals): what every machine's init of the lab execs as its pid 1 (nk-reap).
    Machine root may ptrace its pid 1 and reaches its program through /proc/1/exe, past every
    mount; its uid is the user's, so a file of the user's (nk in a venv of the user's own) would
    be its to chmod, setxattr or touch, and later labs would run what it left. This copy lives
    only as long as the lab, and nothing of it that exec uses can change."""
    import fcntl
    try:
        fd = os.memfd_create("nk-reap", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING | MFD_EXEC)
    except OSError as e:
        if e.errno != errno.EINVAL:  # (EACCES: vm.memfd_noexec is 2)
            raise OSError(e.errno, f"cannot make a copy of nk-reap to run: {e.strerror} (is vm.memfd_noexec 2?)") from None
        fd = os.memfd_create("nk-reap", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)  # (before Linux 6.3)
    try:
        with open(path, "rb") as f:
            data = memoryview(f.read())
        while data:
            data = data[os.write(fd, data):]
        seals = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL
        try:
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals | F_SEAL_EXEC)
        except OSError:  # (before Linux 6.3: a machine could only take the exec bits off its own lab's copy)
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
    except BaseException:
        os.close(fd)
        raise
    return fd


__all__ = ["Zygote", "sealed_copy"]
