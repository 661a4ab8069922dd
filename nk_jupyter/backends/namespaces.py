"""The default backend: a machine is a set of namespaces held by a tiny init.

Run only inside the supervisor (root of the lab's user namespace, single-threaded).
Each node has its own net, uts, mount, pid and ipc namespaces; nodeinit.py is its pid 1.
Commands are posix_spawned by the supervisor while it visits the node's namespaces
(setns there and back), so they are its own children in the node's pid namespace.
"""
from __future__ import annotations

import json
import os
import signal

from ..linux import ns
from . import nodeinit

NODE_NS = ns.CLONE_NEWNET | ns.CLONE_NEWUTS | ns.CLONE_NEWNS | ns.CLONE_NEWPID | ns.CLONE_NEWIPC
ENTER = ("ipc", "uts", "net", "pid", "mnt")


class NodeStartError(Exception):
    pass


class _Home:
    """The supervisor's own namespaces, to come back to after visiting a node."""
    fds: dict[str, int] = {}

    @classmethod
    def get(cls) -> dict[str, int]:
        if not cls.fds:
            cls.fds = {k: os.open(f"/proc/self/ns/{'pid_for_children' if k == 'pid' else k}", os.O_RDONLY | os.O_CLOEXEC)
                       for k in ENTER}
        return cls.fds


def _which(name: str, path: str) -> str | None:
    if "/" in name:
        return name
    for d in path.split(":"):
        full = f"{d}/{name}"
        if os.access(full, os.X_OK) and not os.path.isdir(full):
            return full
    return None


class Node:
    """A running namespace node, known by its init's pid (in the lab's pid namespace)."""

    def __init__(self, name: str, init_pid: int) -> None:
        self.name = name
        self.pid = init_pid

    @staticmethod
    def fork_init(lay: nodeinit.NodeLayout) -> tuple[int, int, int]:
        """Fork a node: returns (init pid, report fd to read, go fd to write). Does not wait.

        Called in the zygote (backends/zygote.py), a small single-threaded process: it
        unshares the node's namespaces itself, forks the node's pid 1 into them, and goes
        back home with setns (one fork per node instead of two).
        """
        home = _Home.get()
        rep_r, rep_w = os.pipe()
        go_r, go_w = os.pipe()
        try:
            ns.unshare(NODE_NS)
            for key, value in lay.sysctls:  # before any interface exists (the supervisor plugs
                try:                            # them once we answer), so "default" applies
                    nodeinit.write_sysctl(key, value)
                except FileNotFoundError:  # e.g. a host booted with ipv6.disable=1
                    pass
            init = os.fork()
            if init == 0:
                try:
                    os.close(rep_r)
                    os.close(go_w)
                    os.setsid()
                    nodeinit.run(lay, rep_w, go_r)
                finally:
                    os._exit(1)
        finally:
            for k in ENTER:
                ns.setns(home[k], ns.NS_FLAGS[k])
            os.close(rep_w)
            os.close(go_r)
        return init, rep_r, go_w

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def spawn(self, argv: list[str], env: dict[str, str], fds: tuple[int, int, int] | None, cwd: str = "/root",
              pty: tuple[int, int] | None = None) -> tuple[int, int | None]:
        """Start argv in the node; returns (its pid, a child of ours; pty master or None).

        The supervisor visits the node's namespaces itself (it is single-threaded),
        posix_spawns the command there, and comes back: no fork of this big process.
        The command leads its own session, so its process group can be signalled. With
        pty=(rows, cols) it runs on a new pty of the node's own devpts, as its
        controlling terminal (util-linux `setsid --ctty`), and the master is returned.
        """
        home = _Home.get()
        theirs = {k: os.open(f"/proc/{self.pid}/ns/{k}", os.O_RDONLY | os.O_CLOEXEC) for k in ENTER}
        saved_cwd = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
        try:
            for k in ENTER:
                ns.setns(theirs[k], ns.NS_FLAGS[k])
            try:
                os.chdir(cwd)
            except OSError:
                os.chdir("/")
            prog = _which(argv[0], env.get("PATH", "/usr/bin:/bin"))
            if prog is None:
                prog = "/bin/sh"
                argv = ["/bin/sh", "-c", f"echo 'nk: {argv[0]}: command not found' >&2; exit 127"]
            if pty:
                return spawn_on_pty(prog, argv, env, pty)
            return spawn_here(prog, argv, env, fds), None
        finally:
            for k in ENTER:
                ns.setns(home[k], ns.NS_FLAGS[k])
            os.fchdir(saved_cwd)
            os.close(saved_cwd)
            for fd in theirs.values():
                os.close(fd)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def processes(self) -> list[int]:
        """Pids (in the lab's pid namespace) of every process in this node."""
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


def spawn_here(prog: str, argv: list[str], env: dict[str, str], fds: tuple[int, int, int],
               new_session: bool = True) -> int:
    """posix_spawn prog with fds as its stdin/stdout/stderr and default signal handling."""
    actions = [(os.POSIX_SPAWN_DUP2, fd, i) for i, fd in enumerate(fds)]
    return os.posix_spawn(prog, argv, env, file_actions=actions, setsid=new_session,
                          setsigdef=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE,
                                     signal.SIGCHLD, signal.SIGUSR1), setsigmask=())


def spawn_on_pty(prog: str, argv: list[str], env: dict[str, str], size: tuple[int, int]) -> tuple[int, int]:
    """Spawn on a new pty of the current mount namespace's devpts; returns (pid, master)."""
    import fcntl
    import struct
    import termios
    master, slave = os.openpty()
    try:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        os.set_inheritable(master, False)
        pid = spawn_here("/usr/bin/setsid", ["setsid", "--ctty", prog, *argv[1:]], env, (slave, slave, slave),
                         new_session=False)
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    return pid, master


def hub_exec(argv: list[str], env: dict[str, str], fds: tuple[int, int, int] | None,
             pty: tuple[int, int] | None = None) -> tuple[int, int | None]:
    """Run argv in the supervisor's own namespaces (the lab's fake-root hub); returns (pid, pty master)."""
    prog = _which(argv[0], env.get("PATH", "/usr/bin:/bin")) or argv[0]
    if pty:
        return spawn_on_pty(prog, argv, env, pty)
    return spawn_here(prog, argv, env, fds), None


def read_report(fd: int) -> dict:
    """One JSON line from a node's init (an error if it died first)."""
    buf = b""
    while not buf.endswith(b"\n"):
        data = os.read(fd, 4096)
        if not data:
            break
        buf += data
    try:
        return json.loads(buf or b'{"error": "the node init died before reporting"}')
    except ValueError:
        return {"error": buf.decode(errors="replace")}
