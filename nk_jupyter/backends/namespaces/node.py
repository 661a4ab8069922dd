"""A running namespace machine, as the engine holds it (a backends.Handle).

Commands are started by util-linux `nsenter`, posix_spawned by the supervisor in the lab's
pid namespace (where no machine can see it), with a fixed environment: it enters the
machine's other namespaces, then (its second pass) the machine's user namespace, and only then
forks into the machine's pid namespace, already holding only machine credentials; inside,
env(1) sets the command's environment and `setsid` makes it a session leader (with its
terminal as controlling tty for `--ctty`). The supervisor never enters a machine's user
namespace itself and no process holding its credentials is ever visible inside a machine.

A machine on a container image has none of the host's programs: there `setsid` and `env` are
nk's own static busybox, bound read-only at /run/nk/static (nodeinit.py).
"""
from __future__ import annotations

import errno
import fcntl
import os
import signal
import stat
import struct

from ...linux import spawn
from .. import Profile

NSENTER = "/usr/bin/nsenter"
OUR_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; done; shift; exec "$@"'
TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441
HOST_TOOLS = {"setsid": ["/usr/bin/setsid"], "ctty": ["--ctty"], "env": ["/usr/bin/env"]}
STATIC = "/run/nk/static/busybox"
STATIC_TOOLS = {"setsid": [STATIC, "setsid"], "ctty": ["-c"], "env": [STATIC, "env"]}

# glibc's list of variables it ignores for setuid programs (elf/unsecvars.h), and its tunables:
# the ones that make a program load or read files the environment names.
_LIBC_VARS = {"GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE", "NIS_PATH",
              "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR"}
# (ENV and BASH_ENV are read by interactive shells and by bash not started as sh: our own sh
# is neither)


def steers_libc(name: str) -> bool:
    return name.startswith(("LD_", "GLIBC_", "MALLOC_")) or name in _LIBC_VARS


class Node:
    """A namespace machine, known by its init's pid (in the lab's pid namespace)."""

    def __init__(self, name: str, init_pid: int, profile: Profile, cgroups: tuple[str, ...] = (),
                 own_tools: bool = True) -> None:
        self.name = name
        self.pid = init_pid
        self.profile = profile
        self.cgroups = cgroups          # the machine's cgroup folders: commands join them first
        self.pts_fd: int | None = None  # O_PATH fd of the machine's /dev/pts, sent by its init
        self.netns_fd: int | None = None  # its network namespace, sent by its init
        self.tools = HOST_TOOLS if own_tools else STATIC_TOOLS

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def netns(self) -> int:
        if self.netns_fd is None:
            raise OSError(errno.ESRCH, f"{self.name} has no network namespace")
        return self.netns_fd

    def spawn(self, argv: list[str], env: dict[str, str], fds: tuple[int, int, int] | None, cwd: str | None = None,
              pty: tuple[int, int] | None = None) -> tuple[int, int | None]:
        """Start argv in the machine as root there; returns (pid of our nsenter, pty master or None).

        Without cwd the command starts in the init's folder (/root). With pty=(rows, cols) it
        runs on a new pty of the machine's own devpts, as its controlling terminal.
        """
        master = None
        if pty:
            master, slave = self.open_pty(pty)
            fds = (slave, slave, slave)
        # Our own processes (sh, nsenter) run with our credentials and see the host: no variable
        # that steers the dynamic loader or libc (the lab's env= may say LD_PRELOAD) may reach
        # them. A command environment with such a variable is set by env(1) inside the machine,
        # as machine root; any other passes through nsenter as it is (one exec less).
        t = self.tools
        inside = t["setsid"] + (t["ctty"] if pty else []) + list(argv)
        ours = env
        if cwd or any(steers_libc(k) for k in env) or t is STATIC_TOOLS:
            inside = t["env"] + ["-i"] + [f"{k}={v}" for k, v in env.items() if k and "=" not in k] + inside
            if cwd:
                inside = ["/bin/sh", "-c", 'cd "$0" && exec "$@"', cwd, *inside] if t is STATIC_TOOLS else \
                    inside[:2] + ["-C", cwd] + inside[2:]
            ours = OUR_ENV
        argv = [NSENTER, "-t", str(self.pid), "-U", "-m", "-n", "-u", "-i", "-p", "-C", "-w", "--", *inside]
        if self.cgroups:  # nsenter enters namespaces, not cgroups: join those before it runs
            argv = ["/bin/sh", "-c", JOIN_CGROUPS, "nk-join", *self.cgroups, "--", *argv]
        try:
            return spawn.spawn_here(argv[0], argv, ours, fds), master
        except BaseException:
            if master is not None:
                os.close(master)
            raise
        finally:
            if pty:
                os.close(fds[0])

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
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for attr in ("pts_fd", "netns_fd"):
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
