"""The namespace backend: a machine is a set of namespaces held by a tiny init (nodeinit.py).

Run only inside the supervisor (root of the lab's user namespace, single-threaded). How a
machine's namespaces nest, and why machine root cannot reach the supervisor's, is in
nodeinit.py and docs/security.md.

Commands are started by util-linux `nsenter`, posix_spawned by the supervisor in the lab's
pid namespace (where no machine can see it), with a fixed environment: it enters the
machine's other namespaces, then (its second pass) the machine's user namespace, and only then
forks into the machine's pid namespace, already holding only machine credentials; inside,
env(1) sets the command's environment and `setsid` makes it a session leader (with its
terminal as controlling tty for `--ctty`). The supervisor never enters a machine's user
namespace itself and no process holding its credentials is ever visible inside a machine.
"""
from __future__ import annotations

import errno
import fcntl
import os
import resource
import signal
import stat
import struct
import termios

from ...linux import ns
from . import nodeinit

NSENTER = "/usr/bin/nsenter"
SETSID = "/usr/bin/setsid"
ENV = "/usr/bin/env"
OUR_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; done; shift; exec "$@"'
TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441
DEFAULT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE, signal.SIGCHLD,
                   signal.SIGUSR1, signal.SIGQUIT)


class NodeStartError(Exception):
    pass


class Node:
    """A running namespace machine, known by its init's pid (in the lab's pid namespace)."""

    def __init__(self, name: str, init_pid: int, cgroups: tuple[str, ...] = ()) -> None:
        self.name = name
        self.pid = init_pid
        self.cgroups = cgroups          # the machine's cgroup folders: commands join them first
        self.pts_fd: int | None = None  # O_PATH fd of the machine's /dev/pts, sent by its init

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False

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
        inside = [SETSID] + (["--ctty"] if pty else []) + list(argv)
        ours = env
        if cwd or any(_steers_libc(k) for k in env):
            inside = [ENV, "-i"] + (["-C", cwd] if cwd else []) + ["--"] + \
                     [f"{k}={v}" for k, v in env.items() if k and "=" not in k] + inside
            ours = OUR_ENV
        argv = [NSENTER, "-t", str(self.pid), "-U", "-m", "-n", "-u", "-i", "-p", "-C", "-w", "--", *inside]
        if self.cgroups:  # nsenter enters namespaces, not cgroups: join those before it runs
            argv = ["/bin/sh", "-c", JOIN_CGROUPS, "nk-join", *self.cgroups, "--", *argv]
        try:
            return spawn_here(argv[0], argv, ours, fds), master
        except BaseException:
            if master is not None:
                os.close(master)
            raise
        finally:
            if pty:
                os.close(fds[0])

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
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        except BaseException:
            os.close(master)
            raise
        return master, slave

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.pts_fd is not None:
            os.close(self.pts_fd)
            self.pts_fd = None

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


def machines_userns(owner: int, nproc: int) -> int:
    """Make the user namespace every machine's own is made in (U2), once per lab; returns its fd.

    Its owner `owner` (a uid of the lab's, used by nothing else) and the NPROC limit in force
    when it is made give the whole lab one process budget: every process of every machine
    counts against it, whatever its uid. Its ID map mirrors the lab's.
    """
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r1)
            os.close(w2)
            if owner:
                os.setgroups([])
                os.setresgid(owner, owner, owner)
                os.setresuid(owner, owner, owner)
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
            ns.dumpable()  # so that our parent may write its ID map (it is not visible to machines)
            ns.unshare(ns.CLONE_NEWUSER)
            os.write(w1, b"u")
            os.read(r2, 1)
        except BaseException as e:
            os.write(w1, f"e{e}".encode())
        finally:
            os._exit(0)
    os.close(w1)
    os.close(r2)
    try:
        answer = os.read(r1, 4096)
        if answer != b"u":
            raise OSError(f"could not make the machines' user namespace: {answer[1:].decode(errors='replace')}")
        ns.mirror_idmaps(pid)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(r1)
        os.close(w2)
        os.waitpid(pid, 0)


# glibc's list of variables it ignores for setuid programs (elf/unsecvars.h), and its tunables:
# the ones that make a program load or read files the environment names.
_LIBC_VARS = {"GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE", "NIS_PATH",
              "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR"}
# (ENV and BASH_ENV are read by interactive shells and by bash not started as sh: our own sh
# is neither)


def _steers_libc(name: str) -> bool:
    return name.startswith(("LD_", "GLIBC_", "MALLOC_")) or name in _LIBC_VARS


def command_pids(spawned: int) -> list[int]:
    """The command(s) an nsenter we spawned started (its children), in the lab's pid namespace."""
    try:
        with open(f"/proc/{spawned}/task/{spawned}/children") as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return []


def signal_command(spawned: int, sig: int) -> None:
    """Signal what spawn() started: the command's process group (it leads its own session).

    The nsenter in between only relays the exit status; it is signalled itself only when the
    command does not exist yet, or with SIGKILL.
    """
    children = command_pids(spawned)
    for child in children:
        try:
            os.killpg(child, sig)
        except (ProcessLookupError, PermissionError):
            pass
    if not children or sig == signal.SIGKILL:
        try:
            os.killpg(spawned, sig)
        except (ProcessLookupError, PermissionError):
            pass


def spawn_here(prog: str, argv: list[str], env: dict[str, str], fds: tuple[int, int, int],
               new_session: bool = True) -> int:
    """posix_spawn prog with fds as its stdin/stdout/stderr and default signal handling."""
    actions = [(os.POSIX_SPAWN_DUP2, fd, i) for i, fd in enumerate(fds)]
    return os.posix_spawn(prog, argv, env, file_actions=actions, setsid=new_session,
                          setsigdef=DEFAULT_SIGNALS, setsigmask=())


def spawn_on_pty(prog: str, argv: list[str], env: dict[str, str], size: tuple[int, int]) -> tuple[int, int]:
    """Spawn on a new pty of the current mount namespace's devpts; returns (pid, master)."""
    master, slave = os.openpty()
    try:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        os.set_inheritable(master, False)
        pid = spawn_here(SETSID, ["setsid", "--ctty", prog, *argv[1:]], env, (slave, slave, slave),
                         new_session=False)
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    return pid, master


def _which(name: str, path: str) -> str | None:
    if "/" in name:
        return name
    for d in path.split(":"):
        full = f"{d}/{name}"
        if os.access(full, os.X_OK) and not os.path.isdir(full):
            return full
    return None


def hub_exec(argv: list[str], env: dict[str, str], fds: tuple[int, int, int] | None,
             pty: tuple[int, int] | None = None) -> tuple[int, int | None]:
    """Run argv in the supervisor's own namespaces (the lab's fake-root hub); returns (pid, pty master).

    That is the user's own shell (like `rootlesskit bash`), in the lab's pid namespace, where no
    machine can see it.
    """
    prog = _which(argv[0], env.get("PATH", "/usr/bin:/bin")) or argv[0]
    if pty:
        return spawn_on_pty(prog, argv, env, pty)
    return spawn_here(prog, argv, env, fds), None


__all__ = ["Node", "NodeStartError", "nodeinit", "machines_userns", "signal_command", "spawn_here", "hub_exec"]
