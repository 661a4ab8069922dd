"""Thin ctypes wrappers for the namespace and mount syscalls (nothing else lives here).

Python 3.11 has no os.unshare/os.setns, so these call libc directly. Every wrapper
raises OSError with errno on failure.
"""
from __future__ import annotations

import ctypes
import os

# the libc this Python already runs on (ctypes.util.find_library would run `ldconfig -p`: ~10 ms
# of every supervisor's start)
_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4

NS_FLAGS = {
    "user": CLONE_NEWUSER, "mnt": CLONE_NEWNS, "net": CLONE_NEWNET, "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC, "pid": CLONE_NEWPID, "cgroup": CLONE_NEWCGROUP,
}


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    ret = _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data))
    _check(ret, f"mount {fstype or ''} {source} on {target}")


def umount(target: str, flags: int = MNT_DETACH) -> None:
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    nr = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203}[os.uname().machine]
    _check(_libc.syscall(nr, new_root.encode(), put_old.encode()), "pivot_root")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")


def prctl(option: int, arg: int) -> None:
    _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), 0, 0, 0), "prctl")


def bind(source: str, target: str, readonly: bool = False, recursive: bool = False) -> None:
    """Bind-mount source on target (optionally read-only)."""
    flags = MS_BIND | (MS_REC if recursive else 0)
    mount(source, target, None, flags)
    if readonly:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | (MS_REC if recursive else 0))


def not_dumpable() -> None:
    """No core dumps, no ptrace and no /proc/PID/{fd,mem,root,ns} access for processes that do not
    hold capabilities over our creator's user namespace; inherited by fork, reset by exec."""
    prctl(PR_SET_DUMPABLE, 0)


def dumpable() -> None:
    """Undo not_dumpable() (a uid change sets it back, too) in a helper no machine can see."""
    prctl(PR_SET_DUMPABLE, 1)


def mirror_idmaps(pid: int, proc: str = "/proc") -> None:
    """Give the user namespace process pid has just unshared our own IDs, one for one.

    Each extent of our map becomes an identity extent of the child's (a child extent must fall
    inside one extent of the parent's). Needs CAP_SETUID/CAP_SETGID here, so it is written by a
    process of the parent namespace.
    """
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/self/{name}") as f:
            lines = "".join(f"{inner} {inner} {count}\n" for inner, _outer, count in (l.split() for l in f))
        fd = os.open(f"{proc}/{pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, lines.encode())
        finally:
            os.close(fd)


def mapped_ids() -> int:
    """How many user IDs this user namespace maps (inner IDs 0..N-1)."""
    with open("/proc/self/uid_map") as f:
        return max(int(inner) + int(count) for inner, _outer, count in (l.split() for l in f))


class Unsharer:
    """A child that becomes (as `as_uid`, under an NPROC limit) the first member of new
    namespaces, `flags` with CLONE_NEWUSER among them, then waits to be released: its parent
    writes the new user namespace's ID map and opens or joins what it made (its pidfd).

    The child is nk's static program nk-userns (helpers/nk-userns.c), posix_spawned: it
    shares nothing with its parent (a forked copy would make every page the parent writes
    meanwhile be copied again) and holds only its two pipes and, with `join`, the user
    namespace it joins first. The exec is done when posix_spawn returns, by the program's path
    as the parent sees it then (never later: a machine's init goes on to pivot into the
    machine's root, where a path would name the machine's files).
    """

    def __init__(self, flags: int, as_uid: int, nproc: int, join: int | None = None,
                 program: str | None = None) -> None:
        if program is None:
            from .. import helpers
            program = helpers.path("nk-userns")
        r1, w1 = os.pipe()  # (both ends close-on-exec, as every descriptor Python makes)
        r2, w2 = os.pipe()
        actions = [(os.POSIX_SPAWN_DUP2, r2, 0), (os.POSIX_SPAWN_DUP2, w1, 1)]
        argv = ["nk-userns", str(as_uid), str(nproc), str(flags)]
        if join is not None:
            actions.append((os.POSIX_SPAWN_DUP2, join, 3))
            argv.insert(1, "-j")
        try:
            self.pid = os.posix_spawn(program, argv, {}, file_actions=actions)
        except BaseException:
            for fd in (r1, w1, r2, w2):
                os.close(fd)
            raise
        os.close(w1)
        os.close(r2)
        self._release = w2
        answer = b""
        try:
            while chunk := os.read(r1, 4096):  # to its end: "u" once the namespaces exist
                answer += chunk
        finally:
            os.close(r1)
        if answer != b"u":
            self.release()
            raise OSError(f"could not make a user namespace: {answer[1:].decode(errors='replace') or 'nk-userns died'}")
        self.pidfd = os.pidfd_open(self.pid)

    def release(self) -> None:
        os.close(self._release)
        os.waitpid(self.pid, 0)
        if hasattr(self, "pidfd"):
            os.close(self.pidfd)


def close_all_but(fds: set[int]) -> None:
    """Close every descriptor but these (in a child that must hold nothing else of ours)."""
    import resource
    last = 0
    for fd in sorted(fds):
        if fd > last:
            os.closerange(last, fd)
        last = fd + 1
    os.closerange(last, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
