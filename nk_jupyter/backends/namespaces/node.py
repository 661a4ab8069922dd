"""A running namespace machine, as the engine holds it (a backends.Handle).

Commands are started by nk's own static entry program, nk-enter (helpers/nk-enter.c; its work
is done by nk-spawn's child without an exec of it when nk-spawn takes the request),
posix_spawned by the supervisor in the lab's pid namespace (where no machine can see it) with
a fixed environment and the machine's init as a pidfd: it joins the machine's cgroups, enters
the machine's other namespaces, then its user namespace, and only then forks into the
machine's pid namespace, already holding only machine credentials; there the command leads a
new session (with its terminal as controlling tty) and gets exactly its own environment. The
supervisor never enters a machine's user namespace itself, no process holding its credentials
is ever visible inside a machine, and nothing of the machine's own files runs before the
command (an image machine needs none of the host's programs).
"""
from __future__ import annotations

import errno
import fcntl
import os
import signal
import stat
import struct
from typing import Callable

from ... import helpers
from ...linux import spawn
from .. import Profile

TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441

class Node:
    """A namespace machine, known by its init's pid (in the lab's pid namespace)."""

    def __init__(self, name: str, init_pid: int, pidfd: int, profile: Profile, cgroups: tuple[str, ...] = ()) -> None:
        self.name = name
        self.pid = init_pid
        self.profile = profile
        self.cgroups = cgroups          # the machine's cgroup folders: commands join them first
        self.pts_fd: int | None = None  # O_PATH fd of the machine's /dev/pts, sent by its init
        self.netns_fd: int | None = None  # its network namespace, sent by its init
        self.pidfd: int | None = pidfd  # (the zygote's, made by the init's clone: it cannot name another)

    def alive(self) -> bool:
        if self.pidfd is None:
            return False
        try:
            signal.pidfd_send_signal(self.pidfd, 0)
            return True
        except ProcessLookupError:
            return False

    def netns(self) -> int:
        if self.netns_fd is None:
            raise OSError(errno.ESRCH, f"{self.name} has no network namespace")
        return self.netns_fd

    def spawn(self, argv: list[str], env: dict[str, str], fds: tuple[int, int, int], cwd: str | None = None,
              pty: tuple[int, int] | None = None, script: bool = False) -> tuple[int, int | None]:
        """Start argv in the machine as root there; returns (pid of our nk-enter, pty master or None).

        Without cwd the command starts in /root. With pty=(rows, cols) it runs on a new pty of
        the machine's own devpts, as its controlling terminal.
        """
        if self.pidfd is None:
            raise OSError(errno.ESRCH, f"{self.name} is not running")
        master = None
        if pty:
            master, slave = self.open_pty(pty)
            fds = (slave, slave, slave)
        try:
            return spawn.spawn_command(*self._enter(argv, env, cwd, "-t" if pty else "-s" if script else ""), fds,
                                       extra=self.pidfd, entry=True), master
        except BaseException:
            if master is not None:
                os.close(master)
            raise
        finally:
            if pty:
                os.close(fds[0])

    def spawn_soon(self, argv: list[str], env: dict[str, str], fds: tuple[int, int, int],
                   started: Callable[[int | OSError], None], script: bool = False) -> None:
        if self.pidfd is None:
            return started(OSError(errno.ESRCH, f"{self.name} is not running"))
        spawn.spawn_command_soon(*self._enter(argv, env, None, "-s" if script else ""), fds, started,
                                 extra=self.pidfd, entry=True)

    def _enter(self, argv: list[str], env: dict[str, str], cwd: str | None, mode: str) -> tuple[str, list[str], dict]:
        """nk-enter's program, command line and environment for argv (mode: "-t" on a terminal,
        "-s" a startup script, or "")."""
        enter = helpers.path("nk-enter")
        words = [enter]
        for folder in self.cgroups:
            words += ["-g", folder]
        if cwd:
            words += ["-d", cwd]
        if mode:
            words.append(mode)
        words += ["--", *argv]
        # the command's environment, as nk:NAME (none of it acts on nk-enter's C library)
        theirs = {f"nk:{k}": v for k, v in env.items() if k and "=" not in k}
        return enter, words, theirs

    def signal(self, spawned: int, sig: int) -> None:
        spawn.signal_started(spawned, sig)

    def open_pty(self, size: tuple[int, int]) -> tuple[int, int]:
        """A new pty of the machine's devpts: (master, slave), opened through the fd its init sent
        (never by a path the machine could swap)."""
        if self.pts_fd is None:
            raise OSError(errno.ENOTTY, f"{self.name} has no terminals")
        # "ptmx" is one name inside that devpts (no symlink can be made there, and what the
        # machine mounts on its own copy of /dev/pts is not seen through this descriptor)
        master = os.open("ptmx", os.O_RDWR | os.O_NOCTTY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.pts_fd)
        try:
            st = os.fstat(master)
            if not stat.S_ISCHR(st.st_mode) or os.major(st.st_rdev) != 5 or os.minor(st.st_rdev) != 2:
                raise OSError(errno.ENOTTY, f"{self.name}: /dev/pts/ptmx is not a pty multiplexer")
            fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
            slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
            spawn.set_size(master, size)
        except BaseException:
            os.close(master)
            raise
        return master, slave

    def kill(self) -> None:
        if self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for attr in ("pts_fd", "netns_fd", "pidfd"):
            fd = getattr(self, attr)
            if fd is not None:
                os.close(fd)
                setattr(self, attr, None)

    def processes(self) -> list[int]:
        """Pids (in the lab's pid namespace) of every process in this machine."""
        try:
            mine = os.readlink(f"/proc/{self.pid}/ns/pid")
        except OSError:
            return []
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.readlink(f"/proc/{entry}/ns/pid") == mine:
                        out.append(int(entry))
                except OSError:
                    pass
        return out

    def memory_kib(self) -> int:
        total = 0
        for pid in self.processes():
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith(("Private_Clean:", "Private_Dirty:")):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total
